"""The Estimate page's settings: model and GPU, the recipe (the Train page's own generated
form: method, memory, training and LoRA groups), and the data and task.

The recipe's fields show TrainConfig's help as tooltips; the GPU and data controls show
the help of the estimator's small types (Cluster, DataFacts). The page re-runs the
estimate on every change.
"""

from __future__ import annotations

import dataclasses
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

from core.estimate.recommend import TASK_KINDS
from core.estimate.run import SHARDING_TITLES, SHARDINGS, Cluster, DataFacts
from core.estimate.settings import OPTIMIZER_STATE
from core.recipe.vocabularies import MAX_SEQ_LENGTH
from desktop.training.config_form import ConfigForm

DATA_DEFAULTS = DataFacts()
# The Train form's groups that decide memory, time and cost; the fields that do not (the
# learning rate, the schedule ...) stay in the recipe unshown and come back unchanged.
RECIPE_GROUPS = ("Method", "Memory", "Training", "LoRA")
NOT_ESTIMATED = frozenset(
    {
        "device",
        "cpu_threads",
        "quant_type",
        "learning_rate",
        "lr_scheduler",
        "warmup_ratio",
        "weight_decay",
        "max_grad_norm",
        "seed",
        "lora_alpha",
        "lora_bias",
    }
)
FORM_WIDTH = 400
TASK_TITLES = {
    None: "not answered",
    "format": "format or style",
    "domain": "domain adaptation",
    "reasoning": "new reasoning patterns",
}


def _help(kind, name: str) -> str:
    """The help text of one field of a small estimator type (DataFacts, Cluster)."""
    return next(f.metadata["help"] for f in dataclasses.fields(kind) if f.name == name)


def _narrowable(combo: QComboBox) -> None:
    """Let a drop-down with long entries narrow in a small window: the longest entry set
    the whole form's narrowest width (the open list still shows entries whole)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)


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
        self.recipe = self._recipe_form()
        column.addWidget(self.recipe.widget)
        column.addWidget(self._data_box())
        column.addStretch(1)
        # 400 px when the window has room; in a small window the form gives way down to
        # what its fields need, so the results keep room for the methods' names.
        self.setMaximumWidth(FORM_WIDTH)

    def _model_box(self, make_model_picker: Callable[[], QWidget]) -> QGroupBox:
        # The group's title is the combo's label (Alt+M focuses it): a "Model" label inside
        # a "Model" group said the same word twice.
        box = QGroupBox("&Model")
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
        form.addRow(row)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.model_label)
        return box

    def _gpu_box(self) -> QGroupBox:
        box = QGroupBox("Hardware")
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
        self.gpu_count.setToolTip(_help(Cluster, "num_gpus"))
        self.sharding_combo = QComboBox()
        for name in SHARDINGS:
            self.sharding_combo.addItem(SHARDING_TITLES[name], name)
        self.sharding_combo.setCurrentIndex(SHARDINGS.index("fsdp"))
        _narrowable(self.sharding_combo)
        self.sharding_combo.setToolTip(_help(Cluster, "sharding"))
        form.addRow("Number of GPUs", self.gpu_count)
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

    def _recipe_form(self) -> ConfigForm:
        """The Train page's own form (the same TrainConfig fields, labels, help and
        checks), showing what decides memory, time and cost."""
        form = ConfigForm(self, groups=RECIPE_GROUPS, skip=NOT_ESTIMATED, folded=())
        optimizer = form.editors["optimizer"].editor
        for index in range(optimizer.count()):
            spec = OPTIMIZER_STATE.get(optimizer.itemText(index))
            if spec is not None:
                optimizer.setItemData(index, spec.help, Qt.ItemDataRole.ToolTipRole)
        for name in ("optimizer", "lora_target_modules"):
            _narrowable(form.editors[name].editor)
        return form

    def _data_box(self) -> QGroupBox:
        box = QGroupBox("Data and task")
        form = QFormLayout(box)
        self.examples_spin = _spin(1, 100_000_000, DATA_DEFAULTS.examples)
        self.examples_spin.setToolTip(_help(DataFacts, "examples"))
        form.addRow("E&xamples", self.examples_spin)
        self.avg_spin = _spin(1, MAX_SEQ_LENGTH, DATA_DEFAULTS.avg_tokens, suffix=" tokens")
        self.avg_spin.setToolTip(_help(DataFacts, "avg_tokens"))
        form.addRow("Average length", self.avg_spin)
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
        _narrowable(self.task_combo)
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
