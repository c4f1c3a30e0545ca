"""Edit answer: the answer you want, in a wrapping editor big enough to read it.

QInputDialog.getMultiLineText does not wrap lines, so a one-line JSON answer or a long
paragraph ran off to the right.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)


class EditAnswerDialog(QDialog):
    def __init__(self, parent: QWidget | None, prompt: str, text: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit answer")
        self.resize(640, 380)
        label = QLabel(prompt)
        label.setWordWrap(True)
        self.editor = QPlainTextEdit(text)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.editor.setToolTip("The answer you want; it replaces the model's in this turn")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.editor, 1)
        layout.addWidget(buttons)
        self.editor.setFocus()

    def text(self) -> str:
        return self.editor.toPlainText()
