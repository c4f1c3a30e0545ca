"""A recommendation as plain text (CLI, clipboard) and as a JSON-ready dict."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.decide.cost import format_usd_range
from core.decide.recommend import Recommendation


def recommendation_text(recommendation: Recommendation) -> str:
    r = recommendation
    cost = r.cost
    lines = [f"Recommendation: {r.title}", r.headline, "", r.summary, "", "Why:"]
    lines += [f"  - {reason}" for reason in r.reasons]
    if r.risks:
        lines += ["", "Risks:"]
        lines += [f"  - {risk.title}: {risk.text}" for risk in r.risks]
    lines += ["", f"Data needed: {r.data.text}", ""]
    lines.append(f"Expected project cost: {format_usd_range(cost.low_usd, cost.high_usd)}")
    lines += [
        f"  - {line.label}: {format_usd_range(line.low_usd, line.high_usd)} ({line.detail})"
        for line in cost.lines
    ]
    lines += [f"  {note}" for note in cost.notes]
    lines += ["", "Next steps:"]
    lines += [f"  {number}. {step}" for number, step in enumerate(r.next_steps, start=1)]
    return "\n".join(lines)


def recommendation_dict(recommendation: Recommendation) -> dict[str, Any]:
    data = dataclasses.asdict(recommendation)
    data["title"] = recommendation.title
    data["fine_tuning_advised"] = recommendation.fine_tuning_advised
    data["cost"]["low_usd"] = recommendation.cost.low_usd
    data["cost"]["high_usd"] = recommendation.cost.high_usd
    return data
