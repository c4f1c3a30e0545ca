"""Dataset scale: open, validate and save 100,000 conversations (~150 MB of JSONL).

Prints each figure beside a baseline run in the same process on the same file: a plain
`json.loads` loop over its lines. Targets (issue 4): open < 3 s, validate (no
tokenizing) < 10 s, memory < 3x the file size, filtering a visible page < 100 ms.

    python benchmarks/dataset_scale.py [--examples 100000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SLICE = 5_000
SYSTEM_PROMPTS = [
    "You are a helpful support assistant for Acme Cloud. Answer precisely and briefly.",
    "You are a careful medical coding assistant. Cite the ICD-10 code you choose.",
]


def _sentence(rng: random.Random, vocabulary: list[str], words: int) -> str:
    return " ".join(rng.choice(vocabulary) for _ in range(words)).capitalize() + "."


def generate(path: Path, examples: int, seed: int = 0) -> None:
    """A deterministic synthetic dataset of the given size (about 1.5 KB per conversation)."""
    rng = random.Random(seed)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
        for _ in range(20_000)
    ]
    previous = ""
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(examples):
            messages = [{"role": "system", "content": SYSTEM_PROMPTS[index % 50 == 0]}]
            for _turn in range(1 if index % 5 else 2):
                user = " ".join(_sentence(rng, vocabulary, rng.randint(6, 14)) for _ in range(3))
                reply = " ".join(_sentence(rng, vocabulary, rng.randint(8, 16)) for _ in range(9))
                messages.append({"role": "user", "content": user})
                messages.append({"role": "assistant", "content": reply})
            record = {"messages": messages}
            if index % 1000 == 7:  # a few near duplicates of the previous example
                record = json.loads(previous)
                record["messages"][-1]["content"] += " Thanks."
            line = json.dumps(record)
            previous = line
            handle.write(line + "\n")


def timed(function):
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def baseline_loads(path: Path) -> list:
    with open(path, "rb") as handle:
        return [json.loads(line) for line in handle]


def peak_memory(function) -> int:
    gc.collect()
    tracemalloc.start()
    result = function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


def _max_rss(statement: str, path: Path) -> int:
    """Peak resident bytes of a fresh interpreter that runs `statement` on the file."""
    import subprocess

    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from pathlib import Path\n"
        "from dataset_scale import baseline_loads\n"
        "from core.dataset.jsonl import read_jsonl\n"
        f"path = Path({str(path)!r})\n"
        f"{statement}\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) * 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    args = parser.parse_args(argv)

    from core.dataset.jsonl import read_jsonl, write_jsonl
    from core.dataset.search import matching_rows
    from core.dataset.validation import ValidationOptions, validate_dataset

    folder = Path(tempfile.mkdtemp(prefix="dataset-scale-"))
    path = args.keep or folder / "conversations.jsonl"
    if not path.exists():
        generate(path, args.examples)
    size = path.stat().st_size
    print(f"file: {args.examples:,} conversations, {size / 1e6:.0f} MB")

    base_s, _ = timed(lambda: baseline_loads(path))
    open_s, dataset = timed(lambda: read_jsonl(path))
    print(
        f"open      {open_s:6.2f} s   baseline json.loads loop {base_s:6.2f} s   "
        f"ratio {open_s / base_s:4.2f}x   target < 3 s"
    )

    options = ValidationOptions()
    validate_s, report = timed(lambda: validate_dataset(dataset, options))
    print(
        f"validate  {validate_s:6.2f} s   baseline {base_s:6.2f} s   "
        f"ratio {validate_s / base_s:4.2f}x   target < 10 s   "
        f"({len(report.findings):,} findings)"
    )

    # The GUI filters in slices between events; what it blocks on is one slice.
    for phrase in ("thanks", "user"):  # "user" is in every raw line (a key): the worst case
        filter_s, rows = timed(lambda phrase=phrase: matching_rows(dataset, phrase))
        slice_s, _ = timed(lambda phrase=phrase: matching_rows(dataset, phrase, stop=SLICE))
        print(
            f"filter    {phrase!r}: all rows {filter_s * 1000:5.0f} ms ({len(rows):,} match), "
            f"one {SLICE:,}-row slice {slice_s * 1000:4.0f} ms   target < 100 ms per GUI step"
        )

    save_s, _ = timed(lambda: write_jsonl(folder / "saved.jsonl", dataset))
    print(f"save      {save_s:6.2f} s   ratio {save_s / base_s:4.2f}x")
    from core.dataset.versions import save_version
    from core.project import create_project

    project = create_project(folder / "project")
    version_s, version = timed(lambda: save_version(project, dataset))
    print(
        f"version   {version_s:6.2f} s   ratio {version_s / base_s:4.2f}x   "
        f"({version.label}: {version.n_train:,} train, {version.n_valid:,} valid)"
    )
    project.close()
    dataset = report = None  # free them before measuring memory

    base_mem = peak_memory(lambda: baseline_loads(path))
    open_mem = peak_memory(lambda: read_jsonl(path))
    print(
        f"memory    open {open_mem / size:4.2f}x file size   baseline json.loads "
        f"{base_mem / size:4.2f}x   ratio {open_mem / base_mem:4.2f}x   target < 3x file size"
    )
    bare = _max_rss("pass", path)
    opened = _max_rss("read_jsonl(path)", path)
    loaded = _max_rss("baseline_loads(path)", path)
    print(
        f"memory    peak resident growth, fresh process: open {(opened - bare) / size:4.2f}x "
        f"file size   baseline {(loaded - bare) / size:4.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
