"""packaging/dev.sh's check of the system libraries Qt's X11 plugin needs: it names the
missing ones and the apt command, passes when all are there, and stays out of the way
when Qt does not use X11 (offscreen tests, Wayland)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEV_SH = REPO / "packaging" / "dev.sh"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def sonames() -> list[str]:
    block = re.search(r'QT_XCB_LIBRARIES="\n(.*?)\n"', DEV_SH.read_text(), re.S).group(1)
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def check(tmp_path, present: list[str], **env) -> subprocess.CompletedProcess:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    lines = "".join(f'echo "\t{name} (libc6,x86-64) => /usr/lib/{name}"\n' for name in present)
    (fake / "ldconfig").write_text("#!/bin/sh\n" + lines)
    (fake / "ldconfig").chmod(0o755)
    environment = {
        k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")
    }
    environment["PATH"] = f"{fake}:{environment['PATH']}"
    environment.update(env)
    return subprocess.run(
        ["bash", str(DEV_SH), "check-libraries"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_missing_libraries_are_named_with_the_apt_command(tmp_path):
    names = sonames()
    assert "libxcb-cursor.so.0" in names and "libxcb-icccm.so.4" in names
    present = [n for n in names if n not in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")]
    done = check(tmp_path, present)
    assert done.returncode == 1
    assert "missing: libxcb-icccm.so.4 libxcb-keysyms.so.1" in done.stderr
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in done.stderr


def test_all_present_passes(tmp_path):
    done = check(tmp_path, sonames())
    assert done.returncode == 0 and "are here" in done.stdout


def test_offscreen_and_wayland_are_not_checked(tmp_path):
    assert check(tmp_path, [], QT_QPA_PLATFORM="offscreen").returncode == 0
    done = check(tmp_path, [], WAYLAND_DISPLAY="wayland-0")
    assert done.returncode == 0 and "wayland" in done.stdout
