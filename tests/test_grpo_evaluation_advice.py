"""Reward hacking named from Evaluate's stored results: a GRPO run continuing an SFT run,
whose reward rose while its evaluation on the bundled eval set is no better than the SFT
run's, gets the advice with the figures; a run that did get better, a run whose reward
did not rise and a run never evaluated get none. The results are real rows: answers
scored by Evaluate's checks and stored with save_result in the project's SQLite; the runs
are written the way core.training records them. The Train page's replay of a past run
shows the advice in its advice panel."""

from __future__ import annotations

import json

import pytest
from recorded_run import add_recorded_run

from core.evaluation.checks import score_answer
from core.evaluation.eval_set import eval_set_from_examples, load_eval_set_file
from core.evaluation.generation import GenerationConfig
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.store import save_eval_set, save_result
from core.history.grpo_evaluation import (
    KIND,
    evaluation_hacking_advice,
    read_run_with_evaluation_advice,
)
from core.recipe.config import TrainConfig
from core.runs.records import MetricRecord
from core.training.cli import bundled_example_dataset

N_EXAMPLES = 24
BROKEN = "Sure! This ticket is about billing, I think."
CATEGORIES = ("billing", "account", "technical", "shipping", "feature_request", "cancellation")


def wrong_labels(reference: str) -> str:
    """Valid JSON in the schema, with the category and the priority both wrong."""
    expected = json.loads(reference)
    category = next(c for c in CATEGORIES if c != expected["category"])
    priority = "low" if expected["priority"] != "low" else "urgent"
    summary = "The customer wrote in about their thermostat."
    return json.dumps({"category": category, "priority": priority, "summary": summary})


@pytest.fixture
def eval_set():
    train, _valid = bundled_example_dataset()
    examples = load_eval_set_file(train.parent / "support_tickets_eval.jsonl").examples
    return eval_set_from_examples(
        "demo eval", "bundled", [e.as_dict() for e in examples[:N_EXAMPLES]]
    )


def add_run(project, run_id: str, config: TrainConfig, rewards=()) -> None:
    """A finished run as core.training leaves it, with one train record per reward."""
    records = [
        MetricRecord(step=step, kind="train", loss=0.1, reward=reward, reward_std=0.3)
        for step, reward in enumerate(rewards, start=1)
    ]
    add_recorded_run(
        project,
        run_id,
        config=config,
        records=records,
        device="CPU (2 cores), fp32",
        duration_s=600.0,
        steps_done=len(rewards) or 16,
        max_steps=len(rewards) or 16,
    )


def store_answers(project, eval_set_id, eval_set, run_id: str, answers: list[str]) -> int:
    """Evaluate's result for one run's answers, scored by Evaluate's checks and stored."""
    outputs = [
        ExampleOutput(e.index, a, 40, True, score_answer(e, a))
        for e, a in zip(eval_set.examples, answers)
    ]
    spec = ModelSpec(
        label=run_id,
        base_model="SmolLM2-135M-Instruct",
        kind="adapter",
        adapter=f"runs/{run_id}/final",
        training_run=run_id,
    )
    result = EvalResult(spec, eval_set, GenerationConfig(), outputs, created_at="now")
    return save_result(project, eval_set_id, result)


def grpo_config() -> TrainConfig:
    return TrainConfig(
        base_model="SmolLM2-135M-Instruct",
        train_file="/d/tickets.jsonl",
        stage="grpo",
        start_from="sft-run",
        rewards="[{kind: valid_json}, {kind: reference_match, field: category}]",
    )


RISING = [0.8 + 0.05 * step for step in range(12)]  # 0.80 -> 1.35


@pytest.fixture
def evaluated(project, eval_set):
    """The SFT run evaluated: 20 answers in the format with wrong labels, 4 not JSON."""
    add_run(project, "sft-run", TrainConfig(base_model="SmolLM2-135M-Instruct", train_file="/d/t"))
    set_id = save_eval_set(project, eval_set)
    sft = [
        BROKEN if i % 6 == 0 else wrong_labels(e.reference) for i, e in enumerate(eval_set.examples)
    ]
    store_answers(project, set_id, eval_set, "sft-run", sft)
    return project, set_id, sft


def test_reward_up_while_evaluation_is_no_better_is_named_with_the_figures(evaluated, eval_set):
    project, set_id, sft = evaluated
    add_run(project, "grpo-run", grpo_config(), RISING)
    # Two of the four broken answers now parse; still every label wrong.
    grpo = list(sft)
    grpo[0] = grpo[6] = wrong_labels(eval_set.examples[0].reference)
    store_answers(project, set_id, eval_set, "grpo-run", grpo)

    advice = evaluation_hacking_advice(project, "grpo-run")

    assert advice is not None and advice.kind == KIND and advice.severity == "warning"
    assert "0.825 to 1.325" in advice.message  # the first and last 2 steps
    assert "format compliance 83% -> 92%, McNemar p = 0.5" in advice.message
    assert "accuracy 0% -> 0%, McNemar p = 1" in advice.message
    assert "sft-run" in advice.message and "24 examples" in advice.message
    assert advice.details["accuracy"] == {"before": 0.0, "after": 0.0, "p_value": 1.0}


def test_a_run_evaluated_better_than_its_start_gets_no_advice(evaluated, eval_set):
    project, set_id, _sft = evaluated
    add_run(project, "grpo-run", grpo_config(), RISING)
    store_answers(project, set_id, eval_set, "grpo-run", [e.reference for e in eval_set.examples])
    assert evaluation_hacking_advice(project, "grpo-run") is None


def test_no_advice_when_the_reward_did_not_rise_or_the_run_is_not_evaluated(evaluated, eval_set):
    project, set_id, sft = evaluated
    add_run(project, "flat-run", grpo_config(), [0.8] * 12)
    store_answers(project, set_id, eval_set, "flat-run", sft)
    add_run(project, "unevaluated-run", grpo_config(), RISING)
    assert evaluation_hacking_advice(project, "flat-run") is None
    assert evaluation_hacking_advice(project, "unevaluated-run") is None
    assert evaluation_hacking_advice(project, "sft-run") is None  # not a GRPO run


def test_the_train_pages_replay_shows_it_in_the_advice_panel(evaluated, eval_set, qtbot):
    from desktop.training.monitor import RunMonitor
    from desktop.training.run_replay import RunReplay, show_replayed_run

    project, set_id, sft = evaluated
    add_run(project, "grpo-run", grpo_config(), RISING)
    store_answers(project, set_id, eval_set, "grpo-run", sft)
    assert [a.kind for a in read_run_with_evaluation_advice(project, "grpo-run").advice] == [KIND]

    replay = RunReplay()
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    with qtbot.waitSignal(replay.loaded, timeout=30_000) as loaded:
        replay.load(project, "grpo-run")
    show_replayed_run(monitor, loaded.args[0], "")
    titles = [card.advice.title for card in monitor.advice_panel.cards]
    assert titles == ["Reward up, Evaluate's format and accuracy not better"]
