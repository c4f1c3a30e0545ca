"""`python -m build` makes a wheel that carries resources/ and installs a working command.

The fresh virtual environment gets the wheel itself (no source tree on its path); its
heavy dependencies come from the test environment through a .pth file, so the test
checks what the wheel carries without downloading torch again.
"""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with the setuptools already here instead of downloading one.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (built,) = out.glob("finetune_studio-*.whl")
    return built


def test_wheel_carries_resources_and_the_command(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "resources/catalog/models.json" in names
    assert "resources/icons/app.svg" in names
    assert not any("__pycache__" in name for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "finetune-studio = desktop.launcher:main" in text


def test_wheel_installs_into_a_fresh_venv_and_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    # Dependencies only: the test environment's site-packages, after the venv's own.
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    command = venv / "bin" / "finetune-studio"
    env = {
        "FINETUNE_STUDIO_HOME": str(tmp_path / "home"),
        "QT_QPA_PLATFORM": "offscreen",
        "PATH": "/usr/bin:/bin",
    }

    version = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert version.returncode == 0 and "FineTune Studio" in version.stdout

    where = subprocess.run(
        [
            str(python),
            "-c",
            "import core, resources; print(core.__file__); print(resources.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert where.stdout.count(str(site)) == 2, where.stdout  # the wheel's copy, not the repo's

    shot = tmp_path / "shot.png"
    screenshot = subprocess.run(
        [str(command), "screenshot", "--page", "project", "--out", str(shot)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert screenshot.returncode == 0, screenshot.stderr[-2000:]
    assert shot.read_bytes()[:4] == b"\x89PNG"
