"""The Evaluate page: the prompted base model against fine-tuned runs, with evidence.

Compare models: pick the models (the baseline first) and an eval set, run in the
background, read the metrics side by side with their significance, the regression
probes and every example's answers; failures become draft training examples.
Blind A/B rating and the LLM judge are the other two tabs; the report exports it all.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.dataset.versions import latest_version
from core.evaluation.comparisons import (
    Comparison,
    EvaluationOutcome,
    EvaluationPlan,
    dataset_version_of,
    load_comparison,
    recent_comparisons,
    run_plan,
)
from core.evaluation.eval_set import EvalSetError
from core.evaluation.generation import GenerationConfig
from core.evaluation.leakage import leakage_of_results
from core.evaluation.models import ModelSpecError
from core.evaluation.report_export import default_report_name, export_report
from core.evaluation.runner import LOADING_PREFIX
from core.evaluation.store import UnknownRecordError
from core.figures import count_text
from core.handoff import DraftsForDataset, RatingsForPreferences, RunForEvaluation
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.evaluation.ab_rating import ABRatingView
from desktop.evaluation.eval_set_choice import EvalSetChoice
from desktop.evaluation.examples_view import ExamplesView
from desktop.evaluation.judge_panel import JudgePanel
from desktop.evaluation.metrics_table import MetricsTableModel, metrics_view
from desktop.evaluation.model_choice import ModelChoicePanel
from desktop.evaluation.regression_panel import RegressionPanel, forgetting_summary
from desktop.theme import ACCENT, BAD, GOOD, WARNING, notice_style, status_color, status_style

GENERATION_HELP = {
    name: field.metadata["help"] for name, field in GenerationConfig.__dataclass_fields__.items()
}
TAB_COMPARE, TAB_AB, TAB_JUDGE = 0, 1, 2
RESULTS_METRICS, RESULTS_EXAMPLES, RESULTS_REGRESSION = 0, 1, 2
NO_RESULTS_TEXT = (
    "No results yet.\n\nChoose the models and the eval set on the left, then press Evaluate. "
    "The base model with your best system prompt is evaluated first: it is the baseline a "
    "fine-tuned model has to beat."
)
DRAFT_NOTE = "from eval failures"
PROBES_HELP = (
    "Also answer 48 general probes (arithmetic, instructions, facts, formats) with the "
    "base model and each fine-tuned model, to catch catastrophic forgetting"
)
PROBES_NEED_A_RUN = (
    "Tick a fine-tuned model above first: the probes compare it with the base model to "
    "catch catastrophic forgetting"
)


def create_page(context: AppContext) -> QWidget:
    return EvaluatePage(context)


def _muted(label: QLabel) -> QLabel:
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class EvaluatePage(QWidget):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.task: BackgroundTask | None = None
        self.comparison: Comparison | None = None
        self.results: list = []
        self.regressions: list = []
        self.last_outcome: EvaluationOutcome | None = None
        self.last_error = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(8)
        title = QLabel("Evaluate")
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        subtitle = _muted(
            QLabel(
                "Is the fine-tuned model better than the base model prompted as well as you "
                "can, and did it forget anything? Measured on your eval set, with confidence "
                "intervals, so “better” means better and not luck."
            )
        )
        layout.addWidget(title)
        layout.addWidget(subtitle)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluateTabs")
        self.tabs.addTab(self._compare_tab(), "Compare models")
        self.ab_view = ABRatingView(context.project)
        self.ab_view.status.connect(context.show_status)
        self.tabs.addTab(self.ab_view, "Blind A/B rating")
        self.judge_panel = JudgePanel(context.project, self.ab_view.is_revealed)
        self.judge_panel.status.connect(context.show_status)
        self.ab_view.ratings_changed.connect(self.judge_panel.update_results)
        self.judge_panel.judged.connect(self.ab_view.update_results)
        self.ab_view.pair_sets_changed.connect(self._pair_set_created)
        self.ab_view.preference_pairs_requested.connect(self.send_preference_pairs)
        self.tabs.addTab(self.judge_panel, "LLM judge")
        self.tabs.setTabToolTip(TAB_COMPARE, "Automated metrics, regression probes, examples")
        self.tabs.setTabToolTip(TAB_AB, "Blind human rating of two models' answers")
        self.tabs.setTabToolTip(TAB_JUDGE, "A model rates the same pairs (optional)")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout.addWidget(self.tabs, 1)

        context.project_changed.connect(self.set_project)
        # What changed elsewhere shows here at once (a run finished on Train or in the CLI).
        context.events.runs_changed.connect(self.model_choice.refresh_runs)
        context.events.version_saved.connect(self._versions_changed)
        context.events.evaluations_changed.connect(self._evaluations_changed)
        self.load_latest()

    # Compare tab: setup ---------------------------------------------------------------
    def _compare_tab(self) -> QWidget:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._setup_column())
        splitter.addWidget(self._results_column())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 820])
        return splitter

    def _setup_column(self) -> QWidget:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(360)
        # Long model and file names must shrink (combos elide), never push a scrollbar.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 6, 8, 0)

        models_box = QGroupBox("1. Models")
        models_layout = QVBoxLayout(models_box)
        self.model_choice = ModelChoicePanel(self.context.project)
        self.model_choice.go_to_training.connect(lambda: self.context.navigate("training"))
        self.model_choice.add_folder_button.clicked.connect(self._add_folder_dialog)
        self.model_choice.changed.connect(self._update_run_state)
        models_layout.addWidget(self.model_choice)
        column.addWidget(models_box)

        set_box = QGroupBox("2. Eval set")
        set_layout = QVBoxLayout(set_box)
        self.eval_set_choice = EvalSetChoice(self.context.project)
        self.eval_set_choice.file_button.clicked.connect(self._eval_file_dialog)
        self.eval_set_choice.changed.connect(self._update_run_state)
        set_layout.addWidget(self.eval_set_choice)
        column.addWidget(set_box)

        run_box = QGroupBox("3. Run")
        run_layout = QVBoxLayout(run_box)
        form = QFormLayout()
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 8192)
        self.max_tokens_spin.setValue(GenerationConfig.max_new_tokens)
        self.max_tokens_spin.setToolTip(GENERATION_HELP["max_new_tokens"])
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 512)
        self.batch_spin.setValue(GenerationConfig.batch_size)
        self.batch_spin.setToolTip(GENERATION_HELP["batch_size"])
        form.addRow("Longest answer (tokens)", self.max_tokens_spin)
        form.addRow("Batch size", self.batch_spin)
        run_layout.addLayout(form)
        self.probes_check = QCheckBox("Check for regressions (general-capability probes)")
        self.probes_check.setChecked(True)
        self.probes_check.setToolTip(PROBES_HELP)
        run_layout.addWidget(self.probes_check)
        run_layout.addWidget(
            _muted(
                QLabel(
                    "Greedy decoding with a recorded seed: the same models give the same answers."
                )
            )
        )
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Evaluate")
        self.run_button.setObjectName("evaluateButton")
        self.run_button.setShortcut("Ctrl+Return")
        self.run_button.setToolTip("Evaluate the baseline, then each ticked run (Ctrl+Enter)")
        self.run_button.setStyleSheet(
            f"QPushButton:enabled {{ background: {ACCENT}; color: white; padding: 6px 18px; "
            "border-radius: 5px; font-weight: 600; }"
        )
        self.run_button.clicked.connect(self.start_evaluation)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch; finished models are kept")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_evaluation)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setObjectName("evaluationProgress")
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("evaluationMessage")
        self.progress_label.setWordWrap(True)
        column.addWidget(run_box)
        column.addStretch(1)
        scroll.setWidget(body)
        # Evaluate, Cancel and the progress stay below the scroll area, always in view: at
        # 900x700 with a few runs listed they were cut at the bottom of the scrolled column.
        footer = QWidget()
        footer_layout = QVBoxLayout(footer)
        footer_layout.setContentsMargins(0, 6, 8, 0)
        footer_layout.addLayout(buttons)
        footer_layout.addWidget(self.progress)
        footer_layout.addWidget(self.progress_label)
        setup = QWidget()
        setup_layout = QVBoxLayout(setup)
        setup_layout.setContentsMargins(0, 0, 0, 0)
        setup_layout.setSpacing(0)
        setup_layout.addWidget(scroll, 1)
        setup_layout.addWidget(footer)
        self.setup_scroll = scroll
        return setup

    # Compare tab: results -------------------------------------------------------------
    def _results_column(self) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(8, 6, 0, 0)
        top = QHBoxLayout()
        self.history_combo = QComboBox()
        self.history_combo.setObjectName("comparisonHistory")
        self.history_combo.setToolTip("Earlier evaluations of this project")
        self.history_combo.setPlaceholderText("No evaluation yet")
        self.history_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.history_combo.currentIndexChanged.connect(self._history_chosen)
        self.export_button = QPushButton("Export report…")
        self.export_button.setToolTip(
            "One HTML file with the metrics, charts, A/B results (models named), probes and "
            "every answer, to share with the team (Ctrl+E)"
        )
        self.export_button.setShortcut("Ctrl+E")
        self.export_button.clicked.connect(self._export_dialog)
        top.addWidget(QLabel("Results"))
        top.addWidget(self.history_combo, 1)
        top.addWidget(self.export_button)
        layout.addLayout(top)

        self.results_stack = QStackedWidget()
        self.no_results_label = QLabel(NO_RESULTS_TEXT)
        self.no_results_label.setObjectName("noResults")
        self.no_results_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_results_label.setWordWrap(True)
        self.no_results_label.setStyleSheet("color: palette(placeholder-text); font-size: 14px;")
        self.results_stack.addWidget(self.no_results_label)

        self.results_tabs = QTabWidget()
        metrics_page = QWidget()
        metrics_layout = QVBoxLayout(metrics_page)
        metrics_layout.setContentsMargins(0, 6, 0, 0)
        self.results_heading = _muted(QLabel())
        self.size_warning = QLabel()
        self.size_warning.setObjectName("resultsSizeWarning")
        self.size_warning.setWordWrap(True)
        self.size_warning.setStyleSheet(notice_style(WARNING))
        self.leakage_warning = QLabel()
        self.leakage_warning.setObjectName("leakageWarning")
        self.leakage_warning.setWordWrap(True)
        self.leakage_warning.setToolTip(
            "Eval examples found in the training data of the run (same turns, system prompt, "
            "case and spacing ignored). Numbers are the examples' positions in the eval set, "
            "as on the Examples tab."
        )
        self.leakage_warning.setStyleSheet(notice_style(WARNING))
        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("verdictLabel")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextFormat(Qt.TextFormat.RichText)
        self.forgetting_banner = QLabel()
        self.forgetting_banner.setObjectName("forgettingBanner")
        self.forgetting_banner.setWordWrap(True)
        self.forgetting_banner.setStyleSheet(notice_style(WARNING))
        self.metrics_model = MetricsTableModel()
        self.metrics_table = metrics_view(self.metrics_model)
        metrics_layout.addWidget(self.results_heading)
        metrics_layout.addWidget(self.size_warning)
        metrics_layout.addWidget(self.leakage_warning)
        metrics_layout.addWidget(self.verdict_label)
        metrics_layout.addWidget(self.forgetting_banner)
        metrics_layout.addWidget(self.metrics_table, 1)
        metrics_layout.addWidget(
            _muted(
                QLabel(
                    "Each value shows its 95% confidence interval. A change is called better or "
                    "worse only when it is significant (p < 0.05, paired on the same examples: "
                    "McNemar for rates, bootstrap for perplexity and length). Hover a cell for "
                    "the test."
                )
            )
        )
        self.examples_view = ExamplesView()
        self.examples_view.drafts_requested.connect(self.send_drafts)
        self.regression_panel = RegressionPanel()
        self.results_tabs.addTab(metrics_page, "Metrics")
        self.results_tabs.addTab(self.examples_view, "Examples")
        self.results_tabs.addTab(self.regression_panel, "Regression probes")
        self.results_stack.addWidget(self.results_tabs)
        layout.addWidget(self.results_stack, 1)
        return column

    # Project ------------------------------------------------------------------------------
    @property
    def project(self):
        return self.context.project

    def set_project(self, project) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
        self.model_choice.refresh(project)
        self.eval_set_choice.refresh(project)
        self.ab_view.refresh(project)
        self.judge_panel.refresh(project)
        self.load_latest()

    def load_latest(self) -> None:
        """Fill the history and show the newest comparison (or the empty state)."""
        comparisons = recent_comparisons(self.project)
        self.history_combo.blockSignals(True)
        self.history_combo.clear()
        for comparison in comparisons:
            when = comparison.created_at[:16].replace("T", " ")
            self.history_combo.addItem(f"{comparison.title} · {when}", comparison)
        self.history_combo.setCurrentIndex(0 if comparisons else -1)
        self.history_combo.blockSignals(False)
        self.show_comparison(comparisons[0] if comparisons else None)
        self._update_run_state()

    def _versions_changed(self, _version_id: str) -> None:
        self.eval_set_choice.refresh()  # keeps the chosen set; a new validation split joins

    def _evaluations_changed(self, _evaluation_id: str) -> None:
        """Saved or deleted elsewhere: list the comparisons again (this page's own results
        are shown when its evaluation ends)."""
        if self.task is None:
            self.load_latest()

    def _history_chosen(self, index: int) -> None:
        if index >= 0:
            self.show_comparison(self.history_combo.itemData(index))

    def show_comparison(self, comparison: Comparison | None) -> None:
        results, regressions = [], []
        if comparison is not None:
            try:
                results, regressions = load_comparison(self.project, comparison)
            except (UnknownRecordError, ValueError) as error:
                self.progress_label.setText(f"Could not load those results: {error}")
                comparison = None
        self.comparison, self.results, self.regressions = comparison, results, regressions
        self.export_button.setEnabled(bool(results))
        self.history_combo.setEnabled(self.history_combo.count() > 0)
        if not results:
            self.results_stack.setCurrentIndex(0)
            self.metrics_model.set_results([])
            self.examples_view.set_results([])
            self.regression_panel.set_reports([])
            return
        self.results_stack.setCurrentIndex(1)
        eval_set = results[0].eval_set
        self.results_heading.setText(
            f"{count_text(len(results), 'model')} on “{eval_set.name}” "
            f"({count_text(len(eval_set.examples), 'example')}, "
            f"version {eval_set.content_hash}), evaluated {comparison.created_at[:16].replace('T', ' ')}."
        )
        self.size_warning.setText("\n\n".join(eval_set.warnings))
        self.size_warning.setVisible(bool(eval_set.warnings))
        leaks = leakage_of_results(self.project, results)
        self.leakage_warning.setText(
            "\n\n".join(f"Leakage: {leakage.message}" for leakage in leaks)
        )
        self.leakage_warning.setVisible(bool(leaks))
        self.metrics_model.set_results(results)
        verdicts = self.metrics_model.grid.verdicts
        if verdicts:
            self.verdict_label.setText("<br>".join(self._verdict_html(v) for v in verdicts))
        else:
            self.verdict_label.setText(
                "The baseline is measured. Train a model and evaluate it against this "
                "baseline to see whether fine-tuning helps."
            )
        self.examples_view.set_results(results)
        note = "" if len(results) > 1 else "Probes compare a fine-tuned model with its base."
        self.regression_panel.set_reports(regressions, note)
        forgetting = [r for r in regressions if r.forgetting]
        self.forgetting_banner.setText(
            "<br>".join(forgetting_summary(r) for r in forgetting)
            + "<br>Mix a small share (5-10%) of general-purpose instruction data into the "
            "training set. Details and the full advice: the Regression probes tab."
        )
        self.forgetting_banner.setVisible(bool(forgetting))
        if len(results) > 1:
            self.ab_view.suggest_pair(results[0].run_id, results[-1].run_id)

    @staticmethod
    def _verdict_html(sentence: str) -> str:
        html = escape(sentence)
        html = html.replace("better on", f"<b style='color:{status_color(GOOD)}'>better</b> on")
        html = html.replace("worse on", f"<b style='color:{status_color(BAD)}'>worse</b> on")
        return html

    # Running ------------------------------------------------------------------------------
    def _update_run_state(self) -> None:
        running = self.task is not None
        ready = bool(self.model_choice.base_model_path) and self.eval_set_choice.combo.count() > 0
        self.run_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running)
        comparing = bool(self.model_choice.checked_items())
        self.probes_check.setEnabled(comparing)
        # Greyed out but ticked said nothing about why: the probes compare two models.
        self.probes_check.setToolTip(PROBES_HELP if comparing else PROBES_NEED_A_RUN)
        if not self.model_choice.base_model_path and not running:
            self.run_button.setToolTip(
                "Prepare the bundled model or add a model folder on the Project page first"
            )

    def plan(self) -> EvaluationPlan:
        """What the form asks for; ModelSpecError or EvalSetError say what is missing."""
        specs = self.model_choice.specs()
        eval_set = self.eval_set_choice.current()
        base_version = dataset_version_of(eval_set)
        if base_version is None:
            base_version = self.model_choice.training_dataset_version()
        if base_version is None:
            base_version = self._latest_dataset_version()
        return EvaluationPlan(
            eval_set=eval_set,
            specs=tuple(specs),
            config=GenerationConfig(
                max_new_tokens=self.max_tokens_spin.value(), batch_size=self.batch_spin.value()
            ),
            with_probes=self.probes_check.isChecked() and len(specs) > 1,
            base_version_id=base_version,
        )

    def _latest_dataset_version(self) -> int | None:
        version = latest_version(self.project)
        return None if version is None else version.id

    def start_evaluation(self) -> bool:
        if self.task is not None:
            return False
        try:
            plan = self.plan()
        except (ModelSpecError, EvalSetError, ValueError) as error:
            self._error(str(error))
            return False
        self.model_choice.remember_prompt()
        self.last_error = ""
        self.last_outcome = None
        project = self.project
        self.task = BackgroundTask(
            lambda report, cancelled: run_plan(project, plan, report, cancelled), self
        )
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._on_evaluated)
        self.task.failed.connect(self._on_failed)
        self.task.finished.connect(self._on_finished)
        self._on_progress(0.0, f"Starting: {count_text(len(plan.specs), 'model')}…")
        self.progress.setVisible(True)
        self.progress_label.setStyleSheet("")
        self.progress_label.setText(f"Starting: {count_text(len(plan.specs), 'model')}…")
        self.task.start()
        self._update_run_state()
        return True

    def cancel_evaluation(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.progress_label.setText("Cancelling after the current batch…")

    def is_running(self) -> bool:
        return self.task is not None

    def _on_progress(self, fraction: float, message: str) -> None:
        # The message goes in the bar itself (the label below it may be off-screen); a
        # model load has no fraction to show for minutes, so the bar is busy meanwhile.
        loading = message.startswith(LOADING_PREFIX)
        self.progress.setRange(0, 0 if loading else 1000)
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message if loading else f"%p % · {message}")
        self.progress.setToolTip(message)
        self.progress_label.setText(message)

    def _on_evaluated(self, outcome: EvaluationOutcome) -> None:
        self.last_outcome = outcome
        self.progress_label.setText(outcome.message)
        self.context.show_status(outcome.message)

    def _on_failed(self, message: str) -> None:
        self.last_error = message
        self._error(f"The evaluation failed: {message}")

    def _error(self, text: str) -> None:
        self.progress_label.setStyleSheet(status_style(BAD))
        self.progress_label.setText(text)

    def _on_finished(self) -> None:
        self.task = None
        self.progress.setVisible(False)
        outcome = self.last_outcome
        self.eval_set_choice.refresh()
        self.ab_view.refresh()
        self.judge_panel.refresh()
        if outcome is not None and outcome.comparison is not None:
            self.load_latest()
        self._update_run_state()

    # Drafts, report, dialogs ---------------------------------------------------------------
    def send_drafts(self, drafts: list) -> None:
        """Hand failing examples to the Dataset page as drafts of a new version."""
        if not drafts:
            return
        handoff = DraftsForDataset(
            self.comparison.base_version_id if self.comparison else None,
            [draft.as_record() for draft in drafts],
            DRAFT_NOTE,
        )
        self.context.navigate("dataset", handoff)
        placeholders = sum(d.needs_expert_answer for d in drafts)
        message = f"Sent {count_text(len(drafts), 'failing example')} to the Dataset page as drafts"
        if placeholders:
            message += f"; {placeholders} {'needs' if placeholders == 1 else 'need'} the ideal answer written in"
        self.context.show_status(message + ".", 8000)

    def send_preference_pairs(self, pair_set_id: int) -> None:
        """The rated A/B pairs to the Dataset page's Preference pairs tab, for DPO."""
        self.context.navigate("dataset", RatingsForPreferences(pair_set_id))

    def export_report_to(self, path: str | Path) -> Path | None:
        if self.comparison is None:
            return None
        written = export_report(self.project, path, self.comparison)
        self.context.show_status(f"Report written to {written}", 8000)
        return written

    def _export_dialog(self) -> None:
        if self.comparison is None:
            return
        start = Path(self.project.evals_dir) / default_report_name(self.comparison)
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the evaluation report", str(start), "HTML report (*.html)"
        )
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.export_report_to(path)

    def _add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a training run, adapter or model folder", str(self.project.runs_dir)
        )
        if folder:
            problem = self.model_choice.add_folder(folder)
            if problem:
                self._error(problem)

    def _eval_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose an eval set", str(self.project.folder), "JSONL (*.jsonl);;All files (*)"
        )
        if path:
            problem = self.eval_set_choice.use_file(path)
            if problem:
                self._error(problem)

    def _pair_set_created(self, pair_set_id: int) -> None:
        self.judge_panel.refresh()
        self.judge_panel.select_pair_set(pair_set_id)

    def _tab_changed(self, index: int) -> None:
        if index == TAB_AB:
            self.ab_view.card.setFocus()
        elif index == TAB_JUDGE and not self.judge_panel.is_running():
            self.judge_panel.select_pair_set(self.ab_view.pair_set_id)
            self.judge_panel.update_results()

    # Window hooks -------------------------------------------------------------------------
    def receive(self, handoff) -> None:
        """Another page asks to evaluate a run: it alone is checked, on the Compare tab."""
        if isinstance(handoff, RunForEvaluation):
            self.model_choice.refresh()
            wanted = handoff.run_id
            for row in range(self.model_choice.runs_list.count()):
                kind, value = self.model_choice.runs_list.item(row).data(Qt.ItemDataRole.UserRole)
                self.model_choice.set_checked(row, kind == "run" and value.run_id == wanted)
            self.tabs.setCurrentIndex(TAB_COMPARE)

    def can_close(self) -> bool:
        for task in (self.task, self.judge_panel.task):
            if task is not None:
                task.cancel()
                task.wait(120_000)
        return True
