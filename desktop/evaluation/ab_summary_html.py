"""What the blind ratings say, as rich text: win rates with confidence intervals, scores per
dimension, agreement between raters, and the LLM judges. Names stay masked until revealed."""

from __future__ import annotations

from html import escape

from core.evaluation.ab_results import ABSummary, JudgeSummary, WinRates
from core.evaluation.statistics import BETTER, CANNOT_TELL, WORSE, Rate, describe_kappa
from core.figures import count_text
from desktop.theme import BAD, GOOD, MUTED, status_color

MASKED = ("Model 1", "Model 2")
VERDICT_KINDS = {BETTER: GOOD, WORSE: BAD}


def model_names(summary: ABSummary, reveal: bool) -> tuple[str, str]:
    if reveal:
        return summary.pair_set.label_a, summary.pair_set.label_b
    return MASKED


def _rate(value: Rate) -> str:
    if not value.n:
        return "—"
    return f"<b>{value.value:.0%}</b> ({value.low:.0%}–{value.high:.0%})"


def _verdict(words: str) -> str:
    shown = "not enough ratings to tell" if words == CANNOT_TELL else words
    return f"<span style='color:{status_color(VERDICT_KINDS.get(words, MUTED))}'><b>{escape(shown)}</b></span>"


def win_rates_html(wins: WinRates, first: str, second: str) -> str:
    return (
        "<table cellspacing='0' cellpadding='4' border='1' style='border-color:#ccc'>"
        "<tr><th></th><th>Share of rated pairs (95% CI)</th><th>Pairs</th></tr>"
        f"<tr><td>{escape(first)} better</td><td>{_rate(wins.share_a)}</td>"
        f"<td>{wins.wins_a}</td></tr>"
        f"<tr><td>Tie</td><td>{_rate(wins.share_tie)}</td><td>{wins.ties}</td></tr>"
        f"<tr><td>{escape(second)} better</td><td>{_rate(wins.share_b)}</td>"
        f"<td>{wins.wins_b}</td></tr>"
        f"<tr><td>{escape(second)} win rate, ties left out</td><td>{_rate(wins.b_win_rate)}</td>"
        f"<td>{wins.wins_a + wins.wins_b}</td></tr></table>"
        f"<p>{escape(second)} against {escape(first)}: {_verdict(wins.verdict)} "
        f"<span style='color:{status_color(MUTED)}'>(sign test p = {wins.p_value:.2g})</span></p>"
    )


def judge_html(judge: JudgeSummary, first: str, second: str) -> str:
    wins = judge.win_rates
    if judge.agreement_with_humans_n:
        kappa = (
            ""
            if judge.kappa_with_humans is None
            else f", Cohen's κ = {judge.kappa_with_humans:.2f} "
            f"({describe_kappa(judge.kappa_with_humans)})"
        )
        humans = (
            f"Agrees with the human raters' majority on "
            f"<b>{judge.agreement_with_humans:.0%}</b> of {judge.agreement_with_humans_n} "
            f"pairs{kappa}."
        )
    else:
        humans = "No human ratings of these pairs yet to compare it with."
    unreadable = (
        f" {count_text(judge.unreadable, 'verdict')} could not be read." if judge.unreadable else ""
    )
    return (
        f"<h4>Judge {escape(judge.judge)}</h4>"
        f"<p>Judged {judge.n_judged} pairs, each in both orders. The same answer won in both "
        f"orders on {_rate(judge.position_consistency)} of them; the others count as ties "
        f"(position bias).{unreadable}</p>"
        + win_rates_html(wins, first, second)
        + f"<p>{humans}</p>"
    )


def summary_html(summary: ABSummary, reveal: bool, with_judges: bool = True) -> str:
    first, second = model_names(summary, reveal)
    pair_set = summary.pair_set
    parts = []
    if not reveal:
        parts.append(
            f"<p style='color:{status_color(MUTED)}'>The models are named Model 1 and Model 2 so that raters "
            "stay blind; the exported report names them.</p>"
        )
    raters = ", ".join(summary.human_raters) or "nobody yet"
    parts.append(
        f"<p>{summary.rated_pairs} of {pair_set.n_pairs} pairs rated by "
        f"{count_text(len(summary.human_raters), 'rater')}: {escape(raters)}. Each pair counts once, with "
        "its raters' majority pick.</p>"
    )
    if summary.human is not None:
        parts.append(win_rates_html(summary.human, first, second))
        rows = "".join(
            f"<tr><td>{d.dimension}</td>"
            f"<td>{'—' if d.mean_a is None else f'{d.mean_a:.2f}'}</td>"
            f"<td>{'—' if d.mean_b is None else f'{d.mean_b:.2f}'}</td>"
            f"<td>{'—' if d.delta is None else f'{d.delta:+.2f} ({d.ci_low:+.2f} to {d.ci_high:+.2f})'}</td>"
            f"<td>{_verdict(d.verdict) if d.n else 'not rated'}</td></tr>"
            for d in summary.dimensions
        )
        parts.append(
            "<p><b>Scores (1-5)</b></p>"
            "<table cellspacing='0' cellpadding='4' border='1' style='border-color:#ccc'>"
            f"<tr><th>Dimension</th><th>{escape(first)}</th><th>{escape(second)}</th>"
            f"<th>Δ (95% CI)</th><th>Verdict</th></tr>{rows}</table>"
        )
    agreement = summary.agreement
    if agreement is None:
        parts.append(
            "<p><b>Agreement between raters:</b> needs a second rater. Ask a colleague to "
            "enter their name and rate the same pairs.</p>"
        )
    else:
        fleiss = "n/a" if agreement.fleiss is None else f"{agreement.fleiss:.2f}"
        pairwise = "; ".join(
            f"{escape(k.rater_1)} &amp; {escape(k.rater_2)}: "
            + ("n/a" if k.kappa is None else f"κ = {k.kappa:.2f} ({k.words}, {k.n} pairs)")
            for k in agreement.pairwise
        )
        percent = (
            "n/a" if agreement.percent_agreement is None else f"{agreement.percent_agreement:.0%}"
        )
        parts.append(
            f"<p><b>Agreement between raters</b> on {agreement.n_items} pairs rated by more "
            f"than one: Fleiss' κ = {fleiss} ({agreement.words}); every rater picked alike on "
            f"{percent}. Per pair of raters: {pairwise}.</p>"
        )
    if with_judges:
        for judge in summary.judges:
            parts.append(judge_html(judge, first, second))
    return "".join(parts)
