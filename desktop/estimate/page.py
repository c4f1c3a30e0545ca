"""The Estimate page: will it fit, how long, what will it cost, and which method to use.

Every control maps to a RunSettings field (its tooltip is the field's help text); any
change re-runs the pure-Python estimator at once (well under a millisecond), so the bar,
the table and the pick follow the settings live. Slow work (counting the dataset's
tokens) runs in a BackgroundTask.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.estimate import (
    OPTIMIZERS,
    ArchitectureError,
    Goals,
    GpuCatalogError,
    GpuSpec,
    ModelArchitecture,
    Recommendation,
    RunSettings,
    catalog_names,
    detected_gpu,
    gpu_catalog,
    load_architecture,
    recommend,
    save_user_gpu,
)
from core.estimate.dataset_tokens import (
    DatasetTokens,
    project_dataset_tokens,
)
from core.estimate.recommend import TASK_KINDS
from core.estimate.settings import (
    PRECISIONS,
    SHARDING_TITLES,
    SHARDINGS,
    field_help,
    targets_from_text,
)
from core.handoff import DecisionForEstimate, TrainConfigForEstimate
from core.methods import METHOD_NAMES, METHOD_TITLES
from core.models.bundled import BUNDLED_MODEL_NAME
from core.models.registry import list_base_models
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.estimate.gpu_dialog import AddGpuDialog
from desktop.estimate.results_view import EstimateResults
from desktop.models.picker import model_picker_button
from desktop.settings import app_settings

DEFAULT_MODEL = "Llama-3.1-8B"
DEFAULT_GPU = "RTX 4090"
DEFAULTS = RunSettings()
TARGET_PRESETS = ("all-linear", "q_proj,k_proj,v_proj,o_proj", "q_proj,v_proj")
TASK_TITLES = {
    None: "not answered",
    "format": "format or style",
    "domain": "domain adaptation",
    "reasoning": "new reasoning patterns",
}
SHOW_CHOICES = ("auto", *METHOD_NAMES)
SETTINGS_KEY = "estimate/"


def create_page(context: AppContext) -> QWidget:
    return EstimatePage(context)


def _spin(low: int, high: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setGroupSeparatorShown(True)
    return box


class EstimatePage(QScrollArea):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self._models: dict[str, ModelArchitecture] = {}
        self._dataset_tokens: DatasetTokens | None = None
        self._task: BackgroundTask | None = None
        self._updating = True
        self.recommendation: Recommendation | None = None
        self.last_recompute_ms = 0.0
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)

        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(24, 18, 24, 18)
        outer.setSpacing(10)
        title = QLabel("Estimate")
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        subtitle = QLabel(
            "Peak GPU memory, training time and cost of full fine-tuning, LoRA and QLoRA, "
            "before you spend them. Everything updates as you change a setting."
        )
        subtitle.setWordWrap(True)
        subtitle.setStyleSheet("color: palette(placeholder-text);")
        outer.addWidget(title)
        outer.addWidget(subtitle)

        columns = QHBoxLayout()
        columns.setSpacing(18)
        settings_column = QVBoxLayout()
        settings_column.setSpacing(10)
        settings_column.addWidget(self._model_box())
        settings_column.addWidget(self._gpu_box())
        settings_column.addWidget(self._training_box())
        settings_column.addWidget(self._lora_box())
        settings_column.addWidget(self._data_box())
        settings_column.addStretch(1)
        left = QWidget()
        left.setLayout(settings_column)
        left.setFixedWidth(370)
        columns.addWidget(left, 0, Qt.AlignmentFlag.AlignTop)
        self.results = EstimateResults()
        self.results.copy_requested.connect(self.copy_summary)
        self.results.train_requested.connect(self.train_with_these_settings)
        self.results.method_clicked.connect(self._show_method)
        columns.addWidget(self.results, 1)
        outer.addLayout(columns)
        self.setWidget(body)

        self._fill_models()
        self._fill_gpus()
        self._restore_choices()
        self._connect_live_updates()
        QShortcut(QKeySequence("Ctrl+Shift+C"), self, activated=self.copy_summary)
        context.project_changed.connect(self.set_project)
        self._updating = False
        self.recompute()

    # Building ------------------------------------------------------------------
    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip(
            "A catalog architecture (nothing is downloaded), the bundled model, or one of the "
            "project's local model folders"
        )
        open_button = QPushButton("Open…")
        open_button.setToolTip("Estimate a Hugging Face model folder or a config.json file")
        open_button.clicked.connect(self._open_model_dialog)
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(open_button)
        row.addWidget(
            model_picker_button(
                self, lambda: self.context.project, self._model_picked, config_only=True
            )
        )
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
        add_button = QPushButton("Add…")
        add_button.setToolTip("Add a GPU that is not in the catalog")
        add_button.clicked.connect(self._add_gpu_dialog)
        row = QHBoxLayout()
        row.addWidget(self.gpu_combo, 1)
        row.addWidget(add_button)
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
        self.price_spin.editingFinished.connect(self._price_edited)
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
        self.dataset_button.clicked.connect(self.count_dataset_tokens)
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

    # Choices -------------------------------------------------------------------
    def _fill_models(self) -> None:
        current = self.model_combo.currentData()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for model in list_base_models(self.context.project, hub_cache=True):
            if model.source == "bundled":
                self.model_combo.addItem(f"{model.name} (bundled)", f"catalog:{BUNDLED_MODEL_NAME}")
            elif model.source == "hub":
                key = f"path:{model.path}"
                self.model_combo.addItem(f"{model.name} (Hugging Face cache)", key)
                try:  # the cache's folder is named for a commit: show the Hub id
                    arch = load_architecture(model.path)
                    self._models[key] = dataclasses.replace(arch, name=model.name)
                except ArchitectureError:
                    pass
            elif model.path is not None:
                self.model_combo.addItem(f"{model.name} (local folder)", f"path:{model.path}")
        self.model_combo.insertSeparator(self.model_combo.count())
        for name in catalog_names():
            if name != BUNDLED_MODEL_NAME:
                self.model_combo.addItem(name, f"catalog:{name}")
        index = self.model_combo.findData(current) if current else -1
        self.model_combo.setCurrentIndex(max(0, index))
        self.model_combo.blockSignals(False)

    def _fill_gpus(self, select: str | None = None) -> None:
        current = select or self.gpu_combo.currentData()
        self.gpu_combo.blockSignals(True)
        self.gpu_combo.clear()
        detected = detected_gpu(self.context.hardware)
        if detected is not None:
            self.gpu_combo.addItem(
                f"{detected.name} (detected, {detected.memory_gib:.1f} GiB)", "detected"
            )
            self.gpu_combo.insertSeparator(1)
        for spec in gpu_catalog().values():
            marker = " ✎" if spec.source == "user" else ""
            self.gpu_combo.addItem(f"{spec.name} ({spec.memory_gib:.0f} GiB){marker}", spec.name)
        index = self.gpu_combo.findData(current) if current else -1
        if index < 0:
            index = 0 if detected is not None else self.gpu_combo.findData(DEFAULT_GPU)
        self.gpu_combo.setCurrentIndex(max(0, index))
        self.gpu_combo.blockSignals(False)

    def _restore_choices(self) -> None:
        settings = app_settings()
        model = settings.value(SETTINGS_KEY + "model", f"catalog:{DEFAULT_MODEL}")
        index = self.model_combo.findData(model)
        if index < 0:
            index = self.model_combo.findData(f"catalog:{DEFAULT_MODEL}")
        self.model_combo.setCurrentIndex(max(0, index))
        if detected_gpu(self.context.hardware) is None:
            gpu = settings.value(SETTINGS_KEY + "gpu", DEFAULT_GPU)
            index = self.gpu_combo.findData(gpu)
            if index >= 0:
                self.gpu_combo.setCurrentIndex(index)

    def _connect_live_updates(self) -> None:
        for combo in (
            self.model_combo,
            self.gpu_combo,
            self.sharding_combo,
            self.show_combo,
            self.precision_combo,
            self.optimizer_combo,
            self.task_combo,
        ):
            combo.currentIndexChanged.connect(self.recompute)
        self.targets_combo.currentTextChanged.connect(self.recompute)
        for spin in (
            self.gpu_count,
            self.batch_spin,
            self.accum_spin,
            self.seq_spin,
            self.rank_spin,
            self.dropout_spin,
            self.epochs_spin,
        ):
            spin.valueChanged.connect(self.recompute)
        for spin in (self.examples_spin, self.avg_spin):
            spin.valueChanged.connect(self._data_edited)
        for check in (
            self.packing_check,
            self.checkpointing_check,
            self.double_quant_check,
            self.keep_broad_check,
        ):
            check.toggled.connect(self.recompute)
        self.model_combo.currentIndexChanged.connect(self._remember_choices)
        self.gpu_combo.currentIndexChanged.connect(self._remember_choices)

    def _remember_choices(self) -> None:
        settings = app_settings()
        settings.setValue(SETTINGS_KEY + "model", self.model_combo.currentData())
        if self.gpu_combo.currentData() != "detected":
            settings.setValue(SETTINGS_KEY + "gpu", self.gpu_combo.currentData())

    # Reading the controls ---------------------------------------------------------
    def current_model(self) -> ModelArchitecture:
        key = self.model_combo.currentData() or f"catalog:{DEFAULT_MODEL}"
        if key not in self._models:
            _kind, _, value = key.partition(":")
            self._models[key] = load_architecture(value)
        return self._models[key]

    def current_gpu(self) -> GpuSpec:
        key = self.gpu_combo.currentData()
        if key == "detected":
            detected = detected_gpu(self.context.hardware)
            if detected is not None:
                return detected
        catalog = gpu_catalog()
        return catalog.get(key) or catalog[DEFAULT_GPU]

    def current_settings(self) -> RunSettings:
        gpus = self.gpu_count.value()
        tokens = self._dataset_tokens
        return RunSettings(
            method="qlora",
            precision=self.precision_combo.currentText(),
            optimizer=self.optimizer_combo.currentData(),
            micro_batch_size=self.batch_spin.value(),
            gradient_accumulation=self.accum_spin.value(),
            max_seq_length=self.seq_spin.value(),
            packing=self.packing_check.isChecked(),
            gradient_checkpointing=self.checkpointing_check.isChecked(),
            lora_r=self.rank_spin.value(),
            lora_target_modules=targets_from_text(self.targets_combo.currentText()),
            lora_dropout=round(self.dropout_spin.value(), 3),
            double_quant=self.double_quant_check.isChecked(),
            num_gpus=gpus,
            sharding=self.sharding_combo.currentData() if gpus > 1 else "none",
            examples=self.examples_spin.value(),
            avg_tokens=self.avg_spin.value(),
            epochs=round(self.epochs_spin.value(), 2),
            dataset_tokens=tokens.total_tokens if tokens else None,
        )

    def current_goals(self) -> Goals:
        return Goals(
            task_kind=self.task_combo.currentData(),
            examples=self.examples_spin.value(),
            keep_broad_capabilities=self.keep_broad_check.isChecked(),
        )

    # Live estimate -----------------------------------------------------------------
    def recompute(self, *_args) -> None:
        if self._updating:
            return
        started = time.perf_counter()
        self.sharding_combo.setEnabled(self.gpu_count.value() > 1)
        gpu = self.current_gpu()
        self.price_spin.blockSignals(True)
        self.price_spin.setValue(gpu.price_per_hour)
        self.price_spin.blockSignals(False)
        self.gpu_label.setText(self._gpu_text(gpu))
        try:
            model = self.current_model()
            self.model_label.setText(model.describe())
            rec = recommend(
                model,
                self.current_settings(),
                gpu,
                self.current_goals(),
                method=self.show_combo.currentData(),
            )
        except (ArchitectureError, GpuCatalogError, ValueError) as error:
            self._show_error(str(error))
            self.last_recompute_ms = (time.perf_counter() - started) * 1000
            return
        self.recommendation = rec
        self.results.show_recommendation(rec)
        self.last_recompute_ms = (time.perf_counter() - started) * 1000

    def _gpu_text(self, gpu: GpuSpec) -> str:
        text = f"{gpu.tflops:g} TFLOP/s 16-bit, {'bf16' if gpu.bf16 else 'no bf16 (fp16 only)'}"
        if self.context.hardware.gpus:
            return text
        return text + ". No GPU was detected on this machine: estimating for the one chosen."

    def _show_error(self, message: str) -> None:
        self.recommendation = None
        self.results.show_error(message)

    def _show_method(self, method: str) -> None:
        index = self.show_combo.findData(method)
        if index >= 0:
            self.show_combo.setCurrentIndex(index)

    # Data --------------------------------------------------------------------------
    def _data_edited(self) -> None:
        if self._updating:
            return
        if self._dataset_tokens is not None:
            self._dataset_tokens = None
            self.dataset_label.setText("Using examples x average length.")
        self.recompute()

    def apply_dataset_tokens(self, tokens: DatasetTokens) -> None:
        """Use a dataset's counts; editing examples or length by hand goes back to them."""
        self._updating = True
        self.examples_spin.setValue(tokens.examples)
        self.avg_spin.setValue(tokens.avg_tokens)
        self._updating = False
        self._dataset_tokens = tokens
        self.dataset_label.setText(
            f"From {tokens.label}: {tokens.examples:,} examples, {tokens.total_tokens:,} tokens "
            f"(longest {tokens.max_tokens:,}; counted with {tokens.counted_with})."
        )
        if tokens.max_tokens > self.seq_spin.value():
            self.dataset_label.setText(
                self.dataset_label.text()
                + f" Examples longer than {self.seq_spin.value():,} tokens will be truncated."
            )
        self.recompute()

    def _tokenizer_source(self):
        key = self.model_combo.currentData() or ""
        if key.startswith("path:"):
            folder = Path(key[5:])
            return folder if folder.is_dir() else None
        return None

    def count_dataset_tokens(self) -> None:
        if self._task is not None:
            return
        project = self.context.project
        source = self._tokenizer_source()
        self.dataset_button.setEnabled(False)
        self.dataset_progress.setValue(0)
        self.dataset_progress.show()
        self._task = BackgroundTask(
            lambda report, cancelled: project_dataset_tokens(project, source, report, cancelled),
            self,
        )
        self._task.progress.connect(
            lambda fraction, _m: self.dataset_progress.setValue(int(fraction * 100))
        )
        self._task.succeeded.connect(self.apply_dataset_tokens)
        self._task.failed.connect(self._dataset_failed)
        self._task.finished.connect(self._dataset_done)
        self._task.start()

    def _dataset_failed(self, message: str) -> None:
        text = (
            message.split(": ", 1)[1] if message.startswith("DatasetTokensUnavailable") else message
        )
        self.dataset_label.setText(text)

    def _dataset_done(self) -> None:
        self._task = None
        self.dataset_button.setEnabled(True)
        self.dataset_progress.hide()

    # Model folders and GPUs ----------------------------------------------------------
    def _model_picked(self, model) -> None:
        """A model taken in the picker (perhaps just downloaded) becomes the estimated one."""
        if model.source == "catalog":  # a Hub id the catalog knows: nothing was fetched
            key = f"catalog:{model.name}"
        elif model.source == "bundled" or model.path is None:
            key = f"catalog:{BUNDLED_MODEL_NAME}"
        else:
            self._fill_models()
            key = f"path:{model.path}"
            if self.model_combo.findData(key) < 0:  # config.json fetched alone, no weights
                try:
                    arch = load_architecture(model.path)
                except ArchitectureError as error:
                    self._show_error(str(error))
                    return
                self._models[key] = dataclasses.replace(arch, name=model.name)
                self.model_combo.addItem(f"{model.name} (config only)", key)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(key)))

    def _open_model_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a Hugging Face model folder")
        if folder:
            self.use_model_path(folder)

    def use_model_path(self, path: str | Path) -> str | None:
        """Estimate a folder or config.json; returns what went wrong, or None."""
        try:
            model = load_architecture(path)
        except ArchitectureError as error:
            self._show_error(str(error))
            return str(error)
        key = f"path:{Path(path).expanduser()}"
        self._models[key] = model
        index = self.model_combo.findData(key)
        if index < 0:
            self.model_combo.addItem(f"{model.name} ({Path(path).name})", key)
            index = self.model_combo.count() - 1
        self.model_combo.setCurrentIndex(index)
        self.recompute()
        return None

    def _price_edited(self) -> None:
        gpu = self.current_gpu()
        price = round(self.price_spin.value(), 2)
        if abs(price - gpu.price_per_hour) < 0.005:
            return
        self.set_gpu_price(gpu, price)

    def set_gpu_price(self, gpu: GpuSpec, price: float) -> None:
        fields = {"price_per_hour": price}
        if gpu.name not in gpu_catalog():  # a detected card the catalog does not know
            fields.update(memory_gib=gpu.memory_gib, tflops=gpu.tflops, bf16=gpu.bf16)
        save_user_gpu(gpu.name, **fields)
        self._fill_gpus()
        self.context.show_status(f"Saved ${price:.2f}/GPU-hour for {gpu.name}")
        self.recompute()

    def add_gpu(self, name: str, memory_gib: float, tflops: float, price: float) -> str | None:
        """Add a GPU to the user's catalog and select it; returns what went wrong, or None."""
        try:
            spec = save_user_gpu(
                name, memory_gib=memory_gib, tflops=tflops, price_per_hour=price, bf16=True
            )
        except GpuCatalogError as error:
            return str(error)
        self._fill_gpus(select=spec.name)
        self.recompute()
        return None

    def _add_gpu_dialog(self) -> None:
        AddGpuDialog(self.add_gpu, self).open()

    # Navigation and project ------------------------------------------------------------
    def receive(self, handoff) -> None:
        """The Decide wizard's answers or the Train page's settings, into the form."""
        if isinstance(handoff, DecisionForEstimate):
            self._updating = True
            self._receive_decision(handoff)
            self._updating = False
            self.recompute()
            self.context.show_status(
                f"From Decide: {TASK_TITLES.get(handoff.task_kind, 'task')}, "
                f"{self.examples_spin.value():,} examples, LoRA r {self.rank_spin.value()}"
            )
        elif isinstance(handoff, TrainConfigForEstimate):
            self._updating = True
            self._receive_train_config(handoff.train_config)
            self._updating = False
            self.recompute()

    def _receive_decision(self, decision: DecisionForEstimate) -> None:
        if decision.examples is not None and decision.examples > 0:
            self.examples_spin.setValue(decision.examples)
            self._dataset_tokens = None
            self.dataset_label.setText("Using examples x average length.")
        if decision.lora_r is not None and decision.lora_r > 0:
            self.rank_spin.setValue(decision.lora_r)
        if decision.task_kind in TASK_KINDS:
            self.task_combo.setCurrentIndex(self.task_combo.findData(decision.task_kind))
        self.keep_broad_check.setChecked(decision.keep_broad_capabilities)

    def _receive_train_config(self, values: dict) -> None:
        """The Train page's settings (TrainConfig.as_dict()) into the form, through the one
        TrainConfig -> RunSettings mapping."""
        from core.estimate.from_train_config import run_settings_from_train_config
        from core.training.config import config_from_dict

        try:
            settings = run_settings_from_train_config(config_from_dict(values, "Train page"))
        except ValueError as error:
            self.context.show_status(f"Could not take the Train page's settings: {error}")
            return
        self.show_combo.setCurrentIndex(max(0, self.show_combo.findData(settings.method)))
        self.precision_combo.setCurrentText(settings.precision)
        self.optimizer_combo.setCurrentText(settings.optimizer)
        self.batch_spin.setValue(settings.micro_batch_size)
        self.accum_spin.setValue(settings.gradient_accumulation)
        self.seq_spin.setValue(settings.max_seq_length)
        self.packing_check.setChecked(settings.packing)
        self.checkpointing_check.setChecked(settings.gradient_checkpointing)
        self.rank_spin.setValue(settings.lora_r)
        self.targets_combo.setCurrentText(",".join(settings.lora_target_modules))
        self.dropout_spin.setValue(settings.lora_dropout)
        self.double_quant_check.setChecked(settings.double_quant)
        self.epochs_spin.setValue(settings.epochs)

    def set_project(self, _project) -> None:
        self._dataset_tokens = None
        self.dataset_label.setText("Using examples x average length.")
        self._fill_models()
        self.recompute()

    def summary_text(self) -> str:
        """The pick and the table as plain text (copied with Ctrl+Shift+C)."""
        if self.recommendation is None:
            return self.results.error_label.text()
        from core.estimate.report import recommendation_text

        return recommendation_text(self.recommendation)

    def train_settings(self) -> dict | None:
        """The shown estimate's settings as Train page fields (None without an estimate)."""
        if self.recommendation is None:
            return None
        from core.estimate.from_train_config import train_settings_from_run_settings

        return train_settings_from_run_settings(self.recommendation.chosen.settings)

    def train_with_these_settings(self) -> None:
        settings = self.train_settings()
        if settings is not None:
            self.context.navigate("training", {**settings, "source": "estimate"})

    def copy_summary(self) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.clipboard().setText(self.summary_text())
        self.context.show_status("Estimate copied to the clipboard")

    def can_close(self) -> bool:
        if self._task is not None:
            self._task.cancel()
            self._task.wait(5000)
        return True
