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

import psutil

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
    # torch is heavy (seconds to import): loaded when a model is
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
            import torch  # torch is heavy: imported when first needed

            return int(torch.cuda.memory_allocated())
        return int(psutil.Process().memory_info().rss)
    except Exception:  # memory is shown as unknown rather than failing a reply
        return None


def _byte_fallback_ids(tokenizer) -> frozenset[int]:
    """The ids of a SentencePiece vocabulary's byte tokens "<0x00>" to "<0xFF>" (none in a
    byte-level BPE one, where unknown strings map to the unknown token or to None)."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    if tokenizer.convert_tokens_to_ids("<0x80>") in (None, unknown):
        return frozenset()  # (one look-up instead of 256 for every reply of a BPE model)
    ids = tokenizer.convert_tokens_to_ids([f"<0x{byte:02X}>" for byte in range(256)])
    return frozenset(i for i in ids if i is not None and i != unknown)


def _special_ids(tokenizer) -> frozenset[int]:
    """The ids that decode(skip_special_tokens=True) drops."""
    ids = set(getattr(tokenizer, "all_special_ids", []))
    added = getattr(tokenizer, "added_tokens_decoder", {})
    ids.update(i for i, token in added.items() if getattr(token, "special", False))
    return frozenset(ids)


class IncrementalDecoder:
    """Turns a growing list of token ids into the new text, decoding a short window each time.

    Decoding the whole reply for every token costs O(n^2) over a reply; this decodes only
    the tokens of the last piece handed out (as context) plus those not handed out yet, and
    hands out what the new tokens add (the technique of text-generation-inference). The
    context keeps the window's decode consistent with the full one: a SentencePiece decoder
    drops the leading space of the first token it decodes, and dropping it from the context
    on both sides of the comparison leaves the new text's own spaces intact. Text ending in
    half a UTF-8 character (U+FFFD; byte-level BPE splits emoji and CJK across tokens) is held
    back until a later token completes it, so the window always starts where the decoder
    starts afresh. The pieces joined equal `decode(tokens, skip_special_tokens=True)`;
    `finish` checks that with one full decode.
    """

    # Held-back text normally waits a token or three (a character is at most 4 bytes). A
    # model that emits stray bytes keeps the text ending in U+FFFD for good; past this many
    # held tokens, everything but the last few is handed out where that is provably final,
    # so the window, and the work per token, stays bounded.
    _HELD_AT_MOST = 8
    _KEPT_BACK = 4  # tokens after a split: at least 4 bytes, more than a character can lack

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self._context = 0  # the window starts here: the tokens of the last piece handed out
        self._read = 0  # tokens before this have been handed out as text
        self._context_text: str | None = None  # decode(tokens[_context:_read]), kept while held
        self._pieces: list[str] = []
        self.full_text: str | None = None  # set by finish()
        # A WordPiece-style clean-up ("word ." -> "word.") can remove a space already handed
        # out once the next token arrives, so text that ends within 3 characters after a
        # space is held back too. transformers ignores the flag for BPE tokenizers; holding
        # then only delays text, it never changes it.
        self._cleans_spaces = bool(getattr(tokenizer, "clean_up_tokenization_spaces", False))
        # A SentencePiece byte-fallback decoder turns a whole run of byte tokens (<0xF0>...)
        # into U+FFFDs when any byte in it is invalid, a complete emoji before it included;
        # so nothing is handed out while the run may still go on.
        self._byte_tokens = _byte_fallback_ids(tokenizer)
        self._skipped = _special_ids(tokenizer)  # dropped by decode: they do not end a run

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def add(self, tokens: Sequence[int]) -> str:
        """The text that `tokens` complete ("" while it would end mid-character)."""
        self.tokens.extend(tokens)
        if len(self.tokens) == self._read or self._in_byte_run():
            return ""  # (a run of byte tokens is not even decoded until it ends)
        if self._context_text is None:
            self._context_text = self._decode(self.tokens[self._context : self._read])
        before = self._context_text
        text = self._decode(self.tokens[self._context :])
        if not text.endswith("\ufffd"):
            return self._take(before, text, len(self.tokens))
        if len(self.tokens) - self._read > self._HELD_AT_MOST:
            return self._take_settled(before, text)
        return ""

    def _take_settled(self, before: str, text: str) -> str:
        """Hand out the text up to a few tokens from the end, if it is final there.

        A split whose two halves decode to the whole is a point where the decoder starts
        afresh; with 4 bytes or more after it, any half character before it has met the byte
        that ends it, so no later token can change the text before it.
        """
        split = len(self.tokens) - self._KEPT_BACK
        head = self._decode(self.tokens[self._context : split])
        if head + self._decode(self.tokens[split:]) != text:
            return ""
        return self._take(before, head, split)

    def _take(self, before: str, text: str, upto: int) -> str:
        """Hand out what `text` (tokens[_context:upto] decoded) adds to `before`."""
        if (
            len(text) <= len(before)
            or not text.startswith(before)  # a decoder that rewrote the context: wait
            or (self._cleans_spaces and " " in text[-4:])
        ):
            return ""
        piece = text[len(before) :]
        self._context, self._read = self._read, upto
        self._context_text = None
        self._pieces.append(piece)
        return piece

    def _in_byte_run(self) -> bool:
        if not self._byte_tokens:
            return False
        # Text is only handed out once a run has ended, so the tokens not handed out yet
        # tell whether one is going on.
        for token in reversed(self.tokens[self._read :]):
            if token not in self._skipped:
                return token in self._byte_tokens
        return False

    def finish(self) -> str:
        """The rest of the text, held back so far; `full_text` is then the whole decode."""
        self.full_text = self._decode(self.tokens)
        sent = "".join(self._pieces)
        # Never seen with the tokenizers tested; were a decoder to rewrite text already
        # handed out, the rest could not be expressed as an addition, and the reply's text
        # (what is saved) is the full decode regardless.
        rest = self.full_text[len(sent) :] if self.full_text.startswith(sent) else ""
        if rest:
            self._pieces.append(rest)
        return rest


class _TextStreamer:
    """Receives token ids from generate() and hands out the new text as it grows.

    generate() first puts the prompt (skipped here), then one token per step; the text is
    decoded incrementally (see IncrementalDecoder).
    """

    def __init__(self, tokenizer, stop_ids: Sequence[int], on_text: OnText | None) -> None:
        self.decoder = IncrementalDecoder(tokenizer)
        self.stop_ids = set(stop_ids)
        self.on_text = on_text
        self.ended = False  # an end-of-turn token arrived
        self.first_token_at: float | None = None
        self._prompt_seen = False

    @property
    def tokens(self) -> list[int]:
        return self.decoder.tokens

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        kept = []
        for token in value.reshape(-1).tolist():
            if self.ended:
                break
            if token in self.stop_ids:
                self.ended = True
            else:
                kept.append(token)
        self._hand_out(self.decoder.add(kept))

    def end(self) -> None:
        self._hand_out(self.decoder.finish())

    def text(self) -> str:
        if self.decoder.full_text is not None:
            return self.decoder.full_text
        return self.decoder.tokenizer.decode(self.tokens, skip_special_tokens=True)

    def _hand_out(self, piece: str) -> None:
        if piece and self.on_text is not None:
            self.on_text(piece)


def generate_reply(
    loaded: LoadedModel,
    messages: Sequence[dict],
    settings: ChatSettings,
    on_text: OnText | None = None,
    cancelled: Cancelled | None = None,
) -> Reply:
    """The model's reply to `messages`, streamed to `on_text` piece by piece."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
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
