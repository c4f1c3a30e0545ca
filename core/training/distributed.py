"""Training under a distributed launcher (`accelerate launch`, torchrun): which process this
is, and the little coordination the run record needs.

Every process trains; rank 0 alone keeps the record: the run folder, the database row,
metrics, advice and log (the Trainer already writes checkpoints and the final model from
rank 0 only). The other ranks follow: they take rank 0's run id, make the same decisions
(the losses they are shown are the same all-reduced numbers) and write nothing. A stop
asked of any rank (Ctrl-C) is shared at the next step, so all ranks stop together.

FSDP on CPU processes: accelerate (1.x) files CPU processes under MULTI_CPU, which has no
FSDP path, so a launch that asks for FSDP silently trains plain DDP there (every rank
holds the whole model), and its FSDP1 path refuses CPUs outright ("sync_module_states ...
not supported on cpu"). torch's FSDP2 (`fully_shard`) does shard on CPUs over gloo, so
for an FSDP2 launch on CPUs we keep the process group we start here and file it where
accelerate's FSDP path takes it (cpu_fsdp2_launch). The run's log then says how the
parameters are held, and warns when a launch asked for sharding that did not happen.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from core.training.recorder import RunRecorder


@dataclass(frozen=True)
class World:
    rank: int
    size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """This process's place, from the variables torchrun and accelerate launch set."""
    return World(int(os.environ.get("RANK") or 0), int(os.environ.get("WORLD_SIZE") or 1))


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def launch_engine() -> str:
    """What `accelerate launch` was asked for (it passes it on in the environment):
    "deepspeed", "fsdp" or "ddp"."""
    if _env_flag("ACCELERATE_USE_DEEPSPEED"):
        return "deepspeed"
    if _env_flag("ACCELERATE_USE_FSDP"):
        return "fsdp"
    return "ddp"


def cpu_fsdp2_launch(device: str) -> bool:
    """An FSDP2 launch of several CPU processes: the one case where the Trainer must keep
    the process group we configure (TrainingArguments' use_configured_state), or it would
    rebuild it as MULTI_CPU and train DDP."""
    fsdp_version = os.environ.get("FSDP_VERSION", "1").strip()
    return (
        device == "cpu"
        and current_world().distributed
        and launch_engine() == "fsdp"
        and fsdp_version.isdigit()
        and int(fsdp_version) >= 2
    )


def join_process_group(device: str) -> None:
    """Start the process group the Trainer then uses (gloo on CPUs, nccl on GPUs), early,
    so that rank 0 can hand its run id to the others before training starts."""
    # accelerate is heavy: loaded when a model is
    from accelerate import PartialState

    # accelerate is heavy: loaded when a model is
    from accelerate.utils import DistributedType

    state = PartialState(cpu=device == "cpu")
    if cpu_fsdp2_launch(device) and state.distributed_type == DistributedType.MULTI_CPU:
        # Filed as a multi-device group (still gloo, still the CPU), so that accelerate's
        # FSDP branch picks it up and applies fully_shard over a CPU mesh; see the top.
        state.distributed_type = DistributedType.MULTI_GPU


def share_from_main(value):
    """Rank 0's `value` on every rank."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def stop_on_every_rank(control) -> None:
    """At a step's end: if any rank was asked to stop, every rank stops at this step."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    import torch.distributed as dist

    # accelerate is heavy: loaded when a model is
    from accelerate import PartialState

    flag = torch.tensor([1 if control.stop_requested else 0], device=PartialState().device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item() and not control.stop_requested:
        control.request_stop("Stopped on another process of the distributed run.")


def parameter_layout(model, world_size: int) -> tuple[str, bool]:
    """(how this process holds the model's parameters, whether they are sharded)."""
    total = local = 0
    sharded = False
    for parameter in model.parameters():
        if hasattr(parameter, "to_local"):  # an FSDP2 DTensor: this rank's shard
            sharded = True
            total += parameter.numel()
            local += parameter.to_local().numel()
        elif hasattr(parameter, "ds_numel"):  # a DeepSpeed ZeRO-3 partition
            sharded = True
            total += parameter.ds_numel
            local += parameter.ds_tensor.numel()
        else:
            total += parameter.numel()
            local += parameter.numel()
    if not sharded:
        return f"each of the {world_size} processes holds all {total:,} parameters", False
    return (
        f"parameters sharded over {world_size} processes: this one holds {local:,} of {total:,}",
        True,
    )


def report_layout(trainer, recorder) -> None:
    """Log, when training starts (after accelerate has wrapped the model), how the
    processes hold the model, and warn if the launch asked for sharding that did not
    happen (a silently unsharded run needs the memory of an unsharded one)."""
    # transformers is heavy: loaded when a model is
    from transformers import TrainerCallback

    world = current_world()

    class _LayoutReport(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            engine = str(getattr(trainer.accelerator, "distributed_type", "")).rsplit(".", 1)[-1]
            line, _sharded = parameter_layout(trainer.model, world.size)
            recorder.log(f"distributed: {engine}; {line}")
            asked = launch_engine()
            if asked != "ddp" and engine != asked.upper():
                recorder.log(
                    f"the launch asked for {asked}, but accelerate trains these processes as "
                    f"{engine} ({line}): each needs the memory of an unsharded run",
                    logging.WARNING,
                )

    trainer.add_callback(_LayoutReport())


class FollowerRecorder(RunRecorder):
    """A rank other than 0: tracks what rank 0 records (the advisor's decisions depend on
    it) and writes nothing, so the run's files and rows are written once."""

    def __init__(self, project, run_id, folder, observer) -> None:  # no files opened

        self.project = project
        self.run_id = run_id
        self.folder = folder
        self.row_key = None
        self.observer = observer
        self._start_tracking()

    def notify(self, method: str, *args) -> None:
        callback = getattr(self.observer, method, None)
        if callback is not None:
            try:
                callback(*args)
            except Exception:
                pass

    def log(self, message, level=None) -> None:
        pass

    def mark_resumed(self, step: int) -> None:
        pass

    def record(self, record):
        self._track(record)
        return self.advisor.observe(record) if self.advisor is not None else []

    def add_advice(self, advice) -> None:
        self.advice.append(advice)

    def checkpoint_saved(self, step, path, duration_s) -> None:
        pass

    def close(self) -> None:
        pass
