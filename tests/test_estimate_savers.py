"""The estimate's memory-saver pick and the longest context that fits (issue 18).

"auto" savers are turned on only when the run does not fit its GPU, cheapest first, each
with its reason; the trainer takes the same pick before a CUDA run (and turns them off on
the CPU); `max_seq_length_that_fits` per method in `estimate --json`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.estimate import EstimateRun, architecture_from_config, estimate, find_gpu
from core.estimate.capacity import max_seq_length_per_method, max_seq_length_that_fits
from core.estimate.estimator import estimate_as_given
from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
from core.training.memory_savers import resolve_auto_savers

ARCHITECTURES = Path(__file__).parent / "data" / "architectures"
SAVERS_OFF = {"frozen_16bit": "off", "offload_activations": "off", "tiled_mlp": "off"}


def llama31() -> tuple[dict, object]:
    config = json.loads((ARCHITECTURES / "llama-3.1-8b.json").read_text(encoding="utf-8"))
    return config, architecture_from_config(config, "llama-3.1-8b")


def qlora(seq: int, **changes) -> TrainConfig:
    return TrainConfig(method="qlora", micro_batch_size=1, max_seq_length=seq, **changes)


def test_a_run_that_fits_turns_no_saver_on():
    _config, arch = llama31()
    result = estimate(arch, EstimateRun(qlora(2048)), find_gpu("RTX 4090"))
    assert result.fits and result.savers_turned_on == ()
    assert result.estimated_run.recipe.frozen_16bit == "off"
    assert result.estimated_run.recipe.lora_dropout == 0.05
    assert result.settings.recipe.frozen_16bit == "auto"  # the recipe as asked, for Train


def test_long_context_turns_savers_on_cheapest_first_with_reasons():
    _config, arch = llama31()
    gpu = find_gpu("RTX 4090")
    without = estimate_as_given(arch, EstimateRun(qlora(65536)), gpu)
    assert not without.fits  # today's stack needs far more than 24 GB at 64k
    result = estimate(arch, EstimateRun(qlora(65536)), gpu)
    assert result.fits  # the goal: Llama-3.1-8B QLoRA trains 64k on a 24 GB card
    titles = [reason.split(" saves ")[0] for reason in result.savers_turned_on]
    assert titles == [
        "16-bit frozen parts",
        "LoRA dropout 0",
        "activation offloading",
        "tiled MLP",
    ]
    assert all("GiB" in reason for reason in result.savers_turned_on)
    assert result.memory.offloaded_gib > 10  # 32 layers x 64k x 4096 x 2 bytes = 16 GiB
    data = result.as_dict()
    assert data["memory_savers"]["tiled_mlp"] == "on"
    assert data["offloaded_cpu_ram_gb"] == pytest.approx(result.memory.offloaded_gib, abs=0.01)


def test_the_pick_stops_at_the_first_saver_that_is_enough():
    _config, arch = llama31()
    gpu = find_gpu("RTX 4090")
    # Find a length where 16-bit frozen parts alone are enough.
    for seq in (8192, 12288, 16384):
        result = estimate(arch, EstimateRun(qlora(seq)), gpu)
        if len(result.savers_turned_on) == 1:
            assert result.savers_turned_on[0].startswith("16-bit frozen parts")
            assert result.estimated_run.recipe.offload_activations == "off"
            return
    pytest.fail("no length needed exactly one saver")


def test_savers_set_off_are_respected():
    _config, arch = llama31()
    result = estimate(arch, EstimateRun(qlora(65536, **SAVERS_OFF)), find_gpu("RTX 4090"))
    assert not result.fits and result.savers_turned_on == ()
    assert result.estimated_run.recipe.lora_dropout == 0.05  # pinned savers: dropout kept


def test_longest_context_per_method_grows_with_the_savers():
    _config, arch = llama31()
    gpu = find_gpu("RTX 4090")
    lengths = max_seq_length_per_method(arch, EstimateRun(qlora(2048)), gpu)
    assert set(lengths) >= {"full", "lora", "qlora"}
    assert lengths["full"] == 0  # an 8B model's full fine-tuning never fits 24 GB
    assert lengths["qlora"] >= 65536 > lengths["lora"] > 0
    pinned = max_seq_length_that_fits(arch, EstimateRun(qlora(2048, **SAVERS_OFF)), gpu)
    assert 0 < pinned < lengths["qlora"] / 4
    assert lengths["qlora"] % 256 == 0
    fits = estimate(arch, EstimateRun(qlora(lengths["qlora"])), gpu)
    over = estimate(arch, EstimateRun(qlora(lengths["qlora"] + 256)), gpu)
    assert fits.fits and not over.fits


def _model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "llama-3.1-8b"
    folder.mkdir(parents=True)
    shutil.copy(ARCHITECTURES / "llama-3.1-8b.json", folder / "config.json")
    return folder


def test_the_trainer_takes_the_pick_on_a_cuda_gpu(tmp_path):
    plan = DevicePlan("cuda", "bf16", "bfloat16", "paged_adamw_8bit", "RTX 4090")
    config, notes = resolve_auto_savers(
        qlora(65536), plan, _model_folder(tmp_path), gpu=find_gpu("RTX 4090")
    )
    assert (config.frozen_16bit, config.offload_activations, config.tiled_mlp) == ("on",) * 3
    assert config.lora_dropout == 0
    assert any("activation offloading saves" in note for note in notes)
    assert any("GiB of CPU RAM" in note for note in notes)
    short, notes = resolve_auto_savers(
        qlora(1024), plan, _model_folder(tmp_path / "b"), gpu=find_gpu("RTX 4090")
    )
    assert (short.frozen_16bit, short.offload_activations, short.tiled_mlp) == ("off",) * 3
    assert notes == []


def test_on_the_cpu_auto_means_off(tmp_path):
    plan = DevicePlan("cpu", "fp32", "float32", "adamw_torch", "CPU")
    config, notes = resolve_auto_savers(qlora(65536), plan, tmp_path)
    assert (config.frozen_16bit, config.offload_activations, config.tiled_mlp) == ("off",) * 3
    assert config.lora_dropout == 0.05 and notes == []


def test_estimate_json_has_the_longest_context_and_the_saver_flags(capsys):
    from desktop.launcher import main  # the installed command's entry point

    args = ["estimate", "--model", "Llama-3.1-8B", "--gpu", "RTX 4090", "--method", "qlora"]
    args += ["--batch", "1", "--seq-len", "65536", "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["max_seq_length_that_fits"]["qlora"] >= 65536
    assert data["fits"] and len(data["memory_savers_turned_on"]) == 4
    assert main([*args, "--offload-activations", "off", "--tiled-mlp", "off"]) == 0
    pinned = json.loads(capsys.readouterr().out)
    assert not pinned["fits"]
    assert pinned["memory_savers"]["offload_activations"] == "off"
    assert pinned["max_seq_length_that_fits"]["qlora"] < 65536
    with pytest.raises(SystemExit) as bad:  # argparse names the choices, exit 2
        main([*args[:-1], "--frozen-16bit", "sometimes"])
    assert bad.value.code == 2


def test_the_estimate_page_shows_the_longest_context_and_why_savers_are_on(qtbot, project):
    from core.hardware.detect import HardwareInfo
    from desktop.context import AppContext
    from desktop.estimate.page import EstimatePage

    page = EstimatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.show()
    label = page.results.capacity_label
    assert label.isVisible() and "Longest context on RTX 4090" in label.text()
    assert "Memory savers" not in label.text()  # the guide's default run fits as it is
    page.form.recipe.set_values({"micro_batch_size": 1, "max_seq_length": 65536})
    assert page.recommendation.chosen.fits
    assert "Memory savers turned on to fit: 16-bit frozen parts saves" in label.text()
    assert "tiled MLP saves" in label.text()
    page.form.recipe.set_values({"tiled_mlp": "off", "offload_activations": "off"})
    assert not page.recommendation.chosen.fits
    assert "not enough to fit" in label.text()


def test_the_train_page_summary_says_which_savers_and_their_cpu_ram():
    from core.estimate.summary import DataSeen, summarize
    from core.hardware.detect import GpuInfo, HardwareInfo

    hardware = HardwareInfo(cpu_cores=2, gpus=[GpuInfo(0, "NVIDIA GeForce RTX 4090", 24 * 1024**3)])
    config = qlora(65536, base_model="Llama-3.1-8B", train_file="t.jsonl")
    facts = DataSeen(500, 300, "test data")
    summary = summarize(config, None, hardware, facts, ram=(64 * 1024**3, 64 * 1024**3))
    assert summary.fits
    text = "\n".join(summary.details)
    assert "Memory saver turned on: activation offloading saves" in text
    assert "Activation offloading holds about" in text and "64.0 GiB free" in text
    small = summarize(config, None, hardware, facts, ram=(8 * 1024**3, 16 * 1024**3))
    assert "more than this machine can spare" in "\n".join(small.details)


def test_a_model_the_estimator_cannot_read_leaves_the_savers_off(tmp_path):
    plan = DevicePlan("cuda", "bf16", "bfloat16", "paged_adamw_8bit", "RTX 4090")
    (tmp_path / "config.json").write_text('{"model_type": "unheard_of"}', encoding="utf-8")
    config, notes = resolve_auto_savers(qlora(65536), plan, tmp_path, gpu=find_gpu("RTX 4090"))
    assert (config.frozen_16bit, config.offload_activations, config.tiled_mlp) == ("off",) * 3
    assert len(notes) == 1 and notes[0].startswith("memory savers left off: no estimate")
