"""The Runs page: every run of the project in a table, compared, in an iterate loop, and
what it all cost. Opens on summaries only (one SQL pass); curves are read for the
selected runs, estimates are filled in the background, the Compare tab (pyqtgraph) is
built the first time it is shown."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.figures import count_text, hours_text, money_text
from core.handoff import DraftsForDataset
from core.history.estimates import fill_estimates, runs_without_estimate
from core.history.iterate import (
    NothingToDraft,
    drafts_from_failures,
    iteration_timeline,
    train_like_handoff,
)
from core.history.spend import spend_summary
from core.history.summaries import load_summaries
from core.runs.export import (
    TENSORBOARD_MISSING,
    TensorBoardMissing,
    tensorboard_available,
    write_metrics_csv,
    write_tensorboard,
)
from core.runs.record import RunBusy, RunInfo, RunNotFound, RunState
from core.runs.store import (
    DeleteResult,
    delete_run,
    leftover_folders,
    remove_leftover_folders,
)
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.export.dialog import ExportDialog
from desktop.runs.compare_view import CompareView
from desktop.runs.iterate_view import IterateView
from desktop.runs.runs_table import column
from desktop.runs.runs_view import RunsTableView
from desktop.runs.spend_view import SpendView
from desktop.runs.undo_commands import RenameRunCommand, RunNoteCommand
from desktop.runs.waiting import wait_for_task

TAB_RUNS, TAB_COMPARE, TAB_ITERATE, TAB_SPEND = range(4)
LIVE_REFRESH_MS = 5000  # while a run trains, its row follows it


def create_page(context: AppContext) -> QWidget:
    return RunsPage(context)


class RunsPage(QWidget):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.project = context.project
        self.summaries: list[RunInfo] = []
        self.compare_view = None  # built on first use (imports pyqtgraph)
        self._compare_stale = True
        self._iterate_stale = True
        self._estimate_task: BackgroundTask | None = None
        self.undo_stack = QUndoStack(self)
        self._shown_before = False

        self.title = QLabel("Runs")
        self.title.setStyleSheet("font-size: 22px; font-weight: 600;")
        self.spend_label = QLabel()
        self.spend_label.setObjectName("spendStrip")
        self.spend_label.setToolTip("Totals of the project; details and budget on the Spend tab")
        self.spend_label.setStyleSheet("color: palette(placeholder-text);")

        self.runs_view = RunsTableView()
        self.compare_holder = QWidget()
        QVBoxLayout(self.compare_holder).setContentsMargins(0, 0, 0, 0)
        self.iterate_view = IterateView()
        self.spend_view = SpendView(self.project)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.runs_view, "All runs")
        self.tabs.addTab(self.compare_holder, "Compare")
        self.tabs.addTab(self.iterate_view, "Iterate")
        self.tabs.addTab(self.spend_view, "Spend")
        self.tabs.setTabToolTip(TAB_RUNS, "Every run: sort, filter, rename, note, delete")
        self.tabs.setTabToolTip(TAB_COMPARE, "Loss curves overlaid, settings, data and eval diffs")
        self.tabs.setTabToolTip(
            TAB_ITERATE, "Baseline, v1, v2, ...: the loop from failures to data"
        )
        self.tabs.setTabToolTip(TAB_SPEND, "GPU hours and cost against the budget; expert hours")
        self.tabs.currentChanged.connect(self._on_tab)

        self.empty_state = self._build_empty_state()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.tabs)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 22, 28, 16)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.spend_label)
        layout.addWidget(self.stack, 1)

        self._build_export_menu()
        self._build_undo_actions()
        view = self.runs_view
        view.selection_changed.connect(self._on_selection)
        view.compare_requested.connect(lambda: self.tabs.setCurrentIndex(TAB_COMPARE))
        view.rename_requested.connect(lambda: self._edit_cell("name"))
        view.note_requested.connect(lambda: self._edit_cell("note"))
        view.delete_requested.connect(self.delete_selected_dialog)
        view.clean_leftovers_requested.connect(self.clean_leftovers)
        view.model.edit_requested.connect(self.apply_edit)
        self.iterate_view.draft_requested.connect(self.draft_from_failures)
        self.iterate_view.train_next_requested.connect(self.train_next_like)
        self.spend_view.changed.connect(self.refresh)

        self.live_timer = QTimer(self)
        self.live_timer.setInterval(LIVE_REFRESH_MS)
        self.live_timer.timeout.connect(self._live_refresh)

        context.project_changed.connect(self.set_project)
        # A run started, finished, renamed or deleted, or an evaluation saved elsewhere.
        context.events.runs_changed.connect(self._changed_elsewhere)
        context.events.evaluations_changed.connect(self._changed_elsewhere)
        self.refresh()
        self.start_estimates()

    # --- building -------------------------------------------------------------------------
    def _build_empty_state(self) -> QWidget:
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.addStretch(1)
        heading = QLabel("No runs yet")
        heading.setStyleSheet("font-size: 18px; font-weight: 600;")
        heading.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        text = QLabel(
            "Every training run of this project appears here: its loss, eval results and "
            "what it cost, side by side with the others.\nPlan for 10-20 runs and 3-5 "
            "iterations of the data: the first model is never the last."
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        text.setStyleSheet("color: palette(placeholder-text);")
        self.go_train_button = QPushButton("Train a first run")
        self.go_train_button.setToolTip("Open the Train page")
        self.go_train_button.clicked.connect(lambda: self.context.navigate("training"))
        self.empty_budget_button = QPushButton("Set a budget first")
        self.empty_budget_button.setToolTip("Budget, GPU price and expert hours (Spend tab)")
        self.empty_budget_button.clicked.connect(self._show_spend_from_empty)
        layout.addWidget(heading)
        layout.addWidget(text)
        for button in (self.go_train_button, self.empty_budget_button):
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return widget

    def _show_spend_from_empty(self) -> None:
        self.stack.setCurrentWidget(self.tabs)
        self.tabs.setCurrentIndex(TAB_SPEND)

    def _build_export_menu(self) -> None:
        menu = QMenu(self)
        model_action = menu.addAction("Model: adapter, merged or GGUF…")
        model_action.setToolTip("Export the trained model where people serve it, with a model card")
        # triggered(bool) would pass `checked` as the run id: the selected run is meant.
        model_action.triggered.connect(lambda _checked=False: self.export_model_dialog())
        csv_action = menu.addAction("Metrics as CSV…")
        csv_action.triggered.connect(self.export_csv_dialog)
        self.tensorboard_action = menu.addAction("TensorBoard event files…")
        self.tensorboard_action.triggered.connect(self.export_tensorboard_dialog)
        if not tensorboard_available():
            self.tensorboard_action.setEnabled(False)
            self.tensorboard_action.setText("TensorBoard event files (not installed)")
        menu.setToolTipsVisible(True)
        self.tensorboard_action.setToolTip(
            "Write the run's scalars for TensorBoard"
            if tensorboard_available()
            else TENSORBOARD_MISSING
        )
        self.runs_view.export_button.setText("Export")
        self.runs_view.export_button.setMenu(menu)

    def _build_undo_actions(self) -> None:
        for sequence, slot in (
            (QKeySequence.StandardKey.Undo, self.undo_stack.undo),
            (QKeySequence.StandardKey.Redo, self.undo_stack.redo),
            (QKeySequence("F2"), lambda: self._edit_cell("name")),
        ):
            action = QAction(self)
            action.setShortcut(sequence)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    # --- loading --------------------------------------------------------------------------
    def set_project(self, project) -> None:
        self.project = project
        self.undo_stack.clear()
        self.spend_view.set_project(project)
        if self.compare_view is not None:
            self.compare_view.set_project(project)
        self.runs_view.select_runs([])
        self.refresh()
        self.start_estimates()

    def refresh(self, *_args) -> None:
        """Read every run's summary again (a few SQL queries, no run folder)."""
        self.summaries = load_summaries(self.project)
        self.runs_view.set_summaries(self.summaries)
        self.runs_view.show_leftovers(len(leftover_folders(self.project)))
        has_runs = bool(self.summaries)
        if not has_runs and self.stack.currentWidget() is not self.tabs:
            self.stack.setCurrentWidget(self.empty_state)
        elif has_runs:
            self.stack.setCurrentWidget(self.tabs)
        spend = spend_summary(self.project, self.summaries)
        self.spend_view.show_summary(spend)
        budget = f" of {money_text(spend.budget)} budget" if spend.budget is not None else ""
        self.spend_label.setText(
            f"{count_text(spend.runs, 'run')} · {hours_text(spend.gpu_hours)} "
            f"{spend.hours_label} · "
            f"{money_text(spend.compute_cost)}{budget} · expert data work "
            f"{spend.expert_hours:g} h ({money_text(spend.expert_cost)})"
        )
        self._iterate_stale = True
        self._compare_stale = True
        self._on_tab(self.tabs.currentIndex())
        running = any(s.status == RunState.RUNNING for s in self.summaries)
        if running and not self.live_timer.isActive():
            self.live_timer.start()
        elif not running:
            self.live_timer.stop()

    def _changed_elsewhere(self, _subject: str) -> None:
        if self.isVisible():  # a hidden page reads everything again when it is shown
            self.refresh()

    def _live_refresh(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._shown_before:
            # Runs may have been trained or evaluated on other pages meanwhile.
            self.refresh()
        self._shown_before = True

    def start_estimates(self) -> None:
        """Fill the estimated memory and hours of runs that have none, in the background."""
        if self._estimate_task is not None or not runs_without_estimate(self.project):
            return
        project = self.project
        task = BackgroundTask(
            lambda report, cancelled: fill_estimates(project, None, report, cancelled), self
        )
        task.succeeded.connect(
            lambda done: self.refresh() if done and project is self.project else None
        )
        task.finished.connect(self._estimates_done)
        self._estimate_task = task
        task.start()

    def _estimates_done(self) -> None:
        self._estimate_task = None

    # --- tabs -----------------------------------------------------------------------------
    def _on_tab(self, index: int) -> None:
        if index == TAB_COMPARE and self._compare_stale:
            self._ensure_compare_view()
            self.compare_view.show_runs(self.runs_view.selected_summaries())
            self._compare_stale = False
        elif index == TAB_ITERATE and self._iterate_stale:
            self.iterate_view.show_steps(iteration_timeline(self.project, self.summaries))
            self._iterate_stale = False

    def _ensure_compare_view(self):
        if self.compare_view is None:
            self.compare_view = CompareView(self.project)
            self.compare_holder.layout().addWidget(self.compare_view)
        return self.compare_view

    def _on_selection(self, _run_ids: list) -> None:
        self._compare_stale = True
        if self.tabs.currentIndex() == TAB_COMPARE:
            self._on_tab(TAB_COMPARE)

    def compare_runs(self, run_ids: list[str]) -> None:
        """Select these runs (the first is the reference) and show the Compare tab."""
        self.stack.setCurrentWidget(self.tabs)
        self.runs_view.select_runs(run_ids)
        self.tabs.setCurrentIndex(TAB_COMPARE)
        self._on_tab(TAB_COMPARE)

    # --- editing --------------------------------------------------------------------------
    def _edit_cell(self, key: str) -> None:
        ids = self.runs_view.selected_ids()
        if len(ids) != 1:
            return
        row = self.runs_view.model.row_of(ids[0])
        index = self.runs_view.proxy.mapFromSource(self.runs_view.model.index(row, column(key)))
        self.runs_view.table.setCurrentIndex(index)
        self.runs_view.table.edit(index)

    def apply_edit(self, run_id: str, key: str, text: str) -> None:
        """Rename a run or set its note, as one undoable step."""
        if key == "name":
            name = " ".join(text.split())
            if not name:
                self.context.show_status("A run needs a name; the name was not changed.")
                return
            self.undo_stack.push(RenameRunCommand(self.project, run_id, name, self._run_changed))
        elif key == "note":
            self.undo_stack.push(RunNoteCommand(self.project, run_id, text, self._run_changed))

    def _run_changed(self, run_id: str) -> None:
        try:
            fresh = load_summaries(self.project, [run_id])
        except RunNotFound:
            fresh = []
        if fresh:
            self.runs_view.model.replace_summary(fresh[0])
            self.summaries = self.runs_view.model.summaries()
            self._compare_stale = self._iterate_stale = True

    # --- deleting -------------------------------------------------------------------------
    def delete_selected_dialog(self) -> None:
        runs = self.runs_view.selected_summaries()
        if not runs:
            return
        names = "\n".join(f"• {r.name} ({r.status})" for r in runs[:10])
        more = f"\n… and {len(runs) - 10} more" if len(runs) > 10 else ""
        answer = QMessageBox.question(
            self,
            f"Delete {count_text(len(runs), 'run')}?",
            f"{names}{more}\n\nTheir checkpoints, final models, logs and metrics are removed "
            "from disk, with their evaluation results and export records (the eval sets stay). "
            "This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            problems = self.delete_runs([r.run_id for r in runs])
            if problems:
                QMessageBox.warning(self, "Not everything was deleted", "\n\n".join(problems))

    def delete_runs(self, run_ids: list[str]) -> list[str]:
        """Delete runs (rows first, then files); returns what went wrong, if anything."""
        problems = []
        results: list[DeleteResult] = []
        for run_id in run_ids:
            try:
                results.append(delete_run(self.project, run_id))
            except (RunBusy, RunNotFound, ValueError) as error:
                problems.append(str(error))
        problems += [r.problem for r in results if r.problem]
        self.undo_stack.clear()  # undoing a rename of a deleted run cannot work
        self.runs_view.select_runs([])
        self.refresh()
        if results:
            self.context.show_status(f"Deleted {count_text(len(results), 'run')}.")
        return problems

    def clean_leftovers(self) -> None:
        problems = remove_leftover_folders(self.project)
        self.refresh()
        if problems:
            QMessageBox.warning(self, "Some folders could not be removed", "\n".join(problems))

    # --- export ---------------------------------------------------------------------------
    def _single_selected(self) -> RunInfo | None:
        runs = self.runs_view.selected_summaries()
        return runs[0] if len(runs) == 1 else None

    def export_model_dialog(self, run_id: str | None = None):
        """Open the Export dialog for the selected run (non-blocking); returns it."""
        if run_id is None:
            run = self._single_selected()
            if run is None:
                self.context.show_status("Select one run to export its model")
                return None
            run_id = run.run_id
        dialog = ExportDialog(self.context, run_id, self)
        dialog.open()
        return dialog

    def export_csv_dialog(self) -> None:
        run = self._single_selected()
        if run is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the run's metrics", f"{run.run_id}-metrics.csv", "CSV (*.csv)"
        )
        if path:
            self.export_csv(run.run_id, path)

    def export_csv(self, run_id: str, path: str) -> int:
        run = next(s for s in self.summaries if s.run_id == run_id)
        count = write_metrics_csv(run.metrics_path, path)
        self.context.show_status(f"Saved {count} records of {run.name} to {path}")
        return count

    def export_tensorboard_dialog(self) -> None:
        run = self._single_selected()
        if run is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "TensorBoard log folder")
        if not folder:
            return
        try:
            target = write_tensorboard(run.metrics_path, folder, run.run_id)
        except TensorBoardMissing as error:
            QMessageBox.information(self, "TensorBoard is not installed", str(error))
            return
        self.context.show_status(f"TensorBoard events written to {target}")

    # --- the iterate loop -----------------------------------------------------------------
    def draft_from_failures(self, run_id: str) -> DraftsForDataset | None:
        """Open the dataset editor on a new version with the run's failures as drafts;
        returns what was handed over (None when there was nothing to draft)."""
        try:
            request = drafts_from_failures(self.project, run_id)
        except (NothingToDraft, RunNotFound) as error:
            self.iterate_view.show_message(str(error))
            return None
        handoff = request.handoff()
        missing = (
            f" {request.needing_answers} of them need an expert's answer."
            if request.needing_answers
            else ""
        )
        self.iterate_view.show_message(
            f"Opened {len(request.drafts)} drafts in the dataset editor.{missing} Save them as "
            "a new version, then come back and click Train next."
        )
        self.context.navigate("dataset", handoff)
        return handoff

    def train_next_like(self, run_id: str, dataset_version_id: int) -> None:
        """One click: the Train page starts a run like `run_id` on the new version."""
        self.context.navigate(
            "training", train_like_handoff(self.project, run_id, dataset_version_id)
        )

    # --- closing --------------------------------------------------------------------------
    def wait_for_background(self, timeout_ms: int = 60_000) -> None:
        if self._estimate_task is not None:
            wait_for_task(self._estimate_task, timeout_ms)
        if self.compare_view is not None:
            self.compare_view.wait_for_background(timeout_ms)

    def can_close(self) -> bool:
        self.wait_for_background(120_000)
        return True

    def receive(self, _handoff) -> None:
        """No page hands anything to this one; navigating here only shows it."""
