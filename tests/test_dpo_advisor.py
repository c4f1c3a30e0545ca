"""The advisor names a DPO margin that stopped growing, once, and never for SFT records."""

from __future__ import annotations

from core.runs.records import MetricRecord
from core.training.advisor import RunAdvisor


def _records(margins):
    return [
        MetricRecord(step=i + 1, loss=0.6, rewards_margin=m, rewards_accuracy=0.75)
        for i, m in enumerate(margins)
    ]


def test_a_margin_that_levels_off_is_named_once():
    advisor = RunAdvisor(max_steps=40)  # window of 4 logged steps
    rising = [0.05 * i for i in range(8)]
    flat = [0.35, 0.36, 0.34, 0.35, 0.35, 0.35, 0.36, 0.35, 0.35]
    advice = [a for r in _records(rising + flat) for a in advisor.observe(r)]
    plateau = [a for a in advice if a.kind == "dpo_margin_plateau"]
    assert len(plateau) == 1
    assert plateau[0].step == 15  # steps 12-15 no higher than steps 8-11
    assert "margin stopped growing" in plateau[0].title
    assert "75% of pairs ranked right" in plateau[0].message


def test_a_growing_margin_and_sft_records_say_nothing():
    advisor = RunAdvisor(max_steps=40)
    growing = _records([0.05 * i for i in range(30)])
    sft = [MetricRecord(step=i + 1, loss=1.0) for i in range(30)]
    advice = [a for r in growing + sft for a in advisor.observe(r)]
    assert not [a for a in advice if a.kind == "dpo_margin_plateau"]
