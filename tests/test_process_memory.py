"""A process's own peak RSS, not its parent's: getrusage carries the parent's peak across
execve on Linux, which made a child of a 1.5 GiB pytest read 1.5 GiB for a 0.5 GiB run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.process_memory import own_peak_rss_bytes

MIB = 1024**2
REPO = Path(__file__).resolve().parent.parent
CHILD = "from core.process_memory import own_peak_rss_bytes; print(own_peak_rss_bytes())"


def test_the_peak_covers_what_this_process_touched():
    import psutil

    resident = psutil.Process().memory_info().rss
    block = bytearray(768 * MIB)  # more than pytest's peak so far, so it must raise the peak
    block[::4096] = b"\1" * len(block[::4096])  # touch every page so it is resident
    assert own_peak_rss_bytes() >= resident + 700 * MIB
    del block


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the execve carry-over is Linux's")
def test_a_child_of_a_large_process_reports_its_own_peak():
    block = bytearray(512 * MIB)
    block[::4096] = b"\1" * len(block[::4096])
    assert own_peak_rss_bytes() > 512 * MIB
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    child_peak = int(done.stdout.strip())
    del block
    # A bare Python importing one small module: tens of MiB, far below the parent's 512.
    assert 0 < child_peak < 256 * MIB, child_peak
