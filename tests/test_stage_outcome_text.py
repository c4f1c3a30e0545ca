"""How a DPO or GRPO run's advice and ending read: GRPO's loss is a policy-gradient
surrogate around 0, so its ending names the rewards ("Best validation loss 0.0000" said
nothing) and no advice tells the user to watch a validation loss; DPO's advice speaks of
the held-out margin and pairs ranked right where SFT's speaks of validation loss."""

from __future__ import annotations

from test_grpo_training import grpo_config, write_tickets

from core.runs.records import MetricRecord
from core.training.advisor import OverfittingAdvisor, RunFacts, advice_at_start
from core.training.observer import FINISHED, RunResult
from core.training.reward_figures import reward_figures
from core.training.session import run_training
from core.training.status_text import result_text


def facts(stage: str, n_valid: int = 4) -> RunFacts:
    return RunFacts(
        n_train=12, n_valid=n_valid, max_steps=12, steps_per_epoch=6, eval_every=1, stage=stage
    )


def test_start_advice_speaks_of_each_stages_own_held_out_figures():
    sft = {a.kind: a.message for a in advice_at_start(facts("sft"))}
    assert "validation loss is computed every step" in sft["small_dataset"]
    dpo = {a.kind: a.message for a in advice_at_start(facts("dpo"))}
    assert "Only 12 preference pairs" in dpo["small_dataset"]
    assert "held-out margin and pairs ranked right are computed" in dpo["small_dataset"]
    assert "validation loss" not in dpo["small_dataset"]
    # GRPO learns from few prompts by design: no size warning, no validation loss.
    assert advice_at_start(facts("grpo")) == []
    (no_validation,) = advice_at_start(facts("grpo", n_valid=0))
    assert "held-out prompts" in no_validation.message
    assert "loss" not in no_validation.message


def test_grpo_eval_losses_never_read_as_overfitting():
    advisor = OverfittingAdvisor(patience=2)
    fired = []
    for step, (loss, eval_loss) in enumerate([(0.01, 0.0), (0.0, 0.02), (-0.01, 0.05)], 1):
        fired += advisor.observe(MetricRecord(step=step, loss=loss, reward=0.5))
        fired += advisor.observe(
            MetricRecord(step=step, kind="eval", eval_loss=eval_loss, reward=0.4)
        )
    assert fired == []


def test_a_grpo_run_ends_with_its_rewards_not_a_validation_loss(project, tiny_model_dir, tmp_path):
    config = grpo_config(
        tiny_model_dir,
        write_tickets(tmp_path / "t.jsonl", n=12),
        validation_fraction=0.34,
        eval_every_steps=2,
    )
    result = run_training(project, config)
    assert result.status == FINISHED, result.reason
    assert result.best_val_loss is None  # the surrogate loss is no "best" of anything
    figures = result.rewards
    assert figures is not None and figures.best is not None and figures.last is not None
    text = result_text(result)
    assert "validation loss" not in text
    assert f"Best held-out reward {figures.best:.3f} at step {figures.best_step}." in text
    assert f"Mean reward {figures.last:.3f} at the last step." in text
    advice = " ".join(a.message for a in result.advice)
    assert "validation loss" not in advice, advice
    # A replayed run reads the same figures from its records.
    from core.runs.record import load_run, read_metrics

    assert reward_figures(read_metrics(load_run(project, result.run_id))) == figures


def test_an_sft_run_still_ends_with_its_best_validation_loss():
    result = RunResult(
        run_id="r", folder=None, status=FINISHED, best_val_loss=1.25, best_step=6, steps_done=6
    )
    assert "Best validation loss 1.2500 at step 6." in result_text(result)
    assert reward_figures([MetricRecord(step=1, loss=1.0)]) is None
