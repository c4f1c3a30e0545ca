"""A LoRA adapter on the tiny model that answers every ticket with the same JSON, shared by
the chat and evaluation tests: trained here for real with peft in a few seconds, so a
fine-tuned reply differs visibly from the random base model's."""

from __future__ import annotations

import shutil
from pathlib import Path

ANSWER = '{"category": "billing"}'


def train_chat_adapter(base_dir: Path, out_dir: Path, steps: int = 40) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    torch.manual_seed(0)
    model = get_peft_model(
        model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0)
    )
    conversations = [
        [{"role": "user", "content": f"ticket {w}"}, {"role": "assistant", "content": ANSWER}]
        for w in ("billing", "refund", "invoice", "charge")
    ]
    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(steps):
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    return out_dir


def add_finished_run(project, tiny_model_dir: Path, adapter_dir: Path) -> None:
    """The tiny model as a base model, and a finished run "run-1" that saved the adapter."""
    from core.models.registry import add_local_model
    from core.runs.record import insert_run_row

    add_local_model(project, tiny_model_dir)
    shutil.copytree(adapter_dir, project.runs_dir / "run-1" / "final")
    insert_run_row(
        project,
        "run-1",
        {
            "name": "run-1",
            "status": "finished",
            "base_model": tiny_model_dir.name,
            "base_model_path": str(tiny_model_dir),
            "method": "lora",
            "config_yaml": "",
            "folder": "run-1",
            "started_at": "2025-01-01T10:00:00",
            "final_model_dir": "final",
        },
    )


def bare_greedy_reply(model_dir, adapter_dir, messages, max_new_tokens) -> str:
    """The same reply from plain transformers (+ peft): no streamer, one generate call."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    with torch.inference_mode():
        out = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=[end]
        )
    new = out[0, inputs["input_ids"].shape[1] :].tolist()
    new = new[: new.index(end)] if end in new else new
    return tokenizer.decode(new, skip_special_tokens=True)
