"""The Dataset page's list at 100,000 conversations: filtering and scrolling, side by side with a baseline.

Target (issue 4): filtering and scrolling never stall the GUI for more than 100 ms.
Baseline: a plain Python substring scan over the same rows' message text (prepared in
advance, lower-cased), the least any search must do. We report the page's filter time
in total (through the model and a real QTableView, as the page runs it), the longest
event-loop pass meanwhile (what the GUI waits for at most), when the first matching rows
appear, and scrolling against a model that returns one constant string.

    python benchmarks/dataset_page_filter.py          # N=100000 by default
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

N = int(os.environ.get("N", "100000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
WORDS = [
    "order",
    "parcel",
    "refund",
    "invoice",
    "delivery",
    "address",
    "courier",
    "warehouse",
    "label",
    "customer",
    "account",
]


def make_jsonl(n: int) -> bytes:
    """About 1.5 kB a conversation (150 MB for 100,000), like the issue's scale target."""
    rng = random.Random(7)
    system = "You are the support assistant of Parcelly. Reply with one JSON object. " * 3
    lines = []
    for i in range(n):
        user = f"Ticket {i}: " + " ".join(rng.choice(WORDS) for _ in range(60))
        reply = json.dumps(
            {
                "intent": rng.choice(WORDS),
                "ticket": i,
                "reply": " ".join(rng.choice(WORDS) for _ in range(120)),
            }
        )
        record = {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
                {"role": "assistant", "content": reply},
            ]
        }
        if i % 10 == 0:
            record["finetune_studio"] = {"tags": ["billing"], "reviewed": i % 20 == 0}
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    from PySide6.QtWidgets import QApplication, QTableView

    from core.dataset.example_filter import ExampleFilter
    from core.dataset.jsonl import parse_jsonl_bytes
    from core.dataset.model import Dataset, message_text
    from desktop.dataset.editor import DatasetEditor
    from desktop.dataset.examples_model import ExamplesTableModel

    app = QApplication.instance() or QApplication([])
    data = make_jsonl(N)
    examples, findings = parse_jsonl_bytes(data)
    assert not findings
    print(f"{N:,} conversations, {len(data) / 1e6:.0f} MB of JSONL")

    # Baseline: message text prepared in advance (this copy is what the page avoids keeping).
    texts = [
        "\n".join(message_text(m.get("content")) for m in json.loads(line)["messages"]).lower()
        for line in data.splitlines()
    ]

    editor = DatasetEditor()
    editor.open(Dataset(examples, name="bench"))
    editor.cancel_checks()  # validation has its own benchmark
    model = ExamplesTableModel(editor)
    view = QTableView()
    view.setModel(model)
    view.verticalHeader().setDefaultSectionSize(26)
    view.resize(900, 800)
    view.show()
    app.processEvents()

    cases = {
        "rare phrase": ExampleFilter(text="ticket 99999:"),
        "common word": ExampleFilter(text="warehouse"),
        "tag + not reviewed": ExampleFilter(tag="billing", reviewed=False),
    }
    rows = []
    for name, spec in cases.items():
        needle = spec.text.strip().lower()
        base, ours, stalls, firsts = [], [], [], []
        for _ in range(ROUNDS):
            if needle:
                started = time.perf_counter()
                expected = [i for i, text in enumerate(texts) if needle in text]
                base.append(time.perf_counter() - started)
            model._show(None)
            app.processEvents()
            # The page's own path: set_filter, then the event loop runs slices and
            # appends matches to the real view; every event-loop pass is timed.
            started = time.perf_counter()
            model.set_filter(spec)
            longest = time.perf_counter() - started
            first = longest if model.rowCount() else None
            while model.is_filtering:
                tick = time.perf_counter()
                app.processEvents()
                longest = max(longest, time.perf_counter() - tick)
                if first is None and model.rowCount():
                    first = time.perf_counter() - started
            ours.append(time.perf_counter() - started)
            stalls.append(longest)
            firsts.append(first if first is not None else float("nan"))
            matches = [model.dataset_index(r) for r in range(model.rowCount())]
            if needle:
                assert matches == expected, name
        b = statistics.median(base) if base else float("nan")
        rows.append(
            (name, b, statistics.median(ours), max(stalls), statistics.median(firsts), len(matches))
        )

    print(
        f"{'filter':<20}{'baseline scan':>15}{'page filter':>13}{'ratio':>8}"
        f"{'longest GUI stall':>19}{'first rows':>12}{'matches':>9}"
    )
    for name, b, o, stall, first, matched in rows:
        ratio = f"{o / b:.2f}x" if b == b else "-"
        base_text = f"{b * 1000:.0f} ms" if b == b else "-"
        print(
            f"{name:<20}{base_text:>15}{o * 1000:>10.0f} ms{ratio:>8}{stall * 1000:>16.0f} ms"
            f"{first * 1000:>9.0f} ms{matched:>9,}"
        )

    model._show(None)
    app.processEvents()
    # Scrolling, side by side with the least a Python model can do (one constant string).
    from PySide6.QtCore import QAbstractTableModel, Qt

    class ConstantModel(QAbstractTableModel):
        def rowCount(self, parent=None):
            return N

        def columnCount(self, parent=None):
            return model.columnCount()

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            return "Where is my parcel?" if role == Qt.ItemDataRole.DisplayRole else None

    constant = ConstantModel()
    plain_view = QTableView()
    plain_view.setModel(constant)
    plain_view.verticalHeader().setDefaultSectionSize(26)
    plain_view.resize(900, 800)
    plain_view.show()
    app.processEvents()

    def screens(table) -> list[float]:
        rng = random.Random(1)
        times = []
        for _ in range(150):
            top = rng.randrange(0, N - 40)
            started = time.perf_counter()
            table.scrollTo(table.model().index(top, 0))
            app.processEvents()  # lays out and paints the rows now on screen
            times.append(time.perf_counter() - started)
        return sorted(times)

    ours, plain = [], []
    for _ in range(ROUNDS):  # alternate, the machine is noisy
        ours += screens(view)
        plain += screens(plain_view)
    ours.sort()
    plain.sort()
    p95 = lambda times: times[int(len(times) * 0.95)]
    print(
        f"scrolling to 150 random places (a screen of rows painted each time): page model median "
        f"{statistics.median(ours) * 1000:.1f} ms, p95 {p95(ours) * 1000:.1f} ms, worst "
        f"{ours[-1] * 1000:.1f} ms; constant-text model median {statistics.median(plain) * 1000:.1f} ms, "
        f"p95 {p95(plain) * 1000:.1f} ms; ratio of medians "
        f"{statistics.median(ours) / statistics.median(plain):.2f}x (target: under 100 ms)"
    )
    view.close()
    plain_view.close()


if __name__ == "__main__":
    main()
