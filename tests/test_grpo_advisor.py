"""The GRPO advisor names reward hacking (reward up while the held-out reward or the
format/accuracy rewards are flat), answers collapsing to one, and KL blow-up; it stays
quiet on a run that learns the task, and on SFT records."""

from __future__ import annotations

from core.runs.records import MetricRecord
from core.training.advisor import RunAdvisor


def record(step, reward, *, std=0.3, kl=0.02, parts=None, kind="train"):
    return MetricRecord(
        step=step, kind=kind, loss=0.01, reward=reward, reward_std=std, kl=kl, reward_parts=parts
    )


def feed(records):
    advisor = RunAdvisor(max_steps=20)
    return [advice for r in records for advice in advisor.observe(r)]


def parts(json_mean, match_mean, length_mean):
    return {
        "valid_json": {"mean": json_mean, "std": 0.1},
        "category_match": {"mean": match_mean, "std": 0.1},
        "length_penalty": {"mean": length_mean, "std": 0.1},
    }


def test_a_run_that_learns_the_task_gets_no_grpo_advice():
    records = [
        record(s, 0.2 + 0.04 * s, parts=parts(0.2 + 0.04 * s, 0.1 + 0.03 * s, -0.1))
        for s in range(1, 13)
    ]
    records.insert(4, record(4, 0.3, kind="eval"))
    records.append(record(12, 0.6, kind="eval"))
    assert [a.kind for a in feed(records) if a.kind in _GRPO] == []


_GRPO = {"reward_hacking", "answers_collapsed", "kl_blowup"}


def test_reward_up_from_the_length_penalty_only_is_named_hacking():
    records = [
        record(s, -0.5 + 0.05 * s, parts=parts(0.3, 0.2, -0.5 + 0.05 * s)) for s in range(1, 13)
    ]
    (advice,) = [a for a in feed(records) if a.kind in _GRPO]
    assert advice.kind == "reward_hacking" and "format and accuracy" in advice.title
    assert "category_match +0.000" in advice.message


def test_reward_up_while_held_out_reward_falls_is_named_hacking():
    records = [record(s, 0.2 + 0.05 * s) for s in range(1, 13)]
    records.insert(3, record(3, 0.4, kind="eval"))
    records.append(record(12, 0.35, kind="eval"))
    kinds = [a.kind for a in feed(records) if a.kind in _GRPO]
    assert kinds == ["reward_hacking"]


def test_answers_collapsing_to_one_is_named():
    records = [record(s, 0.5, std=0.3 if s < 7 else 0.0) for s in range(1, 13)]
    assert [a.kind for a in feed(records) if a.kind in _GRPO] == ["answers_collapsed"]


def test_kl_blowup_is_named_once():
    records = [record(s, 0.5, kl=0.02 if s < 6 else 0.02 * 4 ** (s - 5)) for s in range(1, 15)]
    found = [a for a in feed(records) if a.kind in _GRPO]
    assert [a.kind for a in found] == ["kl_blowup"] and found[0].action == "lower_learning_rate"


def test_sft_records_get_no_grpo_advice():
    records = [MetricRecord(step=s, loss=2.0 - 0.05 * s) for s in range(1, 15)]
    assert not [a for a in feed(records) if a.kind in _GRPO]


def test_grpo_loss_crossing_zero_is_not_called_a_too_high_learning_rate():
    """GRPO's loss is a policy-gradient surrogate around 0 (the demo's went 0.045 -> -0.056
    in 2 steps), not a fit: its fall says nothing about the learning rate."""
    records = [
        MetricRecord(step=s, loss=0.045 if s == 1 else -0.056, reward=0.8, reward_std=0.3)
        for s in range(1, 6)
    ]
    assert "lr_too_high" not in [a.kind for a in feed(records)]


# --- held-out measures: the end-of-run advice and early stopping speak of each stage's ----


def test_a_run_without_held_out_measures_is_told_so_in_its_stages_words():
    """GRPO and DPO runs ended with 'Validation loss not measured'."""
    from core.recipe.config import default_config
    from core.training.advisor import advice_after_run
    from core.training.run_plan import run_outcome

    def unmeasured(stage):
        config = default_config(has_cuda=False).replace(stage=stage, rewards="[{kind: valid_json}]")
        outcome = run_outcome(config, 40, 60, [], has_validation=False)
        (advice,) = [a for a in advice_after_run(outcome) if a.kind == "validation_not_measured"]
        return advice

    sft, dpo, grpo = unmeasured("sft"), unmeasured("dpo"), unmeasured("grpo")
    assert sft.title == "Validation loss not measured"
    assert dpo.title == "Held-out margin not measured" and "held-out pairs" in dpo.message
    assert grpo.title == "Held-out rewards not measured" and "held-out prompts" in grpo.message
    for advice in (dpo, grpo):
        assert "validation loss" not in (advice.title + advice.message).lower()
    # A GRPO run whose evaluations measured its held-out reward gets none of it.
    config = default_config(has_cuda=False).replace(stage="grpo", rewards="[{kind: valid_json}]")
    measured = [MetricRecord(kind="eval", step=5, eval_loss=0.01, reward=0.5)]
    kinds = {a.kind for a in advice_after_run(run_outcome(config, 40, 60, measured, True))}
    assert "validation_not_measured" not in kinds


def _callback_logic(project, folder, stage):
    from core.runs.record import insert_run_row
    from core.training.callback import StudioCallbackLogic
    from core.training.control import RunControl
    from core.training.held_out import held_out_measure
    from core.training.observer import TrainingObserver
    from core.training.recorder import RunRecorder

    row = {"name": "r", "status": "running", "base_model": "m", "method": "lora"}
    key = insert_run_row(
        project, folder.name, {**row, "config_yaml": "", "folder": folder.name, "started_at": "now"}
    )
    folder.mkdir()
    recorder = RunRecorder(project, folder.name, folder, key, TrainingObserver())
    recorder.start_advisor(100)
    logic = StudioCallbackLogic(recorder, RunControl(), "cpu", stop_on_divergence=True)
    logic.early_stopping_patience = 2
    logic.held_out = held_out_measure(stage)  # as trainer_setup.callback_logic sets it
    return recorder, logic


def test_grpo_early_stopping_watches_the_held_out_reward_not_the_surrogate_loss(project, tmp_path):
    """GRPO's early stopping acted on eval_loss, a surrogate around 0 that says nothing of
    the answers: a run whose held-out reward rose was stopped, one whose reward fell ran on."""
    from types import SimpleNamespace

    def evaluate(folder, losses_and_rewards):
        recorder, logic = _callback_logic(project, tmp_path / folder, "grpo")
        control = SimpleNamespace(should_training_stop=False, should_save=False)
        for i, (loss, reward) in enumerate(losses_and_rewards):
            state = SimpleNamespace(global_step=2 * (i + 1), epoch=0.1, max_steps=100)
            logic.log(state, control, {"eval_loss": loss, "eval_reward": reward})
        recorder.close()
        return logic, control

    # The surrogate loss "worsens" while the held-out reward climbs: a run that learns.
    logic, control = evaluate("r1", [(0.01, 0.2), (0.02, 0.4), (0.03, 0.6), (0.04, 0.8)])
    assert not control.should_training_stop and not logic.early_stopped_reason
    # The surrogate "improves" while the held-out reward falls: stopped, in those words.
    logic, control = evaluate("r2", [(0.04, 0.8), (0.03, 0.6), (0.02, 0.4)])
    assert control.should_training_stop and control.should_save
    assert logic.early_stopped_reason == (
        "Early stopping at step 6: the held-out reward has not improved for 2 evaluations "
        "(best 0.8000 at step 2)."
    )


def test_grpo_keeps_as_best_model_the_checkpoint_with_the_highest_held_out_reward():
    from core.recipe.config import field_help
    from core.training.held_out import held_out_measure

    grpo, sft = held_out_measure("grpo"), held_out_measure("sft")
    assert (grpo.trainer_metric, grpo.higher_is_better) == ("eval_reward", True)
    assert (sft.trainer_metric, sft.higher_is_better) == ("eval_loss", False)
    assert held_out_measure("dpo").field == "eval_loss"
    assert "GRPO: the highest held-out reward" in field_help("final_model")
    assert "GRPO: the held-out reward" in field_help("early_stopping_patience")
