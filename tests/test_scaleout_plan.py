"""Scale-out launch files: the accelerate configuration per strategy, the command per node, and
the estimator's numbers computed with the same sharding as the launch."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
import yaml

from core.estimate import estimate, find_gpu, load_architecture
from core.recipe.config import TrainConfig, save_config
from core.scaleout.estimate_link import run_settings_for
from core.scaleout.plan import ScaleOutError, ScaleOutRequest, plan_scale_out
from core.scaleout.strategies import deepspeed_installed
from core.scaleout.writer import write_plan

# What each launch does to the model, in the estimator's words, written out independently.
EXPECTED = {
    "ddp": ("MULTI_GPU", "none", "DDP over"),
    "fsdp": ("FSDP", "fsdp", "FSDP full shard"),
    "zero3": ("DEEPSPEED", "fsdp", "FSDP full shard"),
    "zero2": ("DEEPSPEED", "zero2", "ZeRO-2 over"),
}


def config(**changes) -> TrainConfig:
    settings = {
        "base_model": "Llama-3.1-8B",
        "train_file": "data/train.jsonl",
        "method": "full",
        "micro_batch_size": 2,
        "gradient_accumulation": 4,
        "max_seq_length": 2048,
    }
    settings.update(changes)
    return TrainConfig(**settings)


def request(tmp_path, **changes) -> ScaleOutRequest:
    settings = {
        "gpus_per_node": 4,
        "nodes": 2,
        "out_dir": str(tmp_path / "launch"),
        "project_dir": str(tmp_path / "project"),
        "gpu": "H100 SXM",
    }
    settings.update(changes)
    return ScaleOutRequest(**settings)


@pytest.mark.parametrize("strategy", sorted(EXPECTED))
def test_launch_config_and_estimate_agree_on_the_strategy(tmp_path, strategy):
    distributed_type, sharding, assumption = EXPECTED[strategy]
    plan = plan_scale_out(config(), request(tmp_path, strategy=strategy))
    accel = plan.accelerate
    assert accel["distributed_type"] == distributed_type
    assert accel["num_processes"] == 8 and accel["num_machines"] == 2
    if strategy == "fsdp":
        # FSDP2 (torch here has it): full shard is resharding after each forward.
        assert accel["fsdp_config"]["fsdp_version"] == 2
        assert accel["fsdp_config"]["fsdp_reshard_after_forward"] is True
        assert accel["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    if distributed_type == "DEEPSPEED":
        assert accel["deepspeed_config"]["deepspeed_config_file"] == "deepspeed_config.json"
        stage = plan.deepspeed["zero_optimization"]["stage"]
        assert stage == (3 if strategy == "zero3" else 2)
    else:
        assert plan.deepspeed is None
    settings = plan.estimate.settings
    assert settings.sharding == sharding and settings.num_gpus == 8
    assert any(line.startswith(assumption) for line in plan.estimate.assumptions)
    # The printed figure is exactly the estimator's for those settings on that GPU.
    direct = estimate(
        load_architecture("Llama-3.1-8B"),
        run_settings_for(config(preflight=False), 8, strategy, None),
        find_gpu("H100 SXM"),
    )
    assert plan.estimate.peak_gib == pytest.approx(direct.peak_gib)
    written = write_plan(plan, tmp_path / "launch")
    saved = yaml.safe_load((tmp_path / "launch" / "accelerate_config.yaml").read_text())
    assert saved == accel and len(written) == 7 + (plan.deepspeed is not None)
    if plan.deepspeed is not None:
        on_disk = json.loads((tmp_path / "launch" / "deepspeed_config.json").read_text())
        assert on_disk == plan.deepspeed
    assert (
        json.loads((tmp_path / "launch" / "plan.json").read_text())["estimator_sharding"]
        == sharding
    )


def test_sharding_lowers_memory_per_gpu_as_the_estimator_says(tmp_path):
    peaks = {
        s: plan_scale_out(config(), request(tmp_path, strategy=s)).estimate.peak_gib
        for s in ("ddp", "zero2", "fsdp")
    }
    # Full fine-tuning of 8B: ~16 bytes per parameter unsharded (does not fit an H100),
    # split 8 ways by FSDP (activations are not split, so not 8 times less).
    assert peaks["fsdp"] < peaks["zero2"] < peaks["ddp"]
    assert peaks["ddp"] > 80 and peaks["fsdp"] < 0.5 * peaks["ddp"]


def test_deepspeed_is_detected_and_its_absence_said(tmp_path):
    plan = plan_scale_out(config(), request(tmp_path, strategy="zero3"))
    missing = [w for w in plan.warnings if "DeepSpeed is not installed" in w]
    assert bool(missing) == (not deepspeed_installed())
    if missing:
        assert "pip install deepspeed" in missing[0] and "--strategy fsdp" in missing[0]
    assert not any(
        "DeepSpeed" in w
        for w in plan_scale_out(config(), request(tmp_path, strategy="fsdp")).warnings
    )


def test_default_strategy_follows_the_estimate(tmp_path):
    big = plan_scale_out(config(), request(tmp_path, gpu="RTX 4090"))
    assert big.strategy == "fsdp" and "does not fit one GPU" in big.warnings[0]
    small = plan_scale_out(
        config(base_model="Llama-3.2-1B", method="lora", max_seq_length=512),
        request(tmp_path, gpu="H100 SXM"),
    )
    assert small.strategy == "ddp" and "fits each GPU" in small.warnings[0]
    assert plan_scale_out(config(method="qlora"), request(tmp_path)).strategy == "ddp"


def test_quantized_methods_refuse_full_sharding_and_bad_requests_are_explained(tmp_path):
    with pytest.raises(ScaleOutError, match="strategy ddp"):
        plan_scale_out(config(method="qlora"), request(tmp_path, strategy="fsdp"))
    with pytest.raises(ScaleOutError, match="needs no launcher"):
        ScaleOutRequest(gpus_per_node=1, nodes=1, out_dir="x")
    with pytest.raises(ScaleOutError, match="set device"):
        plan_scale_out(config(device="cpu"), request(tmp_path, strategy="ddp"))


def test_each_node_gets_its_exact_command_and_a_script_that_asks_for_the_address(tmp_path):
    project = tmp_path / "project"
    plan = plan_scale_out(config(), request(tmp_path, strategy="fsdp", nodes=3))
    assert len(plan.node_commands) == 3
    for rank, command in enumerate(plan.node_commands):
        assert command.startswith("accelerate launch --config_file accelerate_config.yaml")
        assert f"--machine_rank {rank} " in command
        assert '--main_process_ip "$MAIN_PROCESS_IP"' in command
        assert command.endswith(
            f"--no_python finetune-studio train train_config.yaml --project {project}"
        )
    write_plan(plan, tmp_path / "launch")
    script = tmp_path / "launch" / "launch_node_2.sh"
    assert script.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    refused = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MAIN_PROCESS_IP"},
    )
    assert refused.returncode == 2 and "MAIN_PROCESS_IP" in refused.stderr
    readme = (tmp_path / "launch" / "README.md").read_text()
    assert "bash launch_node_2.sh" in readme and "peak memory per GPU" in readme
    trained = yaml.safe_load((tmp_path / "launch" / "train_config.yaml").read_text())
    assert trained["preflight"] is False and trained["method"] == "full"
    one_node = plan_scale_out(config(), request(tmp_path, strategy="ddp", nodes=1))
    assert "--machine_rank" not in one_node.node_commands[0]
    assert "main_process_ip" not in one_node.accelerate


def test_cli_writes_the_launch_files(tmp_path, capsys):
    from desktop.launcher import main

    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"messages": []}\n' * 3)
    path = tmp_path / "run.yaml"
    save_config(config(train_file="data/train.jsonl"), path)
    out = tmp_path / "launch"
    code = main(
        [
            "scaleout",
            str(path),
            "--gpus",
            "8",
            "--nodes",
            "2",
            "--strategy",
            "zero3",
            "--out",
            str(out),
            "--gpu",
            "A100 80GB",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "16 processes, strategy zero3 (estimator sharding: fsdp)" in text
    assert "node 1: accelerate launch" in text
    # A relative data path is made absolute, so every node finds the same file.
    saved = yaml.safe_load((out / "train_config.yaml").read_text())
    assert saved["train_file"] == str((data / "train.jsonl").resolve())
    assert main(["scaleout", str(path), "--gpus", "1", "--out", str(out)]) == 2
