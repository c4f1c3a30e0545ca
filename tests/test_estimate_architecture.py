"""Model architectures from the catalog, HF folders and config.json files (no weights)."""

import json

import pytest

from core.estimate import ArchitectureError, architecture_from_config, load_architecture

# Published sizes (model cards), in billions of parameters.
PUBLISHED = {
    "Llama-3.1-8B": 8.03,
    "Llama-2-7B": 6.74,
    "Llama-3.1-70B": 70.55,
    "Mistral-7B-v0.3": 7.25,
    "Mixtral-8x7B-v0.1": 46.7,
    "Qwen2.5-7B": 7.62,
    "Qwen2.5-72B": 72.7,
    "Gemma-2-9B": 9.24,
    "Gemma-2-27B": 27.2,
    "Phi-3-mini": 3.82,
    "SmolLM2-135M-Instruct": 0.135,
    "SmolLM2-1.7B": 1.71,
    "T0_3B": 2.85,
    "mt0-xxl": 12.9,
}


@pytest.mark.parametrize("name,billions", PUBLISHED.items())
def test_catalog_parameter_counts_match_the_published_sizes(name, billions):
    model = load_architecture(name)
    assert model.total_params / 1e9 == pytest.approx(billions, rel=0.01)


def test_moe_counts_all_experts_in_memory_but_only_routed_ones_as_active():
    mixtral = load_architecture("mixtral-8x7b-v0.1")  # names are case-insensitive
    assert mixtral.is_moe and mixtral.num_experts == 8 and mixtral.experts_per_token == 2
    assert mixtral.active_params / 1e9 == pytest.approx(12.9, rel=0.01)


def test_gqa_tying_and_encoder_decoder_are_read():
    llama = load_architecture("Llama-3.1-8B")
    assert (llama.num_heads, llama.num_kv_heads, llama.kv_dim) == (32, 8, 1024)
    assert not llama.tie_embeddings and llama.lm_head_params == llama.embedding_params
    smol = load_architecture("SmolLM2-135M-Instruct")
    assert smol.tie_embeddings and smol.lm_head_params == 0
    t0 = load_architecture("T0_3B")
    assert t0.encoder_decoder and t0.num_decoder_layers == 24 and t0.dropout == 0.1
    assert {layer.block for layer in t0.linear_layers()} == {"encoder", "decoder", "cross"}
    gemma = load_architecture("Gemma-2-9B")
    assert gemma.needs_eager_attention and gemma.norms_per_layer == 4 and gemma.head_dim == 256
    phi = load_architecture("Phi-3-mini")
    assert {layer.role for layer in phi.linear_layers()} == {"qkv", "o", "gate_up", "down"}


def test_a_real_model_folder_matches_torch_parameter_count(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    counted = sum(p.numel() for p in model.parameters())
    estimated = load_architecture(tiny_model_dir)
    assert estimated.total_params == counted
    assert load_architecture(tiny_model_dir / "config.json").total_params == counted


def test_config_json_with_a_nested_text_config(tmp_path):
    config = {
        "model_type": "gemma3",
        "text_config": {
            "model_type": "gemma3_text",
            "hidden_size": 2560,
            "intermediate_size": 10240,
            "num_hidden_layers": 34,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "head_dim": 256,
            "vocab_size": 262208,
        },
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    model = load_architecture(path)
    assert model.hidden_size == 2560 and model.qk_norm and model.tie_embeddings


def test_unusable_inputs_say_what_is_wrong(tmp_path):
    with pytest.raises(ArchitectureError, match=r"unknown model 'Llama-9'.*Llama-3\.1-8B"):
        load_architecture("Llama-9")
    bad = tmp_path / "config.json"
    bad.write_text('{"hidden_size": 64,\n "vocab_size": }')
    with pytest.raises(ArchitectureError, match="line 2"):
        load_architecture(bad)
    bad.write_text(json.dumps({"hidden_size": 64, "vocab_size": 10}))
    with pytest.raises(ArchitectureError, match="lacks a usable"):
        load_architecture(bad)
    with pytest.raises(ArchitectureError, match="must divide"):
        architecture_from_config(
            {
                "hidden_size": 64,
                "num_attention_heads": 4,
                "num_key_value_heads": 3,
                "num_hidden_layers": 2,
                "vocab_size": 10,
            },
            "odd",
        )
    empty = tmp_path / "folder"
    empty.mkdir()
    with pytest.raises(ArchitectureError, match=r"no config\.json"):
        load_architecture(empty)
