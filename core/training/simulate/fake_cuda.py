"""A pretend CUDA GPU for FakeTensors, so that the real training step can be traced without one.

FakeTensors carry shapes, dtypes and devices but no data, so transformers, PEFT, TRL and
bitsandbytes (whose fake kernels cover NF4) run their real code and allocate every tensor
they would allocate on a GPU, in seconds and without memory. A CPU-only torch build lacks
four things for tensors on "cuda": a device guard, an accelerator for the autograd
engine's stream bookkeeping, CUDA's choice of attention kernel, and the fused CUDA kernels
of a few ops, which would otherwise run as their decomposition with temporaries a GPU never
allocates (SiLU's backward). The first two are patched into libc10 / libtorch_cpu with
ctypes; this depends on torch's C++ layout, so it is allowed only on the torch versions it
was checked on (KNOWN_TORCH). A CUDA build of torch has all four and gets only the
Python-level answers to "is there a GPU?".

Everything here changes the process for good: it runs only in the simulation's own worker
process (core.training.simulate.worker), never in the app or the test process.
"""

from __future__ import annotations

import atexit
import ctypes
import math
import os
import platform
import types

from core.training.simulate.tracker import uncount

# torch releases whose C++ layout the ctypes patches were checked against.
KNOWN_TORCH = ("2.13.",)
SIMULATED_GPU_GIB = 80
_keep: list = []  # ctypes objects that C++ points at: they must live as long as the process
_installed = False


def unavailable_reason() -> str | None:
    """Why the simulation cannot run here (one line), or None when it can."""
    try:
        import torch  # torch is heavy: imported when first needed
    except ImportError:
        return "the simulation needs torch, which is not installed"
    for name in ("transformers", "peft", "trl"):
        try:
            __import__(name)
        except ImportError:
            return f"the simulation needs {name}, which is not installed"
    if torch.version.cuda:
        return None  # a CUDA build has a device guard, an accelerator and CUDA's SDPA choice
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return (
            f"the simulation patches torch's CPU-only build on Linux x86-64 only, not on "
            f"{platform.system()} {platform.machine()}"
        )
    if not torch.__version__.startswith(KNOWN_TORCH):
        return (
            f"the simulation is checked on torch {' / '.join(v + 'x' for v in KNOWN_TORCH)} "
            f"(CPU build); this is torch {torch.__version__}: install a checked version or "
            "a CUDA build"
        )
    return None


def _torch_lib(name: str):
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    return ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", name))


def _install_device_guard() -> None:
    """FakeTensorMode swaps in c10's FakeGuardImpl for CUDA only where some guard is
    registered (`if (p && p->deviceCount() == 0)`); the CPU build registers none, so every
    DeviceGuard on a cuda tensor raises. Register a dummy whose deviceCount() is 0; torch
    itself then installs its FakeGuardImpl over it."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    registry = (ctypes.c_void_p * 2).in_dll(
        _torch_lib("libc10.so"), "_ZN3c104impl26device_guard_impl_registryE"
    )
    if not registry[1]:
        zero = ctypes.CFUNCTYPE(ctypes.c_int8, ctypes.c_void_p)(lambda self: 0)
        vtable = (ctypes.c_void_p * 64)(*([ctypes.cast(zero, ctypes.c_void_p).value] * 64))
        dummy = ctypes.c_void_p(ctypes.addressof(vtable))  # a C++ object is its vtable pointer
        _keep.extend([zero, vtable, dummy])
        registry[1] = ctypes.addressof(dummy)
    torch._C._ensureCUDADeviceGuardSet()
    if not registry[1] or registry[1] == ctypes.addressof(_keep[-1]):
        raise RuntimeError("torch did not install its fake CUDA device guard")


# Slots of AcceleratorHooksInterface's vtable after the two destructor slots (torch 2.13).
_SLOT_IS_BUILT, _SLOT_HAS_PRIMARY_CONTEXT = 2, 4


def _install_accelerator() -> None:
    """The autograd engine asks at::getAccelerator() (CUDAHooks.isBuilt()) before its stream
    bookkeeping for cuda tensors. Give the default CUDA hooks object a copy of its vtable
    whose isBuilt() and hasPrimaryContext() say yes; streams and events then go to the fake
    guard, which does nothing."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    accelerator = torch._C._accelerator_getAccelerator()
    if accelerator is not None and accelerator.type == "cuda":
        return
    lib = _torch_lib("libtorch_cpu.so")

    def hooks(symbol: str) -> int:
        function = getattr(lib, symbol)
        function.restype = ctypes.c_void_p
        return function()

    cuda = hooks("_ZN2at6detail12getCUDAHooksEv")
    xpu = hooks("_ZN2at6detail11getXPUHooksEv")

    def vptr(obj: int) -> int:
        return ctypes.c_void_p.from_address(obj).value

    def slot(table: int, index: int) -> int:
        return ctypes.c_void_p.from_address(table + 8 * index).value

    # Neither default hooks object overrides isBuilt(): if they differ the layout is not the
    # one this was written for, and patching would corrupt the process.
    if slot(vptr(cuda), _SLOT_IS_BUILT) != slot(vptr(xpu), _SLOT_IS_BUILT):
        raise RuntimeError("unexpected CUDA hooks layout in this torch build")
    count = 128  # more than CUDAHooksInterface's virtual functions; with offset-to-top and RTTI
    copy = (ctypes.c_void_p * (count + 2))(*[slot(vptr(cuda), i) for i in range(-2, count)])
    yes = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p)(lambda self: True)
    yes_for = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_int8)(lambda s, i: True)
    copy[2 + _SLOT_IS_BUILT] = ctypes.cast(yes, ctypes.c_void_p).value
    copy[2 + _SLOT_HAS_PRIMARY_CONTEXT] = ctypes.cast(yes_for, ctypes.c_void_p).value
    _keep.extend([copy, yes, yes_for])
    original = vptr(cuda)
    ctypes.c_void_p.from_address(cuda).value = ctypes.addressof(copy) + 16
    # Put the real vtable back before the interpreter frees the ctypes thunks.
    atexit.register(lambda: setattr(ctypes.c_void_p.from_address(cuda), "value", original))
    if torch._C._accelerator_getAccelerator().type != "cuda":
        raise RuntimeError("the fake CUDA accelerator did not take")


# Ops with a CUDA kernel in a CUDA build of torch and a CompositeImplicitAutograd
# decomposition besides (the CPU build has only their CPU kernel).
FUSED_ON_CUDA = ("silu_backward", "mish_backward")


def _install_fused_backward_kernels() -> None:
    """The CPU build has no CUDA kernel for silu_backward, so for "cuda" tensors the
    dispatcher takes its decomposition (sigmoid, 1 + x * (1 - sigmoid), three products):
    temporaries as large as the MLP's hidden layer, which a GPU never allocates (its kernel
    writes the gradient alone) and which made a SwiGLU MLP's backward the simulated peak.
    Registering a CUDA kernel makes the op dispatch whole, to FakeTensorMode's meta kernel,
    as on a CUDA build; FakeTensors never reach a backend kernel, so it never runs."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    def unreachable(*args, **kwargs):
        raise RuntimeError("the simulation ran a CUDA kernel on a CPU-only torch build")

    library = torch.library.Library("aten", "IMPL")
    for name in FUSED_ON_CUDA:
        library.impl(name, unreachable, "CUDA")
    _keep.append(library)  # the registration lasts as long as the library object


def _sdpa_backend(query, key, value, attn_mask, enable_gqa):
    """What CUDA's select_sdp_backend picks on an Ampere-or-newer card: flash, then
    memory-efficient, then math, reduced to the rules that matter for LLM training."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    from torch.nn.attention import SDPBackend

    backends = torch.backends.cuda
    head_dim, dtype = query.shape[-1], query.dtype
    grouped = query.shape[-3] != key.shape[-3]
    if (
        backends.flash_sdp_enabled()
        and attn_mask is None
        and dtype in (torch.float16, torch.bfloat16)
        and head_dim <= 256
        and value.shape[-1] == head_dim
        and (not grouped or enable_gqa)
    ):
        return SDPBackend.FLASH_ATTENTION
    if backends.mem_efficient_sdp_enabled() and not grouped:
        return SDPBackend.EFFICIENT_ATTENTION
    return SDPBackend.MATH


def _make_fake_cuda_sdpa(original):
    """F.scaled_dot_product_attention for fake cuda tensors. The CPU build's dispatcher finds
    no fused CUDA kernel and silently takes the math path (a full fp32 score matrix); mirror
    the CUDA branch of ATen's attention.cpp instead."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    from torch.nn.attention import SDPBackend

    def sdpa(
        query,
        key,
        value,
        attn_mask=None,
        dropout_p=0.0,
        is_causal=False,
        scale=None,
        enable_gqa=False,
    ):
        if query.device.type != "cuda":
            return original(
                query,
                key,
                value,
                attn_mask=attn_mask,
                dropout_p=dropout_p,
                is_causal=is_causal,
                scale=scale,
                enable_gqa=enable_gqa,
            )
        if torch.is_autocast_enabled("cuda"):
            dtype = torch.get_autocast_dtype("cuda")
            query, key, value = (t.to(dtype) for t in (query, key, value))
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            attn_mask = torch.where(attn_mask, 0.0, float("-inf")).to(query.dtype)
        choice = _sdpa_backend(query, key, value, attn_mask, enable_gqa)
        head_dim = query.shape[-1]
        if choice == SDPBackend.FLASH_ATTENTION:
            pad = (-head_dim) % 8
            q, k, v = (
                torch.nn.functional.pad(t, (0, pad)) if pad else t for t in (query, key, value)
            )
            out = torch.ops.aten._scaled_dot_product_flash_attention(
                q,
                k,
                v,
                dropout_p,
                is_causal,
                False,
                scale=scale if scale is not None else 1.0 / math.sqrt(head_dim),
            )[0]
            return out[..., :head_dim] if pad else out
        if choice == SDPBackend.EFFICIENT_ATTENTION:
            need_lse = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
            if attn_mask is not None:  # aligned to 16 and expanded, as preprocess_mask does
                length, source = query.shape[-2], key.shape[-2]
                pad = (-source) % 16
                if pad:
                    attn_mask = torch.nn.functional.pad(attn_mask, (0, pad))[..., :source]
                attn_mask = attn_mask.expand(query.shape[0], query.shape[1], length, source)
            return torch.ops.aten._scaled_dot_product_efficient_attention(
                query, key, value, attn_mask, need_lse, dropout_p, is_causal, scale=scale
            )[0]
        return original(
            query,
            key,
            value,
            attn_mask=attn_mask,
            dropout_p=dropout_p,
            is_causal=is_causal,
            scale=scale,
            enable_gqa=enable_gqa,
        )

    return sdpa


def _pretend_cuda_runtime() -> None:
    """Trainer and accelerate pick their device with torch.cuda.is_available(): answer like
    one Hopper GPU. Only runtime queries are answered; no kernel runs (FakeTensors)."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    from torch._subclasses.fake_tensor import FakeTensorMode

    gib = 2**30
    properties = types.SimpleNamespace(
        major=9,
        minor=0,
        name="simulated GPU",
        total_memory=SIMULATED_GPU_GIB * gib,
        multi_processor_count=132,
    )
    cuda = torch.cuda
    cuda.is_available = lambda: True
    cuda.device_count = lambda: 1
    cuda.current_device = lambda: 0
    cuda.set_device = lambda device: None
    cuda.synchronize = lambda *args, **kwargs: None
    cuda.empty_cache = lambda: None
    cuda.get_device_capability = lambda *args, **kwargs: (9, 0)
    cuda.get_device_name = lambda *args, **kwargs: properties.name
    cuda.get_device_properties = lambda *args, **kwargs: properties
    cuda.mem_get_info = lambda *args, **kwargs: (properties.total_memory,) * 2
    cuda.memory_allocated = cuda.max_memory_allocated = lambda *args, **kwargs: 0
    cuda.is_bf16_supported = lambda *args, **kwargs: True
    # ... while FakeTensorMode keeps treating the machine as GPU-less (no device init).
    FakeTensorMode.avoid_device_init = property(lambda self: True)


def _trace_friendly_library_calls() -> None:
    """Two library calls that FakeTensors cannot take as they are (on any torch build)."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    from torch._subclasses import fake_impls

    # Trainer and PEFT move modules with Module.to; for FakeTensor parameters Module._apply
    # swaps tensors, which refuses ones with weak references (FakeTensorMode keeps some).
    # Move them in place instead, as Module.to did before tensor swapping.
    from torch._subclasses.fake_tensor import FakeTensor

    original_to = torch.nn.Module.to

    def to(self, *args, **kwargs):
        tensors = list(self.parameters()) + list(self.buffers())
        if not any(isinstance(t, FakeTensor) for t in tensors):
            return original_to(self, *args, **kwargs)
        device, dtype, _blocking, _fmt = torch._C._nn._parse_to(*args, **kwargs)

        def moved(tensor):
            target = dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
            where = device if device is not None else tensor.device
            same_place = tensor.device.type == where.type and where.index in (
                None,
                tensor.device.index,
            )
            if same_place and tensor.dtype == target:
                return None
            return tensor.detach().to(device=where, dtype=target)

        for module in self.modules():
            for name, param in list(module._parameters.items()):
                if param is not None and (new := moved(param)) is not None:
                    replacement = torch.nn.Parameter(new, requires_grad=param.requires_grad)
                    for key, value in param.__dict__.items():  # quant_state and friends,
                        if key not in replacement.__dict__:  # not FakeTensor's own fields
                            setattr(replacement, key, value)
                    module._parameters[name] = replacement
            for name, buffer in list(module._buffers.items()):
                if buffer is not None and (new := moved(buffer)) is not None:
                    module._buffers[name] = new
        return self

    torch.nn.Module.to = to

    # torch.optim picks its foreach (multi-tensor) implementation, as on a real GPU, only
    # for plain tensors; let FakeTensors count as plain so the same code path runs.
    from torch.optim import optimizer as optimizer_module

    if FakeTensor not in optimizer_module._foreach_supported_types:
        optimizer_module._foreach_supported_types.append(FakeTensor)

    # LLM.int8 splits out the activation columns above its threshold: how many depends on
    # the values, which a FakeTensor has none of. Real models have a handful (a few
    # kilobytes), so the simulation assumes none.
    try:
        import bitsandbytes  # noqa: F401  (defines the op)

        def int8_quant(A, threshold=0.0):
            out_row = torch.empty(A.shape, device=A.device, dtype=torch.int8)
            rows = A.numel() // A.shape[-1]
            row_stats = torch.empty(rows, device=A.device, dtype=torch.float32)
            if threshold == 0.0:
                return out_row, row_stats, None
            return out_row, row_stats, A.new_empty(0, dtype=torch.int64)

        def int8_mixed_mm(A, CA, CB, SCA, SCB, outlier_cols=None, bias=None):
            out = torch.empty((*CA.shape[:-1], CB.shape[0]), device=A.device, dtype=A.dtype)
            return out, A.new_empty(0, dtype=torch.int64)

        _fake_paged_memory()
        torch.library.register_fake("bitsandbytes::int8_vectorwise_quant", int8_quant)
        torch.library.register_fake("bitsandbytes::int8_mixed_scaled_mm", int8_mixed_mm)
    except ImportError:
        pass

    # .item() and bool(tensor) only feed logging and NaN filters in Trainer and TRL; a
    # FakeTensor has no value, so answer with a placeholder.
    def placeholder(fake_mode, func, arg):
        if arg.dtype == torch.bool:
            return True
        return 1.0 if arg.dtype.is_floating_point else 1

    fake_impls.op_implementations_dict[torch.ops.aten._local_scalar_dense.default] = placeholder


def _fake_paged_memory() -> None:
    """bitsandbytes' paged optimizers keep their states in CUDA managed memory through its
    C library, outside torch's allocator: give them fake GPU tensors that the tracker does
    not count (it keeps them as paged bytes), and make filling and prefetching no-ops."""
    # bitsandbytes is heavy: loaded for quantized models only
    import bitsandbytes.functional as bnb_functional

    # torch is heavy (seconds to import): loaded when a model is
    import torch

    def get_paged(*shape, dtype=torch.float32, device=None):
        out = torch.empty(shape, dtype=dtype, device="cuda")
        uncount(out)
        out.is_paged = True
        out.page_deviceid = 0
        return out

    original_fill = bnb_functional.fill

    def fill(A, value, device=None, prefetch=True):
        if getattr(A, "is_paged", False):
            return None
        return original_fill(A, value, device, prefetch)

    bnb_functional.get_paged = get_paged
    bnb_functional.fill = fill
    bnb_functional.prefetch_tensor = lambda A, to_cpu=False: None


def install() -> None:
    """Make this process able to trace training on fake "cuda" tensors (idempotent)."""
    global _installed
    if _installed:
        return
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    if not torch.version.cuda:
        _install_device_guard()
        _install_accelerator()
        _install_fused_backward_kernels()
        # autocast("cuda") refuses to switch on without a GPU, which would change dtypes.
        import torch.cuda.amp.common as amp_common

        amp_common.amp_definitely_not_available = lambda: False
        torch.nn.functional.scaled_dot_product_attention = _make_fake_cuda_sdpa(
            torch.nn.functional.scaled_dot_product_attention
        )
    # transformers looks at position_ids' values to find packed sequences; a FakeTensor has
    # none. Our simulated batches are full-length rows, so there is one sequence per row.
    import transformers.masking_utils as masking_utils

    masking_utils.find_packed_sequence_indices = lambda position_ids: None
    # TRL's chunked LM head folds each logits tile with a Triton kernel on GPUs, in place;
    # without Triton it uses torch ops that allocate (tokens x vocabulary) temporaries.
    try:
        import trl.kernels.chunked_logprob as chunked

        chunked._forward_tile = chunked._backward_tile = lambda *args, **kwargs: None
    except ImportError:
        pass
    if not torch.cuda.is_available():
        _pretend_cuda_runtime()
    _trace_friendly_library_calls()
    _installed = True
