"""Downloading a Hub model: from a real HTTP server on 127.0.0.1 that answers as the Hub
does, into a private Hugging Face cache, while this test process itself stays offline."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections import namedtuple
from pathlib import Path

import pytest
from fake_hub import COMMIT, FakeHub, FakeRepo

from core.models.download import DownloadCancelled, DownloadError, download_model
from core.models.hub_cache import cached_model, cached_models, repo_folder
from core.models.inventory import available_models
from core.models.model_facts import human_size
from core.models.registry import resolve_model

LICENSE_README = "---\nlicense: apache-2.0\nlanguage: en\n---\n# Tiny\nA tiny random model.\n"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return cache


@pytest.fixture
def tiny_repo(tiny_model_dir, tmp_path) -> Path:
    folder = tmp_path / "repo"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "README.md").write_text(LICENSE_README, encoding="utf-8")
    return folder


@pytest.fixture
def hub(tiny_repo):
    server = FakeHub({"acme/tiny": FakeRepo(tiny_repo)}).start()
    yield server
    server.stop()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_fills_the_cache_and_the_picker_lists_it(hub, hub_cache, tiny_repo):
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # the app's own process stays offline
    seen = []
    result = download_model(
        "acme/tiny",
        endpoint=hub.endpoint,
        token="",
        progress=lambda fraction, message: seen.append((fraction, message)),
    )
    assert result.revision == COMMIT
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md"):
        assert sha256(result.path / name) == sha256(tiny_repo / name)
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("model.safetensors" in message for _, message in seen)

    cached = cached_model("acme/tiny")
    assert cached is not None and cached.revision == COMMIT and "main" in cached.refs
    entry = next(e for e in available_models(None) if e.model.name == "acme/tiny")
    assert entry.source_text == "Hugging Face cache"
    assert entry.facts.architecture == "LlamaForCausalLM"
    assert entry.facts.license == "apache-2.0"
    assert entry.facts.safetensors and entry.facts.weights_text == "safetensors"
    assert entry.facts.size_bytes == sum(p.stat().st_size for p in tiny_repo.iterdir())

    hub.requests.clear()
    again = download_model("acme/tiny", endpoint=hub.endpoint, token="")
    assert again.path == result.path
    assert not [path for method, path, _ in hub.requests if method == "GET" and "/resolve/" in path]

    base = resolve_model("acme/tiny")  # what a Train run records
    assert (base.source, base.hub_id, base.revision) == ("hub", "acme/tiny", COMMIT)


def test_a_gated_model_asks_for_a_token_then_downloads_with_it(tiny_repo, hub_cache):
    server = FakeHub({"acme/gated": FakeRepo(tiny_repo, gated_token="hf_secret")}).start()
    try:
        with pytest.raises(DownloadError) as refused:
            download_model("acme/gated", endpoint=server.endpoint, token="")
        assert refused.value.kind == "gated"
        message = str(refused.value)
        assert "gated" in message and "token" in message and "\n" not in message
        assert cached_models() == []

        with pytest.raises(DownloadError, match="this token has no access"):
            download_model("acme/gated", endpoint=server.endpoint, token="hf_wrong")

        result = download_model("acme/gated", endpoint=server.endpoint, token="hf_secret")
        assert (result.path / "model.safetensors").is_file()
    finally:
        server.stop()


def test_the_token_comes_from_the_usual_hf_place(hub_cache, tiny_repo, monkeypatch):
    server = FakeHub({"acme/gated": FakeRepo(tiny_repo, gated_token="hf_from_env")}).start()
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    try:
        result = download_model("acme/gated", endpoint=server.endpoint)
    finally:
        server.stop()
    assert result.revision == COMMIT


def test_cancel_keeps_the_partial_file_and_the_next_download_continues_it(
    hub, hub_cache, tiny_repo
):
    weights = tiny_repo / "model.safetensors"
    size = weights.stat().st_size
    hub.bytes_per_second = 150_000  # about 3 s for the weights: time to cancel in the middle
    state = {"cancel": False}

    def progress(fraction, message):
        if message.startswith("model.safetensors") and fraction > 0.2:
            state["cancel"] = True

    with pytest.raises(DownloadCancelled, match="continues"):
        download_model(
            "acme/tiny",
            endpoint=hub.endpoint,
            token="",
            progress=progress,
            cancelled=lambda: state["cancel"],
        )
    partials = list((repo_folder("acme/tiny") / "blobs").glob("*.incomplete"))
    assert len(partials) == 1
    kept = partials[0].stat().st_size
    assert 0 < kept < size
    assert cached_model("acme/tiny") is None  # not listed until complete

    # The server notices the killed client on its next write; wait for that first answer
    # to be recorded so it is not counted as part of the second download.
    deadline = time.monotonic() + 30
    while not any(b[0] == "model.safetensors" for b in hub.bodies):
        assert time.monotonic() < deadline, "the server never finished the cancelled answer"
        time.sleep(0.05)
    hub.bytes_per_second = None
    hub.bodies.clear()
    result = download_model("acme/tiny", endpoint=hub.endpoint, token="")
    # Only the missing tail of the weights crossed the wire the second time.
    assert [b for b in hub.bodies if b[0] == "model.safetensors"] == [
        ("model.safetensors", kept, size - kept)
    ]
    assert {b[0] for b in hub.bodies} == {
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    assert sha256(result.path / "model.safetensors") == sha256(weights)
    assert not list((repo_folder("acme/tiny") / "blobs").glob("*.incomplete"))


def test_not_enough_disk_space_stops_before_any_file_is_fetched(
    hub, hub_cache, tiny_repo, monkeypatch
):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5000, 5000))
    with pytest.raises(DownloadError) as refused:
        download_model("acme/tiny", endpoint=hub.endpoint, token="")
    assert refused.value.kind == "disk"
    assert "Not enough disk space for acme/tiny" in str(refused.value)
    needed = human_size(sum(p.stat().st_size for p in tiny_repo.iterdir()))
    assert f"it needs {needed} and" in str(refused.value) and "has 5.0 KB free" in str(
        refused.value
    )
    assert not [path for _, path, _ in hub.requests if "/resolve/" in path]


def test_an_unknown_repo_and_a_malformed_id_say_what_to_do(hub, hub_cache):
    with pytest.raises(
        DownloadError, match=re.escape(f"was not found on {hub.endpoint}")
    ) as missing:
        download_model("acme/nothing-here", endpoint=hub.endpoint, token="")
    assert missing.value.kind == "not_found"
    with pytest.raises(DownloadError, match="org/name"):
        download_model("just a name", endpoint=hub.endpoint, token="")
    assert not [path for _, path, _ in hub.requests if "just" in path]


def test_an_unreachable_hub_is_a_clear_error(hub_cache):
    with pytest.raises(
        DownloadError, match=re.escape("Cannot reach http://127.0.0.1:9 (")
    ) as error:
        download_model("acme/tiny", endpoint="http://127.0.0.1:9", token="")
    assert error.value.kind == "connection"
