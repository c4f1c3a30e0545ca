"""A GGUF file for llama.cpp and Ollama, written with the `gguf` package, for Llama models.

The `gguf` package (0.19) ships GGUFWriter, the tensor-name maps, the BPE/special-token
readers and Q8_0 quantization, but not llama.cpp's convert_hf_to_gguf.py, which knows
every architecture and every pre-tokenizer. This module is the part of that converter
that FineTune Studio's own models need: LlamaForCausalLM (SmolLM2, Llama 2/3 and their
fine-tunes) with a byte-level BPE tokenizer whose pre-tokenizer we can name. Anything
else is refused with a reason, and the caller points the user to llama.cpp.

As in llama.cpp, Q and K projections are permuted from the Hugging Face rotary layout
(two halves) to GGML's (interleaved pairs); transformers' GGUF loader undoes it, which is
how the tests check the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.json_file import read_json_object

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]

OUTTYPES = ("q8_0", "f16", "f32")
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)
LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"


class GgufCancelled(Exception):
    pass


@dataclass(frozen=True)
class GgufFileInfo:
    path: Path
    outtype: str
    converter: str  # how it was written
    tensors: int
    notes: tuple[str, ...] = ()


def pre_tokenizer_name(tokenizer_json: dict) -> str | None:
    """llama.cpp's name for a byte-level BPE pre-tokenizer, or None if we cannot tell."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt2"
    if pre.get("type") != "Sequence":
        return None
    parts = pre.get("pretokenizers") or []
    kinds = [p.get("type") for p in parts]
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits"):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not parts[1].get("use_regex", True):
        pattern = (parts[0].get("pattern") or {}).get("Regex", "")
        if pattern.startswith(LLAMA3_SPLIT):
            return "llama-bpe"
    return None


def builtin_support_problem(model_dir: Path, tokenizer_dir: Path | None = None) -> str | None:
    """Why the built-in writer cannot convert this merged model folder (None: it can).

    `tokenizer_dir`: where tokenizer.json is, when not beside config.json (an adapter run:
    the base's config, the run's tokenizer), so the dialog can tell before merging."""
    config = read_json_object(model_dir / "config.json")
    architectures = config.get("architectures") or []
    if not any(a in SUPPORTED_ARCHITECTURES for a in architectures):
        return (
            f"the built-in GGUF writer handles {', '.join(SUPPORTED_ARCHITECTURES)} only, and "
            f"this model is {', '.join(architectures) or 'of an unknown architecture'}"
        )
    if config.get("attention_bias") or config.get("mlp_bias"):
        return "the built-in GGUF writer does not handle Llama models with bias terms"
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if isinstance(rope, dict) and rope.get("rope_type", "default") not in ("default", None):
        return f"the built-in GGUF writer does not handle {rope.get('rope_type')} RoPE scaling"
    tokenizer = read_json_object((tokenizer_dir or model_dir) / "tokenizer.json")
    if (tokenizer.get("model") or {}).get("type") != "BPE":
        return "the built-in GGUF writer needs a byte-level BPE tokenizer (tokenizer.json)"
    if pre_tokenizer_name(tokenizer) is None:
        return "the built-in GGUF writer does not recognise this tokenizer's pre-tokenizer"
    return None


def _permute(weights, n_head: int):
    """Hugging Face's rotary layout (halves) to GGML's (interleaved pairs), as llama.cpp does."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _vocabulary(model_dir: Path, vocab_size: int):
    # gguf is heavy: loaded for a GGUF conversion only
    import gguf

    tokenizer = read_json_object(model_dir / "tokenizer.json")
    vocab: dict[str, int] = dict(tokenizer["model"]["vocab"])
    added = {t["id"]: t for t in tokenizer.get("added_tokens", [])}
    for token_id, token in added.items():
        vocab[token["content"]] = token_id
    by_id = {token_id: text for text, token_id in vocab.items()}
    size = max(vocab_size, max(by_id) + 1)
    tokens, types = [], []
    for token_id in range(size):
        if token_id not in by_id:
            tokens.append(f"[PAD{token_id}]")
            types.append(gguf.TokenType.UNUSED)
        elif token_id in added:
            tokens.append(by_id[token_id])
            special = added[token_id].get("special")
            types.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[token_id])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types, pre_tokenizer_name(tokenizer)


def _tensor_type(name: str, array, outtype: str):
    # gguf is heavy: loaded for a GGUF conversion only
    import gguf

    if array.ndim == 1 or outtype == "f32":
        return gguf.GGMLQuantizationType.F32
    if (
        outtype == "q8_0"
        and array.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0
    ):
        return gguf.GGMLQuantizationType.Q8_0
    return gguf.GGMLQuantizationType.F16


def write_llama_gguf(
    model_dir: Path,
    out_file: Path,
    outtype: str = "q8_0",
    name: str = "",
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> GgufFileInfo:
    """Convert a merged Llama model folder into one GGUF file."""
    # gguf is heavy: loaded for a GGUF conversion only
    import gguf

    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # safetensors pulls in torch: loaded when weights are read
    from safetensors import safe_open

    if outtype not in OUTTYPES:
        raise ValueError(f"GGUF type must be one of {', '.join(OUTTYPES)}, not {outtype!r}")
    problem = builtin_support_problem(model_dir)
    if problem:
        raise ValueError(problem)
    report = progress or (lambda fraction, message: None)
    config = read_json_object(model_dir / "config.json")
    n_head = int(config["num_attention_heads"])
    n_kv = int(config.get("num_key_value_heads") or n_head)
    n_layers = int(config["num_hidden_layers"])
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // n_head)
    rope = config.get("rope_parameters") or {}
    rope_theta = float(rope.get("rope_theta") or config.get("rope_theta") or 10000.0)

    writer = gguf.GGUFWriter(str(out_file), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name or model_dir.name)
    writer.add_context_length(int(config.get("max_position_embeddings") or 2048))
    writer.add_embedding_length(hidden)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_freq_base(rope_theta)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps") or 1e-6))
    writer.add_rope_dimension_count(head_dim)
    if head_dim != hidden // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    file_type = {
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "f32": gguf.LlamaFileType.ALL_F32,
    }[outtype]
    writer.add_file_type(int(file_type))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tokens, types, pre = _vocabulary(model_dir, int(config["vocab_size"]))
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=len(tokens))
    special.add_to_gguf(writer, quiet=True)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ValueError(f"{model_dir} holds no .safetensors weights to convert")
    count = 0
    keys = []
    for file in files:
        with safe_open(str(file), "pt") as handle:
            keys += [(file, key) for key in handle.keys()]  # noqa: SIM118 (not a dict)
    for number, (file, key) in enumerate(keys, start=1):
        if cancelled and cancelled():
            raise GgufCancelled("GGUF conversion was cancelled.")
        if key.endswith("rotary_emb.inv_freq"):
            continue
        target = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ValueError(f"the built-in GGUF writer does not know the tensor {key}")
        with safe_open(str(file), "pt") as handle:
            array = handle.get_tensor(key).to(torch.float32).numpy()
        if key.endswith("q_proj.weight"):
            array = _permute(array, n_head)
        elif key.endswith("k_proj.weight"):
            array = _permute(array, n_kv)
        qtype = _tensor_type(target, array, outtype)
        if qtype == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(target, np.ascontiguousarray(array, dtype=np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(target, np.ascontiguousarray(array, dtype=np.float16))
        else:
            data = gguf.quants.quantize(np.ascontiguousarray(array, dtype=np.float32), qtype)
            writer.add_tensor(target, data, raw_dtype=qtype)
        count += 1
        report(number / len(keys) * 0.8, f"GGUF: {target}")
    report(0.85, f"writing {out_file.name}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    notes = (f"pre-tokenizer {pre}",)
    return GgufFileInfo(out_file, outtype, "built-in (gguf package, Llama)", count, notes)
