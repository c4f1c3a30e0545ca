"""The Dataset page's "Preference pairs" tab: DPO's data as a list of pairs.

Pairs come from a JSONL file (TRL's formats), from Evaluate's blind A/B ratings (the
preferred answer chosen; ties skipped and counted) or from a saved preference version; the
chosen and rejected answers are edited in place, and "Save version" stores them as the next
immutable version of the preference dataset (core.dataset.preferences_store), which the
Train page offers for a DPO run. Problems show under the list as `data validate` words them;
with the project's Train settings saved and their base model on this machine, pairs longer
than their max_seq_length are found too (counted in the background with that tokenizer).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.dataset.preferences import PreferencePair, answer, read_preference_file, validate_pairs
from core.dataset.preferences_store import (
    load_preference_pairs,
    pending_pairs,
    preference_versions,
    save_preference_version,
    take_pending_pairs,
)
from core.dataset.tokens import load_tokenizer
from core.dataset.versions import DatasetHasErrors
from core.evaluation.ab_pairs import list_pair_sets
from core.evaluation.ab_preferences import preference_pairs_from_ratings
from core.figures import count_text
from core.handoff import RatingsForPreferences
from core.models.registry import resolve_model
from core.recipe.config import TrainConfigError
from core.training.project_settings import load_train_settings
from desktop.background import BackgroundTask
from desktop.theme import BAD, status_color

PROMPT_COLUMN, CHOSEN_COLUMN, REJECTED_COLUMN = 0, 1, 2
PAIR_ROLE = Qt.ItemDataRole.UserRole  # a problem's pair row (None: a skipped file line)
EMPTY_TEXT = (
    "No preference pairs yet.\n\n"
    "DPO learns from judgments: for one prompt, an answer you prefer (chosen) and one you "
    "do not (rejected). Get pairs from:\n"
    "•  Evaluate's blind A/B ratings: pick the rated set above and press Add from A/B "
    "ratings (or Make preference pairs on the Evaluate page);\n"
    "•  answers you corrected in Chat: your answer is chosen, the model's rejected;\n"
    "•  a JSONL file with prompt, chosen and rejected (Import JSONL…).\n\n"
    "Then Save version, and pick the version on the Train page with the stage set to dpo."
)


class PreferencePanel(QWidget):
    """A list of preference pairs with their sources, edits and versions."""

    version_saved = Signal(int)
    changed = Signal()  # the pairs or their saved state changed (the page header words them)
    lengths_checked = Signal()  # the pairs' token lengths were counted against max_seq_length

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self._pairs: list[PreferencePair] = []
        # The version the list is, unchanged ("preferences v2"); None once edited.
        self._saved_as: str | None = None
        self._filling = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)

        sources = QHBoxLayout()
        self.version_combo = QComboBox()
        self.version_combo.setToolTip("Open a saved preference version to view or edit it.")
        self.version_combo.activated.connect(self._open_chosen_version)
        sources.addWidget(QLabel("Open:"))
        sources.addWidget(self.version_combo, 1)
        self.import_button = QPushButton("Import JSONL…")
        self.import_button.setToolTip(
            "Add pairs from a file: TRL's prompt/chosen/rejected lines, or chosen and rejected "
            "whole conversations that differ only in the last answer."
        )
        self.import_button.clicked.connect(self._ask_import)
        sources.addWidget(self.import_button)
        self.ratings_combo = QComboBox()
        self.ratings_combo.setToolTip("A blind A/B pair set rated on the Evaluate page.")
        sources.addWidget(self.ratings_combo)
        self.ratings_button = QPushButton("Add from A/B ratings")
        self.ratings_button.setToolTip(
            "The answer the raters preferred becomes chosen, the other rejected; ties and "
            "split votes teach no preference and are skipped."
        )
        self.ratings_button.clicked.connect(self._add_chosen_ratings)
        sources.addWidget(self.ratings_button)
        self.chat_button = QPushButton("Add Chat corrections")
        self.chat_button.setToolTip(
            "Answers you corrected in Chat: your answer chosen, the model's own rejected."
        )
        self.chat_button.clicked.connect(self.add_chat_corrections)
        sources.addWidget(self.chat_button)
        layout.addLayout(sources)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Prompt", "Chosen (preferred)", "Rejected"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemChanged.connect(self._on_edit)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        # With no pairs the table's place says what pairs are and where they come from.
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("preferencesEmptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); font-size: 14px;")
        self.empty_label.setMaximumWidth(720)  # a readable column, its bullets lined up
        empty_page = QWidget()
        centred = QVBoxLayout(empty_page)
        centred.addWidget(self.empty_label, 0, Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(empty_page)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack, 1)

        # Every problem, one a line; a click selects its pair. Skipped file lines stay
        # listed until the next import, so the user can fix the file.
        self.problems = QListWidget()
        self.problems.setObjectName("preferenceProblems")
        self.problems.setToolTip(
            "What stops these pairs from being saved, and the lines of an imported file "
            "that could not be read. Click a problem to select its pair."
        )
        self.problems.setWordWrap(True)
        self.problems.setMaximumHeight(120)
        self.problems.itemClicked.connect(self._problem_clicked)
        self.problems.hide()
        layout.addWidget(self.problems)
        self._file_findings: list = []
        # Pairs longer than the Train settings' max_seq_length (counted in the background).
        self._length_findings: list = []
        self._length_task: BackgroundTask | None = None
        self._count_again = False
        self._tokenizers: dict[str, object] = {}  # base model name -> its loaded tokenizer

        bottom = QHBoxLayout()
        self.status = QLabel()
        self.status.setWordWrap(True)
        bottom.addWidget(self.status, 1)
        self.delete_button = QPushButton("Delete pair")
        self.delete_button.setShortcut("Ctrl+Shift+Backspace")
        self.delete_button.setToolTip("Delete the selected pairs (Ctrl+Shift+Backspace).")
        self.delete_button.clicked.connect(self.delete_selected)
        self.delete_button.setEnabled(False)
        bottom.addWidget(self.delete_button)
        self.name_edit = QLineEdit("preferences")
        self.name_edit.setToolTip("The preference dataset the pairs are saved into.")
        self.name_edit.setMaximumWidth(180)
        bottom.addWidget(QLabel("Dataset:"))
        bottom.addWidget(self.name_edit)
        self.save_button = QPushButton("Save version")
        self.save_button.setToolTip(
            "Save the pairs as the next version of the dataset; the Train page offers it "
            "for a DPO run."
        )
        self.save_button.clicked.connect(self.save_version)
        bottom.addWidget(self.save_button)
        layout.addLayout(bottom)
        self.refresh_sources()
        self._show_pairs()

    # --- sources ----------------------------------------------------------------------
    def set_project(self, project) -> None:
        self.project = project
        self._pairs = []
        self._saved_as = None
        self.refresh_sources()
        self._show_pairs()

    def refresh_sources(self) -> None:
        self.version_combo.clear()
        versions = preference_versions(self.project) if self.project is not None else []
        if not versions:
            self.version_combo.addItem("no preference versions saved yet", None)
        for version in reversed(versions):
            self.version_combo.addItem(
                f"{version.dataset} {version.label} · {version.n_examples:,} pairs", version.id
            )
        self.ratings_combo.clear()
        pair_sets = list_pair_sets(self.project) if self.project is not None else []
        for pair_set in pair_sets:
            models = f"{pair_set.label_a} vs {pair_set.label_b}"
            name = pair_set.name if pair_set.name == models else f"{pair_set.name}: {models}"
            self.ratings_combo.addItem(f"{name} (#{pair_set.id})", pair_set.id)
        waiting = len(pending_pairs(self.project)) if self.project is not None else 0
        self.chat_button.setEnabled(bool(waiting))
        self.chat_button.setText(
            f"Add {count_text(waiting, 'Chat correction')}"
            if waiting
            else "No Chat corrections yet"
        )
        self.ratings_combo.setEnabled(bool(pair_sets))
        self.ratings_button.setEnabled(bool(pair_sets))
        if not pair_sets:
            self.ratings_combo.addItem("no A/B ratings yet (Evaluate page)")

    def open_version(self, version_id: int) -> None:
        version = next(v for v in preference_versions(self.project) if v.id == version_id)
        train, valid = load_preference_pairs(version)
        self._pairs = train + valid
        self._saved_as = f"{version.dataset} {version.label}"
        self.name_edit.setText(version.dataset)
        self._show_pairs(f"Opened {version.dataset} {version.label}.")

    def receive(self, handoff) -> None:
        """Evaluate's Make preference pairs: the rated pair set's decided pairs, added."""
        if isinstance(handoff, RatingsForPreferences):
            self.refresh_sources()
            index = self.ratings_combo.findData(handoff.pair_set_id)
            if index >= 0:
                self.ratings_combo.setCurrentIndex(index)
            self.add_from_ratings(handoff.pair_set_id)

    def import_file(self, path: str | Path) -> str:
        read = read_preference_file(path)
        name = Path(path).name
        # "line 7" alone is ambiguous once pairs from several files sit in one list.
        added = self.add_pairs([replace(p, source=f"{name} {p.source}") for p in read.pairs])
        skipped = [f for f in read.findings if f.is_error]
        self._file_findings = [(name, f) for f in skipped]
        message = f"Added {count_text(added, 'pair')} from {name}{_repeats(read.pairs, added)}."
        if skipped:
            message += (
                f" {count_text(len(skipped), 'line')} of the file could not be read and "
                "{} skipped (listed below).".format("was" if len(skipped) == 1 else "were")
            )
        self._show_pairs(message)
        return message

    def add_from_ratings(self, pair_set_id: int) -> str:
        rated = preference_pairs_from_ratings(self.project, pair_set_id)
        added = self.add_pairs(rated.pairs)
        message = (
            f"Added {count_text(added, 'pair')} from the A/B ratings"
            f"{_repeats(rated.pairs, added)}; "
            f"{count_text(rated.ties, 'tie')} skipped"
            + (f", {count_text(rated.unrated, 'pair')} not rated yet." if rated.unrated else ".")
        )
        self._show_pairs(message)
        return message

    def add_chat_corrections(self) -> str:
        pairs = take_pending_pairs(self.project)
        added = self.add_pairs(pairs)
        self.refresh_sources()
        message = (
            f"Added {count_text(added, 'pair')} from answers corrected in Chat"
            f"{_repeats(pairs, added)}."
        )
        self._show_pairs(message)
        return message

    def add_pairs(self, pairs: list[PreferencePair]) -> int:
        """Add the pairs not in the list yet; how many were new. The same judgment twice
        (a file imported again, the ratings added twice) would count double in DPO."""
        seen = {_judgment(p) for p in self._pairs}
        new = []
        for pair in pairs:
            if _judgment(pair) not in seen:
                seen.add(_judgment(pair))
                new.append(pair)
        self._pairs.extend(new)
        if new:
            self._saved_as = None
        self._show_pairs()
        return len(new)

    # --- the list ---------------------------------------------------------------------
    def pairs(self) -> list[PreferencePair]:
        return list(self._pairs)

    def delete_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            del self._pairs[row]
        if rows:
            self._saved_as = None
        self._show_pairs(f"Deleted {count_text(len(rows), 'pair')}." if rows else "")

    def save_version(self):
        name = self.name_edit.text().strip() or "preferences"
        try:
            version = save_preference_version(self.project, name, self._pairs)
        except DatasetHasErrors as error:
            self.status.setText(f"Not saved: {error.findings[0].message}")
            return None
        self._file_findings = []
        self._saved_as = f"{version.dataset} {version.label}"
        self._show_problems([])
        self.refresh_sources()
        self.status.setText(
            f"Saved {version.dataset} {version.label}: {version.n_train} training and "
            f"{version.n_valid} validation pairs."
        )
        self.version_saved.emit(version.id)
        self.changed.emit()
        return version

    def _show_pairs(self, message: str = "") -> None:
        self._filling = True
        self.table.setRowCount(len(self._pairs))
        for row, pair in enumerate(self._pairs):
            prompt = QTableWidgetItem(pair.prompt_text)
            prompt.setFlags(prompt.flags() & ~Qt.ItemFlag.ItemIsEditable)
            prompt.setToolTip(
                "\n\n".join(f"{m['role']}: {m['content']}" for m in pair.prompt)
                + (f"\n\n(from {pair.source})" if pair.source else "")
            )
            self.table.setItem(row, PROMPT_COLUMN, prompt)
            self.table.setItem(row, CHOSEN_COLUMN, QTableWidgetItem(pair.chosen_text))
            self.table.setItem(row, REJECTED_COLUMN, QTableWidgetItem(pair.rejected_text))
        self._filling = False
        self.table.resizeRowsToContents()
        self.stack.setCurrentIndex(1 if self._pairs else 0)
        self._update_status(message)

    def _on_edit(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() == PROMPT_COLUMN:
            return
        pair = self._pairs[item.row()]
        side = answer(item.text())
        if item.column() == CHOSEN_COLUMN:
            pair = PreferencePair(pair.prompt, side, pair.rejected, pair.source)
        else:
            pair = PreferencePair(pair.prompt, pair.chosen, side, pair.source)
        self._pairs[item.row()] = pair
        self._saved_as = None
        self._update_status()

    def _update_status(self, message: str = "") -> None:
        self._length_findings = []  # for other pairs: counted again below
        self._check_lengths()
        self._show_status(message)

    def _show_status(self, message: str = "") -> None:
        findings = validate_pairs(self._pairs)
        parts = [message] if message else []
        if self._pairs:
            parts.append(count_text(len(self._pairs), "pair"))
            if findings:
                parts.append(
                    f"{count_text(len(findings), 'problem')} to fix before saving (listed "
                    "below: edit a side in the table, or select the pair and Delete pair)"
                )
        self.status.setText(" · ".join(parts))
        self.save_button.setEnabled(bool(self._pairs) and not findings)
        # Too long is a warning (the end of an answer is cut), listed but not blocking.
        self._show_problems(findings + self._length_findings)
        self.changed.emit()

    # --- lengths against the Train settings ---------------------------------------------
    def _length_settings(self) -> tuple[str, int] | None:
        """(base model, max_seq_length) of the project's saved Train settings, if any."""
        try:
            config = load_train_settings(self.project) if self.project is not None else None
        except TrainConfigError:
            return None  # the Train page says what is wrong with them
        return (config.base_model, config.max_seq_length) if config is not None else None

    def _check_lengths(self) -> None:
        """Count the pairs' tokens with the Train settings' base model, off the GUI thread,
        through the same check as `data validate --max-seq-len --tokenizer`."""
        settings = self._length_settings()
        if settings is None or not self._pairs:
            return
        if self._length_task is not None:
            self._count_again = True
            self._length_task.cancel()
            return  # its end counts again
        model, limit = settings
        pairs, project, tokenizers = list(self._pairs), self.project, self._tokenizers

        def count(_report, _cancelled):
            if model not in tokenizers:  # a base model not on this machine: nothing counted
                tokenizers[model] = load_tokenizer(resolve_model(model, project).path)
            findings = validate_pairs(pairs, tokenizer=tokenizers[model], max_seq_length=limit)
            return pairs, [f for f in findings if f.code == "preference_too_long"]

        task = BackgroundTask(count, self, name="finetune-studio-pair-lengths")
        task.succeeded.connect(self._lengths_counted)
        task.failed.connect(lambda _message: None)  # no tokenizer here: the run counts later
        task.finished.connect(self._length_task_ended)
        self._length_task = task
        task.start()

    def _lengths_counted(self, counted) -> None:
        pairs, findings = counted
        if pairs == self._pairs:  # not edited meanwhile
            self._length_findings = findings
            self._show_status()
            self.lengths_checked.emit()

    def _length_task_ended(self) -> None:
        self._length_task = None
        if self._count_again:
            self._count_again = False
            self._check_lengths()

    def wait_for_lengths(self) -> None:
        """End the count (closing the page or the app)."""
        self._count_again = False
        task = self._length_task
        if task is not None:
            task.cancel()
            task.wait()

    def state_line(self) -> str:
        """The pairs' count and whether they are saved, for the page's header."""
        if not self._pairs:
            return "For DPO training · none yet: add pairs with the buttons below"
        pairs = f"{count_text(len(self._pairs), 'pair')} for DPO training"
        if self._saved_as is not None:
            return f"{pairs} · saved as {self._saved_as}"
        return f"{pairs} · not saved yet (Save version, below)"

    def _show_problems(self, findings) -> None:
        """Every problem a line, naming the pair (and the file line it came from); rows
        with a problem tinted, so the user sees which to fix without reading them all."""
        self.problems.clear()
        bad_rows = set()
        for finding in findings:
            row = finding.example
            bad_rows.add(row)
            source = self._pairs[row].source
            # validate_pairs says "Pair N: ..."; the list adds where the pair came from.
            what = finding.message.partition(": ")[2] or finding.message
            text = f"Pair {row + 1}" + (f" ({source})" if source else "") + f": {what}"
            item = QListWidgetItem(f"{text} Fix: {finding.fix}" if finding.fix else text)
            item.setData(PAIR_ROLE, row)
            self.problems.addItem(item)
        for name, finding in self._file_findings:
            item = QListWidgetItem(f"{name}, not imported: {finding.message} Fix: {finding.fix}")
            item.setData(PAIR_ROLE, None)
            self.problems.addItem(item)
        self.problems.setVisible(self.problems.count() > 0)
        tint = QColor(status_color(BAD))
        tint.setAlpha(40)
        self._filling = True
        for row in range(self.table.rowCount()):
            for column in range(self.table.columnCount()):
                item = self.table.item(row, column)
                if item is not None:
                    item.setBackground(QBrush(tint) if row in bad_rows else QBrush())
        self._filling = False

    def _problem_clicked(self, item: QListWidgetItem) -> None:
        row = item.data(PAIR_ROLE)
        if row is not None and 0 <= row < self.table.rowCount():
            self.table.selectRow(row)
            self.table.scrollToItem(self.table.item(row, CHOSEN_COLUMN))

    def _selection_changed(self) -> None:
        self.delete_button.setEnabled(bool(self.table.selectedIndexes()))

    # --- buttons ----------------------------------------------------------------------
    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import preference pairs", "", "JSON Lines (*.jsonl);;All files (*)"
        )
        if path:
            self.import_file(path)

    def _add_chosen_ratings(self) -> None:
        pair_set_id = self.ratings_combo.currentData()
        if pair_set_id is not None:
            self.add_from_ratings(int(pair_set_id))

    def _open_chosen_version(self, _index: int) -> None:
        version_id = self.version_combo.currentData()
        if version_id is not None:
            self.open_version(int(version_id))


def _judgment(pair: PreferencePair) -> str:
    """What a pair says, whatever its source: the prompt, the chosen and the rejected."""
    return json.dumps([pair.prompt, pair.chosen, pair.rejected], sort_keys=True)


def _repeats(pairs: list, added: int) -> str:
    repeated = len(pairs) - added
    return f" ({count_text(repeated, 'pair')} already in the list, skipped)" if repeated else ""
