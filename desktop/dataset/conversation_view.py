"""One example as a chat: each message a bubble edited in place, with its role picker.

The view never changes the dataset: it calls `on_edit(edit)` with a core edit, and
`show_example` refreshes it in place afterwards (so the caret stays where the user is
typing, also after undo and redo).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import escape

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.dataset import edits
from core.dataset.findings import SEVERITY_RANK, Finding
from core.dataset.fixes import REMOVING_CODES
from core.dataset.model import ROLES, Example, message_text
from desktop.theme import is_dark, severity_color

ROLE_TIPS = {
    "system": "System: the standing instructions the model gets before the conversation",
    "user": "User: what the person asks",
    "assistant": "Assistant: the reply the model should learn to give",
    "tool": "Tool: the result of a tool the assistant called",
}
LIGHT_COLORS = {"system": "#fff4d6", "user": "#e3edff", "assistant": "#ffffff", "tool": "#efe7fb"}
DARK_COLORS = {"system": "#3b3522", "user": "#233152", "assistant": "#2b2d33", "tool": "#33294a"}
SEVERITY_ICONS = {"error": "●", "warning": "▲", "info": "•"}


def bubble_color(role: str) -> str:
    colors = DARK_COLORS if is_dark() else LIGHT_COLORS
    return colors.get(role, colors["assistant"])


class MessageTextEdit(QTextEdit):
    """Plain-text editor that grows with its text and leaves undo to the page's stack."""

    def __init__(self, undo: Callable[[], None], redo: Callable[[], None]) -> None:
        super().__init__()
        self._undo, self._redo = undo, redo
        self.setAcceptRichText(False)
        self.setUndoRedoEnabled(False)
        self.setTabChangesFocus(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextEdit { background: transparent; font-size: 13px; }")
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # The text control would swallow Ctrl+Z; every edit lives on the page's stack.
        if event.matches(QKeySequence.StandardKey.Undo):
            self._undo()
            return
        if event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Z
            and event.modifiers()
            == (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        ):
            self._redo()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self, *_args) -> None:
        self.document().setTextWidth(self.viewport().width())
        height = int(self.document().size().height()) + 2 * self.frameWidth() + 6
        self.setFixedHeight(max(34, height))

    def set_text_keeping_caret(self, text: str) -> None:
        cursor = self.textCursor()
        position, anchor = cursor.position(), cursor.anchor()
        self.setPlainText(text)
        cursor = self.textCursor()
        cursor.setPosition(min(anchor, len(text)))
        cursor.setPosition(min(position, len(text)), cursor.MoveMode.KeepAnchor)
        self.setTextCursor(cursor)


class MessageBubble(QFrame):
    """One message: role picker, tools (move, duplicate, delete) and the text itself."""

    text_edited = Signal(int, str)
    role_picked = Signal(int, str)
    action = Signal(int, str)  # message index, "up" | "down" | "duplicate" | "delete"

    def __init__(self, index: int, message: dict, undo, redo, parent=None) -> None:
        super().__init__(parent)
        self.index = index
        self.setObjectName("bubble")
        self._severity: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        top = QHBoxLayout()
        top.setSpacing(4)
        self.role_box = QComboBox()
        self.role_box.addItems(ROLES)
        self.role_box.setToolTip("Who says this message")
        self.role_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.role_box.currentTextChanged.connect(
            lambda role: self.role_picked.emit(self.index, role)
        )
        top.addWidget(self.role_box)
        self.finding_label = QLabel()
        self.finding_label.setWordWrap(False)
        # Never widen the bubble: the full text is in the list above and in the tooltip.
        self.finding_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top.addWidget(self.finding_label, 1)
        for name, glyph, tip in (
            ("up", "↑", "Move this message up"),
            ("down", "↓", "Move this message down"),
            ("duplicate", "Copy", "Duplicate this message"),
            ("delete", "✕", "Delete this message"),
        ):
            button = QToolButton()
            button.setText(glyph)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.setObjectName(f"bubble_{name}")
            button.clicked.connect(lambda _=False, n=name: self.action.emit(self.index, n))
            top.addWidget(button)
        layout.addLayout(top)
        self.text_edit = MessageTextEdit(undo, redo)
        self.text_edit.setPlaceholderText("Write the message…")
        self.text_edit.textChanged.connect(self._on_text_changed)
        layout.addWidget(self.text_edit)
        self.extra_label = QLabel()
        self.extra_label.setWordWrap(True)
        self.extra_label.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        self.extra_label.hide()
        layout.addWidget(self.extra_label)
        self._updating = False
        self.set_message(message)

    @property
    def role(self) -> str:
        return self.role_box.currentText()

    def set_message(self, message: dict) -> None:
        self._updating = True
        try:
            role = message.get("role") if isinstance(message, dict) else None
            if isinstance(role, str) and role not in ROLES and self.role_box.findText(role) < 0:
                self.role_box.addItem(role)  # shown as it is; the finding says what to do
            self.role_box.blockSignals(True)
            self.role_box.setCurrentText(role if isinstance(role, str) else "")
            self.role_box.blockSignals(False)
            text = message_text(message.get("content")) if isinstance(message, dict) else ""
            if self.text_edit.toPlainText() != text:
                self.text_edit.set_text_keeping_caret(text)
            self._show_extras(message)
            self._restyle()
        finally:
            self._updating = False

    def _show_extras(self, message) -> None:
        notes = []
        if isinstance(message, dict):
            calls = message.get("tool_calls")
            if calls:
                names = [
                    str((call.get("function") or {}).get("name", "?"))
                    for call in calls
                    if isinstance(call, dict)
                ]
                notes.append("Calls the tool: " + ", ".join(names))
            others = [k for k in message if k not in ("role", "content", "tool_calls")]
            if others:
                notes.append("Also keeps: " + ", ".join(others))
            if isinstance(message.get("content"), list):
                notes.append("Content in parts; editing makes it plain text")
        self.extra_label.setText(" · ".join(notes))
        self.extra_label.setVisible(bool(notes))

    def _on_text_changed(self) -> None:
        if not self._updating:
            self.text_edited.emit(self.index, self.text_edit.toPlainText())

    def set_severity(self, severity: str | None, text: str = "") -> None:
        self._severity = severity
        if severity:
            self.finding_label.setText(f"{SEVERITY_ICONS[severity]} {text}")
            self.finding_label.setStyleSheet(f"color: {severity_color(severity)}; font-size: 11px;")
            self.finding_label.setToolTip(text)
        else:
            self.finding_label.clear()
        self._restyle()

    def _restyle(self) -> None:
        border = severity_color(self._severity) if self._severity else "palette(mid)"
        width = 2 if self._severity else 1
        self.setStyleSheet(
            f"QFrame#bubble {{ background: {bubble_color(self.role)}; border: {width}px solid {border};"
            " border-radius: 10px; }"
        )


class FindingLabel(QLabel):
    """A finding's text (wrapped, with what to do); clicking it goes to the message."""

    clicked = Signal()

    def __init__(self, html: str) -> None:
        super().__init__(html)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event) -> None:
        self.clicked.emit()
        super().mousePressEvent(event)


class StarRating(QWidget):
    """Five stars; clicking the current rating again clears it."""

    rating_picked = Signal(object)  # int or None

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self._rating: int | None = None
        self.buttons = []
        for stars in range(1, 6):
            button = QToolButton()
            button.setAutoRaise(True)
            button.setToolTip(f"Rate {stars} of 5 (click again to clear)")
            button.clicked.connect(lambda _=False, n=stars: self._clicked(n))
            layout.addWidget(button)
            self.buttons.append(button)
        self.set_rating(None)

    def set_rating(self, rating: int | None) -> None:
        self._rating = rating
        for stars, button in enumerate(self.buttons, start=1):
            button.setText("★" if rating and stars <= rating else "☆")
            button.setStyleSheet(
                "color: #e0a800; font-size: 16px;"
                if rating and stars <= rating
                else "font-size: 16px;"
            )

    def _clicked(self, stars: int) -> None:
        self.rating_picked.emit(None if stars == self._rating else stars)


class ConversationView(QWidget):
    """The selected example: its tags, review mark, rating, findings and messages."""

    fix_requested = Signal(object, object)  # Finding, Example

    def __init__(self, on_edit: Callable, undo: Callable, redo: Callable) -> None:
        super().__init__()
        self._on_edit = on_edit
        self._undo, self._redo = undo, redo
        self.dataset = None
        self.index: int | None = None
        self.example: Example | None = None
        self.bubbles: list[MessageBubble] = []
        self._findings: list[Finding] = []

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(6)

        header = QHBoxLayout()
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")
        header.addWidget(self.title)
        header.addStretch(1)
        self.reviewed_box = QCheckBox("Reviewed")
        self.reviewed_box.setToolTip("Check once an expert has read and approved this example")
        self.reviewed_box.clicked.connect(self._reviewed_clicked)
        header.addWidget(self.reviewed_box)
        self.stars = StarRating()
        self.stars.rating_picked.connect(self._rating_picked)
        header.addWidget(self.stars)
        outer.addLayout(header)

        tags_row = QHBoxLayout()
        tags_label = QLabel("Tags")
        tags_row.addWidget(tags_label)
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("comma-separated, e.g. billing, refund")
        self.tags_edit.setToolTip(
            "Group examples by kind of request; the split can hold out the same share of each tag"
        )
        self.tags_edit.editingFinished.connect(self._tags_edited)
        tags_row.addWidget(self.tags_edit, 1)
        outer.addLayout(tags_row)

        self.findings_box = QFrame()
        self.findings_box.setObjectName("exampleFindings")
        self.findings_layout = QVBoxLayout(self.findings_box)
        self.findings_layout.setContentsMargins(8, 6, 8, 6)
        self.findings_layout.setSpacing(3)
        self.findings_box.hide()
        outer.addWidget(self.findings_box)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.body_layout = QVBoxLayout(body)
        self.body_layout.setContentsMargins(4, 4, 12, 4)
        self.body_layout.setSpacing(10)
        self.messages_layout = QVBoxLayout()
        self.messages_layout.setSpacing(10)
        self.body_layout.addLayout(self.messages_layout)

        self.raw_box = QFrame()
        raw_layout = QVBoxLayout(self.raw_box)
        raw_layout.setContentsMargins(0, 0, 0, 0)
        self.raw_hint = QLabel()
        self.raw_hint.setWordWrap(True)
        raw_layout.addWidget(self.raw_hint)
        self.raw_edit = QPlainTextEdit()
        self.raw_edit.setMinimumHeight(120)
        raw_layout.addWidget(self.raw_edit)
        self.raw_apply = QPushButton("Apply the repaired line")
        self.raw_apply.setToolTip("Read the text above as JSON and, if it is valid, use it")
        self.raw_apply.clicked.connect(self._apply_raw)
        self.raw_error = QLabel()
        self.raw_error.setStyleSheet(f"color: {severity_color('error')};")
        self.raw_error.setWordWrap(True)
        raw_layout.addWidget(self.raw_error)
        raw_layout.addWidget(self.raw_apply, 0, Qt.AlignmentFlag.AlignLeft)
        self.raw_box.hide()
        self.body_layout.addWidget(self.raw_box)

        add_row = QHBoxLayout()
        self.add_button = QPushButton("+ Add message")
        self.add_button.setToolTip("Add a message at the end, with the role that comes next")
        self.add_button.clicked.connect(self.add_message)
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        self.body_layout.addLayout(add_row)
        self.body_layout.addStretch(1)
        self.scroll.setWidget(body)
        outer.addWidget(self.scroll, 1)

        self.placeholder = QLabel("Select an example in the list to read and edit it.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(placeholder-text); font-size: 14px;")
        outer.addWidget(self.placeholder)
        self._set_enabled(False)

    # --- showing --------------------------------------------------------------------
    def _set_enabled(self, shown: bool) -> None:
        for widget in (self.title, self.reviewed_box, self.stars, self.tags_edit, self.scroll):
            widget.setVisible(shown)
        self.placeholder.setVisible(not shown)
        if not shown:
            self.findings_box.hide()

    def show_example(
        self, dataset, index: int | None, findings: list[Finding] | None = None
    ) -> None:
        """Show example `index` of `dataset`, updating bubbles in place when it is the same one."""
        self.dataset = dataset
        if dataset is None or index is None or not 0 <= index < len(dataset.examples):
            self.index = None
            self.example = None
            self._clear_bubbles()
            self._set_enabled(False)
            return
        example = dataset.examples[index]
        same = self.example is not None and example.id == self.example.id
        self.index = index
        self.example = example
        self._set_enabled(True)
        where = f" · line {example.line}" if example.line else ""
        self.title.setText(f"Example {index + 1} of {len(dataset.examples):,}{where}")
        self.reviewed_box.setChecked(example.reviewed)
        self.stars.set_rating(example.rating)
        if not self.tags_edit.hasFocus() or not same:
            self.tags_edit.setText(", ".join(example.tags))
        if example.is_broken:
            self._clear_bubbles()
            self._show_raw(example)
        else:
            self.raw_box.hide()
            self.add_button.show()
            messages = example.messages
            same_shape = len(messages) == len(self.bubbles) and all(
                isinstance(m, dict) and m.get("role") == b.role
                for m, b in zip(messages, self.bubbles)
            )
            if same and same_shape:
                for bubble, message in zip(self.bubbles, messages):
                    bubble.set_message(message)
            else:
                self._rebuild(messages)
        self.set_findings(findings or [])

    def _show_raw(self, example: Example) -> None:
        self.add_button.hide()
        self.raw_hint.setText(
            f"This line cannot be read as a conversation ({example.parse_error}). "
            "Repair it below (a missing quote, comma or brace is typical), or delete the example."
        )
        if self.raw_edit.toPlainText() != example.raw_text:
            self.raw_edit.setPlainText(example.raw_text)
        self.raw_error.clear()
        self.raw_box.show()

    def _clear_bubbles(self) -> None:
        for bubble in self.bubbles:
            bubble.setParent(None)
            bubble.deleteLater()
        self.bubbles = []
        while self.messages_layout.count():
            item = self.messages_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _rebuild(self, messages: list) -> None:
        focused = next((b.index for b in self.bubbles if b.text_edit.hasFocus()), None)
        self._clear_bubbles()
        for position, message in enumerate(messages):
            bubble = MessageBubble(
                position, message if isinstance(message, dict) else {}, self._undo, self._redo
            )
            bubble.text_edited.connect(self._text_edited)
            bubble.role_picked.connect(self._role_picked)
            bubble.action.connect(self._bubble_action)
            row = QHBoxLayout()
            role = bubble.role
            # User on the right, assistant on the left, like a chat.
            if role == "user":
                row.addSpacing(56)
            row.addWidget(bubble, 1)
            if role in ("assistant", "tool"):
                row.addSpacing(56)
            holder = QWidget()
            holder.setLayout(row)
            row.setContentsMargins(0, 0, 0, 0)
            self.messages_layout.addWidget(holder)
            holder.show()  # now, not at the next event loop pass, so focus can go there at once
            self.bubbles.append(bubble)
        if focused is not None and focused < len(self.bubbles):
            self.bubbles[focused].text_edit.setFocus()

    def set_findings(self, findings: list[Finding]) -> None:
        """The example's findings above the chat, and each message's worst one on its bubble."""
        self._findings = findings
        while self.findings_layout.count():
            item = self.findings_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        per_message: dict[int, Finding] = {}
        for finding in findings:
            m = finding.message_index
            if m is not None and (
                m not in per_message
                or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[per_message[m].severity]
            ):
                per_message[m] = finding
        for bubble in self.bubbles:
            finding = per_message.get(bubble.index)
            bubble.set_severity(
                finding.severity if finding else None, _short(finding) if finding else ""
            )
        for finding in findings[:12]:
            self.findings_layout.addWidget(self._finding_row(finding))
        if len(findings) > 12:
            self.findings_layout.addWidget(
                QLabel(f"… and {len(findings) - 12} more (Findings tab)")
            )
        self.findings_box.setVisible(bool(findings) and self.example is not None)
        if findings:
            worst = max(findings, key=lambda f: SEVERITY_RANK[f.severity]).severity
            self.findings_box.setStyleSheet(
                f"QFrame#exampleFindings {{ border: 1px solid {severity_color(worst)};"
                " border-radius: 6px; }"
            )

    def _finding_row(self, finding: Finding) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        where = (
            f"Message {finding.message_index + 1}: " if finding.message_index is not None else ""
        )
        color = severity_color(finding.severity)
        label = FindingLabel(
            f"<span style='color:{color}'>{SEVERITY_ICONS[finding.severity]}</span> "
            f"{escape(where + _short(finding))}"
            + (
                f"<br><span style='color:palette(placeholder-text)'>What to do: {escape(finding.fix)}</span>"
                if finding.fix
                else ""
            )
        )
        label.setToolTip(
            "Click to go to the message" if finding.message_index is not None else finding.message
        )
        label.clicked.connect(lambda f=finding: self.focus_message(f.message_index))
        layout.addWidget(label, 1)
        if finding.fixable:
            # A duplicate's fix deletes this example: the button says so.
            fix = QPushButton("Delete this copy" if finding.code in REMOVING_CODES else "Fix")
            fix.setToolTip(finding.fix or "Apply the certain fix (undo with Ctrl+Z)")
            fix.clicked.connect(lambda _=False, f=finding: self.fix_requested.emit(f, self.example))
            layout.addWidget(fix, 0, Qt.AlignmentFlag.AlignTop)
        return row

    def focus_message(self, message_index: int | None) -> None:
        """Scroll to a message, put the caret in it, and flash its border."""
        if message_index is None or not 0 <= message_index < len(self.bubbles):
            return
        bubble = self.bubbles[message_index]
        self.scroll.ensureWidgetVisible(bubble, 0, 40)
        bubble.text_edit.setFocus()
        bubble.setProperty("flash", True)
        previous = bubble.styleSheet()
        bubble.setStyleSheet(previous.replace("solid", "dashed"))
        QTimer.singleShot(700, bubble, bubble._restyle)  # no call once the bubble is gone

    # --- editing --------------------------------------------------------------------
    def _edit(self, edit) -> None:
        if self.dataset is not None and self.index is not None and edit is not None:
            self._on_edit(edit)

    def _text_edited(self, message_index: int, text: str) -> None:
        self._edit(edits.set_message_text(self.dataset, self.index, message_index, text))

    def _role_picked(self, message_index: int, role: str) -> None:
        if role in ROLES:
            self._edit(edits.set_message_role(self.dataset, self.index, message_index, role))
            # Users sit on the right, the assistant on the left: lay the chat out again once
            # the combo box that sent this signal is done with it.
            QTimer.singleShot(0, self, self._realign)

    def _realign(self) -> None:
        if self.dataset is not None and self.index is not None and self.example is not None:
            self._rebuild(self.dataset.examples[self.index].messages)
            self.set_findings(self._findings)

    def _bubble_action(self, message_index: int, action: str) -> None:
        count = len(self.bubbles)
        if action == "up" and message_index > 0:
            self._edit(
                edits.move_message(self.dataset, self.index, message_index, message_index - 1)
            )
        elif action == "down" and message_index < count - 1:
            self._edit(
                edits.move_message(self.dataset, self.index, message_index, message_index + 1)
            )
        elif action == "duplicate":
            self._edit(edits.duplicate_message(self.dataset, self.index, message_index))
        elif action == "delete":
            self._edit(edits.remove_message(self.dataset, self.index, message_index))

    def add_message(self) -> None:
        self._edit(edits.insert_message(self.dataset, self.index))
        if self.bubbles:
            self.bubbles[-1].text_edit.setFocus()

    def _reviewed_clicked(self, checked: bool) -> None:
        self._edit(edits.set_reviewed(self.dataset, [self.index], checked))

    def _rating_picked(self, rating) -> None:
        self._edit(edits.set_rating(self.dataset, self.index, rating))

    def _tags_edited(self) -> None:
        if self.example is None:
            return
        tags = [t.strip() for t in self.tags_edit.text().split(",") if t.strip()]
        if tuple(dict.fromkeys(tags)) != self.example.tags:
            self._edit(edits.set_tags(self.dataset, self.index, tags))

    def _apply_raw(self) -> None:
        text = self.raw_edit.toPlainText().strip()
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            self.raw_error.setText(
                f"Still not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
            )
            return
        if not isinstance(record, dict):
            self.raw_error.setText('A line must be one object: {"messages": [...]}.')
            return
        self._edit(edits.replace_example_record(self.dataset, self.index, record))


_PLACE = re.compile(
    r"^Example \d+(?: \(line \d+\))?(?:, message \d+(?: \([a-z]+\))?)?(?P<sep>: |, | )"
)


def _short(finding: Finding) -> str:
    """The finding without "Example 12 (line 14), message 3": the view already shows where."""
    text = finding.message
    match = _PLACE.match(text)
    if not match:
        return text
    rest = text[match.end() :]
    if match.group("sep") == " ":  # "Example 3 has ..." / "Example 6 is 86% the same ..."
        subject = "This message" if finding.message_index is not None else "This example"
        return f"{subject} {rest}"
    return rest[:1].upper() + rest[1:]
