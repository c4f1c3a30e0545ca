"""`finetune-studio decide`: the decision wizard without the window, and a project's saved answer."""

from __future__ import annotations

import argparse
import json
import sys

from core.decide.answers import Answers, AnswersError
from core.decide.questions import (
    BASE_MODEL,
    EXPERT_EXAMPLES,
    PROBLEMS,
    PROMPT_ENGINEERING,
)
from core.decide.recommend import recommend
from core.decide.report import recommendation_dict, recommendation_text
from core.decide.store import DecisionDataError, load_decision, save_decision
from core.errors import EXIT_OK, EXIT_USAGE
from core.project import NewerSchemaError, NotAProjectError, open_project


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "decide",
        help="prompting, RAG or fine-tuning? answer the questions, get a recommendation",
        description="Walks the fine-tuning guide's decision framework. Give every answer, or "
        "--show a project's saved one.",
    )
    parser.add_argument(
        "--problem",
        action="append",
        choices=PROBLEMS.values,
        help="what is wrong today (repeat for several)",
    )
    parser.add_argument(
        "--prompting", choices=PROMPT_ENGINEERING.values, help=PROMPT_ENGINEERING.prompt
    )
    parser.add_argument("--base-model", choices=BASE_MODEL.values, help=BASE_MODEL.prompt)
    parser.add_argument(
        "--examples", choices=EXPERT_EXAMPLES.values, help="expert-written examples you have"
    )
    parser.add_argument(
        "--keep-broad",
        choices=["yes", "no"],
        help="must the model stay good at other things besides this task?",
    )
    parser.add_argument("--rate", type=float, help="an expert hour in US dollars (default 75)")
    parser.add_argument("--project", dest="decide_project", help="the project folder")
    parser.add_argument("--save", action="store_true", help="save the answers in the project")
    parser.add_argument("--show", action="store_true", help="show the project's saved decision")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_decide)


def _answers_from(args: argparse.Namespace) -> Answers:
    missing = [
        flag
        for flag, value in (
            ("--problem", args.problem),
            ("--prompting", args.prompting),
            ("--base-model", args.base_model),
            ("--examples", args.examples),
            ("--keep-broad", args.keep_broad),
        )
        if value is None
    ]
    if missing:
        raise AnswersError(f"missing {', '.join(missing)} (or use --show with --project)")
    values = {
        "problems": tuple(args.problem),
        "prompt_engineering": args.prompting,
        "base_model": args.base_model,
        "expert_examples": args.examples,
        "keep_broad_capabilities": args.keep_broad == "yes",
    }
    if args.rate is not None:
        values["expert_hourly_rate_usd"] = args.rate
    return Answers(**values)


def run_decide(args: argparse.Namespace) -> int:
    folder = args.decide_project or getattr(args, "project", None)
    if (args.save or args.show) and not folder:
        print("error: --save and --show need --project DIR", file=sys.stderr)
        return EXIT_USAGE
    try:
        project = open_project(folder) if folder else None
        if args.show:
            decision = load_decision(project)
            if decision is None:
                print(f"error: {project.folder} has no saved decision yet", file=sys.stderr)
                return EXIT_USAGE
            answers, recommendation = decision.answers, decision.recommendation
        else:
            answers = _answers_from(args)
            recommendation = recommend(answers)
            if args.save:
                save_decision(project, answers)
    except (AnswersError, DecisionDataError, NotAProjectError, NewerSchemaError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(
            json.dumps(
                {
                    "answers": answers.to_dict(),
                    "recommendation": recommendation_dict(recommendation),
                },
                indent=2,
            )
        )
    else:
        print(recommendation_text(recommendation))
    return EXIT_OK
