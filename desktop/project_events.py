"""The Qt side of core's project events (core/project/events.py): one signal per kind, on the
GUI thread, for the open project only.

Pages connect to `context.events.<kind>` and update at once, whichever thread or process
made the change: a run the training thread finished, a version the Dataset page saved, a
run `finetune-studio train` finished in another process (read from the project's change
log every POLL_MS).
"""

from __future__ import annotations

import weakref
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from core.project import Project
from core.project import events as core_events

POLL_MS = 1500  # how soon a change another process made shows (one cheap query)


class _Relay(QObject):
    """The one object announcements from other threads are emitted on: it lives as long as
    the process, so a training thread never emits on a bridge the GUI thread is deleting."""

    arrived = Signal(object)  # ProjectEvent


_relay: _Relay | None = None
_bridges: weakref.WeakSet = weakref.WeakSet()  # touched on the GUI thread only


def _relay_event(event: core_events.ProjectEvent) -> None:
    """core's listener, on the announcing thread: queue the event to the GUI thread."""
    if _relay is not None:
        _relay.arrived.emit(event)


def _live_bridges() -> list[ProjectEventsBridge]:
    return [bridge for bridge in list(_bridges) if shiboken6.isValid(bridge)]


def _fan_out(event: core_events.ProjectEvent) -> None:
    """On the GUI thread: every live bridge hears it."""
    for bridge in _live_bridges():
        bridge.deliver(event)


def _poll_other_processes() -> None:
    for bridge in _live_bridges():
        bridge.check_other_processes()


def _start_relay() -> None:
    global _relay
    if _relay is None:
        _relay = _Relay()  # on the GUI thread, with the first bridge
        # Queued even on the GUI thread: a page hears a change once the code that made it
        # has returned, never in the middle of it.
        _relay.arrived.connect(_fan_out, Qt.ConnectionType.QueuedConnection)
        core_events.subscribe(_relay_event)
        # One timer for every bridge, on the object that outlives them all: a timer of a
        # bridge could fire into one Python is tearing down.
        _relay.poll = QTimer(_relay)
        _relay.poll.setInterval(POLL_MS)
        _relay.poll.timeout.connect(_poll_other_processes)
        _relay.poll.start()


class ProjectEventsBridge(QObject):
    """Re-emits core's announcements for the open project as Qt signals."""

    event = Signal(object)  # every ProjectEvent of the open project
    runs_changed = Signal(str)  # a run started, finished, was deleted or renamed (its id)
    run_started = Signal(str)
    run_finished = Signal(str)
    run_deleted = Signal(str)
    run_changed = Signal(str)  # renamed, or its note edited
    version_saved = Signal(str)  # the dataset version's id
    evaluations_changed = Signal(str)  # an evaluation saved or deleted (its id)
    settings_changed = Signal(str)  # which settings ("train")

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._folder = Path(project.folder)
        self._change_log = core_events.ChangeLog(project)
        _start_relay()
        _bridges.add(self)

    def set_project(self, project: Project) -> None:
        self._folder = Path(project.folder)
        self._change_log = core_events.ChangeLog(project)

    def check_other_processes(self) -> None:
        """Deliver what other processes announced in the open project since the last look."""
        for event in self._change_log.new_events():
            self.deliver(event)

    def deliver(self, event: core_events.ProjectEvent) -> None:
        if Path(event.folder) != self._folder:
            return  # another project (a test's, or one this window switched away from)
        self.event.emit(event)
        kind, subject = event.kind, event.subject
        if kind in core_events.RUN_KINDS:
            self.runs_changed.emit(subject)
        signal = {
            core_events.RUN_STARTED: self.run_started,
            core_events.RUN_FINISHED: self.run_finished,
            core_events.RUN_DELETED: self.run_deleted,
            core_events.RUN_CHANGED: self.run_changed,
            core_events.VERSION_SAVED: self.version_saved,
            core_events.EVALUATION_SAVED: self.evaluations_changed,
            core_events.EVALUATION_DELETED: self.evaluations_changed,
            core_events.SETTINGS_CHANGED: self.settings_changed,
        }.get(kind)
        if signal is not None:
            signal.emit(subject)
