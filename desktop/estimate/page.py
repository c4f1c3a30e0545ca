"""The Estimate page: will it fit, how long, what will it cost, and which method to use.

Its settings are the recipe (TrainConfig, in the Train page's generated form) beside the
GPU and the data; any change re-runs the pure-Python estimator at once (well under a
millisecond), so the bar, the table and the pick follow the settings live. A recipe from
the Train page comes back to it exactly as it came, base model included. Slow work
(counting the dataset's tokens) runs in a BackgroundTask.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.estimate import (
    ArchitectureError,
    Cluster,
    DataFacts,
    EstimateRun,
    Goals,
    GpuCatalogError,
    GpuSpec,
    ModelArchitecture,
    Recommendation,
    catalog_names,
    detected_gpu,
    gpu_catalog,
    load_architecture,
    recommend,
    save_user_gpu,
)
from core.estimate.capacity import capacity_text
from core.estimate.cpu_ram import this_cpu_label, this_machine_ram
from core.estimate.dataset_tokens import (
    DatasetTokens,
    project_dataset_tokens,
)
from core.estimate.recommend import TASK_KINDS
from core.estimate.report import recommendation_text
from core.estimate.summary import DataSeen, EstimateSummary, summarize_ram
from core.figures import money_text
from core.handoff import DecisionForEstimate, SettingsForTrain, TrainConfigForEstimate
from core.models.bundled import BUNDLED_MODEL_NAME
from core.models.registry import list_base_models
from core.recipe.config import TrainConfigError, config_from_dict, field_label
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.estimate.form import TASK_TITLES, EstimateForm
from desktop.estimate.gpu_dialog import AddGpuDialog
from desktop.estimate.results_view import EstimateResults
from desktop.models.picker import model_picker_button
from desktop.settings import app_settings

DEFAULT_MODEL = "Llama-3.1-8B"
DEFAULT_GPU = "RTX 4090"
CPU_CHOICE = "cpu"  # the GPU box's entry for training on this machine's CPU
SETTINGS_KEY = "estimate/"


def create_page(context: AppContext) -> QWidget:
    return EstimatePage(context)


class EstimatePage(QScrollArea):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self._models: dict[str, ModelArchitecture] = {}
        self._dataset_tokens: DatasetTokens | None = None
        self._task: BackgroundTask | None = None
        # The model combo's keys of the models the trainer can use -> their base_model name.
        self._base_models: dict[str, str] = {}
        # The recipe fields this page stands for: all of them once the Train page has
        # handed over its recipe; before that only those shown here (and a base model
        # chosen here), so that "Train with these settings" never resets the Train page's
        # data, run name or learning rate to defaults it was never shown.
        self._whole_recipe = False
        self._base_model_chosen = False
        self._updating = True
        self.recommendation: Recommendation | None = None
        self.cpu_summary: EstimateSummary | None = None  # "This computer's CPU" chosen
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
        self.form = EstimateForm(
            lambda: model_picker_button(
                self, lambda: self.context.project, self._model_picked, config_only=True
            )
        )
        self.form.open_button.clicked.connect(self._open_model_dialog)
        self.form.add_gpu_button.clicked.connect(self._add_gpu_dialog)
        self.form.price_spin.editingFinished.connect(self._price_edited)
        self.form.dataset_button.clicked.connect(self.count_dataset_tokens)
        # The form is 400 px wide at most and gives way first in a small window (stretch
        # 2 : 3); aligned to the top it kept its 400 px and squeezed the methods table.
        columns.addWidget(self.form, 2)
        self.results = EstimateResults()
        self.results.copy_requested.connect(self.copy_summary)
        self.results.train_requested.connect(self.train_with_these_settings)
        self.results.method_clicked.connect(self._show_method)
        columns.addWidget(self.results, 3)
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

    # Choices -------------------------------------------------------------------
    def _fill_models(self) -> None:
        current = self.form.model_combo.currentData()
        self.form.model_combo.blockSignals(True)
        self.form.model_combo.clear()
        self._base_models = {}
        for model in list_base_models(self.context.project, hub_cache=True):
            if model.source == "bundled":
                self.form.model_combo.addItem(
                    f"{model.name} (bundled)", f"catalog:{BUNDLED_MODEL_NAME}"
                )
                self._base_models[f"catalog:{BUNDLED_MODEL_NAME}"] = model.name
            elif model.source == "hub":
                key = f"path:{model.path}"
                self._base_models[key] = model.name
                self.form.model_combo.addItem(f"{model.name} (Hugging Face cache)", key)
                try:  # the cache's folder is named for a commit: show the Hub id
                    arch = load_architecture(model.path)
                    self._models[key] = dataclasses.replace(arch, name=model.name)
                except ArchitectureError:
                    pass
            elif model.path is not None:
                self.form.model_combo.addItem(f"{model.name} (local folder)", f"path:{model.path}")
                self._base_models[f"path:{model.path}"] = model.name
        self.form.model_combo.insertSeparator(self.form.model_combo.count())
        for name in catalog_names():
            if name != BUNDLED_MODEL_NAME:
                self.form.model_combo.addItem(name, f"catalog:{name}")
        index = self.form.model_combo.findData(current) if current else -1
        self.form.model_combo.setCurrentIndex(max(0, index))
        self.form.model_combo.blockSignals(False)

    def _fill_gpus(self, select: str | None = None) -> None:
        current = select or self.form.gpu_combo.currentData()
        self.form.gpu_combo.blockSignals(True)
        self.form.gpu_combo.clear()
        detected = detected_gpu(self.context.hardware)
        if detected is not None:
            self.form.gpu_combo.addItem(
                f"{detected.name} (detected, {detected.memory_gib:.1f} GiB)", "detected"
            )
            self.form.gpu_combo.insertSeparator(1)
        # Training here without a GPU: RAM instead of GPU memory (core.estimate.cpu_ram).
        self.form.gpu_combo.addItem(
            this_cpu_label(self.context.hardware.cpu_cores, this_machine_ram()[1]), CPU_CHOICE
        )
        self.form.gpu_combo.setItemData(
            self.form.gpu_combo.count() - 1,
            "Train on this machine's CPU: the estimate is the RAM the run needs",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.form.gpu_combo.insertSeparator(self.form.gpu_combo.count())
        for spec in gpu_catalog().values():
            marker = " ✎" if spec.source == "user" else ""
            self.form.gpu_combo.addItem(
                f"{spec.name} ({spec.memory_gib:.0f} GiB){marker}", spec.name
            )
        index = self.form.gpu_combo.findData(current) if current else -1
        if index < 0:
            index = 0 if detected is not None else self.form.gpu_combo.findData(DEFAULT_GPU)
        self.form.gpu_combo.setCurrentIndex(max(0, index))
        self.form.gpu_combo.blockSignals(False)

    def _restore_choices(self) -> None:
        settings = app_settings()
        model = settings.value(SETTINGS_KEY + "model", f"catalog:{DEFAULT_MODEL}")
        index = self.form.model_combo.findData(model)
        if index < 0:
            index = self.form.model_combo.findData(f"catalog:{DEFAULT_MODEL}")
        self.form.model_combo.setCurrentIndex(max(0, index))
        if detected_gpu(self.context.hardware) is None:
            gpu = settings.value(SETTINGS_KEY + "gpu", DEFAULT_GPU)
            index = self.form.gpu_combo.findData(gpu)
            if index >= 0:
                self.form.gpu_combo.setCurrentIndex(index)

    def _connect_live_updates(self) -> None:
        for combo in (
            self.form.model_combo,
            self.form.gpu_combo,
            self.form.sharding_combo,
            self.form.task_combo,
        ):
            combo.currentIndexChanged.connect(self.recompute)
        self.form.recipe.changed.connect(self.recompute)
        self.form.gpu_count.valueChanged.connect(self.recompute)
        for spin in (self.form.examples_spin, self.form.avg_spin):
            spin.valueChanged.connect(self._data_edited)
        self.form.keep_broad_check.toggled.connect(self.recompute)
        self.form.model_combo.currentIndexChanged.connect(self._model_chosen)
        self.form.model_combo.currentIndexChanged.connect(self._remember_choices)
        self.form.gpu_combo.currentIndexChanged.connect(self._remember_choices)

    def _model_chosen(self) -> None:
        """A model the trainer can use, chosen here, becomes the recipe's base model."""
        name = self._base_models.get(self.form.model_combo.currentData())
        if name is not None and not self._updating:
            self.form.recipe.set_values({"base_model": name})
            self._base_model_chosen = True

    def _remember_choices(self) -> None:
        settings = app_settings()
        settings.setValue(SETTINGS_KEY + "model", self.form.model_combo.currentData())
        if self.form.gpu_combo.currentData() != "detected":
            settings.setValue(SETTINGS_KEY + "gpu", self.form.gpu_combo.currentData())

    # Reading the controls ---------------------------------------------------------
    def current_model(self) -> ModelArchitecture:
        key = self.form.model_combo.currentData() or f"catalog:{DEFAULT_MODEL}"
        if key not in self._models:
            _kind, _, value = key.partition(":")
            self._models[key] = load_architecture(value)
        return self._models[key]

    def current_gpu(self) -> GpuSpec:
        key = self.form.gpu_combo.currentData()
        if key == "detected":
            detected = detected_gpu(self.context.hardware)
            if detected is not None:
                return detected
        catalog = gpu_catalog()
        return catalog.get(key) or catalog[DEFAULT_GPU]

    def current_settings(self) -> EstimateRun:
        """The recipe with the data and GPU facts; ValueError naming the wrong field."""
        recipe = self.form.recipe.config()
        if recipe is None:
            errors = self.form.recipe.errors
            if not errors:
                raise ValueError(self.form.recipe.general_error)
            # Every wrong field, each also marked at its editor.
            raise ValueError("  ".join(f"{field_label(n)}: {m}" for n, m in errors.items()))
        gpus = self.form.gpu_count.value()
        tokens = self._dataset_tokens
        return EstimateRun(
            recipe,
            DataFacts(
                examples=self.form.examples_spin.value(),
                avg_tokens=self.form.avg_spin.value(),
                dataset_tokens=tokens.total_tokens if tokens else None,
            ),
            Cluster(gpus, self.form.sharding_combo.currentData() if gpus > 1 else "none"),
        )

    def current_goals(self) -> Goals:
        return Goals(
            task_kind=self.form.task_combo.currentData(),
            examples=self.form.examples_spin.value(),
            keep_broad_capabilities=self.form.keep_broad_check.isChecked(),
        )

    # Live estimate -----------------------------------------------------------------
    def recompute(self, *_args) -> None:
        if self._updating:
            return
        started = time.perf_counter()
        on_cpu = self.form.gpu_combo.currentData() == CPU_CHOICE
        self.form.sharding_combo.setEnabled(self.form.gpu_count.value() > 1 and not on_cpu)
        # One CPU, no hourly price: GPUs and price do not apply to training here.
        self.form.gpu_count.setEnabled(not on_cpu)
        self.form.price_spin.setEnabled(not on_cpu)
        if on_cpu:
            self._recompute_for_cpu()
            self.last_recompute_ms = (time.perf_counter() - started) * 1000
            return
        self.cpu_summary = None
        gpu = self.current_gpu()
        self.form.price_spin.blockSignals(True)
        self.form.price_spin.setValue(gpu.price_per_hour)
        self.form.price_spin.blockSignals(False)
        self.form.gpu_label.setText(self._gpu_text(gpu))
        try:
            model = self.current_model()
            self.form.model_label.setText(model.describe())
            settings = self.current_settings()
            rec = recommend(model, settings, gpu, self.current_goals(), method=settings.method)
        except (ArchitectureError, GpuCatalogError, ValueError) as error:
            self._show_error(str(error))
            self._offer_training()
            self.last_recompute_ms = (time.perf_counter() - started) * 1000
            return
        self.recommendation = rec
        self.results.show_recommendation(rec)
        self._offer_training()
        self.results.show_capacity(capacity_text(model, settings, gpu, rec.chosen))
        self.last_recompute_ms = (time.perf_counter() - started) * 1000

    def _recompute_for_cpu(self) -> None:
        """This computer's CPU: the RAM the run needs against the RAM free now, and a plain
        note on time (no GPU throughput figures apply; pre-flight measures the step)."""
        self.recommendation = None
        self.form.price_spin.blockSignals(True)
        self.form.price_spin.setValue(0.0)
        self.form.price_spin.blockSignals(False)
        self.form.gpu_label.setText(
            "fp32 on the CPU. Time: CPU training is far slower than a GPU's; pre-flight on "
            "the Train page measures the real step time here."
        )
        try:
            model = self.current_model()
            self.form.model_label.setText(model.describe())
            settings = self.current_settings()
        except (ArchitectureError, ValueError) as error:
            self.cpu_summary = None
            self._show_error(str(error))
            self._offer_training()
            return
        facts = DataSeen(settings.examples, settings.avg_tokens, "entered on this page")
        self.cpu_summary = summarize_ram(model, settings, facts)
        self.results.show_summary(
            self.cpu_summary.headline, self.cpu_summary.details, self.cpu_summary.fits
        )
        self._offer_training()

    def _offer_training(self) -> None:
        """ "Train with these settings" only while the recipe is one the trainer takes."""
        valid = not self.form.recipe.errors and not self.form.recipe.general_error
        self.results.train_button.setEnabled(valid)
        self.results.train_button.setToolTip(
            "Open the Train page with these settings (all of them, base model included)"
            if valid
            else "Correct the settings marked in red first"
        )

    def _gpu_text(self, gpu: GpuSpec) -> str:
        text = f"{gpu.tflops:g} TFLOP/s 16-bit, {'bf16' if gpu.bf16 else 'no bf16 (fp16 only)'}"
        if self.context.hardware.gpus:
            return text
        return text + ". No GPU was detected on this machine: estimating for the one chosen."

    def _show_error(self, message: str) -> None:
        self.recommendation = None
        self.results.show_error(message)

    def _show_method(self, method: str) -> None:
        """A method clicked in the table becomes the recipe's method."""
        self.form.recipe.set_values({"method": method})

    # Data --------------------------------------------------------------------------
    def _data_edited(self) -> None:
        if self._updating:
            return
        if self._dataset_tokens is not None:
            self._dataset_tokens = None
            self.form.dataset_label.setText("Using examples x average length.")
        self.recompute()

    def apply_dataset_tokens(self, tokens: DatasetTokens) -> None:
        """Use a dataset's counts; editing examples or length by hand goes back to them."""
        self._updating = True
        self.form.examples_spin.setValue(tokens.examples)
        self.form.avg_spin.setValue(tokens.avg_tokens)
        self._updating = False
        self._dataset_tokens = tokens
        self.form.dataset_label.setText(
            f"From {tokens.label}: {tokens.examples:,} examples, {tokens.total_tokens:,} tokens "
            f"(longest {tokens.max_tokens:,}; counted with {tokens.counted_with})."
        )
        max_seq_length = self.form.recipe.values()["max_seq_length"]
        if isinstance(max_seq_length, int) and tokens.max_tokens > max_seq_length:
            self.form.dataset_label.setText(
                self.form.dataset_label.text()
                + f" Examples longer than {max_seq_length:,} tokens will be truncated."
            )
        self.recompute()

    def _tokenizer_source(self):
        key = self.form.model_combo.currentData() or ""
        if key.startswith("path:"):
            folder = Path(key[5:])
            return folder if folder.is_dir() else None
        return None

    def count_dataset_tokens(self) -> None:
        if self._task is not None:
            return
        project = self.context.project
        source = self._tokenizer_source()
        self.form.dataset_button.setEnabled(False)
        self.form.dataset_progress.setValue(0)
        self.form.dataset_progress.show()
        self._task = BackgroundTask(
            lambda report, cancelled: project_dataset_tokens(project, source, report, cancelled),
            self,
        )
        self._task.progress.connect(
            lambda fraction, _m: self.form.dataset_progress.setValue(int(fraction * 100))
        )
        self._task.succeeded.connect(self.apply_dataset_tokens)
        self._task.failed.connect(self._dataset_failed)
        self._task.finished.connect(self._dataset_done)
        self._task.start()

    def _dataset_failed(self, message: str) -> None:
        text = (
            message.split(": ", 1)[1] if message.startswith("DatasetTokensUnavailable") else message
        )
        self.form.dataset_label.setText(text)

    def _dataset_done(self) -> None:
        self._task = None
        self.form.dataset_button.setEnabled(True)
        self.form.dataset_progress.hide()

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
            if self.form.model_combo.findData(key) < 0:  # config.json fetched alone, no weights
                try:
                    arch = load_architecture(model.path)
                except ArchitectureError as error:
                    self._show_error(str(error))
                    return
                self._models[key] = dataclasses.replace(arch, name=model.name)
                self.form.model_combo.addItem(f"{model.name} (config only)", key)
        self.form.model_combo.setCurrentIndex(max(0, self.form.model_combo.findData(key)))

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
        index = self.form.model_combo.findData(key)
        if index < 0:
            self.form.model_combo.addItem(f"{model.name} ({Path(path).name})", key)
            index = self.form.model_combo.count() - 1
        self.form.model_combo.setCurrentIndex(index)
        self.recompute()
        return None

    def _price_edited(self) -> None:
        gpu = self.current_gpu()
        price = round(self.form.price_spin.value(), 2)
        if abs(price - gpu.price_per_hour) < 0.005:
            return
        self.set_gpu_price(gpu, price)

    def set_gpu_price(self, gpu: GpuSpec, price: float) -> None:
        fields = {"price_per_hour": price}
        if gpu.name not in gpu_catalog():  # a detected card the catalog does not know
            fields.update(memory_gib=gpu.memory_gib, tflops=gpu.tflops, bf16=gpu.bf16)
        save_user_gpu(gpu.name, **fields)
        self._fill_gpus()
        self.context.show_status(f"Saved {money_text(price)}/GPU-hour for {gpu.name}")
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
                f"{self.form.examples_spin.value():,} examples, "
                f"LoRA r {self.form.recipe.values()['lora_r']}"
            )
        elif isinstance(handoff, TrainConfigForEstimate):
            self._updating = True
            self._receive_train_config(handoff.train_config)
            self._updating = False
            self.recompute()

    def _receive_decision(self, decision: DecisionForEstimate) -> None:
        if decision.examples is not None and decision.examples > 0:
            self.form.examples_spin.setValue(decision.examples)
            self._dataset_tokens = None
            self.form.dataset_label.setText("Using examples x average length.")
        if decision.lora_r is not None and decision.lora_r > 0:
            self.form.recipe.set_values({"lora_r": decision.lora_r})
        if decision.task_kind in TASK_KINDS:
            self.form.task_combo.setCurrentIndex(self.form.task_combo.findData(decision.task_kind))
        self.form.keep_broad_check.setChecked(decision.keep_broad_capabilities)

    def _receive_train_config(self, values: dict) -> None:
        """The Train page's recipe (TrainConfig.as_dict()) into the form, whole: the fields
        not shown here are kept and go back to Train unchanged. Its base model is the model
        estimated."""
        try:
            config = config_from_dict(values, "Train page")
        except TrainConfigError as error:
            self.context.show_status(f"Could not take the Train page's settings: {error}")
            return
        self.form.recipe.set_config(config)
        self._whole_recipe = True
        self._select_base_model(config.base_model)

    def _select_base_model(self, base_model: str) -> None:
        """Estimate the recipe's base model: one of the project's models, a catalog name
        or a model folder; else say why the model shown is another."""
        key = next((k for k, name in self._base_models.items() if name == base_model), None)
        if key is None and base_model in catalog_names():
            key = f"catalog:{base_model}"
        if key is None and Path(base_model).expanduser().is_dir():
            try:
                self._models[f"path:{Path(base_model).expanduser()}"] = load_architecture(
                    base_model
                )
            except ArchitectureError:
                pass
            else:
                key = f"path:{Path(base_model).expanduser()}"
                if self.form.model_combo.findData(key) < 0:
                    self.form.model_combo.addItem(f"{Path(base_model).name} (folder)", key)
        index = self.form.model_combo.findData(key) if key else -1
        if index < 0:
            self.context.show_status(
                f"Estimate cannot read the base model {base_model!r}; the estimate shows "
                f"{self.form.model_combo.currentText()}"
            )
            return
        self.form.model_combo.setCurrentIndex(index)

    def set_project(self, _project) -> None:
        self._dataset_tokens = None
        self._whole_recipe = False  # another project's data and run name are not this one's
        self.form.dataset_label.setText("Using examples x average length.")
        self._fill_models()
        self.recompute()

    def summary_text(self) -> str:
        """The pick and the table as plain text (copied with Ctrl+Shift+C)."""
        if self.cpu_summary is not None:
            return "\n".join([self.cpu_summary.headline, *self.cpu_summary.details])
        if self.recommendation is None:
            return self.results.error_label.text()

        return recommendation_text(self.recommendation)

    def train_settings(self) -> dict | None:
        """The recipe as Train page fields (None while it is invalid): every one of them
        when it came from the Train page, else those this page shows and sets."""
        recipe = self.form.recipe.config()
        if recipe is None:
            return None
        values = recipe.as_dict()
        if self._whole_recipe:
            return values
        known = set(self.form.recipe.editors) | (
            {"base_model"} if self._base_model_chosen else set()
        )
        return {name: value for name, value in values.items() if name in known}

    def train_with_these_settings(self) -> None:
        settings = self.train_settings()
        if settings is not None:
            self.context.navigate("training", SettingsForTrain(settings))

    def copy_summary(self) -> None:
        QApplication.clipboard().setText(self.summary_text())
        self.context.show_status("Estimate copied to the clipboard")

    def can_close(self) -> bool:
        if self._task is not None:
            self._task.cancel()
            self._task.wait(5000)
        return True
