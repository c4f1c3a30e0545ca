"""A tiny random Llama-architecture chat model built locally (about 100k parameters).

Tests and benchmarks train and generate with it for real in seconds, with no download.
Its tokenizer is a byte-level BPE trained on a few lines, so any text encodes.
"""

from __future__ import annotations

from pathlib import Path

# ChatML, with {% generation %} marks so that TRL can put the loss on assistant tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

CORPUS = [
    "You are a helpful assistant. Answer in JSON.",
    'The ticket is about billing. {"category": "billing", "priority": "high"}',
    'My order never arrived. {"category": "shipping", "priority": "medium"}',
    "The quick brown fox jumps over the lazy dog. 0123456789",
    "What is two plus two? Four. Please reply with yes or no. Yes.",
    "system user assistant hello world thanks password reset account login",
]


def build_tiny_tokenizer():
    # tokenizers is heavy: loaded when text is tokenized
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    # transformers is heavy: loaded when a model is
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny random LlamaForCausalLM and its tokenizer to `folder`."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
