"""The one registry of fine-tuning methods: every part of the app offers the same ones."""

import dataclasses

from core.estimate.run import EstimateRun
from core.methods import ADAPTER_METHODS, METHOD_NAMES, METHODS, QUANTIZED_METHODS
from core.recipe.config import TrainConfig


def test_trainer_and_estimator_offer_the_registered_methods():
    trainer = next(f for f in dataclasses.fields(TrainConfig) if f.name == "method")
    assert METHOD_NAMES == ("full", "lora", "qlora", "lora8bit")
    assert trainer.metadata["choices"] == METHOD_NAMES


def test_each_method_says_what_it_trains_and_how_the_base_is_stored():
    assert ADAPTER_METHODS == ("lora", "qlora", "lora8bit")
    assert QUANTIZED_METHODS == ("qlora", "lora8bit")
    assert [METHODS[name].quantized_bits for name in METHOD_NAMES] == [None, None, 4, 8]
    for name in METHOD_NAMES:
        config = TrainConfig(method=name)
        settings = EstimateRun(config)
        assert settings.trains_adapters == config.is_adapter_method == (name != "full")
        assert settings.quantized_bits == METHODS[name].quantized_bits
        assert config.effective_learning_rate == (2e-5 if name == "full" else 2e-4)


def test_one_settings_object_and_one_optimizer_vocabulary():
    """The estimator reads the recipe itself; its optimizer table covers the recipe's words."""
    from core.estimate.settings import OPTIMIZER_STATE
    from core.recipe.vocabularies import OPTIMIZERS

    assert EstimateRun().recipe == TrainConfig()
    assert set(OPTIMIZER_STATE) == set(OPTIMIZERS) - {"auto"}
    for name in OPTIMIZER_STATE:
        assert EstimateRun(TrainConfig(optimizer=name)).optimizer == name
