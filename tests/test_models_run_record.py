"""A model downloaded from the (local, fake) Hub trains by its Hub id; the run record pins
the commit it trained on, and the exported card's base_model names the Hub id."""

from __future__ import annotations

import json
import shutil

import pytest
from fake_hub import COMMIT, FakeHub, FakeRepo

from core.export.exporter import ExportOptions, export_run
from core.models.download import download_model
from core.recipe.config import TrainConfig
from core.training.session import run_training


@pytest.fixture
def downloaded(tiny_model_dir, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    repo = tmp_path / "repo"
    shutil.copytree(tiny_model_dir, repo)
    server = FakeHub({"acme/tiny-chat": FakeRepo(repo)}).start()
    try:
        download_model("acme/tiny-chat", endpoint=server.endpoint, token="")
    finally:
        server.stop()  # training and export see the cache only
    return "acme/tiny-chat"


def test_a_run_on_a_hub_model_pins_its_revision_and_the_card_names_it(
    project, downloaded, tmp_path, one_torch_thread
):
    train = tmp_path / "train.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(4)
    ]
    train.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    config = TrainConfig(
        base_model=downloaded,
        train_file=str(train),
        validation_fraction=0.0,
        method="lora",
        epochs=1.0,
        micro_batch_size=4,
        max_seq_length=64,
        packing=False,
        preflight=False,
    )
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    record = json.loads((result.folder / "run.json").read_text())
    assert record["base_model"] == downloaded
    assert record["base_model_hub_id"] == downloaded
    assert record["base_model_revision"] == COMMIT
    assert f"snapshots/{COMMIT}" in record["base_model_path"]

    out = tmp_path / "export"
    export_run(project, result.run_id, ExportOptions(format="adapter", out_dir=str(out)))
    cards = list(out.rglob("README.md"))
    assert cards, list(out.rglob("*"))
    assert f'base_model: "{downloaded}"' in cards[0].read_text(encoding="utf-8")
