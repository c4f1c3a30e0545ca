"""Counting the bytes of every live CUDA tensor while the real training step runs.

The simulated counterpart of torch.cuda.max_memory_allocated(): each storage is rounded up
to the caching allocator's 512-byte blocks and counted from its creation until its last
reference dies. Real CUDA kernels also allocate scratch memory that no tensor shows
(flash-attention's backward accumulators, bitsandbytes' dequantized weight); those are
added at the op that needs them and reported separately as kernel workspaces.
"""

from __future__ import annotations

import gc
import weakref
from functools import cache

BLOCK = 512  # the CUDA caching allocator's smallest block


def round_block(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def kernel_workspace_bytes(op_name: str, args) -> int:
    """Bytes a real CUDA kernel allocates inside `op_name` that no output tensor shows."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    try:
        if op_name.startswith("aten._scaled_dot_product_flash_attention_backward"):
            query, key = args[1], args[2]  # (grad_out, q, k, v, ...), all (B, H, S, D)
            batch, heads, seq, dim = query.shape
            kv_heads, kv_seq = key.shape[1], key.shape[2]
            seq_rounded = -(-seq // 128) * 128
            dim_rounded = -(-dim // 32) * 32 if dim <= 128 else -(-dim // 64) * 64
            space = round_block(batch * heads * seq_rounded * 4)  # softmax_d
            space += round_block(batch * seq_rounded * heads * dim_rounded * 4)  # dq accumulator
            if kv_heads != heads:  # grouped K/V gradients are computed per query head first
                space += 2 * round_block(batch * kv_seq * heads * dim * query.element_size())
            return space
        if op_name.startswith(
            (
                "aten._efficient_attention_backward",
                "aten._scaled_dot_product_efficient_attention_backward",
            )
        ):
            query = args[1]
            if query.dtype != torch.float32:  # an fp32 accumulator for the query gradient
                return round_block(query.numel() * 4)
        if op_name.startswith("bitsandbytes.gemm_4bit"):
            inputs, shape = args[0], args[2]
            rows = inputs.numel() // inputs.shape[-1]
            if rows > 512:  # the CUDA path dequantizes the weight and calls F.linear
                return round_block(shape[0] * shape[1] * inputs.element_size())
    except (AttributeError, IndexError, TypeError, ValueError):
        return 0
    return 0


_ACTIVE: list = []  # the trackers counting now (one in practice)


def uncount(tensor) -> None:
    """Stop counting `tensor`: memory torch's allocator does not hold (bitsandbytes' paged
    optimizer states live in CUDA managed memory), kept as paged bytes instead."""
    key = tensor.untyped_storage()._cdata
    for tracker in _ACTIVE:
        size = tracker.live.pop(key, None)
        if size is not None:
            tracker.current -= size
            tracker.paged += size
            tracker._refs.pop(key, None)
            tracker._made_by.pop(key, None)


def active_tracker():
    """The tracker counting now, or None (a stage's step names its phases on it)."""
    return _ACTIVE[-1] if _ACTIVE else None


def new_peak_tracker(explain: bool = False, device_type: str = "cuda"):
    """A new tracker; the class is built on first use so that importing this module does
    not import torch (core modules stay light for the window)."""
    return _tracker_class()(explain, device_type)


@cache
def _tracker_class():
    # torch is heavy (seconds to import): loaded when a model is
    from torch.utils._python_dispatch import TorchDispatchMode

    # torch is heavy (seconds to import): loaded when a model is
    from torch.utils._pytree import tree_flatten

    class PeakTracker(TorchDispatchMode):
        """Live bytes of CUDA storages, their peak, and where the peak was reached.

        Frees are seen through a weak reference on each storage: PyTorch keeps one Python
        object per storage, so the callback fires exactly when the storage dies.
        """

        def __init__(self, explain: bool = False, device_type: str = "cuda") -> None:
            super().__init__()
            self.device_type = device_type  # whose tensors count (cpu: the reduced real run)
            self.explain = explain  # keep, at the peak, the live bytes by the op that made them
            self._made_by: dict[int, str] = {}
            self._op = ""
            self.live_at_peak: list[tuple[str, int]] = []
            self.live: dict[int, int] = {}
            self._refs: dict[int, weakref.ref] = {}
            self.current = 0
            self.peak = 0  # tensors plus the workspace of the op running at that moment
            self.peak_tensors = 0  # tensors alone
            self.peak_workspace = 0  # the workspace part of `peak`
            self.peak_op = ""
            self.phase = "setup"
            self.paged = 0  # bytes in managed memory (paged optimizer states), not counted

        def __enter__(self):
            _ACTIVE.append(self)
            return super().__enter__()

        def __exit__(self, *exc):
            _ACTIVE.remove(self)
            return super().__exit__(*exc)

        def _add(self, tensor) -> None:
            # torch is heavy (seconds to import): loaded when a model is
            import torch

            if not isinstance(tensor, torch.Tensor) or tensor.device.type != self.device_type:
                return
            storage = tensor.untyped_storage()
            key = storage._cdata
            if key in self.live:
                return
            size = round_block(storage.nbytes())
            self.live[key] = size
            self.current += size
            if self.explain:
                self._made_by[key] = f"{self.phase}: {self._op}"

            def gone(_ref, key=key):
                self.current -= self.live.pop(key, 0)
                self._made_by.pop(key, None)
                self._refs.pop(key, None)

            self._refs[key] = weakref.ref(storage, gone)

        def reset_peak(self) -> None:
            gc.collect()
            self.peak = self.peak_tensors = self.current
            self.peak_workspace = 0
            self.peak_op = ""

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self._op = str(func)
            out = func(*args, **(kwargs or {}))
            for item in tree_flatten(out)[0]:
                self._add(item)
            name = str(func)
            workspace = kernel_workspace_bytes(name, args)
            self.peak_tensors = max(self.peak_tensors, self.current)
            if self.current + workspace > self.peak:
                self.peak = self.current + workspace
                self.peak_workspace = workspace
                self.peak_op = f"{self.phase}: {name}"
                if self.explain:
                    totals: dict[str, int] = {}
                    for key, size in self.live.items():
                        made_by = self._made_by.get(key, "before tracking")
                        totals[made_by] = totals.get(made_by, 0) + size
                    self.live_at_peak = sorted(totals.items(), key=lambda item: -item[1])[:12]
            return out

    return PeakTracker
