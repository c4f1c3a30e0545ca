"""The fit engine's remedies name only what changes from the recipe."""

import pytest

from core.estimate.fit import recipe_remedies
from core.recipe.config import TrainConfig


def _recipe(**values) -> TrainConfig:
    values = {"method": "lora", "optimizer": "adamw_torch", **values}
    return TrainConfig(base_model="m", **values)


@pytest.mark.parametrize("device", ["cuda", "cpu"])
@pytest.mark.parametrize("checkpointing", [True, False])
@pytest.mark.parametrize("micro", [1, 2, 8])
@pytest.mark.parametrize("method, optimizer", [("lora", "adamw_torch"), ("qlora", "auto")])
def test_every_remedy_changes_each_field_it_names(device, checkpointing, micro, method, optimizer):
    recipe = _recipe(
        gradient_checkpointing=checkpointing,
        micro_batch_size=micro,
        method=method,
        optimizer=optimizer,
    )
    for remedy in recipe_remedies(recipe, device):
        assert all(getattr(recipe, k) != v for k, v in remedy.changes.items()), remedy
        if checkpointing:
            assert "checkpointing" not in remedy.label, remedy.label
        if micro == 1:
            assert "micro batch" not in remedy.label, remedy.label


def test_checkpointing_on_is_not_named_in_the_combined_remedy():
    recipe = _recipe(gradient_checkpointing=True, micro_batch_size=4, gradient_accumulation=2)
    combined = next(r for r in recipe_remedies(recipe, "cuda") if r.kind == "combined")
    assert combined.label == "micro batch 1 and an 8-bit optimizer together"
    assert combined.changes == {
        "micro_batch_size": 1,
        "gradient_accumulation": 8,
        "optimizer": "paged_adamw_8bit",
    }


def test_a_single_missing_saver_is_not_repeated_as_a_combination():
    # On the CPU there is no 8-bit optimizer: with checkpointing on only the micro batch is
    # left, which the micro batch remedies already offer.
    recipe = _recipe(gradient_checkpointing=True, micro_batch_size=4)
    kinds = [r.kind for r in recipe_remedies(recipe, "cpu")]
    assert "combined" not in kinds and "micro_batch" in kinds


def test_both_savers_missing_keep_the_old_label():
    recipe = _recipe(gradient_checkpointing=False, micro_batch_size=4)
    combined = next(r for r in recipe_remedies(recipe, "cpu") if r.kind == "combined")
    assert combined.label == "checkpointing, micro batch 1 together"
