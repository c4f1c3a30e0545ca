"""Tokens/s of our DPO and GRPO stages against bare TRL scripts with the same settings.

Each stage trains the bundled SmolLM2-135M-Instruct with LoRA from one recipe; the bare
script's TRL config and LoraConfig come from our own mapping (build_dpo_kwargs,
build_grpo_kwargs, lora_config), so both sides train alike. GRPO's data: the bundled
tickets' prompts with their answers as references, scored by the same two rewards (the
JSON schema the references share, the category matching the reference) on both sides.
DPO's pairs and bare script are benchmarks/dpo_overhead.py's. Each round starts the two
sides as concurrent processes with one torch thread each, so a noisy shared machine slows
both alike. Throughput: TRL's `num_tokens` over the Trainer's `train_runtime`, the same
measure for both. Target (issue 19): ours / bare >= 0.97.

    python benchmarks/stage_throughput.py [dpo] [grpo]   (ROUNDS=3 STEPS=4 MICRO=2)
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
sys.path.insert(0, str(REPO / "benchmarks"))

import dpo_overhead  # noqa: E402  (the DPO side: its pairs, bare script and recipe)

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
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from core.rewards.spec import parse_spec, trl_reward_functions
    from core.training.device import resolve_device
    from core.training.grpo_setup import build_grpo_kwargs
    from core.training.lora_targets import resolve_targets
    from core.training.model_loading import lora_config
    from core.training.schedule import resolve_schedule

    config = grpo_recipe(model_dir, train_file)
    plan = resolve_device(config)
    schedule, _notes = resolve_schedule(config, STEPS, has_eval=False)
    kwargs, _notes = build_grpo_kwargs(config, plan, schedule, out, False)
    spec = parse_spec(config.rewards)
    rows = []
    for line in train_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            messages = json.loads(line)["messages"]
            rows.append({"prompt": messages[:-1], "reference": messages[-1]["content"]})
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=trl_reward_functions(spec),
        args=GRPOConfig(**kwargs, reward_weights=spec.weights),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(config, resolve_targets(config, model)),
    )
    output = trainer.train()
    tokens = max(h.get("num_tokens", 0) for h in trainer.state.log_history)
    return {"tokens": float(tokens), "seconds": float(output.metrics["train_runtime"])}


def grpo_ours(model_dir: Path, train_file: Path, project_dir: Path) -> dict:
    from core.project import create_project
    from core.training.session import TrainingSession

    session = TrainingSession(create_project(project_dir), grpo_recipe(model_dir, train_file))
    result = session.run()
    assert result.status == "finished", result.reason
    return {
        "tokens": float(result.tokens_seen),
        "seconds": result.train_runtime_s,
        "bookkeeping": result.bookkeeping_s,
    }


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


def worker(stage: str, kind: str, work: Path) -> None:
    """One run in this process; prints one JSON line."""
    import torch

    from core.models.bundled import ensure_bundled_model

    torch.set_num_threads(1)
    model_dir = ensure_bundled_model()
    bare, ours, data = SIDES[stage]
    tag = f"{stage}-{kind}-{time.time_ns()}"
    result = (bare if kind == "bare" else ours)(model_dir, work / data, work / tag)
    print("RESULT " + json.dumps(result), flush=True)


def run_pair(stage: str, order: tuple[str, str], work: Path) -> dict[str, dict]:
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
            [sys.executable, __file__, "--worker", stage, kind, str(work)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in order
    }
    results = {}
    for kind, process in processes.items():
        out, err = process.communicate()
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if process.returncode != 0 or line is None:
            raise SystemExit(f"the {stage} {kind} run failed:\n{(out + err)[-3000:]}")
        results[kind] = json.loads(line[len("RESULT ") :])
    return results


def rate(result: dict) -> float:
    return result["tokens"] / result["seconds"]


def main(stages: list[str]) -> None:
    from core.models.bundled import ensure_bundled_model

    os.environ["FINETUNE_STUDIO_MODEL_CACHE"] = str(ensure_bundled_model().parent)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        dpo_overhead.pairs_file(work)
        prompts_file(work)
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
            ratios = []
            for index in range(ROUNDS):
                order = ("bare", "ours") if index % 2 == 0 else ("ours", "bare")
                results = run_pair(stage, order, work)
                ratio = rate(results["ours"]) / rate(results["bare"])
                ratios.append(ratio)
                print(
                    f"  round {index + 1}: bare {rate(results['bare']):,.1f} tok/s, ours "
                    f"{rate(results['ours']):,.1f} tok/s ({results['ours']['tokens']:,.0f} "
                    f"tokens, bookkeeping {results['ours']['bookkeeping']:.3f} s): "
                    f"ratio {ratio:.3f}",
                    flush=True,
                )
            median = statistics.median(ratios)
            print(f"{stage} ratio ours/bare: median {median:.3f} over {ROUNDS} rounds", flush=True)
            print(f"{stage} target >= 0.97 : {'met' if median >= 0.97 else 'NOT met'}", flush=True)
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        main([a for a in sys.argv[1:] if a in SIDES] or list(SIDES))
