"""What a run records as it goes: metric records and advice, and their JSONL files.

metrics.jsonl holds one JSON object per line, each with `step` and `loss` (a training
record) or `eval_loss` (a validation record). A line `{"event": "resumed", "step": N}`
marks a resume from checkpoint N: records after it replace those past step N before it.
The files are appended and flushed line by line, so they survive a crash; a torn last
line (a kill in mid-write) is skipped when reading.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

METRICS_FILE = "metrics.jsonl"
ADVICE_FILE = "advice.jsonl"

INFO, WARNING, ERROR = "info", "warning", "error"


@dataclass
class MetricRecord:
    """One training or validation measurement at an optimizer step."""

    step: int
    kind: str = "train"  # "train" or "eval"
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_per_second: float | None = None  # real (non-padding) tokens, since the last record
    tokens_seen: int | None = None
    memory_allocated: int | None = None
    memory_reserved: int | None = None
    memory_peak: int | None = None
    memory_kind: str | None = None  # "cuda", "mps" or "cpu-rss" (process resident memory)
    elapsed_s: float | None = None  # training time so far, pauses excluded
    eta_s: float | None = None
    max_steps: int | None = None
    time: float | None = None  # wall clock (unix seconds)
    # DPO (TRL's rewards/*): the implicit rewards of the chosen and rejected answers, their
    # margin, and the share of pairs where chosen beat rejected.
    rewards_chosen: float | None = None
    rewards_rejected: float | None = None
    rewards_margin: float | None = None
    rewards_accuracy: float | None = None
    # GRPO (TRL's reward, reward_std, kl, completions/mean_length, rewards/<name>/*): the
    # weighted reward's mean and spread over the step's answers, the KL from the
    # reference, the mean answer length in tokens, and each reward's {"mean", "std"}.
    reward: float | None = None
    reward_std: float | None = None
    kl: float | None = None
    completion_length: float | None = None
    reward_parts: dict | None = None

    def as_dict(self) -> dict:
        return {
            key: _json_number(value) for key, value in asdict(self).items() if value is not None
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), allow_nan=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> MetricRecord:
        known = {f.name for f in fields(cls)}
        values = {key: _from_json_number(value) for key, value in data.items() if key in known}
        if "kind" not in values:
            values["kind"] = "eval" if "eval_loss" in values and "loss" not in values else "train"
        return cls(**values)

    @property
    def value(self) -> float | None:
        return self.eval_loss if self.kind == "eval" else self.loss


@dataclass
class Advice:
    """Something the advisor noticed, at the step it refers to, and what to do about it."""

    step: int
    severity: str  # info, warning, error
    kind: str  # overfitting, lr_too_high, diverged, small_dataset, out_of_memory, ...
    title: str
    message: str
    action: str = ""  # stop_keep_best, stop, lower_learning_rate, evaluate_more_often, ...
    action_label: str = ""
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: _json_number(v) for k, v in asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), allow_nan=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Advice:
        known = {f.name for f in fields(cls)}
        return cls(**{k: _from_json_number(v) for k, v in data.items() if k in known})

    def as_line(self) -> str:
        action = f" Suggested: {self.action_label}." if self.action_label else ""
        return f"[{self.severity}] step {self.step}: {self.title}. {self.message}{action}"


def _json_number(value: Any) -> Any:
    """Strict JSON has no NaN/inf; a diverged run's NaN loss is kept as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_number(v) for k, v in value.items()}
    return value


def _from_json_number(value: Any) -> Any:
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return value


class JsonlAppender:
    """Appends one JSON line at a time, flushed at once; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None

    def append(self, line: str) -> None:
        with self._lock:
            if self._handle is None:
                self._handle = self._open()
            self._handle.write(line + "\n")
            self._handle.flush()

    def _open(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = False
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as existing:
                existing.seek(-1, 2)
                needs_newline = existing.read(1) != b"\n"
        handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for appends)
        if needs_newline:  # a torn line from a killed process: end it so ours stays whole
            handle.write("\n")
        return handle

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _read_json_lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash
            if isinstance(data, dict):
                out.append(data)
    return out


def replayed_lines(path: str | Path) -> list[dict]:
    """The JSON objects of a metrics.jsonl or advice.jsonl as the run stands: after a
    `resumed` marker at step N, the lines past step N before it are dropped (they were
    redone). The one place this rule lives; every reader of a run's files goes through it."""
    kept: list[dict] = []
    for data in _read_json_lines(Path(path)):
        if data.get("event") == "resumed":
            try:
                resumed_at = int(data.get("step", 0))
            except (TypeError, ValueError):
                continue
            kept = [line for line in kept if not _past(line, resumed_at)]
            continue
        kept.append(data)
    return kept


def _past(line: dict, step: int) -> bool:
    value = line.get("step")
    return isinstance(value, (int, float)) and value > step


def read_metrics_file(path: str | Path) -> list[MetricRecord]:
    """The records of a metrics.jsonl, with steps redone after a resume replacing the old."""
    records: list[MetricRecord] = []
    for data in replayed_lines(path):
        if "step" not in data or not ("loss" in data or "eval_loss" in data):
            continue
        try:
            records.append(MetricRecord.from_dict(data))
        except (TypeError, ValueError):
            continue
    return records


def read_advice_file(path: str | Path) -> list[Advice]:
    advice: list[Advice] = []
    for data in replayed_lines(path):
        try:
            advice.append(Advice.from_dict(data))
        except (TypeError, ValueError):
            continue
    return advice


def resumed_marker(step: int) -> str:
    return json.dumps({"event": "resumed", "step": step})
