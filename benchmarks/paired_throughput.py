"""Our trainer against a bare TRL script, side by side: the harness the throughput
benchmarks share (training_overhead.py for SFT, dpo_overhead.py, stage_throughput.py).

Each round starts the two sides as concurrent worker processes with one torch thread each,
so a noisy shared machine slows both alike and the per-round ratio stays meaningful (run
one after the other, the same pair varied by +-30 % on a 2-core machine). Throughput is
real tokens per second of train(): TRL's `num_tokens` over the Trainer's `train_runtime`
for the bare script, the run's tokens_seen over its train_runtime_s for ours, the same
measure. The bare script's TRL config and LoraConfig come from our own mapping of the one
recipe (`trl_kwargs`, `bare_model`), so a changed default changes both sides alike.

A benchmark script calls `worker_main(argv, work_fn)` when started with `--worker`, and
`paired_rounds` / `print_median` from its main.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET = 0.97  # ours / bare (issues 5 and 19)


def use_bundled_model() -> Path:
    """The bundled SmolLM2's folder; the workers find the converted model where this
    process has it (not in their own home)."""
    from core.models.bundled import ensure_bundled_model

    model_dir = ensure_bundled_model()
    os.environ["FINETUNE_STUDIO_MODEL_CACHE"] = str(model_dir.parent)
    return model_dir


def trl_kwargs(config, build_kwargs: Callable, out: Path, steps: int) -> tuple[dict, object]:
    """The bare side's TRL config arguments, from our mapping of the recipe: build_kwargs
    is sft_args.build_sft_kwargs' shape (config, plan, schedule, output_dir, has_eval)."""
    from core.training.device import resolve_device
    from core.training.schedule import resolve_schedule

    plan = resolve_device(config)
    schedule, _notes = resolve_schedule(config, steps, has_eval=False)
    kwargs, _notes = build_kwargs(config, plan, schedule, out, False)
    return kwargs, plan


def bare_model(model_dir: Path, config):
    """(tokenizer, model, LoraConfig) as a bare TRL script loads them."""
    # transformers is heavy: imported in the worker that trains
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.training.lora_targets import resolve_targets
    from core.training.model_loading import lora_config

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    return tokenizer, model, lora_config(config, resolve_targets(config, model))


def bare_result(trainer) -> dict:
    """Train the bare trainer: its tokens and seconds."""
    output = trainer.train()
    tokens = max(h.get("num_tokens", 0) for h in trainer.state.log_history)
    return {"tokens": float(tokens), "seconds": float(output.metrics["train_runtime"])}


def train_ours(project_dir: Path, config) -> dict:
    """Our run of the recipe in a new project: its tokens, seconds and bookkeeping."""
    from core.project import create_project
    from core.training.session import TrainingSession

    result = TrainingSession(create_project(project_dir), config).run()
    assert result.status == "finished", result.reason
    return {
        "tokens": float(result.tokens_seen),
        "seconds": result.train_runtime_s,
        "bookkeeping": result.bookkeeping_s,
    }


def worker_main(args: Sequence[str], work_fn: Callable[..., dict]) -> None:
    """In a worker process: `args` are what paired_rounds passed after --worker (the
    script's tags, then the side and the work folder); prints the result as one line."""
    # torch is heavy: imported in the worker that trains
    import torch

    torch.set_num_threads(1)
    *tags, kind, work = args
    model_dir = use_bundled_model()
    result = work_fn(*tags, kind=kind, folder=Path(work), model_dir=model_dir)
    print("RESULT " + json.dumps(result), flush=True)


def run_pair(script: Path, kinds: Sequence[str], work: Path, tags: Sequence[str] = ()):
    """Start one worker of `script` per side at once and wait for both: {side: result}."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        FINETUNE_STUDIO_HOME=str(work / "home"),
        PYTHONPATH=str(REPO),
    )
    processes = {
        kind: subprocess.Popen(
            [sys.executable, str(script), "--worker", *tags, kind, str(work)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in kinds
    }
    results = {}
    for kind, process in processes.items():
        out, err = process.communicate()
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if process.returncode != 0 or line is None:
            named = " ".join((*tags, kind))
            raise SystemExit(f"the {named} run failed:\n{(out + err)[-3000:]}")
        results[kind] = json.loads(line[len("RESULT ") :])
    return results


def rate(result: dict) -> float:
    return result["tokens"] / result["seconds"]


def paired_rounds(script: Path, work: Path, rounds: int, tags: Sequence[str] = ()) -> list[dict]:
    """`rounds` concurrent pairs of "bare" and "ours" (which starts first alternates),
    each round's line printed; returns each round's {side: result}."""
    every = []
    for index in range(rounds):
        order = ("bare", "ours") if index % 2 == 0 else ("ours", "bare")
        results = run_pair(script, order, work, tags)
        ours, bare = results["ours"], results["bare"]
        print(
            f"  round {index + 1}: bare {rate(bare):,.1f} tok/s ({bare['tokens']:,.0f} tokens), "
            f"ours {rate(ours):,.1f} tok/s ({ours['tokens']:,.0f} tokens, bookkeeping "
            f"{ours['bookkeeping']:.3f} s): ratio {rate(ours) / rate(bare):.3f}",
            flush=True,
        )
        every.append(results)
    return every


def print_median(label: str, every: list[dict]) -> float:
    """The median ratio ours/bare over the rounds, and whether it meets the target."""
    median = statistics.median(rate(r["ours"]) / rate(r["bare"]) for r in every)
    print(f"{label}ratio ours/bare: median {median:.3f} over {len(every)} concurrent pairs")
    print(f"{label}target >= {TARGET}: {'met' if median >= TARGET else 'NOT met'}", flush=True)
    return median


def print_wall_time(started: float) -> None:
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")
