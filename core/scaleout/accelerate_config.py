"""The `accelerate launch` configuration file for a strategy, N GPUs per node and M nodes.

The keys are those `accelerate config` writes (accelerate 1.x). Precision is left to the
trainer ("no" here), which picks bf16 or fp16 per GPU exactly as on one GPU. FSDP saves
full state dicts, gathered on rank 0, so checkpoints and the final model are ordinary
Hugging Face folders that the rest of the app (evaluation, export) reads.
"""

from __future__ import annotations

from core.scaleout.strategies import strategy_for

MAIN_PROCESS_PORT = 29500
MAIN_PROCESS_IP_PLACEHOLDER = "MAIN_NODE_IP"


def accelerate_config(
    strategy: str,
    gpus_per_node: int,
    nodes: int,
    gradient_accumulation: int = 1,
    max_grad_norm: float = 1.0,
) -> dict:
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
        config["fsdp_config"] = {
            "fsdp_version": 1,
            "fsdp_sharding_strategy": "FULL_SHARD",
            # Wrap each decoder layer (the model's _no_split_modules) as one FSDP unit.
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_backward_prefetch": "BACKWARD_PRE",
            "fsdp_forward_prefetch": False,
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_offload_params": False,
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_sync_module_states": True,
            # LoRA mixes frozen and trained weights in one layer; FSDP needs the originals.
            "fsdp_use_orig_params": True,
            "fsdp_activation_checkpointing": False,
        }
    else:
        config["distributed_type"] = "DEEPSPEED"
        config["deepspeed_config"] = {
            "zero_stage": 3 if chosen.name == "zero3" else 2,
            "gradient_accumulation_steps": gradient_accumulation,
            "gradient_clipping": max_grad_norm,
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": chosen.name == "zero3",
            "zero3_save_16bit_model": chosen.name == "zero3",
        }
        if nodes > 1:
            config["deepspeed_config"]["deepspeed_multinode_launcher"] = "standard"
    return config
