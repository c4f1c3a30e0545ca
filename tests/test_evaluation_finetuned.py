"""Real generation: the tiny base model against a LoRA adapter trained here with peft.

The adapter learns to answer every ticket with the same JSON, so its format compliance
rises from 0% to most examples: enough to check batching, determinism, storage, the
paired verdict, cancel, the CLI, regression probes and the report end to end.
"""

import json
import shutil

import pytest
from chat_adapter import ANSWER, train_chat_adapter

from core.evaluation.error_analysis import compare_examples, draft_training_example
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import EvaluationCancelled, GenerationConfig
from core.evaluation.metrics import compare
from core.evaluation.models import (
    ModelSpecError,
    baseline_spec,
    find_trained_model,
    list_run_models,
    run_spec,
)
from core.evaluation.regression import run_regression
from core.evaluation.report import build_report, report_from_project
from core.evaluation.runner import evaluate_model, run_evaluation
from core.evaluation.statistics import BETTER
from core.evaluation.store import list_runs, load_result, save_eval_set
from desktop.launcher import main

TOPICS = [
    "billing",
    "refund",
    "a late parcel",
    "login",
    "password reset",
    "hi",
    "invoice copy",
    "account",
    "charge twice",
    "shipping address",
    "cancel order",
    "thanks",
]
FAST = GenerationConfig(max_new_tokens=12, batch_size=4)


@pytest.fixture(scope="module")
def run_folder(tiny_model_dir, tmp_path_factory):
    """A training run's folder, with its adapter in final/ (as the trainer saves it)."""
    folder = tmp_path_factory.mktemp("runs") / "run-1"
    train_chat_adapter(tiny_model_dir, folder / "final", steps=60)
    (folder / "checkpoint-10").mkdir()
    return folder


@pytest.fixture(scope="module")
def eval_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "tickets.jsonl"
    records = [
        {
            "messages": [
                {"role": "user", "content": f"ticket {t}"},
                {"role": "assistant", "content": ANSWER},
            ]
        }
        for t in TOPICS
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _eval_set():
    return eval_set_from_examples(
        "tickets",
        "memory",
        [
            {
                "messages": [
                    {"role": "user", "content": f"ticket {t}"},
                    {"role": "assistant", "content": ANSWER},
                ]
            }
            for t in TOPICS
        ],
    )


def test_run_folder_is_found_and_its_base_read_from_the_adapter(
    run_folder, tiny_model_dir, tmp_path, project
):
    trained = find_trained_model(run_folder)
    assert trained.kind == "adapter" and trained.folder.name == "final"
    spec = run_spec(run_folder)
    assert (spec.kind, spec.base_model, spec.training_run) == (
        "adapter",
        str(tiny_model_dir),
        "run-1",
    )
    full = tmp_path / "run-full" / "model"
    shutil.copytree(tiny_model_dir, full)
    assert run_spec(full.parent).kind == "full"
    shutil.copytree(run_folder, project.runs_dir / "run-7")
    (project.runs_dir / "run-8-still-training").mkdir()
    offered = list_run_models(project)
    assert [m.name for m in offered] == ["run-7"]
    assert offered[0].spec("Be brief.").system_prompt == "Be brief."
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSpecError, match="holds no adapter"):
        run_spec(tmp_path / "empty")


def test_baseline_against_adapter_stored_and_compared(project, run_folder, tiny_model_dir):
    set_id = save_eval_set(project, _eval_set())
    fractions = []
    specs = [baseline_spec(tiny_model_dir, "Answer in JSON."), run_spec(run_folder)]
    run_ids = run_evaluation(project, set_id, specs, FAST, lambda f, m: fractions.append(f))
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    base, tuned = (load_result(project, run_id) for run_id in run_ids)
    assert base.spec.system_prompt == "Answer in JSON." and tuned.spec.kind == "adapter"
    assert base.metrics().format_compliance.value == 0.0
    assert tuned.metrics().format_compliance.value >= 0.75
    assert tuned.metrics().perplexity < base.metrics().perplexity
    verdicts = {c.metric: c.verdict for c in compare(base, tuned)}
    assert verdicts["format_compliance"] == BETTER and verdicts["perplexity"] == BETTER
    assert [r.label for r in list_runs(project, set_id)] == [base.label, "run-1"]

    improvements = compare_examples(base, tuned, "improvements")
    assert len(improvements) >= 9 and compare_examples(base, tuned, "regressions") == []
    draft = draft_training_example(
        improvements[0].example, base.outputs[0].answer, eval_set_name="tickets"
    )
    assert draft.as_record()["messages"][-1] == {"role": "assistant", "content": ANSWER}
    assert not draft.needs_expert_answer and "tickets" in draft.note

    html = build_report(report_from_project(project, run_ids))
    assert "run-1" in html and "better" in html and "<svg" in html


def test_generation_is_deterministic_and_independent_of_batching(run_folder):
    spec = run_spec(run_folder)
    one = evaluate_model(_eval_set(), spec, GenerationConfig(max_new_tokens=12, batch_size=1))
    four = evaluate_model(_eval_set(), spec, FAST, with_perplexity=False)
    assert [o.answer for o in one.outputs] == [o.answer for o in four.outputs]
    assert [o.n_tokens for o in one.outputs] == [o.n_tokens for o in four.outputs]
    assert four.outputs[0].reference_loss is None and one.outputs[0].reference_loss.n_tokens > 0


def test_cancel_stops_and_keeps_models_already_finished(project, run_folder, tiny_model_dir):
    set_id = save_eval_set(project, _eval_set())
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 6  # lets the first model finish, stops the second one

    with pytest.raises(EvaluationCancelled):
        run_evaluation(
            project,
            set_id,
            [baseline_spec(tiny_model_dir), run_spec(run_folder)],
            FAST,
            cancelled=cancelled,
        )
    assert [r.label for r in list_runs(project, set_id)] == [baseline_spec(tiny_model_dir).label]


def test_cli_json_with_adapter(run_folder, tiny_model_dir, eval_file, capsys, tmp_path):
    code = main(
        [
            "eval",
            "--model",
            str(tiny_model_dir),
            "--adapter",
            str(run_folder),
            "--eval-set",
            str(eval_file),
            "--baseline-prompt",
            "Answer in JSON.",
            "--json",
            "--max-new-tokens",
            "12",
            "--report",
            str(tmp_path / "report.html"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 12 and out["model"] == "run-1"
    assert out["format_compliance"] >= 0.75 and out["accuracy"] >= 0.75
    assert out["perplexity"] > 0
    assert out["baseline"]["format_compliance"] == 0.0
    assert {c["metric"]: c["verdict"] for c in out["comparison"]}["format_compliance"] == BETTER
    assert "100-200" in out["eval_set"]["warning"]
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_text_output_and_bad_input(tiny_model_dir, eval_file, capsys, tmp_path):
    assert (
        main(
            [
                "eval",
                "--model",
                str(tiny_model_dir),
                "--eval-set",
                str(eval_file),
                "--max-new-tokens",
                "4",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "Format compliance" in captured.out and "Perplexity" in captured.out
    assert "100-200" in captured.err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n', encoding="utf-8")
    assert main(["eval", "--model", str(tiny_model_dir), "--eval-set", str(bad)]) == 2
    assert f"{bad}:1" in capsys.readouterr().err


def test_cli_accepts_the_bundled_model_name(tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    path.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Say hi."},
                    {"role": "assistant", "content": "Hi!"},
                ]
            }
        )
        + "\n",
        encoding="utf-8",
    )
    assert (
        main(
            [
                "eval",
                "--model",
                "SmolLM2-135M-Instruct",
                "--eval-set",
                str(path),
                "--json",
                "--max-new-tokens",
                "4",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 1 and out["model"] == "SmolLM2-135M-Instruct"
    assert out["format_compliance"] is None  # nothing to check the format against
    assert out["perplexity"] > 1


def test_regression_probes_reuse_the_stored_base_run(project, run_folder, tiny_model_dir):
    config = GenerationConfig(max_new_tokens=6, batch_size=16)
    base, tuned = baseline_spec(tiny_model_dir), run_spec(run_folder)
    report = run_regression(project, base, tuned, config)
    assert [c.category for c in report.categories] == [
        "all",
        "arithmetic",
        "format following",
        "instruction following",
        "short facts",
    ]
    assert report.overall.base.n == 48
    again = run_regression(project, base, tuned, config)
    assert (again.base_run_id, again.tuned_run_id) == (report.base_run_id, report.tuned_run_id)
    assert len(list_runs(project)) == 2  # nothing answered twice


def test_cli_regression_probes_and_saving_to_a_project(
    run_folder, tiny_model_dir, eval_file, capsys, project
):
    args = ["eval", "--model", str(tiny_model_dir), "--adapter", str(run_folder)]
    args += ["--eval-set", str(eval_file), "--json", "--max-new-tokens", "4", "--no-baseline"]
    assert main([*args, "--regression", "--save-to", str(project.folder)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "baseline" not in out and out["model"] == "run-1"
    regression = out["regression"]
    assert regression["categories"][0]["category"] == "all"
    assert regression["categories"][0]["base"]["n"] == 48
    assert isinstance(regression["forgetting"], bool) and regression["message"]
    assert [r.label for r in list_runs(project)] == ["run-1"]
    assert (
        main(["eval", "--model", str(tiny_model_dir), "--eval-set", str(eval_file), "--regression"])
        == 2
    )
    assert "add --adapter" in capsys.readouterr().err
