"""The Train page's monitor for a GRPO run: the reward (with its spread), each reward's
mean, KL and answer length appear when the run reports them, stay hidden for SFT, and come
back with a replayed run."""

from __future__ import annotations

from core.runs.records import MetricRecord
from desktop.training.monitor import RunMonitor


def _grpo_records(n=6):
    return [
        MetricRecord(
            step=i,
            loss=0.01,
            reward=0.2 + 0.1 * i,
            reward_std=0.3,
            kl=0.01 * i,
            completion_length=40.0 - i,
            reward_parts={
                "valid_json": {"mean": 0.1 * i, "std": 0.2},
                "category_match": {"mean": 0.05 * i, "std": 0.1},
            },
        )
        for i in range(1, n + 1)
    ]


def test_grpo_curves_show_for_a_grpo_run_only(qtbot, tmp_path):
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    monitor.resize(1000, 900)
    monitor.show()
    for step in range(1, 4):
        monitor.add_record(MetricRecord(step=step, loss=2.0 / step))
    monitor.redraw()
    assert not any(chart.isVisible() for chart in monitor.reward_charts)

    monitor.reset()
    for record in _grpo_records():
        monitor.add_record(record)
    monitor.redraw()
    assert all(chart.isVisible() for chart in monitor.reward_charts)
    assert monitor.reward_chart.point_count() == 12  # the mean and the spread, 6 each
    assert monitor.series["kl"].y[-1] == 0.06
    assert monitor.series["reward_part:category_match"].y[-1] == 0.05 * 6
    assert monitor.reward_parts_chart.point_count() == 12  # two rewards, 6 steps each
    monitor.grab().save(str(tmp_path / "grpo_monitor.png"))

    monitor.reset()  # a new run: hidden until it reports rewards
    assert not monitor.reward_chart.isVisible()
    monitor.load_records(_grpo_records(4))
    monitor.redraw()
    assert monitor.reward_chart.isVisible()
    assert len(monitor.series["reward_part:valid_json"]) == 4
    monitor.forget_after(2)  # a resumed run redoes the steps past its checkpoint
    assert len(monitor.series["reward_part:valid_json"]) == 2


def test_many_rewards_and_eight_charts_stay_readable(qtbot, tmp_path):
    """Eight rewards: their names wrap under the chart instead of a legend covering the
    curves, and a GRPO run's eight small charts go three to a row, not four rows of two
    too short to read."""
    names = [f"reward_{i}" for i in range(8)]
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    monitor.resize(1000, 900)
    monitor.show()
    assert monitor.small_grid.itemAtPosition(0, 2) is None  # SFT's four: two a row
    for step in range(1, 5):
        monitor.add_record(
            MetricRecord(
                step=step,
                loss=0.01,
                reward=0.5,
                reward_std=0.2,
                kl=0.01,
                completion_length=30.0,
                reward_parts={name: {"mean": 0.1 * step, "std": 0.1} for name in names},
            )
        )
    monitor.redraw()
    assert monitor.reward_parts_chart.getPlotItem().legend is None
    legend = monitor.reward_legend
    assert legend.isVisible() and all(name in legend.text() for name in names)
    assert monitor.reward_parts_chart.point_count() == 8 * 4
    assert monitor.small_grid.itemAtPosition(0, 2) is not None
    assert monitor.small_grid.itemAtPosition(3, 0) is None  # three rows, not four
    rows = {monitor.small_grid.getItemPosition(i)[0] for i in range(monitor.small_grid.count())}
    assert rows == {0, 1, 2}
    monitor.grab().save(str(tmp_path / "grpo_monitor_many_rewards.png"))
