"""The `accelerate launch` configuration file for a strategy, N GPUs per node and M nodes.

The keys are those `accelerate config` writes (accelerate 1.x). Precision is left to the
trainer ("no" here), which picks bf16 or fp16 per GPU exactly as on one GPU. FSDP saves
full state dicts, gathered on rank 0, so checkpoints and the final model are ordinary
Hugging Face folders that the rest of the app (evaluation, export) reads.

FSDP is FSDP2 (torch's `fully_shard`, accelerate's fsdp_version 2) where the installed
torch has it (2.6 on, what accelerate asks for): it shards frozen and trained weights of
a LoRA layer alike, without FSDP1's flat parameters, and also runs on CPU processes over
gloo, which is how the test suite trains it. An older torch gets FSDP1.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from core.scaleout.strategies import strategy_for

MAIN_PROCESS_PORT = 29500
MAIN_PROCESS_IP_PLACEHOLDER = "MAIN_NODE_IP"
FSDP2_MIN_TORCH = (2, 6)
DEEPSPEED_CONFIG_FILE = "deepspeed_config.json"


def fsdp_version() -> int:
    """2 where the installed torch has FSDP2 as accelerate uses it, else 1."""
    try:
        release = version("torch").split("+")[0].split(".")
        installed = (int(release[0]), int(release[1]))
    except (PackageNotFoundError, ValueError, IndexError):
        return 2
    return 2 if installed >= FSDP2_MIN_TORCH else 1


def fsdp_config(version: int) -> dict:
    """accelerate's fsdp_config for full sharding, one decoder layer per FSDP unit."""
    common = {
        "fsdp_version": version,
        # Wrap each decoder layer (the model's _no_split_modules) as one FSDP unit.
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_state_dict_type": "FULL_STATE_DICT",
        "fsdp_offload_params": False,
        # Rank 0 reads the weights, the others get their shards from it.
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_activation_checkpointing": False,
    }
    if version >= 2:
        return {**common, "fsdp_reshard_after_forward": True}  # full shard
    return {
        **common,
        "fsdp_sharding_strategy": "FULL_SHARD",
        "fsdp_backward_prefetch": "BACKWARD_PRE",
        "fsdp_forward_prefetch": False,
        "fsdp_sync_module_states": True,
        # LoRA mixes frozen and trained weights in one layer; FSDP1 needs the originals.
        "fsdp_use_orig_params": True,
    }


def deepspeed_config(strategy: str) -> dict | None:
    """DeepSpeed's configuration (its JSON file) for a ZeRO strategy; None for the others.

    "auto" is the Hugging Face Trainer's word for "from the run's own settings": it fills
    the micro batch, gradient accumulation, clipping and precision in from the training
    config (and bucket sizes from the model's hidden size) when DeepSpeed starts, so the
    file and the run cannot disagree.
    """
    chosen = strategy_for(strategy)
    if chosen.engine != "deepspeed":
        return None
    stage = 3 if chosen.name == "zero3" else 2
    zero: dict = {
        "stage": stage,
        "offload_optimizer": {"device": "none"},
        "overlap_comm": True,
        "contiguous_gradients": True,
        # Sized from the model's hidden size by the trainer.
        "reduce_bucket_size": "auto",
    }
    if stage == 3:
        zero["offload_param"] = {"device": "none"}
        zero["stage3_prefetch_bucket_size"] = "auto"
        zero["stage3_param_persistence_threshold"] = "auto"
        # The final model and checkpoints as ordinary weights, not only ZeRO shards.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "zero_optimization": zero,
        "wall_clock_breakdown": False,
    }


def accelerate_config(strategy: str, gpus_per_node: int, nodes: int) -> dict:
    """The YAML mapping accelerate reads with --config_file."""
    chosen = strategy_for(strategy)
    config: dict = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "downcast_bf16": "no",
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": "no",
        "num_machines": nodes,
        "num_processes": gpus_per_node * nodes,
        "rdzv_backend": "static",
        "same_network": True,
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
        "use_cpu": False,
        "gpu_ids": "all",
    }
    if nodes > 1:
        config["main_process_ip"] = MAIN_PROCESS_IP_PLACEHOLDER
        config["main_process_port"] = MAIN_PROCESS_PORT
    if chosen.name == "ddp":
        config["distributed_type"] = "MULTI_GPU"
    elif chosen.name == "fsdp":
        config["distributed_type"] = "FSDP"
        config["fsdp_config"] = fsdp_config(fsdp_version())
    else:
        config["distributed_type"] = "DEEPSPEED"
        # Precision is in DeepSpeed's file too ("auto": the trainer's choice); accelerate
        # refuses a launch that names it in both places.
        del config["mixed_precision"]
        # The settings live in DeepSpeed's own file (deepspeed_config.json beside this one),
        # which DeepSpeed's parser checks; accelerate then takes none of them from here.
        config["deepspeed_config"] = {
            "deepspeed_config_file": DEEPSPEED_CONFIG_FILE,
            "zero3_init_flag": chosen.name == "zero3",
        }
        if nodes > 1:
            config["deepspeed_config"]["deepspeed_multinode_launcher"] = "standard"
    return config
