"""A paused run has already reported the step it paused after (the walk saw the last step's
points only after Resume: the pause blocked in on_step_end, before the Trainer logged)."""

from __future__ import annotations

import threading

import pytest
from test_training_session import small_config, write_dataset

from core.training.observer import PAUSED, CollectingObserver
from core.training.session import TrainingSession

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def paused_session(project, config):
    paused = threading.Event()
    seen_when_paused: dict = {}

    class Watch(CollectingObserver):
        def on_progress(self, progress):
            super().on_progress(progress)
            if progress.step == 2:
                session.pause()

        def on_status(self, state, message):
            super().on_status(state, message)
            if state == PAUSED:
                seen_when_paused["train"] = [r.step for r in self.records if r.kind == "train"]
                seen_when_paused["eval"] = [r.step for r in self.records if r.kind == "eval"]
                paused.set()

    observer = Watch()
    session = TrainingSession(project, config, observer)
    thread = threading.Thread(target=session.run)
    thread.start()
    assert paused.wait(300)
    return session, thread, observer, seen_when_paused


@pytest.mark.parametrize("log_every", [1, 3])
def test_the_step_a_run_paused_after_is_reported_before_resume(
    project, tiny_model_dir, tmp_path, log_every
):
    config = small_config(
        tiny_model_dir,
        write_dataset(tmp_path / "t.jsonl", n=12),
        epochs=2.0,
        log_every_steps=log_every,
        validation_fraction=0.25,
        eval_every_steps=2,
    )
    session, thread, observer, seen = paused_session(project, config)
    try:
        assert seen["train"][-1] == 2  # the paused step's loss, LR, ... are on the charts now
        assert seen["eval"] == [2]  # and its validation point
        assert session.is_paused
    finally:
        threading.Thread(target=session.resume).start()
        thread.join(300)
    result = session.result
    assert result.status == "finished"
    train_steps = [r.step for r in observer.records if r.kind == "train"]
    assert train_steps == sorted(set(train_steps)) and train_steps[-1] == result.steps_done


def test_stop_while_paused_saves_the_paused_step_and_ends_there(project, tiny_model_dir, tmp_path):
    config = small_config(tiny_model_dir, write_dataset(tmp_path / "t.jsonl"), epochs=4.0)
    session, thread, _observer, _seen = paused_session(project, config)
    threading.Thread(target=session.stop).start()
    thread.join(300)
    result = session.result
    assert result.status == "stopped" and result.steps_done == 2
    assert (result.folder / "checkpoints" / "checkpoint-2").is_dir()
