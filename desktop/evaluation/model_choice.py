"""Which models to evaluate: the base model with the user's best system prompt (the baseline,
always first), and the fine-tuned runs to compare with it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.comparisons import PROMPT_META_KEY
from core.evaluation.models import (
    ModelSpec,
    ModelSpecError,
    baseline_spec,
    find_trained_model,
    run_spec,
)
from core.history.summaries import load_summaries
from core.models.registry import list_base_models
from core.runs.record import list_runs
from desktop.theme import WARNING, status_style

NO_RUNS_TEXT = "Train a model first, or evaluate the base model alone to set the baseline."
SYSTEM_PROMPT_HELP = ModelSpec.__dataclass_fields__["system_prompt"].metadata["help"]


class ModelChoicePanel(QWidget):
    go_to_training = Signal()
    changed = Signal()

    def __init__(self, project) -> None:
        super().__init__()
        self.project = project
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        self.base_combo = QComboBox()
        self.base_combo.setToolTip(
            "The model you started from. Evaluated first, as the baseline every fine-tuned "
            "model must beat."
        )
        self.base_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        form.addRow("Base model", self.base_combo)
        self.no_base_label = QLabel(
            "No base model is ready: prepare the bundled model or add a model folder on the "
            "Project page."
        )
        self.no_base_label.setObjectName("noBaseModel")
        self.no_base_label.setWordWrap(True)
        self.no_base_label.setStyleSheet(status_style(WARNING))
        form.addRow(self.no_base_label)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setObjectName("baselinePrompt")
        self.prompt_edit.setPlaceholderText(
            "Your best system prompt for the base model (optional). The fair baseline is the "
            "base model prompted as well as you can."
        )
        self.prompt_edit.setToolTip(SYSTEM_PROMPT_HELP)
        self.prompt_edit.setFixedHeight(72)
        form.addRow("Baseline prompt", self.prompt_edit)
        layout.addLayout(form)

        runs_title = QLabel("Fine-tuned models to compare")
        runs_title.setStyleSheet("font-weight: 600;")
        layout.addWidget(runs_title)
        self.runs_list = QListWidget()
        self.runs_list.setObjectName("runsList")
        self.runs_list.setToolTip("Tick the training runs to evaluate against the baseline")
        self.runs_list.setMaximumHeight(120)
        self.runs_list.itemChanged.connect(lambda _item: self.changed.emit())
        layout.addWidget(self.runs_list)
        self.no_runs_label = QLabel(f"No training runs yet. {NO_RUNS_TEXT}")
        self.no_runs_label.setObjectName("noRunsLabel")
        self.no_runs_label.setWordWrap(True)
        self.no_runs_label.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.no_runs_label)
        buttons = QHBoxLayout()
        self.add_folder_button = QPushButton("Add a run folder…")
        self.add_folder_button.setToolTip(
            "A training run's folder, an adapter folder (adapter_config.json) or a full model "
            "folder trained elsewhere"
        )
        self.train_button = QPushButton("Go to Train")
        self.train_button.setToolTip("Open the Train page")
        self.train_button.clicked.connect(self.go_to_training)
        buttons.addWidget(self.add_folder_button)
        buttons.addWidget(self.train_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.refresh()

    # Filling --------------------------------------------------------------------
    def refresh(self, project=None) -> None:
        if project is not None:
            self.project = project
        self.base_combo.clear()
        for model in list_base_models(self.project):
            if model.path is None:
                self.base_combo.addItem(f"{model.name} (not prepared yet)", None)
                item = self.base_combo.model().item(self.base_combo.count() - 1)
                item.setEnabled(False)
            else:
                self.base_combo.addItem(model.name, str(model.path))
                self.base_combo.setItemData(
                    self.base_combo.count() - 1, str(model.path), Qt.ItemDataRole.ToolTipRole
                )
        for row in range(self.base_combo.count()):
            if self.base_combo.itemData(row):
                self.base_combo.setCurrentIndex(row)
                break
        self.no_base_label.setVisible(not self.base_model_path)
        self.prompt_edit.setPlainText(self.project.get_meta(PROMPT_META_KEY, "") or "")
        self.runs_list.blockSignals(True)
        self.runs_list.clear()
        self.runs_list.blockSignals(False)
        self.refresh_runs()

    def refresh_runs(self, *_args) -> None:
        """List the project's trained models again (a run finished or was deleted), keeping
        what is ticked and the folders added by hand; with nothing ticked, the first is."""
        ticked, folders = set(), []
        for row in range(self.runs_list.count()):
            item = self.runs_list.item(row)
            kind, value = item.data(Qt.ItemDataRole.UserRole)
            checked = item.checkState() == Qt.CheckState.Checked
            if kind == "folder":
                folders.append((value, checked))
            elif checked:
                ticked.add(value.run_id)
        self.runs_list.blockSignals(True)
        self.runs_list.clear()
        runs = self._finished_runs()
        if not ticked and not any(checked for _folder, checked in folders):
            ticked = {runs[0].run_id} if runs else set()
        # The stage (SFT+DPO, SFT+GRPO) and the dataset's name tell the runs to compare
        # apart: "data v1" was both the chat data of an SFT run and a DPO run's pairs.
        summaries = {s.run_id: s for s in load_summaries(self.project, [r.run_id for r in runs])}
        for run in runs:
            summary = summaries.get(run.run_id)
            text = f"{run.name}  ·  {run.method}"
            if summary is not None and summary.stage_label != "SFT":
                text += f", {summary.stage_label}"
            dataset = summary.dataset_label if summary is not None else ""
            if dataset or run.dataset_version_label:
                text += f"  ·  {dataset or 'data ' + run.dataset_version_label}"
            text += f"  ·  {run.started_at[:16].replace('T', ' ')}"
            item = QListWidgetItem(text)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = run.run_id in ticked
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, ("run", run))
            item.setToolTip(f"{run.folder}\n{run.status}: {run.reason}".strip())
            self.runs_list.addItem(item)
        for folder, checked in folders:
            self._add_folder_item(folder, checked)
        self.runs_list.blockSignals(False)
        self._update_empty_state()
        self.changed.emit()

    def _finished_runs(self) -> list:
        return [run for run in list_runs(self.project) if run.final_model_dir is not None]

    def _update_empty_state(self) -> None:
        empty = self.runs_list.count() == 0
        self.runs_list.setVisible(not empty)
        self.no_runs_label.setVisible(empty)

    def add_folder(self, folder: str | Path) -> str | None:
        """Add a run, adapter or model folder as a candidate; what went wrong, or None."""
        folder = Path(folder)
        try:
            find_trained_model(folder)
        except ModelSpecError as error:
            return str(error)
        self._add_folder_item(folder, checked=True)
        self._update_empty_state()
        self.changed.emit()
        return None

    def _add_folder_item(self, folder: Path, checked: bool) -> None:
        item = QListWidgetItem(f"{folder.name}  ·  folder")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setData(Qt.ItemDataRole.UserRole, ("folder", folder))
        item.setToolTip(str(folder))
        self.runs_list.addItem(item)

    # Reading ----------------------------------------------------------------------
    @property
    def base_model_path(self) -> str | None:
        return self.base_combo.currentData()

    @property
    def system_prompt(self) -> str | None:
        return self.prompt_edit.toPlainText().strip() or None

    def checked_items(self) -> list[tuple[str, object]]:
        found = []
        for row in range(self.runs_list.count()):
            item = self.runs_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                found.append(item.data(Qt.ItemDataRole.UserRole))
        return found

    def set_checked(self, row: int, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self.runs_list.item(row).setCheckState(state)

    def specs(self) -> list[ModelSpec]:
        """The baseline first, then each ticked run; ModelSpecError says what is missing."""
        base = self.base_model_path
        if not base:
            raise ModelSpecError(
                "Choose a base model: prepare the bundled model or add a model folder on the "
                "Project page."
            )
        specs = [baseline_spec(base, self.system_prompt)]
        for kind, value in self.checked_items():
            if kind == "run":
                run_base = value.base_model_path
                if not run_base or not Path(run_base).is_dir():
                    run_base = base
                specs.append(run_spec(value.folder, base_model=run_base, label=value.name))
            else:
                try:
                    specs.append(run_spec(value))
                except ModelSpecError:  # the adapter does not name a base on this machine
                    specs.append(run_spec(value, base_model=base))
        return specs

    def training_dataset_version(self) -> int | None:
        """The dataset version the first ticked run was trained on, if known."""
        for kind, value in self.checked_items():
            if kind == "run" and value.dataset_version_id is not None:
                return int(value.dataset_version_id)
        return None

    def remember_prompt(self) -> None:
        self.project.set_meta(PROMPT_META_KEY, self.prompt_edit.toPlainText())
