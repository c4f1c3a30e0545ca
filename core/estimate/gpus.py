"""The GPU catalog: memory, 16-bit throughput and a typical hourly price per GPU.

The shipped catalog (resources/catalog/gpus.json) is merged with the user's own file
(gpus.json in the config folder): a user entry with a shipped name changes only the
fields it gives (a price, say); a new name adds a GPU. Writes are atomic.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from core.app_dirs import config_dir
from core.atomic_file import write_text_atomic

USER_FILE_NAME = "gpus.json"
_FIELDS = ("memory_gib", "tflops", "bf16", "price_per_hour", "aliases")


class GpuCatalogError(ValueError):
    """A GPU name that is not known, or a user catalog entry that cannot be used."""


@dataclass(frozen=True)
class GpuSpec:
    name: str
    memory_gib: float
    tflops: float
    bf16: bool = True
    price_per_hour: float = 0.0
    aliases: tuple[str, ...] = field(default_factory=tuple)
    source: str = "catalog"  # catalog, user, or detected

    def __post_init__(self) -> None:
        problems = []
        for name in ("memory_gib", "tflops"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                problems.append(f"{name} must be a positive number, not {value!r}")
        price = self.price_per_hour
        if not isinstance(price, (int, float)) or not math.isfinite(price) or price < 0:
            problems.append(f"price_per_hour must be 0 or more, not {price!r}")
        if problems:
            raise GpuCatalogError(f"GPU {self.name!r}: " + "; ".join(problems))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        return data


@lru_cache(maxsize=1)
def _shipped() -> dict[str, dict]:
    """The shipped catalog (read once; callers copy entries before changing them)."""
    text = resources.files("resources").joinpath("catalog/gpus.json").read_text("utf-8")
    return json.loads(text)["gpus"]


def user_catalog_path() -> Path:
    return config_dir() / USER_FILE_NAME


def _user_entries() -> dict[str, dict]:
    path = user_catalog_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise GpuCatalogError(
            f"{path} line {error.lineno}: not valid JSON ({error.msg}); fix or delete the file"
        ) from None
    gpus = data.get("gpus") if isinstance(data, dict) else None
    if not isinstance(gpus, dict):
        raise GpuCatalogError(f'{path}: expected {{"gpus": {{"NAME": {{...}}}}}}')
    return gpus


def _spec(name: str, entry: dict, source: str) -> GpuSpec:
    unknown = set(entry) - set(_FIELDS)
    if unknown:
        raise GpuCatalogError(
            f"GPU {name!r}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(_FIELDS)}"
        )
    try:
        return GpuSpec(
            name=name,
            memory_gib=entry["memory_gib"],
            tflops=entry["tflops"],
            bf16=bool(entry.get("bf16", True)),
            price_per_hour=entry.get("price_per_hour", 0.0),
            aliases=tuple(entry.get("aliases", ())),
            source=source,
        )
    except KeyError as error:
        raise GpuCatalogError(f"GPU {name!r}: missing {error}") from None


def gpu_catalog() -> dict[str, GpuSpec]:
    """Name -> GpuSpec, the shipped catalog overlaid with the user's entries."""
    merged = {name: dict(entry) for name, entry in _shipped().items()}
    sources = dict.fromkeys(merged, "catalog")
    for name, entry in _user_entries().items():
        if not isinstance(entry, dict):
            raise GpuCatalogError(f"{user_catalog_path()}: entry {name!r} must be an object")
        merged[name] = {**merged.get(name, {}), **entry}
        sources[name] = "user"
    return {name: _spec(name, entry, sources[name]) for name, entry in merged.items()}


def find_gpu(name: str) -> GpuSpec:
    """A GPU by catalog name or alias (case-insensitive); GpuCatalogError if unknown."""
    catalog = gpu_catalog()
    wanted = name.strip().lower()
    for spec in catalog.values():
        if spec.name.lower() == wanted or wanted in (alias.lower() for alias in spec.aliases):
            return spec
    match = match_gpu_name(name, catalog)
    if match is not None:
        return match
    # A short form such as "4090" or "h200": accept it when it names one GPU only.
    partial = [
        spec
        for spec in catalog.values()
        if wanted and any(wanted in text.lower() for text in (spec.name, *spec.aliases))
    ]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        raise GpuCatalogError(
            f"GPU '{name}' is ambiguous: {', '.join(spec.name for spec in partial)}"
        )
    raise GpuCatalogError(
        f"unknown GPU '{name}'. Known: {', '.join(catalog)}; add yours to {user_catalog_path()}"
    )


def match_gpu_name(reported: str, catalog: dict[str, GpuSpec] | None = None) -> GpuSpec | None:
    """The catalog GPU whose alias appears in a driver-reported name such as
    'NVIDIA GeForce RTX 4090'; the longest alias wins (so 'A100 80GB' beats 'A100')."""
    catalog = catalog if catalog is not None else gpu_catalog()
    text = reported.lower()
    best: tuple[int, GpuSpec] | None = None
    for spec in catalog.values():
        for alias in (spec.name, *spec.aliases):
            if alias.lower() in text and (best is None or len(alias) > best[0]):
                best = (len(alias), spec)
    return best[1] if best else None


def detected_gpu(hardware) -> GpuSpec | None:
    """The first detected CUDA GPU as a GpuSpec, or None without one.

    `hardware` is core.hardware.HardwareInfo. A GPU missing from the catalog keeps its real
    memory and gets a throughput guess from its memory class, said in its name's source.
    """
    gpus = [gpu for gpu in getattr(hardware, "gpus", []) if gpu.backend == "cuda"]
    if not gpus:
        return None
    first = gpus[0]
    memory = first.total_memory_bytes / 1024**3
    known = match_gpu_name(first.name)
    if known is not None:
        return GpuSpec(
            name=known.name,
            memory_gib=round(memory, 2),
            tflops=known.tflops,
            bf16=known.bf16,
            price_per_hour=known.price_per_hour,
            aliases=known.aliases,
            source="detected",
        )
    return GpuSpec(
        name=first.name,
        memory_gib=round(memory, 2),
        tflops=100.0,  # unknown card: a mid-range guess, shown as an assumption
        bf16=bool(getattr(first, "supports_bf16", True)),
        price_per_hour=0.0,
        source="detected (not in the catalog: throughput guessed)",
    )


def save_user_gpu(name: str, **fields) -> GpuSpec:
    """Add or change a GPU in the user's catalog (only the given fields); returns the result."""
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise GpuCatalogError(f"unknown field(s): {', '.join(sorted(unknown))}")
    name = name.strip()
    if not name:
        raise GpuCatalogError("a GPU needs a name")
    entries = _user_entries()
    entry = {**entries.get(name, {}), **fields}
    if "aliases" in entry:
        entry["aliases"] = list(entry["aliases"])
    shipped = _shipped().get(name, {})
    _spec(name, {**shipped, **entry}, "user")  # validate before writing anything
    entries[name] = entry
    write_text_atomic(
        user_catalog_path(), json.dumps({"gpus": entries}, indent=2, sort_keys=True) + "\n"
    )
    return gpu_catalog()[name]


def remove_user_gpu(name: str) -> None:
    """Forget the user's entry (a shipped GPU goes back to its shipped values)."""
    entries = _user_entries()
    if entries.pop(name, None) is not None:
        write_text_atomic(
            user_catalog_path(), json.dumps({"gpus": entries}, indent=2, sort_keys=True) + "\n"
        )
