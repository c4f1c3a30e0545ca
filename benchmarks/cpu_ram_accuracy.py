"""How close the CPU RAM estimate (core/estimate/cpu_ram.py) comes to a real run's peak RSS.

Each case is a real run of our trainer (core.training.session.run_training: pre-flight off,
validation off, packing on so every row is max_seq_length tokens, MAX_STEPS optimizer steps
of one micro batch, 1 CPU thread) in a fresh child process; the child's peak RSS
(VmHWM) is the measurement. Next to it: the estimate for the same TrainConfig
(core.estimate.run via pre-flight's estimator_settings, the same call the Train
page and pre-flight make) and estimate / measured.

The cases separate the terms: the tiny random Llama (only the library baseline counts), the
bundled SmolLM2-135M with LoRA at a short sequence (weights + baseline), longer sequences
and larger micro batches with and without gradient checkpointing (activations, the LM head's
loss), QLoRA (4-bit weights and the dequantized copies) and full fine-tuning (gradients and
AdamW states).

The child also reports RSS at moments of the run, to tell where the peak is:
  import  - torch, transformers, peft, trl, datasets and core.training imported
  load    - peak up to the first training step (the model read and wrapped, data tokenized)
  steady  - RSS at the training status (what stays resident after loading)
  train   - peak sampled every 10 ms during trainer.train()

    python benchmarks/cpu_ram_accuracy.py            (about 6-9 min on 2 busy cores)
    CASES=tiny-lora,smol-lora-256 python benchmarks/cpu_ram_accuracy.py
    MAX_STEPS=3 python benchmarks/cpu_ram_accuracy.py

Targets: every case within +-15 % (0.85-1.15) and none under 0.90 (erring high is safer).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MAX_STEPS = int(os.environ.get("MAX_STEPS", "2"))
TIMEOUT_S = 600
GIB = 1024**3

# name: (model, method, max_seq_length, micro_batch, gradient checkpointing)
ALL_CASES = {
    "tiny-lora": ("tiny", "lora", 256, 1, True),
    "tiny-full-mb4": ("tiny", "full", 512, 4, False),
    "smol-lora-256": ("smol", "lora", 256, 1, True),
    "smol-lora-512-mb2": ("smol", "lora", 512, 2, True),
    "smol-lora-512-mb2-nogc": ("smol", "lora", 512, 2, False),
    "smol-lora-1024-mb2": ("smol", "lora", 1024, 2, True),
    "smol-lora-256-mb4-nogc": ("smol", "lora", 256, 4, False),
    "smol-qlora-512-mb2": ("smol", "qlora", 512, 2, True),
    "smol-qlora-256": ("smol", "qlora", 256, 1, True),
    "smol-full-256": ("smol", "full", 256, 1, True),
    "smol-full-512-mb2-nogc": ("smol", "full", 512, 2, False),
    # DPO: each pair's chosen and rejected go through the model together (2 x micro batch
    # sequences of max_seq_length tokens), plus a reference forward with the adapter off.
    "smol-lora-256-dpo": ("smol", "lora", 256, 1, True, "dpo"),
    "smol-lora-512-mb2-dpo": ("smol", "lora", 512, 2, True, "dpo"),
}


def peak_rss_bytes() -> int:
    from core.process_memory import own_peak_rss_bytes

    return own_peak_rss_bytes() or 0


def current_rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


TICKET_WORDS = (
    "my order arrived late and the box was damaged, could you send a replacement "
    "or refund the shipping costs please"
)


def training_file(folder: Path, tokens_needed: int) -> Path:
    """Support-ticket-like conversations, enough to pack every row full."""
    words = TICKET_WORDS.split(" ")
    rows = []
    total = 0
    i = 0
    while total < tokens_needed * 2:  # about one token per word, then twice over
        user = " ".join(words[(i + k) % len(words)] for k in range(40 + i % 30))
        reply = " ".join(words[(i * 7 + k) % len(words)] for k in range(60 + i % 40))
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Ticket {i}: {user}"},
                    {"role": "assistant", "content": f"Thanks for ticket {i}. {reply}"},
                ]
            }
        )
        total += 100 + i % 70
        i += 1
    path = folder / "train.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


def pairs_file(folder: Path, n_pairs: int, seq: int) -> Path:
    """Preference pairs whose both sides run past max_seq_length, so every sequence is full."""
    words = TICKET_WORDS.split(" ")

    def text(start: int, n: int) -> str:
        return " ".join(words[(start + k) % len(words)] for k in range(n))

    rows = [
        {
            "prompt": [{"role": "user", "content": f"Ticket {i}: {text(i, seq // 2)}"}],
            "chosen": [{"role": "assistant", "content": text(i * 7 + 1, seq)}],
            "rejected": [{"role": "assistant", "content": "Not sure. " + text(i * 11 + 5, seq)}],
        }
        for i in range(n_pairs)
    ]
    path = folder / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


def model_path(kind: str, work: Path) -> Path:
    if kind == "tiny":
        from core.models.tiny_model import build_tiny_model

        return build_tiny_model(work / "tiny")
    from core.models.bundled import ensure_bundled_model

    return ensure_bundled_model()


def worker(name: str) -> None:
    kind, method, seq, micro, checkpointing, *stage = ALL_CASES[name]
    stage = stage[0] if stage else "sft"
    work = Path(tempfile.mkdtemp(prefix="cpu-ram-accuracy-"))
    path = model_path(kind, work)  # before the imports: the tiny model's build is not a run's

    # What a run imports before loading the model (the trainer imports these lazily).
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    import trl  # noqa: F401

    import core.training.session as session_module
    from core.project import create_project
    from core.recipe.config import TrainConfig
    from core.training.device import resolve_device
    from core.training.observer import TrainingObserver
    from core.training.preflight import estimator_settings

    moments = {"import": current_rss_bytes()}
    config = TrainConfig(
        base_model=str(path),
        stage=stage,
        train_file=str(
            pairs_file(work, MAX_STEPS * micro + 2, seq)
            if stage == "dpo"
            else training_file(work, MAX_STEPS * micro * seq)
        ),
        validation_fraction=0.0,
        method=method,
        device="cpu",
        cpu_threads=1,
        max_seq_length=seq,
        micro_batch_size=micro,
        gradient_accumulation=1,
        gradient_checkpointing=checkpointing,
        packing=True,
        max_steps=MAX_STEPS,
        epochs=1.0,
        preflight=False,
        checkpoint_every_steps=10_000,
        final_model="last",
        memory_stop_rss_percent=0,
        memory_stop_available_percent=0,
    )
    train_peak = [0]
    stop = threading.Event()

    def sample() -> None:
        import psutil

        process = psutil.Process()
        while not stop.wait(0.01):
            train_peak[0] = max(train_peak[0], int(process.memory_info().rss))

    class Watch(TrainingObserver):
        def on_status(self, state: str, message: str) -> None:
            if state == "training" and "load" not in moments:
                moments["load"] = peak_rss_bytes()
                moments["steady"] = current_rss_bytes()
                threading.Thread(target=sample, daemon=True).start()

    project = create_project(work / "project", name="RAM accuracy")
    started = time.perf_counter()
    result = session_module.run_training(project, config, Watch())
    stop.set()
    moments["train"] = train_peak[0]
    peak = peak_rss_bytes()

    from core.estimate import load_architecture
    from core.estimate.cpu_ram import estimate_cpu_ram

    plan = resolve_device(config)
    settings = estimator_settings(config, plan, n_train=100, train_tokens=0)
    estimate = estimate_cpu_ram(load_architecture(path), settings)
    print(
        "RESULT "
        + json.dumps(
            {
                "status": result.status,
                "steps": result.steps_done,
                "reason": (result.reason or "")[:300],
                "seconds": time.perf_counter() - started,
                "peak": peak,
                "moments": moments,
                "estimate": estimate.peak_bytes,
                "breakdown": {**estimate.breakdown, "baseline": estimate.baseline_bytes},
                "optimizer": settings.optimizer,
                "precision": settings.precision,
            }
        )
    )


def run_case(name: str) -> dict:
    env = dict(os.environ)
    cache = REPO / ".test-cache" / "models"
    if "FINETUNE_STUDIO_MODEL_CACHE" not in env and cache.is_dir():
        env["FINETUNE_STUDIO_MODEL_CACHE"] = str(cache)  # the converted model, if made
    env.setdefault("FINETUNE_STUDIO_HOME", tempfile.mkdtemp(prefix="cpu-ram-accuracy-home-"))
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        WANDB_DISABLED="true",
    )
    done = subprocess.run(
        [sys.executable, __file__, "--worker", name],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise SystemExit(f"{name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def gib(value: float) -> str:
    return f"{value / GIB:5.2f}"


def main() -> None:
    chosen = os.environ.get("CASES", "")
    names = [n.strip() for n in chosen.split(",") if n.strip()] or list(ALL_CASES)
    print(f"{MAX_STEPS} optimizer steps per case, 1 CPU thread; GiB; ratio = estimate / peak RSS")
    header = (
        f"{'case':26} {'import':>6} {'load':>6} {'steady':>6} {'train':>6} {'peak':>6} "
        f"{'est.':>6} {'ratio':>6} {'s':>4}"
    )
    print(header)
    ratios = {}
    for name in names:
        r = run_case(name)
        m = r["moments"]
        ratio = r["estimate"] / r["peak"]
        ratios[name] = ratio
        print(
            f"{name:26} {gib(m['import'])}  {gib(m.get('load', 0))}  {gib(m.get('steady', 0))}"
            f"  {gib(m['train'])}  {gib(r['peak'])}  {gib(r['estimate'])}  {ratio:5.2f} "
            f"{r['seconds']:4.0f}" + ("" if r["status"] == "finished" else f"  {r['status']}")
        )
        if r["status"] != "finished":
            print(f"    why: {r['reason']}")
        if os.environ.get("VERBOSE"):
            parts = ", ".join(f"{k} {v / GIB:.3f}" for k, v in r["breakdown"].items() if v)
            print(f"    {r['precision']} {r['optimizer']}: {parts}")
    values = list(ratios.values())
    worst = min(values, key=lambda v: -abs(v - 1))
    print(
        f"median {statistics.median(values):.2f}, lowest {min(values):.2f}, highest "
        f"{max(values):.2f}, worst {worst:.2f}; within +-15 %: "
        f"{sum(0.85 <= v <= 1.15 for v in values)}/{len(values)}; under 0.90: "
        f"{sum(v < 0.90 for v in values)}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
