"""Memory savers change memory, not the training (issue 18).

Each saver on against the same run with it off, on the tiny model with real peft LoRA and
real bitsandbytes QLoRA (4-bit works on the CPU), built by the trainer's own loading, LoRA
config, SFTConfig mapping and saver code: the loss and every trainable gradient of one
training step, then the losses of three real optimizer steps (trainer.train()).

Tolerances (measured on this CPU: no upcast 8e-6 loss / 0.7 % gradients, tiled MLP in
bf16 0.18 % gradients, in fp32 1e-7; offloading bit-equal):
- 16-bit frozen parts (bf16 QLoRA): loss within 0.1 %, gradients within 2 % (relative
  L2 over all adapter gradients): the norms now run on bf16 weights.
- activation offloading: equal (the same tensors, moved and back).
- tiled MLP: fp32 within 1e-5, bf16 within 1 % (matmuls over tiles round differently).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch

from core.recipe.config import TrainConfig
from core.training import memory_savers
from core.training.device import DevicePlan
from core.training.sft_args import Schedule, build_sft_kwargs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEQ = 96
ROWS = 8
TILE = 32  # tokens per MLP tile in these tests: 2 x 96 tokens make 6 tiles


def cpu_plan(precision: str) -> DevicePlan:
    compute = {"bf16": "bfloat16", "fp32": "float32"}[precision]
    return DevicePlan("cpu", precision, compute, "adamw_torch", "CPU")


def run_steps(model_dir: Path, method: str, precision: str, **savers):
    """(loss of one step, {name: gradient}, losses of 3 optimizer steps, trainer notes)."""
    from datasets import Dataset
    from trl import SFTTrainer

    from core.training.lora_targets import resolve_targets
    from core.training.model_loading import (
        drop_console_printer,
        load_base_model,
        load_tokenizer,
        lora_config,
        match_adapter_dtype,
        quiet_progress_bars,
    )
    from core.training.sft_args import build_sft_config, trainer_tokenizer_kwarg

    settings = {"lora_dropout": 0.0, **savers}
    config = TrainConfig(
        base_model=str(model_dir),
        train_file="rows.jsonl",
        method=method,
        precision=precision,
        micro_batch_size=2,
        gradient_accumulation=1,
        max_seq_length=SEQ,
        gradient_checkpointing=True,
        max_steps=3,
        optimizer="adamw_torch",
        warmup_ratio=0.0,
        packing=False,
        preflight=False,
        **settings,
    )
    plan = cpu_plan(precision)
    torch.manual_seed(0)
    with quiet_progress_bars():
        model = load_base_model(config, plan, model_dir)
        generator = torch.Generator().manual_seed(1)
        rows = torch.randint(5, model.config.vocab_size, (ROWS, SEQ), generator=generator)
        dataset = Dataset.from_dict({"input_ids": rows.tolist(), "labels": rows.tolist()})
        schedule = Schedule(
            log_every=1, eval_every=0, save_every=10**9, keep_checkpoints=1, load_best_at_end=False
        )
        kwargs, _ = build_sft_kwargs(config, plan, schedule, Path(tempfile.mkdtemp()), False, 0)
        kwargs["save_strategy"] = "no"
        trainer = SFTTrainer(
            model=model,
            args=build_sft_config(**kwargs),
            train_dataset=dataset,
            peft_config=lora_config(config, resolve_targets(config, model)),
            **trainer_tokenizer_kwarg(load_tokenizer(model_dir)),
        )
    drop_console_printer(trainer)
    match_adapter_dtype(trainer.model, plan)
    notes = memory_savers.apply_memory_savers(trainer, config, "cpu")
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    loss = float(trainer.training_step(trainer.model, batch))
    grads = {
        name: param.grad.detach().float().clone()
        for name, param in trainer.model.named_parameters()
        if param.requires_grad
    }
    trainer.model.zero_grad()
    trainer.train()
    losses = [record["loss"] for record in trainer.state.log_history if "loss" in record]
    return loss, grads, losses, notes, trainer


def relative_gradient_error(a: dict, b: dict) -> float:
    assert a.keys() == b.keys() and a
    diff = sum(float(((a[k] - b[k]) ** 2).sum()) for k in a) ** 0.5
    norm = sum(float((a[k] ** 2).sum()) for k in a) ** 0.5
    assert norm > 0, "the step produced no gradient at all"
    return diff / norm


def assert_same_training(base, other, loss_tol: float, grad_tol: float) -> None:
    assert abs(other[0] - base[0]) <= loss_tol * abs(base[0])
    assert relative_gradient_error(base[1], other[1]) <= grad_tol
    assert len(other[2]) == len(base[2]) == 3
    for a, b in zip(base[2], other[2], strict=True):
        assert abs(a - b) <= loss_tol * abs(a)


@pytest.fixture(scope="module")
def qlora_bf16_baseline(tiny_model_dir):
    return run_steps(tiny_model_dir, "qlora", "bf16")


def test_frozen_16bit_keeps_norms_and_embeddings_16bit_and_trains_the_same(
    tiny_model_dir, qlora_bf16_baseline
):
    upcast_model = qlora_bf16_baseline[4].model
    upcast = {p.dtype for n, p in upcast_model.named_parameters() if "norm" in n}
    assert upcast == {torch.float32}  # PEFT's prepare_model_for_kbit_training today
    saver = run_steps(tiny_model_dir, "qlora", "bf16", frozen_16bit="on")
    model = saver[4].model
    frozen = [p for p in model.parameters() if not p.requires_grad and p.is_floating_point()]
    assert frozen and {p.dtype for p in frozen} == {torch.bfloat16}
    assert model.get_input_embeddings().weight.dtype == torch.bfloat16
    assert model.is_gradient_checkpointing
    assert_same_training(qlora_bf16_baseline, saver, loss_tol=1e-3, grad_tol=2e-2)


def test_activation_offloading_trains_exactly_the_same(tiny_model_dir, qlora_bf16_baseline):
    saver = run_steps(tiny_model_dir, "qlora", "bf16", offload_activations="on")
    assert isinstance(saver[4].maybe_activation_offload_context, torch.autograd.graph.save_on_cpu)
    assert any("offloaded to CPU RAM" in note for note in saver[3])
    assert_same_training(qlora_bf16_baseline, saver, loss_tol=0.0, grad_tol=0.0)


def test_tiled_mlp_runs_in_tiles_and_gives_the_same_gradients(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(memory_savers, "MLP_TILE_TOKENS", TILE)
    seen: list[int] = []
    original = memory_savers._tiled_mlp_forward

    def counting(forward, tile_tokens):
        def counted(hidden_states, *args, **kwargs):
            seen.append(hidden_states.shape[:-1].numel())
            return forward(hidden_states, *args, **kwargs)

        return original(counted, tile_tokens)

    base = run_steps(tiny_model_dir, "lora", "fp32")
    monkeypatch.setattr(memory_savers, "_tiled_mlp_forward", counting)
    tiled = run_steps(tiny_model_dir, "lora", "fp32", tiled_mlp="on")
    assert any("2 MLPs run in tiles" in note for note in tiled[3])
    assert seen and max(seen) <= TILE  # never the whole 2 x 96 tokens at once
    assert_same_training(base, tiled, loss_tol=1e-5, grad_tol=1e-5)


def test_tiled_mlp_in_bf16_qlora(tiny_model_dir, qlora_bf16_baseline, monkeypatch):
    monkeypatch.setattr(memory_savers, "MLP_TILE_TOKENS", TILE)
    tiled = run_steps(tiny_model_dir, "qlora", "bf16", tiled_mlp="on")
    assert_same_training(qlora_bf16_baseline, tiled, loss_tol=1e-3, grad_tol=1e-2)


def test_all_savers_together_on_lora(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(memory_savers, "MLP_TILE_TOKENS", TILE)
    base = run_steps(tiny_model_dir, "lora", "fp32")
    both = run_steps(
        tiny_model_dir, "lora", "fp32", tiled_mlp="on", offload_activations="on", frozen_16bit="on"
    )
    assert_same_training(base, both, loss_tol=1e-5, grad_tol=1e-5)


def test_auto_means_off_in_the_trainer(tiny_model_dir):
    """A saver still "auto" when the trainer is built was not picked: nothing changes."""
    _loss, _grads, _losses, notes, trainer = run_steps(tiny_model_dir, "lora", "fp32")
    assert notes == []
    assert not isinstance(
        trainer.maybe_activation_offload_context, torch.autograd.graph.save_on_cpu
    )
    assert not any(
        getattr(m.forward, "tiled_mlp", False) for m in memory_savers.mlp_modules(trainer.model)
    )


def test_offload_host_ram_is_estimated_and_checked():
    # Llama-2-7B at 64k tokens: 32 layers x 65,536 tokens x 4,096 x 2 bytes = 16 GiB.
    needed = memory_savers.offloaded_host_bytes(32, 65_536, 4096)
    assert needed == 16 * 1024**3
    memory_savers.check_offload_fits_host(needed, 32 * 1024**3)
    with pytest.raises(memory_savers.MemorySaverError, match=r"16\.0 GiB of CPU RAM"):
        memory_savers.check_offload_fits_host(needed, 16 * 1024**3)


def test_tiled_mlp_leaves_a_mixture_of_experts_alone():
    from transformers import MixtralConfig, MixtralForCausalLM

    config = MixtralConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
    )
    model = MixtralForCausalLM(config)
    assert memory_savers.apply_tiled_mlp(model, 8) == 0


LIGER = {"liger_kernels": True, "base_model": "m", "train_file": "t.jsonl"}


def _sft_kwargs(config: TrainConfig, device: str) -> tuple[dict, list[str]]:
    plan = DevicePlan(device, "bf16", "bfloat16", "adamw_torch", device)
    schedule = Schedule(1, 0, 10, 1, False)
    return build_sft_kwargs(config, plan, schedule, Path("out"), False, 0)


def test_liger_switch_on_cuda_with_the_extra(monkeypatch):
    monkeypatch.setattr(memory_savers, "liger_kernels_available", lambda: True)
    kwargs, _notes = _sft_kwargs(TrainConfig(**LIGER), "cuda")
    assert kwargs.get("use_liger_kernel") is True
    kwargs, _ = _sft_kwargs(TrainConfig(**{**LIGER, "liger_kernels": False}), "cuda")
    assert "use_liger_kernel" not in kwargs


def test_liger_switch_says_why_not(monkeypatch):
    monkeypatch.setattr(memory_savers, "liger_kernels_available", lambda: False)
    kwargs, notes = _sft_kwargs(TrainConfig(**LIGER), "cuda")
    assert "use_liger_kernel" not in kwargs
    assert any("liger-kernel extra" in note for note in notes)
    kwargs, notes = _sft_kwargs(TrainConfig(**LIGER), "cpu")
    assert "use_liger_kernel" not in kwargs
    assert any("CUDA" in note for note in notes)
