"""Hostile projects and command lines, round three: a damaged table page, a newer project,
a project.sqlite that is a folder, a file or a typo as --project, an unknown run, a YAML
syntax error and absurdly large configs. Each is one line, exit 2, and nothing is created
or written that the user did not ask for."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from desktop.launcher import main


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "unexpected" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, captured.err
    assert "creating project" not in captured.out and "Errno" not in lines[0]
    return lines[0]


# --- a damaged table page in project.sqlite --------------------------------------------


def damage_a_table_page(project_folder: Path) -> bytes:
    """Fill a table with rows over many pages, then overwrite one leaf page's header with
    nonsense cell pointers: the schema still reads, SQLite's quick_check does not pass."""
    from core.project import open_project

    project = open_project(project_folder)
    with project.transaction() as conn:
        for i in range(200):
            conn.execute(
                "INSERT INTO project_meta(key, value) VALUES (?, ?)", (f"note{i}", "x" * 1000)
            )
    project.close()
    db = project_folder / "project.sqlite"
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        handle.seek(size - 4096 * 3)
        handle.write(b"\x0d\x00\x00\x00\x05")  # a leaf table page with 5 cells at offset 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    assert conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]
    conn.close()
    return db.read_bytes()


def add_run_folder(project_folder: Path, run_id: str = "20260101-000000-lora") -> None:
    folder = project_folder / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(
        json.dumps({"method": "lora", "base_model": "tiny", "max_steps": 2})
    )
    (folder / "config.yaml").write_text("name: kept run\nbase_model: tiny\n")


def test_a_damaged_table_page_is_refused_untouched_then_repaired_aside(project, capsys):
    from core.project import ProjectDatabaseError, open_project

    folder = project.folder
    project.close()
    add_run_folder(folder)
    damaged = damage_a_table_page(folder)
    with pytest.raises(ProjectDatabaseError, match="integrity check") as refused:
        open_project(folder)
    assert refused.value.damaged and "project repair" in str(refused.value)
    assert (folder / "project.sqlite").read_bytes() == damaged  # nothing wrote into it

    assert main(["train", "--list", "--project", str(folder)]) == 2  # nor does training
    assert (folder / "project.sqlite").read_bytes() == damaged
    capsys.readouterr()

    assert main(["project", "repair", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "nothing to repair" not in out and "1 run was listed again" in out
    found = folder.glob("project.sqlite.damaged-*")
    (kept,) = [p for p in found if not p.name.endswith(("-wal", "-shm"))]
    assert kept.read_bytes() == damaged  # set aside, never deleted
    capsys.readouterr()
    assert main(["train", "--list", "--project", str(folder)]) == 0
    assert "20260101-000000-lora" in capsys.readouterr().out
    open_project(folder).close()


def test_repair_of_a_sound_project_still_says_it_is_fine(project, capsys):
    folder = project.folder
    project.close()
    assert main(["project", "repair", str(folder)]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_repair_of_a_project_from_a_newer_version_is_one_line(project, capsys):
    with project.transaction() as conn:
        conn.execute("UPDATE schema_versions SET version = 999 WHERE component = 'project'")
    folder = project.folder
    project.close()
    before = (folder / "project.sqlite").read_bytes()
    assert main(["project", "repair", str(folder)]) == 2
    line = one_line_error(capsys)
    assert "newer FineTune Studio" in line
    assert (folder / "project.sqlite").read_bytes() == before


# --- --project that is a file, a typo, or holds a folder named project.sqlite ----------


def test_train_list_on_a_file_is_one_line_and_creates_nothing(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    assert main(["train", "--list", "--project", str(path)]) == 2
    assert "is a file" in one_line_error(capsys)
    assert path.read_text() == "mine"


def test_train_list_on_a_typo_creates_no_project(tmp_path, capsys):
    typo = tmp_path / "my-projetc"
    for args in (["--list"], ["--resume", "20260101-000000-lora"]):
        assert main(["train", *args, "--project", str(typo)]) == 2
        assert "not a project" in one_line_error(capsys)
        assert not typo.exists()


def test_a_project_sqlite_that_is_a_folder_is_named_as_such(tmp_path, capsys):
    (tmp_path / "p" / "project.sqlite").mkdir(parents=True)
    assert main(["train", "--list", "--project", str(tmp_path / "p")]) == 2
    line = one_line_error(capsys)
    assert "is a folder" in line and "already holds a project" not in line
    from core.project import NotAProjectError, create_project

    with pytest.raises(NotAProjectError, match="is a folder"):
        create_project(tmp_path / "p")


def test_resume_of_an_unknown_run_is_bad_input(project, capsys):
    folder = project.folder
    project.close()
    assert main(["train", "--resume", "no-such-run", "--project", str(folder)]) == 2
    line = one_line_error(capsys)
    assert "no-such-run" in line and "--list" in line


# --- configs: YAML syntax errors and sizes ---------------------------------------------


def test_a_yaml_syntax_error_is_one_line_with_line_and_column(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("base_model: tiny\n  max_steps: [\n")
    project = tmp_path / "new-project"
    assert main(["train", str(config), "--project", str(project)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert "line 2, column" in captured.err and str(config) in captured.err
    assert not project.exists()  # a refused config creates no project


def test_a_huge_config_file_is_refused_before_it_is_parsed(tmp_path, capsys):
    config = tmp_path / "huge.yaml"
    config.write_text("base_model: tiny\nname: " + "a" * (50 * 1024 * 1024) + "\n")
    assert main(["train", str(config), "--project", str(tmp_path / "p")]) == 2
    line = one_line_error(capsys)
    assert str(config) in line and "bytes" in line
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("field", ["name", "base_model", "train_file"])
def test_a_huge_text_field_is_refused_naming_it(tmp_path, field, capsys):
    from core.recipe.config import MAX_TEXT_CHARS, TrainConfig, TrainConfigError

    with pytest.raises(TrainConfigError) as refused:
        TrainConfig(**{field: "a" * (MAX_TEXT_CHARS + 1)})
    assert refused.value.field == field
    config = tmp_path / "long.yaml"
    config.write_text(f"{field}: {'b' * 100_000}\n")
    assert main(["train", str(config), "--project", str(tmp_path / "p")]) == 2
    assert field in one_line_error(capsys)
