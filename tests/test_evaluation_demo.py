"""The demo, end to end: the bundled SmolLM2 before and after a short LoRA run on the bundled
dataset. It prints what it measured (the README reports it) and asserts the improvement the
README claims: format compliance rises, significantly (McNemar p < 0.05, verdict "better").
"""

import json

import pytest

from core.evaluation.eval_set import eval_set_from_examples, parse_jsonl
from core.evaluation.generation import GenerationConfig
from core.evaluation.metrics import compare
from core.evaluation.models import baseline_spec, run_spec
from core.evaluation.runner import evaluate_model
from core.evaluation.statistics import ALPHA, BETTER
from core.models.bundled import ensure_bundled_model
from core.recipe.config import TrainConfig
from core.training.cli import DEMO_SETTINGS, bundled_example_dataset
from core.training.session import run_training

EVAL_EXAMPLES = 24  # enough to see a large change, small enough for a 2-core CPU
# The triage replies are one short JSON object (about 40 tokens).
DEMO_GENERATION = GenerationConfig(max_new_tokens=64, batch_size=8)


def _demo_inputs():
    train, valid = bundled_example_dataset()  # shipped in resources/datasets/
    # The dataset ships held-out tickets with format checks for Evaluate.
    held_out = sorted(train.parent.glob("*eval*.jsonl"))
    return DEMO_SETTINGS, train, held_out[0] if held_out else valid


@pytest.mark.slow
def test_demo_format_compliance_before_and_after_fine_tuning(project, tmp_path, capsys):
    settings, train, valid = _demo_inputs()
    train_lines = [line for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
    if valid is None:  # hold out the end of the training file so evaluation is fair
        valid = tmp_path / "held_out.jsonl"
        valid.write_text("\n".join(train_lines[-EVAL_EXAMPLES:]) + "\n", encoding="utf-8")
        held_out_train = tmp_path / "train.jsonl"
        held_out_train.write_text("\n".join(train_lines[:-EVAL_EXAMPLES]) + "\n", encoding="utf-8")
        train = held_out_train
    examples = parse_jsonl(valid.read_text(encoding="utf-8"), str(valid))[:EVAL_EXAMPLES]
    eval_set = eval_set_from_examples(
        "demo validation", str(valid), [e.as_dict() for e in examples]
    )
    base_dir = ensure_bundled_model()

    before = evaluate_model(eval_set, baseline_spec(base_dir), DEMO_GENERATION)
    result = run_training(
        project,
        TrainConfig(**{**settings, "train_file": str(train), "validation_file": str(valid)}),
    )
    assert result.status == "finished", result.reason
    after = evaluate_model(
        eval_set, run_spec(result.folder, base_model=base_dir, label="demo LoRA"), DEMO_GENERATION
    )

    comparisons = {c.metric: c for c in compare(before, after)}
    summary = {
        "eval_examples": len(eval_set.examples),
        "train_steps": result.steps_done,
        "format_compliance_before": before.metrics().format_compliance.value,
        "format_compliance_after": after.metrics().format_compliance.value,
        "accuracy_before": before.metrics().accuracy.value,
        "accuracy_after": after.metrics().accuracy.value,
        "perplexity_before": before.metrics().perplexity,
        "perplexity_after": after.metrics().perplexity,
        "verdict": comparisons["format_compliance"].verdict,
        "p_value": comparisons["format_compliance"].p_value,
    }
    with capsys.disabled():
        print("\nDEMO " + json.dumps(summary))
    # What the README claims: the short run teaches the reply format, measurably.
    assert summary["format_compliance_after"] > summary["format_compliance_before"], summary
    assert summary["p_value"] < ALPHA, summary
    assert summary["verdict"] == BETTER, summary
    assert summary["perplexity_after"] < summary["perplexity_before"], summary
