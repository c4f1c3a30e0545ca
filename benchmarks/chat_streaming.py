"""What streaming a chat reply costs: our path against a bare transformers generate call.

Ours is core.chat.generation.generate_reply (chat template, incremental decoding of every
token, a Stop check per token, the text handed to a callback). The baseline is a bare
`model.generate` on the same tokens with a streamer that only notes when the first token
came. The Chat page's path (the reply job's thread, each piece queued to the GUI thread)
is timed too, from the start to the arrival of the first and last piece. All run greedy on
the same prompt and model with the same thread count, taking turns in the same process
(the machine is noisy); medians of side-by-side ratios are compared.

With --long (512 new tokens and a prompt that asks for a long answer) a decoding cost that
grows with the reply would show. The decoding alone is also timed on the reply's tokens:
the old way (the whole reply decoded again for every token, O(n^2)) against the
incremental decoder (a short window a token), printed as a ratio.

Model: the bundled SmolLM2-135M if it is prepared, else the tiny test model (or --model).
Usage: python benchmarks/chat_streaming.py [--tokens 32 | --long] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "My parcel is a week late and nobody answers my emails. What should I do?"
SYSTEM = "You are a support assistant. Be brief and polite."
LONG_PROMPT = (
    "Write a detailed step-by-step guide, with at least fifteen numbered steps, on how to "
    "track a late parcel, contact the carrier, and claim a refund."
)
LONG_SYSTEM = "You are a support assistant. Answer thoroughly."
LONG_TOKENS = 512


class _FirstTokenClock:
    """The baseline's only streaming work: note when the first new token arrives."""

    def __init__(self) -> None:
        self.calls = 0
        self.first_at: float | None = None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2:  # the first call is the prompt
            self.first_at = time.perf_counter()

    def end(self) -> None:
        pass


def _model_folder(requested: str | None, scratch: Path) -> Path:
    if requested:
        return Path(requested)
    from core.models.bundled import bundled_model_dir, is_converted

    if is_converted():
        return bundled_model_dir()
    from core.models.tiny_model import build_tiny_model

    return build_tiny_model(scratch / "tiny-model")


def bare_run(loaded, messages, tokens: int) -> tuple[float, float, int]:
    """(seconds to first token, total seconds, new tokens) for a bare generate call."""
    import torch

    from core.evaluation.generation import render_prompt, stop_token_ids

    started = time.perf_counter()
    tokenizer = loaded.tokenizer
    inputs = tokenizer(
        render_prompt(tokenizer, messages), add_special_tokens=False, return_tensors="pt"
    ).to(loaded.device)
    clock = _FirstTokenClock()
    with torch.inference_mode():
        output = loaded.model.generate(
            **inputs,
            max_new_tokens=tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=stop_token_ids(loaded),
            streamer=clock,
        )
    total = time.perf_counter() - started
    stops = set(stop_token_ids(loaded))
    new = output[0, inputs["input_ids"].shape[1] :].tolist()
    kept = next((k for k, token in enumerate(new) if token in stops), len(new))
    return clock.first_at - started, total, kept  # counted as ours: no end-of-turn token


def page_run(loaded, spec, messages, settings) -> tuple[float, float, int]:
    """The Chat page's path: the reply job's thread, pieces queued to this (GUI) thread."""
    from PySide6.QtCore import QEventLoop

    from desktop.chat.worker import ReplyJob, SideRequest, model_key

    arrivals: list[float] = []
    replies = []
    job = ReplyJob([SideRequest(0, spec, messages)], settings, {model_key(spec): loaded})
    job.text.connect(lambda side, piece: arrivals.append(time.perf_counter()))
    job.answered.connect(lambda side, reply, memory: replies.append(reply))
    loop = QEventLoop()
    job.finished.connect(loop.quit)
    started = time.perf_counter()
    job.start()
    loop.exec()
    total = (arrivals[-1] if arrivals else time.perf_counter()) - started
    return arrivals[0] - started, total, replies[0].n_tokens


def _time_our_streamer() -> list[float]:
    """Wrap our streamer so the time spent in it (not in the model) is added up."""
    from core.chat import generation

    spent = [0.0]
    original = generation._TextStreamer.put

    def timed_put(self, value):
        start = time.perf_counter()
        original(self, value)
        spent[0] += time.perf_counter() - start

    generation._TextStreamer.put = timed_put
    return spent


def _whole_reply_decode(tokenizer, tokens) -> str:
    """The old streaming: the whole reply decoded again for every token (O(n^2))."""
    sent = ""
    for end in range(1, len(tokens) + 1):
        text = tokenizer.decode(tokens[:end], skip_special_tokens=True)
        if not text.endswith("\ufffd") and text.startswith(sent):
            sent = text
    return tokenizer.decode(tokens, skip_special_tokens=True)


def _incremental_decode(tokenizer, tokens) -> str:
    from core.chat.generation import IncrementalDecoder

    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.add([token]) for token in tokens]
    pieces.append(decoder.finish())
    return "".join(pieces)


def decode_cost(tokenizer, tokens, repeats: int) -> tuple[float, float]:
    """Median seconds to stream `tokens`' text: (old whole-reply decode, incremental)."""
    old, new = [], []
    for _ in range(repeats):
        for way, times in ((_whole_reply_decode, old), (_incremental_decode, new)):
            started = time.perf_counter()
            text = way(tokenizer, tokens)
            times.append(time.perf_counter() - started)
            assert text == tokenizer.decode(tokens, skip_special_tokens=True)
    return statistics.median(old), statistics.median(new)


def main() -> None:
    import torch
    from PySide6.QtCore import QCoreApplication

    from core.chat.generation import (
        ChatSettings,
        conversation_messages,
        cpu_thread_count,
        generate_reply,
        load_chat_model,
    )
    from core.evaluation.models import baseline_spec

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="model folder (default: bundled SmolLM2, else tiny)")
    parser.add_argument(
        "--tokens", "--max-new-tokens", type=int, default=32, help="new tokens per reply"
    )
    parser.add_argument(
        "--long",
        action="store_true",
        help=f"a long reply: {LONG_TOKENS} new tokens, a prompt that asks for a long answer",
    )
    parser.add_argument("--repeats", type=int, default=3, help="replies per side")
    args = parser.parse_args()
    if args.long:
        args.tokens = max(args.tokens, LONG_TOKENS)

    app = QCoreApplication.instance() or QCoreApplication([])  # the page path's event loop
    with tempfile.TemporaryDirectory() as scratch:
        folder = _model_folder(args.model, Path(scratch))
        spec = baseline_spec(folder)
        loaded = load_chat_model(spec)
    messages = (
        conversation_messages(LONG_SYSTEM, [], LONG_PROMPT)
        if args.long
        else conversation_messages(SYSTEM, [], PROMPT)
    )
    settings = ChatSettings(max_new_tokens=args.tokens)
    if loaded.device == "cpu":
        torch.set_num_threads(cpu_thread_count())  # the baseline gets the same threads as ours
    generate_reply(loaded, messages, ChatSettings(max_new_tokens=4))  # warm-up, both sides
    bare_run(loaded, messages, 4)

    streaming_seconds = _time_our_streamer()
    ours, bare, page = [], [], []
    ours_streaming = 0.0
    for repeat in range(args.repeats):
        order = ["ours", "bare", "page"]
        for side in order[repeat % 3 :] + order[: repeat % 3]:  # each goes first in turn
            if side == "ours":
                pieces: list[str] = []
                spent_before = streaming_seconds[0]
                reply = generate_reply(loaded, messages, settings, on_text=pieces.append)
                ours.append((reply.first_token_seconds, reply.seconds, reply.n_tokens))
                ours_streaming += streaming_seconds[0] - spent_before  # not the page path's
                reply_text = reply.text
            elif side == "bare":
                bare.append(bare_run(loaded, messages, args.tokens))
            else:
                page.append(page_run(loaded, spec, messages, settings))
    del app

    pair_ratios = [(o[2] / o[1]) / (b[2] / b[1]) for o, b in zip(ours, bare)]
    page_ratios = [(p[2] / p[1]) / (b[2] / b[1]) for p, b in zip(page, bare)]
    ours_tokens = sum(r[2] for r in ours)
    ours_seconds = sum(r[1] for r in ours)

    def summary(runs):
        first = statistics.median(r[0] for r in runs)
        rate = statistics.median(r[2] / r[1] for r in runs)
        return first, rate

    ours_first, ours_rate = summary(ours)
    bare_first, bare_rate = summary(bare)
    page_first, page_rate = summary(page)
    print(
        f"model: {Path(folder).name}, device {loaded.device}, threads {torch.get_num_threads()}, "
        f"up to {args.tokens} new tokens, {args.repeats} replies per side"
    )
    print(f"bare generate:  first token {bare_first * 1000:7.1f} ms   {bare_rate:7.1f} tokens/s")
    print(f"our streaming:  first token {ours_first * 1000:7.1f} ms   {ours_rate:7.1f} tokens/s")
    print(
        f"Chat page path: first token {page_first * 1000:7.1f} ms   {page_rate:7.1f} tokens/s"
        "   (reply thread, pieces queued to the GUI thread)"
    )
    print(
        f"our streaming work (incremental decoding, callback): "
        f"{ours_streaming / max(1, ours_tokens) * 1e6:.0f} us a token, "
        f"{ours_streaming / ours_seconds:.1%} of our reply time"
    )
    print(
        f"RATIO tokens/s ours/bare: {statistics.median(pair_ratios):.2f}x (median of "
        f"{len(pair_ratios)} side-by-side pairs; target >= 0.95x); "
        f"first-token latency bare/ours: {bare_first / ours_first:.2f}x"
    )
    print(
        f"RATIO tokens/s Chat page/bare: {statistics.median(page_ratios):.2f}x; "
        f"first-token latency bare/page: {bare_first / page_first:.2f}x"
    )
    tokens = loaded.tokenizer.encode(reply_text, add_special_tokens=False)
    try:
        old_seconds, new_seconds = decode_cost(loaded.tokenizer, tokens, args.repeats)
    except ImportError:  # run against a checkout from before IncrementalDecoder
        return
    print(
        f"decoding alone, the reply's {len(tokens)} tokens streamed one by one: whole reply "
        f"per token {old_seconds * 1000:.1f} ms, incremental {new_seconds * 1000:.1f} ms"
    )
    print(f"RATIO decoding cost old/new: {old_seconds / new_seconds:.1f}x")


if __name__ == "__main__":
    main()
