"""Our DPO stage against a bare TRL DPOTrainer script with the same settings, side by side.

Both train the bundled SmolLM2-135M-Instruct with LoRA on preference pairs made from the
bundled support tickets (chosen: the ticket's own answer; rejected: another ticket's), on
this CPU, from one recipe; the bare script's DPOConfig and LoraConfig come from our own
mapping (build_dpo_kwargs, lora_config), so both sides train alike. As in
training_overhead.py, each round starts the two as concurrent processes with one torch
thread each, so a noisy shared machine slows both alike. Throughput: TRL's `num_tokens`
over the Trainer's `train_runtime`, the same measure for both. Target (issue 19): ours /
bare >= 0.97.

    python benchmarks/dpo_overhead.py    (ROUNDS=3 STEPS=4 SEQ=256 MICRO=2)
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
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from core.training.device import resolve_device
    from core.training.dpo_setup import build_dpo_kwargs
    from core.training.lora_targets import resolve_targets
    from core.training.model_loading import lora_config
    from core.training.schedule import resolve_schedule

    config = recipe(model_dir, train_file)
    plan = resolve_device(config)
    schedule, _notes = resolve_schedule(config, STEPS, has_eval=False)
    kwargs, _notes = build_dpo_kwargs(config, plan, schedule, out, False)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    trainer = DPOTrainer(
        model=model,
        args=DPOConfig(**kwargs),
        train_dataset=load_dataset("json", data_files=str(train_file), split="train"),
        processing_class=tokenizer,
        peft_config=lora_config(config, resolve_targets(config, model)),
    )
    output = trainer.train()
    tokens = max(h.get("num_tokens", 0) for h in trainer.state.log_history)
    return {"tokens": float(tokens), "seconds": float(output.metrics["train_runtime"])}


def ours(model_dir: Path, train_file: Path, project_dir: Path) -> dict:
    from core.project import create_project
    from core.training.session import TrainingSession

    result = TrainingSession(create_project(project_dir), recipe(model_dir, train_file)).run()
    assert result.status == "finished", result.reason
    return {
        "tokens": float(result.tokens_seen),
        "seconds": result.train_runtime_s,
        "bookkeeping": result.bookkeeping_s,
    }


def worker(kind: str, work: Path) -> None:
    """One run in this process; prints one JSON line."""
    import torch

    from core.models.bundled import ensure_bundled_model

    torch.set_num_threads(1)
    model_dir = ensure_bundled_model()
    train_file = work / "pairs.jsonl"
    tag = f"{kind}-{time.time_ns()}"
    if kind == "bare":
        result = bare_trl(model_dir, train_file, work / tag)
    else:
        result = ours(model_dir, train_file, work / tag)
    print("RESULT " + json.dumps(result), flush=True)


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


def run_pair(first: str, second: str, work: Path) -> dict[str, dict]:
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
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in (first, second)
    }
    results = {}
    for kind, process in processes.items():
        out, err = process.communicate()
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if process.returncode != 0 or line is None:
            raise SystemExit(f"the {kind} run failed:\n{(out + err)[-3000:]}")
        results[kind] = json.loads(line[len("RESULT ") :])
    return results


def rate(result: dict) -> float:
    return result["tokens"] / result["seconds"]


def main() -> None:
    from core.models.bundled import ensure_bundled_model

    os.environ["FINETUNE_STUDIO_MODEL_CACHE"] = str(ensure_bundled_model().parent)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        pairs_file(work)
        print(
            f"SmolLM2-135M LoRA r 8 DPO, CPU, {STEPS} steps of {MICRO} pairs x {SEQ} tokens, "
            f"{ROUNDS} rounds, each a concurrent pair of processes with 1 torch thread each",
            flush=True,
        )
        ratios = []
        for index in range(ROUNDS):
            order = ("bare", "ours") if index % 2 == 0 else ("ours", "bare")
            results = run_pair(*order, work)
            ratio = rate(results["ours"]) / rate(results["bare"])
            ratios.append(ratio)
            print(
                f"  round {index + 1}: bare {rate(results['bare']):,.1f} tok/s, ours "
                f"{rate(results['ours']):,.1f} tok/s ({results['ours']['tokens']:,.0f} tokens, "
                f"bookkeeping {results['ours']['bookkeeping']:.3f} s): ratio {ratio:.3f}",
                flush=True,
            )
        median = statistics.median(ratios)
        print(f"ratio ours/bare     : median {median:.3f} over {ROUNDS} concurrent pairs")
        print(f"target >= 0.97      : {'met' if median >= 0.97 else 'NOT met'}")
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
