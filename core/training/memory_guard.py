"""A watchdog that stops a run before the operating system's out-of-memory killer does.

Linux kills the biggest process without a word when RAM runs out, taking the window and
the unsaved work with it. The guard samples the process's resident memory (RSS) and the
machine's available RAM a few times a second on its own thread. When either crosses its
limit it asks the run to stop (the current step finishes and a checkpoint is saved);
if memory keeps running out before that step ends, it interrupts the training thread
with MemoryGuardInterrupt, which the session handles like an out-of-memory error.
On CUDA the allocator raises its own OutOfMemoryError; the guard only warns there when
the card is more than 95 % full.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psutil

GIB = 1024**3
# Past the stop limit by this much (half the free-RAM floor; 5 % more of the RAM held by
# the app), the step in progress is interrupted: waiting for it to end would let the
# kernel's OOM killer act first.
HARD_AVAILABLE_SHARE = 0.5
HARD_RSS_MARGIN_PERCENT = 5.0


class MemoryGuardInterrupt(MemoryError):
    """Raised in the training thread when memory ran out before the step could end."""


@dataclass(frozen=True)
class MemoryLimits:
    """When the guard stops a run. Percentages are of the machine's total RAM."""

    min_available_percent: float = 10.0  # stop when less RAM than this is available
    max_rss_percent: float = 85.0  # stop when this process holds more than this
    gpu_warn_percent: float = 95.0  # CUDA: warn above this share of the card's memory
    interval_s: float = 0.2  # how often to look (RAM can fill within a second)

    @classmethod
    def from_config(cls, config) -> MemoryLimits:
        return cls(
            min_available_percent=float(config.memory_stop_available_percent),
            max_rss_percent=float(config.memory_stop_rss_percent),
        )


@dataclass(frozen=True)
class MemoryReading:
    rss_bytes: int
    available_bytes: int
    total_bytes: int

    def describe(self) -> str:
        return (
            f"this process used {self.rss_bytes / GIB:.1f} GiB and "
            f"{self.available_bytes / GIB:.1f} GiB of {self.total_bytes / GIB:.1f} GiB RAM "
            "was still available"
        )


def read_memory() -> MemoryReading:
    """The machine's reading now (psutil; the one place tests may replace)."""
    memory = psutil.virtual_memory()
    return MemoryReading(
        rss_bytes=int(psutil.Process().memory_info().rss),
        available_bytes=int(memory.available),
        total_bytes=int(memory.total),
    )


def read_gpu_used_fraction() -> float | None:
    """The share of the current CUDA card in use (all processes), or None without CUDA."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return 1.0 - free / total if total else None


def breach(limits: MemoryLimits, reading: MemoryReading, hard: bool = False) -> str:
    """Why this reading is over the limits (with `hard`, over the interrupt level), or ""."""
    total = reading.total_bytes
    if total <= 0:
        return ""
    share = HARD_AVAILABLE_SHARE if hard else 1.0
    available_floor = total * limits.min_available_percent / 100 * share
    if limits.min_available_percent > 0 and reading.available_bytes < available_floor:
        return (
            f"only {reading.available_bytes / GIB:.1f} GiB of the {total / GIB:.1f} GiB RAM "
            f"was free, under the guard's {limits.min_available_percent:g} %"
        )
    margin = HARD_RSS_MARGIN_PERCENT if hard else 0.0
    rss_ceiling = total * min(100.0, limits.max_rss_percent + margin) / 100
    if limits.max_rss_percent > 0 and reading.rss_bytes > rss_ceiling:
        return (
            f"the app held {reading.rss_bytes / GIB:.1f} GiB, more than "
            f"{limits.max_rss_percent:g} % of the {total / GIB:.1f} GiB RAM"
        )
    return ""


class MemoryGuard:
    """Watches memory on its own thread while a run prepares, checks and trains.

    on_stop(reason) is called once, from the guard's thread, when a limit is crossed;
    it must only set flags (the run's stop request). on_warning(text) likewise, once.
    """

    def __init__(
        self,
        limits: MemoryLimits,
        on_stop: Callable[[str], None],
        on_warning: Callable[[str], None] | None = None,
        watch_gpu: bool = False,
        read: Callable[[], MemoryReading] = read_memory,
        read_gpu: Callable[[], float | None] = read_gpu_used_fraction,
    ) -> None:
        self.limits = limits
        self.on_stop = on_stop
        self.on_warning = on_warning
        self.watch_gpu = watch_gpu
        self._read = read
        self._read_gpu = read_gpu
        self.stop_reason = ""
        self.peak_rss_bytes = 0
        self.last_reading: MemoryReading | None = None
        self._warned_gpu = False
        self._warnings: list[str] = []
        self._interrupted = False
        self._target_thread: int | None = None
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self._target_lock = threading.Lock()

    # --- lifetime ---------------------------------------------------------------------
    def start(self, interrupt_thread: int | None = None) -> MemoryGuard:
        """Start watching. interrupt_thread: the ident of the thread to interrupt when a
        step does not end in time (the thread that trains); None: only ask to stop."""
        self._target_thread = interrupt_thread
        self._quit.clear()
        self._thread = threading.Thread(target=self._watch, name="memory-guard", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop watching and wait for the guard's thread (no interrupt after this returns)."""
        with self._target_lock:
            target, self._target_thread = self._target_thread, None
            if target is not None and self._interrupted:
                # An interrupt that has not fired yet would hit whatever runs next.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)
        self._quit.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> MemoryGuard:
        return self.start(threading.get_ident())

    def __exit__(self, *_exc) -> None:
        self.close()

    @property
    def tripped(self) -> bool:
        return bool(self.stop_reason)

    # --- watching -----------------------------------------------------------------------
    def check(self) -> str:
        """Take one reading and act on it; returns the stop reason so far."""
        reading = self._read()
        self.last_reading = reading
        self.peak_rss_bytes = max(self.peak_rss_bytes, reading.rss_bytes)
        if not self.stop_reason:
            why = breach(self.limits, reading)
            if why:
                self.stop_reason = why
                self.on_stop(self.stop_reason)
        elif not self._interrupted and breach(self.limits, reading, hard=True):
            # Still climbing after the stop was asked: the step in progress will not end in
            # time, so interrupt it (the last checkpoint is kept).
            self._interrupt()
        if self.watch_gpu and not self._warned_gpu:
            used = self._read_gpu()
            if used is not None and used * 100 > self.limits.gpu_warn_percent:
                self._warned_gpu = True
                text = (
                    f"The GPU is {used:.0%} full: the run is close to running out of GPU "
                    "memory. If it does, it stops with a checkpoint; a smaller micro batch, "
                    "a shorter max sequence length or gradient checkpointing make room."
                )
                with self._target_lock:
                    self._warnings.append(text)
                if self.on_warning is not None:
                    self.on_warning(text)
        return self.stop_reason

    def take_warnings(self) -> list[str]:
        """Warnings not yet shown (for the training thread to report at a step's end)."""
        with self._target_lock:
            taken, self._warnings = self._warnings, []
        return taken

    def _watch(self) -> None:
        while not self._quit.is_set():
            try:
                self.check()
            except Exception:  # a reading that failed once must not end the watch
                pass
            self._quit.wait(self.limits.interval_s)

    def _interrupt(self) -> None:
        with self._target_lock:
            target = self._target_thread
            if target is None:
                return
            self._interrupted = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(target), ctypes.py_object(MemoryGuardInterrupt)
            )
