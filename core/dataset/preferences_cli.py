"""`finetune-studio data validate` on a preference file: the same one-line findings
(LINE:SEVERITY:CODE:message, or --json) as chat data, with the checks of preference pairs."""

from __future__ import annotations

import json
import sys

from core.dataset.findings import ERROR, WARNING, Finding
from core.dataset.preferences import read_preference_file, validate_pairs


def preference_file_findings(
    path: str, tokenizer: str | None = None, max_seq_length: int | None = None
) -> tuple[int, list[Finding]]:
    """(pairs read, findings): unreadable lines, different prompts, empty or identical
    sides, and with a tokenizer the pairs longer than max_seq_length."""
    read = read_preference_file(path)
    findings = list(read.findings)
    findings += validate_pairs(read.pairs, read.lines, str(path), tokenizer, max_seq_length)
    if not read.n_records:
        findings.append(
            Finding(ERROR, "preference_empty", "The file has no preference pairs.", file=path)
        )
    findings.sort(key=lambda f: f.line or 0)
    return read.n_records, findings


def print_preference_findings(
    path: str, tokenizer: str | None, max_seq_length: int | None, as_json: bool
) -> int:
    """Print the findings as `data validate` does; the number of errors."""
    n_records, findings = preference_file_findings(path, tokenizer, max_seq_length)
    if as_json:
        rows = [
            {
                "line": f.line,
                "severity": f.severity,
                "code": f.code,
                "message": f.message,
                "fix": f.fix,
                "example": f.example,
                "message_index": None,
            }
            for f in findings
        ]
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    else:
        for finding in findings:
            print(finding.as_line())
    n_errors = sum(1 for f in findings if f.severity == ERROR)
    n_warnings = sum(1 for f in findings if f.severity == WARNING)
    print(
        f"{n_records:,} preference pairs: {n_errors} errors, {n_warnings} warnings",
        file=sys.stderr,
    )
    return n_errors
