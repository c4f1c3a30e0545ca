"""`finetune-studio screenshot`: render one page of the main window offscreen to a PNG.

A render leaves the user's settings as they were (window size, last page, recent projects)
and does not start from the last session's page. Pages still read their own saved choices
(the Estimate page's GPU and model): packaging/readme_screenshots.sh renders the README's
pictures in an empty FINETUNE_STUDIO_HOME, as a new user first sees them.

The page is grabbed once its work has settled: no background task running (the Train
page's plan, a past run's curves) for a quiet spell longer than the pages' own timers that
start such work (the plan waits 300 ms for more changes), not after a fixed time: a fixed
second caught "Reading and tokenizing the data for the plan…" and empty charts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from core.project.demo import ensure_demo_project
from desktop.app import build_main_window
from desktop.background import tasks_running
from desktop.pages import page_names

# No task running for this long (seconds) means the page has settled: longer than the
# timers after which pages start work (the plan's 300 ms, the charts' 100 ms redraw).
QUIET_S = 0.6
# Past this (seconds) the page is grabbed anyway, and stderr says so.
SETTLE_TIMEOUT_S = 120.0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "screenshot", help="render a page of the main window offscreen to a PNG file"
    )
    parser.add_argument("--page", required=True, help="page name, for example project or estimate")
    parser.add_argument("--out", required=True, help="the PNG file to write")
    parser.add_argument("--project", dest="screenshot_project", help="project folder to open")
    parser.add_argument(
        "--demo",
        dest="screenshot_demo",
        action="store_true",
        help="open the demo project (default: the project the app opened last)",
    )
    parser.add_argument("--size", default="1280x800", help="window size as WxH (default 1280x800)")
    parser.add_argument(
        "--timeout",
        dest="settle_timeout",
        type=float,
        default=SETTLE_TIMEOUT_S,
        help="seconds to wait for the page's background work before grabbing it anyway "
        f"(default {SETTLE_TIMEOUT_S:g})",
    )
    parser.set_defaults(func=run_screenshot)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x800, not {text!r}") from None
    if width < 200 or height < 200:
        raise ValueError("--size must be at least 200x200")
    return width, height


def wait_until_settled(timeout_s: float = SETTLE_TIMEOUT_S, quiet_s: float = QUIET_S) -> bool:
    """Process events until no background task has run for `quiet_s` seconds on end (its
    result shown: a task's result is delivered before its end); False when `timeout_s`
    passed first."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while True:
        QApplication.processEvents()
        now = time.monotonic()
        if tasks_running():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return True
        if now >= deadline:
            return False
        time.sleep(0.02)  # the tasks' threads and the pages' timers run meanwhile


def run_screenshot(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        width, height = _parse_size(args.size)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if args.page not in page_names():
        print(f"error: no page {args.page!r}; pages: {', '.join(page_names())}", file=sys.stderr)
        return 2
    folder = args.screenshot_project or args.project
    if folder is None and (args.screenshot_demo or args.demo):
        folder = str(ensure_demo_project().folder)
    window = build_main_window(folder, first_page=args.page, remember=False)
    window.resize(width, height)
    window.show()
    if not wait_until_settled(args.settle_timeout):
        print(
            f"warning: page {args.page} still had background work after "
            f"{args.settle_timeout:g} s; grabbed it as it was",
            file=sys.stderr,
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"error: could not write {out}", file=sys.stderr)
        return 1
    project = window.context.project
    print(f"wrote {out} ({width}x{height}, page {args.page}, project {project.name})")
    window.close()
    return 0
