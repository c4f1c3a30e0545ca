"""The bundled SmolLM2-135M-Instruct converts from GGUF and answers a chat prompt."""

import pytest

from core.models.bundled import bundled_gguf_path, ensure_bundled_model, is_converted


@pytest.mark.slow
def test_bundled_model_converts_and_answers():
    assert bundled_gguf_path().stat().st_size > 50_000_000
    stages = []
    folder = ensure_bundled_model(lambda fraction, message: stages.append(fraction))
    assert is_converted()
    assert (folder / "model.safetensors").is_file()
    assert (folder / "chat_template.jinja").is_file() or "chat_template" in (
        folder / "tokenizer_config.json"
    ).read_text()
    if stages:  # converted in this test: progress was reported up to the end
        assert stages[-1] == 1.0
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


def test_second_call_reuses_the_converted_folder():
    first = ensure_bundled_model()
    calls = []
    again = ensure_bundled_model(lambda fraction, message: calls.append(message))
    assert again == first and calls == []
