"""The catalog of popular architectures (config facts only, shipped in resources/catalog)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def model_catalog() -> dict[str, dict]:
    """Name -> config facts (hidden_size, layers, heads, vocab, experts, ...)."""
    text = resources.files("resources").joinpath("catalog/models.json").read_text("utf-8")
    return json.loads(text)["models"]


def catalog_model(name: str) -> dict:
    catalog = model_catalog()
    lowered = {key.lower(): key for key in catalog}
    key = lowered.get(name.lower())
    if key is None:
        raise KeyError(
            f"Unknown model '{name}'. Known: {', '.join(sorted(catalog))}; or give a local "
            "folder or a config.json path."
        )
    return catalog[key]


def catalog_name_for_hub_id(hub_id: str) -> str | None:
    """The catalog entry whose `hf_id` is this Hub id (case-insensitive), if any."""
    wanted = hub_id.strip().lower()
    for name, facts in model_catalog().items():
        if str(facts.get("hf_id", "")).lower() == wanted:
            return name
    return None


def catalog_relative_of(hub_id: str) -> str | None:
    """A catalog entry of the same family, e.g. Llama-3.1-8B for .../Llama-3.1-8B-Instruct:
    instruct and base versions share one architecture."""
    tail = hub_id.strip().lower().rsplit("/", 1)[-1]
    for suffix in ("-instruct", "-chat", "-it", "-hf"):
        tail = tail.removesuffix(suffix)
    best = None
    for name, facts in model_catalog().items():
        other = str(facts.get("hf_id", "")).lower().rsplit("/", 1)[-1]
        for suffix in ("-instruct", "-chat", "-it", "-hf"):
            other = other.removesuffix(suffix)
        if other == tail or name.lower() == tail:
            best = name
    return best
