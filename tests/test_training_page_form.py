"""The Train page without a live run: the form generated from TrainConfig, validation next
to the field, presets, the estimate, advice actions, replaying a past run, and the 10 Hz
redraw path with 100,000 points."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox
from waiting import WORK_MS

from core.handoff import SettingsForTrain
from core.hardware import HardwareInfo
from core.models.registry import add_local_model
from core.recipe.config import TrainConfig, default_config
from core.runs.records import Advice, MetricRecord
from core.training.advice_actions import AdviceAction, action_for
from core.training.curves import SeriesBuffer, SmoothedSeries, smooth
from core.training.session import run_training
from desktop.context import AppContext
from desktop.theme import GOOD, status_color
from desktop.training.monitor import RunMonitor
from desktop.training.page import TrainingPage


@pytest.fixture
def page(qtbot, project):
    page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    return page


def test_every_field_has_an_editor_with_its_help_label_and_type(page):
    form = page.form
    fields = dataclasses.fields(TrainConfig)
    assert set(form.editors) == {f.name for f in fields}
    for spec in fields:
        editor = form.editors[spec.name].editor
        assert editor.toolTip() == spec.metadata["help"], spec.name
        default = spec.default if spec.default is not dataclasses.MISSING else None
        if spec.metadata.get("choices"):
            assert isinstance(editor, QComboBox)
            offered = [editor.itemText(i) for i in range(editor.count())]
            if spec.name == "device":  # only what this (CPU-only) machine has
                assert offered == ["auto", "cpu"]
            else:
                assert offered == list(spec.metadata["choices"])
        elif isinstance(default, bool):
            assert isinstance(editor, QCheckBox)
        elif isinstance(default, int) and spec.name != "dataset_version":
            assert isinstance(editor, QSpinBox)
    # Without a CUDA GPU the page starts from the CPU preset, the guide's values otherwise.
    config = form.config()
    assert config == default_config(has_cuda=False)
    assert (config.method, config.device, config.max_seq_length) == ("lora", "cpu", 512)
    assert (config.micro_batch_size, config.gradient_accumulation, config.lora_r) == (2, 8, 16)


def test_a_wrong_value_is_shown_next_to_its_field_and_blocks_start(qtbot, page):
    form = page.form
    lr = form.editors["learning_rate"].editor
    assert isinstance(lr, QLineEdit) and lr.placeholderText().startswith("auto")
    qtbot.keyClicks(lr, "fast")
    error = form.editors["learning_rate"].error
    assert error.isVisible() and "expected a number" in error.text()
    # The spin box holds the recipe's bounds: a micro batch of 0 cannot be typed.
    assert form.editors["micro_batch_size"].editor.minimum() == 1
    warmup = form.editors["warmup_ratio"].editor
    warmup.clear()
    qtbot.keyClicks(warmup, "1.5")
    assert "[0, 1)" in form.editors["warmup_ratio"].error.text()
    # Both wrong fields are marked at once (TrainConfig reports every problem).
    assert set(form.errors) == {"learning_rate", "warmup_ratio"}
    qtbot.waitUntil(
        lambda: "marked in red" in page.estimate_box.estimate_label.text(), timeout=2000
    )
    # Not in the green of the last estimate that fitted.
    assert status_color(GOOD) not in page.estimate_box.estimate_label.styleSheet()

    qtbot.mouseClick(page.run_control.start_button, Qt.MouseButton.LeftButton)
    assert not page.host.is_busy()
    assert (
        page.run_control.start_hint.isVisible()
        and "2 settings" in page.run_control.start_hint.text()
    )

    lr.clear()
    qtbot.keyClicks(lr, "3e-4")
    warmup.clear()
    qtbot.keyClicks(warmup, "0.05")
    assert form.errors == {} and not error.isVisible()
    assert form.config().learning_rate == pytest.approx(3e-4)
    # Still no data: Start says so at the training file, and nothing runs.
    assert page.run_control.start() is False
    assert "training JSONL" in form.editors["train_file"].error.text()


def test_presets_set_the_guide_ranks_and_lora_settings_follow_the_method(qtbot, page):
    expected = {
        "format_or_tone": (8, 16),
        "domain_adaptation": (16, 32),
        "new_reasoning": (64, 128),
    }
    for name, (rank, alpha) in expected.items():
        qtbot.mouseClick(page.preset_bar.buttons[name], Qt.MouseButton.LeftButton)
        config = page.form.config()
        assert (config.lora_r, config.lora_alpha) == (rank, alpha)
    method = page.form.editors["method"].editor
    method.setCurrentText("full")
    assert not page.form.groups["LoRA"].isEnabled()
    assert not page.form.editors["quant_type"].editor.isEnabled()
    method.setCurrentText("qlora")
    assert (
        page.form.groups["LoRA"].isEnabled() and page.form.editors["quant_type"].editor.isEnabled()
    )


def test_the_estimate_follows_the_settings_and_the_data(qtbot, page, tmp_path):
    page.update_estimate()
    before = page.estimate_box.estimate_label.text()
    # No GPU here: RAM of this machine, not a reference card.
    assert "GiB of RAM on this machine" in before and "RTX" not in before
    assert "trains on the CPU" in page.estimate_box.estimate_details.text()
    rows = [
        {
            "messages": [
                {"role": "user", "content": "q" * 400},
                {"role": "assistant", "content": "a" * 400},
            ]
        }
    ]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows * 50) + "\n", encoding="utf-8")
    page.form.set_values({"train_file": str(data), "method": "full", "micro_batch_size": 16})
    page.update_estimate()
    assert page.estimate_box.estimate_label.text() != before
    assert "45 examples" in page.estimate_box.estimate_details.text()  # 50 less the 10 % held out


def test_advice_actions_change_the_settings_for_the_next_run(qtbot, page):
    monitor = page.monitor
    monitor.add_advice(
        Advice(
            step=12,
            severity="warning",
            kind="lr_too_high",
            title="Learning rate probably too high",
            message="Training loss fell 80 % in the first 12 steps.",
            action="lower_learning_rate",
            action_label="Stop, lower the learning rate and start again",
            details={"suggested_learning_rate": 6.7e-5},
        )
    )
    overfit = Advice(
        step=30,
        severity="warning",
        kind="overfitting",
        title="Overfitting",
        message="Validation loss has risen since step 30.",
        action="stop_keep_best",
        action_label="Stop now and keep the step-30 checkpoint",
        details={"best_step": 30},
    )
    monitor.add_advice(overfit)
    assert [m.value() for m in monitor.loss_chart.markers] == [12, 30]
    assert monitor.tabs.tabText(0) == "Advice (2)"
    lower, keep_best = monitor.advice_panel.cards
    assert not keep_best.button.isEnabled()  # nothing is training to stop
    qtbot.mouseClick(lower.button, Qt.MouseButton.LeftButton)
    assert page.form.config().learning_rate == pytest.approx(6.7e-5)
    # Start-of-run advice is listed but not pinned to a step of the curve.
    monitor.add_advice(Advice(0, "info", "small_dataset", "Small dataset", "Only 12 examples."))
    assert len(monitor.loss_chart.markers) == 2 and len(monitor.advice_panel.cards) == 3


def test_a_past_run_is_listed_and_replays_its_curves(
    qtbot, page, project, tiny_model_dir, tmp_path
):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}"},
                {"role": "assistant", "content": "billing"},
            ]
        }
        for i in range(12)
    ]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    model = add_local_model(project, tiny_model_dir, name="tiny")
    config = TrainConfig(
        base_model=model.name,
        train_file=str(data),
        method="lora",
        epochs=2,
        micro_batch_size=4,
        gradient_accumulation=1,
        max_seq_length=64,
        packing=False,
        validation_fraction=0.25,
        eval_every_steps=2,
        preflight=False,
        name="replayed run",
    )
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    page.refresh()
    combo = page.monitor.run_combo
    assert combo.count() == 1 and "replayed run" in combo.itemText(0)
    combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: page.monitor.loss_chart.point_count() > 0, timeout=WORK_MS)
    monitor = page.monitor
    assert monitor.series["loss"].n == result.steps_done == 6
    assert monitor.series["eval_loss"].n == 3
    assert monitor.lr_chart.point_count() == 6
    assert (
        "finished" in monitor.status_label.text() and "replayed run" in monitor.status_label.text()
    )
    assert "small_dataset" not in monitor.log_view.toPlainText() and monitor.log_view.toPlainText()
    kinds = [c.advice.kind for c in monitor.advice_panel.cards]
    # A 6-step run also ends with the outcome advice: too few updates to learn from.
    assert kinds[0] == "small_dataset" and "too_few_updates" in kinds
    assert not monitor.continue_button.isEnabled()  # a finished run has nothing to continue


def test_redraw_with_100k_points_stays_within_a_frame_budget(qtbot):
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    monitor.resize(900, 700)
    monitor.show()
    n = 100_000
    steps = np.arange(1, n + 1, dtype=np.float64)
    loss = 3.0 * np.exp(-steps / 30_000) + 0.05 * np.random.default_rng(0).random(n)
    for name in ("loss", "learning_rate", "grad_norm", "tokens_per_second", "memory_allocated"):
        monitor.series[name].extend(steps, loss)
    monitor.series["eval_loss"].extend(steps[::100], loss[::100])
    monitor.set_smoothing(True)
    monitor.log_check.setChecked(True)
    monitor.redraw()
    monitor.grab()  # paint once: pyqtgraph downsamples and clips when drawing
    chart = monitor.loss_chart
    assert chart.point_count() == n + n // 100  # training and validation curves
    assert len(chart.smooth_curve.getOriginalDataset()[0]) == n

    # Live ticks: one new point each, then redraw and repaint everything that changed
    # (how fast: benchmarks/training_gui_latency.py).
    for i in range(5):
        monitor.add_record(
            MetricRecord(step=n + 1 + i, loss=0.04, learning_rate=1e-4, grad_norm=1.0)
        )
        monitor.redraw()
        monitor.grab()
    assert monitor.series["loss"].n == n + 5
    assert chart.point_count() == n + 5 + n // 100


def test_nan_losses_are_counted_not_drawn(qtbot):
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    for step, value in enumerate([2.0, 1.5, math.nan, math.inf, 1.2], start=1):
        monitor.add_record(MetricRecord(step=step, loss=value, grad_norm=value))
    monitor.redraw()
    assert monitor.series["loss"].n == 3 and monitor.series["loss"].skipped == 2
    assert monitor.nonfinite_label.text() == "2 NaN/inf losses not drawn"
    assert np.isfinite(monitor.loss_chart.raw_curve.getOriginalDataset()[1]).all()


def test_a_resumed_run_replaces_the_steps_after_its_checkpoint(qtbot):
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    for step in range(1, 11):
        monitor.add_record(MetricRecord(step=step, loss=1.0 / step))
    monitor.add_record(MetricRecord(step=6, kind="eval", eval_loss=0.5))
    monitor.add_record(MetricRecord(step=7, loss=0.9))  # resumed from checkpoint 6
    assert list(monitor.series["loss"].x) == [1, 2, 3, 4, 5, 6, 7]
    assert list(monitor.series["eval_loss"].x) == [6]


def test_smoothing_is_the_debiased_moving_average_kept_up_incrementally():
    rng = np.random.default_rng(1)
    values = rng.random(5000)
    for weight in (0.5, 0.9, 0.99):
        reference, last = [], 0.0
        for i, value in enumerate(values):
            last = last * weight + (1 - weight) * value
            reference.append(last / (1 - weight ** (i + 1)))
        assert np.allclose(smooth(values, weight), reference, rtol=1e-9, atol=1e-12)
    buffer = SeriesBuffer(capacity=4)
    smoothed = SmoothedSeries(buffer, 0.9)
    for i, value in enumerate(values[:3000]):
        buffer.append(i, value)
        if i % 97 == 0:
            smoothed.update()
    assert np.allclose(smoothed.update().y, smooth(values[:3000], 0.9))
    buffer.truncate_after(999)
    assert smoothed.update().n == 1000


def test_settings_sent_by_another_page_fill_the_form(qtbot, page):
    messages = []
    page.context.status_message.connect(lambda text, _ms: messages.append(text))
    page.receive(SettingsForTrain({"lora_r": 8, "learning_rate": 1e-4, "name": "next"}))
    config = page.form.config()
    assert (config.lora_r, config.learning_rate, config.name) == (8, 1e-4, "next")
    assert messages and messages[-1] == "Settings received: lora_r, learning_rate, name"
    # The Runs page's "Train next" names the run it trains like (this one has no folder).
    page.receive(SettingsForTrain({"lora_r": 16}, like_run_id="run-9"))
    qtbot.waitUntil(lambda: page.run_list.replay.task is None)
    assert page.form.config().lora_r == 16
    assert "run-9" in messages[-1] and "press Start" in messages[-1]


def test_each_advice_action_stops_or_sets_up_the_next_run():
    def advice(action, **details):
        return Advice(7, "warning", "kind", "Title", "Message.", action, "Do it", details)

    config = TrainConfig(method="lora")  # automatic learning rate: 2e-4
    keep = action_for(advice("stop_keep_best", best_step=5), config)
    assert "best checkpoint (step 5)" in keep.stop_reason and keep.changes == {}
    lower = action_for(advice("lower_learning_rate", suggested_learning_rate=6.66e-5), config)
    assert lower.stop_reason and lower.changes == {"learning_rate": 6.7e-05}
    diverged = action_for(advice("stop"), config)  # the session already stopped it
    assert diverged.stop_reason == "" and diverged.changes == {"learning_rate": 6.7e-05}
    assert action_for(advice("add_validation"), config).changes == {"validation_fraction": 0.1}
    often = action_for(advice("evaluate_more_often", suggested_eval_every=3), config)
    assert often.changes == {"eval_every_steps": 3}
    fit = action_for(
        advice("apply_settings", suggestions=[{"changes": {"micro_batch_size": 1}}]), config
    )
    assert fit.changes == {"micro_batch_size": 1} and not fit.stop_reason
    assert action_for(advice(""), config) == AdviceAction()


def test_a_dataset_version_of_the_wrong_kind_for_the_stage_is_marked_before_start(
    qtbot, page, project
):
    """A chat version offered for DPO (or pairs for SFT and GRPO) read as any other choice
    until Start, and the run then failed; the field says why at once, in the run's words."""
    from core.dataset.model import Dataset, Example
    from core.dataset.preferences import PreferencePair, answer
    from core.dataset.preferences_store import save_preference_version
    from core.dataset.versions import save_version
    from core.training.stage_data import data_kind_problem

    chats = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]
        for i in range(12)
    ]
    chat = save_version(project, Dataset([Example.from_messages(m) for m in chats], "tickets"))
    pairs = [
        PreferencePair(({"role": "user", "content": f"t{i}"},), answer(f"good {i}"), answer("bad"))
        for i in range(12)
    ]
    prefs = save_preference_version(project, "prefs", pairs)
    page.sources.refresh_versions()
    form = page.form
    versions, stage = form.editors["dataset_version"].editor, form.editors["stage"].editor
    error = form.editors["dataset_version"].error

    versions.setCurrentIndex(versions.findData(str(chat.id)))
    assert "dataset_version" not in form.errors  # conversations suit SFT
    stage.setCurrentText("dpo")  # the stage's change takes the pairs (below)
    versions.setCurrentIndex(versions.findData(str(chat.id)))  # chosen for DPO: marked
    assert error.isVisible() and error.text() == data_kind_problem("dpo", False, "v1")
    assert "holds conversations; the dpo stage learns from preference pairs" in error.text()
    assert form.config() is None and page.run_control.start() is False
    assert "marked in red" in page.run_control.start_hint.text()

    versions.setCurrentIndex(versions.findData(str(prefs.id)))
    assert "dataset_version" not in form.errors and not error.isVisible()
    for other in ("sft", "grpo"):
        stage.setCurrentText(other)
        versions.setCurrentIndex(versions.findData(str(prefs.id)))
        assert error.isVisible() and "holds preference pairs" in error.text()
        assert form.errors["dataset_version"] == data_kind_problem(other, True, "v1")


def test_a_stage_change_takes_the_newest_version_of_its_kind_if_the_chosen_one_is_not(
    qtbot, page, project
):
    """SFT -> DPO left the chat version chosen and only marked it red, though the project
    had preference pairs; with none of the right kind it stays, marked."""
    from core.dataset.model import Dataset, Example
    from core.dataset.preferences import PreferencePair, answer
    from core.dataset.preferences_store import save_preference_version
    from core.dataset.versions import save_version

    def chats(name: str):
        rows = [
            [{"role": "user", "content": f"{name} q{i}"}, {"role": "assistant", "content": "a"}]
            for i in range(12)
        ]
        return Dataset([Example.from_messages(m) for m in rows], name)

    def prefs(name: str):
        pairs = [
            PreferencePair(({"role": "user", "content": f"{name} {i}"},), answer("y"), answer("n"))
            for i in range(12)
        ]
        return save_preference_version(project, name, pairs)

    form = page.form
    versions, stage = form.editors["dataset_version"].editor, form.editors["stage"].editor
    error = form.editors["dataset_version"].error
    older_chat, chat = save_version(project, chats("old")), save_version(project, chats("new"))
    page.sources.refresh_versions()
    form.set_values({"stage": "sft", "dataset_version": str(older_chat.id)})
    stage.setCurrentText("dpo")  # no pairs in the project: kept, marked
    assert form.values()["dataset_version"] == str(older_chat.id)
    assert error.isVisible() and "preference pairs" in error.text()

    older_pairs, pairs = prefs("old pairs"), prefs("new pairs")
    page.sources.refresh_versions()
    stage.setCurrentText("sft")  # the older chat fits SFT: kept
    assert form.values()["dataset_version"] == str(older_chat.id) and not error.isVisible()
    stage.setCurrentText("dpo")
    assert form.values()["dataset_version"] == str(pairs.id) and not error.isVisible()
    assert form.config() is not None and form.config().dataset_version == str(pairs.id)
    versions.setCurrentIndex(versions.findData(str(older_pairs.id)))
    stage.setCurrentText("grpo")
    assert form.values()["dataset_version"] == str(chat.id) and not error.isVisible()
    stage.setCurrentText("dpo")  # the newest pairs, not the older ones chosen before
    assert form.values()["dataset_version"] == str(pairs.id)


def test_what_was_set_from_the_data_hides_with_the_plan(qtbot, project, tiny_model_dir, tmp_path):
    """'Set from the data: ...' stayed under 'Fix the settings marked in red to see the
    plan.', where no plan is shown."""
    add_local_model(project, tiny_model_dir, name="tiny")
    page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(40)
    ]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    panel = page.plan_panel
    page.form.set_values({"base_model": "tiny", "train_file": str(train)})
    qtbot.waitUntil(
        lambda: panel.data_plan is not None and panel.reasons.isVisible(), timeout=WORK_MS
    )
    assert panel.reasons.text().startswith("Set from the data")
    rate = page.form.editors["learning_rate"].editor
    rate.clear()
    with qtbot.waitSignal(panel.updated, timeout=WORK_MS):
        qtbot.keyClicks(rate, "fast")
    assert panel.summary.text() == "Fix the settings marked in red to see the plan."
    assert not panel.reasons.isVisible()
    panel.wait()


def test_a_long_reward_spec_shows_its_start_elided_with_the_whole_in_the_tooltip(
    qtbot, page, tmp_path
):
    """The Rewards line showed the tail of a long spec (the cursor after the text set)."""
    spec = (
        "[{kind: valid_json}, {kind: reference_match, field: team, weight: 2}, "
        "{kind: regex, pattern: '^\\{', weight: 0.5}, "
        "{kind: length_penalty, max_chars: 40, weight: 0.5}]"
    )
    form = page.form
    form.set_values({"stage": "grpo", "rewards": spec})
    line = form.editors["rewards"].editor
    page.run_control.start_button.setFocus()
    qtbot.waitUntil(lambda: not line.hasFocus(), timeout=5000)
    shown = line.shown_text()
    assert shown.startswith("[{kind: valid_json}") and shown.endswith("…"), shown
    assert len(shown) < len(spec) and line.cursorPosition() == 0
    assert line.toolTip().endswith(spec) and "reward" in line.toolTip().lower()
    assert form.values()["rewards"] == spec  # the value itself is whole
    line.grab().save(str(tmp_path / "rewards_line.png"))
    line.setFocus()  # editing shows the whole text, scrollable
    qtbot.waitUntil(line.hasFocus, timeout=5000)
    assert line.shown_text() == spec


def test_a_recipe_without_data_starts_on_the_projects_newest_version_its_stage_learns_from(
    qtbot, project, tmp_path
):
    """The demo's Train form said "none: use the training file below" beside its
    support-tickets v1, so the estimate assumed 1,000 made-up examples and no plan showed."""
    from core.dataset.model import Dataset, Example
    from core.dataset.preferences import PreferencePair, answer
    from core.dataset.preferences_store import save_preference_version
    from core.dataset.versions import save_version
    from core.training.project_settings import save_train_settings

    def chats(dataset: str):
        messages = [
            [{"role": "user", "content": f"{dataset} q{i}"}, {"role": "assistant", "content": "a"}]
            for i in range(12)
        ]
        return Dataset([Example.from_messages(m) for m in messages], dataset)

    save_version(project, chats("older"))
    newest_chat = save_version(project, chats("tickets"))
    pairs = [
        PreferencePair(({"role": "user", "content": f"t{i}"},), answer(f"good {i}"), answer("bad"))
        for i in range(12)
    ]
    prefs = save_preference_version(project, "prefs", pairs)  # newer, but pairs: not for SFT

    def opened():
        page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
        qtbot.addWidget(page)
        return page

    page = opened()  # no saved settings: the machine's defaults (SFT)
    assert page.form.values()["dataset_version"] == str(newest_chat.id)
    details = page.estimate_box.estimate_details.text()
    assert "no data chosen" not in details and "(tickets v1," in details

    save_train_settings(project, default_config(has_cuda=False).replace(stage="dpo"))
    assert opened().form.values()["dataset_version"] == str(prefs.id)

    # Settings that name their data keep it: a version, or a training file.
    own_file = tmp_path / "own.jsonl"
    own_file.write_text("")
    save_train_settings(project, default_config(has_cuda=False).replace(train_file=str(own_file)))
    values = opened().form.values()
    assert values["dataset_version"] == "" and values["train_file"] == str(own_file)
    older = str(newest_chat.id - 1)
    save_train_settings(project, default_config(has_cuda=False).replace(dataset_version=older))
    assert opened().form.values()["dataset_version"] == older


def test_the_form_keeps_most_of_the_height_and_its_texts_show_whole(qtbot, page):
    """At 1280x800 the form showed about 5 fields above a 200 px estimate, and the base
    model, file, learning rate and rewards placeholders were cut off."""
    page.resize(1110, 770)  # the page's share of a 1280x800 window, beside the page list
    splitter, box = page.form_splitter, page.estimate_box
    qtbot.waitUntil(lambda: splitter.sizes()[0] > 0, timeout=2000)
    form_height, below_height = splitter.sizes()
    assert form_height > 1.2 * below_height, splitter.sizes()
    # The estimate's headline stays in view; its breakdown is a click away (and hovered).
    assert box.estimate_label.isVisible() and not box.estimate_details.isVisible()
    assert box.estimate_label.toolTip() == box.estimate_details.text() != ""
    box.details_button.click()
    assert box.estimate_details.isVisible()
    box.details_button.click()

    form = page.form
    for name in ("name", "train_file", "validation_file", "learning_rate", "rewards"):
        line = form.editors[name].editor
        assert line.placeholderText(), name
        room = (
            line.width()
            - 2 * line.style().pixelMetric(line.style().PixelMetric.PM_DefaultFrameWidth)
            - 8
        )
        assert line.fontMetrics().horizontalAdvance(line.placeholderText()) <= room, name
    model = form.editors["base_model"].editor
    assert model.currentText().endswith("(bundled)")
    shown = model.lineEdit()
    assert shown.fontMetrics().horizontalAdvance(model.currentText()) <= shown.width() - 4
