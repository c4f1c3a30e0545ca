"""What the picker lists, read from local files only: project folders, the HF cache, facts."""

from __future__ import annotations

import json
import shutil

from core.models.hub_cache import cached_config, cached_models, looks_like_hub_id
from core.models.inventory import available_models
from core.models.model_facts import model_facts
from core.models.registry import add_local_model


def test_a_project_folder_is_listed_with_its_facts(project, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache-here"))
    add_local_model(project, tiny_model_dir, name="tiny")
    entries = {e.model.name: e for e in available_models(project)}
    assert entries["tiny"].source_text == "project folder"
    assert entries["tiny"].facts.architecture == "LlamaForCausalLM"
    assert entries["tiny"].facts.model_type == "llama"
    assert entries["tiny"].facts.license == ""  # no README, no config license: unknown
    assert cached_models() == []  # a missing cache is an empty one, not an error


def test_pickle_weights_and_a_config_license_are_reported(tiny_model_dir, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "license": "llama3.1"}))
    facts = model_facts(folder)
    assert not facts.safetensors and facts.pickle_weights
    assert facts.weights_text == "pickle .bin (can run code)"
    assert facts.license == "llama3.1"


def test_readme_license_other_uses_its_name(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "README.md").write_text("---\nlicense: other\nlicense_name: gemma\n---\nHi")
    assert model_facts(tmp_path).license == "gemma"


def test_a_config_only_fetch_is_found_for_the_estimator_but_not_listed(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    snapshot = cache / "models--acme--big" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"model_type": "llama"}')
    (cache / "models--acme--big" / "refs").mkdir()
    (cache / "models--acme--big" / "refs" / "main").write_text("a" * 40)
    assert cached_config("acme/big") == snapshot / "config.json"
    assert cached_models() == []  # no weights: nothing to train on


def test_hub_ids_are_told_apart_from_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert looks_like_hub_id("meta-llama/Llama-3.1-8B-Instruct")
    (tmp_path / "runs" / "x").mkdir(parents=True)
    assert not looks_like_hub_id("runs/x")  # an existing folder wins
    assert not looks_like_hub_id("plain-name") and not looks_like_hub_id("/abs/path/x")
