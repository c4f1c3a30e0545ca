"""`finetune-studio eval`: evaluate a base model (and a fine-tuned run) on an eval-set file.

With --adapter, the baseline (the base model with --baseline-prompt) is evaluated first
and the fine-tuned model is compared with it on the same examples; the top-level
metrics are the fine-tuned model's. --json prints one object with at least n,
format_compliance, accuracy (null without references or answer checks) and perplexity.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import EXIT_ERRORS, EXIT_OK, EXIT_USAGE
from core.evaluation.comparisons import EvaluationPlan
from core.evaluation.eval_set import EvalSetError, load_eval_set_file
from core.evaluation.generation import EvaluationCancelled, GenerationConfig
from core.evaluation.leakage import leakage_of_results
from core.evaluation.metrics import METRIC_TITLES, compare
from core.evaluation.models import ModelSpecError, baseline_spec, run_spec
from core.evaluation.regression import PROBE_GENERATION, compare_probes, load_probe_set
from core.evaluation.report import ReportInput, write_report
from core.evaluation.runner import evaluate_model, evaluate_models
from core.evaluation.store import save_eval_set, save_result
from core.models.bundled import BundledModelMissing
from core.models.registry import ModelFolderError, resolve_model
from core.models.remote_code import trust_remote_code_for
from core.project.store import DB_NAME, open_project


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a base model or a fine-tuned run on an eval set (JSONL)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, help="base model folder, or the bundled model's name"
    )
    parser.add_argument(
        "--adapter",
        metavar="RUN_DIR",
        help="a training run folder (or adapter/model folder) to evaluate against the baseline",
    )
    parser.add_argument(
        "--eval-set", required=True, metavar="FILE", help="JSONL, OpenAI messages format"
    )
    parser.add_argument(
        "--baseline-prompt", metavar="TEXT", help="the system prompt the base model gets"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="longest answer (tokens)")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts generated together")
    parser.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="with --adapter, skip the baseline"
    )
    parser.add_argument(
        "--regression",
        action="store_true",
        help="with --adapter, also run the general-capability probes on both models",
    )
    parser.add_argument("--report", metavar="FILE.html", help="also write an HTML report")
    parser.add_argument(
        "--save-to", metavar="PROJECT_DIR", help="also store the results in this project"
    )
    parser.set_defaults(func=run_eval_command)


def _progress_printer(enabled: bool):
    last = {"message": None}

    def report(fraction: float, message: str) -> None:
        if enabled and message != last["message"]:
            print(f"{fraction:4.0%} {message}", file=sys.stderr, flush=True)
            last["message"] = message

    return report


def _text_summary(results, comparisons, regression) -> str:
    lines = []
    for result in results:
        metrics = result.metrics().as_dict()
        lines.append(f"{result.label} ({metrics['n']} examples)")
        for key, (title, _) in METRIC_TITLES.items():
            value = metrics[key]
            if value is None:
                shown = "n/a"
            elif key in ("perplexity", "mean_answer_tokens"):
                shown = f"{value:.3g}"
            else:
                low, high = metrics[f"{key}_ci"]
                shown = f"{value:.1%} (95% CI {low:.1%}-{high:.1%})"
            lines.append(f"  {title:<30} {shown}")
    if comparisons:
        lines.append(f"{results[-1].label} against {results[0].label}:")
        for c in comparisons:
            if c.delta is None:
                continue
            p_value = "" if c.p_value is None else f", p={c.p_value:.3g}"
            lines.append(f"  {c.title:<30} {c.delta:+.3g}{p_value}: {c.verdict}")
    if regression is not None:
        lines.append("Regression probes: " + regression.message)
    return "\n".join(lines)


def _leakage(args: argparse.Namespace, results) -> list:
    """Eval examples the evaluated run trained on, when its project can be found (--save-to,
    or the project the run folder sits in)."""
    folders = [Path(args.save_to).expanduser()] if args.save_to else []
    if args.adapter:
        folders.append(Path(args.adapter).expanduser().resolve().parent.parent)
    for folder in folders:
        if (folder / DB_NAME).is_file():
            try:
                project = open_project(folder)
            except Exception:  # a project that cannot be opened cannot be checked either
                continue
            return leakage_of_results(project, results)
    return []


def run_eval_command(args: argparse.Namespace) -> int:
    report = _progress_printer(True)
    try:
        config = GenerationConfig(
            max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed
        )
        base = resolve_model(args.model)
        eval_set = load_eval_set_file(args.eval_set)
        baseline = baseline_spec(base.path, args.baseline_prompt)
        specs = [baseline]
        if args.adapter:
            tuned = run_spec(args.adapter, base_model=base.path)
            specs = [tuned] if args.no_baseline else [baseline, tuned]

        # Refuse a folder that would run its own code now, in one line, before any loading.
        trust_remote_code_for(base.path)
        if args.adapter:
            trust_remote_code_for(args.adapter)
        if args.regression and not args.adapter:
            raise ModelSpecError(
                "--regression compares a fine-tuned model with its base; add --adapter."
            )
        plan = EvaluationPlan(eval_set, tuple(specs), config, with_probes=args.regression)
    except (
        EvalSetError,
        ModelSpecError,
        ModelFolderError,
        BundledModelMissing,
        ValueError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    for warning in eval_set.warnings:
        print(f"note: {warning}", file=sys.stderr)
    try:
        results = evaluate_models(plan.eval_set, plan.labelled_specs(), plan.config, report)
        comparisons = compare(results[0], results[-1]) if len(results) > 1 else []
        regression = None
        if plan.with_probes:
            probes = load_probe_set()
            # General capability is compared without the task's system prompt on either side.
            plain_base = baseline_spec(base.path)
            base_probes = evaluate_model(
                probes, plain_base, PROBE_GENERATION, report, with_perplexity=False
            )
            tuned_probes = evaluate_model(
                probes, specs[-1], PROBE_GENERATION, report, with_perplexity=False
            )
            regression = compare_probes(base_probes, tuned_probes)
    except EvaluationCancelled as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERRORS
    leaks = _leakage(args, results)
    for leakage in leaks:
        print(f"warning: {leakage.message}", file=sys.stderr)
    if args.save_to:
        project = open_project(args.save_to)
        eval_set_id = save_eval_set(project, eval_set)
        for result in results:
            save_result(project, eval_set_id, result)
    if args.report:
        path = write_report(
            args.report,
            ReportInput(
                results,
                regressions=[regression] if regression else [],
                extra_notes=[leakage.message for leakage in leaks],
            ),
        )
        print(f"report written to {path}", file=sys.stderr)
    evaluated = results[-1]
    if args.json:
        out = {
            "model": evaluated.label,
            "eval_set": {
                "name": eval_set.name,
                "version": eval_set.content_hash,
                "n_examples": len(eval_set.examples),
                "warning": eval_set.size_warning,
                "scoring_warning": eval_set.scoring_warning,
            },
            "generation": config.as_dict(),
            **evaluated.metrics().as_dict(),
        }
        if len(results) > 1:
            out["baseline"] = {"model": results[0].label, **results[0].metrics().as_dict()}
            out["comparison"] = [c.as_dict() for c in comparisons]
        if regression is not None:
            out["regression"] = regression.as_dict()
        out["leakage"] = [leakage.as_dict() for leakage in leaks]
        print(json.dumps(out, indent=2))
    else:
        print(_text_summary(results, comparisons, regression))
    return EXIT_OK
