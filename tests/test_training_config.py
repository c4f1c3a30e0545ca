"""TrainConfig: the guide's defaults, help on every field, validation, YAML, presets."""

from __future__ import annotations

import dataclasses

import pytest

from core.recipe.config import (
    CONFIG_VERSION,
    CPU_PRESET,
    PRESETS,
    TrainConfig,
    TrainConfigError,
    apply_preset,
    config_from_dict,
    config_to_yaml,
    field_help,
    find_preset,
    load_config,
    save_config,
)


def test_defaults_are_the_guides_starting_configuration():
    config = TrainConfig()
    assert config.epochs == 3
    assert (config.micro_batch_size, config.gradient_accumulation) == (4, 4)
    assert config.effective_batch_size == 16
    assert config.lr_scheduler == "cosine"
    assert config.warmup_ratio == 0.03
    assert config.weight_decay == 0.01
    assert config.max_grad_norm == 1.0
    assert config.precision == "auto"  # bf16 where supported (device.resolve_device)
    assert config.max_seq_length == 2048
    assert config.packing is True
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (16, 32, 0.05)
    # PEFT's all-linear: right on every family, the estimator's default too.
    assert config.lora_target_modules == ["all-linear"]
    assert config.lora_bias == "none"
    assert config.method == "qlora" and config.quant_type == "nf4" and config.double_quant
    assert config.loss_on == "assistant"


def test_learning_rate_and_optimizer_follow_the_method():
    assert TrainConfig(method="lora").effective_learning_rate == 2e-4
    assert TrainConfig(method="qlora").effective_learning_rate == 2e-4
    assert TrainConfig(method="full").effective_learning_rate == 2e-5
    assert TrainConfig(method="full", learning_rate=1e-5).effective_learning_rate == 1e-5
    assert TrainConfig(method="qlora").effective_optimizer("cuda") == "paged_adamw_8bit"
    assert TrainConfig(method="qlora").effective_optimizer("cpu") == "adamw_torch"
    assert TrainConfig(method="lora").effective_optimizer("cuda") == "adamw_torch"


def test_every_field_has_help_label_and_group_for_the_gui():
    for spec in dataclasses.fields(TrainConfig):
        assert len(spec.metadata.get("help", "")) > 15, spec.name
        assert spec.metadata.get("label"), spec.name
        assert spec.metadata.get("group"), spec.name
    assert "2e-4" in field_help("learning_rate")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"micro_batch_size": 0}, "micro_batch_size", "more than 0"),
        ({"method": "dora"}, "method", "full, lora, qlora, lora8bit"),
        ({"warmup_ratio": 1.5}, "warmup_ratio", "[0, 1)"),
        ({"learning_rate": 3.0}, "learning_rate", "far too high"),
        ({"epochs": "three"}, "epochs", "expected a number"),
        ({"epochs": -1, "max_steps": 50}, "epochs", "0 or more"),
        ({"packing": "maybe"}, "packing", "true or false"),
        ({"lora_r": 2.5}, "lora_r", "whole number"),
        ({"keep_checkpoints": 0}, "keep_checkpoints", "resumed"),
        ({"method": "qlora", "device": "mps"}, "method", "MPS"),
        ({"lora_target_modules": []}, "lora_target_modules", "at least one"),
    ],
)
def test_bad_values_name_the_field_and_say_what_to_do(changes, field, words):
    with pytest.raises(TrainConfigError) as caught:
        TrainConfig(**changes)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(TrainConfigError) as caught:
        TrainConfig(micro_batch_size=0, method="dora", epochs="three", seed=-1)
    problems = caught.value.problems
    assert set(problems) == {"micro_batch_size", "method", "epochs", "seed"}
    assert "more than 0" in problems["micro_batch_size"]
    assert "and 3 more" in str(caught.value)


def test_whole_numbers_have_bounds_and_say_what_0_means():
    from core.recipe.config import INT_MAX

    fields = {spec.name: spec for spec in dataclasses.fields(TrainConfig)}
    assert fields["max_steps"].metadata["zero"] == "no limit"
    assert fields["max_seq_length"].metadata["min"] == 16
    with pytest.raises(TrainConfigError) as caught:
        TrainConfig(max_steps=INT_MAX + 1)
    assert caught.value.field == "max_steps" and "(0: no limit)" in caught.value.message
    with pytest.raises(TrainConfigError, match="lora_r"):
        TrainConfig(lora_r=5000)


def test_all_linear_has_one_spelling():
    assert TrainConfig(lora_target_modules=["all"]).lora_target_modules == ["all-linear"]
    assert TrainConfig(lora_target_modules="all_linear").lora_target_modules == ["all-linear"]


def test_strings_from_yaml_and_forms_are_coerced():
    config = TrainConfig(learning_rate="2e-4", epochs=2, lora_r="8", packing="no")
    assert config.learning_rate == 2e-4 and isinstance(config.epochs, float)
    assert config.lora_r == 8 and config.packing is False


def test_yaml_is_sorted_version_stamped_and_round_trips(tmp_path):
    config = TrainConfig(method="lora", lora_r=8, learning_rate=1e-4, name="tone run")
    text = config_to_yaml(config)
    assert text.splitlines()[1] == f"config_version: {CONFIG_VERSION}"
    assert "studio_version:" in text
    keys = [line.split(":")[0] for line in text.splitlines()[3:] if line and line[0] != "#"]
    assert keys == sorted(keys) and "lora_r" in keys
    path = tmp_path / "run.yaml"
    save_config(config, path, with_help=True)
    assert "# The most important LoRA setting" in path.read_text()
    assert load_config(path) == config


def test_unknown_setting_is_named_with_a_suggestion(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("learning_rat: 0.001\nmethod: lora\n")
    with pytest.raises(TrainConfigError) as caught:
        load_config(path)
    assert "learning_rat" in str(caught.value) and "learning_rate" in str(caught.value)
    assert str(path) in str(caught.value)


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("method: lora\nepochs: [3\n")
    with pytest.raises(TrainConfigError) as caught:
        load_config(path)
    assert "line" in str(caught.value) and "not valid YAML" in str(caught.value)


def test_relative_data_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.yaml"
    path.write_text("train_file: data/train.jsonl\n")
    assert load_config(path).train_file == str(tmp_path / "sub" / "data" / "train.jsonl")


def test_a_newer_config_version_is_refused():
    with pytest.raises(TrainConfigError, match="newer"):
        config_from_dict({"config_version": CONFIG_VERSION + 1})


def test_presets_set_the_guides_ranks():
    base = TrainConfig(method="lora")
    assert apply_preset(base, "format_or_tone").lora_r == 8
    assert apply_preset(base, "domain_adaptation").lora_r == 16
    assert apply_preset(base, "new_reasoning").lora_r == 64
    assert all(p.lora_alpha == 2 * p.lora_r for p in (apply_preset(base, n) for n in PRESETS))
    with pytest.raises(TrainConfigError):
        apply_preset(base, "magic")


def test_a_preset_is_found_by_name_the_cpu_one_included():
    assert find_preset("cpu") is CPU_PRESET
    assert find_preset("new_reasoning") is PRESETS["new_reasoning"]
    assert find_preset("cpu").status_text == f"Preset: CPU. {CPU_PRESET.description}"
    with pytest.raises(TrainConfigError, match="unknown preset 'magic'"):
        find_preset("magic")


def test_data_is_required_only_when_starting():
    config = TrainConfig()
    with pytest.raises(TrainConfigError) as caught:
        config.require_data()
    assert caught.value.field == "train_file"
    TrainConfig(train_file="x.jsonl").require_data()


def test_cpu_threads_leave_a_core_free_on_small_machines(monkeypatch):
    from core.training.device import cpu_thread_count

    assert cpu_thread_count(TrainConfig(cpu_threads=3)) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert cpu_thread_count(TrainConfig()) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert cpu_thread_count(TrainConfig()) == 16
