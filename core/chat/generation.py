"""One chat reply from one model, streamed piece by piece as it is generated.

The model sees the conversation through its own chat template (or plain "role: text"
lines without one). `generate_reply` runs `model.generate` in the calling thread and
hands each new piece of text to `on_text`; `cancelled()` is checked after every token,
so Stop ends a reply within one decoding step. The seed is set right before generating,
so the same model, conversation, settings and seed give the same reply.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

from core.evaluation.generation import LoadedModel, load_model, render_prompt, stop_token_ids
from core.evaluation.models import ModelSpec

OnText = Callable[[str], None]
Cancelled = Callable[[], bool]


class ChatSettingsError(ValueError):
    """A chat setting out of range, with the range."""


@dataclass(frozen=True)
class ChatSettings:
    """How replies are generated; kept with each conversation."""

    system_prompt: str = field(
        default="",
        metadata={"help": "Instructions put before the conversation, for every model (optional)."},
    )
    temperature: float = field(
        default=0.0,
        metadata={
            "help": "Randomness of the reply: 0 always picks the most likely token (the same "
            "reply every time); 0.7 is a common setting for varied replies."
        },
    )
    top_p: float = field(
        default=0.95,
        metadata={"help": "When sampling, pick only from the most likely tokens up to this share."},
    )
    max_new_tokens: int = field(
        default=256, metadata={"help": "The longest reply, in tokens; longer ones are cut off."}
    )
    seed: int = field(
        default=0,
        metadata={"help": "Random seed: the same seed and settings give the same reply."},
    )

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 5:
            raise ChatSettingsError(f"temperature must be between 0 and 5, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ChatSettingsError(f"top_p must be above 0 and at most 1, got {self.top_p}")
        if not 1 <= self.max_new_tokens <= 32_768:
            raise ChatSettingsError(
                f"max_new_tokens must be between 1 and 32768, got {self.max_new_tokens}"
            )
        if self.seed < 0:
            raise ChatSettingsError(f"seed must be 0 or more, got {self.seed}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> ChatSettings:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


@dataclass(frozen=True)
class Reply:
    text: str
    n_tokens: int
    seconds: float  # from the call to the last token
    first_token_seconds: float | None  # latency to the first token of the reply
    finished: bool  # ended on its own (end-of-turn token) rather than at max_new_tokens
    stopped: bool  # the user pressed Stop

    @property
    def tokens_per_second(self) -> float:
        return self.n_tokens / self.seconds if self.seconds > 0 else 0.0


def conversation_messages(
    system_prompt: str, history: Sequence[tuple[str, str]], prompt: str
) -> list[dict]:
    """The messages one model sees: the system prompt, its own earlier turns, the new prompt."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for user, assistant in history:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "user", "content": prompt})
    return messages


def load_chat_model(spec: ModelSpec, device: str | None = None) -> LoadedModel:
    """The model and tokenizer for `spec` (base, adapter on base, or full), ready to chat."""
    return load_model(spec, device)


def cpu_thread_count(cores: int | None = None) -> int:
    """Threads for CPU generation: one core left free on small machines.

    Measured on a 2-core machine (see core/training/device.py): 1 thread was much faster
    than 2, because the second thread fights the GUI and the OS for the only other core.
    """
    cores = cores or os.cpu_count() or 1
    return max(1, cores - 1) if cores <= 4 else cores


@contextlib.contextmanager
def generation_threads(device: str) -> Iterator[int | None]:
    """Generate on the CPU with cpu_thread_count() threads; the old count comes back after."""
    import torch

    if device != "cpu":
        yield None
        return
    before = torch.get_num_threads()
    wanted = cpu_thread_count()
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(before)


def memory_in_use(device: str) -> int | None:
    """Bytes in use: the GPU's allocated memory, or this process's resident memory on the CPU."""
    try:
        if device == "cuda":
            import torch

            return int(torch.cuda.memory_allocated())
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # memory is shown as unknown rather than failing a reply
        return None


class _TextStreamer:
    """Receives token ids from generate() and hands out the new text as it grows.

    generate() first puts the prompt (skipped here), then one token per step. Text that
    ends in half a UTF-8 character (shown as U+FFFD) is held back until it is complete.
    """

    def __init__(self, tokenizer, stop_ids: Sequence[int], on_text: OnText | None) -> None:
        self.tokenizer = tokenizer
        self.stop_ids = set(stop_ids)
        self.on_text = on_text
        self.tokens: list[int] = []
        self.ended = False  # an end-of-turn token arrived
        self.sent = ""
        self.first_token_at: float | None = None
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        for token in value.reshape(-1).tolist():
            if self.ended:
                break
            if token in self.stop_ids:
                self.ended = True
            else:
                self.tokens.append(token)
        self._hand_out(final=False)

    def end(self) -> None:
        self._hand_out(final=True)

    def text(self) -> str:
        return self.tokenizer.decode(self.tokens, skip_special_tokens=True)

    def _hand_out(self, final: bool) -> None:
        text = self.text()
        if not final and text.endswith("\ufffd"):
            return
        if text.startswith(self.sent) and len(text) > len(self.sent):
            piece = text[len(self.sent) :]
            self.sent = text
            if self.on_text is not None:
                self.on_text(piece)


def generate_reply(
    loaded: LoadedModel,
    messages: Sequence[dict],
    settings: ChatSettings,
    on_text: OnText | None = None,
    cancelled: Cancelled | None = None,
) -> Reply:
    """The model's reply to `messages`, streamed to `on_text` piece by piece."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _StopWhenCancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            stop = bool(cancelled and cancelled())
            return torch.full(
                (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
            )

    started = time.perf_counter()
    tokenizer = loaded.tokenizer
    text = render_prompt(tokenizer, list(messages))
    inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt").to(loaded.device)
    stop_ids = stop_token_ids(loaded)
    streamer = _TextStreamer(tokenizer, stop_ids, on_text)
    sampling = (
        {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if settings.greedy
        else {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
    )
    with generation_threads(loaded.device), torch.inference_mode():
        torch.manual_seed(settings.seed)
        loaded.model.generate(
            **inputs,
            max_new_tokens=settings.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=stop_ids,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_StopWhenCancelled()]),
            **sampling,
        )
    seconds = time.perf_counter() - started
    stopped = bool(cancelled and cancelled()) and not streamer.ended
    first = streamer.first_token_at - started if streamer.first_token_at is not None else None
    return Reply(
        text=streamer.text(),
        n_tokens=len(streamer.tokens),
        seconds=seconds,
        first_token_seconds=first,
        finished=streamer.ended,
        stopped=stopped,
    )
