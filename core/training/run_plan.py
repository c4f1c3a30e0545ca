"""The run plan: what a run will do with this data, worked out before it starts.

Optimizer steps, tokens per step, warmup, the learning rate of the first steps and the
time, from the recipe and the dataset's token lengths, counted the way the trainer counts
them (TRL's own packing, transformers' step and warmup arithmetic, our scheduler). And
the defaults a small dataset needs: enough optimizer steps to learn, got first by lowering
gradient accumulation, then by more epochs within the guide's 2-5.

    plan = plan_run(config, lengths, timing)      # pure arithmetic (and TRL's packing)
    fitted = fit_to_data(config, lengths)         # the data's defaults, with the reasons
    plan = plan_for_project(project, config)      # reads and tokenizes the data first
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.figures import duration_text
from core.recipe.config import TrainConfig
from core.training.advisor import RunOutcome, describe_changes
from core.training.dpo_data import PreparedPreferences, count_pair_tokens, read_preference_data
from core.training.held_out import held_out_measure
from core.training.model_loading import load_tokenizer, quiet_progress_bars
from core.training.prepare import read_data, resolve_base_model, tokenize_data
from core.training.schedule import (
    learning_rates,
    resolve_schedule,
    steps_per_epoch,
    total_steps,
    warmup_steps_for,
)
from core.training.sft_args import sft_config_fields

# The fewest optimizer steps a run gets by default. The guide: "for small datasets,
# smaller batch sizes with more gradient updates per epoch can work better", 2-5 epochs,
# 3 % warmup. A run of the CPU preset on a 40-example task made 3 steps (micro batch 2 x
# accumulation 8, 3 epochs) and learned nothing: format compliance 0 % -> 10 %. At 30
# steps (accumulation 1, 5 epochs on the same data) benchmarks/small_data.py measures a
# significant rise (see the README). 30 also gives the guide's 3 % warmup its first whole
# step, and on 2 CPU cores a 135M model makes 30 steps of 2 x 512 tokens in minutes.
MIN_OPTIMIZER_STEPS = 30
# The guide's epoch range is 2-5: "more risks overfitting". Defaults never go past it.
MAX_EPOCHS = 5.0
# Packing a huge dataset just to count its rows would take as long as reading it; beyond
# this many examples the rows are counted as total tokens / max_seq_length (what best-fit
# packing reaches within a row or two on large data).
EXACT_PACKING_UP_TO = 20_000


@dataclass(frozen=True)
class StepTiming:
    """One measured micro batch on this machine (pre-flight's steps on the longest batch)."""

    seconds: float  # wall time of one micro batch, forward, backward and optimizer step
    tokens: int  # tokens in that micro batch
    source: str = "pre-flight"  # where it was measured, and under what load

    @property
    def seconds_per_token(self) -> float:
        return self.seconds / max(1, self.tokens)


@dataclass
class RunPlan:
    examples: int  # training conversations
    rows_per_epoch: int  # training rows after packing (= examples without packing)
    micro_batches_per_epoch: int
    steps_per_epoch: int
    optimizer_steps: int
    epochs: float
    micro_batch_size: int
    gradient_accumulation: int
    tokens_per_epoch: int
    tokens_per_step: int  # average tokens in one optimizer step
    warmup_steps: int
    learning_rate: float  # the peak
    first_step_learning_rate: float
    schedule: str
    learning_rate_steps: list[float] = field(default_factory=list)  # the first few steps
    seconds: float | None = None
    seconds_per_step: float | None = None
    timing_source: str = ""
    minimum_steps: int = MIN_OPTIMIZER_STEPS
    evaluations: int = 0  # validation-loss passes during the run

    @property
    def too_few_steps(self) -> bool:
        return self.optimizer_steps < self.minimum_steps

    def as_dict(self) -> dict:
        return {
            "examples": self.examples,
            "rows_per_epoch": self.rows_per_epoch,
            "micro_batches_per_epoch": self.micro_batches_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "optimizer_steps": self.optimizer_steps,
            "epochs": self.epochs,
            "micro_batch_size": self.micro_batch_size,
            "gradient_accumulation": self.gradient_accumulation,
            "tokens_per_epoch": self.tokens_per_epoch,
            "tokens_per_step": self.tokens_per_step,
            "warmup_steps": self.warmup_steps,
            "learning_rate": self.learning_rate,
            "first_step_learning_rate": self.first_step_learning_rate,
            "schedule": self.schedule,
            "learning_rate_steps": list(self.learning_rate_steps),
            "seconds": self.seconds,
            "seconds_per_step": self.seconds_per_step,
            "timing_source": self.timing_source,
            "minimum_steps": self.minimum_steps,
            "evaluations": self.evaluations,
        }

    def lines(self) -> list[str]:
        """The plan in words, a line per fact."""
        out = [
            f"{self.optimizer_steps} optimizer steps: {self.examples} examples in "
            f"{self.rows_per_epoch} rows, {self.micro_batches_per_epoch} micro batches of "
            f"{self.micro_batch_size} per epoch, accumulation {self.gradient_accumulation} "
            f"({_count(self.steps_per_epoch, 'step')} per epoch) x {self.epochs:g} epochs",
            f"about {self.tokens_per_step:,} tokens per optimizer step",
            f"learning rate {self.learning_rate:.2g}, {self.schedule}; warmup "
            + (
                f"{self.warmup_steps} step{'s' if self.warmup_steps != 1 else ''}, first step at "
                f"{self.first_step_learning_rate:.2g}"
                if self.warmup_steps
                else "none"
            ),
        ]
        if self.seconds is not None:
            evals = f", {_count(self.evaluations, 'validation pass')}" if self.evaluations else ""
            out.append(
                f"about {duration_text(self.seconds, rough=True)} ({self.seconds_per_step:.1f} s per step"
                f"{evals}; {self.timing_source})"
            )
        else:
            out.append("time: not measured yet (pre-flight times a step on this machine)")
        return out


@dataclass
class FittedDefaults:
    """The data's defaults for a recipe: the changes (empty when none are needed), why,
    and the plan before and after."""

    changes: dict
    reasons: list[str]
    before: RunPlan
    after: RunPlan

    @property
    def config_changes_text(self) -> str:
        return describe_changes(self.changes)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def training_row_lengths(lengths: list[int], config: TrainConfig) -> list[int]:
    """Token lengths of the rows the trainer will see: TRL's own packing when packing is
    on (so the step count is the trainer's), one row per example otherwise."""
    lengths = [min(n, config.max_seq_length) for n in lengths if n > 0]
    if not config.packing or not lengths:
        return lengths
    if len(lengths) > EXACT_PACKING_UP_TO:
        rows = max(1, math.ceil(sum(lengths) / config.max_seq_length))
        full, last = divmod(sum(lengths), config.max_seq_length)
        return [config.max_seq_length] * full + ([last] if last else [])[: rows - full]
    from datasets import Dataset  # heavy: loaded when data is packed
    from trl.data_utils import pack_dataset  # heavy: loaded when data is packed

    strategy = sft_config_fields()["packing_strategy"].default
    with quiet_progress_bars():
        packed = pack_dataset(
            Dataset.from_dict({"input_ids": [[0] * n for n in lengths]}),
            config.max_seq_length,
            strategy,
        )
    return [len(row) for row in packed["input_ids"]]


def _micro_batch_tokens(rows: list[int], config: TrainConfig) -> list[int]:
    """Tokens computed per micro batch: packed rows go through padding-free (their sum);
    unpacked rows are padded to the longest in the batch."""
    size = config.micro_batch_size
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    if config.packing:
        return [sum(batch) for batch in batches]
    return [max(batch) * len(batch) for batch in batches]


def plan_run(
    config: TrainConfig,
    lengths: list[int],
    timing: StepTiming | None = None,
    minimum_steps: int = MIN_OPTIMIZER_STEPS,
    rows: list[int] | None = None,
    valid_lengths: list[int] | None = None,
) -> RunPlan:
    """The plan of a run of `config` on training examples of these token lengths
    (`rows`: their training_row_lengths, when already counted for these settings), and
    validation examples of `valid_lengths` (their evaluations are part of the time)."""
    if rows is None:
        rows = training_row_lengths(lengths, config)
    n_rows = max(1, len(rows))
    per_epoch = steps_per_epoch(n_rows, config)
    steps = total_steps(n_rows, config)
    batch_tokens = _micro_batch_tokens(rows, config) or [0]
    tokens_per_epoch = sum(rows)
    micro_per_epoch = len(batch_tokens)
    epochs = steps / per_epoch if config.max_steps > 0 else config.epochs
    # Tokens the run computes: whole epochs and the part of the last one.
    computed_tokens = sum(batch_tokens) * epochs
    warmup = warmup_steps_for(config, steps)
    rates = learning_rates(config, steps, steps=min(steps, max(3, warmup + 1)))
    evaluations, eval_tokens = 0, 0
    if valid_lengths:
        schedule, _notes = resolve_schedule(config, steps, has_eval=True)
        evaluations = steps // schedule.eval_every
        # TRL packs the validation set as it packs the training set (eval_packing: None).
        eval_rows = training_row_lengths(valid_lengths, config)
        eval_tokens = sum(_micro_batch_tokens(eval_rows, config))
    seconds = per_step = None
    source = ""
    if timing is not None:
        # A validation pass is forward only: a training step costs a forward and a
        # backward of about two forwards, and one more forward with gradient checkpointing.
        eval_cost = 1 / 4 if config.gradient_checkpointing else 1 / 3
        computed = computed_tokens + evaluations * eval_tokens * eval_cost
        seconds = timing.seconds_per_token * computed
        per_step = seconds / steps
        source = timing.source
    return RunPlan(
        examples=len(lengths),
        rows_per_epoch=len(rows),
        micro_batches_per_epoch=micro_per_epoch,
        steps_per_epoch=per_epoch,
        optimizer_steps=steps,
        epochs=round(epochs, 3),
        micro_batch_size=config.micro_batch_size,
        gradient_accumulation=config.gradient_accumulation,
        tokens_per_epoch=tokens_per_epoch,
        tokens_per_step=round(tokens_per_epoch * epochs / steps) if steps else 0,
        warmup_steps=warmup,
        learning_rate=config.effective_learning_rate,
        first_step_learning_rate=rates[0] if rates else 0.0,
        schedule=config.lr_scheduler,
        learning_rate_steps=rates,
        seconds=seconds,
        seconds_per_step=per_step,
        timing_source=source,
        minimum_steps=minimum_steps,
        evaluations=evaluations,
    )


def fit_to_data(
    config: TrainConfig,
    lengths: list[int],
    timing: StepTiming | None = None,
    minimum_steps: int = MIN_OPTIMIZER_STEPS,
    valid_lengths: list[int] | None = None,
) -> FittedDefaults:
    """The recipe's defaults for this data: at least `minimum_steps` optimizer steps,
    first by lowering gradient accumulation (more updates from the same examples), then
    by raising the epochs up to the guide's 5, and last, when packing has folded a few
    short examples into a handful of rows, by training each example in its own row. A
    step limit set by the user is kept."""
    rows = training_row_lengths(lengths, config)  # the same for any accumulation and epochs
    before = plan_run(config, lengths, timing, minimum_steps, rows, valid_lengths)
    if config.max_steps > 0 or before.optimizer_steps >= minimum_steps:
        return FittedDefaults({}, [], before, before)
    reasons = [
        f"{before.optimizer_steps} optimizer steps is too few to learn from (the floor is "
        f"{minimum_steps}): {before.examples} examples make {before.rows_per_epoch} rows, "
        f"{before.micro_batches_per_epoch} micro batches per epoch, and accumulation "
        f"{config.gradient_accumulation} turns them into "
        f"{_count(before.steps_per_epoch, 'step')} per epoch."
    ]
    packed_reasons: list[str] = []
    fitted, changes = _more_steps(config, len(rows), minimum_steps, packed_reasons)
    packed_steps = total_steps(len(rows), fitted)
    if packed_steps < minimum_steps and config.packing:
        unpacked_rows = training_row_lengths(lengths, config.replace(packing=False))
        reasons.append(
            f"Packing off: even at accumulation 1 and {max(config.epochs, MAX_EPOCHS):g} epochs "
            f"the {len(rows)} packed rows give {packed_steps} steps; one example per row "
            f"makes {len(unpacked_rows)} rows (each micro batch shorter)."
        )
        fitted, unpacked_changes = _more_steps(
            config.replace(packing=False), len(unpacked_rows), minimum_steps, reasons
        )
        changes, rows = {"packing": False, **unpacked_changes}, unpacked_rows
    else:
        reasons += packed_reasons
    after = plan_run(fitted, lengths, timing, minimum_steps, rows, valid_lengths)
    if after.too_few_steps:
        reasons.append(
            f"Still {after.optimizer_steps} steps: add examples (the guide: 50-200 for a "
            "format or tone, more for a domain), or lower the micro batch."
        )
    else:
        reasons.append(f"Now {after.optimizer_steps} optimizer steps.")
    return FittedDefaults(changes, reasons, before, after)


def _more_steps(
    config: TrainConfig, n_rows: int, minimum_steps: int, reasons: list[str]
) -> tuple[TrainConfig, dict]:
    """Lower accumulation (the largest that reaches the floor), then raise epochs."""
    changes: dict = {}
    fitted = config
    accumulation = config.gradient_accumulation
    while accumulation > 1 and total_steps(n_rows, fitted) < minimum_steps:
        accumulation -= 1
        fitted = config.replace(gradient_accumulation=accumulation)
    if accumulation != config.gradient_accumulation:
        changes["gradient_accumulation"] = accumulation
        reasons.append(
            f"Accumulation {config.gradient_accumulation} -> {accumulation}: "
            f"{_count(steps_per_epoch(n_rows, fitted), 'step')} per epoch (the guide: for small "
            "datasets, more gradient updates per epoch work better)."
        )
    if total_steps(n_rows, fitted) < minimum_steps and config.epochs < MAX_EPOCHS:
        per_epoch = steps_per_epoch(n_rows, fitted)
        epochs = min(MAX_EPOCHS, max(config.epochs, math.ceil(minimum_steps / per_epoch)))
        if epochs > config.epochs:
            fitted = fitted.replace(epochs=float(epochs))
            changes["epochs"] = float(epochs)
            reasons.append(
                f"Epochs {config.epochs:g} -> {epochs:g}"
                + (" (the guide's most: more risks overfitting)" if epochs == MAX_EPOCHS else "")
                + "."
            )
    return fitted, changes


@dataclass
class DataPlan:
    """A plan for a project's data, with what reading it found."""

    plan: RunPlan
    fitted: FittedDefaults
    n_train: int
    n_valid: int
    lengths: list[int]
    valid_lengths: list[int] = field(default_factory=list)


def read_lengths(project, config: TrainConfig):
    """The run's data read and tokenized as the trainer will (PreparedData, or for a DPO
    run PreparedPreferences with each pair's tokens counted)."""
    base = resolve_base_model(project, config)
    tokenizer = load_tokenizer(base.path)
    if config.stage == "dpo":
        pairs = read_preference_data(project, config)
        count_pair_tokens(pairs, tokenizer, config.max_seq_length)
        return pairs
    data = read_data(project, config)
    tokenize_data(data, tokenizer, config, base.name)
    return data


def plan_for_project(
    project, config: TrainConfig, timing: StepTiming | None = None, data=None
) -> DataPlan:
    """The plan for `config` on its data (a dataset version or files), read and tokenized
    the way the run will read them; `data` is a PreparedData already tokenized."""
    data = data if data is not None else read_lengths(project, config)
    if isinstance(data, PreparedPreferences):
        # A DPO step puts both sides of each pair through the model, never packed.
        lengths, valid_lengths = data.train_lengths, data.valid_lengths
        config = config.replace(packing=False)
    else:
        lengths = [len(example.input_ids) for example in data.train_tokens.examples]
        valid = data.valid_tokens.examples if data.valid_tokens is not None else []
        valid_lengths = [len(example.input_ids) for example in valid]
    fitted = fit_to_data(config, lengths, timing, valid_lengths=valid_lengths)
    return DataPlan(
        plan=fitted.before,
        fitted=fitted,
        n_train=len(data.train),
        n_valid=len(data.valid),
        lengths=lengths,
        valid_lengths=valid_lengths,
    )


# The top of the guide's learning-rate range: LoRA/QLoRA 1e-4 to 3e-4, full 1e-5 to 5e-5.
MAX_ADAPTER_LEARNING_RATE = 3e-4
MAX_FULL_LEARNING_RATE = 5e-5


def run_outcome(
    config: TrainConfig, n_rows: int, steps_done: int, records: list, has_validation: bool
) -> RunOutcome:
    """A finished run's facts for advice_after_run, with the settings that would give the
    next run enough steps (fewer accumulation, then more epochs, on the same rows)."""
    fitted, changes = _more_steps(config, max(1, n_rows), MIN_OPTIMIZER_STEPS, [])
    measure = held_out_measure(config.stage)
    return RunOutcome(
        steps_done=steps_done,
        minimum_steps=MIN_OPTIMIZER_STEPS,
        # Only supervised fine-tuning's loss says whether the model learned: DPO's and
        # GRPO's losses move for other reasons (their advisors watch their own signals).
        train_losses=[r.loss for r in records if r.kind == "train" and r.loss is not None]
        if config.stage == "sft"
        else [],
        evaluations=sum(1 for r in records if r.kind == "eval" and measure.value(r) is not None),
        has_validation=has_validation,
        learning_rate=config.effective_learning_rate,
        max_learning_rate=MAX_ADAPTER_LEARNING_RATE
        if config.is_adapter_method
        else MAX_FULL_LEARNING_RATE,
        more_steps=changes if total_steps(max(1, n_rows), fitted) > steps_done else {},
        more_steps_count=total_steps(max(1, n_rows), fitted),
        stage=config.stage,
    )
