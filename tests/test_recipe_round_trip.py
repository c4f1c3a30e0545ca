"""Train -> Estimate -> Train returns exactly the recipe it was given (issue 20).

Random valid recipes go through the real pages: the Train form, "Open in Estimate" (a
core.handoff TrainConfigForEstimate), the Estimate page's generated form, "Train with these
settings" (a SettingsForTrain) and the Train form again. Before, the Estimate spin box
clamped max_seq_length to 64-262,144, epochs 0 became 1, an optimizer the estimator lacked
was dropped and the base model was ignored.
"""

from __future__ import annotations

import dataclasses
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.handoff import SettingsForTrain, TrainConfigForEstimate
from core.hardware.detect import HardwareInfo
from core.recipe.config import INT_MAX, TrainConfig, TrainConfigError, config_fields
from core.training.device import offered_devices
from desktop.context import AppContext
from desktop.estimate.page import EstimatePage
from desktop.training.page import TrainingPage

HARDWARE = HardwareInfo(cpu_cores=2)
# Fractions and rates with their bounds (TrainConfig checks them); an upper bound that is
# excluded is approached, not reached.
FLOAT_BOUNDS = {
    "epochs": (0.0, 1000.0),
    "validation_fraction": (0.0, 0.4999),
    "learning_rate": (0.0, 1.0),
    "warmup_ratio": (0.0, 0.9999),
    "weight_decay": (0.0, 10.0),
    "max_grad_norm": (0.0, 100.0),
    "lora_dropout": (0.0, 0.9999),
    "dpo_beta": (0.0001, 10.0),
    "grpo_temperature": (0.01, 2.0),
    "grpo_beta": (0.0, 10.0),
}
TEXT = st.text(string.ascii_letters + string.digits + " -_./", min_size=1, max_size=30)
LAYER_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True).filter(
    lambda name: name != "all"
)


def _field_strategy(spec: dataclasses.Field):
    default = getattr(TrainConfig(), spec.name)
    meta = spec.metadata
    if spec.name == "device":
        return st.sampled_from(offered_devices(HARDWARE))  # what this machine's form offers
    if meta.get("choices"):
        return st.sampled_from(meta["choices"])
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(meta.get("min", 0), meta.get("max", INT_MAX))
    if isinstance(default, float):
        low, high = FLOAT_BOUNDS[spec.name]
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    if isinstance(default, list):
        return st.one_of(st.just(["all-linear"]), st.lists(LAYER_NAME, min_size=1, max_size=4))
    if spec.name == "rewards":  # free text the form checks as a reward spec (core.rewards)
        return st.sampled_from(
            [
                "[{kind: valid_json}]",
                "[{kind: valid_json, weight: 2}, {kind: length_penalty, max_chars: 400}]",
            ]
        )
    if spec.name in ("name", "dataset_version", "validation_file"):
        return st.one_of(st.just(""), TEXT.map(str.strip).filter(bool))
    return TEXT.map(str.strip).filter(bool)  # base_model, train_file


def _valid(values: dict) -> TrainConfig | None:
    try:
        return TrainConfig(**values)
    except TrainConfigError:
        return None


RECIPES = (
    st.fixed_dictionaries({spec.name: _field_strategy(spec) for spec in config_fields()})
    .map(_valid)
    .filter(lambda recipe: recipe is not None)
)


def test_train_estimate_train_returns_the_recipe_it_was_given(qtbot, project):
    context = AppContext(project, HARDWARE)
    train, estimate = TrainingPage(context), EstimatePage(context)
    qtbot.addWidget(train)
    qtbot.addWidget(estimate)
    sent: list = []
    context.navigate_requested.connect(lambda _page, handoff: sent.append(handoff))

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(RECIPES)
    def round_trip(recipe: TrainConfig) -> None:
        sent.clear()
        train.form.set_config(recipe)
        assert train.form.config() == recipe  # the Train form itself is exact
        train.open_estimate_button.click()
        assert isinstance(sent[-1], TrainConfigForEstimate)
        estimate.receive(sent[-1])
        assert estimate.form.recipe.config() == recipe
        estimate.train_with_these_settings()
        assert isinstance(sent[-1], SettingsForTrain)
        train.form.set_config(TrainConfig())  # the Train page shows something else meanwhile
        train.receive(sent[-1])
        assert train.form.config() == recipe

    round_trip()


def test_open_in_estimate_estimates_the_runs_base_model(qtbot, project, tiny_model_dir):
    """The base model of the run, not whatever model Estimate had selected."""
    context = AppContext(project, HARDWARE)
    train, estimate = TrainingPage(context), EstimatePage(context)
    qtbot.addWidget(train)
    qtbot.addWidget(estimate)
    assert estimate.recommendation.chosen.model.name == "Llama-3.1-8B"  # the page's default
    sent: list = []
    context.navigate_requested.connect(lambda _page, handoff: sent.append(handoff))
    for base_model, hidden_size in (("Qwen2.5-7B", 3584), (str(tiny_model_dir), 64)):
        train.form.set_values({"base_model": base_model})
        train.open_estimate_button.click()
        estimate.receive(sent[-1])
        assert estimate.recommendation.chosen.model.hidden_size == hidden_size, base_model
        assert estimate.train_settings()["base_model"] == base_model
