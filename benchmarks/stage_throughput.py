"""Tokens/s of our DPO and GRPO stages against bare TRL scripts with the same settings.

Each stage trains the bundled SmolLM2-135M-Instruct with LoRA from one recipe; the bare
script's TRL config and LoraConfig come from our own mapping (build_dpo_kwargs,
build_grpo_kwargs, lora_config), so both sides train alike. GRPO's data: the bundled
tickets' prompts with their answers as references, scored by the same two rewards (the
JSON schema the references share, the category matching the reference) on both sides.
DPO's pairs and bare script are benchmarks/dpo_overhead.py's. The rounds of concurrent
pairs and the throughput measure are paired_throughput's. Target (issue 19): ours / bare
>= 0.97.

    python benchmarks/stage_throughput.py [dpo] [grpo]   (ROUNDS=3 STEPS=4 MICRO=2)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import dpo_overhead  # beside this script: the DPO side (its pairs, bare script and recipe)
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
MICRO = int(os.environ.get("MICRO", "2"))
GENERATIONS = int(os.environ.get("GENERATIONS", "4"))
ANSWER = int(os.environ.get("ANSWER", "48"))
PROMPTS = 64


def grpo_rewards(references: list[str]) -> str:
    from core.rewards.schema_inference import infer_schema
    from core.rewards.spec import spec_from_items

    return spec_from_items(
        [
            {"kind": "json_schema", "schema": infer_schema(references)},
            {"kind": "reference_match", "field": "category", "weight": 2},
        ]
    ).to_text()


def grpo_recipe(model_dir: Path, train_file: Path):
    """The one recipe both GRPO sides train with: the Train page's CPU defaults."""
    from core.recipe.config import default_config

    references = [
        json.loads(line)["messages"][-1]["content"]
        for line in train_file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return default_config(has_cuda=False).replace(
        stage="grpo",
        rewards=grpo_rewards(references),
        base_model=str(model_dir),
        train_file=str(train_file),
        validation_fraction=0.0,
        lora_r=8,
        lora_alpha=16,
        max_steps=STEPS,
        micro_batch_size=MICRO,
        gradient_accumulation=1,
        grpo_num_generations=GENERATIONS,
        grpo_max_completion_length=ANSWER,
        checkpoint_every_steps=STEPS,
        preflight=False,
        cpu_threads=1,
    )


def grpo_bare(model_dir: Path, train_file: Path, out: Path) -> dict:
    """The GRPO baseline: TRL's GRPOTrainer script on the same prompts and rewards."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from core.rewards.spec import parse_spec, trl_reward_functions
    from core.training.grpo_setup import build_grpo_kwargs

    config = grpo_recipe(model_dir, train_file)
    kwargs, _plan = trl_kwargs(config, build_grpo_kwargs, out, STEPS)
    spec = parse_spec(config.rewards)
    rows = []
    for line in train_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            messages = json.loads(line)["messages"]
            rows.append({"prompt": messages[:-1], "reference": messages[-1]["content"]})
    tokenizer, model, peft_config = bare_model(model_dir, config)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=trl_reward_functions(spec),
        args=GRPOConfig(**kwargs, reward_weights=spec.weights),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    return bare_result(trainer)


def grpo_ours(model_dir: Path, train_file: Path, project_dir: Path) -> dict:
    return train_ours(project_dir, grpo_recipe(model_dir, train_file))


def prompts_file(folder: Path) -> Path:
    """The first PROMPTS bundled tickets (system, user, the reference answer)."""
    from core.training.cli import bundled_example_dataset

    source, _valid = bundled_example_dataset()
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    path = folder / "tickets.jsonl"
    path.write_text("\n".join(lines[:PROMPTS]) + "\n", encoding="utf-8")
    return path


SIDES = {
    "dpo": (dpo_overhead.bare_trl, dpo_overhead.ours, "pairs.jsonl"),
    "grpo": (grpo_bare, grpo_ours, "tickets.jsonl"),
}


def work(stage: str, kind: str, folder: Path, model_dir: Path) -> dict:
    """One side's run of the stage in a worker process."""
    bare, ours, data = SIDES[stage]
    tag = f"{stage}-{kind}-{time.time_ns()}"
    return (bare if kind == "bare" else ours)(model_dir, folder / data, folder / tag)


def main(stages: list[str]) -> None:
    use_bundled_model()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        dpo_overhead.pairs_file(folder)
        prompts_file(folder)
        for stage in stages:
            what = (
                f"{MICRO} prompts x {GENERATIONS} answers of up to {ANSWER} tokens"
                if stage == "grpo"
                else f"{dpo_overhead.MICRO} pairs x {dpo_overhead.SEQ} tokens"
            )
            print(
                f"{stage.upper()}: SmolLM2-135M LoRA r 8, CPU, {STEPS} steps of {what}, "
                f"{ROUNDS} rounds of concurrent processes with 1 torch thread each",
                flush=True,
            )
            print_median(f"{stage} ", paired_rounds(Path(__file__), folder, ROUNDS, (stage,)))
    print_wall_time(started)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:], work)
    else:
        main([a for a in sys.argv[1:] if a in SIDES] or list(SIDES))
