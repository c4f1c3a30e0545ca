"""What the Dataset page shows before there is any dataset: two big, clear ways to start."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.theme import ACCENT


class EmptyState(QWidget):
    import_requested = Signal()
    new_requested = Signal()
    preferences_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        title = QLabel("No dataset yet")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("font-size: 24px; font-weight: 600;")
        layout.addWidget(title)
        text = QLabel(
            "The examples you train on decide what the model learns. Start from a file you "
            "already have, or write the first conversations here.\n"
            "JSONL (OpenAI chat format), Alpaca, ShareGPT, CSV, TSV, Parquet and Hugging Face "
            "dataset folders can be imported."
        )
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setWordWrap(True)
        text.setMaximumWidth(620)
        text.setStyleSheet("color: palette(placeholder-text); font-size: 14px;")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(text)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addSpacing(18)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.import_button = QPushButton("Import a file…")
        self.import_button.setToolTip(
            "Read a dataset file, check it, and preview it before importing"
        )
        self.new_button = QPushButton("New dataset")
        self.new_button.setToolTip("Start an empty dataset and write the first example")
        for button in (self.import_button, self.new_button):
            button.setMinimumSize(200, 54)
            button.setStyleSheet("font-size: 16px; padding: 10px 22px;")
            buttons.addWidget(button)
            buttons.addSpacing(12)
        self.import_button.setDefault(True)
        self.import_button.setStyleSheet(
            f"font-size: 16px; padding: 10px 22px; background: {ACCENT}; color: white; border-radius: 6px;"
        )
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addSpacing(12)
        tip = QLabel("Tip: 50 to 200 carefully written examples already change a format or a tone.")
        tip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        tip.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(tip)
        self.preferences_button = QPushButton("Preference pairs for DPO…")
        self.preferences_button.setFlat(True)
        self.preferences_button.setToolTip(
            "Pairs of a preferred and a rejected answer (from A/B ratings, Chat corrections "
            "or a file), for a DPO run after SFT"
        )
        self.preferences_button.clicked.connect(self.preferences_requested)
        layout.addWidget(self.preferences_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(3)
        self.import_button.clicked.connect(self.import_requested)
        self.new_button.clicked.connect(self.new_requested)
