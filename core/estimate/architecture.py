"""A model's shape as the estimator needs it, read from a catalog name, an HF folder or a config.json.

Only config facts are read (no weights, no transformers import), so any model can be
estimated before it is downloaded. Dense and mixture-of-experts decoders, grouped-query
attention, tied or untied embeddings and T5-style encoder-decoders are understood.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from core.models.catalog import catalog_model, model_catalog


class ArchitectureError(ValueError):
    """The model cannot be found or its config cannot be understood; the message says why."""


# transformers' config classes disagree on the default of tie_word_embeddings when the key
# is absent: PretrainedConfig says True, these model families override it to False.
_UNTIED_BY_DEFAULT = {
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "phi3",
    "gpt_neox",
    "olmo",
    "olmo2",
    "mt5",
    "granite",
    "cohere",
}
# Families whose attention projections carry a bias even though their config does not say so.
_BIASED_ATTENTION = {"qwen2", "qwen2_moe", "phi", "gpt2", "gpt_neox", "bloom", "opt", "gpt_bigcode"}
# Families with four RMSNorms per layer (pre and post attention, pre and post MLP).
_FOUR_NORMS = {"gemma2", "gemma3", "gemma3_text"}
# Families with a per-head RMSNorm on queries and keys.
_QK_NORM = {"qwen3", "qwen3_moe", "gemma3", "gemma3_text", "olmo2"}
# Families with fused q/k/v and gate/up projections.
_FUSED_QKV = {"phi3", "gpt2", "gpt_neox", "bloom", "falcon", "phi3small", "gpt_bigcode"}
_FUSED_GATE_UP = {"phi3"}
# Activations that transformers implements as a chain of Python ops (each saves a tensor).
_UNFUSED_ACTIVATIONS = {"gelu_new", "gelu_fast", "quick_gelu"}
# Families with a learned absolute position embedding (n_positions rows).
_LEARNED_POSITIONS = {"gpt2", "gpt_bigcode"}
_LAYER_NORM_FAMILIES = {"gpt2", "gpt_neox", "bloom", "opt", "falcon", "phi", "gpt_bigcode"}


@dataclass(frozen=True)
class LinearShape:
    """One kind of linear layer: `count` instances of d_in -> d_out, found in `block`.

    role: q, k, v, qkv, o, gate, up, gate_up, down or router; block: decoder, encoder or
    cross (a decoder layer's cross-attention in an encoder-decoder).
    """

    role: str
    d_in: int
    d_out: int
    count: int
    block: str
    expert: bool = False

    @property
    def params(self) -> int:
        return self.d_in * self.d_out * self.count


@dataclass(frozen=True)
class ModelArchitecture:
    """The facts of a model's shape that decide its memory and compute.

    For an encoder-decoder, num_layers counts encoder layers and num_decoder_layers the
    decoder's; for a decoder-only model num_decoder_layers is 0.
    """

    name: str
    model_type: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_embeddings: bool
    num_experts: int = 0
    experts_per_token: int = 0
    expert_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    gated_mlp: bool = True
    fused_qkv: bool = False
    fused_gate_up: bool = False
    attention_bias: bool = False
    encoder_decoder: bool = False
    num_decoder_layers: int = 0
    needs_eager_attention: bool = False
    norms_per_layer: int = 2
    qk_norm: bool = False
    layer_norm: bool = False
    unfused_activation: bool = False
    dropout: float = 0.0
    position_embeddings: int = 0  # learned absolute positions (GPT-2, GPT-BigCode): rows
    source: str = ""

    def __post_init__(self) -> None:
        for field_name in ("hidden_size", "intermediate_size", "num_layers", "num_heads"):
            if getattr(self, field_name) <= 0:
                raise ArchitectureError(f"{self.name}: {field_name} must be positive")
        if self.vocab_size <= 0:
            raise ArchitectureError(f"{self.name}: vocab_size must be positive")
        if self.num_kv_heads <= 0 or self.num_heads % self.num_kv_heads:
            raise ArchitectureError(
                f"{self.name}: num_key_value_heads ({self.num_kv_heads}) must divide "
                f"num_attention_heads ({self.num_heads})"
            )
        if self.num_experts and not 0 < self.experts_per_token <= self.num_experts:
            raise ArchitectureError(
                f"{self.name}: num_experts_per_tok must be between 1 and {self.num_experts}"
            )

    # Shape facts ------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def linear_layers(self) -> tuple[LinearShape, ...]:
        """Every linear layer except the LM head, grouped by kind."""
        return self._linear_layers

    # The estimator asks for these hundreds of times per recompute: compute them once.
    @cached_property
    def _linear_layers(self) -> tuple[LinearShape, ...]:
        layers: list[LinearShape] = []
        if self.encoder_decoder:
            layers += self._attention("encoder", self.num_layers)
            layers += self._mlp("encoder", self.num_layers)
            layers += self._attention("decoder", self.num_decoder_layers)
            layers += self._attention("cross", self.num_decoder_layers)
            layers += self._mlp("decoder", self.num_decoder_layers)
        else:
            layers += self._attention("decoder", self.num_layers)
            layers += self._mlp("decoder", self.num_layers)
        return tuple(layers)

    def _attention(self, block: str, count: int) -> list[LinearShape]:
        h = self.hidden_size
        if self.fused_qkv:
            qkv = LinearShape("qkv", h, self.q_dim + 2 * self.kv_dim, count, block)
            return [qkv, LinearShape("o", self.q_dim, h, count, block)]
        return [
            LinearShape("q", h, self.q_dim, count, block),
            LinearShape("k", h, self.kv_dim, count, block),
            LinearShape("v", h, self.kv_dim, count, block),
            LinearShape("o", self.q_dim, h, count, block),
        ]

    def _mlp(self, block: str, count: int) -> list[LinearShape]:
        h = self.hidden_size
        if not self.is_moe:
            return self._one_mlp(block, count, self.intermediate_size, expert=False)
        experts = self._one_mlp(
            block, count * self.num_experts, self.expert_intermediate_size, expert=True
        )
        router = [LinearShape("router", h, self.num_experts, count, block)]
        shared = []
        if self.shared_expert_intermediate_size:
            shared = self._one_mlp(block, count, self.shared_expert_intermediate_size, expert=False)
        return experts + shared + router

    def _one_mlp(self, block: str, count: int, inner: int, expert: bool) -> list[LinearShape]:
        h = self.hidden_size
        if not self.gated_mlp:
            return [
                LinearShape("up", h, inner, count, block, expert),
                LinearShape("down", inner, h, count, block, expert),
            ]
        if self.fused_gate_up:
            return [
                LinearShape("gate_up", h, 2 * inner, count, block, expert),
                LinearShape("down", inner, h, count, block, expert),
            ]
        return [
            LinearShape("gate", h, inner, count, block, expert),
            LinearShape("up", h, inner, count, block, expert),
            LinearShape("down", inner, h, count, block, expert),
        ]

    # Parameter counts -------------------------------------------------------
    @cached_property
    def linear_params(self) -> int:
        return sum(layer.params for layer in self.linear_layers())

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        """0 when the LM head shares the embedding matrix."""
        return 0 if self.tie_embeddings else self.vocab_size * self.hidden_size

    @cached_property
    def small_params(self) -> int:
        """Norm weights, biases and learned position embeddings."""
        layers = self.num_layers + self.num_decoder_layers
        norms = (self.norms_per_layer * layers + 1) * self.hidden_size
        if self.qk_norm:
            norms += 2 * layers * self.head_dim
        bias = (self.q_dim + 2 * self.kv_dim) * layers if self.attention_bias else 0
        positions = self.position_embeddings * self.hidden_size
        return norms + bias + positions

    @cached_property
    def total_params(self) -> int:
        return self.linear_params + self.embedding_params + self.lm_head_params + self.small_params

    @cached_property
    def active_params(self) -> int:
        """Parameters one token passes through (only its routed experts in an MoE)."""
        if not self.is_moe:
            return self.total_params
        expert = sum(layer.params for layer in self.linear_layers() if layer.expert)
        return self.total_params - expert + expert * self.experts_per_token // self.num_experts

    @cached_property
    def largest_linear_params(self) -> int:
        return max(layer.d_in * layer.d_out for layer in self.linear_layers())

    def describe(self) -> str:
        """One line for the user: size, layout and attention."""
        kind = "encoder-decoder" if self.encoder_decoder else "decoder"
        if self.is_moe:
            kind = f"MoE {self.num_experts} experts, {self.experts_per_token} per token"
        attention = (
            f"GQA {self.num_heads}/{self.num_kv_heads} heads"
            if self.num_kv_heads != self.num_heads
            else f"{self.num_heads} heads"
        )
        tied = "tied" if self.tie_embeddings else "untied"
        return (
            f"{self.total_params / 1e9:.2f}B parameters, {kind}, {self.num_layers} layers, "
            f"hidden {self.hidden_size}, {attention}, vocab {self.vocab_size} ({tied} embeddings)"
        )


def _first(config: dict, *keys: str, default=None):
    for key in keys:
        value = config.get(key)
        if value is not None:
            return value
    return default


def architecture_from_config(config: dict, name: str, source: str = "") -> ModelArchitecture:
    """Build the architecture from config.json facts (HF key names)."""
    if "hidden_size" not in config and "d_model" not in config and "n_embd" not in config:
        text_config = config.get("text_config")
        if isinstance(text_config, dict):
            # Multimodal wrappers (Gemma 3, Llava, ...): the language model is what trains.
            return architecture_from_config(
                {**text_config, "model_type": text_config.get("model_type", "")}, name, source
            )
        raise ArchitectureError(
            f"{source or name}: no hidden_size (or d_model) in the config; is this a "
            "language model's config.json?"
        )
    model_type = str(config.get("model_type", "")).lower()
    try:
        hidden = int(_first(config, "hidden_size", "d_model", "n_embd"))
        heads = int(_first(config, "num_attention_heads", "num_heads", "n_head"))
        layers = int(_first(config, "num_hidden_layers", "num_layers", "n_layer"))
        vocab = int(config["vocab_size"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArchitectureError(
            f"{source or name}: the config lacks a usable {error} (need hidden size, heads, "
            "layers and vocab_size)"
        ) from None
    intermediate = int(_first(config, "intermediate_size", "d_ff", "n_inner", default=4 * hidden))
    if config.get("multi_query"):
        kv_heads = 1
    else:
        kv_heads = int(_first(config, "num_key_value_heads", "num_kv_heads", default=heads))
    head_dim = int(_first(config, "head_dim", "d_kv", default=hidden // heads))
    experts = int(_first(config, "num_local_experts", "num_experts", "n_routed_experts", default=0))
    per_token = int(_first(config, "num_experts_per_tok", "moe_topk", default=2 if experts else 0))
    expert_inner = int(_first(config, "moe_intermediate_size", default=intermediate))
    shared_inner = int(_first(config, "shared_expert_intermediate_size", default=0))
    activation = str(
        _first(config, "hidden_activation", "hidden_act", "activation_function", default="")
    )
    feed_forward = str(config.get("feed_forward_proj", ""))
    encoder_decoder = bool(config.get("is_encoder_decoder")) or model_type in ("t5", "mt5", "umt5")
    if encoder_decoder:
        gated = feed_forward.startswith("gated")
        activation = "gelu_new" if feed_forward == "gated-gelu" else feed_forward or activation
    else:
        gated = model_type not in _LAYER_NORM_FAMILIES
    tie_default = model_type not in _UNTIED_BY_DEFAULT
    return ModelArchitecture(
        name=name,
        model_type=model_type or "unknown",
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        tie_embeddings=bool(config.get("tie_word_embeddings", tie_default)),
        num_experts=experts,
        experts_per_token=per_token if experts else 0,
        expert_intermediate_size=expert_inner if experts else 0,
        shared_expert_intermediate_size=shared_inner,
        gated_mlp=gated,
        fused_qkv=model_type in _FUSED_QKV,
        fused_gate_up=model_type in _FUSED_GATE_UP,
        attention_bias=bool(config.get("attention_bias", model_type in _BIASED_ATTENTION)),
        encoder_decoder=encoder_decoder,
        num_decoder_layers=int(_first(config, "num_decoder_layers", default=layers))
        if encoder_decoder
        else 0,
        # SDPA refuses attention logit soft-capping, so transformers runs these eagerly.
        needs_eager_attention=bool(config.get("attn_logit_softcapping")),
        norms_per_layer=4 if model_type in _FOUR_NORMS else 2,
        qk_norm=model_type in _QK_NORM,
        layer_norm=model_type in _LAYER_NORM_FAMILIES,
        unfused_activation=activation in _UNFUSED_ACTIVATIONS,
        dropout=float(_first(config, "dropout_rate", "hidden_dropout", "resid_pdrop", default=0.0)),
        position_embeddings=int(config.get("n_positions", 0))
        if model_type in _LEARNED_POSITIONS
        else 0,
        source=source,
    )


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ArchitectureError(f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise ArchitectureError(
            f"{path} line {error.lineno}: not valid JSON ({error.msg})"
        ) from None
    if not isinstance(config, dict):
        raise ArchitectureError(f"{path}: expected a JSON object")
    return config


@lru_cache(maxsize=64)
def _catalog_architecture(name: str) -> ModelArchitecture:
    facts = catalog_model(name)
    key = next(k for k in model_catalog() if k.lower() == name.lower())
    return architecture_from_config(facts, key, source=f"catalog: {facts.get('hf_id', key)}")


def catalog_names() -> list[str]:
    return list(model_catalog())


def load_architecture(name_or_path: str | Path) -> ModelArchitecture:
    """A catalog name (case-insensitive), an HF model folder, or a config.json path.

    Raises ArchitectureError with what was tried when nothing matches.
    """
    text = str(name_or_path).strip()
    if not text:
        raise ArchitectureError("no model given: name a catalog model, a folder or a config.json")
    if text.lower() in {key.lower() for key in model_catalog()}:
        return _catalog_architecture(text)
    path = Path(text).expanduser()
    if path.is_dir():
        config_path = path / "config.json"
        if not config_path.is_file():
            raise ArchitectureError(
                f"{path} has no config.json: choose a Hugging Face model folder"
            )
        return architecture_from_config(_read_config(config_path), path.name, str(config_path))
    if path.is_file():
        name = path.parent.name if path.name == "config.json" else path.stem
        return architecture_from_config(_read_config(path), name or path.stem, str(path))
    if text.lower() in ("bundled", "smollm2"):
        return _catalog_architecture("SmolLM2-135M-Instruct")
    raise ArchitectureError(
        f"unknown model '{text}': not in the catalog ({', '.join(sorted(model_catalog()))}) "
        "and not a folder or config.json"
    )
