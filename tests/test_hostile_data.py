"""Hostile inputs to the dataset commands, round three: an output onto the project's own
files, CSV cells a spreadsheet would run, a FIFO as input, and the modes of files we write.
Everything through the real CLI; nothing of the user's is lost (checked byte for byte)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.launcher import main

REPO = Path(__file__).resolve().parent.parent


def exchange(prompt: str, response: str, system: str | None = None) -> dict:
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return {"messages": messages}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


# --- data convert onto a project's own files -------------------------------------------


@pytest.mark.parametrize("target", ["project.sqlite", "runs/r1/run.json", "datasets/v1.jsonl"])
def test_convert_refuses_to_replace_a_projects_own_files_even_with_overwrite(
    project, tmp_path, target, capsys
):
    source = write_jsonl(tmp_path / "in.jsonl", [exchange("hi", "hello")])
    out = project.folder / target
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        out.write_text('{"run_id": "r1"}\n')
    project.close()
    before = out.read_bytes()
    for extra in (["--overwrite"], []):
        assert main(["data", "convert", str(source), str(out), *extra]) == 2
        line = one_line_error(capsys)
        assert str(out) in line and "exports" in line and "--overwrite" not in line
        assert out.read_bytes() == before


def test_convert_into_the_projects_exports_folder_is_allowed(project, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [exchange("hi", "hello")])
    out = project.folder / "exports" / "data.csv"
    assert main(["data", "convert", str(source), str(out)]) == 0
    assert out.is_file()


# --- CSV/TSV cells that a spreadsheet would run ----------------------------------------

HOSTILE_CELLS = [
    '=HYPERLINK("http://x","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\tindented",
    "\rcarriage",
    "'quoted already",
    "''two",
    "'=already escaped by hand",
    "plain text",
    "'",
]


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_table_output_escapes_formula_cells_and_reads_back_unchanged(tmp_path, suffix):
    import csv

    from core.dataset.formats import import_dataset

    records = [exchange(cell, f"reply {i}", system=cell) for i, cell in enumerate(HOSTILE_CELLS)]
    records.append(exchange("ask", "-answer that starts with a dash"))
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / f"out{suffix}"
    assert main(["data", "convert", str(source), str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="," if suffix == ".csv" else "\t"))
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    back = import_dataset(out)
    assert not back.load_findings
    assert [e.record for e in back.examples] == records


def test_a_cell_with_an_apostrophe_of_its_own_from_another_tool_is_read_as_it_is(tmp_path):
    from core.dataset.formats import import_dataset

    path = tmp_path / "theirs.csv"
    path.write_text("prompt,response\n'tis the season,'twas fine\n", encoding="utf-8")
    (example,) = import_dataset(path).examples
    assert [m["content"] for m in example.record["messages"]] == ["'tis the season", "'twas fine"]


def test_convert_help_says_how_formula_cells_are_written(capsys):
    with pytest.raises(SystemExit):
        main(["data", "convert", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "apostrophe" in out and "formula" in out


# --- a FIFO or a device as the dataset -------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "convert"])
def test_a_fifo_as_the_dataset_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)
    args = [str(fifo)] + ([str(tmp_path / "out.csv")] if command == "convert" else [])
    # A real process: before the fix it blocked in open() for ever (the timeout fails it).
    done = subprocess.run(
        [sys.executable, "-m", "desktop.launcher", "data", command, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "named pipe" in done.stdout + done.stderr and str(fifo) in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_a_character_device_as_the_dataset_is_refused(capsys):
    from core.dataset.formats import import_dataset, is_unreadable

    dataset = import_dataset("/dev/zero")  # reading it never ends
    assert is_unreadable(dataset) and "device" in dataset.load_findings[0].message


# --- files we write follow the user's umask --------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_we_write_follow_the_umask(tmp_path, umask):
    """A real process with a real umask: a CSV from convert and the atomic writer's files."""
    source = write_jsonl(tmp_path / "in.jsonl", [exchange("hi", "hello")])
    out = tmp_path / "out.csv"
    script = (
        "import os, sys\n"
        f"os.umask({umask})\n"
        "from core.atomic_file import write_text_atomic\n"
        "from desktop.launcher import main\n"
        f"write_text_atomic({str(tmp_path / 'config.yaml')!r}, 'a: 1\\n')\n"
        f"sys.exit(main(['data', 'convert', {str(source)!r}, {str(out)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for path in (out, tmp_path / "config.yaml"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


# --- validating a big file streams it ---------------------------------------------------

MEASURE_VALIDATE = """
import json, sys
import numpy  # noqa: F401  (imported before the baseline, as validate imports it)
import core.dataset.validation  # noqa: F401
from core.process_memory import own_peak_rss_bytes
from desktop.launcher import main
base = own_peak_rss_bytes()
code = main(["data", "validate", sys.argv[1]])
with open(sys.argv[2], "w") as out:
    json.dump({"code": code, "base": base, "peak": own_peak_rss_bytes()}, out)
"""


def write_big_jsonl(path: Path, n: int) -> Path:
    import random

    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(n):
            ask = " ".join(rng.choices(words, k=12))
            reply = " ".join(rng.choices(words, k=10))
            handle.write(json.dumps(exchange(ask, reply)) + "\n")
    return path


def test_validating_a_big_file_holds_at_most_three_times_its_size(tmp_path):
    """200,000 lines: what validate adds to the process stays under 3x the file's size
    (holding every example as an object took about 6.5x)."""
    data = write_big_jsonl(tmp_path / "big.jsonl", 200_000)
    result = tmp_path / "memory.json"
    done = subprocess.run(
        [sys.executable, "-c", MEASURE_VALIDATE, str(data), str(result)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(result.read_text())
    assert measured["code"] == 0
    added = measured["peak"] - measured["base"]
    assert added <= 3 * data.stat().st_size, (added, data.stat().st_size)
