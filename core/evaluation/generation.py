"""Batched, deterministic answers from one model, and its log-loss on the reference answers.

Prompts are left-padded (a decoder-only model continues from the right edge) and
batched by length so little compute goes to padding. Greedy decoding is the default,
so the same model, prompts and settings give the same answers; the seed is recorded
for sampled runs. Every batch checks `cancelled()` and reports `progress`.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.evaluation.eval_set import EvalExample
from core.evaluation.models import ModelSpec
from core.models.load_lock import model_loading
from core.models.remote_code import trust_remote_code_for

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]


class EvaluationCancelled(Exception):
    """The user cancelled; nothing was stored."""


@dataclass(frozen=True)
class GenerationConfig:
    """How answers are generated; stored with every result."""

    max_new_tokens: int = field(
        default=256, metadata={"help": "The longest answer, in tokens; longer ones are cut off."}
    )
    batch_size: int = field(
        default=8, metadata={"help": "Prompts generated together; lower it if memory runs out."}
    )
    greedy: bool = field(
        default=True,
        metadata={"help": "Always pick the most likely next token, so results are reproducible."},
    )
    temperature: float = field(
        default=0.7, metadata={"help": "Randomness when not greedy (higher: more varied)."}
    )
    top_p: float = field(
        default=0.95,
        metadata={"help": "When not greedy, sample only from this share of probability."},
    )
    seed: int = field(default=0, metadata={"help": "Random seed, recorded with the results."})

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.greedy and not self.temperature > 0:
            raise ValueError("temperature must be above 0 when sampling")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Generation:
    answer: str
    n_tokens: int
    finished: bool  # ended on its own (end-of-turn token) rather than at max_new_tokens


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    device: str
    spec: ModelSpec


def _pick_device() -> str:
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _tokenizer_folder(spec: ModelSpec) -> str:
    """An adapter saved with its tokenizer (maybe a new chat template) uses that one."""
    if spec.adapter and any(
        (Path(spec.adapter) / name).is_file()
        for name in ("tokenizer.json", "tokenizer_config.json")
    ):
        return spec.adapter
    return spec.base_model


def load_model(spec: ModelSpec, device: str | None = None) -> LoadedModel:
    """The model and tokenizer for `spec`, on the GPU when there is one, ready to generate."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or _pick_device()
    dtype = torch.float32
    if device == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    tokenizer_folder = _tokenizer_folder(spec)
    tokenizer = AutoTokenizer.from_pretrained(
        tokenizer_folder, trust_remote_code=trust_remote_code_for(tokenizer_folder)
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    with model_loading():
        model = AutoModelForCausalLM.from_pretrained(
            spec.base_model, dtype=dtype, trust_remote_code=trust_remote_code_for(spec.base_model)
        )
        if spec.kind == "adapter":
            # peft is heavy: loaded when a model is
            from peft import PeftModel

            if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
                model.resize_token_embeddings(len(tokenizer))
            model = PeftModel.from_pretrained(model, spec.adapter)
    model.to(device)
    model.eval()
    return LoadedModel(model, tokenizer, device, spec)


def prompt_messages(example: EvalExample, system_prompt: str | None) -> list[dict]:
    """The example's prompt, with the spec's system prompt in place of the set's own."""
    messages = [dict(m) for m in example.prompt]
    if system_prompt:
        messages = [m for m in messages if m["role"] != "system"]
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def render_prompt(tokenizer, messages: list[dict], answer: str | None = None) -> str:
    """The text the model sees: its chat template, or plain 'role: text' lines without one."""
    conversation = messages + (
        [{"role": "assistant", "content": answer}] if answer is not None else []
    )
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=answer is None
        )
    text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
    if answer is not None:
        text += f" {answer}{tokenizer.eos_token or ''}"
    return text


def stop_token_ids(loaded: LoadedModel) -> list[int]:
    """The tokens that end a turn: the model's end-of-sequence ids and ChatML's <|im_end|>."""
    ids = set()
    for source in (loaded.model.generation_config.eos_token_id, loaded.tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif source:
            ids.update(source)
    end_of_turn = loaded.tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(end_of_turn, int) and end_of_turn != loaded.tokenizer.unk_token_id:
        ids.add(end_of_turn)
    return sorted(ids)


def _batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped by similar length (longest first, so memory trouble shows early)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def generate_answers(
    loaded: LoadedModel,
    examples: Sequence[EvalExample],
    config: GenerationConfig,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    progress_range: tuple[float, float] = (0.0, 1.0),
) -> list[Generation]:
    """One answer per example, in the examples' order."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    report = progress or (lambda fraction, message: None)
    stop_ids = stop_token_ids(loaded)
    tokenizer = loaded.tokenizer
    tokenizer.padding_side = "left"
    texts = [
        render_prompt(tokenizer, prompt_messages(e, loaded.spec.system_prompt)) for e in examples
    ]
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    results: list[Generation | None] = [None] * len(examples)
    start, end = progress_range
    done = 0
    torch.manual_seed(config.seed)
    sampling = (
        {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if config.greedy
        else {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p}
    )
    for batch in _batches([len(ids) for ids in encoded], config.batch_size):
        if cancelled and cancelled():
            raise EvaluationCancelled("Generation was cancelled; nothing was stored.")
        inputs = tokenizer.pad(
            {"input_ids": [encoded[i] for i in batch]}, padding=True, return_tensors="pt"
        ).to(loaded.device)
        with torch.inference_mode():
            output = loaded.model.generate(
                **inputs,
                max_new_tokens=config.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=stop_ids,
                **sampling,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        for row, index in zip(new_tokens, batch):
            stop_at = next((k for k, t in enumerate(row) if t in stop_ids), None)
            kept = row if stop_at is None else row[:stop_at]
            results[index] = Generation(
                answer=tokenizer.decode(kept, skip_special_tokens=True).strip(),
                n_tokens=len(kept),
                finished=stop_at is not None,
            )
        done += len(batch)
        report(
            start + (end - start) * done / len(examples),
            f"{loaded.spec.label}: answered {done} of {len(examples)} prompts",
        )
    return [r for r in results if r is not None]


@dataclass(frozen=True)
class ReferenceLoss:
    """Summed negative log-likelihood of a reference answer, given its prompt."""

    nll_sum: float
    n_tokens: int


def reference_losses(
    loaded: LoadedModel,
    examples: Sequence[EvalExample],
    batch_size: int = 8,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    progress_range: tuple[float, float] = (0.0, 1.0),
) -> list[ReferenceLoss | None]:
    """Per example, how surprised the model is by the reference answer (None: no reference)."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    report = progress or (lambda fraction, message: None)
    tokenizer = loaded.tokenizer
    pad_id = tokenizer.pad_token_id
    items = []  # (example position, full ids, number of prompt tokens)
    for position, example in enumerate(examples):
        if not example.reference:
            continue
        messages = prompt_messages(example, loaded.spec.system_prompt)
        prompt_ids = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)[
            "input_ids"
        ]
        full_ids = tokenizer(
            render_prompt(tokenizer, messages, example.reference), add_special_tokens=False
        )["input_ids"]
        # A template may render the prompt slightly differently once an answer follows;
        # the loss starts where the two token sequences part.
        shared = 0
        for x, y in zip(prompt_ids, full_ids):
            if x != y:
                break
            shared += 1
        if shared < len(full_ids):
            items.append((position, full_ids, shared))
    losses: list[ReferenceLoss | None] = [None] * len(examples)
    start, end = progress_range
    for number, batch in enumerate(_batches([len(i[1]) for i in items], batch_size), start=1):
        if cancelled and cancelled():
            raise EvaluationCancelled("Evaluation was cancelled; nothing was stored.")
        rows = [items[k] for k in batch]
        width = max(len(ids) for _, ids, _ in rows)
        # Right padding: position ids then match the unpadded sequence exactly.
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        for r, (_, ids, shared) in enumerate(rows):
            input_ids[r, : len(ids)] = torch.tensor(ids)
            attention[r, : len(ids)] = 1
            labels[r, shared : len(ids)] = torch.tensor(ids[shared:])
        with torch.inference_mode():
            logits = loaded.model(
                input_ids=input_ids.to(loaded.device), attention_mask=attention.to(loaded.device)
            ).logits.float()
        shifted_logits = logits[:, :-1, :]
        shifted_labels = labels[:, 1:].to(loaded.device)
        token_nll = torch.nn.functional.cross_entropy(
            shifted_logits.reshape(-1, shifted_logits.shape[-1]),
            shifted_labels.reshape(-1),
            ignore_index=-100,
            reduction="none",
        ).view(len(rows), -1)
        mask = shifted_labels != -100
        for r, (position, _, _) in enumerate(rows):
            losses[position] = ReferenceLoss(float(token_nll[r][mask[r]].sum()), int(mask[r].sum()))
        report(
            start + (end - start) * number / max(1, math.ceil(len(items) / batch_size)),
            f"{loaded.spec.label}: perplexity on the reference answers",
        )
    return losses


def release(loaded: LoadedModel) -> None:
    """Free the model's memory before the next one loads (matters on a GPU)."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    loaded.model = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
