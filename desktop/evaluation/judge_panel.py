"""LLM-as-judge: a local model or an OpenAI-compatible server rates the same A/B pairs.

Optional everywhere: nothing else in the app needs a judge, an endpoint or a key. The
key stays in memory for this session only. Judging runs in the background, each pair
in both orders, and its agreement with the human raters is shown beside its verdict.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.ab_pairs import list_pair_sets
from core.evaluation.ab_results import ab_summary
from core.evaluation.generation import EvaluationCancelled
from core.evaluation.judge import JudgeConfig, judge_pair_set, make_judge
from core.figures import count_text
from core.models.registry import ModelFolderError, check_model_folder, list_base_models
from desktop.background import BackgroundTask
from desktop.evaluation.ab_summary_html import judge_html, model_names
from desktop.theme import MUTED, WARNING, status_color, status_style

HELP = {f.name: f.metadata["help"] for f in fields(JudgeConfig)}


def judge_job(project, pair_set_id: int, config: JudgeConfig, progress, cancelled) -> str:
    """Judge every pair not judged yet; a sentence saying what was done."""
    progress(0.0, "Loading the judge")
    judge = make_judge(config)
    try:
        done = judge_pair_set(project, pair_set_id, judge, progress, cancelled)
    except EvaluationCancelled as error:
        return str(error)
    finally:
        close = getattr(judge, "close", None)
        if callable(close):
            close()
    return (
        f"Judged {count_text(done, 'pair')} in both orders."
        if done
        else "Every pair was judged already."
    )


class JudgePanel(QWidget):
    status = Signal(str)
    judged = Signal()

    def __init__(self, project, is_revealed=lambda pair_set_id: False) -> None:
        super().__init__()
        self.project = project
        self.is_revealed = is_revealed
        self.task: BackgroundTask | None = None
        self.last_error = ""
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 6, 0, 0)
        settings = QWidget()
        settings.setMaximumWidth(520)
        layout = QVBoxLayout(settings)
        layout.setContentsMargins(0, 0, 8, 0)
        outer.addWidget(settings)
        intro = QLabel(
            "A judge model rates the blind pairs on the same rubric as the human raters "
            "(accuracy, format, tone, completeness). Each pair is judged twice, with the "
            "answers swapped, to cancel its bias for one position. Optional: nothing else "
            "needs a judge, an endpoint or a key."
        )
        intro.setWordWrap(True)
        intro.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(intro)

        form = QFormLayout()
        self._form = form
        self.pair_set_combo = QComboBox()
        self.pair_set_combo.setObjectName("judgePairSet")
        self.pair_set_combo.setToolTip("The pairs to judge (create them on the Blind A/B tab)")
        self.pair_set_combo.currentIndexChanged.connect(self.update_results)
        form.addRow("Pairs", self.pair_set_combo)

        kind_row = QHBoxLayout()
        self.local_radio = QRadioButton("A model on this machine")
        self.http_radio = QRadioButton("An OpenAI-compatible server")
        self.local_radio.setToolTip(HELP["model_path"])
        self.http_radio.setToolTip(
            "A llama.cpp or vLLM server on this machine or your network, or a hosted API"
        )
        self.local_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.http_radio)
        kind_row.addWidget(self.local_radio)
        kind_row.addWidget(self.http_radio)
        kind_row.addStretch(1)
        form.addRow("Judge", kind_row)

        self.local_combo = QComboBox()
        self.local_combo.setToolTip(HELP["model_path"])
        self.folder_button = QPushButton("Other folder…")
        self.folder_button.setToolTip("Any Hugging Face chat model folder on this machine")
        self.folder_button.clicked.connect(self._folder_dialog)
        self.local_row = QWidget()
        local_layout = QHBoxLayout(self.local_row)
        local_layout.setContentsMargins(0, 0, 0, 0)
        local_layout.addWidget(self.local_combo, 1)
        local_layout.addWidget(self.folder_button)
        form.addRow("Model", self.local_row)
        self.no_local_label = QLabel(
            "No local model is ready: prepare the bundled model on the Project page (it is "
            "the demo's judge), choose a folder, or use a server."
        )
        self.no_local_label.setWordWrap(True)
        self.no_local_label.setStyleSheet(status_style(WARNING))
        form.addRow(self.no_local_label)
        self.url_edit = QLineEdit()
        self.url_edit.setObjectName("judgeUrl")
        self.url_edit.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.url_edit.setToolTip(HELP["base_url"])
        self.model_name_edit = QLineEdit("default")
        self.model_name_edit.setToolTip(HELP["model_name"])
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("optional")
        self.key_edit.setToolTip(HELP["api_key"])
        form.addRow("Server URL", self.url_edit)
        form.addRow("Model name", self.model_name_edit)
        form.addRow("API key", self.key_edit)
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 4096)
        self.max_tokens_spin.setValue(JudgeConfig.__dataclass_fields__["max_tokens"].default)
        self.max_tokens_spin.setToolTip(HELP["max_tokens"])
        self.timeout_spin = QSpinBox()
        self.timeout_spin.setRange(1, 3600)
        self.timeout_spin.setValue(int(JudgeConfig.__dataclass_fields__["timeout_s"].default))
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setToolTip(HELP["timeout_s"])
        form.addRow("Longest verdict", self.max_tokens_spin)
        form.addRow("Timeout", self.timeout_spin)
        layout.addLayout(form)
        self._server_rows = (self.url_edit, self.model_name_edit, self.key_edit, self.timeout_spin)
        self.local_radio.toggled.connect(self._show_kind)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Judge the pairs")
        self.run_button.setToolTip("Judge every pair not judged yet by this judge")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setStyleSheet("color: palette(placeholder-text);")
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)
        layout.addLayout(run_row)
        layout.addWidget(self.progress_label)
        layout.addStretch(1)
        results = QVBoxLayout()
        title = QLabel("The judge's verdicts")
        title.setStyleSheet("font-weight: 600; font-size: 14px;")
        self.results_view = QTextBrowser()
        self.results_view.setObjectName("judgeResults")
        results.addWidget(title)
        results.addWidget(self.results_view, 1)
        outer.addLayout(results, 1)
        self.refresh()

    def refresh(self, project=None) -> None:
        if project is not None:
            self.project = project
        keep = self.pair_set_combo.currentData()
        self.pair_set_combo.blockSignals(True)
        self.pair_set_combo.clear()
        for pair_set in reversed(list_pair_sets(self.project)):
            self.pair_set_combo.addItem(
                f"{pair_set.name} — {pair_set.n_pairs} pairs (#{pair_set.id})", pair_set.id
            )
        if keep is not None and self.pair_set_combo.findData(keep) >= 0:
            self.pair_set_combo.setCurrentIndex(self.pair_set_combo.findData(keep))
        self.pair_set_combo.blockSignals(False)
        keep_model = self.local_combo.currentData()
        self.local_combo.clear()
        for model in list_base_models(self.project):
            if model.path is not None:
                self.local_combo.addItem(model.name, str(model.path))
        if keep_model and self.local_combo.findData(keep_model) >= 0:
            self.local_combo.setCurrentIndex(self.local_combo.findData(keep_model))
        self.update_results()
        self._update_buttons()
        self._show_kind()

    def select_pair_set(self, pair_set_id: int | None) -> None:
        index = self.pair_set_combo.findData(pair_set_id)
        if index >= 0:
            self.pair_set_combo.setCurrentIndex(index)

    def add_local_model(self, name: str, path: str) -> None:
        self.local_combo.addItem(name, path)
        self.local_combo.setCurrentIndex(self.local_combo.count() - 1)
        self._show_kind()

    def add_local_folder(self, folder: str) -> str | None:
        """Use a model folder as the judge; what is wrong with it, or None."""
        try:
            check = check_model_folder(folder)
        except ModelFolderError as error:
            return str(error)
        if check.needs_remote_code or check.pickle_only:
            return (
                f"{folder} needs custom code or pickle weights; add it on the Project page, "
                "where you can allow that, then pick it here."
            )
        self.add_local_model(Path(folder).name, str(folder))
        return None

    def _folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a judge model folder")
        if folder:
            problem = self.add_local_folder(folder)
            if problem:
                self._say(problem)

    def _show_kind(self, *_args) -> None:
        local = self.local_radio.isChecked()
        form = self._form
        form.setRowVisible(self.local_row, local)
        form.setRowVisible(self.no_local_label, local and self.local_combo.count() == 0)
        for widget in self._server_rows:
            form.setRowVisible(widget, not local)

    def config(self) -> JudgeConfig:
        """The judge the form describes; ValueError says what is missing."""
        if self.local_radio.isChecked():
            path = self.local_combo.currentData()
            if not path:
                raise ValueError(
                    "No local model is ready: prepare the bundled model on the Project page, "
                    "or use a server."
                )
            return JudgeConfig(
                kind="local", model_path=path, max_tokens=self.max_tokens_spin.value()
            )
        return JudgeConfig(
            kind="http",
            base_url=self.url_edit.text().strip(),
            model_name=self.model_name_edit.text().strip() or "default",
            api_key=self.key_edit.text().strip() or None,
            timeout_s=float(self.timeout_spin.value()),
            max_tokens=self.max_tokens_spin.value(),
        )

    # Running --------------------------------------------------------------------------
    def start(self) -> bool:
        pair_set_id = self.pair_set_combo.currentData()
        if pair_set_id is None:
            self._say("Create pairs on the Blind A/B tab first.")
            return False
        try:
            config = self.config()
        except ValueError as error:
            self._say(str(error))
            return False
        project = self.project
        self.task = BackgroundTask(
            lambda report, cancelled: judge_job(project, pair_set_id, config, report, cancelled),
            self,
        )
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._on_done)
        self.task.failed.connect(self._on_failed)
        self.task.finished.connect(self._on_finished)
        self.last_error = ""
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.task.start()
        self._update_buttons()
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self._say("Cancelling after the current pair…")

    def is_running(self) -> bool:
        return self.task is not None and self.task.is_running()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 100))
        self.progress_label.setText(message)

    def _on_done(self, message: str) -> None:
        self._say(message)
        self.status.emit(message)

    def _on_failed(self, message: str) -> None:
        self.last_error = message
        self._say(f"The judge failed: {message}")

    def _on_finished(self) -> None:
        self.task = None
        self.progress.setVisible(False)
        self._update_buttons()
        self.update_results()
        self.judged.emit()

    def _say(self, text: str) -> None:
        self.progress_label.setText(text)

    def _update_buttons(self) -> None:
        running = self.task is not None
        self.run_button.setEnabled(not running and self.pair_set_combo.count() > 0)
        self.cancel_button.setEnabled(running)

    def update_results(self, *_args) -> None:
        pair_set_id = self.pair_set_combo.currentData()
        if pair_set_id is None:
            self.results_view.setHtml(
                f"<p style='color:{status_color(MUTED)}'>No pairs yet. Evaluate two models on the Compare tab, "
                "then create pairs on the Blind A/B tab.</p>"
            )
            return
        summary = ab_summary(self.project, pair_set_id)
        if not summary.judges:
            self.results_view.setHtml(
                f"<p style='color:{status_color(MUTED)}'>No judge has rated these pairs yet.</p>"
            )
            return
        first, second = model_names(summary, self.is_revealed(pair_set_id))
        self.results_view.setHtml(
            "".join(judge_html(judge, first, second) for judge in summary.judges)
        )
