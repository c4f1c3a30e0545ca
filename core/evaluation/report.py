"""The evaluation report: one self-contained HTML file a team can read and pass around.

Metrics side by side (baseline first) with deltas, confidence intervals and the
significance verdict; charts as inline SVG; blind A/B results with the identities
revealed; LLM-judge results; regression probes; and every example's answers, with
the differences from the baseline highlighted.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from core.atomic_file import write_text_atomic
from core.evaluation.ab_results import ABSummary, ab_summary
from core.evaluation.error_analysis import compare_examples, example_passed, word_diff
from core.evaluation.leakage import leakage_of_results
from core.evaluation.metrics import METRIC_TITLES, MetricComparison, compare
from core.evaluation.regression import RegressionReport
from core.evaluation.results import EvalResult
from core.evaluation.statistics import BETTER, WORSE, Rate
from core.evaluation.store import load_result
from core.evaluation.svg_charts import grouped_bars, win_tie_loss_bar
from core.figures import count_text

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #eee;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;width:100%} th,td{border:1px solid #ddd;padding:.35em .55em;
text-align:left;vertical-align:top} th{background:#f6f6f6}
.better{color:#006d2c;font-weight:bold} .worse{color:#b30000;font-weight:bold} .muted{color:#777}
.warn{background:#fff4e5;border-left:4px solid #e69f00;padding:.6em 1em;margin:1em 0}
.ok{background:#eef8f0;border-left:4px solid #009e73;padding:.6em 1em;margin:1em 0}
.pass{color:#006d2c} .fail{color:#b30000} pre{white-space:pre-wrap;margin:0;font-family:ui-monospace,monospace;
font-size:.9em} ins{background:#d4f7d4;text-decoration:none} del{background:#fbd5d5}
details{margin:.4em 0} summary{cursor:pointer} .small{font-size:.9em}
"""


@dataclass
class ReportInput:
    """Everything one report shows; results[0] is the baseline the others are compared with."""

    results: Sequence[EvalResult]
    ab_summaries: Sequence[ABSummary] = ()
    regressions: Sequence[RegressionReport] = ()
    title: str = "Evaluation report"
    project_name: str | None = None
    extra_notes: list[str] = field(default_factory=list)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _rate(r: Rate) -> str:
    if not r.n:
        return '<span class="muted">not measured</span>'
    return f"{r.value:.1%} <span class='muted small'>({r.low:.1%}-{r.high:.1%}, n={r.n})</span>"


def _verdict_html(words: str) -> str:
    css = {BETTER: "better", WORSE: "worse"}.get(words, "muted")
    return f'<span class="{css}">{escape(words)}</span>'


def _delta_html(comparison: MetricComparison) -> str:
    if comparison.delta is None:
        return '<span class="muted">n/a</span>'
    is_rate = comparison.metric not in ("perplexity", "mean_answer_tokens")
    if is_rate:
        text = f"{comparison.delta * 100:+.1f} pts"
        interval = f"{comparison.ci_low * 100:+.1f} to {comparison.ci_high * 100:+.1f}"
    else:
        text = f"{comparison.delta:+.3g}"
        interval = f"{comparison.ci_low:+.3g} to {comparison.ci_high:+.3g}"
    p_value = "" if comparison.p_value is None else f", p={comparison.p_value:.3g}"
    return (
        f"{text} <span class='muted small'>(95% CI {interval}{p_value})</span><br>"
        f"{_verdict_html(comparison.verdict)}"
        f"<br><span class='muted small'>{escape(comparison.test)}</span>"
    )


def _metric_cell(result: EvalResult, key: str) -> str:
    metrics = result.metrics()
    if key == "format_compliance":
        return _rate(metrics.format_compliance)
    if key == "accuracy":
        return _rate(metrics.accuracy)
    if key == "refusal_rate":
        return _rate(metrics.refusal)
    if key == "truncated_rate":
        return _rate(metrics.truncated)
    if key == "perplexity":
        return "n/a" if metrics.perplexity is None else f"{metrics.perplexity:.3g}"
    if key == "mean_answer_tokens":
        return "n/a" if metrics.mean_answer_tokens is None else f"{metrics.mean_answer_tokens:.1f}"
    raise KeyError(key)


def _models_section(results: Sequence[EvalResult]) -> str:
    rows = []
    for number, result in enumerate(results):
        spec, config = result.spec, result.config
        role = "baseline" if number == 0 else "candidate"
        decoding = (
            "greedy" if config.greedy else f"sampled (T={config.temperature}, top-p={config.top_p})"
        )
        rows.append(
            "<tr>"
            f"<td><b>{escape(spec.label)}</b><br><span class='muted small'>{role}</span></td>"
            f"<td>{escape(spec.kind)}</td>"
            f"<td class='small'>{escape(spec.base_model)}"
            + (f"<br>adapter: {escape(spec.adapter)}" if spec.adapter else "")
            + "</td>"
            f"<td>{escape(spec.training_run or '')}</td>"
            f"<td class='small'><pre>{escape(spec.system_prompt or '')}</pre></td>"
            f"<td class='small'>{decoding}, seed {config.seed}, max {config.max_new_tokens} tokens</td>"
            f"<td class='small'>{escape(result.created_at)}</td>"
            "</tr>"
        )
    return (
        "<h2>Models</h2><table><tr><th>Model</th><th>Kind</th><th>Base / adapter</th>"
        "<th>Training run</th><th>System prompt</th><th>Generation</th><th>Evaluated</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _metrics_section(results: Sequence[EvalResult]) -> str:
    baseline = results[0]
    comparisons = {r.label: {c.metric: c for c in compare(baseline, r)} for r in results[1:]}
    header = (
        "<tr><th>Metric</th>"
        + "".join(
            f"<th>{escape(r.label)}</th>"
            + (f"<th>{escape(r.label)} vs {escape(baseline.label)}</th>" if i else "")
            for i, r in enumerate(results)
        )
        + "</tr>"
    )
    rows = []
    for key, (title, _) in METRIC_TITLES.items():
        cells = [f"<td><b>{escape(title)}</b></td>"]
        for number, result in enumerate(results):
            cells.append(f"<td>{_metric_cell(result, key)}</td>")
            if number:
                cells.append(f"<td>{_delta_html(comparisons[result.label][key])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = (
        "<p class='muted small'>Rates show their 95% Wilson interval. Each candidate is compared "
        "with the baseline on the same examples: McNemar's test for pass/fail metrics, a paired "
        "bootstrap for perplexity and length. A difference is called better or worse only when "
        "p &lt; 0.05; otherwise there are not enough examples to tell.</p>"
    )
    return "<h2>Metrics</h2><table>" + header + "".join(rows) + "</table>" + note


def _charts_section(results: Sequence[EvalResult]) -> str:
    groups = ["Format compliance", "Task accuracy", "Refusal rate"]
    series = []
    for result in results:
        metrics = result.metrics()
        entries = []
        for value in (metrics.format_compliance, metrics.accuracy, metrics.refusal):
            entries.append((value.value, value.low, value.high) if value.n else None)
        series.append((result.label, entries))
    charts = [grouped_bars(groups, series, "Rates with 95% confidence intervals")]
    perplexities = [r.metrics().perplexity for r in results]
    if any(p is not None for p in perplexities):
        ppl_series = [
            (r.label, [None if p is None else (p, p, p)]) for r, p in zip(results, perplexities)
        ]
        charts.append(
            grouped_bars(
                ["Perplexity on the reference answers (lower is better)"],
                ppl_series,
                "Perplexity",
                y_max=None,
                percent=False,
                height=260,
            )
        )
    return "<h2>Charts</h2>" + "".join(f"<div>{c}</div>" for c in charts)


def _ab_section(summaries: Sequence[ABSummary]) -> str:
    if not summaries:
        return ""
    parts = ["<h2>Blind A/B ratings</h2>"]
    for summary in summaries:
        pair_set = summary.pair_set
        parts.append(
            f"<h3>{escape(pair_set.name)}</h3><p>Raters saw two anonymised answers in random order "
            f"(seed {pair_set.seed}). Revealed: the models were <b>{escape(pair_set.label_a)}</b> "
            f"and <b>{escape(pair_set.label_b)}</b>. {summary.rated_pairs} of {pair_set.n_pairs} "
            f"pairs rated by {count_text(len(summary.human_raters), 'rater')}: "
            f"{escape(', '.join(summary.human_raters)) or 'none yet'}.</p>"
        )
        if summary.human is not None:
            wins = summary.human
            parts.append(
                win_tie_loss_bar(
                    pair_set.label_a, pair_set.label_b, wins.wins_a, wins.ties, wins.wins_b
                )
            )
            parts.append(
                "<table><tr><th></th><th>Share of rated pairs (95% CI)</th></tr>"
                f"<tr><td>{escape(pair_set.label_a)} better</td><td>{_rate(wins.share_a)}</td></tr>"
                f"<tr><td>Tie</td><td>{_rate(wins.share_tie)}</td></tr>"
                f"<tr><td>{escape(pair_set.label_b)} better</td><td>{_rate(wins.share_b)}</td></tr>"
                f"<tr><td>{escape(pair_set.label_b)} win rate, ties left out</td>"
                f"<td>{_rate(wins.b_win_rate)}</td></tr></table>"
                f"<p>{escape(pair_set.label_b)} against {escape(pair_set.label_a)}: "
                f"{_verdict_html(wins.verdict)} (sign test p={wins.p_value:.3g}).</p>"
            )
            rows = "".join(
                f"<tr><td>{d.dimension}</td><td>{'' if d.mean_a is None else f'{d.mean_a:.2f}'}</td>"
                f"<td>{'' if d.mean_b is None else f'{d.mean_b:.2f}'}</td>"
                f"<td>{'' if d.delta is None else f'{d.delta:+.2f} ({d.ci_low:+.2f} to {d.ci_high:+.2f})'}</td>"
                f"<td>{_verdict_html(d.verdict)}</td></tr>"
                for d in summary.dimensions
            )
            parts.append(
                f"<table><tr><th>Dimension (1-5)</th><th>{escape(pair_set.label_a)}</th>"
                f"<th>{escape(pair_set.label_b)}</th><th>Difference (95% CI)</th><th>Verdict</th></tr>"
                + rows
                + "</table>"
            )
        agreement = summary.agreement
        if agreement is not None:
            kappas = "; ".join(
                f"{escape(k.rater_1)} & {escape(k.rater_2)}: "
                + ("n/a" if k.kappa is None else f"&kappa;={k.kappa:.2f} ({k.words}, n={k.n})")
                for k in agreement.pairwise
            )
            fleiss = "n/a" if agreement.fleiss is None else f"{agreement.fleiss:.2f}"
            parts.append(
                f"<p><b>Agreement between raters</b> on {agreement.n_items} shared pairs: "
                f"Fleiss' &kappa;={fleiss} ({agreement.words}); all raters picked alike on "
                f"{_percent(agreement.percent_agreement)}. Cohen's &kappa; per pair of raters: {kappas}.</p>"
            )
        for judge in summary.judges:
            agree = (
                f"agrees with the human majority on {_percent(judge.agreement_with_humans)} of "
                f"{judge.agreement_with_humans_n} pairs"
                + (
                    ""
                    if judge.kappa_with_humans is None
                    else f" (&kappa;={judge.kappa_with_humans:.2f})"
                )
                if judge.agreement_with_humans_n
                else "no human ratings to compare with"
            )
            wins = judge.win_rates
            parts.append(
                f"<p><b>LLM judge {escape(judge.judge)}</b>: judged {judge.n_judged} pairs in both "
                f"orders; the same model won in both orders on {_rate(judge.position_consistency)} "
                f"(otherwise counted as a tie). {escape(pair_set.label_b)} better {wins.wins_b}, "
                f"tie {wins.ties}, {escape(pair_set.label_a)} better {wins.wins_a}: "
                f"{_verdict_html(wins.verdict)}. It {agree}."
                + (f" {judge.unreadable} verdicts could not be read." if judge.unreadable else "")
                + "</p>"
            )
    return "".join(parts)


def _regression_section(reports: Sequence[RegressionReport]) -> str:
    if not reports:
        return ""
    parts = ["<h2>Regression: general-capability probes</h2>"]
    for report in reports:
        css = "warn" if report.forgetting else "ok"
        parts.append(f"<div class='{css}'>{escape(report.message)}</div>")
        rows = "".join(
            f"<tr><td>{escape(c.category)}</td><td>{_rate(c.base)}</td><td>{_rate(c.tuned)}</td>"
            f"<td class='{'worse' if c.flagged else ''}'>{c.delta * 100:+.1f} pts</td>"
            f"<td>{c.p_value:.3g}</td></tr>"
            for c in report.categories
        )
        parts.append(
            f"<table><tr><th>Probes</th><th>{escape(report.base_label)}</th>"
            f"<th>{escape(report.tuned_label)}</th><th>Change</th><th>McNemar p</th></tr>{rows}</table>"
        )
    return "".join(parts)


def _diff_html(old: str, new: str) -> str:
    pieces = []
    for op, text in word_diff(old, new):
        if op == "equal":
            pieces.append(escape(text))
        elif op == "insert":
            pieces.append(f"<ins>{escape(text)}</ins>")
        else:
            pieces.append(f"<del>{escape(text)}</del>")
    return "<pre>" + "".join(pieces) + "</pre>"


def _badge(passed: bool | None) -> str:
    if passed is None:
        return "<span class='muted'>not checked</span>"
    return "<span class='pass'>pass</span>" if passed else "<span class='fail'>fail</span>"


def _examples_section(results: Sequence[EvalResult]) -> str:
    baseline = results[0]
    last = results[-1]
    regressions = (
        {row.index for row in compare_examples(baseline, last, "regressions")}
        if len(results) > 1
        else set()
    )
    blocks = []
    for output in baseline.outputs:
        example = baseline.example(output.index)
        prompt = "\n".join(f"[{m['role']}] {m['content']}" for m in example.prompt)
        answers = []
        for number, result in enumerate(results):
            try:
                current = result.output_for(output.index)
            except KeyError:
                continue
            failures = ", ".join(
                escape(f"{c.name}: {c.detail}" if c.detail else c.name)
                for c in current.score.failures
            )
            body = (
                _diff_html(output.answer, current.answer)
                if number
                else f"<pre>{escape(current.answer)}</pre>"
            )
            answers.append(
                f"<tr><td><b>{escape(result.label)}</b><br>{_badge(example_passed(current))}"
                + (f"<br><span class='small fail'>{failures}</span>" if failures else "")
                + f"</td><td>{body}</td></tr>"
            )
        reference = (
            f"<tr><td><i>reference</i></td><td><pre>{escape(example.reference)}</pre></td></tr>"
            if example.reference
            else ""
        )
        flag = " <span class='worse'>regression</span>" if output.index in regressions else ""
        blocks.append(
            f"<details{' open' if output.index in regressions else ''}><summary>Example "
            f"{output.index + 1}{flag}: {escape(example.user_text[:120])}</summary>"
            f"<table><tr><td style='width:18%'><i>prompt</i></td><td><pre>{escape(prompt)}</pre></td></tr>"
            f"{reference}{''.join(answers)}</table></details>"
        )
    intro = (
        "<p class='muted small'>Answers after the first are shown as changes from the baseline "
        "(<ins>added</ins>, <del>removed</del>). Regressions (the baseline passed, "
        f"{escape(last.label)} failed) are open.</p>"
        if len(results) > 1
        else ""
    )
    return f"<h2>Examples ({len(baseline.outputs)})</h2>" + intro + "".join(blocks)


def build_report(inputs: ReportInput) -> str:
    """The whole report as one HTML string (no external files, scripts or fonts)."""
    if not inputs.results:
        raise ValueError("A report needs at least one evaluated model.")
    baseline = inputs.results[0]
    eval_set = baseline.eval_set
    generated = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    warning = "".join(f"<div class='warn'>{escape(w)}</div>" for w in eval_set.warnings)
    notes = "".join(f"<div class='warn'>{escape(n)}</div>" for n in inputs.extra_notes)
    project = f"{escape(inputs.project_name)} &middot; " if inputs.project_name else ""
    header = (
        f"<h1>{escape(inputs.title)}</h1><p class='muted'>{project}generated {generated} by "
        f"FineTune Studio &middot; eval set <b>{escape(eval_set.name)}</b> (version "
        f"{eval_set.content_hash}, {len(eval_set.examples)} examples, from "
        f"{escape(eval_set.source)})</p>"
    )
    body = (
        header
        + warning
        + notes
        + _models_section(inputs.results)
        + _metrics_section(inputs.results)
        + _charts_section(inputs.results)
        + _ab_section(inputs.ab_summaries)
        + _regression_section(inputs.regressions)
        + _examples_section(inputs.results)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(inputs.title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def report_from_project(
    project,
    run_ids: Sequence[int],
    pair_set_ids: Sequence[int] = (),
    regressions: Sequence[RegressionReport] = (),
    title: str = "Evaluation report",
) -> ReportInput:
    """The report's inputs from stored results (run_ids[0] is the baseline)."""
    results = [load_result(project, run_id) for run_id in run_ids]
    return ReportInput(
        results=results,
        extra_notes=[leakage.message for leakage in leakage_of_results(project, results)],
        ab_summaries=[ab_summary(project, pair_set_id) for pair_set_id in pair_set_ids],
        regressions=list(regressions),
        title=title,
        project_name=project.name,
    )


def write_report(path: str | Path, inputs: ReportInput) -> Path:
    """Write the report atomically; return its path."""
    path = Path(path)
    write_text_atomic(path, build_report(inputs))
    return path
