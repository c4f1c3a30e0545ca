"""Saved decisions: persisted in the project, kept as history, readable by other features."""

from __future__ import annotations

import json

import pytest

from core.decide import (
    Answers,
    DecisionDataError,
    decision_history,
    estimate_handoff,
    load_decision,
    save_decision,
)
from core.decide.cli import register
from core.handoff import DecisionForEstimate
from core.project import open_project

DOMAIN = Answers(("domain_reasoning",), "measured", "yes", "200_to_500", True)
FORMAT_ONLY = Answers(("format_simple",), "not_tried", "yes", "none", True)


def test_no_decision_until_one_is_saved(project):
    assert load_decision(project) is None
    assert decision_history(project) == []
    assert project.schema_versions()["decide"] == 1


def test_saved_answers_survive_reopening_and_drive_the_public_api(project):
    saved = save_decision(project, DOMAIN)
    project.close()
    reopened = open_project(project.folder)
    decision = load_decision(reopened)
    assert decision.answers == DOMAIN and decision.id == saved.id
    assert decision.recommendation.outcome == "fine_tuning"
    assert decision.task_kind == "domain"
    assert decision.examples_needed == (500, 2000)
    reopened.close()


def test_history_keeps_every_change_and_the_latest_wins(project):
    first = save_decision(project, DOMAIN)
    again = save_decision(project, DOMAIN)  # unchanged answers add no row
    assert again.id == first.id
    second = save_decision(project, FORMAT_ONLY.to_dict())
    assert load_decision(project).id == second.id
    assert load_decision(project).task_kind is None
    assert load_decision(project).examples_needed == (0, 0)
    history = decision_history(project)
    assert [(h.id, h.outcome) for h in history] == [
        (second.id, "prompt_engineering"),
        (first.id, "fine_tuning"),
    ]
    assert load_decision(project, first.id).answers == DOMAIN


def test_a_damaged_row_is_reported_with_where_and_what_to_do(project):
    save_decision(project, DOMAIN)
    with project.transaction() as conn:
        conn.execute(
            "UPDATE decide_answers SET answers_json = ?",
            (json.dumps({**DOMAIN.to_dict(), "base_model": "sometimes"}),),
        )
    with pytest.raises(DecisionDataError, match=r"project.sqlite.*#1.*base_model.*again"):
        load_decision(project)
    assert len(decision_history(project)) == 1  # history still lists it


@pytest.mark.parametrize(
    ("expert_examples", "examples"),
    [("none", 500), ("200_to_500", 500), ("500_to_2000", 500), ("2000_to_10000", 2000)],
)
def test_estimate_handoff_carries_task_kind_examples_and_rank(project, expert_examples, examples):
    answers = Answers(("domain_reasoning",), "measured", "yes", expert_examples, False)
    handoff = estimate_handoff(save_decision(project, answers))
    assert isinstance(handoff, DecisionForEstimate)
    assert handoff.task_kind == "domain"
    assert handoff.examples == examples
    assert handoff.lora_r == 16
    assert handoff.keep_broad_capabilities is False


def test_no_handoff_when_fine_tuning_is_not_advised(project):
    assert estimate_handoff(save_decision(project, FORMAT_ONLY)) is None


def _run_cli(argv):
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_recommends_saves_and_shows(project, capsys):
    argv = ["decide", "--problem", "complex_behaviour", "--problem", "knowledge_missing"]
    argv += ["--prompting", "measured", "--base-model", "yes", "--examples", "none"]
    argv += ["--keep-broad", "yes", "--project", str(project.folder), "--save", "--json"]
    assert _run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recommendation"]["outcome"] == "fine_tuning_and_rag"
    assert out["recommendation"]["cost"]["high_usd"] > out["recommendation"]["cost"]["low_usd"]
    assert _run_cli(["decide", "--show", "--project", str(project.folder)]) == 0
    text = capsys.readouterr().out
    assert "Recommendation: Fine-tuning + RAG" in text
    assert "Catastrophic forgetting" in text and "Expected project cost" in text


def test_cli_errors_are_one_line_and_exit_2(project, capsys):
    assert _run_cli(["decide", "--problem", "format_simple"]) == 2
    assert "missing --prompting" in capsys.readouterr().err
    assert _run_cli(["decide", "--show", "--project", str(project.folder)]) == 2
    assert "no saved decision" in capsys.readouterr().err
    argv = ["decide", "--problem", "format_simple", "--problem", "format_complex"]
    argv += ["--prompting", "measured", "--base-model", "yes", "--examples", "none"]
    assert _run_cli([*argv, "--keep-broad", "no"]) == 2
    assert "tick one" in capsys.readouterr().err


def test_demo_project_opens_with_a_decision_to_look_at():
    from core.project.demo import ensure_demo_project

    project = ensure_demo_project()
    decision = load_decision(project)
    assert decision.recommendation.fine_tuning_advised
    assert estimate_handoff(decision).lora_r == 8
    project.close()
