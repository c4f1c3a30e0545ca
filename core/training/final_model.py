"""Saving a run's final model: weights and tokenizer into a staging folder, then renamed.

A crash while saving leaves the staging folder, never half a final model; the metadata file
says which step and checkpoint the model is, and the base model it needs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from core.atomic_file import write_text_atomic
from core.models.remote_code import inherit_trust
from core.recipe.config import TrainConfig
from core.runs import record as runs

if TYPE_CHECKING:
    from core.training.session_state import SessionState

STUDIO_MODEL_FILE = "studio_model.json"


def save_final_model(session: SessionState, trainer, config: TrainConfig) -> Path:
    final_dir = session.folder / runs.FINAL_DIR
    staging = session.folder / f".{runs.FINAL_DIR}.saving"
    if session.world.is_main:
        shutil.rmtree(staging, ignore_errors=True)
    # Every rank takes part (FSDP and ZeRO-3 gather the weights); rank 0 writes them.
    trainer.save_model(str(staging))
    if not session.world.is_main:
        return final_dir
    trainer.processing_class.save_pretrained(str(staging))
    best = runs.best_checkpoint(session.folder)
    meta = {
        "run_id": session.run_id,
        "method": config.method,
        "is_adapter": config.is_adapter_method,
        "base_model": config.base_model,
        "base_model_path": str(_base_path(session)),
        "step": int(trainer.state.global_step),
        "from_checkpoint": Path(trainer.state.best_model_checkpoint).name
        if trainer.args.load_best_model_at_end and trainer.state.best_model_checkpoint
        else "last step",
        "best_checkpoint": best.name if best else None,
    }
    write_text_atomic(staging / STUDIO_MODEL_FILE, json.dumps(meta, indent=2, sort_keys=True))
    if final_dir.exists():
        shutil.rmtree(final_dir)
    staging.rename(final_dir)
    session.log(f"final model saved to {final_dir} ({meta['from_checkpoint']})")
    if inherit_trust(final_dir, meta["base_model_path"]):
        session.log("the final model carries its base model's own code: trusted like the base")
    return final_dir


def _base_path(session: SessionState) -> str:
    try:
        return runs.load_run(session.project, session.run_id).base_model_path
    except Exception:
        return ""
