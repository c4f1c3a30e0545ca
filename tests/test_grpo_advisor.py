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
