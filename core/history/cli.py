"""`finetune-studio runs`: the project's runs from the command line.

    finetune-studio runs list [--project DIR] [--json]
    finetune-studio runs compare RUN_A RUN_B [RUN ...] [--project DIR] [--json]
    finetune-studio runs export RUN --csv FILE [--tensorboard DIR] [--project DIR]

RUN is a run id or a run's name. Without --project: the current folder if it is a
project, else the default project that `finetune-studio train` uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.app_dirs import default_projects_dir
from core.errors import EXIT_ERRORS, EXIT_OK, EXIT_USAGE
from core.figures import count_text, hours_text, loss_text, money_text, when_text
from core.history.compare import compare_runs
from core.history.evals import format_metric
from core.history.spend import spend_summary
from core.history.summaries import load_summaries, resolve_run
from core.project import NewerSchemaError, NotAProjectError, open_project
from core.project.store import DB_NAME
from core.runs.export import TensorBoardMissing, write_metrics_csv, write_tensorboard
from core.runs.record import RunNotFound


def register(subparsers) -> None:
    runs = subparsers.add_parser(
        "runs",
        help="list and compare the project's runs (loss, eval, cost)",
        description="The project's training runs: list them, compare them, export metrics.",
    )
    commands = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="every run: status, loss, eval results, cost")
    _project_option(listing)
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=run_list)

    compare = commands.add_parser(
        "compare", help="settings diff, data diff, losses and eval results of two or more runs"
    )
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run ids or names (two or more)")
    _project_option(compare)
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.set_defaults(func=run_compare)

    export = commands.add_parser("export", help="a run's metrics as CSV (and TensorBoard)")
    export.add_argument("run", metavar="RUN", help="run id or name")
    export.add_argument("--csv", required=True, metavar="FILE", help="the CSV file to write")
    export.add_argument(
        "--tensorboard", metavar="DIR", help="also write TensorBoard event files (if installed)"
    )
    _project_option(export)
    export.set_defaults(func=run_export)


def _project_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        dest="runs_project",
        metavar="DIR",
        help="project folder (default: the current folder if it is a project, else the "
        "default project)",
    )


def _open(args: argparse.Namespace):
    """The project to read, never created here (listing must not make a project)."""
    folder = getattr(args, "runs_project", None) or getattr(args, "project", None)
    if folder:
        return open_project(Path(folder))
    if (Path.cwd() / DB_NAME).is_file():
        return open_project(Path.cwd())
    default = default_projects_dir() / "default"
    if (default / DB_NAME).is_file():
        return open_project(default)
    raise FileNotFoundError(
        "No project here and no default project yet; give one with --project DIR."
    )


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def run_list(args: argparse.Namespace) -> int:
    try:
        project = _open(args)
    except (FileNotFoundError, NotAProjectError, NewerSchemaError) as error:
        return _fail(str(error))
    summaries = load_summaries(project)
    spend = spend_summary(project, summaries)
    if args.json:
        print(
            json.dumps(
                {
                    "project": str(project.folder),
                    "runs": [s.as_dict() for s in summaries],
                    "spend": spend.as_dict(),
                },
                indent=2,
            )
        )
        return EXIT_OK
    if not summaries:
        print(f"No runs in {project.folder} yet. Train one: finetune-studio train --demo")
        return EXIT_OK
    rows = [
        [
            s.run_id,
            s.name,
            s.status,
            when_text(s.started_at),
            s.method,
            s.dataset_label or "—",
            loss_text(s.best_val_loss),
            hours_text(s.hours),
            money_text(s.cost),
            s.eval_text or "—",
        ]
        for s in summaries
    ]
    headers = [
        "RUN",
        "NAME",
        "STATUS",
        "STARTED",
        "METHOD",
        "DATA",
        "BEST VAL",
        "HOURS",
        "COST",
        "EVAL",
    ]
    print(_table(rows, headers))
    budget = f" of {money_text(spend.budget)} budget" if spend.budget is not None else ""
    print(
        f"\n{count_text(spend.runs, 'run')}, {hours_text(spend.gpu_hours)} {spend.hours_label}, "
        f"{money_text(spend.compute_cost)}{budget}; expert data work "
        f"{spend.expert_hours:g} h ({money_text(spend.expert_cost)}). {spend.advice()}"
    )
    return EXIT_OK


def _print_comparison(comparison) -> None:
    runs = comparison.runs
    headers = ["", *[r.name for r in runs]]
    rows = [
        ["run id", *[r.run_id for r in runs]],
        ["status", *[r.status for r in runs]],
        ["data", *[r.dataset_label or "—" for r in runs]],
        ["best val loss", *[loss_text(r.best_val_loss) for r in runs]],
        ["final val loss", *[loss_text(r.final_val_loss) for r in runs]],
        ["hours", *[hours_text(r.hours) for r in runs]],
        ["cost", *[money_text(r.cost) for r in runs]],
    ]
    print(_table(rows, headers))
    print("\nSettings that differ:")
    if comparison.config.is_empty:
        print("  none: the same settings")
    for item in comparison.config.differences:
        print(f"  {item.key}: " + " | ".join(v or "—" for v in item.values))
    print("\nData:")
    if not comparison.datasets:
        print("  —")
    for diff in comparison.datasets:
        print(f"  {diff.from_label or '—'} → {diff.to_label or '—'}: {diff.summary}")
    evals = comparison.evals
    print("\nEvaluation:")
    if evals is None or evals.problem:
        print(f"  {evals.problem if evals else '—'}")
        return
    print(f"  eval set '{evals.eval_set_name}', against {evals.reference}")
    eval_rows = []
    for row in evals.rows:
        cells = [row.title]
        for value, versus in zip(row.values, row.versus):
            text = format_metric(row.key, value)
            if versus is not None and versus.p_value is not None:
                text += f" ({versus.verdict}, p={versus.p_value:.3g})"
            cells.append(text)
        eval_rows.append(cells)
    print(_table(eval_rows, ["metric", *evals.columns]))


def run_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        return _fail("give two or more runs to compare (ids or names; see `runs list`)")
    try:
        project = _open(args)
        comparison = compare_runs(project, args.runs)
    except (FileNotFoundError, NotAProjectError, NewerSchemaError, RunNotFound) as error:
        return _fail(str(error))
    if args.json:
        print(json.dumps(comparison.as_dict(), indent=2))
    else:
        _print_comparison(comparison)
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    try:
        project = _open(args)
        run = resolve_run(project, args.run)
    except (FileNotFoundError, NotAProjectError, NewerSchemaError, RunNotFound) as error:
        return _fail(str(error))

    metrics = run.metrics_path
    count = write_metrics_csv(metrics, args.csv)
    print(f"wrote {count} records of {run.name} to {args.csv}")
    if args.tensorboard:
        try:
            target = write_tensorboard(metrics, args.tensorboard, run.run_id)
        except TensorBoardMissing as error:
            return _fail(str(error), EXIT_ERRORS)
        print(f"wrote TensorBoard events to {target}")
    return EXIT_OK
