"""The Estimate page driven through its real widgets (offscreen)."""

import pytest
from PySide6.QtCore import Qt
from waiting import WORK_MS

from core.dataset.model import Dataset
from core.dataset.split import SplitConfig
from core.dataset.versions import save_version
from core.estimate.gpus import find_gpu, user_catalog_path
from core.handoff import DecisionForEstimate, SettingsForTrain, TrainConfigForEstimate
from core.hardware.detect import GpuInfo, HardwareInfo
from desktop.context import AppContext
from desktop.estimate.page import EstimatePage


@pytest.fixture
def page(qtbot, project):
    widget = EstimatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(widget)
    widget.resize(1300, 900)
    widget.show()
    return widget


def select(combo, data):
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def test_opens_with_the_seed_defaults_and_a_pick(page):
    rec = page.recommendation
    assert rec is not None and rec.chosen.model.name == "Llama-3.1-8B"
    assert rec.chosen.gpu.name == "RTX 4090"
    assert page.results.pick_title.text().startswith("QLoRA (4-bit): fits")
    assert "usual starting point" in page.results.pick_reason.text()
    assert page.results.methods_table.rowCount() == 3
    assert page.results.methods_table.item(2, 0).text().endswith("★")
    assert page.results.bar.total_gib == pytest.approx(rec.chosen.peak_gib, rel=0.01)
    assert "No GPU was detected" in page.form.gpu_label.text()
    assert page.form.batch_spin.toolTip().startswith("Sequences per GPU")
    assert page.last_recompute_ms < 500  # gross limit; typically about a millisecond


def test_every_change_recomputes_live(page):
    before = page.recommendation.estimates["qlora"].peak_gib
    page.form.seq_spin.setValue(512)
    assert page.recommendation.estimates["qlora"].peak_gib < before
    assert page.recommendation.method == "lora"  # now LoRA fits comfortably
    page.form.checkpointing_check.setChecked(False)
    assert page.recommendation.chosen.settings.gradient_checkpointing is False
    select(page.form.gpu_combo, "A100 80GB")
    assert page.recommendation.method == "lora"
    assert page.recommendation.chosen.memory.capacity_gib == 80
    page.form.gpu_count.setValue(4)
    assert page.form.sharding_combo.isEnabled()
    assert page.recommendation.chosen.settings.sharding == "fsdp"


def test_clicking_a_method_shows_its_memory(page, qtbot):
    rect = page.results.methods_table.visualItemRect(page.results.methods_table.item(0, 0))
    qtbot.mouseClick(
        page.results.methods_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
    )
    assert page.form.show_combo.currentData() == "full"
    assert page.recommendation.method == "full" and not page.recommendation.fits
    assert (
        page.results.fixes_label.isVisible() and "What would fit" in page.results.fixes_label.text()
    )
    assert page.results.pick_title.text().startswith("Full fine-tuning: does not fit")


def test_impossible_settings_show_an_error_not_a_crash(page):
    page.form.targets_combo.setCurrentText("attn")
    assert page.recommendation is None
    assert (
        page.results.error_label.isVisible()
        and "Unknown LoRA target 'attn'" in page.results.error_label.text()
    )
    assert page.results.pick_title.text() == "Cannot estimate with these settings"
    assert page.results.methods_table.rowCount() == 0 and not page.results.bar.isVisible()
    page.form.targets_combo.setCurrentText("q_proj,v_proj")
    assert page.recommendation is not None and not page.results.error_label.isVisible()


def test_decide_answers_arrive_through_navigation(qtbot, project):
    from desktop.main_window import MainWindow

    context = AppContext(project, HardwareInfo(cpu_cores=2))
    window = MainWindow(context)
    qtbot.addWidget(window)
    payload = DecisionForEstimate(
        decision_id=1, task_kind="format", examples=150, lora_r=8, keep_broad_capabilities=True
    )
    context.navigate("estimate", payload)
    page = window.page("estimate")
    assert window.stack.currentWidget() is page
    assert page.form.examples_spin.value() == 150 and page.form.rank_spin.value() == 8
    assert page.form.task_combo.currentData() == "format" and page.form.keep_broad_check.isChecked()
    assert page.recommendation.chosen.settings.lora_r == 8
    assert "From Decide" in window.statusBar().currentMessage()


def test_detected_gpu_is_the_default(qtbot, project):
    card = GpuInfo(0, "NVIDIA GeForce RTX 3090", int(23.6 * 1024**3), compute_capability=(8, 6))
    widget = EstimatePage(AppContext(project, HardwareInfo(gpus=[card])))
    qtbot.addWidget(widget)
    assert widget.form.gpu_combo.currentData() == "detected"
    gpu = widget.recommendation.chosen.gpu
    assert gpu.name == "RTX 3090" and gpu.memory_gib == 23.6


def test_prices_and_new_gpus_are_saved(page, studio_home):
    page.set_gpu_price(find_gpu("RTX 4090"), 0.0)
    assert find_gpu("RTX 4090").price_per_hour == 0.0
    assert page.recommendation.chosen.cost_usd == 0.0
    assert page.add_gpu("Lab card", 48, 150, 0.5) is None
    assert page.form.gpu_combo.currentData() == "Lab card"
    assert page.recommendation.chosen.gpu.memory_gib == 48
    assert "memory_gib must be" in page.add_gpu("Bad", 0, 150, 0.5)
    assert user_catalog_path().is_file()


def test_the_add_gpu_dialog_stays_open_with_the_reason_until_the_card_is_taken(page, studio_home):
    from desktop.estimate.gpu_dialog import AddGpuDialog

    dialog = AddGpuDialog(page.add_gpu, page)
    dialog.open()
    dialog.name.setText("Lab card")
    dialog.memory.setValue(48)
    dialog.tflops.setValue(150)
    calls = []
    dialog._add_gpu = lambda *card: calls.append(card) or "that name is taken"  # a refusal
    dialog.accept()
    assert dialog.isVisible() and dialog.error.text() == "that name is taken"
    dialog._add_gpu = page.add_gpu
    dialog.name.setText("Second lab card")
    dialog.accept()
    assert not dialog.isVisible()
    assert calls == [("Lab card", 48, 150, 0)]
    assert page.form.gpu_combo.currentData() == "Second lab card"


def test_a_local_model_folder_can_be_estimated(page, tiny_model_dir, tmp_path):
    assert page.use_model_path(tiny_model_dir) is None
    assert page.recommendation.chosen.model.hidden_size == 64
    assert "parameters" in page.form.model_label.text()
    assert "no config.json" in page.use_model_path(tmp_path)
    assert page.results.error_label.isVisible()


def test_uses_the_current_dataset_tokens(page, qtbot, project):
    page.count_dataset_tokens()
    with qtbot.waitSignal(page._task.finished, timeout=WORK_MS):
        pass
    assert "no saved dataset version" in page.form.dataset_label.text()
    conversations = [
        [
            {"role": "user", "content": "hello " * (5 + i)},
            {"role": "assistant", "content": "hi " * 30},
        ]
        for i in range(20)
    ]
    save_version(
        project,
        Dataset.from_conversations(conversations, name="greetings"),
        split=SplitConfig(valid_fraction=0.0),
    )
    page.count_dataset_tokens()
    with qtbot.waitSignal(page._task.finished, timeout=WORK_MS):
        pass
    assert page.form.examples_spin.value() == 20
    settings = page.recommendation.chosen.settings
    assert settings.dataset_tokens and settings.dataset_tokens > 20 * 20
    assert "greetings v1" in page.form.dataset_label.text()
    page.form.examples_spin.setValue(500)  # typing a number goes back to examples x length
    assert page.recommendation.chosen.settings.dataset_tokens is None


def test_train_with_these_settings_hands_the_shown_run_to_the_train_page(page, qtbot):
    from core.estimate.from_train_config import run_settings_from_train_config
    from core.recipe.config import TrainConfig

    select(page.form.show_combo, "lora")
    page.form.batch_spin.setValue(2)
    page.form.checkpointing_check.setChecked(False)
    chosen = page.recommendation.chosen.settings
    assert chosen.method == "lora" and chosen.micro_batch_size == 2
    with qtbot.waitSignal(page.context.navigate_requested) as signal:
        page.results.train_button.click()
    target, payload = signal.args
    assert target == "training" and isinstance(payload, SettingsForTrain)
    fields = payload.settings
    config = TrainConfig(base_model="m", train_file="t.jsonl", **fields)
    # Round trip through the one mapping: the Train page will be estimated as shown here.
    back = run_settings_from_train_config(config, examples=chosen.examples)
    for name in (
        "method",
        "micro_batch_size",
        "gradient_accumulation",
        "max_seq_length",
        "packing",
        "lora_r",
    ):
        assert getattr(back, name) == getattr(chosen, name), name
    assert back.gradient_checkpointing is False and back.optimizer == chosen.optimizer


def test_the_train_pages_settings_come_back_through_the_same_mapping(page):
    from core.estimate.from_train_config import run_settings_from_train_config
    from core.recipe.config import TrainConfig

    config = TrainConfig(
        base_model="m",
        train_file="t.jsonl",
        method="full",
        precision="bf16",
        micro_batch_size=1,
        gradient_accumulation=8,
        max_seq_length=1024,
        gradient_checkpointing=True,
    )
    page.receive(TrainConfigForEstimate(config.as_dict()))
    shown = page.recommendation.chosen.settings
    expected = run_settings_from_train_config(config)
    assert shown.method == "full" and shown.precision == "bf16-mixed" == expected.precision
    for name in (
        "micro_batch_size",
        "gradient_accumulation",
        "max_seq_length",
        "gradient_checkpointing",
    ):
        assert getattr(shown, name) == getattr(expected, name), name


def test_the_train_page_opens_its_settings_in_estimate(page, qtbot, project):
    from core.estimate.from_train_config import run_settings_from_train_config
    from desktop.training.page import TrainingPage

    train = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(train)
    train.form.set_values({"method": "lora", "micro_batch_size": 3, "max_seq_length": 768})
    with qtbot.waitSignal(train.context.navigate_requested) as signal:
        train.open_estimate_button.click()
    target, payload = signal.args
    assert target == "estimate"
    page.receive(payload)
    shown = page.recommendation.chosen.settings
    expected = run_settings_from_train_config(train.form.config())
    assert (shown.method, shown.micro_batch_size, shown.max_seq_length) == ("lora", 3, 768)
    assert shown.precision == expected.precision and shown.lora_r == expected.lora_r
