"""The Estimate page's "Add a GPU" dialog: a card the catalog lacks, with its speed and price."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from desktop.theme import BAD, status_style

# (name, memory GiB, dense bf16 TFLOP/s, price per hour) -> what went wrong, or None
AddGpu = Callable[[str, float, float, float], str | None]


class AddGpuDialog(QDialog):
    """Stays open and says why when `add_gpu` refuses the card, so nothing typed is lost."""

    def __init__(self, add_gpu: AddGpu, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._add_gpu = add_gpu
        self.setWindowTitle("Add a GPU")
        form = QFormLayout(self)
        self.name = QLineEdit()
        self.memory = QDoubleSpinBox()
        self.memory.setRange(1, 2048)
        self.memory.setValue(24)
        self.memory.setSuffix(" GiB")
        self.tflops = QDoubleSpinBox()
        self.tflops.setRange(1, 100000)
        self.tflops.setValue(100)
        self.tflops.setSuffix(" TFLOP/s")
        self.price = QDoubleSpinBox()
        self.price.setRange(0, 1000)
        self.price.setPrefix("$ ")
        form.addRow("Name", self.name)
        form.addRow("Memory", self.memory)
        form.addRow("Dense bf16", self.tflops)
        form.addRow("Price per hour", self.price)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.error = QLabel()
        self.error.setStyleSheet(status_style(BAD))
        form.addRow(self.error)
        form.addRow(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

    def accept(self) -> None:
        problem = self._add_gpu(
            self.name.text(), self.memory.value(), self.tflops.value(), self.price.value()
        )
        if problem:
            self.error.setText(problem)
        else:
            super().accept()
