"""The Statistics tab: counts, role mix, and the token-length histogram with the cut-off line.

Token lengths are counted in the background, with the chosen base model's tokenizer and
chat template, or estimated (~4 characters per token) when no model is chosen or ready.
Examples right of the red max_seq_length line would be cut during training.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.dataset.model import Dataset
from core.dataset.stats import dataset_statistics
from core.dataset.tokens import load_tokenizer, tokenizer_name
from core.models.registry import list_base_models
from desktop.background import BackgroundTask
from desktop.dataset.editor import DatasetEditor, snapshot, wait_for_task
from desktop.theme import ACCENT, BAD, status_color

DEFAULT_MAX_SEQ_LENGTH = 2048  # the guide's starting configuration
ESTIMATE = "estimate"
HISTOGRAM_BINS = 64


def panel_statistics(dataset: Dataset, tokenizer_source=None, report=None, cancelled=None) -> dict:
    """The core statistics (core.dataset.stats) plus the review progress the panel shows."""
    tokenizer = None if tokenizer_source in (None, ESTIMATE) else tokenizer_source
    stats = dataset_statistics(dataset, tokenizer, progress=report, cancelled=cancelled)
    stats["reviewed"] = sum(1 for example in dataset.examples if example.reviewed)
    stats["messages"] = sum(stats["roles"].values())
    stats["counted_with"] = None if tokenizer is None else tokenizer_name(load_tokenizer(tokenizer))
    return stats


class StatsPanel(QWidget):
    # (tokenizer folder or None for estimates, max_seq_length): the checks use them too
    length_settings_changed = Signal(object, int)

    def __init__(self, editor: DatasetEditor) -> None:
        super().__init__()
        self.editor = editor
        self.stats: dict | None = None
        self._task: BackgroundTask | None = None
        self._count_again = False
        self._stale = True
        self._computed_revision = -1
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        side = QVBoxLayout()
        numbers = QGroupBox("The dataset")
        self.form = QFormLayout(numbers)
        self.labels: dict[str, QLabel] = {}
        for key, title in (
            ("examples", "Examples"),
            ("messages", "Messages"),
            ("roles", "By role"),
            ("turns", "Conversations"),
            ("formats", "Reply formats"),
            ("systems", "System prompts"),
            ("reviewed", "Reviewed"),
            ("tokens", "Tokens, all examples"),
            ("median", "Median length"),
            ("longest", "Longest"),
            ("over", "Cut by max length"),
        ):
            label = QLabel("–")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[key] = label
            self.form.addRow(title, label)
        self.labels["tokens"].setToolTip(
            "Tokens in every example together; one epoch reads the training share of them "
            "(the rest is held out for validation)"
        )
        side.addWidget(numbers)

        settings = QGroupBox("Token lengths")
        settings_form = QFormLayout(settings)
        self.tokenizer_box = QComboBox()
        self.tokenizer_box.setToolTip(
            "Count with a base model's tokenizer and chat template, or estimate quickly"
        )
        settings_form.addRow("Count with", self.tokenizer_box)
        self.max_len_box = QSpinBox()
        self.max_len_box.setRange(16, 262_144)
        self.max_len_box.setSingleStep(256)
        self.max_len_box.setValue(DEFAULT_MAX_SEQ_LENGTH)
        self.max_len_box.setToolTip(
            "max_seq_length: training cuts longer examples here, so the end of their reply is lost"
        )
        self.max_len_box.valueChanged.connect(self._max_len_changed)
        settings_form.addRow("max_seq_length", self.max_len_box)
        self.refresh_button = QPushButton("Count again")
        self.refresh_button.clicked.connect(self.refresh)
        settings_form.addRow("", self.refresh_button)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(placeholder-text);")
        settings_form.addRow(self.status)
        side.addWidget(settings)
        side.addStretch(1)
        holder = QWidget()
        holder.setLayout(side)
        holder.setMaximumWidth(360)
        layout.addWidget(holder)

        self.plot = pg.PlotWidget(background=None)
        self.plot.setLabel("bottom", "tokens per example")
        self.plot.setLabel("left", "examples")
        self.plot.setTitle("How long the examples are")
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        self.plot.setMouseEnabled(x=True, y=False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=1, brush=ACCENT, pen=pg.mkPen(ACCENT))
        self.plot.addItem(self.bars)
        self.max_line = pg.InfiniteLine(
            pos=DEFAULT_MAX_SEQ_LENGTH,
            angle=90,
            pen=pg.mkPen(status_color(BAD), width=2, style=Qt.PenStyle.DashLine),
            label="max_seq_length",
            labelOpts={"position": 0.92, "color": status_color(BAD)},
        )
        self.plot.addItem(self.max_line)
        layout.addWidget(self.plot, 1)

        self.tokenizer_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.tokenizer_box.currentIndexChanged.connect(lambda _i: self._announce_settings())
        editor.edited.connect(self._mark_stale)
        editor.reset.connect(self._fill_tokenizers)
        self._fill_tokenizers()

    def _fill_tokenizers(self) -> None:
        self.tokenizer_box.blockSignals(True)
        current = self.tokenizer_box.currentData()
        self.tokenizer_box.clear()
        self.tokenizer_box.addItem("Estimate (4 chars ≈ 1 token)", ESTIMATE)
        try:
            models = list_base_models(self.editor.project)
        except Exception:  # a broken registry must not hide the statistics
            models = []
        for model in models:
            if model.path is not None:
                self.tokenizer_box.addItem(f"{model.name} tokenizer", str(model.path))
        index = self.tokenizer_box.findData(current) if current is not None else 0
        self.tokenizer_box.setCurrentIndex(max(index, 0))
        self.tokenizer_box.blockSignals(False)
        self._mark_stale()

    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.status.setText("The examples changed: “Count again” to update.")

    def refresh_if_stale(self) -> None:
        if self._stale or self._computed_revision != self.editor.revision:
            self.refresh()

    def refresh(self) -> None:
        dataset = self.editor.dataset
        if dataset is None:
            self.stats = None
            self._draw()
            return
        if self._task is not None:
            self._task.cancel()
            self._count_again = True
            return  # its finish starts the next count
        snap = snapshot(dataset)
        source = self.tokenizer_box.currentData()
        revision = self.editor.revision
        self._task = BackgroundTask(
            lambda report, cancelled: panel_statistics(snap, source, report, cancelled), self
        )
        self._task.progress.connect(lambda f, m: self.status.setText(f"{m} ({f:.0%})"))
        self._task.succeeded.connect(lambda stats: self._take(stats, revision))
        self._task.failed.connect(
            lambda message: self.status.setText(f"Could not count: {message}")
        )
        self._task.finished.connect(self._finished)
        self.status.setText("Counting…")
        self.refresh_button.setEnabled(False)
        self._task.start()

    def _finished(self) -> None:
        self._task = None
        self.refresh_button.setEnabled(True)
        if self._count_again:
            self._count_again = False
            self.refresh()

    def _take(self, stats: dict, revision: int) -> None:
        self.stats = stats
        self._stale = revision != self.editor.revision
        self._computed_revision = revision
        self._draw()

    def wait(self, timeout_ms: int = 60_000) -> None:
        wait_for_task(self._task, timeout_ms)

    def stop(self) -> None:
        self._count_again = False
        if self._task is not None:
            self._task.cancel()
            wait_for_task(self._task)

    def _max_len_changed(self, value: int) -> None:
        self.max_line.setValue(value)
        self._draw()
        self._announce_settings()

    def tokenizer_source(self):
        source = self.tokenizer_box.currentData()
        return None if source in (None, ESTIMATE) else source

    def _announce_settings(self) -> None:
        self.length_settings_changed.emit(self.tokenizer_source(), self.max_len_box.value())

    def over_limit(self) -> tuple[int, int]:
        """(examples longer than max_seq_length, tokens they lose in all)."""
        if not self.stats or not len(self.stats["tokens"]):
            return 0, 0
        lengths = self.stats["tokens"]
        limit = self.max_len_box.value()
        over = lengths[lengths > limit]
        return int(over.size), int((over - limit).sum())

    def _draw(self) -> None:
        stats = self.stats
        if not stats:
            self.bars.setOpts(x=[], height=[], width=1)
            for label in self.labels.values():
                label.setText("–")
            return
        lengths = stats["tokens"]
        roles = stats["roles"]
        self.labels["examples"].setText(
            f"{stats['examples']:,}"
            + (f" ({stats['broken']} unreadable)" if stats["broken"] else "")
        )
        self.labels["messages"].setText(f"{stats['messages']:,}")
        self.labels["roles"].setText(
            " · ".join(
                f"{roles.get(r, 0):,} {r}"
                for r in ("system", "user", "assistant", "tool")
                if roles.get(r)
            )
            or "–"
        )
        self.labels["reviewed"].setText(f"{stats['reviewed']:,} of {stats['examples']:,}")
        turns = stats["turns"]
        self.labels["turns"].setText(
            f"{turns['single']:,} single-turn · {turns['multi']:,} multi-turn"
        )
        formats = sorted(stats["reply_formats"].items(), key=lambda item: -item[1])
        self.labels["formats"].setText(" · ".join(f"{n:,} {name}" for name, n in formats) or "–")
        self.labels["formats"].setToolTip(
            "How the assistant replies are written. One format throughout teaches one format; "
            "a mix teaches the model to mix (the guide's first pitfall)."
        )
        systems = stats["system_prompts"]
        self.labels["systems"].setText(
            f"{systems} different"
            + (" — consider one for all (Bulk actions)" if systems > 1 else "")
        )
        estimated = "" if stats["counted_with"] else " (estimated)"
        if len(lengths):
            self.labels["tokens"].setText(f"{int(lengths.sum()):,}{estimated}")
            self.labels["median"].setText(f"{int(np.median(lengths)):,} tokens")
            self.labels["longest"].setText(f"{int(lengths.max()):,} tokens")
            # Bins span 0 to the cut-off (or the longest), so the red line has context.
            top = max(int(lengths.max()), self.max_len_box.value())
            counts, edges = np.histogram(lengths, bins=HISTOGRAM_BINS, range=(0, top))
            width = float(edges[1] - edges[0])
            self.bars.setOpts(x=(edges[:-1] + edges[1:]) / 2, height=counts, width=width * 0.9)
            self.plot.setXRange(0, top * 1.04, padding=0)
            self.plot.setYRange(0, max(int(counts.max()), 1) * 1.1, padding=0)
        else:
            self.bars.setOpts(x=[], height=[], width=1)
        how = (
            f"Counted with the {stats['counted_with']} tokenizer and its chat template."
            if stats["counted_with"]
            else "Estimated at ~4 characters per token; choose a model's tokenizer for exact counts."
        )
        self.status.setText(how)
        self._draw_over()

    def _draw_over(self) -> None:
        count, lost = self.over_limit()
        if self.stats is None:
            return
        if count:
            self.labels["over"].setText(
                f"<span style='color:{status_color(BAD)}'>{count:,} examples lose {lost:,} tokens</span>"
            )
        else:
            self.labels["over"].setText("none ✓")
