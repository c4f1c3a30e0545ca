"""The blind A/B rating view: choose or create a pair set, give your name, rate pair by pair.

Which model wrote answer A is drawn per pair by the core and never shown here; the
results panel names the models "Model 1" and "Model 2" until the user reveals them
(the exported report always names them).
"""

from __future__ import annotations

import getpass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.ab_pairs import (
    BlindPair,
    RatingError,
    blind_pairs,
    create_pair_set,
    get_rating,
    list_pair_sets,
    rated_pair_ids,
    record_rating,
)
from core.evaluation.ab_results import ab_summary, majority_picks
from core.evaluation.store import list_eval_sets, list_runs
from desktop.evaluation.ab_summary_html import summary_html
from desktop.evaluation.rating_card import RatingCard
from desktop.settings import app_settings
from desktop.theme import MUTED, status_color

RATER_SETTING = "evaluation/rater"
DEFAULT_PAIRS = 50
NEEDS_RESULTS_TEXT = (
    "Blind rating compares two evaluated models on the same prompts: a rater sees one prompt "
    "and two anonymous answers in random order, scores each and picks the better one.\n\n"
    "Evaluate the baseline and a fine-tuned run on the Compare tab first."
)


def _default_rater() -> str:
    stored = app_settings().value(RATER_SETTING, "")
    if stored:
        return str(stored)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class ABRatingView(QWidget):
    status = Signal(str)
    ratings_changed = Signal()
    pair_sets_changed = Signal(int)  # the new pair set's id
    preference_pairs_requested = Signal(int)  # a rated pair set's id, for DPO pairs

    def __init__(self, project) -> None:
        super().__init__()
        self.project = project
        self.pairs: list[BlindPair] = []
        self.position = 0
        self.revealed: set[int] = set()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 6, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)
        self.empty_label = QLabel(NEEDS_RESULTS_TEXT)
        self.empty_label.setObjectName("abEmptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); font-size: 14px;")
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self._rating_area())
        self.refresh()

    def _rating_area(self) -> QWidget:
        area = QWidget()
        layout = QVBoxLayout(area)
        layout.setContentsMargins(0, 0, 0, 0)

        create_row = QHBoxLayout()
        self.first_combo = QComboBox()
        self.second_combo = QComboBox()
        for combo in (self.first_combo, self.second_combo):
            combo.setToolTip("An evaluated model; both must be evaluated on the same eval set")
            combo.setMinimumWidth(160)
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 1000)
        self.count_spin.setValue(DEFAULT_PAIRS)
        self.count_spin.setToolTip("How many prompts to rate, drawn at random from the eval set")
        self.create_button = QPushButton("Create pairs")
        self.create_button.setToolTip(
            "Shuffle the prompts and draw, per pair, which model's answer is shown as A"
        )
        self.create_button.clicked.connect(self._create_clicked)
        create_row.addWidget(QLabel("New pairs:"))
        create_row.addWidget(self.first_combo, 1)
        create_row.addWidget(QLabel("against"))
        create_row.addWidget(self.second_combo, 1)
        create_row.addWidget(self.count_spin)
        create_row.addWidget(self.create_button)
        layout.addLayout(create_row)

        choose_row = QHBoxLayout()
        self.pair_set_combo = QComboBox()
        self.pair_set_combo.setObjectName("pairSetCombo")
        self.pair_set_combo.setToolTip("The set of pairs to rate; several raters can rate one set")
        self.rater_edit = QLineEdit(_default_rater())
        self.rater_edit.setObjectName("raterName")
        self.rater_edit.setPlaceholderText("Your name")
        self.rater_edit.setToolTip(
            "Ratings are kept per rater, so several people can rate the same pairs and their "
            "agreement can be measured"
        )
        self.rater_edit.setMaximumWidth(200)
        choose_row.addWidget(QLabel("Rate:"))
        choose_row.addWidget(self.pair_set_combo, 2)
        choose_row.addWidget(QLabel("Rater"))
        choose_row.addWidget(self.rater_edit)
        layout.addLayout(choose_row)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.card = RatingCard()
        self.card.next_requested.connect(self.save_and_next)
        self.card.back_requested.connect(self.back)
        splitter.addWidget(self.card)
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(6, 0, 0, 0)
        title = QLabel("Results")
        title.setStyleSheet("font-weight: 600; font-size: 14px;")
        self.results_view = QTextBrowser()
        self.results_view.setObjectName("abResults")
        self.results_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        buttons = QHBoxLayout()
        self.show_results_button = QPushButton("Show results now")
        self.show_results_button.setToolTip(
            "Results appear by themselves once you have rated every pair"
        )
        self.show_results_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.show_results_button.clicked.connect(lambda: self.update_results(force=True))
        self.reveal_button = QPushButton("Reveal the models")
        self.reveal_button.setToolTip(
            "Name Model 1 and Model 2. Do this only when every rater is done: knowing which "
            "model is which biases the ratings"
        )
        self.reveal_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reveal_button.clicked.connect(self.reveal)
        self.preferences_button = QPushButton("Make preference pairs…")
        self.preferences_button.setObjectName("makePreferencePairs")
        self.preferences_button.setToolTip(
            "Turn the rated pairs into DPO training data on the Dataset page (Preference "
            "pairs tab): the answer the raters preferred is chosen, the other rejected; ties "
            "are skipped. Enabled once a pair is rated"
        )
        self.preferences_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.preferences_button.setEnabled(False)
        self.preferences_button.clicked.connect(self._preference_pairs_clicked)
        buttons.addWidget(self.show_results_button)
        buttons.addWidget(self.reveal_button)
        buttons.addStretch(1)
        buttons.addWidget(self.preferences_button)
        results_layout.addWidget(title)
        results_layout.addWidget(self.results_view, 1)
        results_layout.addLayout(buttons)
        splitter.addWidget(results)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([620, 440])
        layout.addWidget(splitter, 1)

        self.pair_set_combo.currentIndexChanged.connect(self._load_pair_set)
        self.rater_edit.editingFinished.connect(self._rater_changed)
        self.rater_edit.returnPressed.connect(self.card.setFocus)
        return area

    # Filling -----------------------------------------------------------------------
    def refresh(self, project=None) -> None:
        if project is not None:
            self.project = project
            self.revealed.clear()
        runs = [r for r in list_runs(self.project) if r.status == "complete"]
        task_sets = {s for s in self._task_set_ids()}
        runs = [r for r in runs if r.eval_set_id in task_sets]
        self.stack.setCurrentIndex(1 if len(runs) >= 2 else 0)
        for combo in (self.first_combo, self.second_combo):
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for run in runs:
                combo.addItem(f"{run.label} (#{run.id}, {run.created_at[:10]})", run.id)
            if keep is not None and combo.findData(keep) >= 0:
                combo.setCurrentIndex(combo.findData(keep))
            combo.blockSignals(False)
        if self.second_combo.currentIndex() < 0 or (
            self.first_combo.currentData() == self.second_combo.currentData()
        ):
            self.first_combo.setCurrentIndex(0)
            self.second_combo.setCurrentIndex(self.second_combo.count() - 1)
        self._fill_pair_sets()

    def _task_set_ids(self) -> set[int]:
        return {s.id for s in list_eval_sets(self.project, purpose="task")}

    def _fill_pair_sets(self, select: int | None = None) -> None:
        keep = select if select is not None else self.pair_set_combo.currentData()
        self.pair_set_combo.blockSignals(True)
        self.pair_set_combo.clear()
        for pair_set in reversed(list_pair_sets(self.project)):
            self.pair_set_combo.addItem(
                f"{pair_set.name} — {pair_set.n_pairs} pairs (#{pair_set.id})", pair_set.id
            )
        if keep is not None and self.pair_set_combo.findData(keep) >= 0:
            self.pair_set_combo.setCurrentIndex(self.pair_set_combo.findData(keep))
        self.pair_set_combo.blockSignals(False)
        self._load_pair_set()

    def suggest_pair(self, first_run_id: int, second_run_id: int) -> None:
        """Preselect two results (the page passes the baseline and the newest candidate)."""
        for combo, run_id in ((self.first_combo, first_run_id), (self.second_combo, second_run_id)):
            index = combo.findData(run_id)
            if index >= 0:
                combo.setCurrentIndex(index)

    def create_pairs(
        self, first_run_id: int, second_run_id: int, count: int | None = None
    ) -> str | None:
        """Create and select a pair set; what went wrong, or None."""
        try:
            pair_set_id = create_pair_set(
                self.project, first_run_id, second_run_id, limit=count or None
            )
        except (RatingError, LookupError) as error:
            return str(error)
        self._fill_pair_sets(select=pair_set_id)
        self.pair_sets_changed.emit(pair_set_id)
        self.status.emit("Pairs created. Rate them with the keys shown under the answers.")
        self.card.setFocus()
        return None

    def _create_clicked(self) -> None:
        problem = self.create_pairs(
            self.first_combo.currentData(), self.second_combo.currentData(), self.count_spin.value()
        )
        if problem:
            self.card.say(problem)

    # Rating --------------------------------------------------------------------------
    @property
    def pair_set_id(self) -> int | None:
        return self.pair_set_combo.currentData()

    @property
    def rater(self) -> str:
        return self.rater_edit.text().strip()

    def _rater_changed(self) -> None:
        if self.rater:
            app_settings().setValue(RATER_SETTING, self.rater)
        self._load_pair_set()

    def _load_pair_set(self, *_args) -> None:
        self.pairs = blind_pairs(self.project, self.pair_set_id) if self.pair_set_id else []
        if not self.pairs:
            self.card.show_pair(None, None, "")
            self.card.say(
                "Create pairs to start rating: choose two evaluated models above and press "
                "Create pairs."
                if self.stack.currentIndex() == 1
                else ""
            )
            self.results_view.setHtml("")
            return
        done = self._rated_ids()
        first_open = next((n for n, p in enumerate(self.pairs) if p.id not in done), None)
        self.go_to(len(self.pairs) - 1 if first_open is None else first_open)
        self.update_results()

    def _rated_ids(self) -> set[int]:
        if not self.rater or self.pair_set_id is None:
            return set()
        return rated_pair_ids(self.project, self.pair_set_id, self.rater)

    def go_to(self, position: int) -> None:
        self.position = max(0, min(position, len(self.pairs) - 1))
        pair = self.pairs[self.position]
        rating = get_rating(self.project, pair.id, self.rater) if self.rater else None
        done = len(self._rated_ids())
        self.card.show_pair(
            pair,
            rating,
            f"Pair {self.position + 1} of {len(self.pairs)} · you have rated {done}",
        )
        self.card.back_button.setEnabled(self.position > 0)

    def save_and_next(self) -> bool:
        """Store the card's rating and show the next pair; False when it could not be saved."""
        if not self.pairs:
            return False
        if not self.rater:
            self.card.say("Type your name in Rater first, so your ratings stay apart from others'.")
            self.rater_edit.setFocus()
            return False
        rating = self.card.rating()
        if rating.pick is None:
            self.card.say("Pick the better answer first: A, B or T (tie).")
            return False
        try:
            record_rating(self.project, self.pairs[self.position].id, self.rater, rating)
        except (RatingError, LookupError) as error:
            self.card.say(str(error))
            return False
        self.ratings_changed.emit()
        done = self._rated_ids()
        finished = len(done) >= len(self.pairs)
        later_open = next(
            (n for n in range(self.position + 1, len(self.pairs)) if self.pairs[n].id not in done),
            None,
        )
        if later_open is not None:
            self.go_to(later_open)
        elif self.position < len(self.pairs) - 1:
            self.go_to(self.position + 1)
        else:
            self.go_to(self.position)
        if finished:
            self.card.say(
                f"All {len(self.pairs)} pairs rated. The results are on the right; Make "
                "preference pairs turns your picks into DPO training data."
            )
        self.update_results()
        self.card.setFocus()
        return True

    def back(self) -> None:
        if self.position > 0:
            self.go_to(self.position - 1)

    # Results --------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return bool(self.pairs) and len(self._rated_ids()) >= len(self.pairs)

    def _preference_pairs_clicked(self) -> None:
        if self.pair_set_id is not None:
            self.preference_pairs_requested.emit(int(self.pair_set_id))

    def update_results(self, force: bool = False) -> None:
        self.preferences_button.setEnabled(
            self.pair_set_id is not None and bool(majority_picks(self.project, self.pair_set_id))
        )
        if self.pair_set_id is None:
            self.results_view.setHtml("")
            return
        if not (force or self.finished):
            done = len(self._rated_ids())
            self.results_view.setHtml(
                f"<p style='color:{status_color(MUTED)}'>The win rates appear when you have rated every pair "
                f"({done} of {len(self.pairs)} so far), so they cannot sway your next ratings."
                "</p>"
            )
            return
        summary = ab_summary(self.project, self.pair_set_id)
        self.results_view.setHtml(summary_html(summary, self.pair_set_id in self.revealed))

    def reveal(self) -> None:
        if self.pair_set_id is not None:
            self.revealed.add(self.pair_set_id)
            self.update_results(force=True)

    def is_revealed(self, pair_set_id: int) -> bool:
        return pair_set_id in self.revealed
