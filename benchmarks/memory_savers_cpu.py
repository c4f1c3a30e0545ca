"""CPU tokens/s of our trainer with the memory savers against the trainer before them.

"before" is this repository at the commit before the savers (BEFORE, exported with
`git archive` into a temporary folder); "now" is the working tree. Each round starts
both as concurrent processes with one torch thread each (SmolLM2-135M LoRA r 8 on the
bundled tickets, the same settings), so a shared, noisy machine slows both alike.
Throughput is real tokens over the Trainer's train_runtime, as in training_overhead.py.

Pairs: now with the savers at their defaults ("auto": off on the CPU), and now with
tiled MLP and 16-bit frozen parts forced on at sequences where they do not apply (at
most 4,096 tokens; a LoRA base is already in the compute dtype). Target (issue 18):
now / before >= 0.97.

    python benchmarks/memory_savers_cpu.py    (ROUNDS=3 STEPS=4 SEQ=384 MICRO=2)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from training_overhead import training_file  # noqa: E402  (the same bundled tickets file)

BEFORE = os.environ.get("BEFORE", "e609428")  # the commit before the memory savers
ROUNDS = int(os.environ.get("ROUNDS", "3"))
STEPS = int(os.environ.get("STEPS", "4"))
SEQ = int(os.environ.get("SEQ", "384"))
MICRO = int(os.environ.get("MICRO", "2"))

# Runs inside either tree (its own imports); prints one RESULT line.
WORKER = f"""
import json, sys, torch
torch.set_num_threads(1)
from pathlib import Path
from core.project import create_project
from core.recipe.config import TrainConfig
from core.training.session import TrainingSession
work, tag, extra = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
config = TrainConfig(base_model=sys.argv[4], train_file=str(work / "train.jsonl"),
    validation_fraction=0.0, method="lora", lora_r=8, lora_alpha=16, max_steps={STEPS},
    micro_batch_size={MICRO}, gradient_accumulation=1, learning_rate=2e-4,
    max_seq_length={SEQ}, packing=True, checkpoint_every_steps={STEPS}, preflight=False,
    cpu_threads=1, **extra)
result = TrainingSession(create_project(work / tag), config).run()
assert result.status == "finished", result.reason
print("RESULT " + json.dumps(dict(tokens=result.tokens_seen, seconds=result.train_runtime_s)))
"""


def export_before(folder: Path) -> Path:
    tree = folder / "before"
    tree.mkdir()
    archive = folder / "before.tar"
    with open(archive, "wb") as handle:
        subprocess.run(["git", "archive", BEFORE], cwd=REPO, stdout=handle, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def start(tree: Path, work: Path, tag: str, extra: dict, model: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        FINETUNE_STUDIO_HOME=str(work / f"home-{tag}"),
        PYTHONPATH=str(tree),
    )
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(work), tag, json.dumps(extra), str(model)],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, kind: str) -> float:
    out, _ = process.communicate()
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"the {kind} run failed:\n{out[-2000:]}")
    result = json.loads(line[len("RESULT ") :])
    return result["tokens"] / result["seconds"]


def main() -> int:
    from core.models.bundled import ensure_bundled_model

    model = ensure_bundled_model()
    os.environ["FINETUNE_STUDIO_MODEL_CACHE"] = str(model.parent)
    started = time.perf_counter()
    pairs = {
        "savers auto (off on the CPU)": {},
        "tiled MLP + 16-bit frozen forced on (not applicable)": {
            "tiled_mlp": "on",
            "frozen_16bit": "on",
        },
    }
    worst = None
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        training_file(work)
        before = export_before(work)
        print(
            f"SmolLM2-135M LoRA r 8, CPU, {STEPS} steps of {MICRO} x {SEQ} tokens, {ROUNDS} "
            f"concurrent pairs each; before = {BEFORE}",
            flush=True,
        )
        for title, extra in pairs.items():
            ratios = []
            for index in range(ROUNDS):
                tags = (f"b{index}-{time.time_ns()}", f"n{index}-{time.time_ns()}")
                jobs = [("before", before, {}, tags[0]), ("now", REPO, extra, tags[1])]
                if index % 2:
                    jobs.reverse()
                processes = {
                    kind: start(tree, work, tag, settings, model)
                    for kind, tree, settings, tag in jobs
                }
                rates = {kind: finish(process, kind) for kind, process in processes.items()}
                ratios.append(rates["now"] / rates["before"])
                print(
                    f"  {title}, round {index + 1}: before {rates['before']:,.1f} tok/s, now "
                    f"{rates['now']:,.1f} tok/s: ratio {ratios[-1]:.3f}",
                    flush=True,
                )
            median = statistics.median(ratios)
            worst = median if worst is None else min(worst, median)
            print(f"{title}: now/before median {median:.3f} over {ROUNDS} pairs")
    print(f"target >= 0.97: {'met' if worst >= 0.97 else 'NOT met'} (lowest median {worst:.3f})")
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")
    return 0 if worst >= 0.97 else 1


if __name__ == "__main__":
    sys.exit(main())
