"""The run plan (core.training.run_plan): its arithmetic against the real trainer, the
data's defaults on a 40-example dataset, the first step's learning rate above 0, the
advisor's before-Start and after-run warnings with their fixes, and `train --plan`."""

from __future__ import annotations

import json

import pytest
from ticket_router_run import tiny_lora_settings

from core.recipe.config import TrainConfig, default_config
from core.runs.record import read_advice, read_metrics
from core.runs.records import MetricRecord
from core.training.advice_actions import action_for
from core.training.advisor import Goal, advice_after_run, advice_before_start
from core.training.run_plan import (
    MIN_OPTIMIZER_STEPS,
    StepTiming,
    fit_to_data,
    plan_for_project,
    plan_run,
    run_outcome,
)
from core.training.schedule import learning_rates
from core.training.session import run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_tickets(path, n):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: my order {i} has not arrived."},
                {"role": "assistant", "content": f'{{"team": "shipping", "id": {i}}}'},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --- arithmetic --------------------------------------------------------------------------


def test_the_issue_s_run_makes_three_steps_and_the_defaults_give_the_floor():
    """The CPU preset (micro batch 2 x accumulation 8, packing, 3 epochs) on 40 short
    examples: 3 optimizer steps, as the walk saw; the data's defaults reach the floor."""
    config = default_config(has_cuda=False)
    lengths = [150] * 40  # 14 packed rows of 512 tokens (3 examples each, the last 1)
    plan = plan_run(config, lengths)
    assert (plan.rows_per_epoch, plan.micro_batches_per_epoch) == (14, 7)
    assert plan.steps_per_epoch == 1 and plan.optimizer_steps == 3
    assert plan.too_few_steps

    fitted = fit_to_data(config, lengths)
    assert fitted.changes == {"gradient_accumulation": 1, "epochs": 5.0}
    assert fitted.after.optimizer_steps >= MIN_OPTIMIZER_STEPS
    assert fitted.after.optimizer_steps == 35  # 7 steps per epoch x 5
    assert any("Accumulation 8 -> 1" in r for r in fitted.reasons)
    assert any("Epochs 3 -> 5" in r for r in fitted.reasons)


def test_when_packing_folds_the_data_into_few_rows_it_is_turned_off():
    config = default_config(has_cuda=False)
    lengths = [70] * 40  # 6 packed rows: even accumulation 1 x 5 epochs gives 15 steps
    fitted = fit_to_data(config, lengths)
    assert fitted.changes["packing"] is False
    assert fitted.after.optimizer_steps >= MIN_OPTIMIZER_STEPS
    # Accumulation goes down only as far as needed: 40 rows / 2 = 20 micro batches.
    assert fitted.changes["gradient_accumulation"] == 2
    assert fitted.changes.get("epochs") is None
    assert any("Packing off" in r for r in fitted.reasons)


def test_a_large_dataset_and_a_step_limit_keep_their_settings():
    config = default_config(has_cuda=False)
    assert fit_to_data(config, [300] * 400).changes == {}
    limited = config.replace(max_steps=5)
    fitted = fit_to_data(limited, [150] * 40)
    assert fitted.changes == {} and fitted.after.optimizer_steps == 5


def test_the_first_step_learning_rate_is_above_zero_for_every_schedule():
    for scheduler in ("cosine", "linear", "constant_with_warmup", "cosine_with_restarts"):
        for steps in (1, 3, 10, 100):
            config = TrainConfig(lr_scheduler=scheduler, warmup_ratio=0.1)
            rates = learning_rates(config, steps)
            assert rates[0] > 0, (scheduler, steps)
            assert max(rates) <= config.effective_learning_rate + 1e-12


def test_time_counts_the_micro_batches_and_tokens_the_run_really_has():
    """Pre-flight times the longest batch (2 full 512-token rows); a step of the issue's
    run has 7 micro batches, not 8, and their rows are shorter: the plan counts tokens."""
    config = default_config(has_cuda=False)
    lengths = [150] * 40
    timing = StepTiming(seconds=10.0, tokens=1024)
    plan = plan_run(config, lengths, timing)
    tokens = sum([450] * 13 + [150]) * 3  # 14 rows of 3 examples (the last of 1), 3 epochs
    assert plan.seconds == pytest.approx(10.0 / 1024 * tokens)
    old_formula = 10.0 * config.gradient_accumulation * plan.optimizer_steps
    assert plan.seconds < 0.8 * old_formula


# --- against the real trainer ------------------------------------------------------------


def test_the_plan_matches_the_trainer_and_its_first_step_learns(project, tiny_model_dir, tmp_path):
    """A real short run: the optimizer steps and the learning rates the trainer logs (the
    rate each step trained with) are the plan's, the first above 0."""
    train = write_tickets(tmp_path / "train.jsonl", 12)
    config = TrainConfig(
        **tiny_lora_settings(
            tiny_model_dir,
            train,
            packing=True,
            max_seq_length=64,
            micro_batch_size=2,
            gradient_accumulation=1,
            epochs=2.0,
            warmup_ratio=0.4,
            learning_rate=1e-3,
            lr_scheduler="linear",
        )
    )
    planned = plan_for_project(project, config)
    plan = planned.plan
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    assert result.steps_done == plan.optimizer_steps
    assert plan.warmup_steps >= 2
    logged = [r.learning_rate for r in read_metrics(result.folder) if r.kind == "train"]
    rates = learning_rates(config, plan.optimizer_steps)
    assert logged == pytest.approx(rates)
    assert plan.first_step_learning_rate == pytest.approx(logged[0])
    assert plan.learning_rate_steps == pytest.approx(rates[: len(plan.learning_rate_steps)])
    # transformers' own warmup trains step 1 at 0; ours at 1/(w+1) of the peak.
    assert logged[0] == pytest.approx(1e-3 / (plan.warmup_steps + 1))


def test_the_real_scheduler_s_first_optimizer_step_is_above_zero(tiny_model_dir, tmp_path):
    """The learning rate in the optimizer when the first step is taken, read in the real
    Trainer's on_optimizer_step, with and without our scheduler."""
    from transformers import TrainerCallback
    from trl import SFTTrainer

    from core.training.chat_tokens import tokenize_split
    from core.training.conversations import read_conversations
    from core.training.device import resolve_device
    from core.training.lora_targets import resolve_targets
    from core.training.model_loading import load_base_model, load_tokenizer, lora_config
    from core.training.schedule import provisional_schedule, start_warmup_above_zero
    from core.training.sft_args import build_sft_config, build_sft_kwargs

    train = write_tickets(tmp_path / "train.jsonl", 8)
    config = TrainConfig(
        **tiny_lora_settings(
            tiny_model_dir, train, epochs=1.0, micro_batch_size=2, warmup_ratio=0.03
        )
    )
    tokenizer = load_tokenizer(tiny_model_dir)
    split = tokenize_split(tokenizer, read_conversations(train), "assistant", 64)

    def first_rates(shifted: bool) -> list[float]:
        seen = []

        class Rates(TrainerCallback):
            def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
                seen.append(optimizer.param_groups[0]["lr"])

        plan = resolve_device(config)
        kwargs, _ = build_sft_kwargs(
            config, plan, provisional_schedule(config, False), tmp_path / "out", False, 0
        )
        kwargs["save_strategy"] = "no"
        model = load_base_model(config, plan, tiny_model_dir)
        trainer = SFTTrainer(
            model=model,
            args=build_sft_config(**kwargs),
            train_dataset=split.to_hf_dataset(),
            peft_config=lora_config(config, resolve_targets(config, model)),
            processing_class=tokenizer,
            callbacks=[Rates()],
        )
        if shifted:
            start_warmup_above_zero(trainer)
        trainer.train()
        return seen

    assert first_rates(shifted=False)[0] == 0.0  # transformers' warmup: step 1 at 0
    ours = first_rates(shifted=True)
    assert ours[0] > 0
    assert ours == pytest.approx(learning_rates(config, len(ours)))


# --- the advisor -------------------------------------------------------------------------


def test_before_start_too_few_steps_with_the_data_defaults_as_fix():
    config = default_config(has_cuda=False)
    fitted = fit_to_data(config, [150] * 40)
    advice = advice_before_start(
        fitted.before.optimizer_steps,
        MIN_OPTIMIZER_STEPS,
        40,
        fitted.changes,
        fitted.after.optimizer_steps,
    )
    assert [a.kind for a in advice] == ["too_few_steps"]
    assert "only 3 optimizer steps" in advice[0].message
    action = action_for(advice[0], config)
    fixed = config.replace(**action.changes)
    assert plan_run(fixed, [150] * 40).optimizer_steps >= MIN_OPTIMIZER_STEPS


def test_before_start_too_few_examples_for_the_goal_opens_the_dataset_page():
    advice = advice_before_start(35, 30, 40, {}, 35, Goal("domain", (500, 2000)))
    assert [a.kind for a in advice] == ["too_few_examples"]
    assert "500-2,000" in advice[0].message
    assert action_for(advice[0], None).open_page == "dataset"
    assert advice_before_start(35, 30, 60, {}, 35, Goal("format", (50, 200))) == []


def _records(losses, evals=0):
    out = [MetricRecord(kind="train", step=i + 1, loss=x) for i, x in enumerate(losses)]
    out += [MetricRecord(kind="eval", step=1, eval_loss=1.0)] * evals
    return out


def test_after_a_short_flat_run_too_few_updates_and_flat_loss_with_fixes():
    config = default_config(has_cuda=False)
    outcome = run_outcome(
        config, n_rows=14, steps_done=3, records=_records([2.0, 2.0, 1.99]), has_validation=False
    )
    advice = {a.kind: a for a in advice_after_run(outcome)}
    assert set(advice) == {"too_few_updates", "loss_flat", "validation_not_measured"}
    changes = action_for(advice["too_few_updates"], config).changes
    assert changes == {"gradient_accumulation": 1, "epochs": 5.0}
    assert action_for(advice["loss_flat"], config).changes == changes
    assert action_for(advice["validation_not_measured"], config).changes == {
        "validation_fraction": 0.1
    }


def test_after_a_long_run_flat_loss_raises_the_learning_rate_and_a_falling_one_is_quiet():
    config = default_config(has_cuda=False).replace(gradient_accumulation=1)
    flat = run_outcome(config, 40, 60, _records([1.0] * 60, evals=3), True)
    advice = advice_after_run(flat)
    assert [a.kind for a in advice] == ["loss_flat"]
    assert action_for(advice[0], config).changes == {"learning_rate": 3e-4}
    falling = run_outcome(config, 40, 60, _records([2.0 - i / 40 for i in range(60)], 3), True)
    assert advice_after_run(falling) == []
    unmeasured = run_outcome(config, 40, 60, _records([2.0 - i / 40 for i in range(60)]), True)
    (advice,) = advice_after_run(unmeasured)
    assert action_for(advice, config).changes == {"eval_every_steps": 12}


def test_a_real_short_run_ends_with_the_outcome_advice(project, tiny_model_dir, tmp_path):
    train = write_tickets(tmp_path / "train.jsonl", 8)
    config = TrainConfig(
        **tiny_lora_settings(
            tiny_model_dir,
            train,
            epochs=1.0,
            micro_batch_size=2,
            gradient_accumulation=1,
            learning_rate=1e-7,
        )
    )
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    kinds = {a.kind for a in read_advice(result.folder)}
    assert {"too_few_updates", "loss_flat", "validation_not_measured"} <= kinds


# --- the command -------------------------------------------------------------------------


def test_train_plan_json_prints_the_plan_without_training(project, tiny_model_dir, tmp_path):
    import subprocess
    import sys

    import yaml

    train = write_tickets(tmp_path / "train.jsonl", 40)
    settings = tiny_lora_settings(
        tiny_model_dir,
        train,
        packing=True,
        gradient_accumulation=8,
        epochs=3.0,
        micro_batch_size=2,
        max_seq_length=512,
    )
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop.launcher",
            "train",
            str(config_file),
            "--plan",
            "--json",
            "--project",
            str(project.folder),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    for key in (
        "optimizer_steps",
        "warmup_steps",
        "first_step_learning_rate",
        "seconds",
        "tokens_per_step",
        "suggested_changes",
        "reasons",
    ):
        assert key in plan
    assert plan["optimizer_steps"] < MIN_OPTIMIZER_STEPS
    assert plan["first_step_learning_rate"] > 0
    assert plan["seconds"] > 0  # timed with 3 real steps on the longest batch
    assert plan["suggested_changes"]
    assert not list((project.folder / "runs").glob("*"))  # nothing trained
