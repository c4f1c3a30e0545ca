"""GRPO for real on the tiny model: a run through run_training scored by reward presets
(finite loss, the reward and each reward's mean recorded, KL and answer length), the
pre-flight generation, continuing a finished SFT run's adapter, the `train CONFIG` CLI with
stage: grpo, bad rewards refused before a model loads, and resume after kill -9."""

from __future__ import annotations

import json
import math

import pytest
from killed_run import assert_same_trajectory, kill_at_step, train_records
from ticket_router_run import tiny_lora_settings

from core.recipe.config import TrainConfig
from core.runs.record import RunState, load_run, read_advice, read_metrics
from core.training.observer import CollectingObserver
from core.training.session import resume_run, run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEAMS = ["billing", "shipping", "login", "refund"]
REWARDS = (
    "[{kind: valid_json}, {kind: reference_match, field: team, weight: 2}, "
    "{kind: length_penalty, max_chars: 40, weight: 0.5}]"
)


def write_tickets(path, n=8):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: which team?"},
                {"role": "assistant", "content": f'{{"team": "{TEAMS[i % 4]}"}}'},
            ]
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def grpo_config(model_dir, train_file, **changes) -> TrainConfig:
    settings = tiny_lora_settings(
        model_dir,
        train_file,
        stage="grpo",
        rewards=REWARDS,
        micro_batch_size=2,
        grpo_num_generations=2,
        grpo_max_completion_length=8,
        epochs=1.0,
        learning_rate=5e-3,
        max_seq_length=64,
    )
    settings.update(changes)
    return TrainConfig(**settings)


def test_a_grpo_run_is_scored_by_the_reward_presets(project, tiny_model_dir, tmp_path):
    config = grpo_config(tiny_model_dir, write_tickets(tmp_path / "t.jsonl"), preflight=True)
    observer = CollectingObserver()
    result = run_training(project, config, observer)
    assert result.status == "finished", result.reason
    train = [r for r in observer.records if r.kind == "train"]
    assert len(train) == 4  # 8 prompts, 2 per step
    assert all(math.isfinite(r.loss) for r in train)
    assert all(r.reward is not None and r.reward_std is not None for r in train)
    assert all(r.kl is not None and r.completion_length is not None for r in train)
    assert set(train[0].reward_parts) == {"valid_json", "team_match", "length_penalty"}
    assert all(0.0 <= r.reward_parts["valid_json"]["mean"] <= 1.0 for r in train)
    run = load_run(project, result.run_id)
    stored = [r for r in read_metrics(run) if r.kind == "train"]
    assert [r.reward for r in stored] == [r.reward for r in train]
    assert [r.reward_parts for r in stored] == [r.reward_parts for r in train]
    assert "stage: grpo" in (run.folder / "config.yaml").read_text()
    log = (run.folder / "train.log").read_text()
    assert "pre-flight (GRPO): 4 answers" in log  # 2 prompts x 2 answers generated first
    assert "reward team_match (weight 2)" in log
    assert (run.folder / "final" / "adapter_config.json").is_file()


def test_bad_rewards_fail_before_a_model_loads(project, tiny_model_dir, tmp_path):
    path = write_tickets(tmp_path / "t.jsonl")
    for rewards, words in [
        ("", "no rewards"),
        ("[{kind: regex, pattern: '(unclosed'}]", "reward 1 (regex): pattern"),
    ]:
        observer = CollectingObserver()
        result = run_training(project, grpo_config(tiny_model_dir, path, rewards=rewards), observer)
        assert result.status == "failed"
        assert result.reason.startswith("rewards:") and words in result.reason


def test_grpo_continues_a_finished_sft_runs_adapter(project, tiny_model_dir, tmp_path):
    path = write_tickets(tmp_path / "t.jsonl")
    sft = run_training(
        project, TrainConfig(**tiny_lora_settings(tiny_model_dir, path, max_steps=2))
    )
    assert sft.status == "finished", sft.reason
    result = run_training(
        project, grpo_config(tiny_model_dir, path, start_from=sft.run_id, max_steps=1)
    )
    assert result.status == "finished", result.reason
    log = (load_run(project, result.run_id).folder / "train.log").read_text()
    assert f"continuing the adapter of {sft.run_id}" in log
    # The Runs page tells the stages apart: SFT, and SFT+GRPO for the continued run.
    from core.history.summaries import load_summaries
    from desktop.runs.runs_table import RunsTableModel

    shown = {s.run_id: RunsTableModel._display(s, "method") for s in load_summaries(project)}
    assert shown == {sft.run_id: "lora", result.run_id: "lora, SFT+GRPO"}


def test_grpo_pre_flight_and_preview_sample_the_continued_sft_adapter(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    """The run's pre-flight and the rewards preview sample answers from the model the run
    trains: the SFT run's adapter (trained, so its lora_B is not zero) on the base, not the
    bare base."""
    import core.training.grpo_preview as grpo_preview
    import core.training.grpo_setup as grpo_setup

    path = write_tickets(tmp_path / "t.jsonl")
    sft = run_training(
        project, TrainConfig(**tiny_lora_settings(tiny_model_dir, path, max_steps=2))
    )
    assert sft.status == "finished", sft.reason
    sampled_from = []

    def watching(original):
        def preview_samples(model, *args, **kwargs):
            lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
            sampled_from.append(bool(lora_b) and any(bool(p.abs().sum() > 0) for p in lora_b))
            return original(model, *args, **kwargs)

        return preview_samples

    monkeypatch.setattr(grpo_setup, "preview_samples", watching(grpo_setup.preview_samples))
    monkeypatch.setattr(grpo_preview, "preview_samples", watching(grpo_preview.preview_samples))
    config = grpo_config(tiny_model_dir, path, start_from=sft.run_id, max_steps=1, preflight=True)
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    assert (
        "pre-flight (GRPO)" in (load_run(project, result.run_id).folder / "train.log").read_text()
    )
    grpo_preview.preview_rewards(project, config, n_prompts=1, per_prompt=2)
    assert sampled_from == [True, True]


def test_train_cli_runs_a_grpo_config(tiny_model_dir, tmp_path, capsys):
    from core.cli import build_parser
    from core.project import open_project
    from core.runs.record import list_runs

    write_tickets(tmp_path / "t.jsonl")
    config_path = tmp_path / "grpo.yaml"
    config_path.write_text(
        f"base_model: {tiny_model_dir}\ntrain_file: t.jsonl\nstage: grpo\nmethod: lora\n"
        f'rewards: "{REWARDS}"\ngrpo_num_generations: 2\ngrpo_max_completion_length: 8\n'
        "micro_batch_size: 2\ngradient_accumulation: 1\nmax_seq_length: 64\n"
        "validation_fraction: 0\npreflight: false\n"
    )
    project_dir = tmp_path / "proj"
    args = build_parser().parse_args(
        ["train", str(config_path), "--project", str(project_dir), "--set", "max_steps=2"]
    )
    code = args.func(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "step 2/2" in out and "reward " in out, out
    (run,) = list_runs(open_project(project_dir))
    assert run.status == "finished" and run.config().stage == "grpo"
    assert run.config().grpo_num_generations == 2


def test_a_grpo_run_killed_with_sigkill_resumes_on_the_same_trajectory(
    project, tiny_model_dir, tmp_path
):
    # the same kill -9 as the SFT resume test: a child process hangs at step 5, is killed
    config = grpo_config(
        tiny_model_dir,
        write_tickets(tmp_path / "t.jsonl", n=12),
        checkpoint_every_steps=2,
        keep_checkpoints=2,
    )
    reference = CollectingObserver()
    done = run_training(project, config, reference)
    assert done.status == "finished" and done.max_steps == 6, done.reason

    run_id = kill_at_step(project, config, tmp_path, 5)
    killed = load_run(project, run_id)
    assert killed.status == RunState.INTERRUPTED and killed.resumable
    observer = CollectingObserver()
    result = resume_run(project, run_id, observer)
    assert result.status == "finished", result.reason
    assert observer.progress[0].step == 5  # right after checkpoint-4
    records = train_records(project, run_id)
    assert [r.step for r in records] == list(range(1, 7))
    # the sampled answers come back too: same rewards, same loss
    assert_same_trajectory(records, reference.records, ("reward", "loss"))


def test_the_pre_flight_button_points_a_grpo_recipe_to_its_own_pre_flight(project, tmp_path):
    from core.recipe.config import TrainConfigError
    from core.training.preflight import run_preflight

    config = TrainConfig(stage="grpo", rewards="[{kind: valid_json}]")
    with pytest.raises(TrainConfigError, match="samples a group of answers"):
        run_preflight(project, config)


def test_train_plan_of_a_grpo_config_measures_no_sft_steps(
    project, tiny_model_dir, tmp_path, capsys
):
    from core.cli import build_parser

    write_tickets(tmp_path / "t.jsonl")
    config_path = tmp_path / "grpo.yaml"
    config_path.write_text(
        f"base_model: {tiny_model_dir}\ntrain_file: t.jsonl\nstage: grpo\nmethod: lora\n"
        f'rewards: "{REWARDS}"\nmicro_batch_size: 2\nmax_seq_length: 64\n'
    )
    args = build_parser().parse_args(
        ["train", str(config_path), "--plan", "--project", str(project.folder)]
    )
    assert args.func(args) == 0, capsys.readouterr()
    assert "optimizer steps" in capsys.readouterr().out


def test_a_grpo_run_with_held_out_prompts_keeps_its_best_reward_checkpoint(
    project, tiny_model_dir, tmp_path
):
    """The held-out reward is what GRPO's evaluations record, early stopping watches and the
    "best" final model is chosen by (the trainer's eval_reward; it was the surrogate loss)."""
    config = grpo_config(
        tiny_model_dir,
        write_tickets(tmp_path / "t.jsonl", n=16),
        validation_fraction=0.25,
        eval_every_steps=1,
        final_model="best",
        early_stopping_patience=3,
    )
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    run = load_run(project, result.run_id)
    evals = [r for r in read_metrics(run) if r.kind == "eval"]
    assert evals and all(r.reward is not None for r in evals)
    log = (run.folder / "train.log").read_text()
    assert "validation loss has not improved" not in log
    if result.reason:  # stopped early: on the held-out reward, in those words
        assert "the held-out reward has not improved for 3 evaluations" in result.reason
    assert "validation_not_measured" not in {a.kind for a in read_advice(run)}
    assert (run.folder / "final" / "adapter_config.json").is_file()
    # The trainer chose its best checkpoint by the held-out reward (it found eval_reward in
    # every evaluation's metrics, or the run would have failed), the highest one (the tiny
    # random model's rewards may all be 0, so this is checked against what was recorded).
    import torch  # heavy: only this test reads the trainer's saved arguments

    (args_file,) = sorted(run.folder.glob("**/checkpoint-*/training_args.bin"))[-1:]
    args = torch.load(args_file, weights_only=False)
    assert (args.metric_for_best_model, args.greater_is_better) == ("eval_reward", True)
    state = json.loads((args_file.parent / "trainer_state.json").read_text())
    assert state["best_metric"] == pytest.approx(max(r.reward for r in evals))
