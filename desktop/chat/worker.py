"""The chat generation thread: loads the chosen models, then streams each side's reply.

A worker QObject on its own QThread; it talks to the page only through signals (queued
to the GUI thread). The sides answer one after the other, not at once: on a CPU one model
at a time gets every free core, so the pair takes no longer and the first answer comes
sooner; on a GPU it keeps one model's activations in memory at a time.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import MutableMapping
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from core.chat.generation import ChatSettings, generate_reply, load_chat_model, memory_in_use
from core.evaluation.models import ModelSpec


class _LoadError(Exception):
    """A chosen model could not be loaded; the message names it and its folder."""


def model_key(spec: ModelSpec) -> tuple:
    """Specs that load the same weights share one loaded model."""
    return (spec.kind, spec.base_model, spec.adapter)


@dataclass(frozen=True)
class SideRequest:
    side: int
    spec: ModelSpec
    messages: list[dict]


class _Worker(QObject):
    loading = Signal(float, str)
    text = Signal(int, str)
    answered = Signal(int, object, object)  # side, Reply, (memory bytes or None, device)
    failed = Signal(str)
    done = Signal()

    def __init__(self, requests, settings, models, cancel: threading.Event) -> None:
        super().__init__()
        self._requests = requests
        self._settings = settings
        self._models = models
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        doing = "loading the models"
        try:
            self._load()
            for request in self._requests:
                if self._cancel.is_set():
                    break
                doing = f"{request.spec.label} was answering"
                loaded = self._models[model_key(request.spec)]
                reply = generate_reply(
                    loaded,
                    request.messages,
                    self._settings,
                    on_text=lambda piece, side=request.side: self.text.emit(side, piece),
                    cancelled=self._cancel.is_set,
                )
                self.answered.emit(
                    request.side, reply, (memory_in_use(loaded.device), loaded.device)
                )
        except _LoadError as error:
            traceback.print_exc()
            self.failed.emit(str(error))
        except Exception as error:  # shown to the user, never swallowed
            traceback.print_exc()
            self.failed.emit(f"Failed while {doing}: {type(error).__name__}: {error}")
        finally:
            self.done.emit()

    def _load(self) -> None:
        missing = []
        for request in self._requests:
            key = model_key(request.spec)
            if key not in self._models and all(model_key(s) != key for s in missing):
                missing.append(request.spec)
        for number, spec in enumerate(missing, start=1):
            if self._cancel.is_set():
                return
            self.loading.emit(
                (number - 1) / len(missing), f"Loading {spec.label} ({number} of {len(missing)})…"
            )
            try:
                self._models[model_key(spec)] = load_chat_model(spec)
            except Exception as error:
                where = spec.adapter or spec.base_model
                raise _LoadError(
                    f"Could not load {spec.label} from {where} ({type(error).__name__}: {error})"
                ) from error
        if missing:
            self.loading.emit(1.0, "Models loaded")


class ReplyJob(QObject):
    """One prompt sent to one or two models, on a thread of its own."""

    loading = Signal(float, str)
    text = Signal(int, str)
    answered = Signal(int, object, object)
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
        self._cancel = threading.Event()
        self._thread = QThread()
        self._worker = _Worker(requests, settings, models, self._cancel)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.loading.connect(self.loading)
        self._worker.text.connect(self.text)
        self._worker.answered.connect(self.answered)
        self._worker.failed.connect(self.failed)
        # Direct: quit() is thread-safe, and a queued call would wait for the GUI thread,
        # which deadlocks a GUI-thread wait() until its timeout.
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        # No worker.deleteLater on finished: run as the thread exits, it can deadlock with
        # the GUI thread (see desktop/background.py). The worker goes with this object.
        self._thread.finished.connect(self.finished)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        return self._thread.wait(timeout_ms)
