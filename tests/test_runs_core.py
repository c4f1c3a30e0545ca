"""Runs' core on runs written the way core.training records them: cost arithmetic, budget
and expert hours, delete (rows first, then files) and leftovers, rename and notes, the
curves' replay rules, estimates, exports and the `runs` CLI."""

from __future__ import annotations

import csv
import json
import math

import pytest
from recorded_run import add_recorded_run

from core.estimate.gpus import gpu_catalog, save_user_gpu
from core.history.config_text import config_values, diff_configs, key_settings_text
from core.history.estimates import cached_estimates, fill_estimates
from core.history.pricing import hardware_of, hourly_price
from core.history.spend import list_expert_hours, record_expert_hours, spend_summary
from core.history.spend_settings import SpendInputError, SpendSettings, save_settings
from core.history.summaries import load_summaries, load_summary, resolve_run
from core.recipe.config import TrainConfig, config_to_yaml
from core.runs import store
from core.runs.curves import loss_curves
from core.runs.export import (
    CSV_COLUMNS,
    TensorBoardMissing,
    tensorboard_available,
    write_metrics_csv,
    write_tensorboard,
)
from core.runs.record import RunBusy, RunLock, RunNotFound
from core.runs.records import METRICS_FILE, MetricRecord, read_metrics_file, resumed_marker
from desktop.launcher import main

H100 = "CUDA GPU (NVIDIA H100 80GB HBM3), bf16"
CPU = "CPU (2 cores), fp32"


def add_run(project, run_id, *, records=(), config=None, **values) -> str:
    """A run as core.training leaves it, an hour on an H100 unless `values` say otherwise."""
    values = {"device": H100, "duration_s": 3600.0, **values}
    return add_recorded_run(project, run_id, config=config, records=records, **values)


def catalog_price(name: str) -> float:
    return gpu_catalog()[name].price_per_hour


# --- cost arithmetic ----------------------------------------------------------------------


def test_cost_is_hours_times_the_catalog_price_of_the_runs_gpu(project):
    add_run(project, "h100", duration_s=5400.0)  # 1.5 h
    add_run(project, "a100", device="CUDA GPU (NVIDIA A100-SXM4-80GB), bf16", duration_s=1800.0)
    add_run(project, "cpu", device=CPU, duration_s=7200.0)
    runs = {s.run_id: s for s in load_summaries(project)}
    h100 = catalog_price("H100 SXM")
    a100 = catalog_price("A100 80GB")
    assert runs["h100"].hours == pytest.approx(1.5)
    assert runs["h100"].cost == pytest.approx(1.5 * h100)
    assert runs["h100"].price.source == "catalog: H100 SXM"
    assert runs["a100"].cost == pytest.approx(0.5 * a100)
    assert runs["cpu"].cost is None and runs["cpu"].price.hardware == "CPU"
    spend = spend_summary(project)
    assert spend.gpu_hours == pytest.approx(4.0)
    assert spend.compute_cost == pytest.approx(1.5 * h100 + 0.5 * a100)
    assert spend.unpriced_hours == pytest.approx(2.0)

    # The project's price covers what the catalog does not price (here the CPU run) ...
    save_settings(project, SpendSettings(budget=10.0, price_per_hour=0.25))
    spend = spend_summary(project)
    assert spend.compute_cost == pytest.approx(1.5 * h100 + 0.5 * a100 + 2 * 0.25)
    assert spend.unpriced_hours == 0
    assert spend.budget_left == pytest.approx(10.0 - spend.compute_cost)
    assert spend.budget_used == pytest.approx(spend.compute_cost / 10.0)
    # ... and the user's own catalog price for a GPU wins over the shipped one.
    save_user_gpu("H100 SXM", price_per_hour=2.0)
    assert load_summary(project, "h100").cost == pytest.approx(3.0)


def test_estimated_cost_uses_the_estimated_hours_at_the_same_price(project):
    config = TrainConfig(base_model="Llama-3.1-8B", train_file="/d/t.jsonl", method="qlora")
    add_run(project, "est", config=config, duration_s=3600.0)
    done = fill_estimates(project)
    estimate = done["est"]
    assert estimate.source == "estimator" and estimate.gpu == "H100 SXM"
    assert estimate.peak_bytes > 4 * 1024**3 and estimate.hours > 0
    run = load_summary(project, "est")
    assert run.estimated_cost == pytest.approx(estimate.hours * catalog_price("H100 SXM"))
    assert cached_estimates(project)["est"] == estimate
    assert fill_estimates(project) == {}  # cached: computed once


def test_preflight_record_is_preferred_and_cpu_runs_get_memory_only(project):
    add_run(project, "pre")
    (project.runs_dir / "pre" / "preflight.json").write_text(
        json.dumps({"estimated_run_time_s": 7200, "estimate": {"peak_bytes": 123456789}})
    )
    add_run(project, "cpu", device=CPU)
    done = fill_estimates(project)
    assert (done["pre"].source, done["pre"].peak_bytes, done["pre"].hours) == (
        "pre-flight",
        123456789,
        2.0,
    )
    assert done["cpu"].peak_bytes > 0 and done["cpu"].hours is None


def test_budget_and_expert_hours_make_the_spend(project):
    add_run(project, "r1", duration_s=3600.0)
    save_settings(project, SpendSettings(budget=100.0, expert_hourly_rate=80.0))
    record_expert_hours(project, 10, activity="wrote 200 refund answers", worked_on="2025-03-02")
    record_expert_hours(project, 2.5, hourly_rate=120.0, worked_on="2025-03-03")
    entries = list_expert_hours(project)
    assert [(e.hours, e.hourly_rate) for e in entries] == [(2.5, 120.0), (10.0, 80.0)]
    spend = spend_summary(project)
    compute = catalog_price("H100 SXM")
    assert spend.expert_hours == 12.5 and spend.expert_cost == pytest.approx(1100.0)
    assert spend.total_cost == pytest.approx(1100.0 + compute)
    assert spend.data_share == pytest.approx(1100.0 / (1100.0 + compute))
    assert "Data work is" in spend.advice()
    with pytest.raises(SpendInputError, match="more than 0"):
        record_expert_hours(project, 0)
    with pytest.raises(SpendInputError, match="not a date"):
        record_expert_hours(project, 1, worked_on="yesterday")
    with pytest.raises(SpendInputError, match="budget"):
        SpendSettings(budget=-1.0)
    save_settings(project, SpendSettings(budget=1.0))
    assert spend_summary(project).advice().startswith("Over budget")


def test_hardware_and_price_sources():
    catalog = gpu_catalog()
    assert hardware_of(H100) == ("NVIDIA H100 80GB HBM3", True)
    assert hardware_of(CPU) == ("CPU", False)
    assert hardware_of("Apple GPU (MPS), fp32") == ("Apple GPU", True)
    assert hourly_price(H100, catalog, 9.0).source == "catalog: H100 SXM"
    unknown = "CUDA GPU (Mystery Accelerator), bf16"
    assert hourly_price(unknown, catalog, 9.0).per_hour == 9.0
    assert hourly_price(unknown, catalog, None).per_hour is None
    assert hourly_price(H100, None, 1.5).source == "project price"


# --- delete, leftovers, rename, notes ----------------------------------------------------


def test_delete_removes_rows_first_then_the_folder(project):
    add_run(project, "gone", records=[MetricRecord(step=1, loss=2.0)])
    key = project.connection().execute("SELECT id FROM training_runs").fetchone()[0]
    project.connection().execute(
        "INSERT INTO training_metrics (run, step, kind, record_json) VALUES (?, 1, 'train', '{}')",
        (key,),
    )
    store.set_note(project, "gone", "baseline try")
    result = store.delete_run(project, "gone")
    assert result.files_removed and not (project.runs_dir / "gone").exists()
    conn = project.connection()
    for table in ("training_runs", "training_metrics", "runs_notes"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    with pytest.raises(RunNotFound):
        store.delete_run(project, "gone")


def test_a_failure_between_row_and_files_leaves_a_leftover_folder_never_an_orphan_row(
    project, monkeypatch
):
    add_run(project, "half")
    add_run(project, "kept")

    def disk_fails(folder):
        raise OSError(f"[Errno 16] Device or resource busy: '{folder}'")

    monkeypatch.setattr(store, "remove_run_folder", disk_fails)
    result = store.delete_run(project, "half")
    assert not result.files_removed and "leftover" in result.problem
    assert [s.run_id for s in load_summaries(project)] == ["kept"]  # no row without files
    assert store.leftover_folders(project) == [project.runs_dir / "half"]
    monkeypatch.undo()
    assert store.remove_leftover_folders(project) == []
    assert store.leftover_folders(project) == []
    assert (project.runs_dir / "kept").is_dir()


def test_a_training_run_is_not_deleted_and_nothing_is_touched(project):
    add_run(project, "busy", status="running")
    lock = RunLock(project.runs_dir / "busy")
    lock.acquire()
    try:
        assert load_summary(project, "busy").status == "running"
        with pytest.raises(RunBusy):
            store.delete_run(project, "busy")
        assert store.leftover_folders(project) == []
    finally:
        lock.release()
    assert load_summary(project, "busy").status == "interrupted"  # nobody trains it now
    assert "resume" in load_summary(project, "busy").reason


def test_rename_and_note_return_the_old_value_and_names_resolve(project):
    add_run(project, "r1", name="first try")
    add_run(project, "r2", name="twin")
    add_run(project, "r3", name="twin")
    assert store.rename_run(project, "r1", "  rank   16  ") == "first try"
    assert resolve_run(project, "rank 16").run_id == "r1"
    with pytest.raises(ValueError, match="needs a name"):
        store.rename_run(project, "r1", "   ")
    with pytest.raises(RunNotFound, match="2 runs are named 'twin'"):
        resolve_run(project, "twin")
    assert store.set_note(project, "r1", "best so far") == ""
    assert store.set_note(project, "r1", "") == "best so far"
    assert store.get_note(project, "r1") == ""


# --- settings, curves, exports -------------------------------------------------------------


def test_config_lines_key_settings_and_diff():
    a = config_to_yaml(TrainConfig(base_model="m", train_file="t", name="a"))
    b = config_to_yaml(
        TrainConfig(base_model="m", train_file="t", name="b", learning_rate=1e-4, epochs=2.0)
    )
    values = config_values(a)
    assert values["method"] == "qlora" and "studio_version" not in values
    assert key_settings_text(values, "qlora").startswith("lr auto, epochs 3.0, r 16")
    assert "r 16" not in key_settings_text(values, "full")
    diff = diff_configs([a, b, a])
    assert [(d.key, d.values) for d in diff.differences] == [
        ("epochs", ("3.0", "2.0", "3.0")),
        ("learning_rate", ("0.0", "0.0001", "0.0")),
    ]
    assert diff_configs([a, a]).is_empty
    assert diff_configs([a, b], include_name=True).differences[-1].key == "name"


def test_curves_follow_the_trainings_replay_rules(project, tmp_path):
    records = [
        MetricRecord(step=1, epoch=0.5, loss=3.0, tokens_seen=100),
        MetricRecord(step=2, epoch=1.0, loss=2.0, tokens_seen=200),
        MetricRecord(step=2, kind="eval", epoch=1.0, eval_loss=2.5),
        MetricRecord(step=3, epoch=1.5, loss=float("nan"), tokens_seen=300),
        resumed_marker(2),
        MetricRecord(step=3, epoch=1.5, loss=1.5, tokens_seen=300),
        MetricRecord(step=4, kind="eval", epoch=2.0, eval_loss=2.2),
        '{"step": 5, "loss": 1.',  # torn by a kill in mid-write
    ]
    add_run(project, "c", records=records)
    path = project.runs_dir / "c" / METRICS_FILE
    by_step = loss_curves(path, "step")
    trainings = [r for r in read_metrics_file(path) if r.kind == "train"]
    assert by_step.train.x == [r.step for r in trainings] == [1, 2, 3]
    assert by_step.train.y == [3.0, 2.0, 1.5]
    assert by_step.validation.x == [2, 4] and by_step.validation.lowest == 2.2
    assert loss_curves(path, "epoch").train.x == [0.5, 1.0, 1.5]
    tokens = loss_curves(path, "tokens")
    assert tokens.train.x == [100, 200, 300] and tokens.validation.x == [200, 300]
    with pytest.raises(ValueError, match="x_axis"):
        loss_curves(path, "hours")
    assert loss_curves(tmp_path / "missing.jsonl").is_empty


def test_metrics_csv_and_tensorboard(project, tmp_path):
    records = [
        MetricRecord(step=1, loss=2.0, learning_rate=1e-4),
        MetricRecord(step=1, kind="eval", eval_loss=2.5),
    ]
    add_run(project, "x", records=records)
    path = project.runs_dir / "x" / METRICS_FILE
    assert write_metrics_csv(path, tmp_path / "m.csv") == 2
    rows = list(csv.DictReader((tmp_path / "m.csv").open(encoding="utf-8")))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert (rows[0]["kind"], float(rows[0]["loss"]), rows[1]["eval_loss"]) == ("train", 2.0, "2.5")
    if tensorboard_available():
        target = write_tensorboard(path, tmp_path / "tb", "x")
        assert any(target.glob("events.out.tfevents.*"))
    else:
        with pytest.raises(TensorBoardMissing, match="pip install tensorboard"):
            write_tensorboard(path, tmp_path / "tb", "x")
        assert not (tmp_path / "tb").exists()


# --- the CLI --------------------------------------------------------------------------------


def test_cli_list_compare_and_export(project, capsys, tmp_path):
    records = [MetricRecord(step=s, loss=3.0 / s) for s in (1, 2, 3)]
    add_run(project, "r-a", name="alpha", records=records, best_val_loss=1.25)
    add_run(
        project,
        "r-b",
        name="beta",
        records=records,
        config=TrainConfig(base_model="SmolLM2-135M-Instruct", train_file="/d/t.jsonl", lora_r=32),
        status="failed",
        status_reason="CUDA out of memory",
    )
    folder = str(project.folder)
    assert main(["runs", "list", "--project", folder, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed["runs"]] == ["beta", "alpha"]
    assert listed["runs"][0]["reason"] == "CUDA out of memory"
    assert listed["spend"]["gpu_hours"] == pytest.approx(2.0)
    assert main(["runs", "list", "--project", folder]) == 0
    text = capsys.readouterr().out
    assert "alpha" in text and "1.2500" in text and "failed" in text

    assert main(["runs", "compare", "alpha", "r-b", "--project", folder, "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["config"]["differences"] == [{"key": "lora_r", "values": ["16", "32"]}]
    assert [r["run_id"] for r in compared["runs"]] == ["r-a", "r-b"]
    assert compared["evals"]["problem"].startswith("Not evaluated yet")
    assert main(["runs", "compare", "alpha", "beta", "--project", folder]) == 0
    assert "lora_r: 16 | 32" in capsys.readouterr().out

    assert main(["runs", "compare", "alpha", "nope", "--project", folder]) == 2
    assert "No run with id or name 'nope'" in capsys.readouterr().err
    out = tmp_path / "alpha.csv"
    assert main(["runs", "export", "alpha", "--csv", str(out), "--project", folder]) == 0
    assert len(out.read_text().splitlines()) == 4
    assert main(["runs", "list", "--project", str(tmp_path / "nothing")]) == 2
    assert math.isfinite(listed["spend"]["compute_cost"])
