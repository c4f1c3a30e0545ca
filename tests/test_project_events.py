"""Project change events (core/project/events.py): core announces, listeners hear it at once,
another process hears it through the project's change log."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ticket_router_run import tiny_lora_settings

from core.dataset.model import Dataset, Example
from core.dataset.versions import save_version
from core.project.events import (
    EVALUATION_DELETED,
    EVALUATION_SAVED,
    RUN_CHANGED,
    RUN_DELETED,
    RUN_FINISHED,
    RUN_STARTED,
    VERSION_SAVED,
    ChangeLog,
    announce,
    subscribe,
)
from core.recipe.config import TrainConfig

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def heard():
    events = []
    unsubscribe = subscribe(events.append)
    yield events
    unsubscribe()


def test_a_listener_hears_what_core_announces_and_stops_after_unsubscribing(project):
    events = []
    unsubscribe = subscribe(events.append)
    announce(project, RUN_FINISHED, "lora-1")
    unsubscribe()
    announce(project, RUN_FINISHED, "lora-2")
    assert [(e.kind, e.subject, e.folder, e.elsewhere) for e in events] == [
        (RUN_FINISHED, "lora-1", project.folder, False)
    ]


def test_an_unknown_kind_is_refused(project):
    with pytest.raises(ValueError, match="unknown project event 'run_exploded'"):
        announce(project, "run_exploded", "x")


def test_a_failing_listener_neither_fails_the_change_nor_silences_the_others(project, heard):
    def broken(_event):
        raise RuntimeError("a page's bug")

    unsubscribe = subscribe(broken)
    try:
        announce(project, VERSION_SAVED, 3)
    finally:
        unsubscribe()
    assert [(e.kind, e.subject) for e in heard] == [(VERSION_SAVED, "3")]


def test_a_listener_object_that_is_gone_stops_listening_by_itself(project):
    class Page:
        def __init__(self):
            self.events = []

        def on_event(self, event):
            self.events.append(event)

    page = Page()
    subscribe(page.on_event)
    announce(project, RUN_STARTED, "a")
    assert len(page.events) == 1
    del page
    gc.collect()
    announce(project, RUN_STARTED, "b")  # no error: the dead listener was dropped


def test_another_process_announcing_is_read_from_the_change_log(project):
    log = ChangeLog(project)
    announce(project, RUN_STARTED, "mine")  # this process's own: delivered directly, not here
    script = textwrap.dedent(
        f"""
        from core.project import open_project
        from core.project.events import RUN_FINISHED, announce
        announce(open_project({str(project.folder)!r}), RUN_FINISHED, "lora-cli")
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=True, timeout=120)
    events = log.new_events()
    assert [(e.kind, e.subject, e.elsewhere) for e in events] == [(RUN_FINISHED, "lora-cli", True)]
    assert log.new_events() == []  # each is read once


def test_saving_a_dataset_version_announces_it(project, heard):
    chats = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]
        for i in range(4)
    ]
    dataset = Dataset([Example.from_messages(m) for m in chats], name="tickets")
    version = save_version(project, dataset)
    assert [(e.kind, e.subject) for e in heard] == [(VERSION_SAVED, str(version.id))]


def test_saving_and_deleting_an_evaluation_announce_it(project, heard):
    from core.evaluation.eval_set import eval_set_from_examples
    from core.evaluation.generation import GenerationConfig
    from core.evaluation.models import ModelSpec
    from core.evaluation.results import EvalResult
    from core.evaluation.store import delete_evaluation, save_eval_set, save_result

    chat = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    eval_set = eval_set_from_examples("tickets", "memory", [chat])
    set_id = save_eval_set(project, eval_set)
    spec = ModelSpec(label="base", base_model="/models/base")
    evaluation_id = save_result(project, set_id, EvalResult(spec, eval_set, GenerationConfig(), []))
    delete_evaluation(project, evaluation_id)
    assert [(e.kind, e.subject) for e in heard] == [
        (EVALUATION_SAVED, str(evaluation_id)),
        (EVALUATION_DELETED, str(evaluation_id)),
    ]


@pytest.mark.usefixtures("one_torch_thread")
def test_a_training_run_announces_that_it_started_and_finished(
    project, tiny_model_dir, tmp_path, heard
):
    from core.training.session import run_training

    train_file = tmp_path / "t.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(4)
    ]
    train_file.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    config = TrainConfig(**tiny_lora_settings(tiny_model_dir, train_file, max_steps=1))
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    runs = [(e.kind, e.subject) for e in heard if e.kind in (RUN_STARTED, RUN_FINISHED)]
    assert runs == [(RUN_STARTED, result.run_id), (RUN_FINISHED, result.run_id)]


def test_deleting_renaming_and_noting_a_run_announce_it(project, heard):
    from core.runs.record import insert_run_row, now
    from core.runs.store import delete_run, rename_run, set_note

    folder = project.runs_dir / "lora-1"
    folder.mkdir(parents=True)
    insert_run_row(
        project,
        "lora-1",
        {
            "name": "first",
            "status": "stopped",
            "method": "lora",
            "base_model": "m",
            "config_yaml": "",
            "folder": "lora-1",
            "started_at": now(),
        },
    )
    rename_run(project, "lora-1", "better name")
    set_note(project, "lora-1", "tried a smaller batch")
    assert delete_run(project, "lora-1").files_removed
    assert [(e.kind, e.subject) for e in heard] == [
        (RUN_CHANGED, "lora-1"),
        (RUN_CHANGED, "lora-1"),
        (RUN_DELETED, "lora-1"),
    ]
