"""The peak GPU memory of our real training step, simulated on the CPU without weights.

core.training's own model loading and the stage's trainer (SFTTrainer; DPOTrainer in
dpo_step; GRPOTrainer in grpo_step, its answers generated with the KV cache to their full
length) run one or two optimizer steps over
FakeTensors on a pretend CUDA GPU (fake_cuda) while every live tensor is counted
(tracker): the allocated peak torch.cuda.max_memory_allocated() would report, for any
architecture, method, batch and sequence length, in seconds. It cross-checks the analytic
estimator (tests/test_estimate_simulate*.py) and answers `finetune-studio estimate
--simulate`. What it cannot see (the CUDA context, the caching allocator's reserve) is
what the estimator's breakdown lists as named overheads.

Runs in its own process (see worker.py): the fake GPU cannot be undone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.training.simulate.fake_cuda import unavailable_reason

GIB = 1024**3


class SimulationError(RuntimeError):
    """The simulation could not run or failed for one case; the message says why."""


@dataclass(frozen=True)
class SimulatedPeak:
    peak_bytes: int  # tensors plus the kernel workspace of the op at the peak
    tensors_bytes: int  # tensors alone (what FakeTensors show)
    workspace_bytes: int  # scratch memory of the CUDA kernel running at the peak
    static_bytes: int  # weights, adapters and buffers before the first step
    peak_op: str  # where the peak was reached
    trainable_params: int
    total_params: int
    optimizer: str
    seconds: float
    paged_bytes: int = 0  # paged optimizer states in managed memory (not in the peak)
    live_at_peak: tuple = ()  # (made by which op, bytes) at the peak, when explained
    train_seconds: float = 0.0  # trainer.train() alone (the steps, without building)

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / GIB

    def as_dict(self) -> dict:
        return {
            "peak_gb": round(self.peak_gib, 3),
            "tensors_gb": round(self.tensors_bytes / GIB, 3),
            "workspace_gb": round(self.workspace_bytes / GIB, 3),
            "paged_gb": round(self.paged_bytes / GIB, 3),
            "static_gb": round(self.static_bytes / GIB, 3),
            "peak_op": self.peak_op,
            "trainable_params": self.trainable_params,
            "total_params": self.total_params,
            "optimizer": self.optimizer,
            "seconds": self.seconds,
        }


def simulation_unavailable() -> str | None:
    """Why the simulation cannot run on this machine (one line), or None."""
    return unavailable_reason()


def _project_root() -> str:
    return str(Path(__file__).resolve().parents[3])


def simulate_peaks(
    cases: list[tuple[dict, object]], steps: int = 2, timeout_s: float = 1800
) -> list[SimulatedPeak | SimulationError]:
    """Simulate each (model config.json dict, TrainConfig) in one worker process.

    A case that fails gives a SimulationError in its place; a worker that cannot start or
    times out raises SimulationError.
    """
    if not cases:
        return []
    request = {
        "steps": steps,
        "cases": [
            {"model_config": dict(model_config), "train_config": config.as_dict()}
            for model_config, config in cases
        ],
    }
    with tempfile.TemporaryDirectory(prefix="finetune-simulate-") as folder:
        request_path = os.path.join(folder, "request.json")
        result_path = os.path.join(folder, "result.json")
        with open(request_path, "w", encoding="utf-8") as handle:
            json.dump(request, handle)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (_project_root(), env.get("PYTHONPATH", "")) if part
        )
        env.setdefault("HF_HUB_OFFLINE", "1")  # the simulation never needs the network
        env.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            finished = subprocess.run(
                [sys.executable, "-m", "core.training.simulate.worker", request_path, result_path],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SimulationError(
                f"the simulation took longer than {timeout_s:.0f} s: use a smaller batch or "
                "sequence length"
            ) from None
        try:
            with open(result_path, encoding="utf-8") as handle:
                raw = json.load(handle)
        except (OSError, ValueError):
            tail = (finished.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise SimulationError(
                f"the simulation process failed (exit {finished.returncode}): {tail[0][:300]}"
            ) from None
    results: list[SimulatedPeak | SimulationError] = []
    for item in raw:
        if "error" in item:
            results.append(SimulationError(item["error"]))
        else:
            item["live_at_peak"] = tuple(tuple(pair) for pair in item.get("live_at_peak", ()))
            results.append(SimulatedPeak(**item))
    return results


def simulate_peak(model_config: dict, config, steps: int = 2) -> SimulatedPeak:
    """One simulation; SimulationError with the reason when it cannot be done."""
    (result,) = simulate_peaks([(model_config, config)], steps)
    if isinstance(result, SimulationError):
        raise result
    return result
