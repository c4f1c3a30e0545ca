"""A finished run as core.training records it, without training: its folder's config.yaml
and metrics.jsonl, and its row in the project's database. The Runs, history and advice
tests build their runs with it and name only what their test is about."""

from __future__ import annotations

from core.recipe.config import TrainConfig, config_to_yaml
from core.runs.record import insert_run_row
from core.runs.records import METRICS_FILE, MetricRecord


def add_recorded_run(
    project,
    run_id: str,
    *,
    config: TrainConfig | None = None,
    records: list[MetricRecord | str] | tuple = (),
    **values,
) -> str:
    """Record run `run_id`: `config` (a small SFT recipe when None) as config.yaml and in
    the row, `records` (MetricRecords or raw JSON lines) as metrics.jsonl, and the row's
    fields, `values` over the defaults. Each run starts a minute after the one before."""
    config = config or TrainConfig(base_model="SmolLM2-135M-Instruct", train_file="/d/t.jsonl")
    folder = project.runs_dir / run_id
    folder.mkdir(parents=True)
    text = config_to_yaml(config)
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    lines = [r if isinstance(r, str) else r.to_json() for r in records]
    (folder / METRICS_FILE).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    started = len(list(project.runs_dir.iterdir()))  # this run's number in the project
    row = {
        "name": run_id,
        "status": "finished",
        "base_model": config.base_model,
        "method": config.method,
        "config_yaml": text,
        "folder": run_id,
        "started_at": f"2025-03-01T{10 + started // 60:02d}:{started % 60:02d}:00+00:00",
        "duration_s": 60.0,
        **values,
    }
    insert_run_row(project, run_id, row)
    return run_id
