"""GUI event-loop latency while a real CPU training run goes on in the Train page's QThread,
against the same measurement with nothing training, side by side in one process.

A 5 ms precise QTimer measures its own lateness (how long after it was due each tick
ran): that is how long a click or a repaint would wait. The phases alternate
idle -> training -> idle, on the real Train page (its 10 Hz chart redraws included),
with the bundled SmolLM2-135M model (or --model tiny). Target (issue 5): p99 under 50 ms
on a 2-core machine. Also measured: one redraw + repaint of the monitor at 100,000
points against 1,000 (the 10 Hz timer has 100 ms per tick).

    python benchmarks/training_gui_latency.py [--model bundled|tiny] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TICK_MS = 5
TARGET_P99_MS = 50.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run_event_loop(seconds: float, until=None) -> list[float]:
    """Run the GUI event loop for `seconds` (or until `until()` is true) with a 5 ms timer;
    return each tick's lateness in milliseconds."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    lateness: list[float] = []
    loop = QEventLoop()
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    started = time.perf_counter()
    last = [started]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now
        if now - started >= seconds or (until is not None and until()):
            loop.quit()

    timer.timeout.connect(tick)
    timer.start()
    loop.exec()
    timer.stop()
    return lateness


def summary(name: str, lateness: list[float]) -> dict:
    return {
        "phase": name,
        "ticks": len(lateness),
        "p50_ms": round(percentile(lateness, 50), 2),
        "p99_ms": round(percentile(lateness, 99), 2),
        "max_ms": round(max(lateness), 2) if lateness else float("nan"),
        "mean_ms": round(statistics.fmean(lateness), 2) if lateness else float("nan"),
    }


def write_dataset(path: Path, n: int = 96) -> Path:
    teams = ["billing", "shipping", "login", "refund"]
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Route each support ticket to one team."},
                {
                    "role": "user",
                    "content": f"Ticket {i}: my order {1000 + i} "
                    + "has a problem that I would like to get sorted out soon. " * (1 + i % 4),
                },
                {"role": "assistant", "content": f'{{"team": "{teams[i % 4]}"}}'},
            ]
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


def redraw_cost(points: int, repeats: int = 12) -> float:
    """Median milliseconds of one live timer tick at `points`: a new record, the monitor's
    tick (loss chart and one small chart), and the repaint that follows."""
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from core.runs.records import MetricRecord
    from desktop.training.monitor import RunMonitor

    monitor = RunMonitor()
    monitor.resize(900, 700)
    monitor.show()
    steps = np.arange(1, points + 1, dtype=np.float64)
    values = 2.0 * np.exp(-steps / max(1, points / 3)) + 0.05 * np.random.default_rng(0).random(
        points
    )
    for name in ("loss", "learning_rate", "grad_norm", "tokens_per_second", "memory_allocated"):
        monitor.series[name].extend(steps, values)
    monitor.series["eval_loss"].extend(steps[::100], values[::100])
    monitor.set_max_steps(points + 1000)  # as in a live run: the step axis spans the run
    monitor.set_smoothing(True)
    monitor.redraw()
    QApplication.processEvents()
    timings = []
    for i in range(repeats):
        monitor.add_record(
            MetricRecord(
                step=points + 1 + i,
                loss=0.1,
                learning_rate=1e-4,
                grad_norm=1.0,
                tokens_per_second=500.0,
                memory_allocated=2**30,
            )
        )
        started = time.perf_counter()
        monitor.tick()
        QApplication.processEvents()  # the repaint itself happens here
        timings.append((time.perf_counter() - started) * 1000)
    monitor.close()
    monitor.deleteLater()
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("bundled", "tiny"), default="bundled")
    parser.add_argument("--seconds", type=float, default=30.0, help="per measured phase")
    parser.add_argument(
        "--warm-steps",
        type=int,
        default=4,
        help="steps to wait for before measuring (the first CPU steps are much slower)",
    )
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    parser.add_argument(
        "--niceness", type=int, default=None, help="training thread niceness (default: the app's)"
    )
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from core.hardware import HardwareInfo
    from core.models.registry import add_local_model
    from core.project import create_project
    from desktop.context import AppContext
    from desktop.training.page import TrainingPage

    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)

    from core.models.bundled import MODEL_CACHE_ENV, bundled_model_dir

    # Keep using the converted bundled model from the real cache, whatever home we use.
    os.environ.setdefault(MODEL_CACHE_ENV, str(bundled_model_dir().parent))
    with tempfile.TemporaryDirectory(prefix="gui-latency-") as work:
        work = Path(work)
        os.environ["FINETUNE_STUDIO_HOME"] = str(work / "home")
        project = create_project(work / "project", name="latency")
        if args.model == "tiny":
            from core.models.tiny_model import build_tiny_model

            model_name = add_local_model(project, build_tiny_model(work / "tiny"), "tiny").name
        else:
            from core.models.bundled import BUNDLED_MODEL_NAME, ensure_bundled_model

            ensure_bundled_model()
            model_name = BUNDLED_MODEL_NAME
        page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=os.cpu_count() or 1)))
        if args.niceness is not None:
            page.host.niceness = args.niceness
        page.resize(1280, 800)
        page.show()
        page.form.set_values(
            {
                "base_model": model_name,
                "train_file": str(write_dataset(work / "train.jsonl")),
                "method": "lora",
                "epochs": 20.0,
                "micro_batch_size": 1,
                "gradient_accumulation": 2,
                "max_seq_length": 128,
                "log_every_steps": 1,
                "packing": True,
                "validation_fraction": 0.1,
                "eval_every_steps": 5,
                "checkpoint_every_steps": 1000,
                "preflight": False,
            }
        )
        run_event_loop(1.0)  # settle: first paint, estimate timer

        results = [summary("idle (before)", run_event_loop(args.seconds))]
        loading_started = time.perf_counter()
        assert page.run_control.start(), page.run_control.start_hint.text()
        warm = max(1, args.warm_steps)
        loading = run_event_loop(1200, until=lambda: page.monitor.series["loss"].n >= warm)
        loading_s = time.perf_counter() - loading_started
        results.append(
            summary(f"run starting ({loading_s:.0f} s: data, model, {warm} steps)", loading)
        )
        steps_before = page.monitor.series["loss"].n
        training = run_event_loop(args.seconds)
        steps = page.monitor.series["loss"].n - steps_before
        results.append(summary(f"training ({steps} steps)", training))
        stop_started = time.perf_counter()
        page.run_control.stop()
        stopping = run_event_loop(600, until=lambda: not page.host.is_busy())
        stop_s = time.perf_counter() - stop_started
        results.append(summary(f"stopping ({stop_s:.1f} s: checkpoint, final save)", stopping))
        results.append(summary("idle (after)", run_event_loop(args.seconds)))
        status = page.run_control.last_result.status if page.run_control.last_result else "?"
        redraws = page.monitor.redraws
        page_niceness = page.host.niceness
        page.close()

    redraw_cost(1_000)  # warm-up: first paints fill font and glyph caches
    small, large = redraw_cost(1_000), redraw_cost(100_000)
    app.processEvents()

    print(
        f"model {args.model}, torch threads {args.torch_threads or 'default'}, training thread "
        f"niceness +{page_niceness}, run {status}"
    )
    print(f"{'phase':48} {'ticks':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for row in results:
        print(
            f"{row['phase']:48} {row['ticks']:>6} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['max_ms']:>8.2f}"
        )
    idle_p99 = max(results[0]["p99_ms"], results[-1]["p99_ms"])
    train_p99 = results[2]["p99_ms"]
    print(f"p99 ratio training/idle: {train_p99 / max(idle_p99, 0.01):.2f}x")
    print(f"monitor redraws during the run: {redraws}")
    print(
        f"redraw + repaint of a live tick: {small:.1f} ms at 1,000 points, "
        f"{large:.1f} ms at 100,000 points (ratio {large / small:.2f}x; budget 100 ms)"
    )
    met = train_p99 < TARGET_P99_MS
    print(f"target p99 < {TARGET_P99_MS:.0f} ms while training: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
