"""One-click fixes of validation findings on the Dataset page: one finding, or every
certain fix at once as one undo step (the fixes themselves are core/dataset/fix_plan.py)."""

from __future__ import annotations

from core.dataset.fix_plan import fix_plan
from desktop.dataset.editor import DatasetEditor

FIX_ALL_LABEL = "Fix all certain problems"


def fix_one(editor: DatasetEditor, finding, example) -> bool:
    """Apply the fix of one finding; False when there is nothing open or nothing to fix."""
    if not editor.is_open:
        return False
    plan = fix_plan(
        [(finding, example)],
        editor.position_of,
        editor.dataset.examples,
        "Fix: " + finding.code.replace("_", " "),
    )
    return plan is not None and editor.push(plan.edit)


def fix_all(editor: DatasetEditor) -> tuple[int, str]:
    """Apply every certain fix as one undo step: (examples touched, what to tell the user)."""
    if not editor.is_open:
        return 0, ""
    findings = [(f, e) for f, e in editor.all_findings() if f.fixable]
    pairs = [(f, e) for f, e in findings if e is not None]
    plan = fix_plan(pairs, editor.position_of, editor.dataset.examples, FIX_ALL_LABEL)
    if plan is None:
        on_file = any(e is None for _f, e in findings)
        return 0, (
            "Nothing to fix in the examples. The file's encoding problems go away when you "
            "save a version (FineTune Studio writes plain UTF-8)."
            if on_file
            else "Nothing to fix automatically."
        )
    with editor.macro(FIX_ALL_LABEL):
        editor.push(plan.edit)
    return plan.fixed + plan.removed, f"{plan.summary()} Ctrl+Z undoes it."
