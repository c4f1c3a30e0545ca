"""The advisor: overfitting on a run built to overfit (and silence on one that does not), a
learning rate that is too high, divergence, small datasets, early stopping."""

from __future__ import annotations

import json
import math
import random

import pytest

from core.recipe.config import TrainConfig
from core.runs.records import MetricRecord
from core.training.advisor import (
    DivergenceAdvisor,
    LearningRateAdvisor,
    OverfittingAdvisor,
    RunFacts,
    advice_at_start,
    advice_before_start,
)
from core.training.observer import CollectingObserver
from core.training.session import TrainingSession, run_training

WORDS = [
    "billing",
    "shipping",
    "login",
    "refund",
    "account",
    "password",
    "order",
    "delivery",
    "invoice",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def train(step, loss, grad_norm=1.0, lr=2e-4):
    return MetricRecord(step=step, kind="train", loss=loss, grad_norm=grad_norm, learning_rate=lr)


def evaluation(step, loss):
    return MetricRecord(step=step, kind="eval", eval_loss=loss)


def feed(advisor, records):
    out = []
    for record in records:
        out += advisor.observe(record)
    return out


def test_overfitting_names_the_step_it_began_and_the_best_checkpoint():
    records = []
    for step, (tl, vl) in enumerate(
        [(3.0, 2.9), (2.5, 2.5), (2.0, 2.3), (1.6, 2.4), (1.2, 2.6), (0.9, 2.8)], start=1
    ):
        records += [train(step * 10, tl), evaluation(step * 10, vl)]
    advice = feed(OverfittingAdvisor(), records)
    assert len(advice) == 1
    (item,) = advice
    assert item.kind == "overfitting" and item.step == 30 and item.action == "stop_keep_best"
    assert item.details["detected_at_step"] == 50 and item.details["best_eval_loss"] == 2.3
    assert "step 30" in item.message and "step-30" in item.action_label


def test_no_overfitting_when_both_losses_fall_or_both_rise():
    falling = [r for s in range(1, 8) for r in (train(s, 3 - 0.2 * s), evaluation(s, 3 - 0.15 * s))]
    assert feed(OverfittingAdvisor(), falling) == []
    unstable = [r for s in range(1, 8) for r in (train(s, 2 + 0.1 * s), evaluation(s, 2 + 0.1 * s))]
    assert feed(OverfittingAdvisor(), unstable) == []
    # A bump that comes back down is noise, not a trend.
    bump = [train(1, 3), evaluation(1, 2.0), train(2, 2.8), evaluation(2, 2.1)]
    bump += [train(3, 2.6), evaluation(3, 2.05), train(4, 2.4), evaluation(4, 1.9)]
    assert feed(OverfittingAdvisor(), bump) == []


def test_loss_plummeting_early_means_the_learning_rate_is_too_high():
    advice = feed(LearningRateAdvisor(max_steps=100), [train(1, 2.4), train(3, 1.5), train(5, 0.6)])
    assert [a.kind for a in advice] == ["lr_too_high"]
    assert advice[0].details["suggested_learning_rate"] < 2e-4
    # The same fall spread over the run is ordinary learning.
    slow = [train(1, 2.4)] + [train(s, 2.4 - 0.02 * s) for s in range(2, 90)]
    assert feed(LearningRateAdvisor(max_steps=100), slow) == []


def test_nan_or_exploding_gradients_stop_the_run():
    nan = feed(DivergenceAdvisor(), [train(1, 2.0), train(2, math.nan)])
    assert [(a.kind, a.severity, a.action) for a in nan] == [("diverged", "error", "stop")]
    inf = feed(DivergenceAdvisor(), [train(1, 2.0, grad_norm=math.inf)])
    assert inf and "inf" in inf[0].message
    steady = [train(s, 2.0, grad_norm=1.0 + 0.01 * s) for s in range(1, 10)]
    spike = feed(
        DivergenceAdvisor(), [*steady, train(10, 2.0, grad_norm=80.0), train(11, 2.0, 1.1)]
    )
    assert [a.kind for a in spike] == ["grad_spike"]
    exploding = [*steady] + [train(s, 2.0, grad_norm=500.0) for s in range(10, 13)]
    assert [a.kind for a in feed(DivergenceAdvisor(), exploding)][-1] == "diverged"


def test_small_dataset_and_missing_validation_warnings():
    kinds = [a.kind for a in advice_at_start(RunFacts(200, 0, 100, 13, 0))]
    assert kinds == ["no_validation", "small_dataset"]
    rare = advice_at_start(RunFacts(500, 50, 200, 32, 100))
    assert rare[0].action == "evaluate_more_often" and rare[0].details["suggested_eval_every"] == 8
    assert advice_at_start(RunFacts(5000, 500, 900, 300, 45)) == []


def test_counts_in_advice_read_in_the_right_number():
    # One step per epoch, evaluated every step: the old text said "every 1 steps (about 1
    # times per epoch)".
    message = advice_at_start(RunFacts(8, 2, 3, 1, 1))[0].message
    assert "every step (about 1 time per epoch)" in message
    assert "1 steps" not in message and "1 times" not in message
    many = advice_at_start(RunFacts(500, 50, 200, 32, 8))[0].message
    assert "every 8 steps (about 4 times per epoch)" in many
    one = advice_before_start(1, 30, 1, {"epochs": 30}, 30)[0]
    assert "only 1 optimizer step on 1 example:" in one.message
    assert one.action_label == "Use the data's defaults (30 steps)"


def test_a_diverged_record_makes_the_callback_stop_without_saving(project, tmp_path):
    from types import SimpleNamespace

    from core.runs.record import insert_run_row
    from core.training.callback import StudioCallbackLogic
    from core.training.control import RunControl
    from core.training.observer import TrainingObserver
    from core.training.recorder import RunRecorder

    key = insert_run_row(
        project,
        "r1",
        {
            "name": "r",
            "status": "running",
            "base_model": "m",
            "method": "lora",
            "config_yaml": "",
            "folder": "r1",
            "started_at": "now",
        },
    )
    folder = tmp_path / "r1"
    folder.mkdir()
    recorder = RunRecorder(project, "r1", folder, key, TrainingObserver())
    recorder.start_advisor(100)
    logic = StudioCallbackLogic(recorder, RunControl(), "cpu", stop_on_divergence=True)
    state = SimpleNamespace(global_step=7, epoch=0.5, max_steps=100)
    control = SimpleNamespace(should_training_stop=False, should_save=True)
    logic.log(state, control, {"loss": float("nan"), "grad_norm": 3.0, "learning_rate": 1e-4})
    assert control.should_training_stop and not control.should_save
    assert "diverged" in logic.diverged_reason.lower() and "step 7" in logic.diverged_reason
    recorder.close()
    line = json.loads((folder / "metrics.jsonl").read_text().splitlines()[0])
    assert line["loss"] == "nan" and line["step"] == 7


# --- real runs on the tiny model ------------------------------------------------------


def _datasets(tmp_path, overfit: bool):
    """Training answers use some words, validation answers others: memorising the training
    answers makes validation worse. The run that does not overfit validates on its own data."""
    rng = random.Random(0)

    def rows(n, words, offset):
        return [
            {
                "messages": [
                    {"role": "user", "content": f"Ticket {offset + i}: which team?"},
                    {"role": "assistant", "content": " ".join(rng.choice(words) for _ in range(6))},
                ]
            }
            for i in range(n)
        ]

    train = rows(8, WORDS[:5], 0)
    valid = rows(8, WORDS[5:], 100) if overfit else train
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in train))
    (tmp_path / "valid.jsonl").write_text("\n".join(json.dumps(r) for r in valid))
    return tmp_path / "train.jsonl", tmp_path / "valid.jsonl"


def _config(model_dir, train_file, valid_file, **changes):
    settings = {
        "base_model": str(model_dir),
        "train_file": str(train_file),
        "validation_file": str(valid_file),
        "method": "full",
        "epochs": 8.0,
        "micro_batch_size": 4,
        "gradient_accumulation": 1,
        "learning_rate": 3e-3,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.0,
        "max_seq_length": 96,
        "packing": False,
        "eval_every_steps": 2,
        "keep_checkpoints": 1,
        "preflight": False,
    }
    settings.update(changes)
    return TrainConfig(**settings)


def test_overfitting_advice_fires_and_stopping_keeps_the_best_checkpoint(
    project, tiny_model_dir, tmp_path
):
    config = _config(tiny_model_dir, *_datasets(tmp_path, overfit=True))

    class StopWhenOverfitting(CollectingObserver):
        def on_advice(self, advice):
            super().on_advice(advice)
            if advice.kind == "overfitting":
                session.stop("Overfitting: stopped and kept the best checkpoint.")

    observer = StopWhenOverfitting()
    session = TrainingSession(project, config, observer)
    result = session.run()
    (overfitting,) = [a for a in observer.advice if a.kind == "overfitting"]
    evals = {r.step: r.eval_loss for r in observer.records if r.kind == "eval"}
    best_step = min(
        evals, key=lambda s: evals[s] if s <= overfitting.details["detected_at_step"] else 99
    )
    assert overfitting.step == best_step
    assert overfitting.details["checkpoint"].endswith(f"checkpoint-{best_step}")
    assert result.status == "stopped" and result.steps_done < result.max_steps
    meta = json.loads((result.final_model_dir / "studio_model.json").read_text())
    assert meta["from_checkpoint"] == f"checkpoint-{best_step}"
    assert result.best_step == best_step


def test_no_overfitting_advice_on_a_run_that_does_not_overfit(project, tiny_model_dir, tmp_path):
    config = _config(tiny_model_dir, *_datasets(tmp_path, overfit=False))
    observer = CollectingObserver()
    result = run_training(project, config, observer)
    assert result.status == "finished" and result.steps_done == 16
    evals = [r.eval_loss for r in observer.records if r.kind == "eval"]
    assert evals[-1] < evals[0]
    # A 16-step run also hears it made too few updates (the outcome advice), nothing else.
    assert [a.kind for a in observer.advice] == ["small_dataset", "too_few_updates"]


def test_early_stopping_ends_an_overfitting_run(project, tiny_model_dir, tmp_path):
    config = _config(
        tiny_model_dir, *_datasets(tmp_path, overfit=True), early_stopping_patience=2, epochs=20.0
    )
    result = run_training(project, config)
    assert result.status == "finished" and result.steps_done < result.max_steps == 40
    assert result.reason.startswith("Early stopping at step")
