"""The statistics behind "better" and "not enough examples to tell", checked against known values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.evaluation.statistics import (
    BETTER,
    CANNOT_TELL,
    WORSE,
    binomial_two_sided_p,
    cohen_kappa,
    describe_kappa,
    fleiss_kappa,
    mcnemar,
    paired_bootstrap,
    paired_outcomes,
    rate,
    verdict,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998(successes, n, low, high):
    computed = wilson_interval(successes, n)
    assert computed[0] == pytest.approx(low, abs=5e-5)
    assert computed[1] == pytest.approx(high, abs=5e-5)


def test_wilson_interval_of_nothing_measured_is_everything():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_wilson_interval_holds_the_observed_rate_and_stays_in_0_1(case):
    successes, n = case
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


def test_rate_ignores_unmeasured_outcomes():
    measured = rate([True, None, False, True, None])
    assert (measured.successes, measured.n, measured.value) == (2, 3, pytest.approx(2 / 3))


def test_mcnemar_exact_case_computed_by_hand():
    # 1 example only A passed, 6 only B passed: n = 7 discordant pairs.
    # P(X <= 1 | Bin(7, 1/2)) = (C(7,0) + C(7,1)) / 2^7 = 8/128; two-sided: 16/128 = 0.125.
    result = mcnemar(1, 6)
    assert result.method == "exact binomial"
    assert result.p_value == pytest.approx(0.125)
    # 0 against 10: 2 / 2^10.
    assert mcnemar(0, 10).p_value == pytest.approx(2 / 1024)
    assert mcnemar(3, 3).p_value == 1.0
    assert mcnemar(0, 0).p_value == 1.0


def test_mcnemar_chi_square_matches_agresti_presidential_approval():
    # Agresti, An Introduction to Categorical Data Analysis, table 10.1: 150 and 86 discordant.
    # With the continuity correction: (|150 - 86| - 1)^2 / 236 = 16.82, p = 4.1e-5.
    result = mcnemar(150, 86)
    assert result.method.startswith("chi-square")
    assert result.statistic == pytest.approx(16.8178, abs=1e-4)
    assert result.p_value == pytest.approx(4.11e-5, rel=1e-2)


def test_binomial_p_is_symmetric_and_capped_at_one():
    assert binomial_two_sided_p(2, 10) == pytest.approx(binomial_two_sided_p(8, 10))
    assert binomial_two_sided_p(5, 10) == 1.0
    assert binomial_two_sided_p(0, 5) == pytest.approx(2 / 32)


def test_paired_outcomes_counts_discordant_pairs_and_skips_unmeasured():
    a = [True, True, False, False, None, True]
    b = [True, False, True, True, True, None]
    assert paired_outcomes(a, b) == (1, 2, 4)


def test_paired_bootstrap_of_a_constant_shift():
    result = paired_bootstrap([1, 2, 3, 4, 5], [2, 3, 4, 5, 6], seed=1)
    assert result.difference == pytest.approx(1.0)
    assert result.low == pytest.approx(1.0) and result.high == pytest.approx(1.0)
    assert result.p_value == 0.0


def test_paired_bootstrap_sees_no_difference_in_noise():
    a = [1, 0, 1, 0, 1, 0, 1, 0]
    b = [0, 1, 0, 1, 1, 0, 1, 0]
    result = paired_bootstrap(a, b, seed=0)
    assert result.difference == 0.0
    assert result.low < 0 < result.high
    assert result.p_value == 1.0


def test_paired_bootstrap_is_reproducible_with_a_seed():
    a, b = [0.1, 0.5, 0.9, 0.3, 0.7], [0.2, 0.4, 1.0, 0.6, 0.8]
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


def test_verdict_says_better_only_when_significant():
    assert verdict(0.2, 0.01, higher_is_better=True) == BETTER
    assert verdict(0.2, 0.01, higher_is_better=False) == WORSE
    assert verdict(-0.2, 0.01, higher_is_better=False) == BETTER
    assert verdict(0.2, 0.2, higher_is_better=True) == CANNOT_TELL
    assert verdict(0.0, 0.0, higher_is_better=True) == CANNOT_TELL


def test_cohen_kappa_textbook_example():
    # Wikipedia "Cohen's kappa": 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no: p_o = 0.7, p_e = 0.5.
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert cohen_kappa([], []) is None


def test_fleiss_kappa_textbook_example():
    # Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories; kappa = 0.210.
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    items = [[category for category, k in enumerate(row) for _ in range(k)] for row in counts]
    assert fleiss_kappa(items) == pytest.approx(0.20993, abs=1e-4)


def test_fleiss_kappa_equals_perfect_agreement_and_skips_single_ratings():
    assert fleiss_kappa([["a", "a"], ["b", "b"], ["a"]]) == pytest.approx(1.0)
    assert fleiss_kappa([["a"]]) is None


def test_kappa_words():
    assert describe_kappa(None) == "not measurable"
    assert describe_kappa(-0.1) == "poor"
    assert describe_kappa(0.4) == "fair"
    assert describe_kappa(0.9) == "almost perfect"
