"""A Hub model's config.json for the estimator: from the catalog, the Hugging Face cache,
or fetched alone (a few KB) when the user asked for it; never the network otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.models.catalog import catalog_name_for_hub_id, catalog_relative_of
from core.models.download import DownloadError, download_model
from core.models.hub_cache import cached_config, hub_cache_dir


class HubConfigMissing(Exception):
    """The config is not on this machine and fetching it was not asked for (or failed)."""


def hub_model_config(
    hub_id: str,
    fetch: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> str | Path:
    """A catalog name or a config.json path the estimator can read for `hub_id`."""
    known = catalog_name_for_hub_id(hub_id)
    if known is not None:
        return known
    cached = cached_config(hub_id)
    if cached is not None:
        return cached
    if fetch:
        try:
            result = download_model(hub_id, files=["config.json"], progress=progress)
        except DownloadError as error:
            raise HubConfigMissing(str(error)) from None
        return result.path / "config.json"
    relative = catalog_relative_of(hub_id)
    hint = f", or use the catalog's '{relative}' (same architecture)" if relative else ""
    raise HubConfigMissing(
        f"{hub_id}: its config.json is not in the Hugging Face cache ({hub_cache_dir()}) and "
        f"the app stays offline unless asked; run again with --fetch-config to download only "
        f"that file (a few KB){hint}."
    )
