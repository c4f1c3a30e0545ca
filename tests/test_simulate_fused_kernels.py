"""The simulated GPU runs an activation's backward as one fused kernel, as a GPU does.

torch's CPU-only build has no CUDA kernel for silu_backward (nor mish_backward); for the
simulated GPU's "cuda" tensors the dispatcher took their decomposition instead: separate
steps, each a temporary as large as the MLP's hidden activation, which no GPU allocates.
Every SwiGLU model (Llama, Mistral, Qwen, Mixtral) was over-counted where its peak fell in
that backward. Runs in a child process: the fake GPU changes torch for good.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.training.simulate import simulation_unavailable

REASON = simulation_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no simulation here: {REASON}")

REPO = Path(__file__).resolve().parent.parent
# One MLP tile's hidden activation (4,096 tokens x Llama-2-7B's 11,008), in fp32 as on a
# quantized base whose stream is upcast.
CHILD = """
import json, torch
from torch._subclasses.fake_tensor import FakeTensorMode
from core.training.simulate import fake_cuda
from core.training.simulate.tracker import new_peak_tracker

fake_cuda.install()
found = {}
with FakeTensorMode(allow_non_fake_inputs=True):
    for name in ("silu", "mish"):
        x = torch.empty(4096, 11008, device="cuda", dtype=torch.float32, requires_grad=True)
        y = getattr(torch.nn.functional, name)(x)
        grad = torch.empty_like(y)
        tracker = new_peak_tracker()
        with tracker:  # counts what the backward allocates: the input's gradient at least
            y.backward(grad)
        # the gradient's rounding to the allocator's blocks is within a kilobyte
        found[name] = {"peak": tracker.peak, "hidden": x.numel() * 4, "op": tracker.peak_op}
print(json.dumps(found))
"""


def test_activation_backward_allocates_only_the_gradient():
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for name, figures in found.items():
        # One kernel writes the gradient and nothing else: no hidden-sized temporary
        # (sigmoid, 1 + x * (1 - sigmoid), the products) lives beside it.
        assert figures["peak"] < 1.01 * figures["hidden"], (name, figures)
        assert f"{name}_backward" in figures["op"], (name, figures)


def test_every_op_that_would_decompose_on_fake_cuda_is_fused():
    """An op with a CPU kernel and a CompositeImplicitAutograd decomposition has a CUDA
    kernel in a CUDA build, but the CPU build sends "cuda" tensors to the decomposition.
    In torch 2.13 those are silu_backward and mish_backward (and channel shuffle, which no
    language model calls); a torch upgrade that adds one fails here."""
    import torch

    from core.training.simulate.fake_cuda import FUSED_ON_CUDA

    decomposed = set()
    for name in torch._C._dispatch_get_all_op_names():
        if not name.startswith("aten::"):
            continue
        op = name.split("::", 1)[1].split(".")[0]
        try:
            if torch._C._dispatch_has_kernel_for_dispatch_key(
                name, "CompositeImplicitAutograd"
            ) and torch._C._dispatch_has_kernel_for_dispatch_key(name, "CPU"):
                decomposed.add(op)
        except RuntimeError:  # an overload name the query does not take
            continue
    assert decomposed - {"native_channel_shuffle"} <= set(FUSED_ON_CUDA), decomposed
    assert set(FUSED_ON_CUDA) <= decomposed
