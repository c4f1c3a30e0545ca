"""The GPU catalog, the user's prices and GPUs, and matching the detected card."""

import json

import pytest

from core.estimate import (
    GpuCatalogError,
    detected_gpu,
    find_gpu,
    gpu_catalog,
    remove_user_gpu,
    save_user_gpu,
)
from core.estimate.gpus import match_gpu_name, user_catalog_path
from core.hardware.detect import GpuInfo, HardwareInfo


def test_catalog_has_the_issue_gpus_with_sane_facts():
    catalog = gpu_catalog()
    for name in (
        "RTX 3090",
        "RTX 4090",
        "RTX 5090",
        "A10G",
        "L4",
        "A100 40GB",
        "A100 80GB",
        "H100 SXM",
        "H100 PCIe",
        "H200",
    ):
        spec = catalog[name]
        assert spec.memory_gib > 10 and spec.tflops > 50 and spec.price_per_hour > 0
    assert catalog["A100 80GB"].tflops == 312 and catalog["H100 SXM"].tflops == 989
    assert not catalog["T4"].bf16


def test_names_aliases_short_forms_and_driver_names():
    assert find_gpu("rtx 4090").name == "RTX 4090"
    assert find_gpu("4090").name == "RTX 4090"
    assert find_gpu("h200").name == "H200"
    with pytest.raises(GpuCatalogError, match="ambiguous: A100 40GB, A100 80GB"):
        find_gpu("A100")
    with pytest.raises(GpuCatalogError, match="unknown GPU 'TPU v5'"):
        find_gpu("TPU v5")
    assert match_gpu_name("NVIDIA GeForce RTX 4090").name == "RTX 4090"
    assert match_gpu_name("NVIDIA A100-SXM4-80GB").name == "A100 80GB"
    assert match_gpu_name("NVIDIA H100 80GB HBM3").name == "H100 SXM"
    assert match_gpu_name("Matrox G200") is None


def test_user_prices_and_gpus_are_saved_and_merged(studio_home):
    changed = save_user_gpu("RTX 4090", price_per_hour=0.0)
    assert changed.price_per_hour == 0.0 and changed.memory_gib == pytest.approx(23.99)
    assert changed.source == "user"
    added = save_user_gpu("MI300X", memory_gib=192, tflops=1307, price_per_hour=4.0)
    assert find_gpu("mi300x") == added
    stored = json.loads(user_catalog_path().read_text())
    assert stored["gpus"]["RTX 4090"] == {"price_per_hour": 0.0}
    assert str(user_catalog_path()).startswith(str(studio_home))
    remove_user_gpu("RTX 4090")
    assert find_gpu("RTX 4090").price_per_hour > 0 and find_gpu("RTX 4090").source == "catalog"


def test_bad_user_entries_are_refused_before_writing(studio_home):
    with pytest.raises(GpuCatalogError, match="memory_gib must be a positive number"):
        save_user_gpu("Broken", memory_gib=-1, tflops=10)
    with pytest.raises(GpuCatalogError, match="missing 'tflops'"):
        save_user_gpu("Half", memory_gib=10)
    assert not user_catalog_path().exists()
    user_catalog_path().write_text('{"gpus": {\n  "X": }')
    with pytest.raises(GpuCatalogError, match="line 2"):
        gpu_catalog()


def test_detected_gpu_keeps_its_real_memory():
    gib = 1024**3
    hardware = HardwareInfo(gpus=[GpuInfo(0, "NVIDIA GeForce RTX 4090", int(23.5 * gib))])
    spec = detected_gpu(hardware)
    assert spec.name == "RTX 4090" and spec.memory_gib == 23.5 and spec.source == "detected"
    unknown = detected_gpu(HardwareInfo(gpus=[GpuInfo(0, "NVIDIA Future 9000", 96 * gib)]))
    assert unknown.name == "NVIDIA Future 9000" and unknown.memory_gib == 96
    assert "guessed" in unknown.source
    assert detected_gpu(HardwareInfo()) is None
