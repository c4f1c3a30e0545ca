"""Loading models from two threads at once (an evaluation while an export merges).

transformers' from_pretrained swaps process-global state while it builds a model (the
default dtype, PreTrainedModel.tie_weights, torch.linspace): two loads that overlap can
restore each other's patched copies, leave tie_weights disabled for good, and hand back a
model whose tied lm_head never got its data ("Cannot copy out of meta tensor"). Every
from_pretrained path holds core.models.load_lock.model_loading; here two threads load the
tiny model many times through two of those paths and every load must be complete.
"""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LOADS_PER_THREAD = 12


def _saved_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _check_complete(model, saved) -> list[str]:
    import torch

    problems = []
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor.is_meta:
            problems.append(f"{name} is on the meta device")
    state = model.state_dict()
    for name, tensor in saved.items():
        if name not in state:
            problems.append(f"{name} missing")
        elif state[name].is_meta or not torch.equal(state[name].float(), tensor.float()):
            problems.append(f"{name} differs from the saved weights")
    head = model.get_output_embeddings().weight
    if head.is_meta or not torch.equal(head, model.get_input_embeddings().weight):
        problems.append("lm_head is not tied to the embeddings")
    return problems


def test_two_threads_loading_models_get_complete_models(tiny_model_dir):
    import torch
    from transformers import PreTrainedModel

    from core.evaluation.generation import load_model
    from core.evaluation.models import ModelSpec
    from core.recipe.config import TrainConfig
    from core.training.device import resolve_device
    from core.training.model_loading import load_base_model

    saved = _saved_weights(tiny_model_dir)
    tie_weights = PreTrainedModel.tie_weights
    default_dtype = torch.get_default_dtype()
    spec = ModelSpec(label="base", base_model=str(tiny_model_dir))
    config = TrainConfig(base_model=str(tiny_model_dir), method="full")
    plan = resolve_device(config)
    problems: list[str] = []
    start = threading.Barrier(2)

    def loads(name, load):
        start.wait()
        for i in range(LOADS_PER_THREAD):
            try:
                model = load()
            except Exception as error:  # the unsafe load raises in the other thread
                problems.append(f"{name} load {i}: {type(error).__name__}: {error}")
                continue
            problems.extend(f"{name} load {i}: {p}" for p in _check_complete(model, saved))

    threads = [
        threading.Thread(target=loads, args=("evaluation", lambda: load_model(spec, "cpu").model)),
        threading.Thread(
            target=loads, args=("training", lambda: load_base_model(config, plan, tiny_model_dir))
        ),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads)
        assert problems == []
        # Nothing transformers patches while loading stays patched afterwards.
        assert PreTrainedModel.tie_weights is tie_weights
        assert torch.get_default_dtype() == default_dtype
    finally:
        # A failed run must not break the tests after it in this process.
        PreTrainedModel.tie_weights = tie_weights
        torch.set_default_dtype(default_dtype)
