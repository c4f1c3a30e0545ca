"""Setting up a run's record: what it trains on, its folder, lock, database row and run.json.

The first step of a TrainingSession (see session.py): nothing here loads a model or trains.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core import __version__
from core.atomic_file import write_text_atomic
from core.project.events import RUN_STARTED, announce
from core.recipe.config import TrainConfig, TrainConfigError, config_to_yaml
from core.runs import record as runs
from core.training.chat_tokens import ChatTemplateError
from core.training.conversations import TrainingDataError
from core.training.device import resolve_device
from core.training.distributed import (
    FollowerRecorder,
    join_process_group,
    share_from_main,
)
from core.training.memory_savers import resolve_auto_savers
from core.training.prepare import resolve_base_model
from core.training.recorder import RunRecorder
from core.training.stage_data import read_stage_data

if TYPE_CHECKING:
    from core.models.registry import BaseModel
    from core.training.device import DevicePlan
    from core.training.prepare import PreparedData
    from core.training.schedule import Schedule
    from core.training.session_state import SessionState

# Bad settings or data: the run fails with the message, which says what to change.
SETUP_ERRORS = (TrainConfigError, TrainingDataError, ChatTemplateError)


@dataclass(frozen=True)
class RunInputs:
    """What one run trains on, resolved once before the run folder is opened."""

    config: TrainConfig
    base: BaseModel
    data: PreparedData
    plan: DevicePlan
    checkpoint: Path | None = None  # the checkpoint a resumed run continues from
    previous: runs.RunInfo | None = None  # the run being resumed
    saver_notes: tuple[str, ...] = ()  # why each memory saver was turned on
    asked_config: TrainConfig | None = None  # the recipe before its "auto" savers were decided


def resolve_inputs(session: SessionState) -> RunInputs:
    """The settings, base model, data and device of the run; for a resumed run also the
    checkpoint it continues from. Raises TrainConfigError (and the other setup errors) or
    RunNotFound with a message that says what to do."""
    checkpoint = None
    previous = None
    if session.resume_from:
        previous = runs.load_run(session.project, session.resume_from)
        if previous.status == runs.RunState.RUNNING and session.world.is_main:
            raise TrainConfigError("run", f"{previous.run_id} is training right now.")
        if previous.status == runs.RunState.FINISHED:
            raise TrainConfigError("run", f"{previous.run_id} has already finished.")
        checkpoint = runs.latest_checkpoint(previous.folder)
        if checkpoint is None:
            raise TrainConfigError(
                "run",
                f"{previous.run_id} has no complete checkpoint to resume from; start it "
                "again instead.",
            )
        if session.config is None:
            session.config = previous.config()
    config = session.config
    base = resolve_base_model(session.project, config)
    data = read_stage_data(session.project, config)
    plan = resolve_device(config)
    # Savers left at "auto" are decided here, once, for the whole run; config.yaml keeps the
    # recipe as asked and the reasons go to the run's log when it opens.
    asked = config
    config, saver_notes = resolve_auto_savers(config, plan, base.path)
    return RunInputs(
        config=config,
        base=base,
        data=data,
        plan=plan,
        checkpoint=checkpoint,
        previous=previous,
        saver_notes=tuple(saver_notes),
        asked_config=asked,
    )


def open_run(session: SessionState, inputs: RunInputs) -> None:
    """Create (or reopen, when resuming) the run folder and row, lock it, start the recorder."""
    config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
    previous = inputs.previous
    project = session.project
    if session.world.distributed:
        join_process_group(plan.device)
        if not session.world.is_main:
            _follow_run(session, previous)
            return
    if previous is None:
        session.run_id = runs.new_run_id(project, config.method)
        session.folder = project.runs_dir / session.run_id
        session.folder.mkdir(parents=True)
    else:
        session.run_id = previous.run_id
        session.folder = previous.folder
    session.run_lock = runs.RunLock(session.folder)
    session.run_lock.acquire()
    # The recipe as asked ("auto" savers stay auto; the log says what they became).
    config_yaml = config_to_yaml(inputs.asked_config or config)
    if previous is None:
        write_text_atomic(session.folder / runs.CONFIG_FILE, config_yaml)
        key = runs.insert_run_row(
            project,
            session.run_id,
            {
                "name": config.display_name(),
                "status": runs.RunState.RUNNING,
                "base_model": base.name,
                "base_model_path": str(base.path),
                "method": config.method,
                "dataset_version_id": data.source.version_id,
                "dataset_version_label": data.source.version_label,
                "dataset_content_hash": data.source.content_hash,
                "train_file": str(data.source.train_path),
                "validation_file": str(data.source.valid_path or ""),
                "config_yaml": config_yaml,
                "folder": session.folder.name,
                "device": plan.description,
                "started_at": runs.now(),
            },
        )
        session.previous_duration = 0.0
    else:
        key = runs.row_key(project, session.run_id)
        changes = {"status": runs.RunState.RUNNING, "status_reason": "", "ended_at": None}
        stored = (session.folder / runs.CONFIG_FILE).read_text(encoding="utf-8")
        if stored != config_yaml:
            # Resumed with other settings (say a smaller micro batch after running out
            # of memory): the run's config now says what it continues with.
            write_text_atomic(session.folder / f"config.before-resume-{_stamp()}.yaml", stored)
            write_text_atomic(session.folder / runs.CONFIG_FILE, config_yaml)
            changes["config_yaml"] = config_yaml
        runs.update_run_row(project, session.run_id, **changes)
        session.previous_duration = previous.duration_s
    session.recorder = RunRecorder(project, session.run_id, session.folder, key, session.observer)
    session.recorder.log(
        f"FineTune Studio {__version__}, run {session.run_id}" + (" (resumed)" if previous else "")
    )
    if session.world.distributed:
        share_from_main(session.run_id)
        session.recorder.log(
            f"distributed: {session.world.size} processes; rank 0 keeps the record"
        )
    for note in data.notes:
        session.recorder.log(note)
    announce(project, RUN_STARTED, session.run_id)


def _follow_run(session: SessionState, previous: runs.RunInfo | None) -> None:
    """A rank other than 0: train in rank 0's run, write nothing of the record."""
    session.run_id = share_from_main(None)
    session.folder = session.project.runs_dir / session.run_id
    session.folder.mkdir(parents=True, exist_ok=True)  # a node without the shared folder
    session.previous_duration = previous.duration_s if previous else 0.0
    session.recorder = FollowerRecorder(
        session.project, session.run_id, session.folder, session.observer
    )


def write_run_json(
    session: SessionState,
    inputs: RunInputs,
    schedule: Schedule,
    max_steps: int,
    per_epoch: int,
    trainable: int,
    total: int,
) -> None:
    """run.json: what the run trained, on what, with which library versions."""
    # Heavy libraries, imported only once a run is under way (the window never needs them).
    import peft

    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    import transformers

    # trl is heavy: loaded when training starts
    import trl

    config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
    info = {
        "run_id": session.run_id,
        "studio_version": __version__,
        "base_model": base.name,
        "base_model_path": str(base.path),
        # Where a Hub model came from, pinned to the commit it was trained on.
        "base_model_hub_id": getattr(base, "hub_id", None),
        "base_model_revision": getattr(base, "revision", None),
        "method": config.method,
        "device": plan.device,
        "precision": plan.precision,
        "optimizer": plan.optimizer,
        "learning_rate": config.effective_learning_rate,
        "effective_batch_size": config.effective_batch_size,
        "max_steps": max_steps,
        "steps_per_epoch": per_epoch,
        "eval_every": schedule.eval_every,
        "checkpoint_every": schedule.save_every,
        "final_model_is": "best" if schedule.load_best_at_end else "last",
        "trainable_parameters": trainable,
        "total_parameters": total,
        "data": {
            **data.stats(),
            "train_file": str(data.source.train_path),
            "validation_file": str(data.source.valid_path or ""),
            "dataset_version_id": data.source.version_id,
            "dataset_version_label": data.source.version_label,
            "dataset_content_hash": data.source.content_hash,
        },
        "libraries": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
            "peft": peft.__version__,
            "python": platform.python_version(),
        },
        "final_model_dir": runs.FINAL_DIR,
        "processes": session.world.size,
    }
    write_text_atomic(session.folder / runs.RUN_FILE, json.dumps(info, indent=2, sort_keys=True))


def _stamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
