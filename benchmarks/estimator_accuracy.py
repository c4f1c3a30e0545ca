"""The estimator against every published measurement in shared/reference/estimator.md.

Prints each point (measured, estimated, relative error) and the median and worst
relative error over the measurements, next to a naive baseline: the common rule of
thumb "weights x 1.2" (16-bit weights, 4-bit for QLoRA, plus 20 %), computed for the same
points, so the ratio says how much the detailed model gains over it.
Also checks the fit / no-fit claims. Target (issue 3): every measurement within 20 %.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.estimate.architecture import load_architecture
from core.estimate.calibration import reference_points

GIB = 1024**3


def rule_of_thumb_gib(point) -> float:
    """Weights at 2 bytes (0.5 for QLoRA, 4 in fp32; full FT x 4 for Adam) plus 20 %."""
    model = load_architecture(point.model)
    settings = point.settings
    per = {"qlora": 0.5, "lora8bit": 1.0}.get(settings.method, 2.0)
    if settings.precision == "fp32":
        per = 4.0
    if settings.method == "full":
        per *= 4
    return model.total_params * per * 1.2 / GIB


def main() -> int:
    errors, naive_errors, failures = [], [], []
    print(f"{'point':<38}{'metric':<18}{'measured':>10}{'estimate':>10}{'error':>9}{'naive':>9}")
    for point in reference_points():
        result = point.run()
        if point.metric in ("fits", "does_not_fit"):
            verdict = "holds" if point.holds(result) else "FAILS"
            if verdict == "FAILS":
                failures.append(point.key)
            print(
                f"{point.key:<38}{point.metric:<18}{point.measured:>10.1f}"
                f"{result.peak_gib:>10.1f}{verdict:>9}"
            )
            continue
        estimated = point.estimated(result)
        error = point.relative_error(result)
        errors.append(abs(error))
        naive = ""
        if point.metric != "tokens_per_second":
            naive_error = (rule_of_thumb_gib(point) - point.measured) / point.measured
            naive_errors.append(abs(naive_error))
            naive = f"{naive_error:+.1%}"
        if abs(error) > 0.20:
            failures.append(point.key)
        print(
            f"{point.key:<38}{point.metric:<18}{point.measured:>10.2f}{estimated:>10.2f}"
            f"{error:>+9.1%}{naive:>9}"
        )
    median, worst = statistics.median(errors), max(errors)
    naive_median = statistics.median(naive_errors)
    print()
    print(f"measurements: {len(errors)}   median |error| {median:.1%}   worst {worst:.1%}")
    print(
        f"rule of thumb (weights x 1.2): median |error| {naive_median:.1%}   "
        f"worst {max(naive_errors):.1%}   ratio of medians {naive_median / median:.1f}x"
    )
    print("claims and measurements within 20 %:", failures or "all hold")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
