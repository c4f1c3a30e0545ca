"""A finding: one problem in a dataset, with its place, its severity and what to do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
SEVERITY_RANK = {ERROR: 2, WARNING: 1, INFO: 0}


@dataclass(frozen=True)
class Finding:
    """One problem. Errors block training; warnings are the known pitfalls; info is context.

    `line` is 1-based in `file`; `example` and `message` are 0-based indexes into the
    dataset and into that example's messages (None when the finding is about the whole
    file or dataset). `fixable` says a one-click fix exists (core.dataset.fixes).
    """

    severity: str
    code: str
    message: str
    fix: str = ""
    file: str | None = None
    line: int | None = None
    example: int | None = None
    message_index: int | None = None
    fixable: bool = False
    example_id: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict:
        return asdict(self)

    def as_line(self) -> str:
        """`LINE:SEVERITY:CODE:message` as the CLI prints it (line 0 for the whole file)."""
        text = self.message + (f" Fix: {self.fix}" if self.fix else "")
        return f"{self.line or 0}:{self.severity}:{self.code}:{text}"


def worst_severity(findings: list[Finding]) -> str | None:
    if not findings:
        return None
    return max(findings, key=lambda finding: SEVERITY_RANK[finding.severity]).severity


def has_errors(findings: list[Finding]) -> bool:
    return any(finding.severity == ERROR for finding in findings)
