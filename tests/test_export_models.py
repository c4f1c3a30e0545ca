"""Export for real on the tiny model: the LoRA adapter (PEFT, vLLM's rules), the merged model
loaded with peft made unimportable, QLoRA merged into unquantized weights, full runs, and GGUF
(built-in writer read back by transformers, llama.cpp's converter when configured, the message
when there is none)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from ticket_router_run import tiny_lora_settings

from core.export.adapter import vllm_adapter_problems
from core.export.exporter import export_run
from core.export.options import ExportOptions
from core.export.records import list_exports
from core.export.source import ExportSourceError

PROMPTS = [f"Ticket {i}: which team?" for i in range(4)]


def write_dataset(path, n=8):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: which team?"},
                {
                    "role": "assistant",
                    "content": f'{{"category": "{["billing", "shipping"][i % 2]}"}}',
                },
            ]
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def train(project, model_dir, train_file, **changes):
    from core.recipe.config import TrainConfig
    from core.training.session import run_training

    settings = tiny_lora_settings(model_dir, train_file, **changes)
    result = run_training(project, TrainConfig(**settings))
    assert result.status == "finished", result.reason
    return result.run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    """One project with a LoRA run (trained until it answers), a QLoRA and a full run."""
    import torch

    from core.project import create_project

    root = tmp_path_factory.mktemp("export-models")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINETUNE_STUDIO_HOME", str(root / "home"))
        project = create_project(root / "project", name="Export")
        data = write_dataset(root / "train.jsonl")
        ids = {
            "lora": train(project, tiny_model_dir, data, max_steps=10),
            "qlora": train(project, tiny_model_dir, data, method="qlora", max_steps=3),
            "full": train(
                project, tiny_model_dir, data, method="full", max_steps=2, learning_rate=1e-3
            ),
        }
    torch.set_num_threads(threads)
    yield project, ids, tiny_model_dir
    project.close()


def last_logits(model, tokenizer, text="Ticket 3: which team?"):
    import torch

    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        return model(**ids).logits[0, -1].float()


def run_model(project, run_id):
    """The run's own model as the app evaluates it (base + adapter from the run folder)."""
    from core.evaluation.generation import load_model
    from core.evaluation.models import run_spec
    from core.runs.record import load_run

    return load_model(run_spec(load_run(project, run_id).folder), device="cpu")


def test_adapter_export_loads_in_peft_and_follows_vllm_rules(runs, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    project, ids, base = runs
    out = tmp_path / "adapter"
    result = export_run(project, ids["lora"], ExportOptions(format="adapter", out_dir=str(out)))
    names = {p.name for p in out.iterdir()}
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "README.md",
    } <= names
    assert not names & {"training_args.bin", "studio_model.json"}
    assert vllm_adapter_problems(out) == [] and result.warnings == []
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert None not in adapter_config.values() and adapter_config["inference_mode"] is True
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as handle:
        keys = list(handle.keys())
    assert keys and all(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in keys)
    # Older loaders (transformers 4, vLLM) read the template from tokenizer_config.json.
    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert "<|im_start|>" in tokenizer_config["chat_template"]

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(out))
    exported = last_logits(model.eval(), AutoTokenizer.from_pretrained(out))
    reference = run_model(project, ids["lora"])
    assert torch.equal(exported, last_logits(reference.model, reference.tokenizer))

    card = (out / "README.md").read_text()
    assert "base_model:" in card and "library_name: peft" in card and "LoRA" in card
    assert "content hash" in card and "learning_rate" in card and "## Evaluation" in card
    assert [r.format for r in list_exports(project, ids["lora"])] == ["adapter"]


def test_vllm_rules_catch_extra_tensors_and_dora(runs, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    project, ids, _ = runs
    out = tmp_path / "adapter"
    export_run(project, ids["lora"], ExportOptions(format="adapter", out_dir=str(out)))
    tensors = load_file(str(out / "adapter_model.safetensors"))
    tensors["base_model.model.model.embed_tokens.weight"] = torch.zeros(4, 4)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    config = json.loads((out / "adapter_config.json").read_text())
    config["use_dora"] = True
    (out / "adapter_config.json").write_text(json.dumps(config))
    problems = " ".join(vllm_adapter_problems(out))
    assert "DoRA" in problems and "embed_tokens" in problems


NO_PEFT_SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys
    from importlib.machinery import PathFinder

    class WithoutPeft(importlib.abc.MetaPathFinder):
        # Wraps the path finder so that peft looks uninstalled: no module, no metadata.
        def __init__(self, inner):
            self.inner = inner
        def find_spec(self, name, path=None, target=None):
            if name == "peft" or name.startswith("peft."):
                return None
            return self.inner.find_spec(name, path, target)
        def invalidate_caches(self):
            self.inner.invalidate_caches()
        def find_distributions(self, *args, **kwargs):
            return (d for d in self.inner.find_distributions(*args, **kwargs)
                    if d.metadata["Name"] != "peft")

    sys.meta_path[:] = [WithoutPeft(f) if f is PathFinder else f for f in sys.meta_path]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder, prompts = sys.argv[1], json.loads(sys.argv[2])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    answers = []
    for prompt in prompts:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
            add_generation_prompt=True, return_tensors="pt", return_dict=True)
        out = model.generate(**ids, max_new_tokens=16, do_sample=False,
            eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
        answers.append(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    try:
        import peft  # noqa: F401
        blocked = False
    except ImportError:
        blocked = True
    print(json.dumps({"answers": answers, "peft_blocked": blocked,
                      "peft_loaded": any(m.split(".")[0] == "peft" for m in sys.modules)}))
    """
)


def test_merged_export_loads_with_plain_transformers_and_no_peft(runs, tmp_path):
    from core.evaluation.eval_set import eval_set_from_examples
    from core.evaluation.generation import GenerationConfig, generate_answers

    project, ids, _ = runs
    out = tmp_path / "merged"
    result = export_run(project, ids["lora"], ExportOptions(format="merged", out_dir=str(out)))
    assert "merged into the base model's float32 weights" in result.merge_note
    config = json.loads((out / "config.json").read_text())
    assert config["use_cache"] is True and "quantization_config" not in config
    assert list(out.glob("*.safetensors")) and not (out / "adapter_config.json").exists()

    process = subprocess.run(
        [sys.executable, "-c", NO_PEFT_SCRIPT, str(out), json.dumps(PROMPTS)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    assert process.returncode == 0, process.stderr[-3000:]
    report = json.loads(process.stdout.strip().splitlines()[-1])
    assert report["peft_blocked"] and not report["peft_loaded"]
    eval_set = eval_set_from_examples(
        "t", "test", [{"messages": [{"role": "user", "content": p}]} for p in PROMPTS]
    )
    in_app = generate_answers(
        run_model(project, ids["lora"]), eval_set.examples, GenerationConfig(max_new_tokens=16)
    )
    assert report["answers"] == [g.answer for g in in_app]
    assert all('"category"' in answer for answer in report["answers"])  # a trained model


def test_qlora_is_merged_into_the_unquantized_base_weights(runs, tmp_path):
    import torch
    from safetensors.torch import load_file

    project, ids, base = runs
    out = tmp_path / "merged-qlora"
    result = export_run(project, ids["qlora"], ExportOptions(format="merged", out_dir=str(out)))
    assert "4-bit" in result.merge_note and "not into the quantized ones" in result.merge_note
    assert "not into the quantized ones" in (out / "README.md").read_text()
    assert "quantization_config" not in json.loads((out / "config.json").read_text())

    merged = load_file(str(out / "model.safetensors"))
    original = load_file(str(base / "model.safetensors"))
    from core.runs.record import load_run

    adapter = load_file(
        str(load_run(project, ids["qlora"]).final_model_dir / "adapter_model.safetensors")
    )
    name = "model.layers.0.self_attn.q_proj"
    a = adapter[f"base_model.model.{name}.lora_A.weight"].float()
    b = adapter[f"base_model.model.{name}.lora_B.weight"].float()
    expected = original[f"{name}.weight"].float() + (b @ a) * (16 / 8)
    # Exactly the 16/32-bit weight plus the update: a merge into NF4 weights would be off
    # by the quantization error (~1e-2 here), not by rounding.
    assert merged[f"{name}.weight"].dtype == original[f"{name}.weight"].dtype
    assert torch.allclose(merged[f"{name}.weight"].float(), expected, atol=1e-6)
    assert not torch.equal(merged[f"{name}.weight"], original[f"{name}.weight"])


def test_full_run_exports_its_weights_and_has_no_adapter(runs, tmp_path):
    project, ids, _ = runs
    with pytest.raises(ExportSourceError, match="no adapter"):
        export_run(
            project, ids["full"], ExportOptions(format="adapter", out_dir=str(tmp_path / "a"))
        )
    assert not (tmp_path / "a").exists()
    out = tmp_path / "full"
    result = export_run(project, ids["full"], ExportOptions(format="merged", out_dir=str(out)))
    from core.runs.record import load_run

    final = load_run(project, ids["full"]).final_model_dir
    assert (out / "model.safetensors").read_bytes() == (final / "model.safetensors").read_bytes()
    assert "as trained" in result.merge_note and not (out / "training_args.bin").exists()


def test_builtin_gguf_reads_back_through_transformers(runs, tmp_path):
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    project, ids, _ = runs
    merged = tmp_path / "merged"
    export_run(project, ids["lora"], ExportOptions(format="merged", out_dir=str(merged)))
    exact = tmp_path / "gguf-f32"
    result = export_run(
        project,
        ids["lora"],
        ExportOptions(format="gguf", out_dir=str(exact), gguf_type="f32", gguf_converter="builtin"),
    )
    assert result.complete and result.gguf_file.parent == exact and result.gguf_file.is_file()
    name = result.gguf_file.name
    reader = gguf.GGUFReader(str(result.gguf_file))
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["tokenizer.ggml.pre"].contents() == "gpt2"
    assert "<|im_start|>" in reader.fields["tokenizer.chat_template"].contents()
    assert "FROM ./" + name in (exact / "Modelfile").read_text()

    reference_model = AutoModelForCausalLM.from_pretrained(merged).eval()
    reference_tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(exact, gguf_file=name, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(exact, gguf_file=name)
    text = "Ticket 3: which team? 0123 hello"
    assert tokenizer(text)["input_ids"] == reference_tokenizer(text)["input_ids"]
    # f32: the permuted Q/K and every other tensor come back bit for bit.
    assert torch.allclose(
        last_logits(model, reference_tokenizer),
        last_logits(reference_model, reference_tokenizer),
        atol=1e-5,
    )
    small = export_run(
        project, ids["lora"], ExportOptions(format="gguf", out_dir=str(tmp_path / "gguf-q8"))
    )
    assert small.gguf_file.name.endswith(".q8_0.gguf")
    assert small.gguf_file.stat().st_size < 0.5 * result.gguf_file.stat().st_size


def test_llama_cpp_converter_is_used_when_configured(runs, tmp_path):
    project, ids, _ = runs
    llama_cpp = tmp_path / "llama.cpp"
    llama_cpp.mkdir()
    calls = tmp_path / "calls.json"
    (llama_cpp / "convert_hf_to_gguf.py").write_text(
        textwrap.dedent(
            f"""
            import json, pathlib, sys
            args = sys.argv[1:]
            model = pathlib.Path(args[0])
            json.dump({{"args": args, "has_config": (model / "config.json").is_file(),
                       "has_template": (model / "tokenizer_config.json").is_file()}},
                      open({str(calls)!r}, "w"))
            pathlib.Path(args[args.index("--outfile") + 1]).write_bytes(b"GGUF")
            """
        )
    )
    out = tmp_path / "gguf"
    result = export_run(
        project,
        ids["lora"],
        ExportOptions(format="gguf", out_dir=str(out), gguf_type="f16", llama_cpp=str(llama_cpp)),
    )
    call = json.loads(calls.read_text())
    assert call["has_config"] and call["has_template"]
    assert call["args"][call["args"].index("--outtype") + 1] == "f16"
    assert (
        result.gguf_file.read_bytes() == b"GGUF" and "llama.cpp" in (out / "README.md").read_text()
    )
    assert not list(out.glob(".merged*")) and not (out / "model.safetensors").exists()


def test_gguf_without_a_converter_ships_the_merged_model_and_says_what_to_install(
    runs, tmp_path, monkeypatch
):
    from core.export.gguf_llama import builtin_support_problem

    project, ids, _ = runs
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("FINETUNE_STUDIO_LLAMA_CPP", raising=False)
    out = tmp_path / "gguf"
    result = export_run(
        project,
        ids["lora"],
        ExportOptions(format="gguf", out_dir=str(out), gguf_converter="llama.cpp"),
    )
    assert not result.complete and result.gguf_file is None
    message = result.gguf_missing
    assert "git clone" in message and "convert_hf_to_gguf.py" in message
    assert "FINETUNE_STUDIO_LLAMA_CPP" in message and str(out) in message
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    assert "not written" in (out / "README.md").read_text()

    other = tmp_path / "gpt2"
    shutil.copytree(out, other)
    config = json.loads((other / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    (other / "config.json").write_text(json.dumps(config))
    assert "GPT2LMHeadModel" in builtin_support_problem(other)
