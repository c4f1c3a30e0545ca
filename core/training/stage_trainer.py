"""What the DPO and GRPO stages build alike around TRL's trainer for their stage.

Both load the policy as SFT does (trainer_setup.load_policy: a finished run's adapter
continued, else a new LoRA config, else full fine-tuning) and build their trainer the same
way: the stage's config from the SFT mapping of the shared settings plus its own, our
callback, and trainer_setup.finish_trainer after. Only the stage's data check, its log lines, GRPO's
pre-flight and the trainer's own arguments differ; those stay in dpo_setup and grpo_setup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.training.callback import make_callback
from core.training.trainer_setup import callback_logic, finish_trainer, trainer_kwargs

if TYPE_CHECKING:
    from core.training.run_setup import RunInputs
    from core.training.session_state import SessionState


def build_stage_trainer(
    session: SessionState,
    inputs: RunInputs,
    *,
    trainer_class: type,
    args_class: type,
    build_kwargs: Callable[..., tuple[dict, list[str]]],
    model,
    peft_config,
    tokenizer,
    rows_are: str,
    args_extra: dict | None = None,
    trainer_extra: dict | None = None,
):
    """The stage's TRL trainer on the run's records, with our callback, finished as every
    stage's is (trainer_setup.finish_trainer). build_kwargs(config, plan, schedule,
    output_dir, has_eval) gives the stage config's arguments and notes on their mapping;
    args_extra and trainer_extra are the stage's own. Returns (trainer, logic, max_steps)."""
    # datasets is heavy: imported once a run starts
    from datasets import Dataset

    data = inputs.data
    has_eval = bool(data.valid)
    kwargs = trainer_kwargs(session, inputs, build_kwargs, has_eval)
    logic = callback_logic(session, inputs)
    trainer = trainer_class(
        model=model,
        args=args_class(**kwargs, **(args_extra or {})),
        train_dataset=Dataset.from_list(data.records(data.train)),
        eval_dataset=Dataset.from_list(data.records(data.valid)) if has_eval else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[make_callback(logic)],
        **(trainer_extra or {}),
    )
    return finish_trainer(session, inputs, trainer, logic, has_eval, rows_are)
