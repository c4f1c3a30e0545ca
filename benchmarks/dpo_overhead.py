"""Our DPO stage against a bare TRL DPOTrainer script with the same settings, side by side.

Both train the bundled SmolLM2-135M-Instruct with LoRA on preference pairs made from the
bundled support tickets (chosen: the ticket's own answer; rejected: another ticket's), on
this CPU, from one recipe; the bare script's DPOConfig and LoraConfig come from our own
mapping (build_dpo_kwargs, lora_config), so both sides train alike. The rounds of
concurrent pairs and the throughput measure are paired_throughput's, as for SFT and GRPO.
Target (issue 19): ours / bare >= 0.97.

    python benchmarks/dpo_overhead.py    (ROUNDS=3 STEPS=4 SEQ=256 MICRO=2)
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
    train_ours,
    trl_kwargs,
    use_bundled_model,
    worker_main,
)

ROUNDS = int(os.environ.get("ROUNDS", "3"))
STEPS = int(os.environ.get("STEPS", "4"))
SEQ = int(os.environ.get("SEQ", "256"))
MICRO = int(os.environ.get("MICRO", "2"))


def recipe(model_dir: Path, train_file: Path):
    """The one recipe both sides train with: the Train page's CPU defaults, stage dpo."""
    from core.recipe.config import default_config

    return default_config(has_cuda=False).replace(
        stage="dpo",
        base_model=str(model_dir),
        train_file=str(train_file),
        validation_fraction=0.0,
        lora_r=8,
        lora_alpha=16,
        max_steps=STEPS,
        micro_batch_size=MICRO,
        gradient_accumulation=1,
        max_seq_length=SEQ,
        checkpoint_every_steps=STEPS,
        preflight=False,
        cpu_threads=1,
    )


def bare_trl(model_dir: Path, train_file: Path, out: Path) -> dict:
    """The baseline: TRL's DPOTrainer script (TRL reads the JSONL and tokenizes it)."""
    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer

    from core.training.dpo_args import build_dpo_kwargs

    config = recipe(model_dir, train_file)
    kwargs, _plan = trl_kwargs(config, build_dpo_kwargs, out, STEPS)
    tokenizer, model, peft_config = bare_model(model_dir, config)
    trainer = DPOTrainer(
        model=model,
        args=DPOConfig(**kwargs),
        train_dataset=load_dataset("json", data_files=str(train_file), split="train"),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    return bare_result(trainer)


def ours(model_dir: Path, train_file: Path, project_dir: Path) -> dict:
    return train_ours(project_dir, recipe(model_dir, train_file))


def work(kind: str, folder: Path, model_dir: Path) -> dict:
    """One side's run in a worker process."""
    side = bare_trl if kind == "bare" else ours
    return side(model_dir, folder / "pairs.jsonl", folder / f"{kind}-{time.time_ns()}")


def pairs_file(folder: Path) -> Path:
    """Preference pairs from the bundled tickets: each ticket's answer over the next one's."""
    from core.training.cli import bundled_example_dataset

    source, _valid = bundled_example_dataset()
    chats = [
        json.loads(line)["messages"]
        for line in source.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rows = []
    for index, messages in enumerate(chats):
        other = chats[(index + 1) % len(chats)][-1]["content"]
        if other == messages[-1]["content"]:
            continue
        rows.append(
            {
                "prompt": messages[:-1],
                "chosen": [messages[-1]],
                "rejected": [{"role": "assistant", "content": other}],
            }
        )
    path = folder / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def main() -> None:
    use_bundled_model()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        pairs_file(folder)
        print(
            f"SmolLM2-135M LoRA r 8 DPO, CPU, {STEPS} steps of {MICRO} pairs x {SEQ} tokens, "
            f"{ROUNDS} rounds, each a concurrent pair of processes with 1 torch thread each",
            flush=True,
        )
        print_median("", paired_rounds(Path(__file__), folder, ROUNDS))
    print_wall_time(started)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:], work)
    else:
        main()
