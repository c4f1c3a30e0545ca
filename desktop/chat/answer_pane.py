"""One side of the chat: a model's transcript, its live reply, speed and memory, and what to
do with its last answer (edit it, keep it as a training example or an eval-set line)."""

from __future__ import annotations

import html

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from core.chat.store import Turn

USER_BACKGROUND = "#e8eefb"
MUTED = "color: palette(placeholder-text);"


def _paragraphs(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def format_memory(n_bytes: int | None, device: str) -> str:
    where = "GPU memory" if device == "cuda" else "app memory"
    if n_bytes is None:
        return f"{where} unknown"
    if n_bytes >= 1024**3:
        return f"{where} {n_bytes / 1024**3:.1f} GB"
    return f"{where} {n_bytes / 1024**2:.0f} MB"


class AnswerPane(QFrame):
    def __init__(self, side: int, placeholder: str) -> None:
        super().__init__()
        self.side = side
        self.setObjectName(f"answerPane{side}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        self.title_label = QLabel()
        self.title_label.setStyleSheet("font-weight: 600; font-size: 14px;")
        self.stats_label = QLabel(" ")
        self.stats_label.setWordWrap(True)
        self.stats_label.setStyleSheet(MUTED)
        self.stats_label.setToolTip(
            "Speed of the last reply (tokens per second, and how long the first token took) "
            "and the memory in use (GPU memory, or this app's memory on the CPU)"
        )
        layout.addWidget(self.title_label)
        layout.addWidget(self.stats_label)

        self.transcript = QTextBrowser()
        self.transcript.setObjectName(f"transcript{side}")
        self.transcript.setOpenLinks(False)
        self.transcript.setPlaceholderText(placeholder)
        layout.addWidget(self.transcript, 1)

        buttons = QHBoxLayout()
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip(
            "Correct this model's last answer; the model sees your version in later turns, and "
            "Save as example and Add to eval set use it"
        )
        self.dataset_button = QPushButton("Save as example")
        self.dataset_button.setToolTip(
            "Add the conversation with this model's last answer to the Dataset page as a draft "
            "training example"
        )
        self.eval_button = QPushButton("Add to eval set…")
        self.eval_button.setToolTip(
            "Append the conversation with this answer as the reference to an eval-set file"
        )
        for button in (self.edit_button, self.dataset_button, self.eval_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.streamed = ""  # the reply being generated, as received piece by piece
        self.set_actions_enabled(False)

    def set_model(self, label: str) -> None:
        self.title_label.setText(label)

    def set_actions_enabled(self, enabled: bool) -> None:
        for button in (self.edit_button, self.dataset_button, self.eval_button):
            button.setEnabled(enabled)

    # The transcript ----------------------------------------------------------------------
    def show_turns(self, turns: tuple[Turn, ...] | list[Turn], pending_prompt: str | None = None):
        """Every turn this side saw; with `pending_prompt`, a reply is about to stream in."""
        parts = []
        for turn in turns:
            parts.append(self._prompt_html(turn.prompt))
            answer = turn.answers.get(self.side)
            if answer is None:
                parts.append(f'<p style="{MUTED}"><i>No answer from this model.</i></p>')
                continue
            note = []
            if answer.edited:
                note.append("edited by you")
            if answer.stopped:
                note.append("stopped")
            if answer.cut_off:
                note.append("cut off at Max tokens")
            parts.append(self._speaker_html(answer.model_label, ", ".join(note)))
            parts.append(f"<p>{_paragraphs(answer.text)}</p>")
        if pending_prompt is not None:
            parts.append(self._prompt_html(pending_prompt))
            parts.append(self._speaker_html(self.title_label.text(), ""))
        self.transcript.setHtml("".join(parts))
        if pending_prompt is not None:
            self.streamed = ""
            self._cursor_to_end()
        self.transcript.verticalScrollBar().setValue(self.transcript.verticalScrollBar().maximum())
        self.set_actions_enabled(any(self.side in t.answers for t in turns))

    def append(self, piece: str) -> None:
        """A new piece of the streaming reply, added where the reply is being written."""
        self.streamed += piece
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(piece)
        bar = self.transcript.verticalScrollBar()
        bar.setValue(bar.maximum())

    def show_stats(self, reply, memory: int | None, device: str) -> None:
        first = reply.first_token_seconds
        first_text = f" · first token {first * 1000:.0f} ms" if first is not None else ""
        self.stats_label.setText(
            f"{reply.n_tokens} tokens · {reply.tokens_per_second:.1f} tokens/s{first_text} · "
            f"{format_memory(memory, device)}"
        )

    def _cursor_to_end(self) -> None:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertBlock()
        self.transcript.setTextCursor(cursor)

    @staticmethod
    def _prompt_html(prompt: str) -> str:
        return (
            f'<table width="100%" cellpadding="6" style="margin-top: 8px;"><tr>'
            f'<td bgcolor="{USER_BACKGROUND}"><b>You</b><br>{_paragraphs(prompt)}</td>'
            "</tr></table>"
        )

    @staticmethod
    def _speaker_html(label: str, note: str) -> str:
        note_html = f' <span style="{MUTED}">({html.escape(note)})</span>' if note else ""
        return f'<p style="margin-top: 6px;"><b>{html.escape(label)}</b>{note_html}</p>'
