"""Project change events: core says what changed in a project, so that nothing shows stale state.

    unsubscribe = subscribe(listener)          # listener(event: ProjectEvent), any thread
    announce(project, RUN_FINISHED, run_id)    # called by core where the change is written

`announce` calls every subscriber of this process on the announcing thread (the desktop
bridge re-emits them as Qt signals on the GUI thread). It also appends the event to the
project's change log (the project_changes table), so another process that has the same
project open (the app, while `finetune-studio train` trains into it) sees it too:
`ChangeLog(project).new_events()` returns what other processes announced since it last
looked. A failure to announce never fails the change itself.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

RUN_STARTED = "run_started"
RUN_FINISHED = "run_finished"  # finished, stopped or failed: the run is no longer training
RUN_DELETED = "run_deleted"
RUN_CHANGED = "run_changed"  # renamed, or its note edited
VERSION_SAVED = "version_saved"
EVALUATION_SAVED = "evaluation_saved"
EVALUATION_DELETED = "evaluation_deleted"
SETTINGS_CHANGED = "settings_changed"
KINDS = (
    RUN_STARTED,
    RUN_FINISHED,
    RUN_DELETED,
    RUN_CHANGED,
    VERSION_SAVED,
    EVALUATION_SAVED,
    EVALUATION_DELETED,
    SETTINGS_CHANGED,
)
RUN_KINDS = (RUN_STARTED, RUN_FINISHED, RUN_DELETED, RUN_CHANGED)

# Who wrote a change-log row: this process's rows are delivered directly, never twice.
PROCESS_TOKEN = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
KEEP_ROWS = 1000  # the change log is a window onto recent changes, not a history

log = logging.getLogger(__name__)


class _HasFolder(Protocol):
    folder: Path

    def connection(self) -> sqlite3.Connection: ...


@dataclass(frozen=True)
class ProjectEvent:
    kind: str  # one of KINDS
    folder: Path  # the project's folder
    subject: str = ""  # the run id, dataset version id, evaluation id or settings name
    elsewhere: bool = False  # announced by another process (read from the change log)


Listener = Callable[[ProjectEvent], None]
_listeners: list[Callable[[], Listener | None]] = []  # weak or strong references
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener` on every announcement of this process; returns the unsubscribe.

    A bound method is held weakly (a page that is gone stops listening by itself)."""
    try:
        ref: Callable[[], Listener | None] = weakref.WeakMethod(listener)  # type: ignore[arg-type]
    except TypeError:  # a plain function or lambda: held until unsubscribed

        def ref(listener=listener):
            return listener

    with _lock:
        _listeners.append(ref)

    def unsubscribe() -> None:
        with _lock:
            if ref in _listeners:
                _listeners.remove(ref)

    return unsubscribe


def announce(project: _HasFolder, kind: str, subject: str | int = "") -> ProjectEvent:
    """Tell this process's subscribers and the change log that `kind` happened to `subject`."""
    if kind not in KINDS:
        raise ValueError(f"unknown project event {kind!r}; one of {', '.join(KINDS)}")
    event = ProjectEvent(kind, Path(project.folder), str(subject))
    _append_to_change_log(project, event)
    deliver(event)
    return event


def deliver(event: ProjectEvent) -> None:
    """Call the subscribers (also used for events read from the change log)."""
    with _lock:
        refs = list(_listeners)
    dead = []
    for ref in refs:
        listener = ref()
        if listener is None:
            dead.append(ref)
            continue
        try:
            listener(event)
        except Exception:  # a listener's bug must not fail a training run or a save
            log.exception("a listener of %s failed", event.kind)
    if dead:
        with _lock:
            for ref in dead:
                if ref in _listeners:
                    _listeners.remove(ref)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _append_to_change_log(project: _HasFolder, event: ProjectEvent) -> None:
    try:
        conn = project.connection()
        cursor = conn.execute(
            "INSERT INTO project_changes(kind, subject, process, at) VALUES (?, ?, ?, ?)",
            (event.kind, event.subject, PROCESS_TOKEN, _now()),
        )
        if cursor.lastrowid and cursor.lastrowid % 100 == 0:
            conn.execute(
                "DELETE FROM project_changes WHERE id <= ?", (cursor.lastrowid - KEEP_ROWS,)
            )
    except sqlite3.Error as error:  # read-only or damaged: this process still hears it
        log.warning("could not record %s in %s: %s", event.kind, project.folder, error)


class ChangeLog:
    """Reads what other processes announced in one project since the last look.

    Cheap enough to poll every second or two: one indexed query, usually returning nothing.
    """

    def __init__(self, project: _HasFolder) -> None:
        self.project = project
        self.last_id = self._last_id()

    def _last_id(self) -> int:
        try:
            row = (
                self.project.connection().execute("SELECT MAX(id) FROM project_changes").fetchone()
            )
        except sqlite3.Error:
            return 0
        return int(row[0] or 0)

    def new_events(self) -> list[ProjectEvent]:
        """Events other processes announced since the last call (oldest first)."""
        try:
            rows = (
                self.project.connection()
                .execute(
                    "SELECT id, kind, subject, process FROM project_changes WHERE id > ? "
                    "ORDER BY id",
                    (self.last_id,),
                )
                .fetchall()
            )
        except sqlite3.Error:
            return []
        events = []
        for row in rows:
            self.last_id = max(self.last_id, int(row[0]))
            if row[3] != PROCESS_TOKEN and row[1] in KINDS:
                events.append(
                    ProjectEvent(row[1], Path(self.project.folder), row[2] or "", elsewhere=True)
                )
        return events
