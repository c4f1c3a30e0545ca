"""Evaluate's list of fine-tuned models names each run's stage and data, so SFT, SFT+DPO
and SFT+GRPO runs can be told apart and compared (issue 19, item 6)."""

from __future__ import annotations

from core.recipe.config import TrainConfig, config_to_yaml
from core.runs.record import insert_run_row
from desktop.evaluation.model_choice import ModelChoicePanel


def _finished_run(project, run_id: str, config: TrainConfig, minute: int) -> None:
    (project.runs_dir / run_id / "final").mkdir(parents=True)
    insert_run_row(
        project,
        run_id,
        {
            "name": run_id,
            "status": "finished",
            "base_model": "tiny",
            "method": config.method,
            "config_yaml": config_to_yaml(config),
            "train_file": config.train_file,
            "folder": run_id,
            "started_at": f"2026-01-01T10:{minute:02d}:00",
            "final_model_dir": "final",
        },
    )


def test_the_runs_to_compare_name_their_stage(qtbot, project):
    _finished_run(project, "sft", TrainConfig(method="lora", train_file="/d/chat.jsonl"), 1)
    dpo = TrainConfig(method="lora", train_file="/d/pairs.jsonl", stage="dpo", start_from="sft")
    _finished_run(project, "dpo", dpo, 2)
    grpo = TrainConfig(
        method="lora", train_file="/d/chat.jsonl", stage="grpo", rewards="[{kind: valid_json}]"
    )
    _finished_run(project, "grpo", grpo, 3)
    panel = ModelChoicePanel(project)
    qtbot.addWidget(panel)
    texts = {
        panel.runs_list.item(row).text().split("  ·  ")[0]: panel.runs_list.item(row).text()
        for row in range(panel.runs_list.count())
    }
    assert "lora, SFT+DPO  ·  pairs.jsonl" in texts["dpo"]
    assert "lora, GRPO  ·  chat.jsonl" in texts["grpo"]  # from the base model: no SFT+
    assert "SFT" not in texts["sft"] and "chat.jsonl" in texts["sft"]
