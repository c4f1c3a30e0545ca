"""How fast the Estimate page recomputes after a change, against baselines, side by side.

Core: one recommend() (three methods, the pick) per call, against a trivial dataclass
copy of the settings (the floor of any change). Page: one spin-box change, which re-runs
the estimate and refreshes the bar, the table and the texts, against one full repaint of
the same page with nothing recomputed (what any visible change costs Qt at this size).
Rounds alternate so the noisy machine affects both alike. Target (issue 3): well under
50 ms per change.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FINETUNE_STUDIO_HOME", tempfile.mkdtemp(prefix="estimate-latency-"))

ROUNDS = int(os.environ.get("ROUNDS", "200"))


def per_call_ms(function, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) * 1000 / repeat


def median_pair(first, second, rounds: int, repeat: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(rounds):
        a.append(per_call_ms(first, repeat))
        b.append(per_call_ms(second, repeat))
    return statistics.median(a), statistics.median(b)


def main() -> None:
    from core.estimate import find_gpu, load_architecture, recommend
    from core.estimate.run import estimate_run

    model, gpu = load_architecture("Llama-3.1-8B"), find_gpu("RTX 4090")
    settings = estimate_run()
    big = load_architecture("Llama-3.1-70B")
    copy_ms, core_ms = median_pair(
        lambda: settings.replace(max_seq_length=1024),
        lambda: recommend(model, settings, gpu),
        rounds=max(20, ROUNDS // 10),
        repeat=50,
    )
    _, nothing_fits_ms = median_pair(
        lambda: settings.replace(max_seq_length=1024),
        lambda: recommend(big, settings, gpu),
        rounds=max(5, ROUNDS // 40),
        repeat=5,
    )
    print(
        f"core recommend(), 8B on a 4090:        {core_ms:8.3f} ms   "
        f"(dataclass copy {copy_ms * 1000:.1f} us, ratio {core_ms / copy_ms:,.0f}x)"
    )
    print(
        f"core recommend(), 70B on a 4090 (nothing fits, remedies re-estimated): "
        f"{nothing_fits_ms:.2f} ms"
    )

    from PySide6.QtWidgets import QApplication

    from core.hardware import HardwareInfo
    from core.project import create_project
    from desktop.context import AppContext
    from desktop.estimate.page import EstimatePage

    app = QApplication.instance() or QApplication([])
    project = create_project(Path(tempfile.mkdtemp()) / "p", name="latency")
    page = EstimatePage(AppContext(project, HardwareInfo(cpu_cores=os.cpu_count() or 1)))
    page.resize(1300, 900)
    page.show()
    app.processEvents()
    values = [512, 1024, 2048, 4096]
    state = {"i": 0}
    sequence = page.form.recipe.editors["max_seq_length"].editor  # the recipe form's spin box

    def change_page() -> None:
        state["i"] += 1
        sequence.setValue(values[state["i"] % 4])
        app.processEvents()

    def repaint_only() -> None:
        page.widget().repaint()
        app.processEvents()

    repaint_ms, page_ms = median_pair(
        repaint_only, change_page, rounds=max(10, ROUNDS // 10), repeat=10
    )
    inside = []
    for value in values * 10:
        sequence.setValue(value)
        inside.append(page.last_recompute_ms)
    print(
        f"page: one setting changed, estimate + bar + table redrawn: {page_ms:8.3f} ms   "
        f"(a full repaint of the page alone {repaint_ms:.3f} ms, ratio {page_ms / repaint_ms:.2f}x)"
    )
    print(
        f"page: recompute alone (median of {len(inside)}): {statistics.median(inside):.3f} ms;"
        f" target well under 50 ms"
    )
    project.close()


if __name__ == "__main__":
    main()
