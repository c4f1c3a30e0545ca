"""The demo project's dataset: support tickets triaged into strict JSON, saved as v1.

The tickets ship in resources/datasets/ (see generate_support_tickets.py there); the
held-out eval tickets beside them are for the Evaluate feature.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from core.dataset.jsonl import parse_jsonl_bytes
from core.dataset.model import Dataset
from core.dataset.split import SplitConfig
from core.dataset.versions import DatasetVersion, save_version

DEMO_DATASET_NAME = "support-tickets"
TRAIN_RESOURCE = "datasets/support_tickets.jsonl"
EVAL_RESOURCE = "datasets/support_tickets_eval.jsonl"
DEMO_SPLIT = SplitConfig(valid_fraction=0.1, seed=42, stratify_by_tag=True)


def demo_dataset() -> Dataset:
    """The shipped support tickets, with their tags and review marks."""
    data = resources.files("resources").joinpath(TRAIN_RESOURCE).read_bytes()
    examples, findings = parse_jsonl_bytes(data, f"resources/{TRAIN_RESOURCE}")
    if findings:  # a packaging fault, never the user's: say so loudly
        raise RuntimeError(f"The bundled demo dataset is damaged: {findings[0].message}")
    return Dataset(examples, name=DEMO_DATASET_NAME, source_format="jsonl")


def demo_eval_set_path() -> Path:
    """The held-out tickets (with JSON-schema checks) for Evaluate."""
    return Path(str(resources.files("resources").joinpath(EVAL_RESOURCE)))


def populate(project) -> DatasetVersion:
    """Save the demo tickets into the project as version v1 with a stratified validation split."""
    return save_version(
        project,
        demo_dataset(),
        note="Demo: 160 support tickets answered in strict JSON (category, priority, summary).",
        split=DEMO_SPLIT,
    )
