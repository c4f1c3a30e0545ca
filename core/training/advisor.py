"""The advisor: the guide's heuristics applied live to a run's records, each saying what to do.

- Validation loss rising while training loss falls: overfitting. Name the step it began
  (the best validation loss) and offer to stop and keep that checkpoint.
- Training loss plummeting in the first steps: the learning rate is probably too high.
- NaN or infinite loss or gradient norm, or a gradient norm that explodes and stays up:
  the run has diverged; stop it.
- Under 1,000 examples: overfitting can start within the first epoch; evaluate often.

Advisors are plain objects fed one MetricRecord at a time; they never touch the trainer.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from core.figures import count_text
from core.runs.records import ERROR, INFO, WARNING, Advice, MetricRecord
from core.training.dpo_advisor import MarginPlateauAdvisor
from core.training.grpo_advisor import RewardAdvisor

SMALL_DATASET = 1000


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


class OverfittingAdvisor:
    """Fires once when validation loss has risen for `patience` evaluations past its best
    while the training loss kept falling."""

    def __init__(self, patience: int = 2, tolerance: float = 0.005) -> None:
        self.patience = patience
        self.tolerance = tolerance  # relative rise above the best that counts as rising
        self.train: list[MetricRecord] = []
        self.evals: list[MetricRecord] = []
        self.best: MetricRecord | None = None
        self.fired = False

    def observe(self, record: MetricRecord) -> list[Advice]:
        if record.kind == "train":
            if _finite(record.loss):
                self.train.append(record)
            return []
        if not _finite(record.eval_loss) or record.reward is not None:
            return []  # (GRPO's eval loss is a surrogate around 0: RewardAdvisor watches it)
        self.evals.append(record)
        if self.best is None or record.eval_loss < self.best.eval_loss:
            self.best = record
            return []
        if self.fired:
            return []
        after_best = [e for e in self.evals if e.step > self.best.step]
        threshold = self.best.eval_loss * (1 + self.tolerance) + 1e-6
        if len(after_best) < self.patience or not all(
            e.eval_loss > threshold for e in after_best[-self.patience :]
        ):
            return []
        if after_best[-1].eval_loss < after_best[-self.patience].eval_loss:
            return []  # rose, but is coming back down: not (yet) a trend
        train_then = self._train_mean_before(self.best.step)
        train_now = self._train_mean_before(record.step)
        if train_then is None or train_now is None or not train_now < train_then:
            return []  # both rising is instability, not overfitting
        self.fired = True
        began = self.best.step
        return [
            Advice(
                step=began,
                severity=WARNING,
                kind="overfitting",
                title="Overfitting",
                message=(
                    f"Validation loss has risen for {len(after_best)} evaluations since step "
                    f"{began} ({self.best.eval_loss:.4f} -> {record.eval_loss:.4f}) while the "
                    f"training loss kept falling ({train_then:.4f} -> {train_now:.4f}): the "
                    "model has started to memorise the training set instead of learning what "
                    f"generalises. The best model so far is the one at step {began}."
                ),
                action="stop_keep_best",
                action_label=f"Stop now and keep the step-{began} checkpoint",
                details={
                    "began_at_step": began,
                    "best_step": began,
                    "best_eval_loss": self.best.eval_loss,
                    "detected_at_step": record.step,
                    "eval_loss_now": record.eval_loss,
                },
            )
        ]

    def _train_mean_before(self, step: int, window: int = 5) -> float | None:
        losses = [r.loss for r in self.train if r.step <= step][-window:]
        return statistics.fmean(losses) if losses else None


class LearningRateAdvisor:
    """Fires once when the training loss collapses within the first steps of the run."""

    def __init__(self, max_steps: int, drop_ratio: float = 0.35) -> None:
        self.window = max(3, min(100, round(max_steps * 0.1))) if max_steps else 20
        self.drop_ratio = drop_ratio
        self.first: MetricRecord | None = None
        self.fired = False

    def observe(self, record: MetricRecord) -> list[Advice]:
        if self.fired or record.kind != "train" or not _finite(record.loss):
            return []
        if record.reward is not None:
            # GRPO's loss is a policy-gradient surrogate around 0, not a fit: its fall says
            # nothing about the learning rate (RewardAdvisor watches a GRPO run's reward).
            return []
        if self.first is None:
            self.first = record
            return []
        if record.step > self.window or self.first.loss <= 0:
            return []
        if record.loss > self.first.loss * self.drop_ratio:
            return []
        self.fired = True
        lr = record.learning_rate
        suggested = None
        details = {"first_loss": self.first.loss, "loss_now": record.loss, "window": self.window}
        label = "Stop, lower the learning rate and start again"
        if _finite(lr) and lr > 0:
            # The schedule is still warming up here, so suggest from the configured peak.
            suggested = lr / 3
            details["suggested_learning_rate"] = suggested
        drop = 100 * (1 - record.loss / self.first.loss)
        return [
            Advice(
                step=record.step,
                severity=WARNING,
                kind="lr_too_high",
                title="Learning rate probably too high",
                message=(
                    f"Training loss fell {drop:.0f} % in the first {count_text(record.step, 'step')} "
                    f"({self.first.loss:.4f} -> {record.loss:.4f}). A collapse this fast usually "
                    "means the model is memorising rather than learning patterns that "
                    "generalise. Watch the validation loss; if it rises, restart with a lower "
                    "learning rate (LoRA 1e-4 to 3e-4, full fine-tuning 1e-5 to 5e-5)."
                ),
                action="lower_learning_rate",
                action_label=label,
                details=details,
            )
        ]


class DivergenceAdvisor:
    """NaN/inf at once, or a gradient norm far above its running median for several records."""

    def __init__(self, explode_factor: float = 25.0, sustained: int = 3, warmup: int = 5) -> None:
        self.explode_factor = explode_factor
        self.sustained = sustained
        self.warmup = warmup
        self.norms: list[float] = []
        self.high_run = 0
        self.fired = False
        self.spike_warned = False

    def observe(self, record: MetricRecord) -> list[Advice]:
        if self.fired or record.kind != "train":
            return []
        for name, value in (("loss", record.loss), ("gradient norm", record.grad_norm)):
            if value is not None and not math.isfinite(value):
                self.fired = True
                return [self._diverged(record, f"The {name} became {value} at step {record.step}.")]
        norm = record.grad_norm
        if not _finite(norm):
            return []
        advice: list[Advice] = []
        if len(self.norms) >= self.warmup:
            median = statistics.median(self.norms[-50:])
            if median > 0 and norm > self.explode_factor * median:
                self.high_run += 1
                if self.high_run >= self.sustained:
                    self.fired = True
                    return [
                        self._diverged(
                            record,
                            f"The gradient norm has stayed above {self.explode_factor:.0f}x its "
                            f"usual value ({norm:.3g} against a median of {median:.3g}) for "
                            f"{self.high_run} records: the gradients are exploding.",
                        )
                    ]
                if not self.spike_warned:
                    self.spike_warned = True
                    advice.append(
                        Advice(
                            step=record.step,
                            severity=INFO,
                            kind="grad_spike",
                            title="Gradient spike",
                            message=(
                                f"The gradient norm jumped to {norm:.3g} (median {median:.3g}). "
                                "Clipping keeps one spike harmless; the run is stopped only if "
                                "it persists."
                            ),
                        )
                    )
                return advice  # keep spikes out of the median
            self.high_run = 0
        self.norms.append(norm)
        return advice

    @staticmethod
    def _diverged(record: MetricRecord, what: str) -> Advice:
        return Advice(
            step=record.step,
            severity=ERROR,
            kind="diverged",
            title="Training diverged",
            message=(
                f"{what} The weights are no longer usable, so the run is stopped. Restart "
                "from the last good checkpoint or from scratch with a lower learning rate "
                "(try a third of it), and keep gradient clipping at 1.0."
            ),
            action="stop",
            action_label="Lower the learning rate and start again",
            details={"loss": record.loss, "grad_norm": record.grad_norm},
        )


@dataclass
class RunFacts:
    """What the advisor knows about a run before its first step."""

    n_train: int
    n_valid: int
    max_steps: int
    steps_per_epoch: int
    eval_every: int  # 0 when there is no evaluation
    eval_every_is_auto: bool = True
    stage: str = "sft"  # what the held-out figures are: loss (sft), margin (dpo), reward


def _every_steps(n: int) -> str:
    """'every step', 'every 25 steps': how often something runs, in the right number."""
    return "every step" if n == 1 else f"every {count_text(n, 'step')}"


# What each stage's held-out figures are, and what its examples are called: SFT watches
# the validation loss; DPO the held-out margin and pairs ranked right; GRPO the held-out
# reward (its loss is a policy-gradient surrogate around 0, it cannot show overfitting).
WATCHED = {
    "sft": "validation loss",
    "dpo": "held-out margin and pairs ranked right",
    "grpo": "held-out reward",
}
EXAMPLES = {"sft": "training examples", "dpo": "preference pairs", "grpo": "prompts"}
HELD_OUT = {"sft": "validation examples", "dpo": "held-out pairs", "grpo": "held-out prompts"}
UNDER = {"sft": "examples", "dpo": "pairs", "grpo": "prompts"}
TURNS = {
    "sft": "stop when it turns up",
    "dpo": "stop when they stop rising",
    "grpo": "stop when it stops rising",
}


def advice_at_start(facts: RunFacts) -> list[Advice]:
    stage = facts.stage if facts.stage in WATCHED else "sft"
    watched, examples = WATCHED[stage], EXAMPLES[stage]
    advice = []
    if facts.n_valid == 0:
        why = {
            "sft": "the training loss keeps falling either way",
            "dpo": "the training margin keeps growing either way",
            "grpo": "the training reward can rise from answers fitted to these prompts alone",
        }[stage]
        advice.append(
            Advice(
                step=0,
                severity=WARNING,
                kind="no_validation",
                title="No validation set",
                message=(
                    f"Without {HELD_OUT[stage]} the run cannot show overfitting: {why}. Add a validation file or hold out 10 % of the "
                    f"{examples}."
                ),
                action="add_validation",
                action_label="Hold out 10 % for validation",
            )
        )
    # GRPO learns from few prompts by design (many answers to each): no size warning, and
    # nothing about a validation loss.
    if facts.n_train < SMALL_DATASET and stage != "grpo":
        evals_per_epoch = (
            facts.steps_per_epoch / facts.eval_every
            if facts.eval_every and facts.steps_per_epoch
            else 0
        )
        message = (
            f"Only {facts.n_train} {examples}: with under {SMALL_DATASET:,} {UNDER[stage]} "
            "overfitting can begin within the first epoch."
        )
        suggested = max(1, facts.steps_per_epoch // 4)
        often_enough = facts.eval_every <= 1 or evals_per_epoch >= min(4, facts.steps_per_epoch)
        are = "are" if stage == "dpo" else "is"
        if facts.n_valid and often_enough:
            message += (
                f" The {watched} {are} computed {_every_steps(facts.eval_every)} (about "
                f"{count_text(round(evals_per_epoch), 'time')} per epoch); watch "
                f"{'them' if stage == 'dpo' else 'it'}, and {TURNS[stage]}."
            )
            action, label = "", ""
        elif facts.n_valid:
            message += (
                f" The {watched} {are} computed only {_every_steps(facts.eval_every)}; "
                f"evaluate {_every_steps(suggested)} or more often to see it begin."
            )
            action, label = "evaluate_more_often", f"Evaluate {_every_steps(suggested)}"
        else:
            action, label = "add_validation", "Hold out 10 % for validation"
        advice.append(
            Advice(
                step=0,
                severity=INFO if action == "" else WARNING,
                kind="small_dataset",
                title="Small dataset",
                message=message,
                action=action,
                action_label=label,
                details={"n_train": facts.n_train, "suggested_eval_every": suggested},
            )
        )
    return advice


class RunAdvisor:
    """All the live advisors together; feed it every record."""

    def __init__(self, max_steps: int) -> None:
        self.overfitting = OverfittingAdvisor()
        self.learning_rate = LearningRateAdvisor(max_steps)
        self.divergence = DivergenceAdvisor()
        self.dpo_margin = MarginPlateauAdvisor(max_steps)
        self.grpo_rewards = RewardAdvisor(max_steps)

    def observe(self, record: MetricRecord) -> list[Advice]:
        out: list[Advice] = []
        for advisor in (
            self.divergence,
            self.learning_rate,
            self.overfitting,
            self.dpo_margin,
            self.grpo_rewards,
        ):
            out += advisor.observe(record)
        return out


# --- before Start and after the run: the plan and the outcome -------------------------

# A run whose training loss fell less than this (relative, first few steps against the
# last few) has not learned: the loss of a run that learns a format drops by far more.
FLAT_LOSS_DROP = 0.05
LOSS_WINDOW = 3


@dataclass
class Goal:
    """What the project's decision (the Decide page) says the data is for."""

    task_kind: str  # format, domain or reasoning
    examples_needed: tuple[int, int]  # the guide's range for that kind


SETTING_WORDS = {
    "gradient_accumulation": "accumulation",
    "epochs": "epochs",
    "packing": "packing",
    "learning_rate": "learning rate",
    "eval_every_steps": "evaluate every",
    "validation_fraction": "hold out",
}


def describe_changes(changes: dict) -> str:
    """Settings in words: "packing off, accumulation 1, epochs 5"."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "on" if v else "off"
        return f"{v:g}" if isinstance(v, (int, float)) else str(v)

    return ", ".join(f"{SETTING_WORDS.get(k, k)} {value(v)}" for k, v in changes.items())


GOAL_WORDS = {
    "format": "a format or tone",
    "domain": "a domain's terms and conventions",
    "reasoning": "new reasoning patterns",
}


def advice_before_start(
    optimizer_steps: int,
    minimum_steps: int,
    n_train: int,
    fix: dict,
    fix_steps: int,
    goal: Goal | None = None,
) -> list[Advice]:
    """What to change before pressing Start: too few optimizer steps for the run to learn
    (fix: the data's defaults, core.training.run_plan.fit_to_data), too few examples for
    the goal recorded on the Decide page (fix: the Dataset page)."""
    advice = []
    if optimizer_steps < minimum_steps:
        said = describe_changes(fix)
        advice.append(
            Advice(
                step=0,
                severity=WARNING,
                kind="too_few_steps",
                title="Too few optimizer steps",
                message=(
                    f"These settings make only {count_text(optimizer_steps, 'optimizer step')}"
                    f" on {count_text(n_train, 'example')}: too few "
                    f"updates to learn from (at least {minimum_steps}). "
                    + (
                        f"With {said} the run makes {fix_steps}."
                        if fix
                        else "Add examples, or set a step limit."
                    )
                ),
                action="apply_changes" if fix else "",
                action_label=(
                    f"Use the data's defaults ({count_text(fix_steps, 'step')})" if fix else ""
                ),
                details={"changes": dict(fix), "optimizer_steps": optimizer_steps},
            )
        )
    if goal is not None and goal.examples_needed[0] and n_train < goal.examples_needed[0]:
        low, high = goal.examples_needed
        advice.append(
            Advice(
                step=0,
                severity=WARNING,
                kind="too_few_examples",
                title="Too few examples for the goal",
                message=(
                    f"The decision for this project is to teach {GOAL_WORDS.get(goal.task_kind, goal.task_kind)}, "
                    f"for which the guide expects {low:,}-{high:,} examples; this dataset has "
                    f"{n_train}. A run can start, but expect a small change; add examples "
                    "(Dataset page) for a model that is measurably better."
                ),
                action="open_dataset",
                action_label="Add examples on the Dataset page",
                details={"n_train": n_train, "examples_needed": [low, high]},
            )
        )
    return advice


@dataclass
class RunOutcome:
    """What a finished run did, for advice_after_run."""

    steps_done: int
    minimum_steps: int
    train_losses: list[float]  # per logged step, in order
    evaluations: int  # validation-loss measurements made
    has_validation: bool  # the run had validation examples
    learning_rate: float  # the peak it used
    max_learning_rate: float  # the top of the guide's range for the method
    more_steps: dict  # settings that give at least minimum_steps (empty: none found)
    more_steps_count: int = 0
    stage: str = "sft"


# A run that measured nothing on held-out data, in the words of what its stage measures
# there (held_out.py): SFT's validation loss, DPO's reward margin, GRPO's rewards.
NOT_MEASURED = {
    "sft": (
        "Validation loss not measured",
        "No validation loss was measured ({why}), so nothing shows whether the model "
        "learned what generalises or memorised the training set.",
    ),
    "dpo": (
        "Held-out margin not measured",
        "No reward margin was measured on held-out pairs ({why}), so nothing shows whether "
        "the model prefers the chosen answer for pairs it did not train on, or only for its "
        "training pairs.",
    ),
    "grpo": (
        "Held-out rewards not measured",
        "No reward was measured on held-out prompts ({why}), so nothing shows whether the "
        "answers score better on prompts the run did not train on, or only on its training "
        "prompts.",
    ),
}


def advice_after_run(outcome: RunOutcome) -> list[Advice]:
    """Why a finished run may not have learned, each with the change for the next run."""
    advice = []
    steps = outcome.steps_done
    if steps < outcome.minimum_steps:
        fix = outcome.more_steps
        said = describe_changes(fix)
        advice.append(
            Advice(
                step=steps,
                severity=WARNING,
                kind="too_few_updates",
                title="Too few updates",
                message=(
                    f"The run made {count_text(steps, 'optimizer step')}; the model "
                    f"needs at least {outcome.minimum_steps} updates to learn from a small "
                    "dataset. "
                    + (f"With {said} the next run makes {outcome.more_steps_count}." if fix else "")
                ),
                action="apply_changes" if fix else "",
                action_label=f"Next run: {said}" if fix else "",
                details={"changes": dict(fix)},
            )
        )
    losses = [x for x in outcome.train_losses if _finite(x)]
    if len(losses) >= 2:
        window = max(1, min(LOSS_WINDOW, len(losses) // 2))
        first = statistics.fmean(losses[:window])
        last = statistics.fmean(losses[-window:])
        drop = (first - last) / first if first > 0 else 0.0
        if drop < FLAT_LOSS_DROP:
            if steps < outcome.minimum_steps and outcome.more_steps:
                changes = dict(outcome.more_steps)
                label = "Next run: " + describe_changes(changes)
            elif outcome.learning_rate < outcome.max_learning_rate:
                changes = {
                    "learning_rate": float(
                        f"{min(outcome.max_learning_rate, outcome.learning_rate * 2):.2g}"
                    )
                }
                label = f"Next run: learning rate {changes['learning_rate']:g}"
            else:
                changes, label = {}, ""
            advice.append(
                Advice(
                    step=steps,
                    severity=WARNING,
                    kind="loss_flat",
                    title="Training loss did not fall",
                    message=(
                        f"The training loss went from {first:.4f} to {last:.4f} "
                        f"({100 * drop:+.0f} %): the model has barely changed. "
                        + (
                            "Too few updates is the likely cause."
                            if steps < outcome.minimum_steps
                            else "The learning rate may be too low for this data."
                        )
                    ),
                    action="apply_changes" if changes else "",
                    action_label=label,
                    details={"changes": changes, "first_loss": first, "last_loss": last},
                )
            )
    if outcome.evaluations == 0:
        if outcome.has_validation:
            every = max(1, steps // 5)
            changes, label = (
                {"eval_every_steps": every},
                f"Next run: evaluate {_every_steps(every)}",
            )
            why = "the run ended before its first evaluation"
        else:
            changes, label = {"validation_fraction": 0.1}, "Next run: hold out 10 % for validation"
            why = "the run had no validation examples"
        title, message = NOT_MEASURED.get(outcome.stage, NOT_MEASURED["sft"])
        advice.append(
            Advice(
                step=steps,
                severity=WARNING,
                kind="validation_not_measured",
                title=title,
                message=message.format(why=why),
                action="apply_changes",
                action_label=label,
                details={"changes": changes},
            )
        )
    return advice
