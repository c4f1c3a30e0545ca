"""What each run was estimated to need before it ran: peak memory and hours, cached per run.

The pre-flight check's record (preflight.json) is used when the run had one: the
estimator's prediction it stored and the measured step time x steps. Otherwise the
estimator (core.estimate) is asked with the run's own settings and data
facts. Results are cached in runs_estimates, so the Runs page computes each run once,
in the background, and opens on the cached figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.estimate import GpuSpec, estimate, load_architecture
from core.estimate.gpus import match_gpu_name
from core.estimate.run import run_for_recipe
from core.history.pricing import gpu_catalog_or_none, hardware_of
from core.json_file import read_json_object
from core.project.store import utc_now
from core.recipe.config import config_from_dict

GIB = 1024**3
PREFLIGHT_FILE = "preflight.json"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunEstimate:
    peak_bytes: int | None
    hours: float | None
    gpu: str  # the GPU the estimate is for ("" for a CPU run: memory only)
    source: str  # "pre-flight", "estimator", or "" when there is none
    problem: str = ""  # why there is no estimate

    def as_dict(self) -> dict:
        return {
            "peak_bytes": self.peak_bytes,
            "hours": self.hours,
            "gpu": self.gpu,
            "source": self.source,
            "problem": self.problem,
        }


def _from_preflight(folder: Path) -> RunEstimate | None:
    report = read_json_object(folder / PREFLIGHT_FILE)
    if not report:
        return None
    estimate = report.get("estimate") if isinstance(report.get("estimate"), dict) else {}
    peak = estimate.get("peak_bytes")
    seconds = report.get("estimated_run_time_s")
    hours = estimate.get("hours")
    if hours is None and isinstance(seconds, (int, float)):
        hours = seconds / 3600
    if peak is None and hours is None:
        return None
    return RunEstimate(
        int(peak) if isinstance(peak, (int, float)) else None,
        float(hours) if isinstance(hours, (int, float)) else None,
        str(estimate.get("gpu", "")),
        "pre-flight",
    )


def _settings_for(config, run_json: dict):
    """The estimator's view of a run: its recipe as run.json says the trainer resolved it."""
    data = run_json.get("data") if isinstance(run_json.get("data"), dict) else {}
    tokens = data.get("train_tokens")
    return run_for_recipe(
        config,
        resolved_precision=str(run_json.get("precision", "")) or None,
        used_optimizer=str(run_json.get("optimizer", "")) or None,
        examples=int(data.get("n_train") or 0) or None,
        dataset_tokens=tokens if isinstance(tokens, int) else None,
    )


def _from_estimator(
    config_yaml: str, base_model: str, base_model_path: str, device: str, folder: Path, catalog
) -> RunEstimate:
    try:
        config = config_from_dict(yaml.safe_load(config_yaml) or {}, "the run's settings")
        settings = _settings_for(config, read_json_object(folder / RUN_FILE))
        source = (
            base_model_path if base_model_path and Path(base_model_path).is_dir() else base_model
        )
        model = load_architecture(source)
        hardware, is_gpu = hardware_of(device)
        gpu = None
        if is_gpu and catalog:
            gpu = match_gpu_name(hardware, catalog)
        if gpu is None:
            # Memory does not depend on the card's speed: a nominal card gives the peak;
            # hours are left out, since they would be for hardware the run did not use.
            nominal = GpuSpec(name=hardware, memory_gib=80.0, tflops=1.0)
            result = estimate(model, settings, nominal)
            return RunEstimate(int(result.peak_gib * GIB), None, "", "estimator")
        result = estimate(model, settings, gpu)
        return RunEstimate(int(result.peak_gib * GIB), float(result.hours), gpu.name, "estimator")
    except Exception as error:  # an estimate is advice: never let it break the page
        return RunEstimate(None, None, "", "", f"{type(error).__name__}: {error}")


def estimate_run(row, project_folder: Path, catalog) -> RunEstimate:
    """The estimate for one training_runs row (a mapping with its columns)."""
    folder = project_folder / "runs" / row["folder"]
    found = _from_preflight(folder)
    if found is not None:
        return found
    return _from_estimator(
        row["config_yaml"],
        row["base_model"],
        row["base_model_path"],
        row["device"],
        folder,
        catalog,
    )


def cached_estimates(project) -> dict[str, RunEstimate]:
    rows = project.connection().execute(
        "SELECT run_id, peak_bytes, hours, gpu, source, problem FROM runs_estimates"
    )
    return {row[0]: RunEstimate(*row[1:]) for row in rows}


def runs_without_estimate(project) -> list[str]:
    rows = project.connection().execute(
        "SELECT r.run_id FROM training_runs r LEFT JOIN runs_estimates e ON e.run_id = r.run_id "
        "WHERE e.run_id IS NULL AND r.status != 'running' ORDER BY r.id"
    )
    return [row[0] for row in rows]


def fill_estimates(
    project,
    run_ids: list[str] | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> dict[str, RunEstimate]:
    """Compute and cache the estimate of each run that has none yet (or of `run_ids`)."""
    wanted = run_ids if run_ids is not None else runs_without_estimate(project)
    catalog = gpu_catalog_or_none()
    done: dict[str, RunEstimate] = {}
    conn = project.connection()
    for number, run_id in enumerate(wanted):
        if cancelled is not None and cancelled():
            break
        row = conn.execute("SELECT * FROM training_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            continue
        result = estimate_run(row, project.folder, catalog)
        with project.transaction() as write:
            write.execute(
                "INSERT INTO runs_estimates (run_id, peak_bytes, hours, gpu, source, problem, "
                "computed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET "
                "peak_bytes = excluded.peak_bytes, hours = excluded.hours, gpu = excluded.gpu, "
                "source = excluded.source, problem = excluded.problem, "
                "computed_at = excluded.computed_at",
                (
                    run_id,
                    result.peak_bytes,
                    result.hours,
                    result.gpu,
                    result.source,
                    result.problem,
                    utc_now(),
                ),
            )
        done[run_id] = result
        if progress is not None:
            progress((number + 1) / len(wanted), f"Estimated {run_id}")
    return done
