"""`finetune-studio train`: the same trainer headless (over ssh, under a scheduler).

    finetune-studio train CONFIG.yaml [--project DIR] [--set field=value ...]
    finetune-studio train --project DIR [--set field=value ...]   (its saved Train settings)
    finetune-studio train --resume RUN [--project DIR]
    finetune-studio train --demo
    finetune-studio train --write-config FILE      (the defaults, with help as comments)
    finetune-studio train --list [--project DIR]

Progress goes to stdout one line per record; the run folder is the same as the app's.
Ctrl-C stops gracefully (checkpoint, final model); a second Ctrl-C aborts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import threading
from pathlib import Path

import yaml

import resources
from core.app_dirs import default_projects_dir
from core.errors import EXIT_ERRORS, EXIT_OK, EXIT_USAGE
from core.figures import count_text, duration_text
from core.models.registry import ModelFolderError, resolve_model
from core.project import create_project, open_project
from core.project.demo import ensure_demo_project
from core.project.store import DB_NAME
from core.recipe.config import (
    TrainConfig,
    TrainConfigError,
    config_from_dict,
    load_config,
    save_config,
)
from core.runs.record import RunNotFound, list_runs, load_run
from core.training.chat_tokens import ChatTemplateError
from core.training.conversations import TrainingDataError
from core.training.observer import FAILED, TrainingObserver
from core.training.preflight import run_preflight, step_timing
from core.training.project_settings import load_train_settings
from core.training.run_plan import plan_for_project
from core.training.session import TrainingSession
from core.training.start_from import adapter_to_continue

GIB = 1024**3

# The demo: the bundled SmolLM2-135M on the bundled support tickets, small enough to finish
# on a 2-core CPU in a few minutes: LoRA r 8, 256-token packed rows, micro batch 2, a
# 16-step cap (32 conversations seen), 5 % held out for validation, evaluated twice.
DEMO_SETTINGS = {
    "name": "Demo: SmolLM2 LoRA on support tickets",
    "base_model": "SmolLM2-135M-Instruct",
    "method": "lora",
    "lora_r": 8,
    "lora_alpha": 16,
    "max_seq_length": 256,
    "micro_batch_size": 2,
    "gradient_accumulation": 1,
    "epochs": 1.0,
    "max_steps": 16,
    "learning_rate": 5e-4,
    "validation_fraction": 0.05,
    "eval_every_steps": 8,
    "preflight": False,
}


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train",
        help="fine-tune a model headless; writes the same run folder as the app",
        description="Fine-tune a base model on a chat dataset (full, LoRA, QLoRA or 8-bit LoRA).",
    )
    train.add_argument(
        "config",
        nargs="?",
        help="training configuration (YAML); without it, --project DIR trains with that "
        "project's saved Train settings (the ones the Train page shows)",
    )
    train.add_argument(
        "--project",
        dest="train_project",
        metavar="DIR",
        help="project folder for the run (created if missing; default: the current folder if "
        "it is a project, else the default project)",
    )
    train.add_argument(
        "--resume", metavar="RUN", help="continue RUN from its last checkpoint (see --list)"
    )
    train.add_argument(
        "--demo",
        dest="train_demo",
        action="store_true",
        help="fine-tune the bundled SmolLM2 on the bundled example dataset (a few minutes on a CPU)",
    )
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one setting of the config, e.g. --set max_steps=20",
    )
    train.add_argument(
        "--write-config",
        metavar="FILE",
        help="write the default configuration, with help, and exit",
    )
    train.add_argument("--list", action="store_true", help="list the project's runs and exit")
    train.add_argument(
        "--plan",
        action="store_true",
        help="print the run plan (optimizer steps, tokens per step, warmup, first step's "
        "learning rate, time) and the data's suggested defaults, without training",
    )
    train.add_argument(
        "--no-measure",
        dest="plan_measure",
        action="store_false",
        help="with --plan: skip timing 3 real steps on the longest batch (seconds is then null)",
    )
    train.add_argument("--json", dest="plan_json", action="store_true", help="with --plan: JSON")
    train.add_argument("--quiet", action="store_true", help="print only the summary")
    train.set_defaults(func=run_train_command)


class ConsoleObserver(TrainingObserver):
    """Prints a run's progress, one line per record."""

    def __init__(self, out=None, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.quiet = quiet
        self.best: tuple[float, int] | None = None

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def on_status(self, state, message):
        if not self.quiet:
            self._print(f"[{state}] {message}")

    def on_metrics(self, record):
        if self.quiet:
            return
        total = f"/{record.max_steps}" if record.max_steps else ""
        head = f"step {record.step}{total}"
        if record.epoch is not None:
            head += f"  epoch {record.epoch:.2f}"
        if record.kind == "eval":
            if self.best is None or record.eval_loss < self.best[0]:
                self.best = (record.eval_loss, record.step)
            self._print(
                f"{head}  validation loss {record.eval_loss:.4f}  "
                f"(best {self.best[0]:.4f} at step {self.best[1]})"
            )
            return
        parts = [head, f"loss {record.loss:.4f}"]
        if record.learning_rate is not None:
            parts.append(f"lr {record.learning_rate:.2e}")
        if record.grad_norm is not None:
            parts.append(f"grad {record.grad_norm:.3g}")
        if record.rewards_margin is not None:  # DPO: chosen over rejected
            parts.append(f"margin {record.rewards_margin:.3f}")
        if record.rewards_accuracy is not None:
            parts.append(f"pairs right {record.rewards_accuracy:.0%}")
        if record.reward is not None:  # GRPO: the weighted reward of the step's answers
            parts.append(f"reward {record.reward:.3f} (spread {record.reward_std or 0:.3f})")
        if record.kl is not None:
            parts.append(f"KL {record.kl:.4f}")
        if record.tokens_per_second is not None:
            parts.append(f"{record.tokens_per_second:,.0f} tok/s")
        if record.memory_allocated is not None:
            label = "RSS" if record.memory_kind == "cpu-rss" else record.memory_kind
            parts.append(f"mem {record.memory_allocated / GIB:.2f} GiB ({label})")
        if record.eta_s is not None:
            parts.append(f"ETA {duration_text(record.eta_s)}")
        self._print("  ".join(parts))

    def on_advice(self, advice):
        self._print(f"! {advice.as_line()}")

    def on_checkpoint(self, step, path):
        if not self.quiet:
            self._print(f"checkpoint saved at step {step}")

    def on_finished(self, result):
        lines = [f"run {result.run_id or '(not started)'}: {result.status}"]
        if result.reason:
            lines.append(f"  {result.reason}")
        if result.steps_done:
            lines.append(f"  steps: {result.steps_done}/{result.max_steps}")
        if result.final_train_loss is not None:
            lines.append(f"  final training loss: {result.final_train_loss:.4f}")
        if result.rewards is not None:
            lines.append(f"  {result.rewards.text()}")
        elif result.best_val_loss is not None:
            lines.append(
                f"  best validation loss: {result.best_val_loss:.4f} at step {result.best_step}"
            )
        if result.tokens_per_second:
            lines.append(f"  throughput: {result.tokens_per_second:,.0f} real tokens/s")
        if result.duration_s:
            lines.append(f"  training time: {duration_text(result.duration_s)}")
        if result.final_model_dir:
            lines.append(f"  final model: {result.final_model_dir}")
        elif result.folder:
            lines.append(f"  run folder: {result.folder}")
        for suggestion in result.suggestions:
            changes = " ".join(f"--set {k}={v}" for k, v in suggestion["changes"].items())
            lines.append(f"  to fit, try: {suggestion['label']}  ({changes})")
        self._print("\n".join(lines))


def _open_project(folder: str | None, demo: bool, create: bool = True):
    """The project to train in. A --project folder without a project is created only
    when a run is started there (`create`); --list and --resume never create one, so a
    mistyped path is an error, not a new empty project."""
    if folder:
        path = Path(folder).expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError(f"--project {path} is a file; give a project folder.")
        if (path / DB_NAME).exists() and not (path / DB_NAME).is_file():
            raise ValueError(
                f"--project {path}: its {DB_NAME} is a folder, not a project database; "
                "move it away, or give another project folder."
            )
        if (path / DB_NAME).is_file():
            return open_project(path)
        if not create:
            raise ValueError(
                f"--project {path} is not a project (no {DB_NAME}); check the path. "
                "A new project is created only when you start a run there."
            )
        print(f"creating project {path.resolve()}")
        return create_project(path)
    if demo:
        return ensure_demo_project()
    if (Path.cwd() / DB_NAME).is_file():
        return open_project(Path.cwd())

    path = default_projects_dir() / "default"
    if (path / DB_NAME).is_file():
        return open_project(path)
    return create_project(path, name="Default project")


def bundled_datasets_dir() -> Path:
    return Path(resources.__file__).parent / "datasets"


def _name_words(path: Path) -> set[str]:
    return set(re.split(r"[._\-\s]+", path.stem.lower()))


def bundled_example_dataset(folder: Path | None = None) -> tuple[Path, Path | None]:
    """The example dataset shipped in resources/datasets/: its training file, and its
    validation file if it has one. Files named *eval* or *test* are held out for the
    Evaluate page and never trained or validated on."""
    folder = folder or bundled_datasets_dir()
    files = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
    held_out = {"eval", "evaluation", "test"}
    files = [f for f in files if not (_name_words(f) & held_out)]
    if not files:
        raise FileNotFoundError(
            "The bundled example dataset is not installed (resources/datasets/*.jsonl is "
            "missing), so --demo has nothing to train on. Train on your own data instead: "
            "finetune-studio train --write-config my.yaml, set train_file, then "
            "finetune-studio train my.yaml"
        )
    valid = [f for f in files if _name_words(f) & {"valid", "validation", "val"}]
    train = [f for f in files if f not in valid]
    preferred = [f for f in train if "train" in _name_words(f)] or train or files
    return preferred[0], (valid[0] if valid else None)


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set {pair!r}: write it as FIELD=VALUE, e.g. --set max_steps=20")
        name, value = pair.split("=", 1)
        out[name.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def _print_runs(project) -> int:
    found = list_runs(project)
    if not found:
        print(f"no runs in {project.folder}")
        return EXIT_OK
    for run in found:
        best = f"best val {run.best_val_loss:.4f}" if run.best_val_loss is not None else ""
        resumable = "  (resumable: --resume)" if run.resumable else ""
        print(
            f"{run.run_id}\t{run.status}\t{run.method}\t{run.base_model}\t"
            f"{run.steps_done}/{count_text(run.max_steps, 'step')}\t{best}{resumable}"
        )
    return EXIT_OK


def run_train_command(args: argparse.Namespace) -> int:
    if args.write_config:
        save_config(TrainConfig(), args.write_config, with_help=True)
        print(f"wrote {args.write_config}; set train_file (or dataset_version), then run it")
        return EXIT_OK
    # No CONFIG, no --resume, no --demo: the --project's saved Train settings.
    from_project = bool(args.train_project) and not (
        args.config or args.resume or args.train_demo or args.list
    )
    chosen = sum(bool(x) for x in (args.config, args.resume, args.train_demo, from_project))
    if chosen != 1 and not args.list:
        print(
            "error: give CONFIG.yaml, or --project DIR (its saved Train settings), or --resume "
            "RUN, or --demo",
            file=sys.stderr,
        )
        return EXIT_USAGE

    config = None
    if args.config and not args.list:
        try:  # a bad config is refused before a project is created for it
            config = load_config(args.config)
            if args.overrides:
                overrides = _overrides(args.overrides)
                config = config_from_dict({**config.as_dict(), **overrides}, source="--set")
        except (TrainConfigError, ValueError, FileNotFoundError, LookupError) as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
    try:
        project = _open_project(
            args.train_project,
            args.train_demo,
            create=not (args.list or args.resume or args.plan or from_project),
        )
    except Exception as error:
        also = (
            " To train without a project's saved settings, give CONFIG.yaml."
            if from_project
            else ""
        )
        print(f"error: {error}{also}", file=sys.stderr)
        return EXIT_USAGE
    if from_project:
        try:
            config = load_train_settings(project)
            if config is not None and args.overrides:
                overrides = _overrides(args.overrides)
                config = config_from_dict({**config.as_dict(), **overrides}, source="--set")
        except (TrainConfigError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        if config is None:
            print(
                f"error: {project.folder} has no saved Train settings yet: choose them on the "
                "Train page (they are kept as you edit), or give CONFIG.yaml",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(
            f"settings: the saved Train settings of {project.folder}",
            file=sys.stderr if args.plan_json else sys.stdout,
        )
    if args.list:
        return _print_runs(project)
    if args.resume:
        try:  # an unknown run is bad input (exit 2), found before anything is loaded
            load_run(project, args.resume)
        except RunNotFound as error:
            print(
                f"error: {error} See the runs with: finetune-studio train --list", file=sys.stderr
            )
            return EXIT_USAGE

    try:
        overrides = _overrides(args.overrides)
        if args.train_demo:
            train, valid = bundled_example_dataset()
            config = TrainConfig(
                **{
                    **DEMO_SETTINGS,
                    "train_file": str(train),
                    "validation_file": str(valid or ""),
                    **overrides,
                }
            )
            print(
                "demo: LoRA r 8 on the bundled SmolLM2-135M-Instruct, "
                f"{config.max_seq_length}-token sequences, micro batch "
                f"{config.micro_batch_size}, at most {count_text(config.max_steps, 'step')}, on {train.name}",
                file=sys.stderr if args.plan_json else sys.stdout,
            )
        elif overrides and args.resume:
            stored = load_run(project, args.resume).config()
            config = config_from_dict({**stored.as_dict(), **overrides}, source="--set")
    except (TrainConfigError, ValueError, FileNotFoundError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.plan:
        return _print_plan(project, config, args.plan_measure, args.plan_json, args.resume)

    if config is not None:
        try:  # a model folder that cannot be used is bad input (exit 2), as for chat and eval
            base = resolve_model(config.base_model, project)
        except ModelFolderError as error:
            print(f"error: base_model: {error}", file=sys.stderr)
            return EXIT_USAGE
        try:  # so is a start_from run that cannot be continued: no run is recorded for it
            adapter_to_continue(project, config, base.path)
        except TrainConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE

    print(f"project: {project.folder}")
    session = TrainingSession(
        project, config, ConsoleObserver(quiet=args.quiet), resume_run=args.resume
    )
    previous = _install_ctrl_c(session)
    try:
        result = session.run()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return EXIT_ERRORS if result.status == FAILED else EXIT_OK


def _print_plan(project, config, measure: bool, as_json: bool, resume: str | None) -> int:
    """`train CONFIG --plan`: the run plan of core.training.run_plan, nothing trained."""
    if config is None:  # --resume: the run's own settings
        config = load_run(project, resume).config()
    try:
        timing = None
        report = None
        # With --json, stdout is the JSON alone: what libraries print goes to stderr.
        with contextlib.redirect_stdout(sys.stderr if as_json else sys.stdout):
            # pre-flight times SFT and DPO steps; a GRPO run times its own sampling
            if measure and config.stage in ("sft", "dpo"):
                report = run_preflight(project, config, verify=False)
                timing = step_timing(report)
            planned = plan_for_project(project, config, timing)
    except (TrainConfigError, TrainingDataError, ChatTemplateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    fitted = planned.fitted
    out = {
        **planned.plan.as_dict(),
        "validation_examples": planned.n_valid,
        "suggested_changes": fitted.changes,
        "suggested_optimizer_steps": fitted.after.optimizer_steps,
        "reasons": fitted.reasons,
        "preflight": report.message if report is not None else None,
    }
    if as_json:
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(f"plan for {config.display_name()} on {planned.n_train} training examples:")
    for line in planned.plan.lines():
        print(f"  {line}")
    if fitted.changes:
        print(f"suggested for this data: {fitted.config_changes_text}")
        for reason in fitted.reasons:
            print(f"  {reason}")
        sets = " ".join(f"--set {k}={v}" for k, v in fitted.changes.items())
        print(f"  to use them: {sets}")
    if report is not None and report.stopped:
        print(f"pre-flight: {report.message}")
    return EXIT_OK


def _install_ctrl_c(session):
    if threading.current_thread() is not threading.main_thread():
        return None
    pressed = {"n": 0}

    def handler(signum, frame):
        pressed["n"] += 1
        if pressed["n"] > 1:
            raise KeyboardInterrupt
        print("\nstopping after this step (saving a checkpoint); Ctrl-C again to abort", flush=True)
        session.stop("Stopped with Ctrl-C.")

    return signal.signal(signal.SIGINT, handler)
