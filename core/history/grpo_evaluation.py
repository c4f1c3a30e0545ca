"""Reward hacking as Evaluate measures it: a GRPO run whose reward rose while its stored
evaluation shows format compliance and accuracy no better than the run it continued.

The advisor that runs during training (core.training.grpo_advisor) sees only the run's
own numbers: the training reward, the held-out prompts' reward and each reward's mean.
Whether the model got better at what the rewards stand for is Evaluate's to say, after
the run, on the eval set: this joins the two (history sits above both training and
evaluation). The starting point is the finished run the GRPO run continued
(`start_from`), measured on the same eval-set version; the comparison is Evaluate's own
paired test (McNemar), so "better" means significantly better.
"""

from __future__ import annotations

import math

from core.evaluation.metrics import compare
from core.evaluation.statistics import BETTER
from core.evaluation.store import load_result
from core.history.evals import EvalLink, evals_by_run
from core.runs.record import load_run, read_metrics
from core.runs.records import WARNING, Advice
from core.runs.replay import ReplayedRun, read_run_for_replay
from core.training.grpo_advisor import RISE, reward_rise, reward_window

KIND = "reward_hacking_evaluated"
METRICS = (("format_compliance", "format compliance"), ("accuracy", "accuracy"))


def _shared_results(project, run_id: str, start_run: str) -> tuple[EvalLink, EvalLink] | None:
    """(the starting run's result, the GRPO run's) on the newest eval set both were
    measured on, each the newest of its run there; None when they share none."""
    links = evals_by_run(project)
    starting = {link.eval_set_id: link for link in links.get(start_run, [])}
    for link in reversed(links.get(run_id, [])):
        if link.eval_set_id in starting:
            return starting[link.eval_set_id], link
    return None


def _figure(comparison) -> str:
    p = "" if comparison.p_value is None else f", McNemar p = {comparison.p_value:.2g}"
    return f"{comparison.a:.0%} -> {comparison.b:.0%}{p}"


def evaluation_hacking_advice(project, run_id: str) -> Advice | None:
    """The reward-hacking advice for one run from Evaluate's stored results, or None: the
    run is not a GRPO run continuing another, its reward did not rise, the two runs share
    no evaluated eval set, or format compliance or accuracy did get better."""
    run = load_run(project, run_id)
    try:
        config = run.config()
    except (OSError, ValueError):  # TrainConfigError is a ValueError
        return None  # a run folder without a readable recipe has no stage to judge
    start_run = (config.start_from or "").strip()
    if config.stage != "grpo" or not start_run:
        return None
    rewards = [
        r.reward
        for r in read_metrics(run)
        if r.kind == "train" and r.reward is not None and math.isfinite(r.reward)
    ]
    rise = reward_rise(rewards, reward_window(run.max_steps))
    if rise is None or rise[1] - rise[0] < RISE:
        return None
    shared = _shared_results(project, run_id, start_run)
    if shared is None:
        return None
    before, after = (load_result(project, link.id) for link in shared)
    comparisons = {c.metric: c for c in compare(before, after)}
    measured = [(comparisons[key], words) for key, words in METRICS if comparisons[key].n_paired]
    if not measured or any(c.verdict == BETTER for c, _ in measured):
        return None
    figures = "; ".join(f"{words} {_figure(c)}" for c, words in measured)
    return Advice(
        run.steps_done,
        WARNING,
        KIND,
        "Reward up, Evaluate's format and accuracy not better",
        f"The training reward rose from {rise[0]:.3f} to {rise[1]:.3f}, but on "
        f"'{shared[1].eval_set_name}' ({measured[0][0].n_paired} examples) this run is no "
        f"better than {start_run}, the run it continued: {figures}. The model learned to "
        "score on the rewards, not the task (reward hacking), or the gain is too small to "
        "show on this many examples. Check the reward editor's preview for answers that "
        "score well but are wrong, raise the KL weight, or evaluate on more examples.",
        details={
            "start_run": start_run,
            "reward_first": rise[0],
            "reward_last": rise[1],
            "evaluations": [shared[0].id, shared[1].id],
            **{c.metric: {"before": c.a, "after": c.b, "p_value": c.p_value} for c, _ in measured},
        },
    )


def read_run_with_evaluation_advice(project, run_id: str) -> ReplayedRun:
    """A past run for the Train page's monitor, its advice joined by the reward-hacking
    advice Evaluate's stored results give (when they give one)."""
    loaded = read_run_for_replay(project, run_id)
    found = evaluation_hacking_advice(project, run_id)
    if found is not None:
        loaded.advice.append(found)
    return loaded
