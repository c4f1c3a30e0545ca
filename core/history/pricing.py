"""What an hour of a run's hardware costs, and so what the run cost and was estimated to cost.

The price comes from the estimator's GPU catalog (core.estimate, the user's own prices
included) for the GPU the run trained on; when the GPU is not in the catalog or the run
trained on the CPU, the project's own price per hour (set on the Spend tab) is used; without either the cost is unknown, never a made-up 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.estimate.gpus import gpu_catalog, match_gpu_name

CPU = "CPU"
_CUDA_NAME = re.compile(r"CUDA GPU \((?P<name>[^)]*)\)")


@dataclass(frozen=True)
class HourlyPrice:
    """The price of one hour of the hardware a run used, and where the figure came from."""

    per_hour: float | None
    source: str  # "catalog: H100 80GB", "project price", or "" when unknown
    hardware: str  # the GPU's catalog name, the driver's name, or CPU

    @property
    def known(self) -> bool:
        return self.per_hour is not None


def hardware_of(device_text: str) -> tuple[str, bool]:
    """(hardware name, is a GPU) from the device text core.training records, such as
    'CUDA GPU (NVIDIA H200), bf16', 'Apple GPU (MPS), fp32' or 'CPU (2 cores), fp32'."""
    match = _CUDA_NAME.search(device_text or "")
    if match:
        return match.group("name").strip(), True
    if "MPS" in (device_text or ""):
        return "Apple GPU", True
    return CPU, False


def gpu_catalog_or_none() -> dict | None:
    """The estimator's GPU catalog (name -> GpuSpec), or None when it cannot be read."""
    try:
        return gpu_catalog()
    except Exception:  # a broken user catalog must not break the Runs page
        return None


def _catalog_match(name: str, catalog: dict):
    try:
        return match_gpu_name(name, catalog)
    except Exception:
        return None


def hourly_price(
    device_text: str, catalog: dict | None, project_price: float | None
) -> HourlyPrice:
    """The price per hour of the hardware in `device_text`: the catalog's price for its GPU,
    else the project's price, else unknown."""
    hardware, is_gpu = hardware_of(device_text)
    if is_gpu and catalog:
        spec = _catalog_match(hardware, catalog)
        if spec is not None and spec.price_per_hour > 0:
            return HourlyPrice(float(spec.price_per_hour), f"catalog: {spec.name}", spec.name)
    if project_price is not None:
        return HourlyPrice(float(project_price), "project price", hardware)
    return HourlyPrice(None, "", hardware)


def cost_of(hours: float | None, price: HourlyPrice | None) -> float | None:
    """hours x price, or None when either is unknown (never a made-up 0)."""
    if hours is None or price is None or price.per_hour is None:
        return None
    return hours * price.per_hour
