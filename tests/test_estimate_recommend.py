"""The pick between full fine-tuning, LoRA and QLoRA, and what would fit when nothing does."""

from core.estimate import Goals, find_gpu, load_architecture, recommend
from core.estimate.run import estimate_run

RTX4090 = find_gpu("RTX 4090")
A100 = find_gpu("A100 80GB")


def test_qlora_is_the_usual_start_on_a_24gb_card():
    rec = recommend(load_architecture("Llama-3.1-8B"), estimate_run(), RTX4090)
    assert rec.method == "qlora" and rec.fits
    assert rec.reason.startswith("QLoRA, the usual starting point")
    assert set(rec.estimates) == {"full", "lora", "qlora"}
    assert not rec.fixes


def test_lora_when_it_fits_comfortably_and_speed_matters():
    model = load_architecture("Llama-3.1-8B")
    rec = recommend(model, estimate_run(), A100)
    assert rec.method == "lora" and "faster than QLoRA" in rec.reason
    slow_is_fine = recommend(model, estimate_run(), A100, Goals(prefer_speed=False))
    assert slow_is_fine.method == "qlora"


def test_full_fine_tuning_only_for_reasoning_with_enough_data_and_no_forgetting_worry():
    model = load_architecture("SmolLM2-1.7B")
    reasoning = Goals(task_kind="reasoning", examples=5000)
    rec = recommend(model, estimate_run(examples=5000), A100, reasoning)
    assert rec.method == "full" and "forgetting" in rec.reason
    keep = Goals(task_kind="reasoning", examples=5000, keep_broad_capabilities=True)
    assert recommend(model, estimate_run(examples=5000), A100, keep).method != "full"
    few = Goals(task_kind="reasoning", examples=500)
    assert recommend(model, estimate_run(), A100, few).method != "full"
    style = Goals(task_kind="format", examples=5000)
    assert recommend(model, estimate_run(), A100, style).method != "full"


def test_when_nothing_fits_the_remedies_are_re_estimated():
    rec = recommend(load_architecture("Llama-3.1-70B"), estimate_run(), RTX4090)
    assert not rec.fits and rec.method == "qlora"
    assert rec.reason.startswith("Nothing fits on RTX 4090")
    kinds = {fix.kind for fix in rec.fixes}
    assert {"micro_batch", "seq_len", "gpus", "bigger_gpu", "smaller_model"} <= kinds
    # QLoRA with checkpointing and an 8-bit optimizer already: only the micro batch is left,
    # so no "together" remedy repeats the micro batch one.
    assert "combined" not in kinds
    fitting = rec.fitting_fixes()
    assert fitting and all(fix.estimate.fits for fix in fitting)
    assert fitting[0].label in rec.reason
    smaller = next(fix for fix in fitting if fix.kind == "smaller_model")
    assert smaller.estimate.model.total_params < 70e9


def test_a_method_that_does_not_fit_gets_its_own_remedies():
    model = load_architecture("Llama-2-7B")
    rec = recommend(
        model,
        estimate_run(gradient_checkpointing=False, optimizer="adamw_torch"),
        RTX4090,
        method="lora",
    )
    assert rec.method == "lora" and not rec.fits
    fitting = {fix.kind for fix in rec.fitting_fixes()}
    assert {"checkpointing", "seq_len", "combined"} <= fitting
    # QLoRA alone does not save it: without checkpointing the activations dominate.
    assert not next(fix for fix in rec.fixes if fix.kind == "method").fits
    checkpointed = next(fix for fix in rec.fixes if fix.kind == "checkpointing")
    assert checkpointed.estimate.settings.gradient_checkpointing


def test_full_fine_tuning_of_7b_fits_across_gpus_with_fsdp():
    model = load_architecture("Llama-2-7B")
    settings = estimate_run(optimizer="adamw_torch_fused")
    rec = recommend(model, settings, find_gpu("A100 40GB"), method="full")
    assert not rec.fits
    fsdp = [fix for fix in rec.fixes if fix.kind == "gpus"]
    assert fsdp and fsdp[-1].fits and fsdp[-1].estimate.settings.sharding == "fsdp"


def test_an_asked_method_says_what_the_pick_would_be():
    rec = recommend(load_architecture("Llama-3.1-8B"), estimate_run(), RTX4090, method="lora")
    assert rec.method == "lora" and rec.fits
    assert "the pick for this GPU would be QLoRA" in rec.reason
    eight_bit = recommend(
        load_architecture("Llama-3.1-8B"), estimate_run(), RTX4090, method="lora8bit"
    )
    assert "lora8bit" in eight_bit.estimates and eight_bit.method == "lora8bit"


def test_remedies_for_70b_full_on_one_24gb_card_fit_on_the_card():
    """Issue 11: the remedy named a model needing 27 GiB on a 24 GiB card (it only fitted by
    paging optimizer states to CPU RAM); remedies must fit, and QLoRA and multi-GPU
    alternatives belong in the list."""
    from core.estimate import find_gpu, load_architecture, recommend

    gpu = find_gpu("RTX 4090")
    pick = recommend(
        load_architecture("Llama-3.1-70B"),
        # pure bf16 weights and an 8-bit optimizer: full fine-tuning at its leanest
        estimate_run(method="full", optimizer="paged_adamw_8bit", precision_override="bf16"),
        gpu,
        method="full",
    )
    fitting = pick.fitting_fixes()
    assert fitting, pick.reason
    for fix in fitting:
        capacity = fix.estimate.gpu.memory_gib
        assert fix.peak_gib <= capacity, f"{fix.label}: {fix.peak_gib:.1f} of {capacity} GiB"
    methods = {fix.estimate.settings.method for fix in fitting}
    assert "qlora" in methods
    assert any(fix.estimate.settings.num_gpus > 1 for fix in fitting)
    assert any(
        fix.estimate.settings.num_gpus > 1 and fix.estimate.settings.method == "full"
        for fix in fitting
    )
    # The reason names a remedy that fits, with its figure.
    assert f"({fitting[0].peak_gib:.1f} GiB)" in pick.reason
