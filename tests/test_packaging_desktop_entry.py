"""The Linux .desktop entry is valid and its install script puts entry and icon in place."""

import configparser
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_desktop_entry_has_the_required_keys():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(REPO / "packaging/linux/finetune-studio.desktop")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "finetune-studio"
    assert entry["Icon"] == "finetune-studio"
    assert entry["Categories"].endswith(";")


def test_install_script_installs_entry_and_icon(tmp_path):
    result = subprocess.run(
        [
            "bash",
            str(REPO / "packaging/linux/install-desktop-entry.sh"),
            "/opt/fts/bin/finetune-studio",
        ],
        env={"XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    entry = (tmp_path / "applications/finetune-studio.desktop").read_text()
    assert "Exec=/opt/fts/bin/finetune-studio" in entry
    icon = tmp_path / "icons/hicolor/scalable/apps/finetune-studio.svg"
    assert icon.read_text().startswith("<svg")


def test_install_script_without_the_command_says_what_to_pass(tmp_path):
    result = subprocess.run(
        ["bash", str(REPO / "packaging/linux/install-desktop-entry.sh")],
        env={"XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "pass its full path" in result.stderr
