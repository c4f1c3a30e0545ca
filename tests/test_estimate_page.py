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


def edit(page, **values):
    """Type into the recipe form as a user would, one field at a time."""
    page.form.recipe.set_values(values)


def shown(page, name):
    return page.form.recipe.values()[name]


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
    # The recipe's fields carry the trainer's own help (one settings object, issue 20).
    from core.recipe.config import field_help

    batch = page.form.recipe.editors["micro_batch_size"].editor
    assert batch.toolTip() == field_help("micro_batch_size")
    assert page.last_recompute_ms < 500  # gross limit; typically about a millisecond


def test_every_change_recomputes_live(page):
    before = page.recommendation.estimates["qlora"].peak_gib
    page.form.recipe.editors["max_seq_length"].editor.setValue(512)
    assert page.recommendation.estimates["qlora"].peak_gib < before
    assert page.recommendation.reason.endswith("the pick for this GPU would be LoRA.")
    page.form.recipe.editors["gradient_checkpointing"].editor.setChecked(False)
    assert page.recommendation.chosen.settings.gradient_checkpointing is False
    select(page.form.gpu_combo, "A100 80GB")
    assert page.recommendation.chosen.memory.capacity_gib == 80
    page.form.gpu_count.setValue(4)
    assert page.form.sharding_combo.isEnabled()
    assert page.recommendation.chosen.settings.sharding == "fsdp"


def test_clicking_a_method_shows_its_memory(page, qtbot):
    rect = page.results.methods_table.visualItemRect(page.results.methods_table.item(0, 0))
    qtbot.mouseClick(
        page.results.methods_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
    )
    assert shown(page, "method") == "full"
    assert page.recommendation.method == "full" and not page.recommendation.fits
    assert (
        page.results.fixes_label.isVisible() and "What would fit" in page.results.fixes_label.text()
    )
    assert page.results.pick_title.text().startswith("Full fine-tuning: does not fit")


def test_impossible_settings_show_an_error_not_a_crash(page):
    targets = page.form.recipe.editors["lora_target_modules"].editor
    targets.setCurrentText("attn")
    assert page.recommendation is None
    assert (
        page.results.error_label.isVisible()
        and "Unknown LoRA target 'attn'" in page.results.error_label.text()
    )
    assert page.results.pick_title.text() == "Cannot estimate with these settings"
    assert page.results.methods_table.rowCount() == 0 and not page.results.bar.isVisible()
    targets.setCurrentText("q_proj,v_proj")
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
    assert page.form.examples_spin.value() == 150 and shown(page, "lora_r") == 8
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


def test_train_with_these_settings_hands_the_recipe_to_the_train_page(page, qtbot):
    from core.recipe.config import TrainConfig

    edit(page, method="lora", micro_batch_size=2, gradient_checkpointing=False)
    chosen = page.recommendation.chosen.settings
    assert chosen.method == "lora" and chosen.micro_batch_size == 2
    with qtbot.waitSignal(page.context.navigate_requested) as signal:
        page.results.train_button.click()
    target, payload = signal.args
    assert target == "training" and isinstance(payload, SettingsForTrain)
    # The whole recipe, as estimated: nothing is mapped, nothing is dropped.
    assert TrainConfig(**payload.settings) == chosen.recipe


def test_settings_never_shown_here_are_not_sent_to_train(page, qtbot, project):
    """Opened on its own, Estimate sends only what it shows: the Train page keeps its data,
    run name and learning rate (they are not reset to defaults)."""
    from desktop.training.page import TrainingPage

    train = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(train)
    train.form.set_values({"train_file": "mine.jsonl", "name": "my run", "learning_rate": 1e-4})
    edit(page, micro_batch_size=2)
    sent = page.train_settings()
    assert sent["micro_batch_size"] == 2
    assert not {"train_file", "name", "learning_rate", "base_model"} & set(sent)
    train.receive(SettingsForTrain(sent))
    kept = train.form.config()
    assert (kept.train_file, kept.name, kept.learning_rate) == ("mine.jsonl", "my run", 1e-4)
    assert kept.micro_batch_size == 2


def test_a_wrong_recipe_field_is_named_not_estimated(page):
    page.form.recipe.editors["epochs"].editor.setText("-1")
    page.form.recipe.editors["epochs"].editor.textEdited.emit("-1")
    assert page.recommendation is None
    assert page.results.error_label.text().startswith("Epochs: ")
    assert page.train_settings() is None
    assert not page.results.train_button.isEnabled()
    # A second wrong field is named too (every problem at once), and fixing both brings
    # the estimate and the button back.
    dropout = page.form.recipe.editors["lora_dropout"].editor
    dropout.setText("2")
    dropout.textEdited.emit("2")
    assert "Dropout: " in page.results.error_label.text()
    page.form.recipe.set_values({"epochs": 3.0, "lora_dropout": 0.05})
    assert page.recommendation is not None and page.results.train_button.isEnabled()


def test_the_train_pages_recipe_is_estimated_whole(page):
    from core.recipe.config import TrainConfig

    config = TrainConfig(
        base_model="Llama-2-7B",
        train_file="t.jsonl",
        method="full",
        precision="bf16",
        micro_batch_size=1,
        gradient_accumulation=8,
        max_seq_length=300_000,  # beyond the old Estimate spin box's 262,144
        epochs=0,
        max_steps=50,  # a step limit: epochs 0 used to become 1
        optimizer="lion_8bit",  # an optimizer the old mapping dropped
        learning_rate=3e-5,  # not estimated, kept
        gradient_checkpointing=True,
    )
    page.receive(TrainConfigForEstimate(config.as_dict()))
    estimated = page.recommendation.chosen
    assert estimated.settings.recipe == config
    assert estimated.settings.precision == "bf16-mixed"  # fp32 master weights, as trained
    assert estimated.model.name == "Llama-2-7B"  # the run's base model, not the page's
    assert estimated.time.steps == 50
    assert TrainConfig(**page.train_settings()) == config


def test_the_train_page_opens_its_settings_in_estimate(page, qtbot, project):
    from desktop.training.page import TrainingPage

    train = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(train)
    train.form.set_values({"method": "lora", "micro_batch_size": 3, "max_seq_length": 768})
    with qtbot.waitSignal(train.context.navigate_requested) as signal:
        train.open_estimate_button.click()
    target, payload = signal.args
    assert target == "estimate"
    page.receive(payload)
    estimated = page.recommendation.chosen
    assert estimated.settings.recipe == train.form.config()
    assert estimated.model.name == "SmolLM2-135M-Instruct"  # the bundled base model


def test_this_computers_cpu_is_estimated_in_ram(page):
    from core.estimate.cpu_ram import GIB, estimate_cpu_ram, this_machine_ram

    combo = page.form.gpu_combo
    label = combo.itemText(combo.findData("cpu"))
    assert label.startswith("This computer's CPU (2 cores, ") and label.endswith(" GiB RAM)")
    select(combo, "cpu")
    assert page.recommendation is None and page.cpu_summary is not None
    title = page.results.pick_title.text()
    assert title.startswith("About ") and "GiB of RAM on this machine" in title
    # The figure is core.estimate.cpu_ram's for the recipe shown (RAM, not GPU memory).
    expected = estimate_cpu_ram(page.current_model(), page.current_settings(), *this_machine_ram())
    assert f"About {expected.peak_bytes / GIB:.1f} GiB" in title
    assert "trains on the CPU, in RAM" in page.results.pick_reason.text()
    assert not page.form.gpu_count.isEnabled() and not page.form.price_spin.isEnabled()
    assert "pre-flight" in page.form.gpu_label.text()  # a plain note on time, no hours
    assert not page.results.methods_table.isVisible() and not page.results.bar.isVisible()
    assert page.summary_text().startswith(title)
    page.form.recipe.editors["max_seq_length"].editor.setValue(512)
    assert page.results.pick_title.text() != title  # live, as for a GPU
    select(combo, "A100 80GB")
    assert page.cpu_summary is None and page.recommendation is not None
    assert page.results.methods_table.isVisible() and page.form.gpu_count.isEnabled()


def test_no_settings_group_repeats_its_title_as_a_field_label(page):
    from PySide6.QtWidgets import QGroupBox, QLabel

    # "Model" over a "Model" field, "GPU" over a "GPU" field: the same word twice.
    for box in page.form.findChildren(QGroupBox):
        title = box.title().replace("&", "")
        if not title:
            continue
        labels = [label.text().replace("&", "") for label in box.findChildren(QLabel)]
        assert title not in labels, title
    # The Model group's title still names the model drop-down's shortcut (Alt+M).
    model_box = page.form.model_combo.parent()
    assert isinstance(model_box, QGroupBox) and model_box.title() == "&Model"
