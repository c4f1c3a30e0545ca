"""The `finetune-studio` command's foundation subcommands."""

import json
import subprocess
import sys

from desktop.launcher import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "FineTune Studio 0.1.0" in capsys.readouterr().out


def test_doctor_json_reports_hardware_libraries_bnb_and_folders(capsys, studio_home):
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["hardware"]["cpu_cores"] >= 1
    assert report["libraries"]["torch"]
    assert report["bitsandbytes_4bit"]["works"] is True  # 4-bit runs on this CPU
    assert report["folders"]["projects"].startswith(str(studio_home))


def test_doctor_text(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "bitsandbytes 4-bit (QLoRA): works" in out
    assert "Folders" in out


def test_screenshot_writes_a_png_of_the_window(tmp_path):
    out = tmp_path / "shot.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop.launcher",
            "screenshot",
            "--page",
            "project",
            "--out",
            str(out),
            "--size",
            "1000x700",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1000, 700)


def test_screenshot_of_an_unknown_page_is_a_clear_error(tmp_path, capsys):
    code = main(["screenshot", "--page", "nonsense", "--out", str(tmp_path / "x.png")])
    assert code == 2
    assert "no page 'nonsense'" in capsys.readouterr().err
