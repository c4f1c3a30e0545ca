"""Our trainer against a bare TRL SFTTrainer script with the same settings, side by side.

Both fine-tune the bundled SmolLM2-135M-Instruct with LoRA on the bundled support tickets
on this CPU, in one process, alternating bare/ours (then ours/bare) for ROUNDS rounds.
Throughput is real (non-padding) tokens per second of train(): TRL's own `num_tokens`
count over the Trainer's `train_runtime`, the same measure for both. Our bookkeeping
(records to metrics.jsonl and SQLite every step, memory readings, advisor, observer,
pause/stop checks) is inside that time. Target (issue 5): ours / bare >= 0.97.

Then the gain from packing: our trainer with packing against the same run with padding.

    python benchmarks/training_overhead.py    (ROUNDS=3 STEPS=6 SEQ=384 MICRO=2; THREADS=n)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ROUNDS = int(os.environ.get("ROUNDS", "3"))
STEPS = int(os.environ.get("STEPS", "6"))
SEQ = int(os.environ.get("SEQ", "384"))
MICRO = int(os.environ.get("MICRO", "2"))
# Same for both sides; THREADS=1 keeps a shared, oversubscribed machine from thrashing.
THREADS = int(os.environ.get("THREADS", "0"))
LR = 2e-4


def bare_trl(model_dir: Path, train_file: Path, out: Path) -> tuple[float, float]:
    """The baseline: the SFTTrainer script from TRL's docs, with our run's settings."""
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    dataset = load_dataset("json", data_files=str(train_file), split="train")
    args = SFTConfig(
        output_dir=str(out),
        max_steps=STEPS,
        per_device_train_batch_size=MICRO,
        gradient_accumulation_steps=1,
        learning_rate=LR,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        weight_decay=0.01,
        max_grad_norm=1.0,
        optim="adamw_torch",
        bf16=False,
        use_cpu=True,
        max_length=SEQ,
        packing=True,
        activation_checkpointing=False,
        seed=42,
        logging_steps=1,
        save_strategy="steps",
        save_steps=STEPS,
        report_to="none",
        disable_tqdm=True,
    )
    peft_config = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.05,
        target_modules=[
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    output = trainer.train()
    tokens = max(h.get("num_tokens", 0) for h in trainer.state.log_history)
    return float(tokens), float(output.metrics["train_runtime"])


BOOKKEEPING: list[tuple[float, float]] = []  # (our callback's seconds, train() seconds)


def ours(project, model_dir: Path, train_file: Path, packing: bool = True) -> tuple[float, float]:
    import torch

    from core.training.config import TrainConfig
    from core.training.session import TrainingSession

    config = TrainConfig(
        base_model=str(model_dir),
        train_file=str(train_file),
        validation_fraction=0.0,
        method="lora",
        lora_r=8,
        lora_alpha=16,
        max_steps=STEPS,
        micro_batch_size=MICRO,
        gradient_accumulation=1,
        learning_rate=LR,
        max_seq_length=SEQ,
        packing=packing,
        checkpoint_every_steps=STEPS,
        preflight=False,
        cpu_threads=torch.get_num_threads(),  # the bare script's thread count
    )
    result = TrainingSession(project, config).run()
    assert result.status == "finished", result.reason
    BOOKKEEPING.append((result.bookkeeping_s, result.train_runtime_s))
    return float(result.tokens_seen), result.train_runtime_s


def training_file(folder: Path) -> Path:
    """The bundled tickets as plain OpenAI-messages JSONL (what both trainers read)."""
    from core.training.cli import bundled_example_dataset

    source, _valid = bundled_example_dataset()
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip():
            lines.append(json.dumps({"messages": json.loads(line)["messages"]}))
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from core.models.bundled import ensure_bundled_model
    from core.project import create_project

    model_dir = ensure_bundled_model()
    if THREADS:
        import torch

        torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        os.environ["FINETUNE_STUDIO_HOME"] = str(work / "home")
        train_file = training_file(work)
        project = create_project(work / "project")
        print(
            f"SmolLM2-135M LoRA r 8, CPU, {STEPS} steps of {MICRO} x {SEQ} tokens, "
            f"{ROUNDS} rounds, {THREADS or 'default'} torch threads",
            flush=True,
        )
        bare_rates, our_rates = [], []
        started = time.perf_counter()
        for round_index in range(ROUNDS):
            order = ("bare", "ours") if round_index % 2 == 0 else ("ours", "bare")
            for which in order:
                if which == "bare":
                    tokens, seconds = bare_trl(model_dir, train_file, work / f"bare{round_index}")
                    bare_rates.append(tokens / seconds)
                else:
                    tokens, seconds = ours(project, model_dir, train_file)
                    our_rates.append(tokens / seconds)
                print(
                    f"  round {round_index + 1} {which:4}: {tokens:,.0f} tokens in "
                    f"{seconds:.1f} s = {tokens / seconds:,.0f} tok/s",
                    flush=True,
                )
        ratios = [o / b for o, b in zip(our_rates, bare_rates)]
        b, o = statistics.median(bare_rates), statistics.median(our_rates)
        print(f"bare TRL SFTTrainer : median {b:,.0f} real tokens/s")
        print(f"FineTune Studio     : median {o:,.0f} real tokens/s")
        print(
            f"ratio ours/bare     : {o / b:.3f} (per round: {', '.join(f'{r:.3f}' for r in ratios)})"
        )
        print(f"target >= 0.97      : {'met' if o / b >= 0.97 else 'NOT met'}")
        spent = sum(b for b, _ in BOOKKEEPING)
        trained = sum(t for _, t in BOOKKEEPING)
        print(
            f"our bookkeeping     : {spent:.3f} s of {trained:.1f} s in train() = "
            f"{100 * spent / trained:.2f} % (measured inside the run, immune to machine noise)"
        )

        packed = ours(project, model_dir, train_file, packing=True)
        padded = ours(project, model_dir, train_file, packing=False)
        packed_rate, padded_rate = packed[0] / packed[1], padded[0] / padded[1]
        print(f"packing  : {packed_rate:,.0f} real tokens/s")
        print(f"padding  : {padded_rate:,.0f} real tokens/s")
        print(f"ratio packing/padding: {packed_rate / padded_rate:.2f}x")
        print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
