"""The Chat page: the same prompt to the base model and a fine-tuned run, answers side by side.

Replies stream in token by token from a generation thread (Stop or Esc ends them); each
pane shows its speed and the memory in use. Conversations are kept in the project; a
good or corrected answer goes to the Dataset page as a draft example, or into an eval set.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.chat.examples import append_to_eval_set, dataset_drafts, example_record
from core.chat.generation import ChatSettings, ChatSettingsError, conversation_messages
from core.chat.preference_pairs import preference_pair_from_correction
from core.chat.store import (
    Conversation,
    ConversationNotFound,
    add_turn,
    create_conversation,
    delete_conversation,
    edit_answer,
    list_conversations,
    load_conversation,
    rename_conversation,
    save_answer,
    save_settings,
)
from core.dataset.preferences_store import add_pending_pairs
from core.evaluation.eval_set import EvalSetError
from core.evaluation.models import ModelSpec, ModelSpecError, list_run_models, run_spec
from core.figures import count_text
from core.models.registry import list_base_models
from desktop.chat.answer_pane import AnswerPane
from desktop.chat.edit_answer_dialog import EditAnswerDialog
from desktop.chat.worker import ReplyJob, SideRequest, model_key
from desktop.context import AppContext
from desktop.theme import BAD, WARNING, status_style

HELP = {name: f.metadata["help"] for name, f in ChatSettings.__dataclass_fields__.items()}
NO_SECOND_MODEL = "No second model"
NO_MODEL_TEXT = (
    "No base model is ready: prepare the bundled model or add a model folder on the Project page."
)
EMPTY_LEFT = "Ask something to see how this model answers."
EMPTY_RIGHT = "The second model answers the same prompt here."
START_HINT = (
    "Type a message below and press Ctrl+Enter. Pick a fine-tuned run as the right model to "
    "compare the two answers; a good answer can become a training example."
)

ERROR_STYLE = status_style(BAD)


def create_page(context: AppContext) -> QWidget:
    return ChatPage(context)


def _muted(label: QLabel) -> QLabel:
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class ChatPage(QWidget):
    reply_finished = Signal()  # a prompt's answers are all in (or stopped, or failed)

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.project = context.project
        self.job: ReplyJob | None = None
        self.models: dict = {}  # model_key -> LoadedModel, kept loaded between prompts
        self.conversation: Conversation | None = None
        self.last_error = ""
        self._turn = None  # the turn being answered
        self._labels: dict[int, str] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(8)
        title = QLabel("Chat")
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        layout.addWidget(title)
        layout.addWidget(
            _muted(
                QLabel(
                    "Talk to the base model and a fine-tuned run with the same prompt and see "
                    "the answers side by side. Correct an answer and keep it as training data."
                )
            )
        )
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._conversations_column())
        splitter.addWidget(self._chat_column())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([190, 1010])
        layout.addWidget(splitter, 1)

        QShortcut(QKeySequence("Ctrl+Return"), self, self.send)
        QShortcut(QKeySequence("Ctrl+Enter"), self, self.send)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop)
        context.project_changed.connect(self.set_project)
        # A run that finished, was renamed or deleted elsewhere shows in the model lists.
        events = context.events
        for signal in (events.run_finished, events.run_deleted, events.run_changed):
            signal.connect(self._runs_changed)
        self.refresh_models()
        self.refresh_conversations()
        first = self.conversation_list.item(0)
        if first is not None:
            self.open_conversation(first.data(Qt.ItemDataRole.UserRole))
        else:
            self._say(START_HINT)
        self._update_state()

    # Building -------------------------------------------------------------------------------
    def _conversations_column(self) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 8, 0)
        heading = QLabel("Conversations")
        heading.setStyleSheet("font-weight: 600;")
        layout.addWidget(heading)
        self.conversation_list = QListWidget()
        self.conversation_list.setObjectName("conversationList")
        self.conversation_list.setToolTip("Past conversations in this project (F2 renames)")
        self.conversation_list.itemClicked.connect(
            lambda item: self.open_conversation(item.data(Qt.ItemDataRole.UserRole))
        )
        self.conversation_list.itemDoubleClicked.connect(lambda _item: self.ask_rename())
        self.no_conversations_label = _muted(
            QLabel("No conversations yet. Type a message to start one.")
        )
        layout.addWidget(self.no_conversations_label)
        layout.addWidget(self.conversation_list, 1)
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("Start a new conversation (Ctrl+Shift+N)")
        self.new_button.clicked.connect(self.new_conversation)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Rename the selected conversation (F2)")
        self.rename_button.clicked.connect(self.ask_rename)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected conversation")
        self.delete_button.clicked.connect(self.ask_delete)
        for button in (self.new_button, self.rename_button, self.delete_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        QShortcut(QKeySequence("Ctrl+Shift+N"), self, self.new_conversation)
        QShortcut(QKeySequence(Qt.Key.Key_F2), self.conversation_list, self.ask_rename)
        return column

    def _chat_column(self) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.setSpacing(8)

        models = QHBoxLayout()
        self.model_combos = [QComboBox(), QComboBox()]
        self.model_combos[0].setToolTip("The first model: usually the base model")
        self.model_combos[1].setToolTip(
            "The second model, answering the same prompt: usually a fine-tuned run"
        )
        for side, (caption, combo) in enumerate(
            zip(("Left model", "Right model"), self.model_combos)
        ):
            combo.setObjectName(f"modelCombo{side}")
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
            combo.currentIndexChanged.connect(self._models_changed)
            models.addWidget(QLabel(caption))
            models.addWidget(combo, 1)
        layout.addLayout(models)
        self.no_model_label = QLabel(NO_MODEL_TEXT)
        self.no_model_label.setWordWrap(True)
        self.no_model_label.setStyleSheet(status_style(WARNING))
        layout.addWidget(self.no_model_label)

        self.system_edit = QLineEdit()
        self.system_edit.setObjectName("systemPrompt")
        self.system_edit.setPlaceholderText(
            "System prompt (optional): instructions for both models"
        )
        self.system_edit.setToolTip(HELP["system_prompt"])
        layout.addWidget(self.system_edit)
        settings = QHBoxLayout()
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.0, 5.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setDecimals(2)
        self.top_p_spin = QDoubleSpinBox()
        self.top_p_spin.setRange(0.01, 1.0)
        self.top_p_spin.setSingleStep(0.05)
        self.top_p_spin.setDecimals(2)
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 32_768)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2_147_483_647)
        for caption, widget, key in (
            ("Temperature", self.temperature_spin, "temperature"),
            ("Top-p", self.top_p_spin, "top_p"),
            ("Max tokens", self.max_tokens_spin, "max_new_tokens"),
            ("Seed", self.seed_spin, "seed"),
        ):
            widget.setToolTip(HELP[key])
            label = QLabel(caption)
            label.setToolTip(HELP[key])
            settings.addWidget(label)
            settings.addWidget(widget)
            settings.addSpacing(8)
        settings.addStretch(1)
        layout.addLayout(settings)
        self._show_settings(ChatSettings())

        answers = QSplitter(Qt.Orientation.Horizontal)
        self.panes = [AnswerPane(0, EMPTY_LEFT), AnswerPane(1, EMPTY_RIGHT)]
        for pane in self.panes:
            answers.addWidget(pane)
            pane.edit_button.clicked.connect(lambda _=False, s=pane.side: self.ask_edit(s))
            pane.dataset_button.clicked.connect(
                lambda _=False, s=pane.side: self.send_to_dataset(s)
            )
            pane.eval_button.clicked.connect(lambda _=False, s=pane.side: self.ask_eval_set(s))
        layout.addWidget(answers, 1)

        status = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.status_label = QLabel()
        self.status_label.setObjectName("chatStatus")
        self.status_label.setWordWrap(True)
        status.addWidget(self.progress)
        status.addWidget(self.status_label, 1)
        layout.addLayout(status)

        ask = QHBoxLayout()
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setObjectName("chatPrompt")
        self.prompt_edit.setPlaceholderText("Type a message… (Ctrl+Enter sends, Esc stops)")
        self.prompt_edit.setFixedHeight(72)
        self.prompt_edit.setTabChangesFocus(True)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.setToolTip("Send the message to both models (Ctrl+Enter)")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer being generated (Esc)")
        self.stop_button.clicked.connect(self.stop)
        side_buttons = QVBoxLayout()
        side_buttons.addWidget(self.send_button)
        side_buttons.addWidget(self.stop_button)
        ask.addWidget(self.prompt_edit, 1)
        ask.addLayout(side_buttons)
        layout.addLayout(ask)
        return column

    # Models -----------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """Fill both model lists: the ready base models, then every run that saved a model."""
        choices: list[tuple[str, ModelSpec | None, str]] = []  # text, spec, tooltip
        default_base = None
        for model in list_base_models(self.project):
            if model.path is None:
                choices.append((f"{model.name} (not prepared yet)", None, NO_MODEL_TEXT))
                continue
            spec = ModelSpec(label=model.name, base_model=str(model.path))
            default_base = default_base or str(model.path)
            choices.append((f"{model.name} (base)", spec, str(model.path)))
        for run in list_run_models(self.project):  # the trainer lists the latest run first
            try:
                spec = run.spec()
            except ModelSpecError:  # an adapter whose base is not on this machine
                spec = None
                if default_base:
                    with contextlib.suppress(ModelSpecError):
                        spec = run_spec(run.folder, default_base, run.name, None, run.run_id)
            kind = "LoRA adapter" if run.trained.kind == "adapter" else "full model"
            choices.append((f"{run.name} ({kind})", spec, str(run.folder)))
        first_run = next(
            (i for i, c in enumerate(choices) if c[1] is not None and c[1].kind != "base"), None
        )
        for side, combo in enumerate(self.model_combos):
            previous = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            if side == 1:
                combo.addItem(NO_SECOND_MODEL, None)
            for text, spec, tooltip in choices:
                combo.addItem(text, spec)
                row = combo.count() - 1
                combo.setItemData(row, tooltip, Qt.ItemDataRole.ToolTipRole)
                if spec is None:
                    combo.model().item(row).setEnabled(False)
            wanted = next(
                (i for i in range(combo.count()) if previous and combo.itemData(i) == previous), -1
            )
            if wanted < 0:
                if side == 0:
                    wanted = next((i for i in range(combo.count()) if combo.itemData(i)), 0)
                else:
                    wanted = first_run + 1 if first_run is not None else 0
            combo.setCurrentIndex(wanted)
            combo.blockSignals(False)
        self.no_model_label.setVisible(default_base is None)
        self._models_changed()

    def choose_model(self, side: int, text_start: str) -> None:
        """Select the model whose entry starts with `text_start` (tests and receive())."""
        combo = self.model_combos[side]
        for row in range(combo.count()):
            if combo.itemText(row).startswith(text_start):
                combo.setCurrentIndex(row)
                return
        raise LookupError(f"No model {text_start!r} in the list")

    def chosen_specs(self) -> dict[int, ModelSpec]:
        return {
            side: combo.currentData()
            for side, combo in enumerate(self.model_combos)
            if combo.currentData() is not None
        }

    def _runs_changed(self, _run_id: str) -> None:
        self.refresh_models()  # keeps the models chosen while they still exist

    def _models_changed(self, *_args) -> None:
        specs = self.chosen_specs()
        for side, pane in enumerate(self.panes):
            spec = specs.get(side)
            pane.set_model(spec.label if spec else "")
        self.panes[1].setVisible(1 in specs)
        self._update_state()

    # Settings ---------------------------------------------------------------------------
    def settings(self) -> ChatSettings:
        return ChatSettings(
            system_prompt=self.system_edit.text().strip(),
            temperature=round(self.temperature_spin.value(), 2),
            top_p=round(self.top_p_spin.value(), 2),
            max_new_tokens=self.max_tokens_spin.value(),
            seed=self.seed_spin.value(),
        )

    def _show_settings(self, settings: ChatSettings) -> None:
        self.system_edit.setText(settings.system_prompt)
        self.temperature_spin.setValue(settings.temperature)
        self.top_p_spin.setValue(settings.top_p)
        self.max_tokens_spin.setValue(settings.max_new_tokens)
        self.seed_spin.setValue(settings.seed)

    # Conversations ----------------------------------------------------------------------
    def refresh_conversations(self) -> None:
        self.conversation_list.clear()
        for summary in list_conversations(self.project):
            item = QListWidgetItem(summary.title)
            item.setData(Qt.ItemDataRole.UserRole, summary.id)
            turns = f"{summary.n_turns} message{'s' if summary.n_turns != 1 else ''}"
            item.setToolTip(f"{summary.title}\n{turns} · last used {summary.updated_at[:16]}")
            self.conversation_list.addItem(item)
            if self.conversation is not None and summary.id == self.conversation.id:
                self.conversation_list.setCurrentItem(item)
        self.no_conversations_label.setVisible(self.conversation_list.count() == 0)

    def open_conversation(self, conversation_id: int) -> None:
        if self.is_running():
            return
        try:
            self.conversation = load_conversation(self.project, conversation_id)
        except ConversationNotFound as error:
            self._error(str(error))
            self.refresh_conversations()
            return
        self._show_settings(self.conversation.settings)
        self._show_transcripts()
        self.refresh_conversations()
        self._say("")
        self._update_state()

    def new_conversation(self) -> None:
        """An empty chat; it is stored when the first message is sent."""
        if self.is_running():
            return
        self.conversation = None
        self.conversation_list.clearSelection()
        self.conversation_list.setCurrentItem(None)
        self._show_transcripts()
        for pane in self.panes:
            pane.stats_label.clear()
        self.prompt_edit.setFocus()
        self._update_state()

    def rename_current(self, title: str) -> bool:
        if self.conversation is None:
            return False
        try:
            rename_conversation(self.project, self.conversation.id, title)
        except ValueError as error:
            self._error(str(error))
            return False
        self.conversation = load_conversation(self.project, self.conversation.id)
        self.refresh_conversations()
        return True

    def ask_rename(self) -> None:
        if self.conversation is None or self.is_running():
            return
        title, ok = QInputDialog.getText(
            self, "Rename conversation", "Name:", text=self.conversation.title
        )
        if ok:
            self.rename_current(title)

    def delete_current(self) -> None:
        if self.conversation is None or self.is_running():
            return
        delete_conversation(self.project, self.conversation.id)
        self.conversation = None
        self.refresh_conversations()
        first = self.conversation_list.item(0)
        if first is not None:
            self.open_conversation(first.data(Qt.ItemDataRole.UserRole))
        else:
            self.new_conversation()

    def ask_delete(self) -> None:
        if self.conversation is None or self.is_running():
            return
        answer = QMessageBox.question(
            self,
            "Delete conversation",
            f"Delete “{self.conversation.title}” and all its answers? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_current()

    def _show_transcripts(self, pending_prompt: str | None = None) -> None:
        turns = self.conversation.turns if self.conversation else ()
        if pending_prompt is not None:
            turns = tuple(t for t in turns if t.id != self._turn.id)
        for pane in self.panes:
            pane.show_turns(turns, pending_prompt)

    # Sending ----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.job is not None

    def send(self) -> bool:
        """Send the typed message to the chosen models; False (with the reason shown) if not."""
        if self.is_running():
            return False
        prompt = self.prompt_edit.toPlainText().strip()
        if not prompt:
            self._error("Type a message first.")
            return False
        specs = self.chosen_specs()
        if 0 not in specs:
            self._error("Choose the left model first. " + NO_MODEL_TEXT)
            return False
        try:
            settings = self.settings()
        except ChatSettingsError as error:
            self._error(f"{error}.")
            return False
        if self.conversation is None:
            conversation_id = create_conversation(self.project, settings)
        else:
            conversation_id = self.conversation.id
            save_settings(self.project, conversation_id, settings)
        try:
            self._turn = add_turn(self.project, conversation_id, prompt)
        except ConversationNotFound as error:
            self._error(str(error))
            return False
        self.conversation = load_conversation(self.project, conversation_id)
        requests = [
            SideRequest(
                side,
                spec,
                conversation_messages(
                    settings.system_prompt,
                    self.conversation.history(side, before=self._turn.position),
                    prompt,
                ),
            )
            for side, spec in sorted(specs.items())
        ]
        self._labels = {side: spec.label for side, spec in specs.items()}
        wanted = {model_key(spec) for spec in specs.values()}
        for key in [k for k in self.models if k not in wanted]:
            del self.models[key]  # free a model no longer chosen before loading another
        self.prompt_edit.clear()
        self.refresh_conversations()
        self._show_transcripts(pending_prompt=prompt)
        self.last_error = ""
        self.job = ReplyJob(requests, settings, self.models, self)
        self.job.loading.connect(self._on_loading)
        self.job.text.connect(self._on_text)
        self.job.answered.connect(self._on_answered)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_finished)
        self._say(f"{self._labels[0]} is answering…")
        self.job.start()
        self._update_state()
        return True

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self._say("Stopping…")

    def _on_loading(self, fraction: float, message: str) -> None:
        self.progress.setVisible(fraction < 1.0)
        self._say(message)

    def _on_text(self, side: int, piece: str) -> None:
        if not self.progress.isHidden():
            self.progress.setVisible(False)
            self._say(f"{self._labels[side]} is answering…")
        self.panes[side].append(piece)

    def _on_answered(self, side: int, reply, memory) -> None:
        save_answer(
            self.project,
            self._turn.id,
            side,
            self._labels[side],
            reply.text,
            reply.n_tokens,
            reply.seconds,
            reply.stopped,
            cut_off=not reply.finished and not reply.stopped,
        )
        self.panes[side].show_stats(reply, *memory)
        if side + 1 in self._labels and not reply.stopped:
            self._say(f"{self._labels[side + 1]} is answering…")

    def _on_failed(self, message: str) -> None:
        self.last_error = message
        self._error(
            f"{message}. Choose another model (or free memory), then send the message again."
        )

    def _on_finished(self) -> None:
        stopped = self.job.cancelled if self.job else False
        self.job = None
        self.progress.setVisible(False)
        if self.conversation is not None:
            try:
                self.conversation = load_conversation(self.project, self.conversation.id)
            except ConversationNotFound:
                self.conversation = None
        self._show_transcripts()
        self.refresh_conversations()
        if not self.last_error:
            self._say("Stopped." if stopped else "")
        self._update_state()
        self.reply_finished.emit()

    # An answer as data ------------------------------------------------------------------
    def _last_answered(self, side: int) -> int | None:
        if self.conversation is None:
            return None
        positions = [t.position for t in self.conversation.turns if side in t.answers]
        return positions[-1] if positions else None

    def edit_last_answer(self, side: int, text: str) -> bool:
        position = self._last_answered(side)
        if position is None or not text.strip():
            self._error("Write the answer you want; an empty answer is not saved.")
            return False
        original = self.conversation.turn(position).answers[side]
        pair, no_pair = None, ""
        if original.edited:
            pass  # the stored answer is the user's earlier correction: its pair was kept then
        elif not original.text.strip():
            no_pair = (
                " No preference pair for DPO: the model's answer was empty, so there is "
                "nothing to prefer yours over."
            )
        else:
            try:  # the model's own answer is replaced below: the pair is made while it is here
                pair = preference_pair_from_correction(self.conversation, position, side, text)
            except (LookupError, ValueError) as error:
                no_pair = f" No preference pair for DPO: {error}"
        edit_answer(self.project, self.conversation.turn(position).id, side, text)
        self.conversation = load_conversation(self.project, self.conversation.id)
        self._show_transcripts()
        kept = ""
        if pair is not None:
            waiting = add_pending_pairs(self.project, [pair])
            kept = (
                f" Your answer over the model's is kept as a preference pair for DPO "
                f"({waiting} waiting on the Dataset page, Preference pairs)."
            )
        self._say(
            "Answer edited. Save it as a training example or add it to an eval set."
            + (kept or no_pair)
        )
        return True

    def ask_edit(self, side: int) -> None:
        position = self._last_answered(side)
        if position is None or self.is_running():
            return
        answer = self.conversation.turn(position).answers[side]
        dialog = EditAnswerDialog(
            self,
            f"The answer you want from {answer.model_label} (turn {position + 1}):",
            answer.text,
        )
        if dialog.exec():
            self.edit_last_answer(side, dialog.text())

    def send_to_dataset(self, side: int) -> bool:
        """The conversation with this side's last answer, to the Dataset page as a draft."""
        position = self._last_answered(side)
        if position is None:
            return False
        try:
            record = example_record(self.conversation, position, side)
        except (LookupError, ValueError) as error:
            self._error(str(error))
            return False
        self.context.navigate("dataset", dataset_drafts(self.project, [record]))
        self.context.show_status("Sent the answer to the Dataset page as a draft example.", 8000)
        return True

    def add_to_eval_set(self, side: int, path: str | Path) -> bool:
        position = self._last_answered(side)
        if position is None:
            return False
        try:
            record = example_record(self.conversation, position, side)
            count = append_to_eval_set(path, record)
        except (EvalSetError, LookupError, ValueError, OSError) as error:
            self._error(str(error))
            return False
        self._say(f"Added to {path} ({count_text(count, 'example')}).")
        return True

    def ask_eval_set(self, side: int) -> None:
        if self._last_answered(side) is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Add to eval set (the answer is the reference)",
            str(self.project.evals_dir / "chat-answers.jsonl"),
            "Eval sets (*.jsonl)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.add_to_eval_set(side, path)

    # State ------------------------------------------------------------------------------
    def _update_state(self) -> None:
        running = self.is_running()
        ready = 0 in self.chosen_specs()
        self.send_button.setEnabled(ready and not running)
        self.stop_button.setEnabled(running)
        for combo in self.model_combos:
            combo.setEnabled(not running)
        self.conversation_list.setEnabled(not running)
        for button in (self.new_button, self.rename_button, self.delete_button):
            button.setEnabled(
                not running and (button is self.new_button or self.conversation is not None)
            )
        for pane in self.panes:
            has_answer = self._last_answered(pane.side) is not None
            pane.set_actions_enabled(has_answer and not running)

    def _say(self, text: str) -> None:
        self.status_label.setStyleSheet("")
        self.status_label.setText(text)

    def _error(self, text: str) -> None:
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setText(text)

    def _stop_and_wait(self) -> None:
        """Stop the reply, wait for the thread, and take in what it sent (saved to this project)."""
        job = self.job
        if job is None:
            return
        job.cancel()
        job.wait()
        # What it sent is queued to this page and to the task: take it all in now.
        QCoreApplication.sendPostedEvents()

    def set_project(self, project) -> None:
        self._stop_and_wait()
        self.project = project
        self.models.clear()
        self.conversation = None
        self.refresh_models()
        self.refresh_conversations()
        self.new_conversation()

    def can_close(self) -> bool:
        self._stop_and_wait()
        return True

    def receive(self, _handoff) -> None:
        """No page hands anything to this one; navigating here only shows it."""
