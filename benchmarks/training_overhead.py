"""Our trainer against a bare TRL SFTTrainer script with the same settings, side by side.

Both fine-tune the bundled SmolLM2-135M-Instruct with LoRA on the bundled support tickets
on this CPU, from one recipe: the Train page's CPU defaults (`recipe()` below); the bare
script's SFTConfig and LoraConfig are derived from it by our own mapping, so a default
that changes (gradient checkpointing was turned on) changes both sides. Each round starts the two as concurrent processes with one torch thread each,
so on a 2-core machine they share the same conditions at the same moment: a shared,
noisy machine slows both alike, and the per-round ratio stays meaningful (run one after
the other, the same pair of runs varied by +-30 % here). Throughput is real (non-padding)
tokens per second of train(): TRL's own `num_tokens` over the Trainer's `train_runtime`,
the same measure for both. Our bookkeeping (records to metrics.jsonl and SQLite every
step, memory readings, advisor, observer, pause/stop checks) is inside that time, and is
also timed directly inside our run. Target (issue 5): ours / bare >= 0.97.

Then the gain from packing: our trainer with packing against the same run with padding,
also as a concurrent pair.

    python benchmarks/training_overhead.py    (ROUNDS=3 STEPS=4 SEQ=384 MICRO=2; about 6 min)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ROUNDS = int(os.environ.get("ROUNDS", "3"))
STEPS = int(os.environ.get("STEPS", "4"))
SEQ = int(os.environ.get("SEQ", "384"))
MICRO = int(os.environ.get("MICRO", "2"))


def recipe(model_dir: Path, train_file: Path, packing: bool = True):
    """The one recipe both sides train with: the Train page's CPU defaults (gradient
    checkpointing and all), sized for a benchmark. The bare script's arguments are derived
    from it, so a changed default changes both sides alike."""
    from core.recipe.config import default_config

    return default_config(has_cuda=False).replace(
        base_model=str(model_dir),
        train_file=str(train_file),
        validation_fraction=0.0,
        lora_r=8,
        lora_alpha=16,
        max_steps=STEPS,
        micro_batch_size=MICRO,
        gradient_accumulation=1,
        max_seq_length=SEQ,
        packing=packing,
        checkpoint_every_steps=STEPS,
        preflight=False,
        cpu_threads=1,
    )


def bare_trl(model_dir: Path, train_file: Path, out: Path) -> dict:
    """The baseline: the SFTTrainer script from TRL's docs (TRL reads and tokenizes the
    data itself), with the SFTConfig and LoraConfig our run builds from the recipe."""
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from core.training.device import resolve_device
    from core.training.lora_targets import resolve_targets
    from core.training.memory_savers import apply_memory_savers
    from core.training.model_loading import lora_config
    from core.training.schedule import resolve_schedule
    from core.training.sft_args import build_sft_kwargs

    config = recipe(model_dir, train_file)
    plan = resolve_device(config)
    schedule, _notes = resolve_schedule(config, STEPS, has_eval=False)
    kwargs, _notes = build_sft_kwargs(config, plan, schedule, out, False, 0)
    # TRL tokenizes the messages itself here, so it must not be told they are ready.
    kwargs.pop("assistant_only_loss", None)
    kwargs.pop("completion_only_loss", None)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    dataset = load_dataset("json", data_files=str(train_file), split="train")
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**kwargs),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config, resolve_targets(config, model)),
    )
    apply_memory_savers(trainer, config, plan.device)  # what the recipe turns on (CPU: none)
    output = trainer.train()
    tokens = max(h.get("num_tokens", 0) for h in trainer.state.log_history)
    return {
        "tokens": float(tokens),
        "seconds": float(output.metrics["train_runtime"]),
        "checkpointing": bool(kwargs.get("activation_checkpointing", False))
        or bool(kwargs.get("gradient_checkpointing", False)),
    }


def ours(model_dir: Path, train_file: Path, project_dir: Path, packing: bool) -> dict:
    from core.project import create_project
    from core.training.session import TrainingSession

    config = recipe(model_dir, train_file, packing)
    result = TrainingSession(create_project(project_dir), config).run()
    assert result.status == "finished", result.reason
    return {
        "tokens": float(result.tokens_seen),
        "seconds": result.train_runtime_s,
        "bookkeeping": result.bookkeeping_s,
        "checkpointing": config.gradient_checkpointing,
    }


def worker(kind: str, work: Path) -> None:
    """One run in this process; prints one JSON line."""
    import torch

    from core.models.bundled import ensure_bundled_model

    torch.set_num_threads(1)
    model_dir = ensure_bundled_model()
    train_file = work / "train.jsonl"
    tag = f"{kind}-{time.time_ns()}"
    if kind == "bare":
        result = bare_trl(model_dir, train_file, work / tag)
    else:
        result = ours(model_dir, train_file, work / tag, packing=kind != "padding")
    print("RESULT " + json.dumps(result), flush=True)


def training_file(folder: Path) -> Path:
    """The bundled tickets as plain OpenAI-messages JSONL (what both trainers read)."""
    from core.training.cli import bundled_example_dataset

    source, _valid = bundled_example_dataset()
    lines = [
        json.dumps({"messages": json.loads(line)["messages"]})
        for line in source.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pair(first: str, second: str, work: Path) -> dict[str, dict]:
    """Start two workers at once and wait for both."""
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
            [sys.executable, __file__, "--worker", kind, str(work)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for kind in (first, second)
    }
    results = {}
    for kind, process in processes.items():
        out, _ = process.communicate()
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if process.returncode != 0 or line is None:
            raise SystemExit(f"the {kind} run failed:\n{out[-2000:]}")
        results[kind] = json.loads(line[len("RESULT ") :])
    return results


def rate(result: dict) -> float:
    return result["tokens"] / result["seconds"]


def main() -> None:
    from core.models.bundled import ensure_bundled_model

    # The workers find the converted model where this process has it (not in their home).
    os.environ["FINETUNE_STUDIO_MODEL_CACHE"] = str(ensure_bundled_model().parent)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        training_file(work)
        config = recipe(Path("model"), Path("train.jsonl"))
        print(
            f"SmolLM2-135M LoRA r 8, CPU, {STEPS} steps of {MICRO} x {SEQ} tokens, gradient "
            f"checkpointing {'on' if config.gradient_checkpointing else 'off'} on both sides "
            f"(the CPU default), {ROUNDS} rounds, each a concurrent pair of processes with 1 "
            "torch thread each",
            flush=True,
        )
        ratios, bookkeeping, trained = [], 0.0, 0.0
        for index in range(ROUNDS):
            order = ("bare", "ours") if index % 2 == 0 else ("ours", "bare")
            results = pair(*order, work)
            ratio = rate(results["ours"]) / rate(results["bare"])
            if results["ours"]["checkpointing"] != results["bare"]["checkpointing"]:
                raise SystemExit("the two sides ran with different gradient checkpointing")
            ratios.append(ratio)
            bookkeeping += results["ours"]["bookkeeping"]
            trained += results["ours"]["seconds"]
            print(
                f"  round {index + 1}: bare {rate(results['bare']):,.1f} tok/s "
                f"({results['bare']['tokens']:,.0f} tokens), ours {rate(results['ours']):,.1f} "
                f"tok/s ({results['ours']['tokens']:,.0f} tokens): ratio {ratio:.3f}",
                flush=True,
            )
        median = statistics.median(ratios)
        print(f"ratio ours/bare     : median {median:.3f} over {ROUNDS} concurrent pairs")
        print(f"target >= 0.97      : {'met' if median >= 0.97 else 'NOT met'}")
        print(
            f"our bookkeeping     : {bookkeeping:.3f} s of {trained:.1f} s in train() = "
            f"{100 * bookkeeping / trained:.3f} % (timed inside our runs)"
        )
        results = pair("packing", "padding", work)
        gain = rate(results["packing"]) / rate(results["padding"])
        print(f"packing  : {rate(results['packing']):,.1f} real tokens/s")
        print(f"padding  : {rate(results['padding']):,.1f} real tokens/s")
        print(f"ratio packing/padding: {gain:.2f}x")
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
