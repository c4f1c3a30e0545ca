"""Safety: a save killed half-way leaves the old file or the new one; no input crashes an importer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.dataset.formats import import_dataset
from core.dataset.jsonl import read_jsonl, write_jsonl
from core.dataset.model import Dataset, Example
from core.dataset.validation import validate_dataset

REPO = Path(__file__).resolve().parent.parent

WRITER = """
import sys
sys.path.insert(0, {repo!r})
from core.dataset.jsonl import write_jsonl
from core.dataset.model import Example
reply = "x" * 2000
examples = [Example.from_messages([{{"role": "user", "content": f"q{{i}}"}},
                                   {{"role": "assistant", "content": reply}}]) for i in range(40000)]
print("ready", flush=True)
write_jsonl(sys.argv[1], examples)
print("done", flush=True)
"""


def _kill_during_save(target: Path, delay_after_temp: float) -> bool:
    """Run a ~80 MB save in a child and SIGKILL it once its temp file exists; True if killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(repo=str(REPO)), str(target)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        temps = list(target.parent.glob(f".{target.name}.*.tmp"))
        if temps and temps[0].exists() and temps[0].stat().st_size > 0:
            time.sleep(delay_after_temp)
            break
        time.sleep(0.002)
    killed = child.poll() is None
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    return killed


def test_killing_a_save_leaves_the_old_file_or_the_new_one_never_a_truncated_one(tmp_path):
    target = tmp_path / "dataset.jsonl"
    old = Example.from_messages(
        [{"role": "user", "content": "old"}, {"role": "assistant", "content": "kept"}]
    )
    write_jsonl(target, [old])
    old_bytes = target.read_bytes()
    outcomes = []
    for delay in (0.0, 0.05, 0.2):
        killed = _kill_during_save(target, delay)
        data = target.read_bytes()
        if killed and data == old_bytes:
            outcomes.append("old")
        else:  # the save finished before the kill: the new file, complete
            lines = data.splitlines()
            assert len(lines) == 40000 and all(json.loads(line) for line in lines[-3:])
            outcomes.append("new")
            write_jsonl(target, [old])
    assert "old" in outcomes  # at least one kill landed mid-save and the old file survived
    assert read_jsonl(target)[0].messages[1]["content"] == "kept"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "messages",
                    "role",
                    "content",
                    "conversations",
                    "from",
                    "value",
                    "instruction",
                    "input",
                    "output",
                    "system",
                    "tools",
                    "finetune_studio",
                    "tags",
                    "id",
                    "x",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
ROLE_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "user", "assistant", "tool", "bot"]),
            "content": st.text(max_size=30) | st.none(),
        }
    ),
    max_size=5,
)
SUFFIXES = ["jsonl", "json", "csv", "tsv", "parquet"]
FORMATS = ["auto", "jsonl", "alpaca", "sharegpt", "csv", "tsv", "parquet"]
FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _import_and_validate(path: Path, fmt: str) -> None:
    dataset = import_dataset(path, fmt=fmt)
    assert isinstance(dataset, Dataset)
    report = validate_dataset(dataset)
    for finding in report.findings + dataset.load_findings:
        assert finding.message and finding.severity in ("error", "warning", "info")


@FAST
@given(data=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES), fmt=st.sampled_from(FORMATS))
def test_random_bytes_never_crash_an_importer(tmp_path, data, suffix, fmt):
    path = tmp_path / f"random.{suffix}"
    path.write_bytes(data)
    _import_and_validate(path, fmt)


@FAST
@given(records=st.lists(JSON, max_size=6), as_array=st.booleans(), fmt=st.sampled_from(FORMATS[:4]))
def test_random_json_never_crashes_an_importer(tmp_path, records, as_array, fmt):
    path = tmp_path / "random.json"
    text = json.dumps(records) if as_array else "\n".join(json.dumps(r) for r in records)
    path.write_text(text)
    _import_and_validate(path, fmt)


@FAST
@given(
    rows=st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=4), max_size=6),
    fmt=st.sampled_from(["csv", "tsv"]),
)
def test_random_tables_never_crash_the_table_importer(tmp_path, rows, fmt):
    import csv

    path = tmp_path / f"t.{fmt}"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter="," if fmt == "csv" else "\t").writerows(
            [["prompt", "response", "system"], *rows]
        )
    _import_and_validate(path, fmt)


ODD_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": JSON | st.sampled_from(["user", "assistant", "system"]), "content": JSON}
    )
    | JSON,
    max_size=5,
)


@FAST
@given(conversations=st.lists(ODD_MESSAGES, max_size=5), tags=st.lists(st.text(max_size=3)))
def test_odd_values_inside_messages_give_findings_not_crashes(conversations, tags):
    records = [{"messages": m, "finetune_studio": {"tags": tags}} for m in conversations]
    dataset = Dataset.from_records(records)
    validate_dataset(dataset)
    from core.dataset.search import matching_rows
    from core.dataset.stats import dataset_statistics

    dataset_statistics(dataset)
    matching_rows(dataset, "a")


@FAST
@given(conversations=st.lists(ROLE_MESSAGES, max_size=6), extra=JSON)
def test_any_record_round_trips_through_jsonl_exactly(tmp_path, conversations, extra):
    records = [{"messages": m, "extra": extra} for m in conversations]
    path = tmp_path / "rt.jsonl"
    write_jsonl(path, Dataset.from_records(records), studio_fields=False)
    assert read_jsonl(path).records() == records
    write_jsonl(path, Dataset.from_records(records))
    assert read_jsonl(path).records() == records


def test_the_temp_file_of_a_failed_save_is_removed(tmp_path):
    class Exploding(Example):
        def to_json_bytes(self, studio_fields=True):
            raise RuntimeError("disk full")

    target = tmp_path / "d.jsonl"
    target.write_text("old\n")
    try:
        write_jsonl(target, [Exploding({"messages": []})])
    except RuntimeError:
        pass
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["d.jsonl"]
