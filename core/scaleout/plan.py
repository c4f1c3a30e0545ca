"""A scale-out plan: the launch configuration, the command for each node, and the estimate.

    plan = plan_scale_out(config, ScaleOutRequest(gpus_per_node=8, nodes=2, strategy="fsdp",
                                                  out_dir="launch/", project_dir="/shared/p"))
    write_plan(plan)   # accelerate_config.yaml, train_config.yaml, launch_node_<r>.sh, README.md

Every node runs the same headless `finetune-studio train train_config.yaml` under
`accelerate launch`; only --machine_rank differs. Rank 0 (on node 0) writes the run
folder, metrics and checkpoints; the others only train.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from core.methods import QUANTIZED_METHODS
from core.recipe.config import config_to_yaml
from core.scaleout.accelerate_config import (
    MAIN_PROCESS_PORT,
    accelerate_config,
    deepspeed_config,
)
from core.scaleout.estimate_link import estimate_scaled_run
from core.scaleout.strategies import (
    DEEPSPEED_MISSING,
    STRATEGIES,
    deepspeed_installed,
    strategy_for,
)


class ScaleOutError(ValueError):
    """A request that cannot be launched, with what to do instead."""


@dataclass(frozen=True)
class ScaleOutRequest:
    gpus_per_node: int = field(
        default=2, metadata={"help": "GPUs on each node (one training process per GPU)."}
    )
    nodes: int = field(
        default=1, metadata={"help": "Machines training together; 1 for one multi-GPU machine."}
    )
    strategy: str = field(
        default="",
        metadata={
            "help": "ddp, fsdp, zero3 or zero2; empty: ddp when the run fits each GPU, else "
            "fsdp (judged by the estimator).",
            "choices": ("", *STRATEGIES),
        },
    )
    out_dir: str = field(default="", metadata={"help": "Where to write the launch files."})
    project_dir: str = field(
        default="",
        metadata={
            "help": "The project the run belongs to; the same path must hold it on every node "
            "(a shared filesystem)."
        },
    )
    gpu: str = field(
        default="",
        metadata={"help": "The nodes' GPU model, from the estimator's catalog (e.g. H100 SXM)."},
    )
    main_process_port: int = field(
        default=MAIN_PROCESS_PORT,
        metadata={"help": "The TCP port node 0 listens on for the others."},
    )

    def __post_init__(self) -> None:
        if not 1 <= self.gpus_per_node <= 64:
            raise ScaleOutError(f"gpus per node must be 1 to 64, not {self.gpus_per_node}")
        if not 1 <= self.nodes <= 1024:
            raise ScaleOutError(f"nodes must be 1 to 1024, not {self.nodes}")
        if self.gpus_per_node * self.nodes < 2:
            raise ScaleOutError(
                "one GPU on one node needs no launcher: run finetune-studio train CONFIG.yaml"
            )
        if self.strategy and self.strategy not in STRATEGIES:
            raise ScaleOutError(
                f"unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}"
            )
        if not 1 <= self.main_process_port <= 65535:
            raise ScaleOutError(f"port must be 1 to 65535, not {self.main_process_port}")

    @property
    def total_gpus(self) -> int:
        return self.gpus_per_node * self.nodes


@dataclass
class ScaleOutPlan:
    request: ScaleOutRequest
    strategy: str
    config_yaml: str  # the training config every node runs
    accelerate: dict
    deepspeed: dict | None  # DeepSpeed's own config file, for zero2 and zero3
    node_commands: list[str]
    slurm_command: str  # every node's command under srun, its rank from Slurm
    estimate: object | None  # core.estimate.Estimate on the same sharding, or None
    estimate_note: str
    warnings: list[str] = field(default_factory=list)

    @property
    def estimator_sharding(self) -> str:
        return strategy_for(self.strategy).estimator_sharding

    def as_dict(self) -> dict:
        estimate = self.estimate.as_dict() if self.estimate is not None else None
        return {
            "gpus_per_node": self.request.gpus_per_node,
            "nodes": self.request.nodes,
            "processes": self.request.total_gpus,
            "strategy": self.strategy,
            "estimator_sharding": self.estimator_sharding,
            "accelerate": self.accelerate,
            "deepspeed": self.deepspeed,
            "node_commands": self.node_commands,
            "slurm_command": self.slurm_command,
            "estimate": estimate,
            "estimate_note": self.estimate_note,
            "warnings": self.warnings,
        }


def _absolute_data_paths(config, config_dir: Path | None):
    """Data paths every node can resolve: relative ones made absolute."""
    changes = {}
    for name in ("train_file", "validation_file"):
        value = getattr(config, name)
        if not value or Path(value).is_absolute():
            continue
        for base in ([config_dir] if config_dir else []) + [Path.cwd()]:
            candidate = (base / value).expanduser()
            if candidate.exists():
                changes[name] = str(candidate.resolve())
                break
    return config.replace(**changes) if changes else config


def _pick_strategy(config, request: ScaleOutRequest) -> tuple[str, str]:
    """(strategy, why) when the user named none: DDP if the run fits each GPU, else FSDP."""
    if config.method in QUANTIZED_METHODS:
        return "ddp", "QLoRA and 8-bit LoRA scale out with DDP (each GPU holds the small model)"
    ddp, _note, _problem = estimate_scaled_run(config, request.total_gpus, "ddp", request.gpu)
    if ddp is not None and ddp.fits:
        return "ddp", "the run fits each GPU whole, so plain data parallel is fastest"
    return "fsdp", "the run does not fit one GPU whole, so FSDP splits it across all of them"


# Under Slurm a node's rank is its place in the allocation, which srun gives each task.
SLURM_NODE_RANK = "$SLURM_NODEID"


def node_command(plan_request: ScaleOutRequest, rank: int | str, project: str) -> str:
    """The command node `rank` runs (a number, or a shell variable that holds it)."""
    parts = ["accelerate", "launch", "--config_file", "accelerate_config.yaml"]
    if plan_request.nodes > 1:
        parts += [
            "--machine_rank",
            str(rank),
            "--main_process_ip",
            "$MAIN_PROCESS_IP",
            "--main_process_port",
            "$MAIN_PROCESS_PORT",
        ]
    parts += ["--no_python", "finetune-studio", "train", "train_config.yaml"]
    if project:
        parts += ["--project", project]
    # $VARIABLES are double-quoted so the shell still fills them in.
    return " ".join(f'"{p}"' if p.startswith("$") else shlex.quote(p) for p in parts)


def plan_scale_out(
    config, request: ScaleOutRequest, config_dir: Path | None = None
) -> ScaleOutPlan:
    """The launch files' content for a TrainConfig; ScaleOutError if it cannot work."""
    warnings: list[str] = []
    strategy = request.strategy
    if not strategy:
        strategy, why = _pick_strategy(config, request)
        warnings.append(f"strategy {strategy}: {why}")
    chosen = strategy_for(strategy)
    if config.method in QUANTIZED_METHODS and strategy in ("fsdp", "zero3"):
        raise ScaleOutError(
            f"{config.method} with {strategy} needs the 4-bit weights stored as bfloat16 "
            "(bnb_4bit_quant_storage), which FineTune Studio's trainer does not set; use "
            "--strategy ddp (each GPU holds the quantized model, which is small) or method lora."
        )
    if config.device in ("cpu", "mps"):
        raise ScaleOutError(
            f"the config trains on {config.device}; set device: auto (or cuda) to scale out on GPUs"
        )
    if chosen.engine == "deepspeed" and not deepspeed_installed():
        warnings.append(DEEPSPEED_MISSING.format(strategy=chosen.title))
    warnings.append(
        "Every node needs FineTune Studio installed (the same version, with `finetune-studio` "
        "and `accelerate` on PATH)."
    )
    if request.nodes > 1:
        warnings.append(
            "Every node needs the project folder and the training data at the same paths (a "
            "shared filesystem such as NFS), and node 0's address reachable from the others on "
            f"port {request.main_process_port}."
        )
    config = _absolute_data_paths(config, config_dir)
    # Pre-flight measures one process on one GPU; under a launcher each rank would repeat it.
    config = config.replace(preflight=False)
    estimate, note, problem = estimate_scaled_run(config, request.total_gpus, strategy, request.gpu)
    if problem:
        warnings.append(problem)
    elif not estimate.fits:
        warnings.append(
            f"The estimator says this does not fit: {estimate.fit_summary()} per GPU with "
            f"{chosen.title}. Add GPUs, use fsdp, or lower micro_batch_size / max_seq_length."
        )
    project = str(Path(request.project_dir).expanduser().resolve()) if request.project_dir else ""
    commands = [node_command(request, rank, project) for rank in range(request.nodes)]
    return ScaleOutPlan(
        request=request,
        strategy=strategy,
        config_yaml=config_to_yaml(config),
        accelerate=accelerate_config(strategy, request.gpus_per_node, request.nodes),
        deepspeed=deepspeed_config(strategy),
        node_commands=commands,
        slurm_command=node_command(request, SLURM_NODE_RANK, project),
        estimate=estimate,
        estimate_note=note,
        warnings=warnings,
    )


def replace_request(request: ScaleOutRequest, **changes) -> ScaleOutRequest:
    return dataclasses.replace(request, **changes)
