"""How several GPUs share one run, in the distributed engines' words and the estimator's.

The estimator (core.estimate) knows three ways to split a run: none (DDP: each GPU holds
everything), zero2 (gradients and optimizer states split) and fsdp (everything split, as
FSDP full shard or DeepSpeed ZeRO-3). Each launch strategy maps onto one of them, so the
memory per GPU we print beside a generated launch is the memory of that launch.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    name: str
    title: str
    engine: str  # "torch" (DDP, FSDP: nothing to install) or "deepspeed"
    estimator_sharding: str  # core.estimate.settings.SHARDINGS
    help: str


STRATEGIES = {
    s.name: s
    for s in (
        Strategy(
            "ddp",
            "DDP (each GPU holds the whole model)",
            "torch",
            "none",
            "Data parallel: every GPU keeps all weights, gradients and optimizer states and "
            "trains on its own micro batches. Fastest when the run fits one GPU already; the "
            "usual choice for LoRA and QLoRA.",
        ),
        Strategy(
            "fsdp",
            "FSDP full shard (PyTorch)",
            "torch",
            "fsdp",
            "Fully Sharded Data Parallel: weights, gradients and optimizer states are split "
            "across all GPUs, so a model too big for one GPU trains on several. Needs nothing "
            "beyond PyTorch.",
        ),
        Strategy(
            "zero3",
            "DeepSpeed ZeRO-3",
            "deepspeed",
            "fsdp",
            "DeepSpeed's equivalent of FSDP full shard (everything split); needs the deepspeed "
            "package on every node.",
        ),
        Strategy(
            "zero2",
            "DeepSpeed ZeRO-2",
            "deepspeed",
            "zero2",
            "DeepSpeed splitting gradients and optimizer states only; every GPU still holds "
            "all weights.",
        ),
    )
}
DEEPSPEED_MISSING = (
    "DeepSpeed is not installed on this machine (import deepspeed fails). The {strategy} "
    "launch files are written anyway: install it on every node before launching "
    "(pip install deepspeed, or the deepspeed extra of FineTune Studio; its CUDA kernels "
    "build at first use), or use --strategy fsdp, which splits the model the same way and "
    "needs only PyTorch."
)


def deepspeed_installed() -> bool:
    return importlib.util.find_spec("deepspeed") is not None


def strategy_for(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}"
        ) from None
