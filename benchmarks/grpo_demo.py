"""The GRPO demo: SFT, then a short GRPO with checkable rewards, evaluated before and after.

1. SFT: the demo's LoRA run on the bundled triage tickets (train --demo's settings).
2. GRPO continues that adapter (start_from) on CPU with two rewards and no code: the JSON
   schema the eval set's reference answers share (offered by core.rewards.schema_inference)
   and the label (category) matching the reference, plus the priority match.
3. Evaluate runs the bundled eval set (all 60 tickets by default: with 24, McNemar's exact
   test cannot call a gain significant when the SFT run already passes 20 of them) on the
   base, SFT and SFT+GRPO models, stores the results in the demo project as the Evaluate
   page does, and compares them with the existing significance tests (McNemar for
   compliance and accuracy). The GRPO run's reward-hacking advice from those stored
   results (core.history.grpo_evaluation) is printed too.

    OMP_NUM_THREADS=2 nice -n 5 .venv/bin/python benchmarks/grpo_demo.py [--sft-steps 16]
        [--grpo-steps 16] [--eval-examples 0 (all)] [--out /tmp/grpo_demo.json]

Prints each phase's numbers and one JSON line at the end (README: "GRPO demo").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evaluation.eval_set import eval_set_from_examples, load_eval_set_file
from core.evaluation.generation import GenerationConfig
from core.evaluation.metrics import compare
from core.evaluation.models import baseline_spec, run_spec
from core.evaluation.runner import evaluate_model
from core.evaluation.store import list_runs as list_evaluations
from core.evaluation.store import load_result, save_eval_set, save_result
from core.history.grpo_evaluation import evaluation_hacking_advice
from core.models.bundled import ensure_bundled_model
from core.project.store import create_project, open_project
from core.recipe.config import TrainConfig
from core.rewards.schema_inference import infer_schema
from core.rewards.spec import spec_from_items
from core.runs.record import load_run, read_metrics
from core.training.cli import DEMO_SETTINGS, bundled_example_dataset
from core.training.session import run_training

GENERATION = GenerationConfig(max_new_tokens=64, batch_size=8)
EVAL_FILE = "support_tickets_eval.jsonl"


def grpo_settings(sft_run: str, steps: int, rewards: str) -> dict:
    """The short CPU GRPO: 2 prompts x 4 answers of up to 64 tokens per step.

    Chosen for a CPU before the run, not tuned on its result: no gradient checkpointing
    (a 135M model's activations fit; recomputing them cost a quarter of each step) and no
    KL term (TRL's default; it costs a reference forward per step and over a few dozen
    steps the model stays close to the SFT run anyway: 0.0005 per token after 2 steps)."""
    return {
        **DEMO_SETTINGS,
        "name": "Demo: SFT + GRPO (schema and label rewards)",
        "stage": "grpo",
        "start_from": sft_run,
        "rewards": rewards,
        "grpo_num_generations": 4,
        "grpo_max_completion_length": 64,
        "grpo_temperature": 0.9,
        "grpo_beta": 0.0,
        "gradient_checkpointing": False,
        "micro_batch_size": 2,
        "gradient_accumulation": 1,
        "max_steps": steps,
        "learning_rate": 2e-4,
        "validation_fraction": 0.0,
        "eval_every_steps": 0,
        "preflight": False,  # the pre-flight's generation is covered by the tests
    }


def metric_line(result) -> dict:
    metrics = result.metrics()
    return {
        "format_compliance": metrics.format_compliance.value,
        "accuracy": metrics.accuracy.value,
    }


def comparison(a, b) -> dict:
    out = {}
    for c in compare(a, b):
        if c.metric in ("format_compliance", "accuracy"):
            out[c.metric] = {
                "before": c.a,
                "after": c.b,
                "p_value": c.p_value,
                "test": c.test,
                "verdict": c.verdict,
                "n": c.n_paired,
            }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sft-steps", type=int, default=DEMO_SETTINGS["max_steps"])
    parser.add_argument("--grpo-steps", type=int, default=16)
    parser.add_argument(
        "--eval-examples", type=int, default=0, help="the eval set's first N tickets (0: all)"
    )
    parser.add_argument("--project", help="project folder (default: a new temporary one)")
    parser.add_argument(
        "--sft-run", help="a finished SFT run of --project to start from (skips step 1)"
    )
    parser.add_argument("--answer-tokens", type=int, default=64, help="GRPO answer length")
    parser.add_argument("--out", help="write the summary JSON here too")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    started = time.monotonic()

    train, _valid = bundled_example_dataset()
    eval_path = train.parent / EVAL_FILE
    full_set = load_eval_set_file(eval_path)
    examples = full_set.examples[: args.eval_examples or None]
    eval_set = eval_set_from_examples("demo eval", str(eval_path), [e.as_dict() for e in examples])
    schema = infer_schema([e.reference for e in full_set.examples])
    rewards = spec_from_items(
        [
            {"kind": "json_schema", "schema": schema},
            {"kind": "reference_match", "field": "category", "weight": 2},
            {"kind": "reference_match", "field": "priority"},
        ]
    ).to_text()
    print(f"rewards: {rewards}", flush=True)

    folder = Path(args.project or tempfile.mkdtemp(prefix="grpo-demo-"))
    project = open_project(folder) if args.sft_run else create_project(folder)
    base_dir = ensure_bundled_model()

    if args.sft_run:
        sft = load_run(project, args.sft_run)
        sft_steps = sft.steps_done
    else:
        result = run_training(
            project,
            TrainConfig(
                **{
                    **DEMO_SETTINGS,
                    "max_steps": args.sft_steps,
                    "train_file": str(train),
                    "validation_fraction": 0.0,
                    "eval_every_steps": 0,
                }
            ),
        )
        if result.status != "finished":
            print(f"SFT failed: {result.reason}")
            return 1
        sft, sft_steps = load_run(project, result.run_id), result.steps_done
    print(f"SFT: {sft.run_id}, {sft_steps} steps", flush=True)
    settings = grpo_settings(sft.run_id, args.grpo_steps, rewards)
    settings["grpo_max_completion_length"] = args.answer_tokens
    grpo = run_training(project, TrainConfig(**settings, train_file=str(train)))
    if grpo.status != "finished":
        print(f"GRPO failed: {grpo.reason}")
        return 1
    records = [r for r in read_metrics(load_run(project, grpo.run_id)) if r.kind == "train"]
    rewards_seen = [round(r.reward, 3) for r in records if r.reward is not None]
    for r in records:
        parts = {name: round(part["mean"], 3) for name, part in (r.reward_parts or {}).items()}
        print(f"GRPO step {r.step}: reward {r.reward}, parts {parts}", flush=True)
    print(
        f"GRPO: {grpo.run_id}, {grpo.steps_done} steps, reward per step {rewards_seen}, "
        f"{time.monotonic() - started:.0f} s so far",
        flush=True,
    )

    eval_set_id = save_eval_set(project, eval_set)

    def evaluated(spec, stored_kind: str = "", training_run: str | None = None):
        """The model's result, stored in the project; with --sft-run, the base's and the SFT
        run's result stored by an earlier demo on this eval-set version is reused (greedy
        decoding of the same model gives the same answers; each takes minutes on a CPU)."""
        if args.sft_run:
            for stored in reversed(list_evaluations(project, eval_set_id)):
                if (stored_kind and stored.kind == stored_kind) or (
                    training_run and stored.training_run == training_run
                ):
                    print(f"reusing stored evaluation {stored.id} ({stored.label})", flush=True)
                    return load_result(project, stored.id)
        result = evaluate_model(eval_set, spec, GENERATION)
        save_result(project, eval_set_id, result)
        return result

    base = evaluated(baseline_spec(base_dir), stored_kind="base")
    after_sft = evaluated(
        run_spec(sft.folder, base_model=base_dir, label="SFT"), training_run=sft.run_id
    )
    after_grpo = evaluated(run_spec(grpo.folder, base_model=base_dir, label="SFT+GRPO"))
    advice = evaluation_hacking_advice(project, grpo.run_id)
    print(f"advice from Evaluate's results: {advice.as_line() if advice else 'none'}", flush=True)
    summary = {
        "eval_examples": len(eval_set.examples),
        "sft_steps": sft_steps,
        "grpo_steps": grpo.steps_done,
        "grpo_reward_first": rewards_seen[0] if rewards_seen else None,
        "grpo_reward_last": rewards_seen[-1] if rewards_seen else None,
        "base": metric_line(base),
        "sft": metric_line(after_sft),
        "sft_grpo": metric_line(after_grpo),
        "base_vs_sft": comparison(base, after_sft),
        "sft_vs_sft_grpo": comparison(after_sft, after_grpo),
        "base_vs_sft_grpo": comparison(base, after_grpo),
        "reward_hacking_advice": advice.message if advice else None,
        "project": str(folder),
        "seconds": round(time.monotonic() - started),
    }
    line = json.dumps(summary)
    print("GRPO_DEMO " + line, flush=True)
    if args.out:
        Path(args.out).write_text(line + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
