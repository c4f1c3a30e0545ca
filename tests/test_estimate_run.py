"""The estimator takes the recipe: pre-flight, the Runs page, scale-out and the Train page
tell it the same run (issue 13: full fine-tuning was estimated with 2-byte weights on the
Train and Runs pages while the trainer keeps fp32 master weights), and nothing of the
recipe is copied into a second settings object (issue 20)."""

from __future__ import annotations

import re

import pytest

from core.estimate import estimate, find_gpu, load_architecture
from core.estimate.run import EstimateRun, run_for_recipe
from core.estimate.summary import DataSeen, summarize
from core.history.estimates import _settings_for
from core.methods import METHOD_NAMES
from core.recipe.config import TrainConfig
from core.scaleout.estimate_link import run_settings_for
from core.training.device import DevicePlan
from core.training.preflight import estimator_settings


def config(method: str, **changes) -> TrainConfig:
    settings = {
        "base_model": "Llama-3.1-8B",
        "train_file": "data/train.jsonl",
        "method": method,
        "precision": "bf16",
        "micro_batch_size": 2,
        "gradient_accumulation": 4,
        "max_seq_length": 1024,
        "epochs": 2.0,
    }
    settings.update(changes)
    return TrainConfig(**settings)


def cuda_plan(cfg: TrainConfig) -> DevicePlan:
    return DevicePlan("cuda", "bf16", "bfloat16", cfg.effective_optimizer("cuda"), "GPU 0, bf16")


class _Gpu:
    backend = "cuda"
    name = "NVIDIA GeForce RTX 4090"
    total_memory_bytes = 24 * 1024**3


class _Hardware:
    def __init__(self) -> None:
        self.gpus = [_Gpu()]


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_the_four_callers_build_the_same_settings(method):
    cfg = config(method)
    examples = 500
    expected = run_for_recipe(cfg, examples=examples)
    preflight = estimator_settings(cfg, cuda_plan(cfg), examples, 0)
    runs = _settings_for(
        cfg,
        {
            "precision": "bf16",
            "optimizer": cfg.effective_optimizer("cuda"),
            "data": {"n_train": 500},
        },
    )
    scaleout = run_settings_for(cfg, 1, "ddp", examples)
    for other in (preflight, runs, scaleout):
        assert same_run(other, expected)


def same_run(a: EstimateRun, b: EstimateRun) -> bool:
    """The same run for the estimator: "auto" resolved or written out makes no difference."""
    unresolved = {"optimizer": "auto", "precision": "auto"}
    return (a.precision, a.optimizer, a.data, a.cluster) == (
        b.precision,
        b.optimizer,
        b.data,
        b.cluster,
    ) and a.recipe.replace(**unresolved) == b.recipe.replace(**unresolved)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_the_train_page_shows_the_same_peak_as_preflight(method):
    cfg = config(method)
    facts = DataSeen(500, 300, "test data")
    summary = summarize(cfg, None, _Hardware(), facts)
    gpu = find_gpu("RTX 4090")
    settings = run_for_recipe(cfg, examples=500, avg_tokens=300)
    direct = estimate(load_architecture("Llama-3.1-8B"), settings, gpu)
    shown = float(re.search(r"Peak ([0-9.]+) GiB", summary.headline).group(1))
    assert shown == pytest.approx(direct.peak_gib, abs=0.05)


def test_full_fine_tuning_counts_fp32_master_weights_everywhere():
    # The trainer loads full fine-tuning in fp32 and autocasts (core.training.model_loading).
    cfg = config("full")
    summary = summarize(cfg, None, _Hardware(), DataSeen(None, None, "none"))
    shown = float(re.search(r"Peak ([0-9.]+) GiB", summary.headline).group(1))
    model = load_architecture("Llama-3.1-8B")
    # 8B weights in fp32 alone are about 30 GiB; the old 2-byte mapping showed far less.
    assert shown > model.total_params * 4 / 1024**3
    runs = _settings_for(cfg, {"precision": "bf16", "optimizer": "adamw_torch"})
    assert runs.precision == "bf16-mixed"


@pytest.mark.parametrize(
    ("method", "precision", "bf16", "expected"),
    [
        ("full", "bf16", True, "bf16-mixed"),
        ("full", "auto", True, "bf16-mixed"),
        ("full", "auto", False, "fp16"),
        ("lora", "auto", True, "bf16"),
        ("qlora", "fp16", True, "fp16"),
        ("lora", "fp32", True, "fp32"),
    ],
)
def test_precision_follows_what_the_trainer_loads(method, precision, bf16, expected):
    run = EstimateRun(TrainConfig(method=method, precision=precision), bf16_supported=bf16)
    assert run.precision == expected


def test_the_estimate_keeps_the_recipe_it_was_given():
    """No field is copied: the estimate's recipe is the recipe, "auto" choices included."""
    cfg = config("qlora", optimizer="auto", precision="auto", max_seq_length=300_000)
    result = estimate(load_architecture("Llama-3.1-8B"), EstimateRun(cfg), find_gpu("H200"))
    assert result.settings.recipe == cfg
    assert result.settings.optimizer == "paged_adamw_8bit"  # as the trainer picks on CUDA


def test_a_step_limit_sets_the_steps():
    """epochs 0 with a step limit is a valid recipe; the estimate trains for those steps."""
    cfg = config("lora", epochs=0, max_steps=40)
    result = estimate(load_architecture("Llama-3.1-8B"), EstimateRun(cfg), find_gpu("A100 80GB"))
    assert result.time.steps == 40


def test_unknown_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="precision: 'int3' is not one of: auto, bf16"):
        EstimateRun(TrainConfig(precision="int3"))
