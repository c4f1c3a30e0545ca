"""Loss curves of a run from its metrics.jsonl, on a step, epoch or tokens-seen axis.

Read only for the runs a user selects, and cached by file size and modification time,
so re-selecting a run or switching axes does not read it again; a running run's
growing file is read again. Non-finite losses (a diverged run) are left out of a curve.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from core.runs.records import replayed_lines

X_AXES = {"step": "Step", "epoch": "Epoch", "tokens": "Tokens seen"}
_CACHE_SIZE = 64
_cache: OrderedDict[tuple, RunRecords] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Curve:
    x: list[float]
    y: list[float]

    def __len__(self) -> int:
        return len(self.x)

    @property
    def last(self) -> float | None:
        return self.y[-1] if self.y else None

    @property
    def lowest(self) -> float | None:
        return min(self.y) if self.y else None


@dataclass(frozen=True)
class LossCurves:
    train: Curve
    validation: Curve
    x_axis: str

    @property
    def is_empty(self) -> bool:
        return not (self.train.x or self.validation.x)


@dataclass(frozen=True)
class RunRecords:
    """The columns of a metrics file that the curves need (None where a record has no value)."""

    train_step: list[int]
    train_epoch: list[float | None]
    train_tokens: list[int | None]
    train_loss: list[float]
    eval_step: list[int]
    eval_epoch: list[float | None]
    eval_loss: list[float]


def _finite_or_none(value) -> float | None:
    if isinstance(value, str):  # core.training writes NaN and inf as strings
        try:
            value = float(value)
        except ValueError:
            return None
    return float(value) if isinstance(value, (int, float)) else None


def _read_records(path: Path) -> RunRecords:
    """The loss columns of a metrics.jsonl, replayed by core.runs.records (a torn line is
    skipped; after a `resumed` marker, records past its step are replaced). Columns are
    taken from the lines rather than through MetricRecord because only five fields are
    needed: 3x faster."""
    train: list[tuple] = []
    evals: list[tuple] = []
    for data in replayed_lines(path):
        step = data.get("step")
        if not isinstance(step, int):
            continue
        epoch = _finite_or_none(data.get("epoch"))
        kind = data.get("kind")
        if "eval_loss" in data and (kind == "eval" or "loss" not in data):
            value = _finite_or_none(data["eval_loss"])
            if value is not None:
                evals.append((step, epoch, value))
        elif "loss" in data and kind in (None, "train"):
            value = _finite_or_none(data["loss"])
            if value is not None:
                tokens = data.get("tokens_seen")
                train.append((step, epoch, tokens if isinstance(tokens, int) else None, value))
    return RunRecords(
        [row[0] for row in train],
        [row[1] for row in train],
        [row[2] for row in train],
        [row[3] for row in train],
        [row[0] for row in evals],
        [row[1] for row in evals],
        [row[2] for row in evals],
    )


def run_records(metrics_path: Path) -> RunRecords:
    """The parsed metrics file, from the cache when the file has not changed."""
    try:
        stat = metrics_path.stat()
    except OSError:
        return RunRecords([], [], [], [], [], [], [])
    if not metrics_path.is_file():
        return RunRecords([], [], [], [], [], [], [])
    key = (str(metrics_path), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    records = _read_records(metrics_path)
    with _cache_lock:
        _cache[key] = records
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return records


def _tokens_at(steps: list[int], train_steps: list[int], train_tokens: list) -> list:
    """Tokens seen at each eval step: those of the last training record at or before it."""
    out = []
    for step in steps:
        at = bisect.bisect_right(train_steps, step) - 1
        out.append(train_tokens[at] if at >= 0 else None)
    return out


def _curve(xs: list, ys: list[float]) -> Curve:
    pairs = [(float(x), y) for x, y in zip(xs, ys) if x is not None and math.isfinite(y)]
    return Curve([x for x, _ in pairs], [y for _, y in pairs])


def loss_curves(metrics_path: Path, x_axis: str = "step") -> LossCurves:
    """The training and validation loss of one run against `x_axis` (step, epoch or tokens)."""
    if x_axis not in X_AXES:
        raise ValueError(f"x_axis must be one of {', '.join(X_AXES)}, not {x_axis!r}")
    r = run_records(metrics_path)
    if x_axis == "step":
        train_x, eval_x = r.train_step, r.eval_step
    elif x_axis == "epoch":
        train_x, eval_x = r.train_epoch, r.eval_epoch
    else:
        train_x = r.train_tokens
        eval_x = _tokens_at(r.eval_step, r.train_step, r.train_tokens)
    return LossCurves(_curve(train_x, r.train_loss), _curve(eval_x, r.eval_loss), x_axis)
