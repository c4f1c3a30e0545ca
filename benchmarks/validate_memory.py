"""Validate memory: the peak RSS of `data validate` on a big JSONL file, streamed (what the
CLI does) beside the same validation with every example held in memory (what the dataset
page does), each in its own process, as a multiple of the file's size. Target (issue 22):
at most 3x the file's size, the whole process counted.

    python benchmarks/validate_memory.py [--lines 1000000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
from core.process_memory import own_peak_rss_bytes
from core.dataset.formats import import_dataset
from core.dataset.validation import validate_dataset
started = time.perf_counter()
dataset = import_dataset(sys.argv[1], stream=sys.argv[2] == "stream")
report = validate_dataset(dataset)
print(json.dumps({"peak": own_peak_rss_bytes(), "seconds": time.perf_counter() - started,
                  "findings": len(report.findings)}))
"""


def generate(path: Path, lines: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(20_000)]
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            messages = [
                {"role": "user", "content": " ".join(rng.choices(words, k=14))},
                {"role": "assistant", "content": " ".join(rng.choices(words, k=12))},
            ]
            handle.write(json.dumps({"messages": messages}) + "\n")


def measure(path: Path, mode: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the file here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.keep or Path(scratch) / "big.jsonl"
        if not path.exists():
            generate(path, args.lines)
        size = path.stat().st_size
        print(f"{args.lines:,} lines, {size / 1e6:.1f} MB")
        results = {mode: measure(path, mode) for mode in ("held", "stream")}
        for mode, result in results.items():
            print(
                f"{mode:>6}: peak {result['peak'] / 1e6:7.0f} MB = {result['peak'] / size:4.2f}x "
                f"the file, {result['seconds']:5.1f} s, {result['findings']} findings"
            )
        ratio = results["stream"]["peak"] / results["held"]["peak"]
        print(f"streamed / held peak: {ratio:.2f}")
        return 0 if results["stream"]["peak"] <= 3 * size else 1


if __name__ == "__main__":
    raise SystemExit(main())
