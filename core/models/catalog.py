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
