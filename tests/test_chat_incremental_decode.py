"""Chat streams a reply by decoding a short window per token, not the whole reply.

The pieces joined must equal `tokenizer.decode(tokens, skip_special_tokens=True)` exactly
for text that byte-level BPE splits mid-character (emoji, CJK, accented letters) and for
SentencePiece leading spaces, and the decoding work per token must not grow with the reply.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from core.chat.generation import (
    ChatSettings,
    IncrementalDecoder,
    _TextStreamer,
    conversation_messages,
    generate_reply,
    load_chat_model,
)
from core.evaluation.models import baseline_spec

TEXTS = [
    "Hello there! How can I help you today?",
    " leading space, then  two spaces and\ttabs\n\nand new lines",
    "   three leading spaces",
    "Café, naïve, façade, Ångström, señor, Œuvre, über, déjà vu.",
    "Emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ done 🎉",
    "日本語のテキストです。中文也可以：你好，世界！한국어 문장.",
    "Mixed: 東京 is 🗼, Zürich is 🇨🇭, and ½ + ¼ = ¾ → ∞ ≠ 0.",
    "😀" * 12 + " then text " + "語" * 9,
    "\n starts with a new line, ends with an emoji 😀",
]


def _llama_style_tokenizer():
    """A SentencePiece-style (Llama 2) tokenizer: "▁" for spaces, bytes for unknown characters,
    and a decoder that drops the leading space of the first token it decodes."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    # Words split at "▁", which stays on the word that follows it (no merges across words).
    words = pre_tokenizers.Metaspace(prepend_scheme="never", split=True)
    trained = Tokenizer(models.BPE(unk_token="<unk>"))
    trained.normalizer = normalizer
    trained.pre_tokenizer = words
    corpus = ["The quick brown fox jumps over the lazy dog.", "Café naïve 日本 hello world"]
    trained.train_from_iterator(
        corpus * 10, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"])
    )
    vocab = trained.get_vocab()
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    merges = [
        tuple(merge) if isinstance(merge, list) else tuple(merge.split(" "))
        for merge in json.loads(trained.to_str())["model"]["merges"]
    ]
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = words
    tokenizer.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )


def _cross_character_tokenizer():
    """A byte-level BPE whose one merge spans two characters: the end of 😀 and the start of
    the next (GPT-2-style vocabularies learn such tokens for runs of CJK or emoji)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    stand_in = bytes_to_unicode()
    vocab = {stand_in[byte]: byte for byte in range(256)}
    vocab["<|end|>"] = 256
    vocab[stand_in[0x80] + stand_in[0xF0]] = 257
    tokenizer = Tokenizer(models.BPE(vocab, [(stand_in[0x80], stand_in[0xF0])]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(["<|end|>"])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|end|>")


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    from transformers import AutoTokenizer

    from core.models.bundled import ensure_bundled_model

    return AutoTokenizer.from_pretrained(ensure_bundled_model())


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def llama_style_tokenizer():
    return _llama_style_tokenizer()


@pytest.fixture(params=["smollm2", "tiny", "llama_style"])
def tokenizer(request):
    return request.getfixturevalue(f"{request.param}_tokenizer")


def _stream(tokenizer, tokens) -> tuple[list[str], IncrementalDecoder]:
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.add([token]) for token in tokens]
    pieces.append(decoder.finish())
    return [piece for piece in pieces if piece], decoder


def _full(tokenizer, tokens) -> str:
    return tokenizer.decode(tokens, skip_special_tokens=True)


def test_the_tokenizers_split_characters_and_drop_leading_spaces(
    smollm2_tokenizer, tiny_tokenizer, llama_style_tokenizer
):
    """The cases below are only hard if the tokenizers really do this."""
    for tok in (smollm2_tokenizer, tiny_tokenizer, llama_style_tokenizer):
        tokens = tok.encode("😀 日本語", add_special_tokens=False)
        assert any("\ufffd" in tok.decode([token]) for token in tokens)
    tokens = llama_style_tokenizer.encode("The quick", add_special_tokens=False)
    assert llama_style_tokenizer.decode(tokens[1:]) == "quick"  # "▁quick" alone loses its space


@pytest.mark.parametrize("text", TEXTS)
def test_the_pieces_equal_the_full_decode(tokenizer, text):
    tokens = tokenizer.encode(text, add_special_tokens=False)
    pieces, decoder = _stream(tokenizer, tokens)
    assert "".join(pieces) == _full(tokenizer, tokens) == decoder.full_text
    # No half characters reach the screen, and text is not just saved up for the end.
    assert not any("\ufffd" in piece for piece in pieces)
    assert len(pieces) > 1 and len(pieces[-1]) < len(text) / 2


def test_ascii_text_comes_out_one_piece_per_token(smollm2_tokenizer):
    text = "The parcel should arrive within three days; write to us if it does not."
    tokens = smollm2_tokenizer.encode(text, add_special_tokens=False)
    decoder = IncrementalDecoder(smollm2_tokenizer)
    pieces = [decoder.add([token]) for token in tokens]
    assert all(pieces) and "".join(pieces) == text and decoder.finish() == ""


@pytest.mark.parametrize("seed", range(6))
def test_random_tokens_including_stray_bytes_and_special_tokens(tokenizer, seed):
    """Any token sequence, however broken its UTF-8, joins up to the full decode."""
    rng = random.Random(seed)
    vocab = len(tokenizer)
    special = list(tokenizer.all_special_ids)
    tokens = [
        rng.choice(special) if rng.random() < 0.05 else rng.randrange(vocab) for _ in range(300)
    ]
    pieces, _ = _stream(tokenizer, tokens)
    assert "".join(pieces) == _full(tokenizer, tokens)


def test_leading_spaces_survive_special_tokens_in_the_reply(llama_style_tokenizer):
    tok = llama_style_tokenizer
    words = tok.encode("first second", add_special_tokens=False)
    tokens = [*words, tok.eos_token_id, tok.bos_token_id, *words, tok.eos_token_id]
    pieces, _ = _stream(tok, tokens)
    assert "".join(pieces) == _full(tok, tokens)


def test_a_split_never_cuts_a_character_held_with_stray_bytes():
    """Every token boundary in the run of emoji falls inside a character, so the text ends
    in U+FFFD until the run ends and no split of the held tokens is final."""
    tok = _cross_character_tokenizer()
    stray = _byte_tokens(tok, bytes(range(0x80, 0x90)))
    emoji = tok.encode("😀" * 20, add_special_tokens=False)
    assert 257 in emoji  # the cross-character token is used
    tokens = stray + emoji + stray + tok.encode(" ok", add_special_tokens=False)
    pieces, _ = _stream(tok, tokens)
    assert "".join(pieces) == _full(tok, tokens)
    assert "😀" * 20 in _full(tok, tokens)


class _CountingTokenizer:
    """Counts the tokens passed to decode(); everything else is the real tokenizer."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self.decoded = 0
        self.calls = 0

    def decode(self, ids, **kwargs):
        self.decoded += len(ids)
        self.calls += 1
        return self._tokenizer.decode(ids, **kwargs)

    def __call__(self, *args, **kwargs):
        return self._tokenizer(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)


def _reply_tokens(tokenizer, n: int) -> list[int]:
    tokens: list[int] = []
    while len(tokens) < n:
        tokens += tokenizer.encode(" ".join(TEXTS), add_special_tokens=False)
    return tokens[:n]


def _byte_tokens(tokenizer, data: bytes) -> list[int]:
    """One token per byte: "<0xF0>" in a SentencePiece vocabulary, the byte's stand-in
    character in a byte-level BPE one."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    if tokenizer.convert_tokens_to_ids("<0x80>") not in (None, tokenizer.unk_token_id):
        names = [f"<0x{byte:02X}>" for byte in data]
    else:
        stand_in = bytes_to_unicode()
        names = [stand_in[byte] for byte in data]
    return tokenizer.convert_tokens_to_ids(names)


def _stray_byte_tokens(tokenizer, n: int, emoji_share: float = 0.0) -> list[int]:
    """What a broken model can emit: continuation bytes with no start, U+FFFD for good;
    with `emoji_share`, some whole emoji spelled out a byte at a time among them."""
    rng = random.Random(0)
    stray = _byte_tokens(tokenizer, bytes(range(0x80, 0xC0)))
    emoji = _byte_tokens(tokenizer, "😀".encode())
    tokens: list[int] = []
    while len(tokens) < n:
        tokens += emoji if rng.random() < emoji_share else [rng.choice(stray)]
    return tokens[:n]


def _decoding_work(tokenizer, tokens) -> tuple[int, int]:
    """(tokens decoded, decode calls) to stream `tokens` one at a time."""
    counting = _CountingTokenizer(tokenizer)
    pieces, _ = _stream(counting, tokens)
    assert "".join(pieces) == _full(tokenizer, tokens)
    return counting.decoded, counting.calls


def test_decoding_work_grows_linearly_with_the_reply(tokenizer):
    short, short_calls = _decoding_work(tokenizer, _reply_tokens(tokenizer, 400))
    long, _ = _decoding_work(tokenizer, _reply_tokens(tokenizer, 800))
    # Decoding the whole reply per token would be 400 * 401 / 2 = 80,200 tokens here. Each
    # token is decoded in a window of a few tokens, plus the one full decode at the end.
    assert short <= 8 * 400
    assert long <= 2.2 * short  # twice the reply, twice the work: not four times
    assert short_calls <= 2 * 400 + 1  # at most two windows a token, and the final decode


def test_stray_bytes_do_not_grow_the_window(tokenizer):
    """Text that ends in U+FFFD for good is handed out anyway, a few tokens behind."""
    short, _ = _decoding_work(tokenizer, _stray_byte_tokens(tokenizer, 400))
    long, _ = _decoding_work(tokenizer, _stray_byte_tokens(tokenizer, 800))
    # Windows of up to 8 held tokens after their context, and a split-off check: more
    # work a token than plain text, but as much for the 800th token as for the 10th.
    assert short <= 20 * 400
    assert long <= 2.2 * short


def test_whole_characters_among_stray_bytes_come_out_whole(tokenizer):
    """A split is made only where no character spans it: 😀 is not cut into U+FFFDs."""
    tokens = _stray_byte_tokens(tokenizer, 400, emoji_share=0.1)
    pieces, _ = _stream(tokenizer, tokens)
    assert "".join(pieces) == _full(tokenizer, tokens)
    if _byte_tokens(tokenizer, b"\x80")[0] == tokenizer.convert_tokens_to_ids("<0x80>"):
        return  # byte fallback: one invalid byte in a run of byte tokens spoils all of it
    assert "😀" in _full(tokenizer, tokens)


def test_a_long_generated_reply_decodes_a_bounded_window_per_token(tiny_model_dir):
    """The same bound through generate(): the tiny random model rarely stops on its own."""
    loaded = load_chat_model(baseline_spec(tiny_model_dir), device="cpu")
    counting = _CountingTokenizer(loaded.tokenizer)
    pieces: list[str] = []
    messages = conversation_messages("", [], "hello world")
    reply = generate_reply(
        dataclasses.replace(loaded, tokenizer=counting),
        messages,
        ChatSettings(max_new_tokens=400),
        on_text=pieces.append,
    )
    assert reply.n_tokens >= 100  # long enough for a quadratic cost to show
    tokens = _generated_tokens(loaded, messages, 400)
    assert "".join(pieces) == reply.text == _full(loaded.tokenizer, tokens)
    assert counting.decoded <= 20 * reply.n_tokens  # the stray-bytes bound: see above


def _generated_tokens(loaded, messages, max_new_tokens) -> list[int]:
    """The reply's tokens from a plain greedy generate, up to the first end-of-turn token."""
    import torch

    from core.evaluation.generation import render_prompt, stop_token_ids

    tokenizer = loaded.tokenizer
    inputs = tokenizer(
        render_prompt(tokenizer, list(messages)), add_special_tokens=False, return_tensors="pt"
    )
    stops = stop_token_ids(loaded)
    with torch.inference_mode():
        output = loaded.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=stops,
        )
    new = output[0, inputs["input_ids"].shape[1] :].tolist()
    return new[: next((k for k, token in enumerate(new) if token in stops), len(new))]


def test_the_streamer_skips_the_prompt_and_stops_at_the_end_of_turn(smollm2_tokenizer):
    import torch

    tok = smollm2_tokenizer
    pieces: list[str] = []
    streamer = _TextStreamer(tok, [tok.eos_token_id], pieces.append)
    prompt = tok.encode("ignored prompt", add_special_tokens=False)
    reply = tok.encode("Réponse 😀 ok", add_special_tokens=False)
    streamer.put(torch.tensor([prompt]))
    for token in [*reply, tok.eos_token_id, *reply]:
        streamer.put(torch.tensor([token]))
    streamer.end()
    assert streamer.ended and streamer.tokens == reply
    assert "".join(pieces) == streamer.text() == "Réponse 😀 ok"
