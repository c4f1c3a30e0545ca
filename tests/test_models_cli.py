"""`models list|download`, `estimate --model ORG/NAME`, and the exported card's base_model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_hub import COMMIT, FakeHub, FakeRepo

from core.export.card import CardFacts, _front_matter, card_base_model
from core.export.source import ExportSource
from desktop.launcher import main

LLAMA_31_8B_INSTRUCT = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
INSTRUCT = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return cache


@pytest.fixture
def hub(tiny_model_dir, tmp_path, monkeypatch):
    tiny = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, tiny)
    (tiny / "README.md").write_text("---\nlicense: mit\n---\n", encoding="utf-8")
    llama = tmp_path / "llama"  # a config-only stand-in: the estimator needs nothing else
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps(LLAMA_31_8B_INSTRUCT), encoding="utf-8")
    (llama / "model-00001-of-00004.safetensors").write_bytes(b"\0" * 4096)
    server = FakeHub(
        {"acme/tiny": FakeRepo(tiny), INSTRUCT: FakeRepo(llama, gated_token="hf_llama")}
    ).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)  # what a user with a mirror sets
    yield server
    server.stop()


def test_models_download_shows_progress_and_list_shows_the_cache(hub, hub_cache, capsys):
    assert main(["models", "download", "acme/tiny"]) == 0
    out, err = capsys.readouterr()
    assert f"acme/tiny at revision {COMMIT}" in out
    assert "100% done" in err and "model.safetensors" in err

    assert main(["models", "list"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:6] == ["NAME", "SOURCE", "SIZE", "ARCHITECTURE", "LICENSE", "WEIGHTS"]
    tiny = next(row for row in rows if row[0] == "acme/tiny")
    assert tiny[1:2] + tiny[3:6] == ["Hugging Face cache", "LlamaForCausalLM", "mit", "safetensors"]
    assert tiny[6].endswith(f"snapshots/{COMMIT}")


def test_models_download_of_a_gated_model_says_to_give_a_token(hub, hub_cache, capsys):
    assert main(["models", "download", INSTRUCT]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {INSTRUCT} is gated") and "HF_TOKEN" in errors[0]


def test_estimate_a_hub_id_not_in_the_cache_says_how_to_get_it(hub_cache, capsys):
    assert main(["estimate", "--model", INSTRUCT, "--gpu", "RTX 4090"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--fetch-config" in err and "Llama-3.1-8B" in err and "not in the Hugging Face" in err


def test_estimate_reads_a_cached_config_offline(hub, hub_cache, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_llama")
    # What the picker or --fetch-config leaves in the cache: config.json alone.
    assert main(["estimate", "--model", INSTRUCT, "--gpu", "RTX 4090", "--fetch-config"]) == 0
    capsys.readouterr()
    assert [p for m, p, r in hub.requests if "/resolve/" in p and m == "GET"] == [
        f"/{INSTRUCT}/resolve/{COMMIT}/config.json"
    ]
    hub.stop()  # from here on, only the cache
    assert main(["estimate", "--model", INSTRUCT, "--gpu", "RTX 4090", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == INSTRUCT and data["model_params"] == pytest.approx(8.03e9, rel=0.01)
    assert main(["estimate", "--model", "Llama-3.1-8B", "--gpu", "RTX 4090", "--json"]) == 0
    catalog = json.loads(capsys.readouterr().out)
    # The same architecture as the catalog's base 8B: the same estimate.
    assert (data["method"], data["peak_gb"]) == (catalog["method"], catalog["peak_gb"])


def test_estimate_knows_catalog_hub_ids_without_any_file(hub_cache, capsys):
    assert main(["estimate", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "RTX 4090"]) == 0
    assert "Llama-3.1-8B" in capsys.readouterr().out


def _source(base_model: str, run_json: dict) -> ExportSource:
    run = SimpleNamespace(base_model=base_model, method="lora", run_id="r1")
    return ExportSource(run, Path("."), Path("."), {}, run_json, "")


def test_the_card_names_the_hub_id_the_run_recorded():
    source = _source("acme/tiny", {"base_model_hub_id": "acme/tiny", "base_model_revision": COMMIT})
    assert card_base_model(source) == "acme/tiny"
    assert 'base_model: "acme/tiny"' in _front_matter(source, CardFacts("adapter"))
    bundled = _source("SmolLM2-135M-Instruct", {})
    assert card_base_model(bundled) == "HuggingFaceTB/SmolLM2-135M-Instruct"
    folder = _source("my-folder-model", {"base_model_hub_id": None})
    assert card_base_model(folder) == "my-folder-model"


def test_models_list_shows_a_project_folder(project, tiny_model_dir, hub_cache, capsys):
    from core.models.registry import add_local_model

    add_local_model(project, tiny_model_dir, name="tiny")
    assert main(["models", "list", "--project", str(project.folder)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    tiny = next(row for row in rows if row[0] == "tiny")
    assert tiny[1] == "project folder" and tiny[3] == "LlamaForCausalLM"
    assert tiny[6] == str(tiny_model_dir.resolve())
