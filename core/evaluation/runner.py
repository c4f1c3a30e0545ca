"""Evaluate models on an eval set: generate, score, measure perplexity, optionally store.

`evaluate_model` needs no project (the CLI uses it on a file); `run_evaluation` also
stores everything in the project database. Both take `progress(fraction, message)`
and `cancelled() -> bool`, as desktop BackgroundTask supplies them.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.evaluation.checks import score_answer
from core.evaluation.eval_set import EvalSet
from core.evaluation.generation import (
    Cancelled,
    GenerationConfig,
    Progress,
    generate_answers,
    load_model,
    reference_losses,
    release,
)
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.store import load_eval_set, save_result
from core.project.store import utc_now

# Share of one model's progress bar spent generating; the rest is the perplexity pass.
GENERATION_SHARE = 0.85


# The progress message while a model loads (seconds to minutes with no fraction to show);
# the Evaluate page shows a busy bar for it.
LOADING_PREFIX = "Loading "


def evaluate_model(
    eval_set: EvalSet,
    spec: ModelSpec,
    config: GenerationConfig | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    with_perplexity: bool = True,
    progress_range: tuple[float, float] = (0.0, 1.0),
    device: str | None = None,
) -> EvalResult:
    """Answer every prompt of the eval set with one model and score the answers."""
    config = config or GenerationConfig()
    report = progress or (lambda fraction, message: None)
    start, end = progress_range
    report(start, f"{LOADING_PREFIX}{spec.label}…")
    loaded = load_model(spec, device)
    try:
        middle = start + (end - start) * (GENERATION_SHARE if with_perplexity else 1.0)
        generations = generate_answers(
            loaded, eval_set.examples, config, report, cancelled, (start, middle)
        )
        losses = (
            reference_losses(
                loaded, eval_set.examples, config.batch_size, report, cancelled, (middle, end)
            )
            if with_perplexity
            else [None] * len(generations)
        )
    finally:
        release(loaded)
    outputs = [
        ExampleOutput(
            index=example.index,
            answer=generation.answer,
            n_tokens=generation.n_tokens,
            finished=generation.finished,
            score=score_answer(example, generation.answer),
            reference_loss=loss,
        )
        for example, generation, loss in zip(eval_set.examples, generations, losses)
    ]
    report(end, f"{spec.label}: done")
    return EvalResult(spec, eval_set, config, outputs, created_at=utc_now())


def evaluate_models(
    eval_set: EvalSet,
    specs: Sequence[ModelSpec],
    config: GenerationConfig | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    with_perplexity: bool = True,
) -> list[EvalResult]:
    """Several models one after another (one in memory at a time), baseline first."""
    results = []
    for number, spec in enumerate(specs):
        span = (number / len(specs), (number + 1) / len(specs))
        results.append(
            evaluate_model(eval_set, spec, config, progress, cancelled, with_perplexity, span)
        )
    return results


def run_evaluation(
    project,
    eval_set_id: int,
    specs: Sequence[ModelSpec],
    config: GenerationConfig | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    with_perplexity: bool = True,
) -> list[int]:
    """Evaluate each model on a stored eval set and store each result; return the run ids.

    Each model's result is stored as soon as it is complete, so cancelling during the
    second model keeps the first.
    """
    eval_set = load_eval_set(project, eval_set_id)
    run_ids = []
    for number, spec in enumerate(specs):
        span = (number / len(specs), (number + 1) / len(specs))
        result = evaluate_model(eval_set, spec, config, progress, cancelled, with_perplexity, span)
        run_ids.append(save_result(project, eval_set_id, result))
    return run_ids
