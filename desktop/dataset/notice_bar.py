"""A line of news above an editor (a recovered draft, a refused save) with its actions."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from desktop.theme import notice_colors


class NoticeBar(QFrame):
    """A line of news above the editor (recovered drafts, a refused save), with one action."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.setObjectName("notice")
        background, border, text = notice_colors(kind)
        self.setStyleSheet(
            f"QFrame#notice {{ background: {background}; border-left: 4px solid {border};"
            f" border-radius: 6px; }} QLabel {{ color: {text}; }}"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.buttons = QHBoxLayout()
        layout.addLayout(self.buttons)
        self.hide()

    def show_notice(self, text: str, actions: list[tuple[str, object]]) -> None:
        while self.buttons.count():
            item = self.buttons.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.label.setText(text)
        for title, callback in actions:
            button = QPushButton(title)
            button.clicked.connect(callback)
            self.buttons.addWidget(button)
        self.show()
