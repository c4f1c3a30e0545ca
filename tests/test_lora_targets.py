"""LoRA reaches the layers of the models people use: all-linear by default on Llama, Phi-2,
StarCoder (GPT-BigCode) and the experts of Mixtral and Qwen-MoE; explicit names keep
working, and a name the model lacks is one clear error before training.

Each model is a tiny random one built here (hidden 32, 2 layers) and trained for 2 steps
through the project's real entry (run_training). LoRA's B matrices start at zero, so a
non-zero B in the saved adapter is a layer that trained."""

from __future__ import annotations

import json

import pytest
from test_training_session import write_dataset
from ticket_router_run import tiny_lora_settings

from core.recipe.config import TrainConfig, TrainConfigError
from core.runs.record import read_advice
from core.training.session import run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _common(tokenizer) -> dict:
    return {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def _phi(tok):
    from transformers import PhiConfig, PhiForCausalLM

    config = PhiConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=256, **_common(tok),
    )  # fmt: skip
    return PhiForCausalLM(config)


def _bigcode(tok):
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    config = GPTBigCodeConfig(
        n_embd=32, n_layer=2, n_head=4, n_positions=256, multi_query=True, **_common(tok)
    )
    return GPTBigCodeForCausalLM(config)


def _mixtral(tok):
    from transformers import MixtralConfig, MixtralForCausalLM

    config = MixtralConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
        max_position_embeddings=256, **_common(tok),
    )  # fmt: skip
    return MixtralForCausalLM(config)


def _qwen_moe(tok):
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM

    config = Qwen2MoeConfig(
        hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
        shared_expert_intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, num_experts=4, num_experts_per_tok=2,
        max_position_embeddings=256, **_common(tok),
    )  # fmt: skip
    return Qwen2MoeForCausalLM(config)


BUILDERS = {"phi": _phi, "gpt_bigcode": _bigcode, "mixtral": _mixtral, "qwen2_moe": _qwen_moe}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    """Each family's tiny random model with the tiny tokenizer, saved as a model folder."""
    import torch

    from core.models.tiny_model import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    folders = {}
    for family, build in BUILDERS.items():
        folder = tmp_path_factory.mktemp(family)
        torch.manual_seed(0)
        build(tok).save_pretrained(folder)
        tok.save_pretrained(folder)
        folders[family] = folder
    return folders


def train_two_steps(project, model_dir, tmp_path, **changes):
    # The config's own defaults for targets and dropout, unless a test names them.
    settings = tiny_lora_settings(model_dir, write_dataset(tmp_path / "train.jsonl"), max_steps=2)
    del settings["lora_dropout"]
    settings.update(changes)
    return run_training(project, TrainConfig(**settings))


def trained_layers(result) -> dict[str, set[str]]:
    """{adapted layer or parameter (within a block): its LoRA B changed from zero}."""
    from safetensors.torch import load_file

    state = load_file(result.final_model_dir / "adapter_model.safetensors")
    layers: dict[str, set[str]] = {}
    for key, value in state.items():
        if ".lora_B" not in key or (".layers.0." not in key and ".h.0." not in key):
            continue
        where = key.split(".0.", 1)[1].split(".lora_B")[0].replace(".base_layer", ".gate_up")
        layers.setdefault(where, set()).add("changed" if value.abs().sum() > 0 else "zero")
    return layers


def test_the_default_is_all_linear_in_the_trainer_and_the_estimator():
    from core.estimate.run import EstimateRun

    config = TrainConfig()
    assert config.lora_target_modules == ["all-linear"]
    settings = EstimateRun(config)  # the estimator reads the recipe itself
    assert settings.target_names() is None  # the estimator's all-linear
    assert settings.recipe.as_dict()["lora_target_modules"] == ["all-linear"]
    with pytest.raises(TrainConfigError) as error:
        TrainConfig(lora_target_modules=["all-linear", "q_proj"])
    assert error.value.field == "lora_target_modules"
    # Stored lists stay lists.
    assert TrainConfig(lora_target_modules="q_proj, v_proj").lora_target_modules == [
        "q_proj",
        "v_proj",
    ]


def test_all_linear_trains_every_llama_layer(project, tiny_model_dir, tmp_path):
    result = train_two_steps(project, tiny_model_dir, tmp_path)
    assert result.status == "finished", result.reason
    layers = trained_layers(result)
    names = {name.rsplit(".", 1)[-1] for name in layers}
    assert names == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert all(state == {"changed"} for state in layers.values()), layers


def test_all_linear_reaches_phi2_mlp_and_dense(project, tiny_models, tmp_path):
    result = train_two_steps(project, tiny_models["phi"], tmp_path)
    assert result.status == "finished", result.reason
    names = {name.rsplit(".", 1)[-1] for name in trained_layers(result)}
    # The old Llama default reached only q/k/v on Phi-2.
    assert {"dense", "fc1", "fc2", "q_proj", "k_proj", "v_proj"} <= names


def test_all_linear_trains_starcoder_where_llama_names_failed(project, tiny_models, tmp_path):
    result = train_two_steps(project, tiny_models["gpt_bigcode"], tmp_path)
    assert result.status == "finished", result.reason
    layers = trained_layers(result)
    assert {name.rsplit(".", 1)[-1] for name in layers} == {"c_attn", "c_proj", "c_fc"}
    assert all(state == {"changed"} for state in layers.values()), layers


def test_explicit_names_still_work_and_train_only_those(project, tiny_models, tmp_path):
    result = train_two_steps(
        project, tiny_models["phi"], tmp_path, lora_target_modules=["q_proj", "fc1"]
    )
    assert result.status == "finished", result.reason
    assert {name.rsplit(".", 1)[-1] for name in trained_layers(result)} == {"q_proj", "fc1"}


def test_a_name_the_model_lacks_is_one_clear_error_before_training(project, tiny_models, tmp_path):
    result = train_two_steps(
        project,
        tiny_models["phi"],
        tmp_path,
        lora_target_modules=["q_proj", "gate_proj", "up_proj"],
        preflight=True,
    )
    assert result.status == "failed"
    reason = result.reason
    assert "\n" not in reason.strip()
    assert reason.startswith("lora_target_modules:")
    assert "gate_proj, up_proj are not a layer of phi" in reason
    assert "dense, fc1, fc2, k_proj, q_proj, v_proj" in reason
    assert result.steps_done == 0


def test_resuming_a_run_keeps_the_names_that_matched_when_it_started(tiny_models):
    """A run started before names were checked (the old Llama default on Phi-2 trained
    q/k/v only) must still resume: its checkpoint holds exactly those adapters."""
    from transformers import AutoModelForCausalLM

    from core.training.lora_targets import resolve_targets

    model = AutoModelForCausalLM.from_pretrained(tiny_models["phi"])
    old_default = TrainConfig(lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    with pytest.raises(TrainConfigError, match="o_proj is not a layer of phi"):
        resolve_targets(old_default, model)
    resumed = resolve_targets(old_default, model, strict=False)
    assert resumed.modules == ("q_proj", "k_proj", "v_proj")
    assert "o_proj match no layer" in resumed.notes[0]
    with pytest.raises(TrainConfigError):  # nothing matching at all fails, as PEFT did
        resolve_targets(TrainConfig(lora_target_modules=["gate_proj"]), model, strict=False)


@pytest.mark.parametrize("family", ["mixtral", "qwen2_moe"])
def test_all_linear_trains_the_experts_of_a_mixture_of_experts(
    project, tiny_models, tmp_path, family
):
    result = train_two_steps(project, tiny_models[family], tmp_path, lora_dropout=0.05)
    assert result.status == "finished", result.reason
    layers = trained_layers(result)
    assert layers["mlp.experts"] == {"changed"}  # down_proj, the outer wrapper
    assert layers["mlp.experts.gate_up"] == {"changed"}
    assert "mlp.gate" in layers  # the router, a linear layer before transformers 5
    assert {"self_attn.q_proj", "self_attn.o_proj"} <= set(layers)
    config = json.loads((result.final_model_dir / "adapter_config.json").read_text())
    assert set(config["target_parameters"]) == {
        "mlp.experts.gate_up_proj",
        "mlp.experts.down_proj",
        "mlp.gate.weight",
    }
    assert config["lora_dropout"] == 0.0  # PEFT cannot apply dropout to the experts
    kinds = {advice.kind for advice in read_advice(result.folder)}
    assert "lora_dropout_off" in kinds and "lora_experts_untrained" not in kinds


def test_moe_adapter_loads_back_with_the_experts(project, tiny_models, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = train_two_steps(project, tiny_models["mixtral"], tmp_path, lora_dropout=0.0)
    assert result.status == "finished", result.reason
    base = AutoModelForCausalLM.from_pretrained(tiny_models["mixtral"])
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        adapted = PeftModel.from_pretrained(base, result.final_model_dir)
        loaded = {n for n, _ in adapted.named_parameters() if "experts" in n and "lora_B" in n}
        assert len(loaded) == 4  # gate_up and down in each of the 2 layers
        assert not torch.allclose(adapted(input_ids=ids).logits, plain)


def test_names_on_an_moe_warn_that_the_experts_are_left_out(project, tiny_models, tmp_path):
    result = train_two_steps(
        project, tiny_models["mixtral"], tmp_path, lora_target_modules=["q_proj", "v_proj"]
    )
    assert result.status == "finished", result.reason
    assert set(trained_layers(result)) == {"self_attn.q_proj", "self_attn.v_proj"}
    advice = {a.kind: a for a in read_advice(result.folder)}
    warning = advice["lora_experts_untrained"]
    assert warning.severity == "warning" and "all-linear" in warning.message


def test_the_estimator_counts_the_lora_parameters_the_trainer_creates(
    project, tiny_models, tmp_path
):
    """The tiny models' config.json through the estimator: its LoRA parameter count is the
    trainer's trainable count, experts included."""
    from core.estimate import architecture_from_config, estimate, find_gpu
    from core.estimate.run import EstimateRun

    for family in ("mixtral", "phi"):
        folder = tiny_models[family]
        (tmp_path / family).mkdir()
        result = train_two_steps(project, folder, tmp_path / family)
        assert result.status == "finished", result.reason
        trained = json.loads((result.folder / "run.json").read_text())["trainable_parameters"]
        model_config = json.loads((folder / "config.json").read_text())
        settings = EstimateRun(result_config(result))
        predicted = estimate(
            architecture_from_config(model_config, family), settings, find_gpu("H100 SXM")
        )
        assert predicted.memory.lora_params == trained, family
        if family == "mixtral":
            lora_line = next(c for c in predicted.memory.components if c.key == "lora")
            assert "experts" in lora_line.detail


def result_config(result) -> TrainConfig:
    from core.recipe.config import load_config

    return load_config(result.folder / "config.yaml")


def test_the_train_page_shows_all_linear_layers_by_default(qtbot):
    from PySide6.QtWidgets import QWidget

    from desktop.training.config_form import ALL_LINEAR_LABEL, ConfigForm

    host = QWidget()
    qtbot.addWidget(host)
    form = ConfigForm(host)
    form.set_config(TrainConfig())
    editor = form.editors["lora_target_modules"]
    assert editor.editor.currentText() == ALL_LINEAR_LABEL
    assert "all-linear" in editor.editor.toolTip()
    assert form.values()["lora_target_modules"] == "all-linear"
    editor.set(["q_proj", "v_proj"])
    assert TrainConfig(
        lora_target_modules=form.values()["lora_target_modules"]
    ).lora_target_modules == ["q_proj", "v_proj"]
