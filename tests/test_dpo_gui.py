"""The Train page's monitor for a DPO run: margin and pairs-ranked-right curves appear when
the run reports them, stay hidden for SFT, and come back with a replayed run."""

from __future__ import annotations

from core.runs.records import MetricRecord
from desktop.training.monitor import RunMonitor


def _dpo_records(n=6):
    return [
        MetricRecord(
            step=i, loss=0.69 - 0.05 * i, rewards_margin=0.1 * i, rewards_accuracy=0.5 + 0.08 * i
        )
        for i in range(1, n + 1)
    ]


def test_dpo_curves_show_for_a_dpo_run_only(qtbot, tmp_path):
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    monitor.resize(1000, 760)
    monitor.show()
    for step in range(1, 4):
        monitor.add_record(MetricRecord(step=step, loss=2.0 / step))
    monitor.redraw()
    assert not monitor.margin_chart.isVisible() and not monitor.accuracy_chart.isVisible()

    monitor.reset()
    for record in _dpo_records():
        monitor.add_record(record)
    monitor.redraw()
    assert monitor.margin_chart.isVisible() and monitor.accuracy_chart.isVisible()
    assert monitor.margin_chart.point_count() == 6
    assert monitor.series["rewards_accuracy"].y[-1] == 0.5 + 0.08 * 6
    monitor.grab().save(str(tmp_path / "dpo_monitor.png"))

    monitor.reset()  # a new run: hidden until it reports margins
    assert not monitor.margin_chart.isVisible()
    monitor.load_records(_dpo_records(4))
    monitor.redraw()
    assert monitor.margin_chart.isVisible() and monitor.margin_chart.point_count() == 4


def test_the_train_form_offers_the_stage_and_dpo_settings_for_dpo_only(qtbot):
    from PySide6.QtWidgets import QWidget

    from core.recipe.config import TrainConfig
    from desktop.training.config_form import ConfigForm

    host = QWidget()
    qtbot.addWidget(host)
    form = ConfigForm(host)
    form.set_config(TrainConfig())
    stage = form.editors["stage"].editor
    assert [stage.itemText(i) for i in range(stage.count())] == ["sft", "dpo", "grpo"]
    assert not form.editors["dpo_beta"].editor.isEnabled()
    stage.setCurrentText("dpo")
    assert form.editors["dpo_beta"].editor.isEnabled()
    assert form.editors["dpo_loss_type"].editor.isEnabled()
    form.editors["dpo_beta"].set(0.25)
    config = TrainConfig(**form.values())
    assert (config.stage, config.dpo_beta) == ("dpo", 0.25)


def test_start_from_offers_the_finished_lora_runs(qtbot):
    from PySide6.QtWidgets import QWidget

    from core.recipe.config import TrainConfig
    from desktop.training.config_form import ConfigForm

    host = QWidget()
    qtbot.addWidget(host)
    form = ConfigForm(host)
    form.set_config(TrainConfig())
    form.set_start_from_runs([("ticket sft (lora-1)", "lora-1")])
    combo = form.editors["start_from"].editor
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "the base model",
        "ticket sft (lora-1)",
    ]
    assert form.values()["start_from"] == ""
    combo.setCurrentIndex(1)
    assert TrainConfig(**form.values()).start_from == "lora-1"
    form.set_start_from_runs([])  # the run was deleted: a saved choice still shows, marked
    assert form.values()["start_from"] == "lora-1"
    assert "not in this project" in combo.currentText()


def test_a_run_that_ended_before_its_first_step_waits_for_none(qtbot):
    """A run that failed while loading (max_seq_length too short, say) left every chart
    saying 'waiting for the first step' under its 'failed' status."""
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    monitor.reset()
    assert monitor.loss_chart.empty_text.toPlainText() == "waiting for the first step"
    monitor.finish_progress(0, 0, "failed")
    for chart in (monitor.loss_chart, *monitor.small_charts):
        assert chart.empty_text.toPlainText() == "no steps recorded"


def test_a_dpo_runs_six_small_charts_share_the_height(qtbot):
    """Six charts go three to a row, two rows of equal height (the first row was squeezed
    to its minimum while the second took the rest)."""
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    monitor.resize(760, 800)
    monitor.show()
    for record in _dpo_records():
        monitor.add_record(record)
    monitor.redraw()
    shown = [chart for chart in monitor.small_charts if chart.isVisible()]
    assert len(shown) == 6 and monitor.small_grid.itemAtPosition(0, 2) is not None
    qtbot.waitUntil(lambda: len({chart.height() for chart in shown}) == 1, timeout=5000)
