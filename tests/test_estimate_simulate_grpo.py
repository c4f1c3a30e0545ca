"""The GRPO estimate against our real GRPO step on the simulated GPU (issue 19, item 5).

Each case builds the model from a real published config.json (tests/data/architectures,
no weights; 2 decoder layers at the real widths, heads and vocabulary) and runs the run's
GRPOTrainer (grpo_step: grpo_setup's arguments; with LoRA the reference log-probabilities
come from the policy with its adapter disabled, with full fine-tuning from TRL's frozen
copy) for two optimizer steps in the worst case: prompts of max_seq_length tokens, every
answer running to grpo_max_completion_length through transformers' generate with its KV
cache, then TRL's loss and backward. The
estimator, given the same config, must agree within 10 % of the allocated peak and name
the same moment: the training step, the prompts' forward of generation (prefill) or the
end of decoding (KV cache and sampling logits).
All cases run in one worker process, about 10-40 s each (the decode case's 2 x 96 decoding
forwards the longest).
"""

from __future__ import annotations

import json
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
GENERATION = "GRPO answer generation"

# A small step: 1 prompt x 4 answers of 128 + 32 tokens; the training step is the peak.
TRAINING = {
    "max_seq_length": 128,
    "grpo_num_generations": 4,
    "grpo_max_completion_length": 32,
}
# 4 prompts x 16 answers of 128 + 16 tokens with checkpointing: 9,216 tokens a micro batch,
# where recomputing a layer reaches LoRA's fp32 input casts at the down projection.
CHECKPOINTED = {
    "max_seq_length": 128,
    "micro_batch_size": 4,
    "grpo_num_generations": 16,
    "grpo_max_completion_length": 16,
    "gradient_checkpointing": True,
}
# One generation for 8 accumulation steps of 2 prompts x 8 answers: 128 answers' prompts
# go through each layer at once (prefill), more than one micro batch's training step holds.
PREFILL = {
    "max_seq_length": 128,
    "micro_batch_size": 2,
    "gradient_accumulation": 8,
    "grpo_num_generations": 8,
    "grpo_max_completion_length": 8,
    "gradient_checkpointing": True,
}
# Short prompts, long answers, full-size K/V heads (Llama-2-7B): the KV cache of 64
# answers (one generation for 16 accumulation steps of 2 prompts x 2 answers) x 112 tokens
# at the end of decoding is the peak.
DECODE = {
    "max_seq_length": 16,
    "micro_batch_size": 2,
    "gradient_accumulation": 16,
    "grpo_num_generations": 2,
    "grpo_max_completion_length": 96,
    "gradient_checkpointing": True,
}

# (architecture, method, settings, the moment of the peak: "train" or "generation")
CASES = [
    ("llama-3.2-1b", "lora", TRAINING, "train"),
    ("llama-3.2-1b", "qlora", TRAINING, "train"),
    ("llama-3.2-1b", "lora", {**TRAINING, "grpo_beta": 0.0}, "train"),
    ("llama-3.2-1b", "lora", CHECKPOINTED, "train"),
    # Full fine-tuning with a KL weight: TRL's frozen reference copy beside the policy.
    ("qwen2.5-0.5b", "full", TRAINING, "train"),
    ("llama-3.2-1b", "lora", PREFILL, "generation"),
    ("llama-3.2-1b", "qlora", PREFILL, "generation"),
    ("llama-2-7b", "lora", DECODE, "generation"),
]


def model_config(name: str) -> dict:
    config = json.loads((ARCHITECTURES / f"{name}.json").read_text(encoding="utf-8"))
    config["num_hidden_layers"] = LAYERS
    return config


def train_config(method: str, changes: dict) -> TrainConfig:
    settings = {
        "base_model": "simulated",
        "train_file": "simulated.jsonl",
        "stage": "grpo",
        "method": method,
        "precision": "bf16",
        "micro_batch_size": 1,
        "gradient_accumulation": 1,
        "gradient_checkpointing": False,
        "optimizer": "adamw_torch",
        "grpo_beta": 0.04,
        "lora_target_modules": list(PROJECTION_MODULES),
        **changes,
    }
    return TrainConfig(**settings)


def case_id(case) -> str:
    name, method, changes, _moment = case
    words = {
        id(TRAINING): "training",
        id(CHECKPOINTED): "checkpointed",
        id(PREFILL): "prefill",
        id(DECODE): "decode",
    }
    kind = words.get(id(changes), "training-beta0")
    return f"{name}-{method}-{kind}"


@pytest.fixture(scope="module")
def simulated() -> dict[str, SimulatedPeak]:
    runs = [
        (model_config(name), train_config(method, changes)) for name, method, changes, _ in CASES
    ]
    results = simulate_peaks(runs)
    return {case_id(case): result for case, result in zip(CASES, results, strict=True)}


def estimated(name: str, method: str, changes: dict):
    settings = run_for_recipe(train_config(method, changes))
    return estimate(
        architecture_from_config(model_config(name), name), settings, find_gpu("H100 SXM")
    )


@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
def test_grpo_estimate_agrees_with_the_simulated_step(case, simulated):
    name, method, changes, moment = case
    result = simulated[case_id(case)]
    if isinstance(result, Exception):
        pytest.fail(f"{case_id(case)}: the simulation failed: {result}")
    predicted = estimated(name, method, changes).memory
    assert predicted.trainable_params == pytest.approx(result.trainable_params, rel=0.01)
    ratio = predicted.allocated_gib / result.peak_gib
    assert abs(ratio - 1) <= TOLERANCE, (
        f"{case_id(case)}: estimated {predicted.allocated_gib:.3f} GiB allocated "
        f"({predicted.phase}), simulated {result.peak_gib:.3f} GiB at {result.peak_op} "
        f"(ratio {ratio:.3f})"
    )
    # Both name the same moment of the step.
    assert result.peak_op.startswith(moment), result.peak_op
    assert (predicted.phase == GENERATION) == (moment == "generation"), predicted.phase


def test_generation_and_the_reference_cost_what_the_estimate_says(simulated):
    """The terms, not only the totals: the generation batch's prefill grows with the
    answers in flight, and a KL weight of 0 drops the reference forward (no memory of its
    own with LoRA: it reuses the policy's weights, one forward without gradients)."""
    with_kl = simulated["llama-3.2-1b-lora-training"]
    without = simulated["llama-3.2-1b-lora-training-beta0"]
    assert without.peak_bytes <= with_kl.peak_bytes
    assert without.peak_bytes >= 0.95 * with_kl.peak_bytes
    prefill = simulated["llama-3.2-1b-lora-prefill"]
    assert prefill.peak_bytes > 1.5 * with_kl.peak_bytes
    rows = []
    for case in CASES:
        name, method, changes, _moment = case
        result = simulated[case_id(case)]
        allocated = estimated(name, method, changes).memory.allocated_gib
        rows.append(
            f"{case_id(case):36} simulated {result.peak_gib:6.3f} GiB  estimated "
            f"{allocated:6.3f} GiB  ratio {allocated / result.peak_gib:5.3f}  "
            f"peak at {result.peak_op.split(':')[0]}  {result.seconds:5.1f} s"
        )
    print("\n" + "\n".join(rows))


def test_estimate_simulate_runs_the_grpo_stage(tmp_path, capsys):
    """`finetune-studio estimate --config grpo.yaml --simulate`: the GRPO step (generation
    included) beside the GRPO estimate, not an SFT step of the same sequences."""
    from desktop.launcher import main

    (tmp_path / "config.json").write_text(json.dumps(model_config("llama-3.2-1b")))
    (tmp_path / "grpo.yaml").write_text(
        "base_model: simulated\ntrain_file: prompts.jsonl\nstage: grpo\nmethod: lora\n"
        "rewards: '[{kind: valid_json}]'\nmicro_batch_size: 2\ngradient_accumulation: 8\n"
        "max_seq_length: 128\ngrpo_num_generations: 8\ngrpo_max_completion_length: 8\n"
        "gradient_checkpointing: true\noptimizer: adamw_torch\n"
    )
    code = main(
        [
            "estimate",
            "--model",
            str(tmp_path / "config.json"),
            "--config",
            str(tmp_path / "grpo.yaml"),
            "--gpu",
            "H100 SXM",
            "--method",
            "lora",
            "--simulate",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    simulation = data["simulation"]
    assert "error" not in simulation, simulation
    assert simulation["estimated_allocated_gb"] == pytest.approx(data["allocated_gb"], abs=0.01)
    assert abs(simulation["ratio"] - 1) <= TOLERANCE
