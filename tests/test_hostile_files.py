"""Hostile files and paths through the real CLI and core: nothing of the user's is lost
(checked byte for byte), and every refusal is one line that names the path or field."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from desktop.launcher import main

REPO = Path(__file__).resolve().parent.parent
GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def write_examples(path: Path, n: int = 3) -> Path:
    path.write_text("".join(json.dumps(GOOD) + "\n" for _ in range(n)), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes. SQLite's -shm/-wal
    companions change whenever the database is opened, so they are left out."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


# --- 1. data convert never replaces what it did not write ------------------------------


def test_convert_refuses_a_folder_it_did_not_write_even_with_overwrite(tmp_path, capsys):
    source = write_examples(tmp_path / "in.jsonl")
    mine = tmp_path / "thesis"
    (mine / "chapters").mkdir(parents=True)
    (mine / "chapters" / "one.tex").write_bytes(b"\\chapter{One}\x00\xff precious")
    (mine / "notes.txt").write_text("do not lose")
    before = snapshot(mine)
    for extra in ([], ["--overwrite"]):
        assert main(["data", "convert", str(source), str(mine), *extra]) == 2
        line = one_line_error(capsys)
        assert str(mine) in line and "did not write" in line
        assert snapshot(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "thesis"]  # no leftovers


def test_convert_replaces_its_own_folder_only_when_asked(tmp_path, capsys):
    import datasets

    source = write_examples(tmp_path / "in.jsonl", 3)
    out = tmp_path / "converted"
    assert main(["data", "convert", str(source), str(out)]) == 0
    assert (out / ".finetune-studio-output").is_file()
    first = snapshot(out)
    write_examples(source, 5)
    assert main(["data", "convert", str(source), str(out)]) == 2
    assert "--overwrite" in one_line_error(capsys) and snapshot(out) == first
    assert main(["data", "convert", str(source), str(out), "--overwrite"]) == 0
    assert len(datasets.load_from_disk(str(out))) == 5


def test_convert_refuses_an_existing_file_unless_overwrite(tmp_path, capsys):
    source = write_examples(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.csv"
    out.write_bytes(b"my,own\nspread,sheet\n")
    assert main(["data", "convert", str(source), str(out)]) == 2
    line = one_line_error(capsys)
    assert str(out) in line and "--overwrite" in line
    assert out.read_bytes() == b"my,own\nspread,sheet\n"
    assert main(["data", "convert", str(source), str(out), "--overwrite"]) == 0
    assert "hello" in out.read_text()


# --- 2. export never writes over a project or the run it exports -----------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """A project with one real finished LoRA run (2 steps of the tiny model)."""
    from ticket_router_run import train_ticket_router

    root = tmp_path_factory.mktemp("hostile")
    project, run_id = train_ticket_router(root, tiny_model_dir, max_steps=2, project_name="Hostile")
    project.close()
    return project.folder, run_id


@pytest.mark.parametrize("out", [".", "runs/RUN", "runs/RUN/final", "runs", "datasets/x", ".."])
def test_export_refuses_an_out_that_is_in_or_holds_the_project(trained, out, capsys, monkeypatch):
    from core.project import open_project

    folder, run_id = trained
    before = snapshot(folder)
    monkeypatch.chdir(folder)
    out = out.replace("RUN", run_id)
    assert main(["export", run_id, "--to", "adapter", "--out", out, "--overwrite"]) != 0
    line = one_line_error(capsys)
    assert "project" in line or "did not write" in line
    assert snapshot(folder) == before
    project = open_project(folder)
    assert project.get_meta("name") == "Hostile" and not project.notice
    project.close()


def test_export_refuses_a_link_loop_and_leaves_a_lookalike_staging_folder(
    trained, tmp_path, capsys
):
    folder, run_id = trained
    loop = tmp_path / "out"
    os.symlink(tmp_path / "other", loop)
    os.symlink(loop, tmp_path / "other")
    argv = ["export", run_id, "--project", str(folder), "--to", "adapter", "--out"]
    assert main([*argv, str(loop)]) != 0
    assert "link loop" in one_line_error(capsys)
    # Named like a killed export's staging folder, but not ours (no marker): kept.
    lookalike = tmp_path / ".ship.partial-999999"
    lookalike.mkdir()
    (lookalike / "mine.txt").write_bytes(b"not an export")
    assert main([*argv, str(tmp_path / "ship")]) == 0
    assert (lookalike / "mine.txt").read_bytes() == b"not an export"
    assert (tmp_path / "ship" / "adapter_config.json").is_file()


def test_export_into_the_projects_exports_folder_is_allowed(tmp_path):
    from core.export.staging import check_output_folder
    from core.project import create_project

    project = create_project(tmp_path / "proj")
    run = project.runs_dir / "20260101-120000-lora"
    check_output_folder(project.folder / "exports" / "ticket-adapter", False, project, run)
    project.close()
    loose_run = tmp_path / "copied-run"
    (loose_run / "final").mkdir(parents=True)
    with pytest.raises(ValueError, match="overlaps"):
        check_output_folder(loose_run / "final" / "copy", True, None, loose_run)


# --- 3. a damaged project.sqlite: refused untouched; repair lists the runs again ---------


def test_a_zero_byte_or_garbage_database_is_refused_then_repaired_keeping_the_runs(
    trained, tmp_path, capsys
):
    import shutil

    from core.project import ProjectDatabaseError, open_project
    from core.runs.rebuild import repair_project
    from core.runs.record import list_runs, read_metrics

    shutil.copytree(trained[0], tmp_path / "project")  # damage a copy: others share `trained`
    run_id = trained[1]
    project = open_project(tmp_path / "project")
    folder = project.folder
    before = list_runs(project)[0]
    assert before.run_id == run_id and before.status == "finished"
    project.close()
    runs_before = snapshot(folder / "runs")
    for damage in (b"", b"this is not a database at all\n" * 10):
        (folder / "project.sqlite").write_bytes(damage)
        with pytest.raises(ProjectDatabaseError, match="project repair"):
            open_project(folder)
        assert main(["runs", "list", "--project", str(folder)]) == 2
        line = one_line_error(capsys)
        assert str(folder / "project.sqlite") in line and "nothing was changed" in line
        assert (folder / "project.sqlite").read_bytes() == damage  # refused untouched

        repaired = repair_project(folder)
        after = list_runs(repaired)
        assert [r.run_id for r in after] == [run_id]
        assert after[0].status == "finished" and after[0].final_model_dir is not None
        assert after[0].final_train_loss == pytest.approx(before.final_train_loss)
        assert len(read_metrics(after[0])) == len(read_metrics(before))
        kept = list(folder.glob("project.sqlite.damaged-*"))
        assert any(p.read_bytes() == damage for p in kept)  # the bad file was never deleted
        assert "kept as" in repaired.notice and "1 run was listed again" in repaired.notice
        repaired.close()
    assert snapshot(folder / "runs") == runs_before
    # The same through the CLI, then `runs list` works again.
    (folder / "project.sqlite").write_bytes(b"")
    assert main(["project", "repair", str(folder)]) == 0
    assert "1 run was listed again" in capsys.readouterr().out
    assert main(["runs", "list", "--project", str(folder)]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["project", "repair", str(folder)]) == 0  # a healthy project is left alone
    assert "nothing to repair" in capsys.readouterr().out


def test_a_malformed_database_with_a_valid_header_is_refused_then_kept_aside(tmp_path):
    from core.project import ProjectDatabaseError, create_project, open_project
    from core.runs.rebuild import repair_project

    project = create_project(tmp_path / "p", name="Malformed")
    project.close()
    db = project.folder / "project.sqlite"
    for companion in ("-wal", "-shm"):
        Path(str(db) + companion).unlink(missing_ok=True)
    damaged = db.read_bytes()[:100] + os.urandom(4096)  # the header survives, pages do not
    db.write_bytes(damaged)
    with pytest.raises(ProjectDatabaseError, match="SQLite says"):
        open_project(project.folder)
    assert db.read_bytes() == damaged
    repaired = repair_project(project.folder)
    assert "SQLite says" in repaired.notice and repaired.schema_versions()
    kept = list(project.folder.glob("project.sqlite.damaged-*"))
    assert [p.read_bytes() for p in kept if not p.name.endswith(("-wal", "-shm"))] == [damaged]
    repaired.close()


# --- 4. binary files are refused, not imported as examples -----------------------------


@pytest.mark.parametrize(
    "content",
    [os.urandom(4000) + b"\n" * 18, b"\x89PNG\r\n\x1a\n" + os.urandom(500), b"\x7fELF\x02" * 99],
)
def test_a_binary_file_is_refused_and_validate_exits_2(tmp_path, content, capsys):
    from core.dataset.formats import import_dataset, is_unreadable

    path = tmp_path / "photo.jsonl"
    path.write_bytes(content)
    dataset = import_dataset(path)
    assert len(dataset) == 0 and is_unreadable(dataset)
    assert main(["data", "validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "photo.jsonl" in out and "not a text file" in out
    assert path.read_bytes() == content


def test_utf16_with_a_byte_order_mark_is_still_text(tmp_path):
    from core.dataset.formats import import_dataset

    path = tmp_path / "windows.jsonl"
    path.write_bytes((json.dumps(GOOD) + "\n").encode("utf-16"))
    assert len(import_dataset(path)) == 1


# --- 5. one-line errors, never a traceback ---------------------------------------------


def test_json_nested_100k_deep_is_a_finding_not_a_traceback(tmp_path, capsys):
    from core.dataset.formats import detect_format

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert detect_format(deep) == "jsonl"
    assert main(["data", "validate", str(deep)]) == 1
    captured = capsys.readouterr()
    assert "nested too deeply" in captured.out and "Traceback" not in captured.err
    assert main(["data", "convert", str(deep), str(tmp_path / "out.jsonl")]) == 0


def test_a_folder_or_a_link_loop_as_input_or_output_is_one_line(tmp_path, capsys):
    source = write_examples(tmp_path / "in.jsonl")
    loop = tmp_path / "loop.jsonl"
    os.symlink(tmp_path / "other.jsonl", loop)
    os.symlink(loop, tmp_path / "other.jsonl")
    assert main(["data", "convert", str(source), str(loop)]) == 2
    assert "link loop" in one_line_error(capsys)
    folder = tmp_path / "a-folder.jsonl"
    folder.mkdir()
    assert main(["data", "convert", str(source), str(folder)]) == 2
    assert "is a folder" in one_line_error(capsys)
    assert main(["data", "validate", str(loop)]) == 2
    for eval_set in (folder, loop):
        argv = ["eval", "--model", "SmolLM2-135M-Instruct", "--eval-set", str(eval_set)]
        assert main(argv) == 2
        assert str(eval_set.name) in one_line_error(capsys)
    assert main(["train", str(tmp_path)]) == 2  # a folder as the training config
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(tmp_path) in err


def test_a_full_disk_says_which_file_and_keeps_the_old_one(tmp_path, capsys, monkeypatch):
    source = write_examples(tmp_path / "in.jsonl", 4)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"the previous export\n")
    real_replace = os.replace

    def disk_full(src, dst, *args, **kwargs):  # the OS call at the machine's boundary
        if Path(dst) == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", disk_full)
    assert main(["data", "convert", str(source), str(out), "--overwrite"]) == 1
    line = one_line_error(capsys)
    assert "disk is full" in line and str(out) in line
    assert out.read_bytes() == b"the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_sqlites_own_full_disk_error_is_reported_as_a_full_disk(tmp_path):
    import sqlite3

    from core.errors import describe_error

    conn = sqlite3.connect(tmp_path / "small.sqlite")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 4")  # SQLite's real SQLITE_FULL, no mock
    with pytest.raises(sqlite3.OperationalError) as caught:
        for _ in range(100):
            conn.execute("INSERT INTO t VALUES (randomblob(4096))")
    conn.close()
    message, code = describe_error(caught.value)
    assert "disk holding the project is full" in message and code == 1


def test_a_closed_pipe_ends_quietly():
    """`finetune-studio estimate --json | head -c 10`: the reader is gone before we write."""
    command = [sys.executable, "-m", "desktop.launcher", "estimate", "--json", "--gpu", "RTX 3090"]
    command += ["--model", "SmolLM2-135M-Instruct"]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    process.stdout.close()  # like `head` exiting after its 10 bytes
    _, err = process.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert process.returncode in (0, 141)


def test_max_seq_length_1e20_is_a_validation_error_naming_the_field(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    write_examples(tmp_path / "x.jsonl")
    config.write_text("base_model: SmolLM2-135M-Instruct\ntrain_file: x.jsonl\n")
    with config.open("a") as handle:
        handle.write("max_seq_length: 1e20\n")
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr()
    text = err.out + err.err
    assert "max_seq_length" in text and "Traceback" not in text


def test_an_unexpected_error_is_one_line_with_the_log_that_holds_the_traceback(
    tmp_path, capsys, monkeypatch
):
    import argparse

    from core.cli import run_command

    monkeypatch.setenv("FINETUNE_STUDIO_HOME", str(tmp_path / "home"))

    def buggy(args):
        return len(args.never_set)  # an AttributeError: a bug, not bad input

    assert run_command(argparse.Namespace(func=buggy, command="doctor")) == 1
    line = one_line_error(capsys)
    log = Path(line.split("the full traceback is in ", 1)[1].split(". Please")[0])
    assert "AttributeError" in line and log.is_file()
    assert "Traceback" in log.read_text() and "buggy" in log.read_text()


# --- 6. detect_format reads a prefix, not the whole file -------------------------------


def test_detect_format_reads_only_the_start(tmp_path):
    """A FIFO never reaches its end while the writer holds it open: reading the whole
    file would block until the writer gives up."""
    from core.dataset.formats import detect_format

    fifo = tmp_path / "stream.jsonl"
    os.mkfifo(fifo)
    writer_done = threading.Event()
    release = threading.Event()

    def writer():
        with open(fifo, "wb") as handle:
            handle.write(b"PAR1" + b"\x00" * 1024)
            handle.flush()
            release.wait(timeout=60)
        writer_done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert detect_format(fifo) == "parquet"
        assert not writer_done.is_set()  # it answered while the file was still open
    finally:
        release.set()
        thread.join()
