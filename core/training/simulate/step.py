"""Our real training step (model loading, SFTTrainer, PEFT, bitsandbytes) on a simulated GPU.

The model is built from its config.json with the dtype, quantization and post-load
preparation core.training uses, the trainer with core.training's own SFTConfig mapping and
LoRA config, and `trainer.train()` runs a few optimizer steps over full-length rows, all on
FakeTensors on the pretend GPU of fake_cuda. Only in the simulation's worker process.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from core.models.load_lock import model_loading
from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
from core.training.model_loading import (
    count_parameters,
    model_load_kwargs,
    prepare_loaded_model,
    quiet_progress_bars,
)
from core.training.real_steps import steps_trainer
from core.training.simulate import fake_cuda
from core.training.simulate.tracker import new_peak_tracker

SIMULATED_TOKEN = 3  # any id below the vocabulary size: the values are never read
WORD = "a"  # the simulated token as text (the stages whose trainers tokenize text)
EOS = "</s>"


def simulated_plan(config: TrainConfig, device: str = "cuda") -> DevicePlan:
    """The device plan the trainer makes on a CUDA GPU with bf16 (Ampere or newer), or on
    the CPU (fp32) for the reduced real run."""
    if device == "cpu":
        return DevicePlan("cpu", "fp32", "float32", config.effective_optimizer("cpu"), "CPU")
    precision = "bf16" if config.precision == "auto" else config.precision
    compute = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[precision]
    return DevicePlan(
        "cuda", precision, compute, config.effective_optimizer("cuda"), "simulated GPU"
    )


def word_tokenizer():
    """A tokenizer with pad and EOS tokens and one word (WORD, the simulated token): words
    split at spaces, one token each, so a text row's length in tokens is exact. The SFT
    rows are token ids already; DPO's and GRPO's trainers tokenize text."""
    # tokenizers is heavy: loaded when text is tokenized
    from tokenizers import Tokenizer, models, pre_tokenizers

    # transformers is heavy: loaded when a model is
    from transformers import PreTrainedTokenizerFast

    vocabulary = {"<unk>": 0, "<pad>": 1, EOS: 2, WORD: SIMULATED_TOKEN}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token=EOS
    )


def masks_select_every_element() -> None:
    """Boolean-mask selections whose size depends on values a FakeTensor has none of pick
    every element: an upper bound on small bookkeeping tensors (DPOTrainer's metrics pick
    the answer tokens, logits[mask], whose log-probabilities are summed with the mask as a
    product instead; GRPOTrainer picks among the answers' lengths and rewards)."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    from torch._subclasses import fake_impls

    # torch is heavy (seconds to import): loaded when a model is
    from torch._subclasses.fake_tensor import FakeTensor

    def every_element(fake_mode, func, arg):
        meta = torch.empty((arg.numel(), arg.dim()), dtype=torch.int64, device="meta")
        return FakeTensor(fake_mode, meta, arg.device)

    fake_impls.op_implementations_dict[torch.ops.aten.nonzero.default] = every_element


def frozen_reference(model):
    """Full fine-tuning's reference: the frozen second copy TRL loads from the model's path
    in the policy's dtype (DPOTrainer's and GRPOTrainer's create_model_from_path), built
    from the same config on the policy's device here, as the simulation has no weights to
    load."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    # transformers is heavy: loaded when a model is
    from transformers import AutoModelForCausalLM

    # Plain meta tensors, as step._meta_model builds the policy's: FakeTensorMode's own
    # would hold weak references that to_empty cannot swap.
    with unset_fake_temporarily(), model_loading(), torch.device("meta"):
        reference = AutoModelForCausalLM.from_config(model.config, dtype=model.dtype)
    reference = reference.to_empty(device=model.device)
    reference.tie_weights()  # to_empty unties a shared embedding and head (see step)
    return reference.eval().requires_grad_(False)


def _meta_model(model_config: dict, load_kwargs: dict):
    """The model on the meta device, quantized as from_pretrained would quantize it."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    from transformers import AutoConfig, AutoModelForCausalLM

    # "_source" and other notes of ours are not config fields.
    values = {k: v for k, v in model_config.items() if not k.startswith("_")}
    model_type = values.pop("model_type")
    config = AutoConfig.for_model(model_type, **values)
    # from_config sets the process-wide default dtype while it builds: one load at a time.
    with model_loading(), torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=load_kwargs["dtype"])
    quant = load_kwargs.get("quantization_config")
    if quant is not None:
        # transformers is heavy: loaded when a model is
        from transformers.integrations.bitsandbytes import replace_with_bnb_linear

        keep = ["lm_head"]
        if getattr(model, "_keep_in_fp32_modules", None):
            keep += list(model._keep_in_fp32_modules)
        model = replace_with_bnb_linear(
            model, modules_to_not_convert=keep, quantization_config=quant
        )
        model.is_loaded_in_4bit = bool(quant.load_in_4bit)
        model.is_loaded_in_8bit = bool(quant.load_in_8bit)
        model.is_quantized = True
        model.quantization_method = "bitsandbytes"
        # transformers is heavy: loaded when a model is
        from transformers.quantizers import AutoHfQuantizer

        model.hf_quantizer = AutoHfQuantizer.from_config(quant, pre_quantized=False)
    return model


def _materialize(model, load_kwargs: dict, device: str = "cuda", random: bool = False):
    """Allocate every weight on `device` (the fake GPU inside FakeTensorMode), quantizing as
    bnb does; `random` fills real weights with small random values."""
    # bitsandbytes is heavy: loaded for quantized models only
    import bitsandbytes as bnb

    # torch is heavy (seconds to import): loaded when a model is
    import torch

    quant = load_kwargs.get("quantization_config")
    four_bit, eight_bit = {}, []
    if quant is not None:
        for module in model.modules():
            if isinstance(module, bnb.nn.Linear4bit):
                weight = module.weight
                four_bit[module] = {
                    "quant_type": weight.quant_type,
                    "blocksize": weight.blocksize,
                    "compress_statistics": weight.compress_statistics,
                    "quant_storage": weight.quant_storage,
                }
            elif isinstance(module, bnb.nn.Linear8bitLt):
                eight_bit.append(module)
        # bnb builds its 8-bit code book with .tolist(): build it for real, outside fake mode.
        with torch._subclasses.fake_tensor.unset_fake_temporarily():
            functional = bnb.functional
            functional.name2qmap.setdefault("dynamic", functional.create_dynamic_map())
    model = model.to_empty(device=device)
    if random:
        with torch.no_grad():
            for parameter in model.parameters():
                if parameter.is_floating_point():
                    parameter.normal_(0.0, 0.02)
    # to_empty gives each module its own new tensor, which unties a shared embedding and
    # LM head; from_pretrained ties them again after loading, and so do we.
    model.tie_weights()
    compute = load_kwargs["dtype"]
    for module, spec in four_bit.items():
        # Params4bit cannot wrap a FakeTensor, so quantize with the functional API and hang
        # the QuantState on a plain parameter; Linear4bit.forward only reads quant_state.
        full = torch.empty(module.weight.shape, dtype=compute, device=device)
        if random:
            full.normal_(0.0, 0.02)
        packed, state = bnb.functional.quantize_4bit(full, **spec)
        del full
        weight = torch.nn.Parameter(packed, requires_grad=False)
        weight.quant_state = module.quant_state = state
        for name, value in spec.items():  # PEFT reads these when it wraps the layer
            setattr(weight, name, value)
        module.weight = weight
    for module in eight_bit:
        # LLM.int8: an int8 matrix and an fp32 scale per output row (Int8Params.CB / SCB).
        rows, cols = module.weight.shape
        weight = torch.nn.Parameter(
            torch.empty(rows, cols, dtype=torch.int8, device=device), requires_grad=False
        )
        weight.CB = weight.data
        weight.SCB = torch.ones(rows, dtype=torch.float32, device=device)
        module.weight = weight
    return model


def _collate_on_the_cpu(trainer) -> None:
    """The collator runs on the CPU with real token ids (TRL's packing looks at positions);
    only the model's tensors on the GPU are fake."""
    # torch is heavy (seconds to import): loaded when a model is
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    collate = trainer.data_collator

    def real_collate(features):
        with unset_fake_temporarily():
            return collate(features)

    trainer.data_collator = real_collate


def _drop_full_attention_mask(trainer) -> None:
    """The rows are unpadded, so the collator's attention mask is all ones and transformers
    drops it on a GPU (causal SDPA, flash). It decides with a data-dependent `.all()` that a
    FakeTensor cannot answer, so drop it here, keeping the positions TRL counts tokens from."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    original = trainer._prepare_inputs

    def prepare(inputs):
        if isinstance(inputs, list):  # GRPO's prompts: its generated batch is its own
            return original(inputs)
        inputs = dict(inputs)
        mask = inputs.pop("attention_mask", None)
        if mask is not None and "position_ids" not in inputs:
            inputs["position_ids"] = torch.arange(mask.shape[1]).expand(mask.shape[0], -1)
        return original(inputs)

    trainer._prepare_inputs = prepare


def sft_steps_trainer(
    config: TrainConfig, plan: DevicePlan, model, output: Path, steps: int, check_host_ram: bool
):
    """The SFT stage's trainer (real_steps) over full-length rows of one token."""
    # datasets is heavy: loaded when data is tokenized
    from datasets import Dataset

    rows = config.micro_batch_size * config.gradient_accumulation * steps
    row = [SIMULATED_TOKEN] * config.max_seq_length
    dataset = Dataset.from_dict({"input_ids": [row] * rows, "labels": [row] * rows})
    # No loss is logged (.item() cannot read a FakeTensor); the host RAM check is the real
    # run's, the simulation counts the GPU alone.
    trainer = steps_trainer(
        config,
        plan,
        model,
        dataset,
        word_tokenizer(),
        output,
        steps,
        log_every=10**6,
        check_host_ram=check_host_ram,
        extra_args={"dataloader_pin_memory": False},
    )
    _drop_full_attention_mask(trainer)
    return trainer


def run_simulated_steps(
    model_config: dict,
    config: TrainConfig,
    steps: int = 2,
    explain: bool = False,
    device: str = "fake",
    build_trainer=sft_steps_trainer,
) -> dict:
    """Peak memory of `steps` optimizer steps of our trainer, in bytes.

    device "fake": simulated on FakeTensors (the default); "cuda": the same code on a real
    GPU with random weights, adding torch.cuda's own peaks; "cpu": a real run on the CPU
    (fp32, small models only), which checks this code path where no GPU is.
    build_trainer(config, plan, model, output, steps, check_host_ram): the stage's trainer
    over its own full-length rows (sft_steps_trainer; dpo_step for DPO).
    """
    # torch is heavy (seconds to import): loaded when a model is
    from torch._subclasses.fake_tensor import FakeTensorMode

    fake = device == "fake"
    if fake:
        fake_cuda.install()
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    where = "cpu" if device == "cpu" else "cuda"
    plan = simulated_plan(config, where)
    load_kwargs = model_load_kwargs(config, plan)
    model = _meta_model(model_config, load_kwargs)
    output = Path(tempfile.mkdtemp(prefix="finetune-simulate-"))
    gc.collect()
    gc.freeze()  # the model's many Python objects would make every later collection slow
    try:
        mode = FakeTensorMode(allow_non_fake_inputs=True) if fake else contextlib.nullcontext()
        with quiet_progress_bars(), mode:
            tracker = new_peak_tracker(explain=explain, device_type=where)
            with tracker:
                model = _materialize(model, load_kwargs, where, random=not fake)
                model = prepare_loaded_model(model, config)
                # The run's own trainer for these steps.
                trainer = build_trainer(config, plan, model, output, steps, device == "cpu")
                _collate_on_the_cpu(trainer)
                trainable, total = count_parameters(trainer.model)
                tracker.reset_peak()
                static = tracker.current
                tracker.phase = "train"
                if device == "cuda":
                    # torch is heavy (seconds to import): loaded when a model is
                    import torch

                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                train_started = time.perf_counter()
                trainer.train()
                train_seconds = time.perf_counter() - train_started
                result = {
                    "peak_bytes": tracker.peak,
                    "tensors_bytes": tracker.peak_tensors,
                    "workspace_bytes": tracker.peak_workspace,
                    "paged_bytes": tracker.paged,
                    "static_bytes": static,
                    "peak_op": tracker.peak_op,
                    "trainable_params": trainable,
                    "total_params": total,
                    "optimizer": str(trainer.args.optim.value),
                    "live_at_peak": [[made_by, size] for made_by, size in tracker.live_at_peak],
                    "train_seconds": round(train_seconds, 3),
                }
                if device == "cuda":  # the real card's own figures beside the tracker's
                    result["cuda_max_allocated_bytes"] = torch.cuda.max_memory_allocated()
                    result["cuda_max_reserved_bytes"] = torch.cuda.max_memory_reserved()
            del trainer, model
    finally:
        gc.unfreeze()

        shutil.rmtree(output, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result
