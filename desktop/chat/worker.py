"""The chat generation thread: loads the chosen models, then streams each side's reply.

A BackgroundTask (desktop/background.py); it talks to the page only through signals
(queued to the GUI thread). The sides answer one after the other, not at once: on a CPU one model
at a time gets every free core, so the pair takes no longer and the first answer comes
sooner; on a GPU it keeps one model's activations in memory at a time.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from core.chat.generation import ChatSettings, generate_reply, load_chat_model, memory_in_use
from core.evaluation.models import ModelSpec
from desktop.background import BackgroundTask, TaskFailed


def model_key(spec: ModelSpec) -> tuple:
    """Specs that load the same weights share one loaded model."""
    return (spec.kind, spec.base_model, spec.adapter)


@dataclass(frozen=True)
class SideRequest:
    side: int
    spec: ModelSpec
    messages: list[dict]


class ReplyJob(QObject):
    """One prompt sent to one or two models, as a BackgroundTask: the text and the answers
    are emitted from the task's thread and reach the page's slots queued."""

    loading = Signal(float, str)
    text = Signal(int, str)
    answered = Signal(int, object, object)  # side, Reply, (memory bytes or None, device)
    failed = Signal(str)
    finished = Signal()

    def __init__(
        self,
        requests: list[SideRequest],
        settings: ChatSettings,
        models: MutableMapping,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._requests = requests
        self._settings = settings
        self._models = models
        self._task = BackgroundTask(self._answer, self)
        self._task.progress.connect(self.loading)
        self._task.failed.connect(self.failed)
        self._task.finished.connect(self.finished)

    def _answer(self, report, cancelled) -> None:
        doing = "loading the models"
        try:
            self._load(report, cancelled)
            for request in self._requests:
                if cancelled():
                    break
                doing = f"{request.spec.label} was answering"
                loaded = self._models[model_key(request.spec)]
                reply = generate_reply(
                    loaded,
                    request.messages,
                    self._settings,
                    on_text=lambda piece, side=request.side: self.text.emit(side, piece),
                    cancelled=cancelled,
                )
                self.answered.emit(
                    request.side, reply, (memory_in_use(loaded.device), loaded.device)
                )
        except TaskFailed:
            raise
        except Exception as error:
            raise TaskFailed(f"Failed while {doing}: {type(error).__name__}: {error}") from error

    def _load(self, report, cancelled) -> None:
        missing = []
        for request in self._requests:
            key = model_key(request.spec)
            if key not in self._models and all(model_key(s) != key for s in missing):
                missing.append(request.spec)
        for number, spec in enumerate(missing, start=1):
            if cancelled():
                return
            report(
                (number - 1) / len(missing), f"Loading {spec.label} ({number} of {len(missing)})…"
            )
            try:
                self._models[model_key(spec)] = load_chat_model(spec)
            except Exception as error:
                where = spec.adapter or spec.base_model
                raise TaskFailed(
                    f"Could not load {spec.label} from {where} ({type(error).__name__}: {error})"
                ) from error
        if missing:
            report(1.0, "Models loaded")

    def start(self) -> None:
        self._task.start()

    def cancel(self) -> None:
        self._task.cancel()

    @property
    def cancelled(self) -> bool:
        return self._task.is_cancelled()

    def is_running(self) -> bool:
        return self._task.is_running()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        return self._task.wait(timeout_ms)
