"""How assistant replies are formatted, and the findings when they disagree with each other.

The seed's first pitfall: if some replies use markdown and others plain text, some are
JSON and others prose, some carry caveats or sign-offs and others do not, the model
learns to be inconsistent. A minority style is flagged on each example that has it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

from core.dataset.findings import INFO, WARNING, Finding

JSON, MARKDOWN, PROSE = "json", "markdown", "prose"
STYLES = (JSON, MARKDOWN, PROSE)
DOMINANT_SHARE = 0.6  # one style this common is "the" style; the rest are inconsistent
MINORITY_SHARE = 0.4  # a habit (sign-off, caveat) this rare is the odd one out

_LINE_MARKERS = ("# ", "## ", "### ", "#### ", "- ", "* ", "+ ", "|", "> ")
_NUMBERED = re.compile(r"\d{1,3}[.)]\s")
_LINK = re.compile(r"\[[^\]\n]+\]\([^)\s]+\)")
# Phrases, lowercase, matched with `in` (C speed; a regex per reply is 10x slower).
SIGN_OFFS = (
    "hope this helps",
    "hope that helps",
    "let me know if",
    "feel free to",
    "happy to help",
    "best regards",
    "kind regards",
    "have a great day",
    "have a nice day",
    "have a good day",
    "thanks for reaching",
    "thank you for reaching",
    "thanks for contacting",
    "thank you for contacting",
)
CAVEATS = (
    "as an ai",
    "i am not a doctor",
    "i'm not a doctor",
    "i am not a lawyer",
    "i'm not a lawyer",
    "not financial advice",
    "not legal advice",
    "not medical advice",
    "please note",
    "disclaimer",
    "consult a professional",
    "consult a doctor",
    "consult your doctor",
    "consult a lawyer",
)


_END_CHARS = 240


def is_markdown(text: str) -> bool:
    if "**" in text or "```" in text or ("](" in text and _LINK.search(text)):
        return True
    lines = text.split("\n") if "\n" in text else (text,)
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(_LINE_MARKERS):
            return True
        if stripped[:1].isdigit() and _NUMBERED.match(stripped):
            return True
    return False


def reply_style(text: str) -> str:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            json.loads(stripped)
            return JSON
        except (ValueError, RecursionError):
            pass
    if stripped.startswith("```json") and stripped.endswith("```"):
        return JSON
    if is_markdown(text):
        return MARKDOWN
    return PROSE


@dataclass(slots=True)
class ReplyFeatures:
    """What one example's assistant replies look like (None when it has no reply)."""

    style: str | None
    sign_off: bool
    caveat: bool


def reply_features(replies: list[str]) -> ReplyFeatures:
    if not replies:
        return ReplyFeatures(None, False, False)
    if len(replies) == 1:
        style = reply_style(replies[0])
    else:
        style = Counter(reply_style(reply) for reply in replies).most_common(1)[0][0]
    # Sign-offs close a reply; caveats open or close it: only those ends are searched.
    tail = " ".join(reply[-_END_CHARS:] for reply in replies).lower()
    ends = tail + " " + " ".join(reply[:_END_CHARS] for reply in replies).lower()
    return ReplyFeatures(
        style=style, sign_off=_has_any(tail, SIGN_OFFS), caveat=_has_any(ends, CAVEATS)
    )


def _has_any(text: str, phrases: tuple[str, ...]) -> bool:
    # A plain loop: any() over a generator costs twice as much per reply at 100k replies.
    for phrase in phrases:  # noqa: SIM110
        if phrase in text:
            return True
    return False


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%"


def style_findings(features: list[ReplyFeatures], place) -> list[Finding]:
    """Findings for replies whose style or habits differ from most replies.

    `place(index)` gives the (file, line, example_id) keyword arguments for an example.
    """
    findings: list[Finding] = []
    with_reply = [i for i, f in enumerate(features) if f.style is not None]
    n = len(with_reply)
    if n < 5:
        return findings
    styles = Counter(features[i].style for i in with_reply)
    dominant, count = styles.most_common(1)[0]
    if count < n:
        mix = ", ".join(f"{style} {_percent(c, n)}" for style, c in styles.most_common())
        if count / n >= DOMINANT_SHARE:
            for i in with_reply:
                style = features[i].style
                if style != dominant:
                    findings.append(
                        Finding(
                            WARNING,
                            "format_inconsistent",
                            f"Example {i + 1}: the reply is {style} while "
                            f"{_percent(count, n)} of replies are {dominant}.",
                            fix=f"Rewrite it as {dominant}, so the model learns one format.",
                            example=i,
                            **place(i),
                        )
                    )
        else:
            findings.append(
                Finding(
                    WARNING,
                    "format_mixed",
                    f"Assistant replies mix formats ({mix}); the model will mix them too.",
                    fix="Decide on one format and rewrite the others (filter by format).",
                )
            )
    for attribute, code, label in (
        ("sign_off", "sign_off_inconsistent", 'a sign-off ("hope this helps", "let me know")'),
        ("caveat", "caveat_inconsistent", "a caveat or disclaimer"),
    ):
        having = [i for i in with_reply if getattr(features[i], attribute)]
        if not having or len(having) == n:
            continue
        share = len(having) / n
        if share <= MINORITY_SHARE:
            odd, what = (
                having,
                f"has {label}, which {_percent(n - len(having), n)} of replies do not",
            )
        elif share >= 1 - MINORITY_SHARE:
            odd = [i for i in with_reply if not getattr(features[i], attribute)]
            what = f"lacks {label}, which {_percent(len(having), n)} of replies have"
        else:
            findings.append(
                Finding(
                    WARNING,
                    code,
                    f"{_percent(len(having), n)} of replies have {label} and the rest do not.",
                    fix="Decide whether replies carry it, and make them all agree.",
                )
            )
            continue
        for i in odd:
            findings.append(
                Finding(
                    WARNING,
                    code,
                    f"Example {i + 1}: the reply {what}.",
                    fix="Make it match the others.",
                    example=i,
                    **place(i),
                )
            )
    return findings


def whitespace_findings(index: int, messages: list, place: dict) -> list[Finding]:
    """Leading or trailing whitespace in a message: a warning on replies, info elsewhere."""
    findings = []
    for m_index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if not isinstance(content, str) or not content or content.isspace():
            continue
        if not (content[0].isspace() or content[-1].isspace()):
            continue
        role = message.get("role")
        findings.append(
            Finding(
                WARNING if role == "assistant" else INFO,
                "whitespace",
                f"Example {index + 1}, message {m_index + 1} ({role}) has leading or trailing "
                "whitespace"
                + (", which the model learns to produce." if role == "assistant" else "."),
                fix="Trim it (one click).",
                example=index,
                message_index=m_index,
                fixable=True,
                **place,
            )
        )
    return findings


def style_mix(features: list[ReplyFeatures]) -> dict[str, int]:
    """How many examples' replies are json, markdown, prose (for the statistics panel)."""
    counts = Counter(f.style for f in features if f.style is not None)
    return {style: counts.get(style, 0) for style in STYLES}
