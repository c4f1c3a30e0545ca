"""A useful model from a small first dataset: 40 examples, the Train page's CPU defaults.

The task (written here, not the bundled tickets): turn a short message about a meeting
into a calendar event as one JSON object {"title", "day", "time", "place"}. The script
writes 40 training, 8 validation and 30 evaluation examples (generated deterministically
from disjoint word lists, so no eval prompt is a training prompt), trains the bundled
SmolLM2-135M-Instruct with the settings a new project's Train page starts from on a
machine without a CUDA GPU, adjusted to the data as the Train page adjusts them
(core.training.run_plan.fit_to_data), and evaluates the base model and the run with our
evaluation core. Format compliance (the answer is JSON with exactly those four keys) must
rise with p < 0.05 (exact McNemar test on the paired examples).

    nice python benchmarks/small_data.py [--keep DIR] [--json]

It also prints the run plan's time next to the run's measured training time (pre-flight
measured on this machine, under whatever load it had then) as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.training.cli import ConsoleObserver  # noqa: E402 - the repository is on the path now

SYSTEM = "You turn messages about meetings into calendar events."
N_TRAIN, N_VALID, N_EVAL = 40, 8, 30
EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "day": {"type": "string"},
        "time": {"type": "string"},
        "place": {"type": "string"},
    },
    "required": ["title", "day", "time", "place"],
    "additionalProperties": False,
}

# Disjoint halves: training and validation draw from the first, evaluation from the second.
TITLES = [
    ("lunch with Maria", "Lunch with Maria"),
    ("the budget review", "Budget review"),
    ("a call with the bank", "Call with the bank"),
    ("team standup", "Team standup"),
    ("dentist appointment", "Dentist appointment"),
    ("coffee with Tom", "Coffee with Tom"),
    ("the design sync", "Design sync"),
    ("yoga class", "Yoga class"),
    ("parents' evening", "Parents' evening"),
    ("the quarterly planning", "Quarterly planning"),
    ("dinner with Aiko", "Dinner with Aiko"),
    ("the hiring panel", "Hiring panel"),
    ("a run with Lena", "Run with Lena"),
    ("the product demo", "Product demo"),
    ("car service", "Car service"),
    ("a chat with Priya", "Chat with Priya"),
    ("the board meeting", "Board meeting"),
    ("book club", "Book club"),
    ("the code review", "Code review"),
    ("haircut", "Haircut"),
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = ["08:30", "09:00", "10:15", "11:00", "12:30", "13:45", "15:00", "16:30", "18:00", "19:15"]
PLACES = [
    "the cafeteria",
    "room 4B",
    "the town hall",
    "Zoom",
    "the park",
    "Dr. Weber's office",
    "the library",
    "the garage on Elm Street",
    "the main office",
    "the community centre",
]
TEMPLATES = [
    "Can you put {title} on {day} at {time} in {place} in my calendar?",
    "{title_cap} is on {day}, {time}, at {place}.",
    "Reminder: {title} {day} {time}, {place}.",
    "Please schedule {title} for {day} at {time}; it will be in {place}.",
    "We moved {title} to {day} at {time} ({place}).",
]


def _examples(rng: random.Random, titles, places, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        phrase, title = rng.choice(titles)
        day, at, place = rng.choice(DAYS), rng.choice(TIMES), rng.choice(places)
        template = rng.choice(TEMPLATES)
        message = template.format(
            title=phrase, title_cap=phrase[0].upper() + phrase[1:], day=day, time=at, place=place
        )
        answer = json.dumps({"title": title, "day": day, "time": at, "place": place})
        out.append(
            {
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": message},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return out


def write_task(folder: Path) -> tuple[Path, Path, Path]:
    """train.jsonl (40), valid.jsonl (8) and eval.jsonl (30, with format checks)."""
    rng = random.Random(2026)
    half_t, half_p = len(TITLES) // 2, len(PLACES) // 2
    train = _examples(rng, TITLES[:half_t], PLACES[:half_p], N_TRAIN)
    valid = _examples(rng, TITLES[:half_t], PLACES[:half_p], N_VALID)
    evaluation = _examples(rng, TITLES[half_t:], PLACES[half_p:], N_EVAL)
    for record in evaluation:
        record["checks"] = {"json_schema": EVENT_SCHEMA}
    paths = []
    for name, records in (("train", train), ("valid", valid), ("eval", evaluation)):
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1], paths[2]


def train_page_defaults(train: Path, valid: Path, project):
    """What the Train page starts a new project with on a machine without CUDA, adjusted
    to this data (the plan panel's defaults)."""
    from core.recipe.config import default_config
    from core.training.run_plan import plan_for_project

    config = default_config(has_cuda=False).replace(
        name="small data benchmark", train_file=str(train), validation_file=str(valid)
    )
    planned = plan_for_project(project, config)
    return config.replace(**planned.fitted.changes), planned


class TrainingClock(ConsoleObserver):
    """Wall and CPU time of the training itself (from the "training" status to the end)."""

    def __init__(self, quiet: bool = True) -> None:
        super().__init__(quiet=quiet)
        self.start = self.end = None

    def on_status(self, state, message):
        super().on_status(state, message)
        if state == "training" and self.start is None:
            self.start = (time.perf_counter(), time.process_time())

    def on_finished(self, result):
        super().on_finished(result)
        self.end = (time.perf_counter(), time.process_time())

    def cpu_share(self, threads: int) -> float | None:
        if self.start is None or self.end is None:
            return None
        wall = self.end[0] - self.start[0]
        return (self.end[1] - self.start[1]) / max(1e-9, wall * threads)


def report_timing(config, planned, result, preflight, run_share, threads) -> dict:
    """The plan's time (from pre-flight's measured step) against the run's, raw and at the
    run's own load: pre-flight times its steps with the share of the CPU it gets then; a
    run under another load gets another share, and its time scales with 1 / share."""
    from core.training.run_plan import StepTiming, plan_run

    timing = StepTiming(preflight["micro_step_time_s"], preflight["batch_tokens"], "pre-flight")
    predicted = plan_run(config, planned.lengths, timing, valid_lengths=planned.valid_lengths)
    share = preflight.get("cpu_share") or 1.0
    at_run_load = predicted.seconds * share / run_share if run_share else None
    # What pre-flight said before the run plan: the longest micro batch x accumulation
    # for every optimizer step, validation passes left out.
    old = preflight["micro_step_time_s"] * config.gradient_accumulation * result.steps_done
    measured = result.duration_s
    print(
        f"time per step         : plan {predicted.seconds / result.steps_done:.1f} s, "
        f"measured {measured / result.steps_done:.1f} s "
        f"({measured / predicted.seconds:.2f}x measured/predicted); old pre-flight formula "
        f"{old / result.steps_done:.1f} s ({measured / old:.2f}x)"
    )
    if at_run_load:
        print(
            f"load                  : pre-flight had {share:.0%} of its {threads} CPU thread(s) "
            f"(load {preflight.get('load_average') or 0:.1f}), the run {run_share:.0%}: at "
            f"the run's load the plan says {at_run_load / result.steps_done:.1f} s per step "
            f"({measured / at_run_load:.2f}x measured/predicted)"
        )
    return {
        "plan_seconds": predicted.seconds,
        "plan_seconds_at_run_load": at_run_load,
        "old_preflight_seconds": old,
        "measured_training_seconds": measured,
        "preflight_cpu_share": share,
        "preflight_load_average": preflight.get("load_average"),
        "run_cpu_share": run_share,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--reuse", action="store_true", help="with --keep: evaluate the kept finished run again"
    )
    parser.add_argument(
        "--train-only", action="store_true", help="train and compare the times; no evaluation"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="small-data-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FINETUNE_STUDIO_HOME", str(work / "home"))

    from core.evaluation.eval_set import load_eval_set_file
    from core.evaluation.generation import GenerationConfig
    from core.evaluation.metrics import compare, summarize
    from core.evaluation.models import baseline_spec, run_spec
    from core.evaluation.runner import evaluate_model
    from core.project import create_project, open_project
    from core.runs.record import list_runs
    from core.training.device import cpu_thread_count
    from core.training.prepare import resolve_base_model
    from core.training.session import TrainingSession

    train, valid, eval_file = write_task(work)
    folder = work / "project"
    reuse = args.reuse and (folder / "project.sqlite").is_file()
    project = open_project(folder) if reuse else create_project(folder, name="small data")
    config, planned = train_page_defaults(train, valid, project)
    print("defaults from the data:")
    for reason in planned.fitted.reasons or ["the preset already gives enough steps"]:
        print(f"  {reason}")
    print("plan: " + "\n      ".join(planned.fitted.after.lines()))

    started = time.perf_counter()
    clock = TrainingClock(quiet=True)
    if reuse:  # evaluate the kept project's finished run again
        result = next(r for r in list_runs(project) if r.status == "finished")
    else:
        result = TrainingSession(project, config, clock).run()
        if result.status != "finished":
            print(f"training did not finish: {result.status}: {result.reason}")
            return 1
    wall_s = time.perf_counter() - started
    # The share of its CPU threads the run got while training: the load it ran under.
    threads = cpu_thread_count(config)
    run_share = clock.cpu_share(threads)
    # The run's own pre-flight report (measured here, under the load of that moment).
    preflight = json.loads((Path(result.folder) / "preflight.json").read_text(encoding="utf-8"))
    if args.train_only:
        report_timing(config, planned, result, preflight, run_share, threads)
        return 0

    base = resolve_base_model(project, config).path
    eval_set = load_eval_set_file(eval_file, "calendar events")
    generation = GenerationConfig(max_new_tokens=64, batch_size=8)
    eval_started = time.perf_counter()
    before = evaluate_model(eval_set, baseline_spec(base), generation, with_perplexity=False)
    after = evaluate_model(
        eval_set, run_spec(result.folder, base_model=base), generation, with_perplexity=False
    )
    eval_s = time.perf_counter() - eval_started
    fmt = next(c for c in compare(before, after) if c.metric == "format_compliance")
    before_rate = summarize(before.outputs).format_compliance
    after_rate = summarize(after.outputs).format_compliance

    print()
    print(f"examples              : {N_TRAIN} training, {N_VALID} validation, {N_EVAL} evaluation")
    print(
        f"format compliance     : {before_rate.value:.0%} before -> {after_rate.value:.0%} after "
        f"(p = {fmt.p_value:.2g}, {fmt.test})"
    )
    print(f"optimizer steps       : {result.steps_done}")
    print(
        f"minutes               : {result.duration_s / 60:.1f} training, {wall_s / 60:.1f} with "
        f"loading and pre-flight, {eval_s / 60:.1f} evaluating"
    )
    timing = (
        report_timing(config, planned, result, preflight, None if reuse else run_share, threads)
        if preflight.get("micro_step_time_s")
        else {}
    )
    met = fmt.p_value is not None and fmt.p_value < 0.05 and (fmt.delta or 0) > 0
    print(f"target (rise, p<0.05) : {'met' if met else 'NOT met'}")
    if args.json:
        figures = {
            "train_examples": N_TRAIN,
            "eval_examples": N_EVAL,
            "settings": {
                k: getattr(config, k)
                for k in ("micro_batch_size", "gradient_accumulation", "epochs", "packing")
            },
            "format_compliance_before": before_rate.value,
            "format_compliance_after": after_rate.value,
            "p_value": fmt.p_value,
            "test": fmt.test,
            "optimizer_steps": result.steps_done,
            "training_minutes": result.duration_s / 60,
            "evaluation_minutes": eval_s / 60,
            **timing,
            "load_average": os.getloadavg()[0],
        }
        print(json.dumps(figures, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
