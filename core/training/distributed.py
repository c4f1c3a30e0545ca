"""Training under a distributed launcher (`accelerate launch`, torchrun): which process this
is, and the little coordination the run record needs.

Every process trains; rank 0 alone keeps the record: the run folder, the database row,
metrics, advice and log (the Trainer already writes checkpoints and the final model from
rank 0 only). The other ranks follow: they take rank 0's run id, make the same decisions
(the losses they are shown are the same all-reduced numbers) and write nothing. A stop
asked of any rank (Ctrl-C) is shared at the next step, so all ranks stop together.
"""

from __future__ import annotations

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


def join_process_group(device: str) -> None:
    """Start the process group the Trainer then uses (gloo on CPUs, nccl on GPUs), early,
    so that rank 0 can hand its run id to the others before training starts."""
    from accelerate import PartialState

    PartialState(cpu=device == "cpu")


def share_from_main(value):
    """Rank 0's `value` on every rank."""
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def stop_on_every_rank(control) -> None:
    """At a step's end: if any rank was asked to stop, every rank stops at this step."""
    import torch
    import torch.distributed as dist
    from accelerate import PartialState

    flag = torch.tensor([1 if control.stop_requested else 0], device=PartialState().device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item() and not control.stop_requested:
        control.request_stop("Stopped on another process of the distributed run.")


class FollowerRecorder(RunRecorder):
    """A rank other than 0: tracks what rank 0 records (the advisor's decisions depend on
    it) and writes nothing, so the run's files and rows are written once."""

    def __init__(self, project, run_id, folder, observer) -> None:  # no files opened
        import threading

        self.project = project
        self.run_id = run_id
        self.folder = folder
        self.row_key = None
        self.observer = observer
        self.advisor = None
        self.advice = []
        self.peak_memory = None
        self.memory_kind = ""
        self.best_val = None
        self.last_val = None
        self.last_train = None
        self.steps_done = 0
        self._lock = threading.Lock()

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
