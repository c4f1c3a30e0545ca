"""The one registry of fine-tuning methods: every part of the app offers the same ones."""

import dataclasses

from core.estimate.settings import RunSettings, field_choices
from core.methods import ADAPTER_METHODS, METHOD_NAMES, METHODS, QUANTIZED_METHODS
from core.recipe.config import TrainConfig


def test_trainer_and_estimator_offer_the_registered_methods():
    trainer = next(f for f in dataclasses.fields(TrainConfig) if f.name == "method")
    assert METHOD_NAMES == ("full", "lora", "qlora", "lora8bit")
    assert trainer.metadata["choices"] == METHOD_NAMES == field_choices("method")


def test_each_method_says_what_it_trains_and_how_the_base_is_stored():
    assert ADAPTER_METHODS == ("lora", "qlora", "lora8bit")
    assert QUANTIZED_METHODS == ("qlora", "lora8bit")
    assert [METHODS[name].quantized_bits for name in METHOD_NAMES] == [None, None, 4, 8]
    for name in METHOD_NAMES:
        settings = RunSettings(method=name)
        config = TrainConfig(method=name)
        assert settings.trains_adapters == config.is_adapter_method == (name != "full")
        assert settings.quantized_bits == METHODS[name].quantized_bits
        assert config.effective_learning_rate == (2e-5 if name == "full" else 2e-4)


def test_one_default_for_each_shared_setting():
    """The trainer and the estimator start from the same values under the same names."""
    config, settings = TrainConfig(), RunSettings()
    for name in (
        "method",
        "micro_batch_size",
        "gradient_accumulation",
        "max_seq_length",
        "packing",
        "gradient_checkpointing",
        "lora_r",
        "lora_dropout",
        "double_quant",
        "epochs",
    ):
        assert getattr(config, name) == getattr(settings, name), name
