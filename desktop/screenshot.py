"""`finetune-studio screenshot`: render one page of the main window offscreen to a PNG.

A render leaves the user's settings as they were (window size, last page, recent projects)
and does not start from the last session's page. Pages still read their own saved choices
(the Estimate page's GPU and model): packaging/readme_screenshots.sh renders the README's
pictures in an empty FINETUNE_STUDIO_HOME, as a new user first sees them.
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
from desktop.pages import page_names


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
    parser.set_defaults(func=run_screenshot)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x800, not {text!r}") from None
    if width < 200 or height < 200:
        raise ValueError("--size must be at least 200x200")
    return width, height


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
    # Let queued work (timers, background loads of a few hundred ms) settle first.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"error: could not write {out}", file=sys.stderr)
        return 1
    project = window.context.project
    print(f"wrote {out} ({width}x{height}, page {args.page}, project {project.name})")
    window.close()
    return 0
