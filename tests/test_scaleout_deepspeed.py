"""DeepSpeed launch files checked by DeepSpeed itself: `accelerate launch` reads our
accelerate_config.yaml into the environment it gives each node, accelerate's DeepSpeed
plugin takes deepspeed_config.json from there, the Hugging Face Trainer fills its "auto"
values from the run's settings, and DeepSpeed's own config parser (strict: an unknown
key is an error) accepts the result with the run's numbers.

deepspeed is the `deepspeed` extra, installed by packaging/dev.sh (a pure-Python wheel
built without CUDA or a compiler; DS_BUILD_OPS=0)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from core.recipe.config import TrainConfig
from core.scaleout.plan import ScaleOutRequest, plan_scale_out
from core.scaleout.writer import write_plan

MICRO_BATCH, ACCUMULATION, CLIP = 2, 4, 0.5


def launcher_environment(launch, monkeypatch) -> dict:
    """The environment `accelerate launch` gives node 1 of our two-node launch."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    monkeypatch.chdir(launch)  # where launch_node_<r>.sh starts it
    args = launch_command_parser().parse_args(
        [
            "--config_file",
            "accelerate_config.yaml",
            "--machine_rank",
            "1",
            "--main_process_ip",
            "10.0.0.1",
            "--main_process_port",
            "29500",
            "--no_python",
            "finetune-studio",
            "train",
            "train_config.yaml",
        ]
    )
    args, defaults, precision_from_config = _validate_launch_command(args)
    assert args.use_deepspeed and args.num_processes == 8 and args.num_machines == 2
    # As accelerate's launch_command does before handing over to the DeepSpeed launcher.
    fields = list(defaults.deepspeed_config) + (
        ["mixed_precision"] if precision_from_config else []
    )
    args.deepspeed_fields_from_accelerate_config = ",".join(fields)
    _command, env = prepare_deepspeed_cmd_env(args)
    return {k: v for k, v in env.items() if k.startswith("ACCELERATE_")}


@pytest.mark.parametrize("strategy, stage", [("zero2", 2), ("zero3", 3)])
def test_deepspeed_parses_our_config_as_the_launcher_and_trainer_hand_it_over(
    tmp_path, monkeypatch, strategy, stage
):
    from accelerate.utils import DeepSpeedPlugin
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    from core.training.device import DevicePlan
    from core.training.schedule import provisional_schedule
    from core.training.sft_args import build_sft_config, build_sft_kwargs

    config = TrainConfig(
        base_model="Llama-3.1-8B",
        train_file="train.jsonl",
        method="full",
        micro_batch_size=MICRO_BATCH,
        gradient_accumulation=ACCUMULATION,
        max_grad_norm=CLIP,
    )
    plan = plan_scale_out(
        config, ScaleOutRequest(gpus_per_node=4, nodes=2, strategy=strategy, gpu="H100 SXM")
    )
    launch = tmp_path / "launch"
    write_plan(plan, launch)
    assert not any("DeepSpeed is not installed" in w for w in plan.warnings)

    # The trainer's arguments for this config, as the run builds them.
    device = DevicePlan("cpu", "fp32", "float32", "adamw_torch", "CPU")
    kwargs, _notes = build_sft_kwargs(
        config, device, provisional_schedule(config, False), tmp_path / "ckpt", False, 0
    )
    args = build_sft_config(**kwargs)

    with monkeypatch.context() as node:
        for name, value in launcher_environment(launch, node).items():
            node.setenv(name, value)
        plugin = DeepSpeedPlugin()  # refuses settings given both here and in the file
    assert plugin.zero_stage == stage and plugin.hf_ds_config.is_zero3() == (stage == 3)
    # What the Trainer does with it: "auto" filled from the arguments and the model.
    filled = HfTrainerDeepSpeedConfig(copy.deepcopy(plugin.deepspeed_config))
    filled.trainer_config_process(args)
    model = SimpleNamespace(config=SimpleNamespace(hidden_size=4096))
    filled.trainer_config_finalize(args, model, num_training_steps=100)
    assert "auto" not in str(filled.config)

    parsed = DeepSpeedConfig(filled.config)  # DeepSpeed's own parser and sanity checks
    assert parsed.zero_optimization_stage == stage
    assert parsed.train_micro_batch_size_per_gpu == MICRO_BATCH
    assert parsed.gradient_accumulation_steps == ACCUMULATION
    assert parsed.train_batch_size == MICRO_BATCH * ACCUMULATION  # one process here
    assert parsed.gradient_clipping == CLIP
    assert parsed.zero_config.reduce_bucket_size == 4096 * 4096
    if stage == 3:
        assert parsed.zero_config.gather_16bit_weights_on_model_save is True

    # The parser is strict, so a wrong key in our file could not have passed.
    broken = copy.deepcopy(filled.config)
    broken["zero_optimization"]["offload_optimiser"] = {"device": "none"}
    with pytest.raises(Exception, match="offload_optimiser"):
        DeepSpeedConfig(broken)
