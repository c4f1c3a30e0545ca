"""Time to first window, against a bare PySide6 window started the same way, side by side.

Each is a fresh process started N times alternately; we report medians, the ratio,
and whether torch had been imported by the time the window was shown.
Target (issue 2): under 1.5 s on a 2-core machine, without torch.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("ROUNDS", "5"))

BARE = """
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow(); w.resize(1200, 780); w.show(); app.processEvents()
import sys; print("TORCH", "torch" in sys.modules)
"""

STUDIO = """
from desktop.app import build_main_window
from PySide6.QtWidgets import QApplication
w = build_main_window(); w.show(); QApplication.processEvents()
import sys; print("TORCH", "torch" in sys.modules)
"""


def time_once(code: str, home: str) -> tuple[float, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FINETUNE_STUDIO_HOME=home)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    return time.perf_counter() - start, out.strip().splitlines()[-1]


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        time_once(STUDIO, home)  # first start creates the demo project; measure later starts
        bare, studio, torch_flags = [], [], set()
        for _ in range(ROUNDS):
            seconds, _flag = time_once(BARE, home)
            bare.append(seconds)
            seconds, flag = time_once(STUDIO, home)
            studio.append(seconds)
            torch_flags.add(flag)
    b, s = statistics.median(bare), statistics.median(studio)
    print(f"bare PySide6 window : median {b:.2f} s over {ROUNDS} starts")
    print(f"FineTune Studio     : median {s:.2f} s over {ROUNDS} starts")
    print(f"ratio studio/bare   : {s / b:.2f}x")
    print(f"torch imported by first window: {'yes' if 'TORCH True' in torch_flags else 'no'}")
    print(f"target < 1.5 s: {'met' if s < 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
