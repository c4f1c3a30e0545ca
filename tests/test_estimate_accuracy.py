"""The estimator against published measurements and the seed guide's claims.

Each point models the stack that produced the measurement (core/estimate/calibration.py
says what was assumed where the source is silent). Measurements must be reproduced
within 20 %; fit / no-fit claims must hold. No real-GPU measurement of this project's own
trainer exists yet (no CUDA machine was available when this was written).
"""

import statistics

import pytest

from core.estimate.calibration import SEED_QLORA_STACK, measurement_points, reference_points

POINTS = reference_points()


@pytest.mark.parametrize("point", POINTS, ids=[point.key for point in POINTS])
def test_reference_point_holds(point):
    result = point.run()
    if point.metric in ("fits", "does_not_fit"):
        assert point.holds(result), f"{point.title}: peak {result.peak_gib:.1f} GiB"
    else:
        error = point.relative_error(result)
        assert abs(error) <= 0.20, (
            f"{point.title}: estimated {point.estimated(result):.2f}, measured "
            f"{point.measured:.2f} ({error:+.1%})"
        )


def test_median_error_is_small():
    errors = [abs(point.relative_error()) for point in measurement_points()]
    assert len(errors) >= 8
    assert statistics.median(errors) < 0.10


def test_seed_claims_with_the_projects_own_stack():
    from core.estimate import estimate, find_gpu, load_architecture
    from core.estimate.run import estimate_run

    rtx4090, a100 = find_gpu("RTX 4090"), find_gpu("A100 80GB")
    for name in ("Llama-2-7B", "Mistral-7B-v0.3", "Qwen2.5-7B"):
        model = load_architecture(name)
        lora = estimate(model, estimate_run(method="lora"), rtx4090)
        qlora = estimate(model, estimate_run(method="qlora"), rtx4090)
        full = estimate(model, estimate_run(method="full"), rtx4090)
        assert lora.fits, f"{name} LoRA: {lora.peak_gib:.1f} GiB"
        # The seed's "about 12 GB" counts 16-bit embeddings; our trainer keeps embeddings,
        # LM head and so the residual stream in fp32 (prepare_model_for_kbit_training; the
        # simulated step, tests/test_estimate_simulate.py, confirms it): more, still fits.
        sixteen_bit = estimate(model, estimate_run(method="qlora"), rtx4090, SEED_QLORA_STACK)
        assert 12e9 * 0.8 <= sixteen_bit.peak_gib * 1024**3 <= 12e9 * 1.2, sixteen_bit.peak_gib
        assert qlora.fits and qlora.peak_gib > sixteen_bit.peak_gib
        assert not full.fits
    for name in ("Llama-2-70B", "Llama-3.1-70B", "Qwen2.5-72B"):
        assert estimate(load_architecture(name), estimate_run(method="qlora"), a100).fits
