"""The Estimate page's settings form: model, GPU, training, LoRA, data and task.

Every control maps to a RunSettings field and shows that field's help text as its tooltip;
the page reads the controls and re-runs the estimate on every change.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.estimate import OPTIMIZERS, RunSettings
from core.estimate.recommend import TASK_KINDS
from core.estimate.settings import PRECISIONS, SHARDING_TITLES, SHARDINGS, field_help
from core.methods import METHOD_NAMES, METHOD_TITLES

DEFAULTS = RunSettings()
TARGET_PRESETS = ("all-linear", "q_proj,k_proj,v_proj,o_proj", "q_proj,v_proj")
TASK_TITLES = {
    None: "not answered",
    "format": "format or style",
    "domain": "domain adaptation",
    "reasoning": "new reasoning patterns",
}
SHOW_CHOICES = ("auto", *METHOD_NAMES)


def _spin(low: int, high: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setGroupSeparatorShown(True)
    return box


class EstimateForm(QWidget):
    """The left column of controls. `make_model_picker` builds the page's "Models…" button
    in its place, so the keyboard focus order stays that of the form."""

    def __init__(
        self, make_model_picker: Callable[[], QWidget], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setSpacing(10)
        column.addWidget(self._model_box(make_model_picker))
        column.addWidget(self._gpu_box())
        column.addWidget(self._training_box())
        column.addWidget(self._lora_box())
        column.addWidget(self._data_box())
        column.addStretch(1)
        self.setFixedWidth(370)

    def _model_box(self, make_model_picker: Callable[[], QWidget]) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip(
            "A catalog architecture (nothing is downloaded), the bundled model, or one of the "
            "project's local model folders"
        )
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Estimate a Hugging Face model folder or a config.json file")
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(self.open_button)
        row.addWidget(make_model_picker())
        label = QLabel("&Model")
        label.setBuddy(self.model_combo)
        form.addRow(label, row)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.model_label)
        return box

    def _gpu_box(self) -> QGroupBox:
        box = QGroupBox("GPU")
        form = QFormLayout(box)
        self.gpu_combo = QComboBox()
        self.gpu_combo.setToolTip(
            "The detected GPU, or any GPU of the catalog (prices and GPUs are yours to edit)"
        )
        self.add_gpu_button = QPushButton("Add…")
        self.add_gpu_button.setToolTip("Add a GPU that is not in the catalog")
        row = QHBoxLayout()
        row.addWidget(self.gpu_combo, 1)
        row.addWidget(self.add_gpu_button)
        label = QLabel("&GPU")
        label.setBuddy(self.gpu_combo)
        form.addRow(label, row)
        self.gpu_count = _spin(1, 64, 1)
        self.gpu_count.setToolTip(field_help("num_gpus"))
        self.sharding_combo = QComboBox()
        for name in SHARDINGS:
            self.sharding_combo.addItem(SHARDING_TITLES[name], name)
        self.sharding_combo.setCurrentIndex(SHARDINGS.index("fsdp"))
        self.sharding_combo.setToolTip(field_help("sharding"))
        form.addRow("GPUs", self.gpu_count)
        form.addRow("Sharding", self.sharding_combo)
        self.price_spin = QDoubleSpinBox()
        self.price_spin.setRange(0, 1000)
        self.price_spin.setDecimals(2)
        self.price_spin.setPrefix("$ ")
        self.price_spin.setSuffix(" per GPU-hour")
        self.price_spin.setToolTip(
            "What one GPU-hour costs you; your price is saved for this GPU (0 for a card you own)"
        )
        form.addRow("&Price", self.price_spin)
        self.gpu_label = QLabel()
        self.gpu_label.setWordWrap(True)
        self.gpu_label.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.gpu_label)
        return box

    def _training_box(self) -> QGroupBox:
        box = QGroupBox("Training")
        form = QFormLayout(box)
        self.show_combo = QComboBox()
        for name in SHOW_CHOICES:
            self.show_combo.addItem(
                "the recommended one" if name == "auto" else METHOD_TITLES[name], name
            )
        self.show_combo.setToolTip(
            "Which method the memory bar and the details show; the table compares all three. "
            + field_help("method")
        )
        form.addRow("M&ethod shown", self.show_combo)
        self.precision_combo = QComboBox()
        self.precision_combo.addItems(PRECISIONS)
        self.precision_combo.setToolTip(field_help("precision"))
        form.addRow("Precision", self.precision_combo)
        self.optimizer_combo = QComboBox()
        for name, spec in OPTIMIZERS.items():
            self.optimizer_combo.addItem(name, name)
            self.optimizer_combo.setItemData(
                self.optimizer_combo.count() - 1, spec.help, Qt.ItemDataRole.ToolTipRole
            )
        self.optimizer_combo.setCurrentText(DEFAULTS.optimizer)
        self.optimizer_combo.setToolTip(field_help("optimizer"))
        form.addRow("&Optimizer", self.optimizer_combo)
        self.batch_spin = _spin(1, 1024, DEFAULTS.micro_batch_size)
        self.batch_spin.setToolTip(field_help("micro_batch_size"))
        form.addRow("Micro &batch", self.batch_spin)
        self.accum_spin = _spin(1, 4096, DEFAULTS.gradient_accumulation)
        self.accum_spin.setToolTip(field_help("gradient_accumulation"))
        form.addRow("Accumulation", self.accum_spin)
        self.seq_spin = _spin(64, 262144, DEFAULTS.max_seq_length, step=256, suffix=" tokens")
        self.seq_spin.setToolTip(field_help("max_seq_length"))
        form.addRow("&Sequence length", self.seq_spin)
        self.packing_check = QCheckBox("Pack examples into full sequences")
        self.packing_check.setChecked(DEFAULTS.packing)
        self.packing_check.setToolTip(field_help("packing"))
        form.addRow(self.packing_check)
        self.checkpointing_check = QCheckBox("Gradient checkpointing")
        self.checkpointing_check.setChecked(DEFAULTS.gradient_checkpointing)
        self.checkpointing_check.setToolTip(field_help("gradient_checkpointing"))
        form.addRow(self.checkpointing_check)
        return box

    def _lora_box(self) -> QGroupBox:
        box = QGroupBox("LoRA and QLoRA")
        form = QFormLayout(box)
        self.rank_spin = _spin(1, 1024, DEFAULTS.lora_r)
        self.rank_spin.setToolTip(field_help("lora_r"))
        form.addRow("&Rank r", self.rank_spin)
        self.targets_combo = QComboBox()
        self.targets_combo.setEditable(True)
        self.targets_combo.addItems(TARGET_PRESETS)
        self.targets_combo.setToolTip(field_help("lora_target_modules"))
        form.addRow("&Targets", self.targets_combo)
        self.dropout_spin = QDoubleSpinBox()
        self.dropout_spin.setRange(0, 0.9)
        self.dropout_spin.setSingleStep(0.05)
        self.dropout_spin.setValue(DEFAULTS.lora_dropout)
        self.dropout_spin.setToolTip(field_help("lora_dropout"))
        form.addRow("Dropout", self.dropout_spin)
        self.double_quant_check = QCheckBox("Double quantization (QLoRA)")
        self.double_quant_check.setChecked(DEFAULTS.double_quant)
        self.double_quant_check.setToolTip(field_help("double_quant"))
        form.addRow(self.double_quant_check)
        return box

    def _data_box(self) -> QGroupBox:
        box = QGroupBox("Data and task")
        form = QFormLayout(box)
        self.examples_spin = _spin(1, 100_000_000, DEFAULTS.examples)
        self.examples_spin.setToolTip(field_help("examples"))
        form.addRow("E&xamples", self.examples_spin)
        self.avg_spin = _spin(1, 262144, DEFAULTS.avg_tokens, suffix=" tokens")
        self.avg_spin.setToolTip(field_help("avg_tokens"))
        form.addRow("Average length", self.avg_spin)
        self.epochs_spin = QDoubleSpinBox()
        self.epochs_spin.setRange(0.1, 100)
        self.epochs_spin.setDecimals(1)
        self.epochs_spin.setValue(DEFAULTS.epochs)
        self.epochs_spin.setToolTip(field_help("epochs"))
        form.addRow("Epochs", self.epochs_spin)
        self.dataset_button = QPushButton("Use the current dataset's tokens")
        self.dataset_button.setToolTip(
            "Count the tokens of the project's latest dataset version (training split) and use "
            "them instead of examples x average length"
        )
        form.addRow(self.dataset_button)
        self.dataset_progress = QProgressBar()
        self.dataset_progress.setRange(0, 100)
        self.dataset_progress.hide()
        form.addRow(self.dataset_progress)
        self.dataset_label = QLabel("Using examples x average length.")
        self.dataset_label.setWordWrap(True)
        self.dataset_label.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.dataset_label)
        self.task_combo = QComboBox()
        for kind in (None, *TASK_KINDS):
            self.task_combo.addItem(TASK_TITLES[kind], kind)
        self.task_combo.setToolTip(
            "What fine-tuning should teach (the Decide page fills this in). Full fine-tuning "
            "is only recommended for new reasoning patterns with 2,000+ examples."
        )
        form.addRow("T&ask", self.task_combo)
        self.keep_broad_check = QCheckBox("Must keep its general skills")
        self.keep_broad_check.setToolTip(
            "Full fine-tuning risks catastrophic forgetting; with this checked it is never picked"
        )
        form.addRow(self.keep_broad_check)
        return box
