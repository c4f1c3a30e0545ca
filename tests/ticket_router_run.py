"""A tiny LoRA "ticket router" run, shared by the export and training tests: the JSONL
rows it learns, the LoRA settings that learn them in seconds on the CPU, and a function that
trains it for real in a fresh project."""

from __future__ import annotations

import json

import pytest

CATEGORIES = ["billing", "shipping"]


def rows(n, offset=0):
    return [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: which team?"},
                {"role": "assistant", "content": f'{{"category": "{CATEGORIES[i % 2]}"}}'},
            ]
        }
        for i in range(offset, offset + n)
    ]


def write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def tiny_lora_settings(model_dir, train_file, **changes) -> dict:
    """TrainConfig fields for a LoRA run on the tiny model that learns a few tickets."""
    settings = {
        "base_model": str(model_dir),
        "train_file": str(train_file),
        "validation_fraction": 0.0,
        "method": "lora",
        "epochs": 10.0,
        "micro_batch_size": 4,
        "gradient_accumulation": 1,
        "learning_rate": 1e-2,
        "max_seq_length": 64,
        "packing": False,
        "warmup_ratio": 0.0,
        "checkpoint_every_steps": 100,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "preflight": False,
    }
    settings.update(changes)
    return settings


def train_ticket_router(root, tiny_model_dir, *, max_steps, project_name):
    """Create a project under `root` and train the tiny model on 8 tickets; return
    (project, run_id). One torch thread keeps it quick on a 2-core machine."""
    import torch

    from core.project import create_project
    from core.recipe.config import TrainConfig
    from core.training.session import run_training

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FINETUNE_STUDIO_HOME", str(root / "home"))
            project = create_project(root / "project", name=project_name)
            train_file = write_jsonl(root / "train.jsonl", rows(8))
            config = TrainConfig(
                **tiny_lora_settings(
                    tiny_model_dir, train_file, max_steps=max_steps, name="Ticket router"
                )
            )
            result = run_training(project, config)
            assert result.status == "finished", result.reason
    finally:
        torch.set_num_threads(threads)
    return project, result.run_id
