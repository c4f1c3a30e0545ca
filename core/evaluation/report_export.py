"""Export a comparison as the core's self-contained HTML report, A/B results and probes included."""

from __future__ import annotations

from pathlib import Path

from core.evaluation.comparisons import Comparison, load_comparison, pair_sets_of
from core.evaluation.report import report_from_project, write_report


def default_report_name(comparison: Comparison) -> str:
    stamp = comparison.created_at[:16].replace(":", "").replace("T", "-") or "latest"
    return f"evaluation-report-{stamp}.html"


def export_report(project, path: str | Path, comparison: Comparison) -> Path:
    """Write the report of one comparison to `path` (atomically); its path."""
    _results, regressions = load_comparison(project, comparison)
    inputs = report_from_project(
        project,
        list(comparison.run_ids),
        pair_sets_of(project, comparison),
        regressions,
        title=f"Evaluation: {comparison.title}",
    )
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        path = path.with_suffix(".html")
    return write_report(path, inputs)
