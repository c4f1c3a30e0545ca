"""One formatter per kind of figure (core/figures.py): a duration or an amount of money reads
the same on every page, in the CLI and in reports."""

import math

from core.figures import duration_text, money_text


def test_a_duration_reads_one_way():
    assert [duration_text(s) for s in (0, 42.4, 60, 185, 3600, 7500)] == [
        "0 s",
        "42 s",
        "1 min 00 s",
        "3 min 05 s",
        "1 h 00 min",
        "2 h 05 min",
    ]
    assert duration_text(None) == duration_text(math.nan) == duration_text(math.inf) == "—"
    assert duration_text(-5) == "0 s"


def test_an_estimated_duration_is_rounded_to_what_it_can_claim():
    assert [duration_text(s, rough=True) for s in (42, 100, 45 * 60, 2.5 * 3600)] == [
        "42 s",
        "2 min",
        "45 min",
        "2.5 h",
    ]


def test_money_reads_one_way():
    assert [money_text(v) for v in (0, 0.004, 2.5, 1234.567)] == [
        "$0",
        "<$0.01",
        "$2.50",
        "$1,234.57",
    ]
    assert money_text(None) == money_text(math.nan) == "—"
    assert [money_text(v, rough=True) for v in (42.4, 347, 12_345)] == ["$42", "$350", "$12,300"]
