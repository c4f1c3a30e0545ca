"""Eval-set versions and results in the project database, and paired metric comparisons."""

import pytest

from core.evaluation.checks import score_answer
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import GenerationConfig, ReferenceLoss
from core.evaluation.metrics import NotComparableError, compare
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.statistics import BETTER, CANNOT_TELL
from core.evaluation.store import (
    UnknownRecordError,
    delete_evaluation,
    list_eval_sets,
    list_runs,
    load_eval_set,
    load_result,
    save_eval_set,
    save_result,
)

REFERENCE = '{"category": "billing"}'


def _eval_set(n=30, name="tickets"):
    return eval_set_from_examples(
        name,
        "memory",
        [
            {
                "messages": [
                    {"role": "user", "content": f"ticket {i}"},
                    {"role": "assistant", "content": REFERENCE},
                ]
            }
            for i in range(n)
        ],
    )


def _result(eval_set, label, answers, nll=2.0):
    outputs = [
        ExampleOutput(
            index=e.index,
            answer=answer,
            n_tokens=len(answer.split()),
            finished=True,
            score=score_answer(e, answer),
            reference_loss=ReferenceLoss(nll * 5, 5),
        )
        for e, answer in zip(eval_set.examples, answers)
    ]
    spec = ModelSpec(label=label, base_model="/models/base", system_prompt="Answer in JSON.")
    return EvalResult(spec, eval_set, GenerationConfig(seed=7), outputs, created_at="2025-01-01")


def test_eval_set_versions_are_deduplicated_and_reloaded(project):
    first = save_eval_set(project, _eval_set())
    assert save_eval_set(project, _eval_set()) == first
    second = save_eval_set(project, _eval_set(31))
    assert second != first
    stored = list_eval_sets(project)
    assert [s.id for s in stored] == [second, first]
    assert stored[1].n_examples == 30 and stored[1].content_hash == _eval_set().content_hash
    assert load_eval_set(project, first).content_hash == _eval_set().content_hash
    with pytest.raises(UnknownRecordError):
        load_eval_set(project, 999)


def test_results_round_trip_with_model_seed_and_scores(project):
    eval_set = _eval_set(4)
    set_id = save_eval_set(project, eval_set)
    result = _result(eval_set, "base + prompt", [REFERENCE, "nope", REFERENCE, "{}"])
    run_id = save_result(project, set_id, result)
    assert result.run_id == run_id
    loaded = load_result(project, run_id)
    assert loaded.spec == result.spec
    assert loaded.config.seed == 7
    assert [o.answer for o in loaded.outputs] == [o.answer for o in result.outputs]
    assert [o.score for o in loaded.outputs] == [o.score for o in result.outputs]
    assert loaded.metrics() == result.metrics()
    runs = list_runs(project, set_id)
    assert [r.label for r in runs] == ["base + prompt"]
    assert runs[0].metrics["format_compliance"] == pytest.approx(0.5)
    assert runs[0].metrics["perplexity"] == pytest.approx(2.718281828**2.0)


def test_a_result_must_be_stored_with_its_own_eval_set_version(project):
    set_id = save_eval_set(project, _eval_set(4))
    other = _eval_set(5)
    with pytest.raises(ValueError, match="version"):
        save_result(project, set_id, _result(other, "x", [REFERENCE] * 5))


def test_deleting_a_run_removes_its_answers(project):
    eval_set = _eval_set(3)
    set_id = save_eval_set(project, eval_set)
    run_id = save_result(project, set_id, _result(eval_set, "x", [REFERENCE] * 3))
    delete_evaluation(project, run_id)
    assert list_runs(project) == []
    count = project.connection().execute("SELECT COUNT(*) FROM evaluation_outputs").fetchone()[0]
    assert count == 0


def test_comparison_says_better_only_with_enough_evidence():
    eval_set = _eval_set(30)
    baseline = _result(eval_set, "base", ["not json"] * 30, nll=3.0)
    tuned = _result(eval_set, "tuned", [REFERENCE] * 30, nll=1.0)
    comparisons = {c.metric: c for c in compare(baseline, tuned)}
    assert comparisons["format_compliance"].verdict == BETTER
    assert comparisons["format_compliance"].delta == pytest.approx(1.0)
    assert "exact binomial" not in comparisons["format_compliance"].test  # 30 discordant
    assert comparisons["accuracy"].verdict == BETTER
    assert comparisons["perplexity"].verdict == BETTER
    assert comparisons["perplexity"].b == pytest.approx(2.718281828)
    assert comparisons["refusal_rate"].verdict == CANNOT_TELL

    # Three examples better out of four: a real improvement, but too few to tell.
    small = _eval_set(4)
    few = {
        c.metric: c
        for c in compare(
            _result(small, "base", ["x", "x", "x", REFERENCE]),
            _result(small, "tuned", [REFERENCE] * 4),
        )
    }
    assert few["format_compliance"].verdict == CANNOT_TELL
    assert few["format_compliance"].p_value == pytest.approx(0.25)


def test_results_on_different_eval_sets_are_not_compared():
    with pytest.raises(NotComparableError, match="same version"):
        compare(_result(_eval_set(3), "a", ["x"] * 3), _result(_eval_set(4), "b", ["x"] * 4))


def test_probe_results_are_never_taken_as_a_runs_task_evaluation(project):
    """The task scored 100 %; the regression probes 0 %: runs show the task's number."""
    from dataclasses import replace

    from core.history.evals import baselines, evals_by_run, summary_text

    task = _eval_set(5, "tickets")
    probes = _eval_set(5, "general-capability probes")
    task_id = save_eval_set(project, task)
    probes_id = save_eval_set(project, probes, purpose="probes")
    tuned = ModelSpec(label="tuned", base_model="/models/base", kind="full", training_run="run-1")
    base = ModelSpec(label="base", base_model="/models/base")
    for eval_set_id, eval_set, answer in ((task_id, task, REFERENCE), (probes_id, probes, "x")):
        for spec in (base, tuned):
            result = replace(_result(eval_set, spec.label, [answer] * 5), spec=spec)
            save_result(project, eval_set_id, result)
    (link,) = evals_by_run(project)["run-1"]
    assert link.eval_set_id == task_id and link.metrics["accuracy"] == 1.0
    assert "accuracy 100%" in summary_text(link)
    assert [b.eval_set_id for b in baselines(project)] == [task_id]
