"""Runs page open time: a project of 200 runs with 2,000 metric points each.

Generates the project the way core.training records runs (rows in training_runs and
training_metrics, and each run's folder with config.yaml and metrics.jsonl), then
times, in the same process: the baseline, a bare `SELECT * FROM training_runs` of the
same rows, and the Runs page built and shown offscreen with its table filled. Also
times selecting two runs on the Compare tab (their 4,000 points read and drawn).
Target (issue 7): the page opens in under 1 s.

    python benchmarks/runs_page_open.py [--runs 200] [--points 2000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

METHODS = ("qlora", "lora", "full", "lora8bit")
STATUSES = ("finished",) * 7 + ("stopped", "failed")
MODELS = ("Llama-3.1-8B", "Qwen2.5-7B", "SmolLM2-135M-Instruct")


def _config_yaml(rng: random.Random, method: str, model: str, steps: int) -> str:
    values = {
        "base_model": model,
        "checkpoint_every_steps": 0,
        "dataset_version": "",
        "device": "auto",
        "epochs": 3.0,
        "eval_every_steps": 0,
        "gradient_accumulation": rng.choice((1, 2, 4, 8)),
        "learning_rate": rng.choice((1e-4, 2e-4, 3e-4)),
        "lora_alpha": 32,
        "lora_r": rng.choice((8, 16, 32, 64)),
        "max_seq_length": rng.choice((1024, 2048)),
        "max_steps": steps,
        "method": method,
        "micro_batch_size": rng.choice((1, 2, 4)),
        "name": "",
        "packing": True,
        "seed": 42,
        "train_file": "/data/train.jsonl",
    }
    lines = [
        "# FineTune Studio training configuration",
        "config_version: 1",
        "studio_version: 0.1.0",
    ]
    lines += [
        f"{k}: {json.dumps(v) if isinstance(v, str) else v}" for k, v in sorted(values.items())
    ]
    return "\n".join(lines) + "\n"


def generate_project(folder: Path, runs: int, points: int, seed: int = 0):
    """A project whose runs look as core.training leaves them, written directly."""
    from core.project import create_project

    rng = random.Random(seed)
    project = create_project(folder, name="Runs benchmark")
    conn = project.connection()
    conn.execute("BEGIN")
    for number in range(runs):
        method, model = rng.choice(METHODS), rng.choice(MODELS)
        status = rng.choice(STATUSES)
        run_id = f"20250301-{number:06d}-{method}"
        run_folder = project.runs_dir / run_id
        run_folder.mkdir(parents=True)
        config = _config_yaml(rng, method, model, points)
        (run_folder / "config.yaml").write_text(config, encoding="utf-8")
        start = 1.0 + rng.random() * 2
        floor = 0.4 + rng.random() * 0.6
        lines, metric_rows = [], []
        best = (math.inf, 0)
        for step in range(1, points + 1):
            loss = floor + (start - floor) * math.exp(-step / (points / 5)) + rng.gauss(0, 0.03)
            record = {
                "step": step,
                "kind": "train",
                "epoch": round(3 * step / points, 4),
                "loss": round(loss, 5),
                "learning_rate": 2e-4,
                "grad_norm": round(rng.random(), 4),
                "tokens_seen": step * 4096,
                "elapsed_s": step * 1.5,
                "memory_peak": 9_000_000_000,
                "memory_kind": "cuda",
                "max_steps": points,
            }
            lines.append(json.dumps(record))
            metric_rows.append((step, "train", record["epoch"], loss, None, json.dumps(record)))
            if step % 100 == 0:
                val = loss + 0.05 + max(0.0, (step - points * 0.7) / points)
                best = min(best, (val, step))
                evaluation = {
                    "step": step,
                    "kind": "eval",
                    "epoch": record["epoch"],
                    "eval_loss": round(val, 5),
                }
                lines.append(json.dumps(evaluation))
                metric_rows.append(
                    (step, "eval", record["epoch"], None, val, json.dumps(evaluation))
                )
        (run_folder / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        cursor = conn.execute(
            "INSERT INTO training_runs (run_id, name, status, status_reason, base_model, method, "
            "config_yaml, folder, device, started_at, ended_at, duration_s, steps_done, max_steps,"
            " peak_memory_bytes, memory_kind, best_val_loss, best_step, final_val_loss, "
            "final_train_loss) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                f"{method} {model} #{number}",
                status,
                "CUDA out of memory" if status == "failed" else "",
                model,
                method,
                config,
                run_id,
                "CUDA GPU (NVIDIA H100 80GB HBM3), bf16",
                f"2025-03-{1 + number % 28:02d}T{number % 24:02d}:00:00+00:00",
                f"2025-03-{1 + number % 28:02d}T{number % 24:02d}:50:00+00:00",
                points * 1.5,
                points,
                points,
                9_000_000_000,
                "cuda",
                best[0],
                best[1],
                best[0] + 0.01,
                floor,
            ),
        )
        key = cursor.lastrowid
        conn.executemany(
            "INSERT INTO training_metrics (run, step, kind, epoch, loss, eval_loss, record_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(key, *row) for row in metric_rows],
        )
    conn.execute("COMMIT")
    return project


def _time(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", help="write the project here and keep it")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="runs-bench-home-"))
    os.environ["FINETUNE_STUDIO_HOME"] = str(home)
    folder = Path(args.keep) if args.keep else home / "project"
    if folder.exists() and args.keep:
        shutil.rmtree(folder)
    started = time.perf_counter()
    project = generate_project(folder, args.runs, args.points)
    print(
        f"generated {args.runs} runs x {args.points} points in {time.perf_counter() - started:.1f} s"
    )

    from PySide6.QtWidgets import QApplication

    from core.hardware import HardwareInfo
    from desktop.context import AppContext
    from desktop.runs.page import TAB_COMPARE, RunsPage

    app = QApplication.instance() or QApplication([])
    context = AppContext(project, HardwareInfo(cpu_cores=os.cpu_count() or 1))

    def bare_select():
        project.connection().execute("SELECT * FROM training_runs").fetchall()

    pages = []

    def open_page():
        page = RunsPage(context)
        page.resize(1280, 800)
        page.show()
        app.processEvents()
        assert page.runs_view.model.rowCount() == args.runs
        pages.append(page)

    open_page()  # warm up imports and caches once, for both sides
    bare_select()
    for page in pages:
        page.wait_for_background()
    baseline = _time(bare_select, args.repeat)
    opened = _time(open_page, args.repeat)
    page = pages[-1]
    page.runs_view.select_runs([])

    def compare_two():
        from core.runs import curves

        curves._cache.clear()  # read the files again, as on a first selection
        page.compare_runs([page.summaries[0].run_id, page.summaries[1].run_id])
        app.processEvents()
        assert page.tabs.currentIndex() == TAB_COMPARE

    compare_two()
    compare = _time(compare_two, args.repeat)
    for each in pages:
        each.wait_for_background()

    print(f"bare SELECT of {args.runs} runs (baseline)  {baseline * 1000:8.1f} ms")
    print(
        f"Runs page open, table filled              {opened * 1000:8.1f} ms  "
        f"ratio {opened / baseline:6.1f}x  target < 1000 ms: {'PASS' if opened < 1 else 'FAIL'}"
    )
    print(
        f"Compare 2 runs ({2 * args.points} points read+drawn)  {compare * 1000:8.1f} ms  "
        f"ratio {compare / baseline:6.1f}x"
    )
    project.close()
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0 if opened < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
