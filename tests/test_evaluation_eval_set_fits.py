"""The eval-set box on the demo at the README's window size (1280x800) shows the whole name
of the set chosen; the count it dropped is in the line below and in the item's tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyle, QStyleOptionComboBox

from core.project.demo import ensure_demo_project
from desktop.app import build_main_window


def test_the_demos_validation_split_is_named_in_full(qtbot):
    window = build_main_window(
        str(ensure_demo_project().folder), first_page="evaluation", remember=False
    )
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    combo = window.page("evaluation").eval_set_choice.combo
    qtbot.waitUntil(lambda: combo.isVisible() and combo.width() > 100)
    assert combo.currentText() == "support-tickets v1: validation split"
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, combo
    )
    # "support-tickets v1: validation split (16 examples)" was cut after "split (".
    assert combo.fontMetrics().horizontalAdvance(combo.currentText()) <= field.width()
    tooltip = combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "The validation split of support-tickets v1: 16 examples"
    assert combo.currentIndex() == 0
