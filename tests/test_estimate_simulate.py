"""The analytic estimator against our real training step run on a simulated GPU (issue 14).

Each case builds the model from a real published config.json (tests/data/architectures,
no weights) with core.training's own loading and SFTTrainer, runs two optimizer steps
over FakeTensors on a pretend CUDA GPU and counts every live tensor: the
max_memory_allocated() of that step. The estimator must agree within 10 %.

Affordable on two cores: each model keeps its real widths, vocabulary, heads and experts
but only 2 decoder layers (the estimator is given the same 2-layer config, so both
describe the same model), with micro batch 2 x 512 tokens. All cases run in one worker
process (the fake GPU cannot be undone), about 2-4 s each.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from core.estimate import architecture_from_config, estimate, find_gpu
from core.estimate.run import run_for_recipe
from core.recipe.config import TrainConfig
from core.recipe.vocabularies import PROJECTION_MODULES
from core.training.simulate import SimulatedPeak, simulate_peaks, simulation_unavailable

REASON = simulation_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no simulation here: {REASON}")

ARCHITECTURES = Path(__file__).parent / "data" / "architectures"
LAYERS = 2
TOLERANCE = 0.10
# The module names LoRA targets in families whose layers are not called q_proj ... down_proj.
TARGETS = {
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "gpt_bigcode": ["c_attn", "c_proj", "c_fc"],
    # Mixtral's expert MLPs are fused parameters, its only linear layers are attention's.
    "mixtral": ["q_proj", "k_proj", "v_proj", "o_proj"],
}
ALL_LINEAR = {"lora_target_modules": ["all-linear"]}

# (architecture, method, changes to the run). Every architecture appears; full, LoRA,
# QLoRA and 8-bit LoRA; GQA (Llama 3, Mistral, Qwen2, Gemma), MQA (Gemma 1, StarCoder),
# MoE (Mixtral, Qwen-MoE); the base case keeps every activation (checkpointing off, where
# the estimator has the most to get right), so checkpointing on, packing off, accumulation
# and a deeper model ("layers") are variations.
CASES = [
    ("llama-3.2-1b", "lora", {}),
    ("llama-3.2-1b", "qlora", {}),
    ("llama-3.2-1b", "full", {}),
    ("llama-3.2-1b", "lora", {"gradient_checkpointing": True}),
    ("llama-3.2-1b", "qlora", {"gradient_checkpointing": True}),
    ("llama-3.2-1b", "qlora", {"layers": 8}),
    ("llama-3.2-1b", "lora", {"gradient_accumulation": 2}),
    ("llama-3.1-8b", "lora", {}),
    ("llama-3.1-8b", "qlora", {}),
    ("llama-3.1-8b", "full", {}),
    ("llama-2-7b", "qlora", {}),
    ("llama-2-7b", "lora8bit", {}),
    ("smollm2-135m", "lora", {}),
    ("smollm2-135m", "qlora", {}),
    ("mistral-7b-v0.3", "qlora", {}),
    ("mistral-7b-v0.3", "full", {}),
    ("mistral-7b-v0.3", "lora", {"packing": False}),
    ("qwen2.5-0.5b", "qlora", {}),
    ("qwen2.5-0.5b", "full", {}),
    ("qwen2.5-0.5b", "full", {"gradient_checkpointing": True}),
    ("qwen2.5-7b", "lora", {}),
    ("qwen2.5-7b", "qlora", {}),
    ("gemma-2b", "lora", {}),
    ("gemma-2b", "full", {}),
    ("gemma-2-2b", "qlora", {}),
    ("phi-2", "lora8bit", {}),
    ("phi-2", "full", {}),
    ("phi-3-mini-4k", "qlora", {}),
    ("phi-3-mini-4k", "full", {}),
    ("starcoderbase-1b", "lora", {}),
    ("starcoderbase-1b", "full", {}),
    # MoE is checked with LoRA only: transformers 5 keeps each layer's experts as one 3-D
    # parameter that bitsandbytes does not quantize and whose grouped matmul takes bf16
    # only, so QLoRA and fp32-master full fine-tuning of these models fail in the simulated
    # step before any memory question arises (see the report of issue 14).
    ("mixtral-8x7b", "lora", {}),
    ("qwen1.5-moe-a2.7b", "lora", {}),
    # all-linear on an MoE also adapts the experts (target_parameters): PEFT merges each
    # layer's expert weights with their adapters in every step.
    ("mixtral-8x7b", "lora", ALL_LINEAR),
    ("mixtral-8x7b", "lora", {**ALL_LINEAR, "gradient_checkpointing": True}),
    ("qwen1.5-moe-a2.7b", "lora", ALL_LINEAR),
]


def model_config(name: str, layers: int = LAYERS) -> dict:
    config = json.loads((ARCHITECTURES / f"{name}.json").read_text(encoding="utf-8"))
    for key in ("num_hidden_layers", "n_layer"):
        if key in config:
            config[key] = layers
    return config


def train_config(config: dict, method: str, changes: dict) -> TrainConfig:
    settings = {
        "base_model": "simulated",
        "train_file": "simulated.jsonl",
        "method": method,
        "precision": "bf16",
        "micro_batch_size": 2,
        "gradient_accumulation": 1,
        "max_seq_length": 512,
        "gradient_checkpointing": False,
        "optimizer": "adamw_torch",
        "lora_target_modules": TARGETS.get(config["model_type"], list(PROJECTION_MODULES)),
    }
    settings.update({key: value for key, value in changes.items() if key != "layers"})
    return TrainConfig(**settings)


def case_id(case) -> str:
    name, method, changes = case
    extra = ",".join(f"{key}={value}" for key, value in changes.items())
    return f"{name}-{method}" + (f"-{extra}" if extra else "")


@pytest.fixture(scope="module")
def simulated() -> dict[str, SimulatedPeak]:
    runs = []
    for name, method, changes in CASES:
        config = model_config(name, changes.get("layers", LAYERS))
        runs.append((config, train_config(config, method, changes)))
    results = simulate_peaks(runs)
    return {case_id(case): result for case, result in zip(CASES, results, strict=True)}


def test_the_matrix_covers_the_families_the_issue_names():
    names = {name for name, _method, _changes in CASES}
    types = {json.loads((ARCHITECTURES / f"{n}.json").read_text())["model_type"] for n in names}
    assert len(names) >= 12
    assert {"llama", "mistral", "qwen2", "gemma", "phi", "gpt_bigcode", "mixtral"} <= types
    assert {method for _name, method, _changes in CASES} == {"full", "lora", "qlora", "lora8bit"}


@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
def test_estimate_agrees_with_the_simulated_step(case, simulated):
    name, method, changes = case
    result = simulated[case_id(case)]
    if isinstance(result, Exception):
        pytest.fail(f"{case_id(case)}: the simulation failed: {result}")
    config = model_config(name, changes.get("layers", LAYERS))
    settings = run_for_recipe(train_config(config, method, changes))
    predicted = estimate(architecture_from_config(config, name), settings, find_gpu("H100 SXM"))
    # The same model: the estimator counts the parameters PEFT and transformers create.
    assert predicted.memory.trainable_params == pytest.approx(result.trainable_params, rel=0.01)
    ratio = predicted.memory.allocated_gib / result.peak_gib
    assert abs(ratio - 1) <= TOLERANCE, (
        f"{case_id(case)}: estimated {predicted.memory.allocated_gib:.3f} GiB allocated, "
        f"simulated {result.peak_gib:.3f} GiB (ratio {ratio:.2f}, peak at {result.peak_op})"
    )


def test_the_simulation_sees_what_each_method_keeps(simulated):
    lora = simulated["llama-3.1-8b-lora"]
    qlora = simulated["llama-3.1-8b-qlora"]
    full = simulated["llama-3.1-8b-full"]
    # Full fine-tuning trains every parameter; the adapters are a small fraction.
    assert full.trainable_params == full.total_params
    assert lora.trainable_params < lora.total_params / 50
    assert lora.trainable_params == qlora.trainable_params
    # fp32 master weights, gradients and two AdamW moments: 16 bytes a parameter at least.
    assert full.peak_bytes >= 16 * full.total_params
    # Recomputing activations saves memory; accumulation keeps the adapters' gradients;
    # each layer more keeps its activations.
    base = simulated["llama-3.2-1b-lora"]
    assert simulated["llama-3.2-1b-lora-gradient_checkpointing=True"].peak_bytes < base.peak_bytes
    assert simulated["llama-3.2-1b-lora-gradient_accumulation=2"].peak_bytes >= base.peak_bytes
    qlora_2, qlora_8 = simulated["llama-3.2-1b-qlora"], simulated["llama-3.2-1b-qlora-layers=8"]
    assert qlora_8.peak_bytes > qlora_2.peak_bytes


def test_unknown_torch_builds_are_refused_with_the_reason(monkeypatch):
    import torch

    from core.training.simulate import fake_cuda

    monkeypatch.setattr(torch, "__version__", "2.99.0+cpu")
    monkeypatch.setattr(torch.version, "cuda", None)
    reason = fake_cuda.unavailable_reason()
    assert reason is not None and "2.99.0+cpu" in reason and "2.13." in reason


def test_the_matrix_agrees_on_the_whole(simulated, capsys):
    """Median agreement well inside the 10 % each case must meet; the table is printed
    (pytest -s) for the record."""
    errors = []
    lines = []
    for case in CASES:
        name, method, changes = case
        result = simulated[case_id(case)]
        if isinstance(result, Exception):
            continue
        config = model_config(name, changes.get("layers", LAYERS))
        settings = run_for_recipe(train_config(config, method, changes))
        allocated = estimate(
            architecture_from_config(config, name), settings, find_gpu("H100 SXM")
        ).memory.allocated_gib
        errors.append(allocated / result.peak_gib - 1)
        lines.append(
            f"{case_id(case):45} simulated {result.peak_gib:7.3f} GiB  estimated "
            f"{allocated:7.3f} GiB  {allocated / result.peak_gib - 1:+6.1%}  {result.seconds:5.1f} s"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
        print(
            f"worst {max(errors, key=abs):+.1%}, median |error| "
            f"{statistics.median(abs(e) for e in errors):.1%} over {len(errors)} cases"
        )
    assert len(errors) == len(CASES)
    assert statistics.median(abs(error) for error in errors) <= 0.05
