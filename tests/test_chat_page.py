"""The Chat page driven like a user: the tiny base model on the left, a LoRA run trained here
on the right; real streaming from a generation thread, Stop, conversations kept in the
project, and a corrected answer handed to the Dataset page and to an eval set."""

from __future__ import annotations

import shutil

import pytest
from chat_adapter import ANSWER, add_finished_run, bare_greedy_reply, train_chat_adapter
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from waiting import WORK_MS

from core.chat.generation import conversation_messages
from core.chat.store import list_conversations, load_conversation
from core.dataset.preferences_store import pending_pairs
from core.evaluation.eval_set import load_eval_set_file
from core.hardware import HardwareInfo
from core.models.registry import add_local_model
from desktop.chat.page import EMPTY_LEFT, NO_SECOND_MODEL, ChatPage
from desktop.context import AppContext

pages: list[ChatPage] = []


@pytest.fixture(autouse=True)
def close_pages():
    yield
    while pages:
        pages.pop().can_close()


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory):
    return train_chat_adapter(tiny_model_dir, tmp_path_factory.mktemp("chat-adapter") / "final")


@pytest.fixture
def chat_project(project, tiny_model_dir, adapter_dir):
    """The tiny model as a base model, and a finished run that saved a LoRA adapter."""
    add_finished_run(project, tiny_model_dir, adapter_dir)
    return project


def open_page(qtbot, project, context=None) -> ChatPage:
    context = context or AppContext(project, HardwareInfo(cpu_cores=2))
    page = ChatPage(context)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    with qtbot.waitExposed(page):
        page.show()
    pages.append(page)
    return page


def pick_tiny_and_run(page, tiny_model_dir) -> None:
    page.choose_model(0, tiny_model_dir.name)
    page.choose_model(1, "run-1")


def send(qtbot, page, prompt: str, keyboard=False, timeout=WORK_MS) -> None:
    qtbot.keyClicks(page.prompt_edit, prompt)
    with qtbot.waitSignal(page.reply_finished, timeout=timeout):
        if keyboard:
            qtbot.keyClick(page.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        else:
            qtbot.mouseClick(page.send_button, Qt.MouseButton.LeftButton)
        assert page.is_running() and page.stop_button.isEnabled()
        assert not page.send_button.isEnabled() and not page.model_combos[0].isEnabled()
    assert not page.last_error, page.last_error


def test_both_panes_stream_what_a_plain_greedy_generate_says(
    qtbot, chat_project, tiny_model_dir, adapter_dir
):
    page = open_page(qtbot, chat_project)
    assert page.model_combos[1].currentText().startswith("run-1")  # the latest run, by default
    pick_tiny_and_run(page, tiny_model_dir)
    page.max_tokens_spin.setValue(24)
    streamed, loading = {0: [], 1: []}, []
    qtbot.keyClicks(page.prompt_edit, "ticket refund")
    with qtbot.waitSignal(page.reply_finished, timeout=WORK_MS):
        page.send_button.click()
        page.job.loading.connect(lambda fraction, message: loading.append(message))
        page.job.text.connect(lambda side, piece: streamed[side].append(piece))
    assert not page.last_error, page.last_error
    assert loading[:2] == [f"Loading {tiny_model_dir.name} (1 of 2)…", "Loading run-1 (2 of 2)…"]
    assert not page.progress.isVisible()

    messages = conversation_messages("", [], "ticket refund")
    expected = {
        0: bare_greedy_reply(tiny_model_dir, None, messages, 24),
        1: bare_greedy_reply(tiny_model_dir, adapter_dir, messages, 24),
    }
    assert expected[1] == ANSWER
    for side, pane in enumerate(page.panes):
        assert len(streamed[side]) > 3  # token by token, not all at once
        assert "".join(streamed[side]) == pane.streamed == expected[side]
        assert "tokens/s" in pane.stats_label.text() and "app memory" in pane.stats_label.text()
        assert pane.dataset_button.isEnabled()
    assert ANSWER in page.panes[1].transcript.toPlainText()
    assert "ticket refund" in page.panes[0].transcript.toPlainText()
    (conversation,) = list_conversations(chat_project)
    stored = load_conversation(chat_project, conversation.id).turns[0]
    assert stored.answers[0].text == expected[0] and stored.answers[1].text == ANSWER
    assert stored.answers[0].cut_off and not stored.answers[1].cut_off  # random base: no end
    assert "cut off at Max tokens" in page.panes[0].transcript.toPlainText()
    assert "cut off" not in page.panes[1].transcript.toPlainText()
    assert conversation.title == "ticket refund"
    assert page.send_button.isEnabled() and not page.stop_button.isEnabled()
    assert page.prompt_edit.toPlainText() == ""


def test_escape_stops_the_answer_mid_stream(qtbot, chat_project, tiny_model_dir):
    page = open_page(qtbot, chat_project)
    pick_tiny_and_run(page, tiny_model_dir)
    page.max_tokens_spin.setValue(400)
    pieces = []

    def on_text(side, piece):
        pieces.append(piece)
        if len(pieces) == 3:
            qtbot.keyClick(page.prompt_edit, Qt.Key.Key_Escape)

    qtbot.keyClicks(page.prompt_edit, "hello")
    with qtbot.waitSignal(page.reply_finished, timeout=WORK_MS):
        page.send_button.click()
        page.job.text.connect(on_text)
    conversation = load_conversation(chat_project, list_conversations(chat_project)[0].id)
    answers = conversation.turns[0].answers
    assert answers[0].stopped and answers[0].n_tokens < 400
    assert 1 not in answers  # stopped before the right model began
    assert "No answer from this model" in page.panes[1].transcript.toPlainText()
    assert page.status_label.text() == "Stopped." and page.send_button.isEnabled()


def test_an_edited_answer_lands_in_a_dataset_draft_and_an_eval_set(
    qtbot, chat_project, tiny_model_dir, tmp_path
):
    from desktop.dataset.page import DatasetPage

    context = AppContext(chat_project, HardwareInfo(cpu_cores=2))
    dataset_page = DatasetPage(context)
    qtbot.addWidget(dataset_page)
    context.navigate_requested.connect(lambda name, payload: dataset_page.receive(payload))
    page = open_page(qtbot, chat_project, context)
    pick_tiny_and_run(page, tiny_model_dir)
    page.system_edit.setText("Answer in JSON.")
    page.max_tokens_spin.setValue(16)
    send(qtbot, page, "ticket billing")

    better = '{"category": "billing", "priority": "high"}'

    def type_the_better_answer():
        dialog = QApplication.activeModalWidget()
        assert dialog.text().endswith(ANSWER)  # the model's answer, to correct
        dialog.editor.setPlainText(better)
        dialog.accept()

    QTimer.singleShot(0, type_the_better_answer)
    page.panes[1].edit_button.click()
    assert "edited by you" in page.panes[1].transcript.toPlainText()
    assert better in page.panes[1].transcript.toPlainText()
    # The correction over the model's own answer waits as a DPO preference pair.
    assert "kept as a preference pair" in page.status_label.text()
    (pair,) = pending_pairs(chat_project)
    assert pair.chosen_text == better and pair.rejected_text.endswith(ANSWER)
    assert pair.prompt[-1] == {"role": "user", "content": "ticket billing"}
    assert page.edit_last_answer(1, better)  # a correction of a correction: no new pair
    assert len(pending_pairs(chat_project)) == 1
    panel = dataset_page.preferences_panel
    panel.refresh_sources()
    assert panel.chat_button.text() == "Add 1 Chat correction"
    panel.chat_button.click()
    assert panel.pairs() == [pair] and not pending_pairs(chat_project)
    assert not page.edit_last_answer(1, "   ")  # an empty answer is refused, with why
    assert "empty answer" in page.status_label.text()
    page.panes[1].dataset_button.click()
    draft = dataset_page.editor.dataset.examples[-1]
    assert draft.tags == ("draft",)
    assert [(m["role"], m["content"]) for m in draft.messages] == [
        ("system", "Answer in JSON."),
        ("user", "ticket billing"),
        ("assistant", better),
    ]
    assert dataset_page.autosaver.note == "from chat"

    path = tmp_path / "chat-evals.jsonl"
    assert page.add_to_eval_set(1, path) and "(1 example)" in page.status_label.text()
    (example,) = load_eval_set_file(path).examples
    assert example.reference == better and example.user_text == "ticket billing"
    dataset_page.can_close()


def test_conversations_persist_across_pages_and_can_be_renamed_and_deleted(
    qtbot, chat_project, tiny_model_dir
):
    page = open_page(qtbot, chat_project)
    assert page.no_conversations_label.isVisible() and not page.rename_button.isEnabled()
    assert page.panes[0].transcript.placeholderText() == EMPTY_LEFT
    page.choose_model(0, tiny_model_dir.name)
    page.choose_model(1, NO_SECOND_MODEL)
    assert not page.panes[1].isVisible()
    page.temperature_spin.setValue(1.2)
    page.seed_spin.setValue(11)
    page.max_tokens_spin.setValue(12)
    send(qtbot, page, "first question")
    first_answer = load_conversation(chat_project, page.conversation.id).turns[0].answers[0]
    send(qtbot, page, "second question", keyboard=True)  # Ctrl+Enter sends
    page.new_conversation()
    assert page.panes[0].transcript.toPlainText() == ""
    send(qtbot, page, "first question")  # same seed and settings: the same answer
    again = load_conversation(chat_project, page.conversation.id).turns[0].answers[0]
    assert again.text == first_answer.text and again.n_tokens == first_answer.n_tokens

    second = open_page(qtbot, chat_project)  # as if the app were opened again
    assert second.conversation_list.count() == 2
    assert second.conversation.title == "first question" and len(second.conversation.turns) == 1
    list_view = second.conversation_list
    qtbot.mouseClick(
        list_view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=list_view.visualItemRect(list_view.item(1)).center(),
    )
    assert [t.prompt for t in second.conversation.turns] == ["first question", "second question"]
    assert second.temperature_spin.value() == 1.2 and second.seed_spin.value() == 11
    assert "second question" in second.panes[0].transcript.toPlainText()

    def answer_dialog(text=None):
        dialog = QApplication.activeModalWidget()
        if text is None:  # the delete confirmation
            dialog.button(QMessageBox.StandardButton.Yes).click()
        else:
            dialog.setTextValue(text)
            dialog.accept()

    QTimer.singleShot(0, lambda: answer_dialog("Parcel questions"))
    second.rename_button.click()
    assert list_view.currentItem().text() == "Parcel questions"
    assert not second.rename_current("  ") and "needs a name" in second.status_label.text()
    QTimer.singleShot(0, answer_dialog)
    second.delete_button.click()
    assert list_view.count() == 1 and second.conversation.title == "first question"
    assert [c.title for c in list_conversations(chat_project)] == ["first question"]


def test_sending_nothing_says_what_to_do(qtbot, chat_project, tiny_model_dir):
    page = open_page(qtbot, chat_project)
    page.choose_model(0, tiny_model_dir.name)
    assert not page.send()
    assert page.status_label.text() == "Type a message first." and not page.is_running()


def test_a_model_that_cannot_load_says_so_and_keeps_the_prompt(
    qtbot, chat_project, tiny_model_dir, tmp_path
):
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    add_local_model(chat_project, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    page = open_page(qtbot, chat_project)
    page.choose_model(0, "broken-model")
    page.choose_model(1, NO_SECOND_MODEL)
    qtbot.keyClicks(page.prompt_edit, "hello")
    with qtbot.waitSignal(page.reply_finished, timeout=WORK_MS):
        page.send_button.click()
    assert page.last_error
    assert page.status_label.text().startswith(f"Could not load broken-model from {broken}")
    assert "send the message again" in page.status_label.text()
    (turn,) = page.conversation.turns
    assert turn.prompt == "hello" and turn.answers == {}
    assert page.send_button.isEnabled() and not page.panes[0].dataset_button.isEnabled()


def test_switching_project_mid_answer_stops_it_and_keeps_it_in_the_old_project(
    qtbot, chat_project, tiny_model_dir, tmp_path
):
    from core.project import create_project

    page = open_page(qtbot, chat_project)
    page.choose_model(0, tiny_model_dir.name)
    page.choose_model(1, NO_SECOND_MODEL)
    page.max_tokens_spin.setValue(400)
    qtbot.keyClicks(page.prompt_edit, "hello")
    page.send_button.click()
    with qtbot.waitSignal(page.job.text, timeout=WORK_MS):
        pass
    other = create_project(tmp_path / "other", name="Other")
    page.context.set_project(other)
    assert not page.is_running() and page.conversation is None
    assert page.conversation_list.count() == 0
    (summary,) = list_conversations(chat_project)
    answer = load_conversation(chat_project, summary.id).turns[0].answers[0]
    assert answer.stopped and 0 < answer.n_tokens < 400
    other.close()


def test_two_runs_side_by_side_an_adapter_and_a_full_model(qtbot, chat_project, tiny_model_dir):
    # A run folder trained elsewhere that holds a full model (here: the tiny model's weights).
    shutil.copytree(tiny_model_dir, chat_project.runs_dir / "full-run" / "final")
    page = open_page(qtbot, chat_project)
    page.choose_model(0, "run-1 (LoRA adapter)")
    page.choose_model(1, "full-run (full model)")
    page.max_tokens_spin.setValue(8)
    send(qtbot, page, "ticket invoice")
    messages = conversation_messages("", [], "ticket invoice")
    assert page.panes[0].streamed == ANSWER
    assert page.panes[1].streamed == bare_greedy_reply(tiny_model_dir, None, messages, 8)
    assert page.panes[1].title_label.text() == "full-run"


def test_a_correction_that_makes_no_preference_pair_says_why(qtbot, project):
    """A correction is kept as a DPO pair over the model's answer; when it cannot be (the
    model wrote nothing, or the 'correction' is the model's own text) the status says so
    instead of leaving the user to find no pair waiting on the Dataset page."""
    from core.chat.store import add_turn, create_conversation, save_answer

    conversation_id = create_conversation(project)
    empty = add_turn(project, conversation_id, "ticket one")
    save_answer(project, empty.id, 1, "run-1", "\n\n\n", 3, 0.1, cut_off=True)
    page = open_page(qtbot, project)
    page.open_conversation(conversation_id)
    assert page.edit_last_answer(1, '{"category": "billing"}')
    assert "model's answer was empty" in page.status_label.text()
    assert not pending_pairs(project)

    same = add_turn(project, conversation_id, "ticket two")
    save_answer(project, same.id, 1, "run-1", "billing", 1, 0.1)
    page.open_conversation(conversation_id)
    assert page.edit_last_answer(1, "billing")
    assert "No preference pair for DPO: The correction is the model's own" in (
        page.status_label.text()
    )
    assert not pending_pairs(project)
