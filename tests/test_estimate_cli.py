"""`finetune-studio estimate`: the JSON contract, the text report and one-line errors."""

import json
from pathlib import Path

import pytest

from core.hardware.detect import GpuInfo
from desktop.launcher import main

FIELDS = {"method", "fits", "peak_gb", "breakdown", "hours", "cost_usd", "reason"}


def run_json(capsys, *args):
    assert main(["estimate", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_chosen_method_and_every_method(capsys):
    data = run_json(capsys, "--model", "Llama-3.1-8B", "--gpu", "RTX 4090")
    assert set(data) >= FIELDS
    assert data["method"] == "qlora" and data["fits"] is True
    # fp32 embeddings and LM head (our trainer's prepare_model_for_kbit_training) included
    assert 10 < data["peak_gb"] < 19
    assert set(data["breakdown"]) == {
        "weights",
        "lora",
        "gradients",
        "optimizer",
        "activations",
        "logits",
        "workspace",
        "allocator",
        "cuda_context",
    }
    assert sum(data["breakdown"].values()) == pytest.approx(data["peak_gb"], abs=0.02)
    assert [entry["method"] for entry in data["methods"]] == ["full", "lora", "qlora"]
    for entry in data["methods"]:
        assert set(entry) >= FIELDS
    assert data["methods"][0]["fits"] is False
    assert data["assumptions"] and data["cost_usd"] == pytest.approx(data["hours"] * 0.6, abs=0.01)


def test_a_training_config_is_estimated_as_it_is(capsys, tmp_path):
    """estimate --config takes the recipe `train` takes; flags replace its settings."""
    from core.recipe.config import TrainConfig, save_config

    path = tmp_path / "run.yaml"
    save_config(
        TrainConfig(
            method="full",  # not the pick: the recipe's own method is estimated
            max_seq_length=300_000,  # beyond the old estimator form's 262,144
            optimizer="lion_8bit",
            epochs=0,
            max_steps=40,
            train_file="data.jsonl",
        ),
        path,
    )
    data = run_json(
        capsys, "--model", "Llama-3.1-8B", "--gpu", "H200", "--config", str(path), "--batch", "1"
    )
    settings = data["settings"]
    assert (settings["method"], settings["max_seq_length"], settings["optimizer"]) == (
        "full",
        300_000,
        "lion_8bit",
    )
    assert settings["micro_batch_size"] == 1  # the flag replaced the file's 4
    assert next(m for m in data["methods"] if m["method"] == "full")["steps"] == 40


def test_flags_reach_the_estimate(capsys):
    data = run_json(
        capsys,
        "--model",
        "Llama-2-7B",
        "--gpu",
        "a100 80gb",
        "--method",
        "full",
        "--gpus",
        "4",
        "--batch",
        "2",
        "--grad-accum",
        "8",
        "--seq-len",
        "1024",
        "--no-grad-checkpointing",
        "--optim",
        "adamw_torch_fused",
        "--examples",
        "3000",
        "--avg-tokens",
        "700",
        "--epochs",
        "2",
    )
    settings = data["settings"]
    assert data["method"] == "full" and data["gpus"] == 4 and settings["sharding"] == "fsdp"
    assert (
        settings["micro_batch_size"],
        settings["gradient_accumulation"],
        settings["max_seq_length"],
    ) == (
        2,
        8,
        1024,
    )
    assert (
        settings["gradient_checkpointing"] is False and settings["optimizer"] == "adamw_torch_fused"
    )
    assert data["tokens_per_epoch"] == 3000 * 700
    small_rank = run_json(
        capsys,
        "--model",
        "Llama-2-7B",
        "--gpu",
        "RTX 4090",
        "--lora-r",
        "8",
        "--lora-targets",
        "q_proj,v_proj",
        "--method",
        "lora",
    )
    default_rank = run_json(
        capsys, "--model", "Llama-2-7B", "--gpu", "RTX 4090", "--method", "lora"
    )
    assert small_rank["trainable_params"] < default_rank["trainable_params"] / 4


def test_nothing_fits_reports_fixes(capsys):
    data = run_json(capsys, "--model", "Llama-3.1-70B", "--gpu", "RTX 4090")
    assert data["fits"] is False and data["reason"].startswith("Nothing fits")
    assert any(fix["fits"] for fix in data["fixes"])


def test_text_report(capsys):
    assert main(["estimate", "--model", "Qwen2.5-7B", "--gpu", "L4", "--task", "format"]) == 0
    out = capsys.readouterr().out
    assert "Pick: " in out and "QLoRA (4-bit)" in out and "Assumptions:" in out
    assert "Peak at the" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "Llama-9", "--gpu", "RTX 4090"], "unknown model 'Llama-9'"),
        (["--model", "Llama-2-7B", "--gpu", "Voodoo 5"], "unknown GPU 'Voodoo 5'"),
        (["--model", "Llama-2-7B", "--gpu", "RTX 4090", "--batch", "0"], "micro_batch_size"),
        (["--model", "Phi-3-mini", "--gpu", "RTX 4090", "--lora-targets", "q_proj"], "no 'q_proj'"),
        (
            ["--model", "Llama-2-7B", "--gpu", "RTX 4090", "--optim", "adam"],
            "optimizer: 'adam' is not one of",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, args, message):
    assert main(["estimate", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_auto_gpu_uses_the_detected_card_or_says_there_is_none(capsys, monkeypatch):
    from core.hardware import detect

    # Only NVML is mocked: what it reports on a machine without, and with, an A100.
    monkeypatch.setattr(detect, "_nvml_gpus", lambda notes: [])
    assert main(["estimate", "--model", "Llama-2-7B"]) == 2
    assert "no CUDA GPU detected" in capsys.readouterr().err
    card = GpuInfo(0, "NVIDIA A100-SXM4-80GB", 80 * 1024**3)
    monkeypatch.setattr(detect, "_nvml_gpus", lambda notes: [card])
    data = run_json(capsys, "--model", "Llama-2-7B", "--gpu", "auto")
    assert data["gpu"] == "A100 80GB" and data["capacity_gb"] == 80


def test_simulate_sets_our_trainers_simulated_step_beside_the_estimate(capsys, tmp_path):
    from core.training.simulate import simulation_unavailable

    reason = simulation_unavailable()
    if reason:
        pytest.skip(f"no simulation here: {reason}")
    config = json.loads(
        (Path(__file__).parent / "data" / "architectures" / "smollm2-135m.json").read_text()
    )
    config["num_hidden_layers"] = 2
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    data = run_json(
        capsys,
        "--model",
        str(path),
        "--gpu",
        "RTX 4090",
        "--method",
        "lora",
        "--optim",
        "adamw_torch",
        "--batch",
        "1",
        "--seq-len",
        "256",
        "--simulate",
    )
    simulation = data["simulation"]
    assert "error" not in simulation, simulation
    assert simulation["estimated_allocated_gb"] == pytest.approx(data["allocated_gb"], abs=0.01)
    assert 0.85 < simulation["ratio"] < 1.15
    assert simulation["simulated_trainable_params"] == data["trainable_params"]
