"""`finetune-studio train`: config files, overrides, progress lines, the run list, the demo."""

from __future__ import annotations

import json

import pytest

from core.cli import build_parser
from core.recipe.config import TrainConfig, load_config
from core.runs.record import list_runs
from core.training.cli import bundled_example_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_cli(*argv) -> int:
    args = build_parser().parse_args(list(argv))
    return args.func(args)


def test_write_config_gives_the_defaults_with_help(tmp_path, capsys):
    path = tmp_path / "my.yaml"
    assert run_cli("train", "--write-config", str(path)) == 0
    assert load_config(path) == TrainConfig()
    assert "# Passes over the training set" in path.read_text()


def test_train_from_a_config_prints_progress_and_writes_the_run(tiny_model_dir, tmp_path, capsys):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}"},
                {"role": "assistant", "content": "billing team"},
            ]
        }
        for i in range(12)
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    config_path = tmp_path / "run.yaml"
    config_path.write_text(
        f"base_model: {tiny_model_dir}\ntrain_file: data/train.jsonl\nmethod: lora\n"
        "micro_batch_size: 4\ngradient_accumulation: 1\nmax_seq_length: 64\n"
        "packing: false\npreflight: false\n"
    )
    project_dir = tmp_path / "proj"
    code = run_cli("train", str(config_path), "--project", str(project_dir), "--set", "max_steps=3")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "step 1/3" in out and "loss " in out and "tok/s" in out and "(RSS)" in out
    assert "validation loss" in out  # 10 % held out of 12 examples
    assert ": finished" in out and "final model:" in out
    from core.project import open_project

    (run,) = list_runs(open_project(project_dir))
    assert run.status == "finished" and run.steps_done == 3
    assert run.config().max_steps == 3
    assert run_cli("train", "--list", "--project", str(project_dir)) == 0
    assert run.run_id in capsys.readouterr().out


def test_usage_errors_are_clear(tmp_path, capsys):
    assert run_cli("train") == 2
    assert "give CONFIG.yaml" in capsys.readouterr().err
    assert run_cli("train", "--project", str(tmp_path / "p")) == 2
    err = capsys.readouterr().err
    assert "not a project" in err and "give CONFIG.yaml" in err
    assert not (tmp_path / "p").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("metod: lora\n")
    assert run_cli("train", str(bad), "--project", str(tmp_path / "p")) == 2
    err = capsys.readouterr().err
    assert "metod" in err and "method" in err
    assert not (tmp_path / "p").exists()  # a refused config creates no project
    assert run_cli("train", "--resume", "nope", "--project", str(tmp_path / "p")) == 2
    assert "not a project" in capsys.readouterr().err


def test_bundled_example_dataset_is_found_or_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="--demo has nothing to train on"):
        bundled_example_dataset(tmp_path)
    (tmp_path / "tickets_eval.jsonl").write_text("{}")
    with pytest.raises(FileNotFoundError):
        bundled_example_dataset(tmp_path)  # the Evaluate page's held-out set is not training data
    (tmp_path / "tickets.jsonl").write_text("{}")
    assert bundled_example_dataset(tmp_path) == (tmp_path / "tickets.jsonl", None)
    (tmp_path / "tickets.valid.jsonl").write_text("{}")
    assert bundled_example_dataset(tmp_path)[1] == tmp_path / "tickets.valid.jsonl"


def test_demo_trains_the_bundled_model_or_says_why_not(tmp_path, capsys):
    """The demo's wiring, cut to one short step (benchmarks/training_demo.py times the real one)."""
    code = run_cli(
        "train",
        "--demo",
        "--project",
        str(tmp_path / "demo"),
        # 256: the demo's own; with SmolLM2's long default system prompt, 64 tokens end
        # before any answer starts, and such a run is now refused (nothing to learn).
        *("--set", "max_steps=1", "--set", "max_seq_length=256", "--set", "micro_batch_size=1"),
        *("--set", "validation_fraction=0"),
    )
    captured = capsys.readouterr()
    try:
        bundled_example_dataset()
    except FileNotFoundError:
        assert code == 2 and "bundled example dataset is not installed" in captured.err
        return
    assert code == 0, captured.out
    assert "demo: LoRA r 8 on the bundled SmolLM2-135M-Instruct" in captured.out
    assert "step 1/1" in captured.out and ": finished" in captured.out


def test_train_with_the_projects_saved_settings(tiny_model_dir, tmp_path, capsys):
    """`train --project DIR` with no CONFIG trains with what the Train page saved there."""
    from core.project import create_project
    from core.training.project_settings import load_train_settings, save_train_settings

    project = create_project(tmp_path / "proj")
    assert run_cli("train", "--project", str(project.folder)) == 2
    assert "no saved Train settings" in capsys.readouterr().err
    train = tmp_path / "train.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"T{i}"}, {"role": "assistant", "content": "ok"}]}
        for i in range(8)
    ]
    train.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    saved = TrainConfig(
        name="from the Train page",
        base_model=str(tiny_model_dir),
        train_file=str(train),
        method="lora",
        micro_batch_size=4,
        gradient_accumulation=1,
        max_seq_length=64,
        packing=False,
        preflight=False,
        validation_fraction=0.0,
        max_steps=5,
    )
    assert save_train_settings(project, saved)
    assert not save_train_settings(project, saved)  # unchanged: nothing written
    assert load_train_settings(project) == saved

    code = run_cli("train", "--project", str(project.folder), "--set", "max_steps=2")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "saved Train settings" in out
    (run,) = list_runs(project)
    assert run.status == "finished" and run.steps_done == 2
    assert run.config() == saved.replace(max_steps=2)
    assert load_train_settings(project) == saved  # --set changes the run, not the settings
