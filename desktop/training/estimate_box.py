"""The Train page's "Estimate for these settings" box: peak memory, time and whether the
run fits, for the settings in the form, and a way to open them on the Estimate page.

The headline (fits or not, and how much memory) is what to watch while editing; the
breakdown is folded under Details (and in the headline's tooltip), so the form keeps
its room."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout

from core.estimate.summary import data_facts, summarize
from core.recipe.config import TrainConfig
from desktop.theme import BAD, GOOD, status_color


class EstimateBox(QGroupBox):
    open_in_estimate = Signal()

    def __init__(self) -> None:
        super().__init__("Estimate for these settings")
        layout = QVBoxLayout(self)
        self.estimate_label = QLabel("…")
        self.estimate_label.setObjectName("estimateHeadline")
        self.estimate_label.setWordWrap(True)
        self.estimate_details = QLabel()
        self.estimate_details.setObjectName("estimateDetails")
        self.estimate_details.setWordWrap(True)
        self.estimate_details.setStyleSheet("color: palette(placeholder-text);")
        self.details_button = QToolButton()
        self.details_button.setObjectName("estimateDetailsButton")
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setToolTip("Show or hide what the estimate counts and assumes")
        self.details_button.toggled.connect(self._show_details)
        self._show_details(False)
        self.open_estimate_button = QPushButton("Open in Estimate")
        self.open_estimate_button.setToolTip(
            "The Estimate page with these settings: the breakdown, other GPUs and methods"
        )
        self.open_estimate_button.clicked.connect(self.open_in_estimate)
        row = QHBoxLayout()
        row.addWidget(self.details_button)
        row.addStretch(1)
        row.addWidget(self.open_estimate_button)
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.estimate_details)
        layout.addLayout(row)

    def _show_details(self, shown: bool) -> None:
        self.details_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self.estimate_details.setVisible(shown)

    def show_estimate(
        self, config: TrainConfig | None, version, model_path: Path | None, hardware
    ) -> None:
        """The estimate for `config` (None: the form has errors) on `hardware`, with the
        dataset version it names (or its files) and the base model's folder."""
        if config is None:
            self.estimate_label.setText("Fix the settings marked in red to see the estimate.")
            self.estimate_label.setStyleSheet("")  # not the last estimate's green "fits"
            self.estimate_details.setText("")
            self.estimate_label.setToolTip("")
            return
        try:
            facts = data_facts(config, version)
        except OSError as error:
            facts = data_facts(config.replace(train_file=""), None)
            facts.source = f"could not read the data ({error})"
        path = model_path
        if path is None and Path(config.base_model).expanduser().is_dir():
            path = Path(config.base_model).expanduser()
        summary = summarize(config, path, hardware, facts)
        color = {True: status_color(GOOD), False: status_color(BAD)}.get(
            summary.fits, "palette(window-text)"
        )
        self.estimate_label.setText(summary.headline)
        self.estimate_label.setStyleSheet(f"color: {color};")
        self.estimate_details.setText("\n".join(summary.details))
        self.estimate_label.setToolTip("\n".join(summary.details))
