"""Our trainer against a bare TRL SFTTrainer script with the same settings, side by side.

Both fine-tune the bundled SmolLM2-135M-Instruct with LoRA on the bundled support tickets
on this CPU, from one recipe: the Train page's CPU defaults (`recipe()` below); the bare
script's SFTConfig and LoraConfig are derived from it by our own mapping, so a default
that changes (gradient checkpointing was turned on) changes both sides. The rounds of
concurrent pairs (one torch thread each) and the throughput measure, real (non-padding)
tokens per second of train(), are paired_throughput's, as for DPO and GRPO. Our
bookkeeping (records to metrics.jsonl and SQLite every step, memory readings, advisor,
observer, pause/stop checks) is inside that time, and is also timed directly inside our
run. Target (issue 5): ours / bare >= 0.97.

Then the gain from packing: our trainer with packing against the same run with padding,
also as a concurrent pair.

    python benchmarks/training_overhead.py    (ROUNDS=3 STEPS=4 SEQ=384 MICRO=2; about 6 min)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from paired_throughput import (  # beside this script; it also puts the repository on sys.path
    bare_model,
    bare_result,
    paired_rounds,
    print_median,
    print_wall_time,
    rate,
    run_pair,
    train_ours,
    trl_kwargs,
    use_bundled_model,
    worker_main,
)

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
    from trl import SFTConfig, SFTTrainer

    from core.training.memory_savers import apply_memory_savers
    from core.training.sft_args import build_sft_kwargs

    config = recipe(model_dir, train_file)
    kwargs, plan = trl_kwargs(
        config, lambda *args: build_sft_kwargs(*args, warmup_steps=0), out, STEPS
    )
    # TRL tokenizes the messages itself here, so it must not be told they are ready.
    kwargs.pop("assistant_only_loss", None)
    kwargs.pop("completion_only_loss", None)
    tokenizer, model, peft_config = bare_model(model_dir, config)
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**kwargs),
        train_dataset=load_dataset("json", data_files=str(train_file), split="train"),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    apply_memory_savers(trainer, config, plan.device)  # what the recipe turns on (CPU: none)
    return {
        **bare_result(trainer),
        "checkpointing": bool(kwargs.get("activation_checkpointing", False))
        or bool(kwargs.get("gradient_checkpointing", False)),
    }


def ours(model_dir: Path, train_file: Path, project_dir: Path, packing: bool) -> dict:
    config = recipe(model_dir, train_file, packing)
    return {**train_ours(project_dir, config), "checkpointing": config.gradient_checkpointing}


def work(kind: str, folder: Path, model_dir: Path) -> dict:
    """One run in a worker process: bare, ours, or ours with padding instead of packing."""
    train_file, out = folder / "train.jsonl", folder / f"{kind}-{time.time_ns()}"
    if kind == "bare":
        return bare_trl(model_dir, train_file, out)
    return ours(model_dir, train_file, out, packing=kind != "padding")


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


def main() -> None:
    use_bundled_model()
    script = Path(__file__)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        training_file(folder)
        config = recipe(Path("model"), Path("train.jsonl"))
        print(
            f"SmolLM2-135M LoRA r 8, CPU, {STEPS} steps of {MICRO} x {SEQ} tokens, gradient "
            f"checkpointing {'on' if config.gradient_checkpointing else 'off'} on both sides "
            f"(the CPU default), {ROUNDS} rounds, each a concurrent pair of processes with 1 "
            "torch thread each",
            flush=True,
        )
        every = paired_rounds(script, folder, ROUNDS)
        if any(r["ours"]["checkpointing"] != r["bare"]["checkpointing"] for r in every):
            raise SystemExit("the two sides ran with different gradient checkpointing")
        print_median("", every)
        bookkeeping = sum(r["ours"]["bookkeeping"] for r in every)
        trained = sum(r["ours"]["seconds"] for r in every)
        print(
            f"our bookkeeping     : {bookkeeping:.3f} s of {trained:.1f} s in train() = "
            f"{100 * bookkeeping / trained:.3f} % (timed inside our runs)"
        )
        results = run_pair(script, ("packing", "padding"), folder)
        gain = rate(results["packing"]) / rate(results["padding"])
        print(f"packing  : {rate(results['packing']):,.1f} real tokens/s")
        print(f"padding  : {rate(results['padding']):,.1f} real tokens/s")
        print(f"ratio packing/padding: {gain:.2f}x")
    print_wall_time(started)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:], work)
    else:
        main()
