"""Projects: create, reopen, concurrent open, migration, refusal of a newer schema, demo, recent."""

import multiprocessing
import sqlite3

import pytest

from core.project import NewerSchemaError, NotAProjectError, create_project, open_project, store
from core.project import schema as project_schema
from core.project.demo import ensure_demo_project
from core.project.recent import recent_projects, remember_project


def test_create_then_reopen_keeps_the_data(tmp_path):
    project = create_project(tmp_path / "p", name="Support bot")
    assert project.db_path.is_file()
    for sub in ("datasets", "runs", "evals"):
        assert (project.folder / sub).is_dir()
    project.set_meta("notes", "first try")
    project.close()
    again = open_project(tmp_path / "p")
    assert again.name == "Support bot"
    assert again.get_meta("notes") == "first try"
    mode = again.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_creating_over_an_existing_project_is_refused(tmp_path):
    create_project(tmp_path / "p").close()
    with pytest.raises(FileExistsError):
        create_project(tmp_path / "p")


def test_opening_a_folder_that_is_not_a_project_says_what_to_do(tmp_path):
    with pytest.raises(NotAProjectError, match="not a FineTune Studio project"):
        open_project(tmp_path)


def test_a_failed_transaction_leaves_nothing_behind(project):
    with pytest.raises(RuntimeError), project.transaction() as conn:
        conn.execute("INSERT INTO project_meta(key, value) VALUES ('half', 'written')")
        raise RuntimeError("crash in the middle")
    assert project.get_meta("half") is None


def test_older_schema_is_migrated_forward(tmp_path, monkeypatch):
    folder = tmp_path / "p"
    create_project(folder).close()
    db = folder / "project.sqlite"
    extra = "CREATE TABLE project_extra (id INTEGER PRIMARY KEY, label TEXT);"
    original = store.schema_components

    def with_new_migration():
        components = original()
        name, migrations = components[0]
        return [(name, [*migrations, extra]), *components[1:]]

    monkeypatch.setattr(store, "schema_components", with_new_migration)
    project = open_project(folder)
    assert project.schema_versions()["project"] == len(project_schema.MIGRATIONS) + 1
    tables = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
    assert "project_extra" in tables
    project.close()


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    folder = tmp_path / "p"
    create_project(folder).close()
    db = folder / "project.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'project'")
    before = db.read_bytes()
    with pytest.raises(NewerSchemaError, match="newer FineTune Studio"):
        open_project(folder)
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute(
                "SELECT version FROM schema_versions WHERE component='project'"
            ).fetchone()[0]
            == 99
        )
    assert db.read_bytes() == before


def test_unknown_component_from_a_newer_release_is_refused(tmp_path):
    folder = tmp_path / "p"
    create_project(folder).close()
    with sqlite3.connect(folder / "project.sqlite") as conn:
        conn.execute("INSERT INTO schema_versions VALUES ('hologram', 1)")
    with pytest.raises(NewerSchemaError, match="hologram"):
        open_project(folder)


def _open_and_write(folder: str, worker: int, count: int) -> None:
    project = open_project(folder)
    for i in range(count):
        project.set_meta(f"w{worker}-{i}", str(i))
    project.close()


def test_two_processes_opening_and_writing_do_not_corrupt_it(tmp_path):
    folder = tmp_path / "shared"
    create_project(folder).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_open_and_write, args=(str(folder), w, 40)) for w in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    project = open_project(folder)
    rows = project.connection().execute("SELECT COUNT(*) FROM project_meta WHERE key LIKE 'w%'")
    assert rows.fetchone()[0] == 80
    assert project.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_demo_project_is_made_once_and_remembered(studio_home):
    demo = ensure_demo_project()
    assert demo.name == "Demo project" and demo.get_meta("is_demo") == "1"
    again = ensure_demo_project()
    assert again.folder == demo.folder
    remember_project(demo.folder)
    assert recent_projects()[0] == demo.folder
