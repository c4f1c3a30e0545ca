"""Reading a finished or past run back for the monitor (run off the GUI thread)."""

from __future__ import annotations

from dataclasses import dataclass

from core.runs.record import RunInfo, load_run, read_advice, read_metrics
from core.runs.records import Advice, MetricRecord

LOG_TAIL_BYTES = 200_000  # the end of the log is what explains how a run ended


@dataclass
class ReplayedRun:
    run: RunInfo
    records: list[MetricRecord]
    advice: list[Advice]
    log: str

    @property
    def last_step(self) -> int:
        return max((r.step for r in self.records), default=0)


def read_run_for_replay(project, run_id: str) -> ReplayedRun:
    run = load_run(project, run_id)
    log = ""
    if run.log_path.is_file():
        with open(run.log_path, "rb") as handle:
            handle.seek(max(0, run.log_path.stat().st_size - LOG_TAIL_BYTES))
            log = handle.read().decode("utf-8", errors="replace")
    return ReplayedRun(run, read_metrics(run), read_advice(run), log)
