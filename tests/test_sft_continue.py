"""SFT on more data, continuing a finished SFT run (start_from): the run and its pre-flight
train that run's LoRA adapter, not a new one from the base; the Runs page says so; the CLI
takes start_from in a config file and refuses one that cannot be continued (issue 19)."""

from __future__ import annotations

import functools

import pytest
from test_training_session import write_dataset
from ticket_router_run import tiny_lora_settings

from core.history.summaries import load_summaries
from core.recipe.config import TrainConfig, TrainConfigError
from core.runs.record import load_run
from core.training.observer import CollectingObserver
from core.training.session import run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sft_config(model_dir, train_file, **changes) -> TrainConfig:
    return TrainConfig(**tiny_lora_settings(model_dir, train_file, max_steps=2, **changes))


def finished_adapter(run) -> dict:
    """The finished run's final adapter weights, by PEFT's saved names."""
    # safetensors loads torch tensors: imported by the tests that train
    from safetensors.torch import load_file

    return load_file(str(run.folder / "final" / "adapter_model.safetensors"))


def _watch_first_steps(monkeypatch) -> list[dict]:
    """The adapter weights every SFTTrainer (pre-flight's and the run's) holds when its first
    optimizer step begins, by PEFT's saved names."""
    # trl, transformers and peft are heavy: imported by the tests that train
    import trl
    from peft import get_peft_model_state_dict
    from transformers import TrainerCallback

    seen: list[dict] = []
    original_init = trl.SFTTrainer.__init__

    class FirstStep(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 0:
                weights = get_peft_model_state_dict(model)
                seen.append({name: tensor.detach().clone() for name, tensor in weights.items()})

    @functools.wraps(original_init)  # its signature kept: sft_args reads it
    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.add_callback(FirstStep())

    monkeypatch.setattr(trl.SFTTrainer, "__init__", init)
    return seen


def assert_same_weights(got: dict, expected: dict) -> None:
    import torch  # heavy: loaded already by the run

    assert set(got) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(got[name].float().cpu(), tensor.float()), name


def test_sft_continues_a_finished_sft_runs_adapter(project, tiny_model_dir, tmp_path, monkeypatch):
    first = run_training(project, sft_config(tiny_model_dir, write_dataset(tmp_path / "a.jsonl")))
    assert first.status == "finished", first.reason
    trained = finished_adapter(load_run(project, first.run_id))
    assert any(bool(t.abs().sum()) for n, t in trained.items() if "lora_B" in n)

    seen = _watch_first_steps(monkeypatch)
    more = write_dataset(tmp_path / "b.jsonl", offset=8)
    # preflight on: the run's own pre-flight also steps the continued adapter
    # lora_r 4 and alpha 8 against the adapter's 8 and 16: the adapter is trained as it is
    config = sft_config(
        tiny_model_dir, more, start_from=first.run_id, preflight=True, lora_r=4, lora_alpha=8
    )
    observer = CollectingObserver()
    result = run_training(project, config, observer)
    assert result.status == "finished", result.reason
    assert "start_from_lora_kept" in {advice.kind for advice in observer.advice}

    # pre-flight's trainer and the run's both start from the finished adapter, not a new
    # LoRA (whose lora_B would be zeros and lora_A a fresh random draw)
    assert len(seen) == 2
    for first_step in seen:
        assert_same_weights(first_step, trained)
    run = load_run(project, result.run_id)
    log = (run.folder / "train.log").read_text(encoding="utf-8")
    assert f"continuing the adapter of {first.run_id}" in log
    assert "pre-flight: The longest batch fits" in log
    assert "keeps its own lora_r 8 (set 4), lora_alpha 16 (set 8)" in log
    # it went on learning: its final adapter is not the one it started from
    continued = finished_adapter(run)
    assert set(continued) == set(trained)
    assert any(not bool((continued[n] == trained[n]).all()) for n in trained)

    # the Runs page tells it apart from an SFT run from the base model
    labels = {s.run_id: s.stage_label for s in load_summaries(project)}
    assert labels == {first.run_id: "SFT", result.run_id: "SFT (continued)"}


def test_sft_pre_flight_check_steps_the_continued_adapter(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    """The Train page's Pre-flight check button on an SFT recipe with start_from."""
    from core.training.preflight import run_preflight

    first = run_training(project, sft_config(tiny_model_dir, write_dataset(tmp_path / "a.jsonl")))
    assert first.status == "finished", first.reason
    config = sft_config(
        tiny_model_dir, write_dataset(tmp_path / "b.jsonl", offset=8), start_from=first.run_id
    )
    seen = _watch_first_steps(monkeypatch)
    report = run_preflight(project, config, verify=False)
    assert report.measured and report.fits, report.message
    assert len(seen) == 1
    assert_same_weights(seen[0], finished_adapter(load_run(project, first.run_id)))

    # a start_from that cannot be continued is refused before anything is loaded
    with pytest.raises(TrainConfigError, match="start_from"):
        run_preflight(project, config.replace(start_from="no-such-run"), verify=False)
    failed = run_training(project, config.replace(start_from="no-such-run"))
    assert failed.status == "failed" and "start_from" in failed.reason


def test_train_cli_continues_a_finished_run(tiny_model_dir, tmp_path, capsys):
    from core.cli import build_parser
    from core.project import open_project
    from core.runs.record import list_runs

    def run_cli(*argv) -> int:
        args = build_parser().parse_args(list(argv))
        return args.func(args)

    write_dataset(tmp_path / "a.jsonl")
    write_dataset(tmp_path / "b.jsonl", offset=8)
    settings = (
        f"base_model: {tiny_model_dir}\nmethod: lora\nmicro_batch_size: 4\n"
        "gradient_accumulation: 1\nmax_seq_length: 64\npacking: false\npreflight: false\n"
        "validation_fraction: 0\n"
    )
    (tmp_path / "first.yaml").write_text(settings + "train_file: a.jsonl\n")
    project_dir = tmp_path / "proj"
    first_args = ("--project", str(project_dir), "--set", "max_steps=2")
    assert run_cli("train", str(tmp_path / "first.yaml"), *first_args) == 0
    (first,) = list_runs(open_project(project_dir))
    capsys.readouterr()

    (tmp_path / "more.yaml").write_text(
        settings + f"train_file: b.jsonl\nstart_from: {first.run_id}\n"
    )
    assert run_cli("train", str(tmp_path / "more.yaml"), *first_args) == 0
    assert ": finished" in capsys.readouterr().out
    (second,) = [r for r in list_runs(open_project(project_dir)) if r.run_id != first.run_id]
    assert second.status == "finished" and second.config().start_from == first.run_id
    log = (second.folder / "train.log").read_text(encoding="utf-8")
    assert f"continuing the adapter of {first.run_id}" in log

    # a run that cannot be continued is bad input: exit 2, one line naming start_from,
    # and no run recorded for it
    (tmp_path / "bad.yaml").write_text(settings + "train_file: b.jsonl\nstart_from: nope-1\n")
    assert run_cli("train", str(tmp_path / "bad.yaml"), *first_args) == 2
    err = capsys.readouterr().err
    assert "start_from" in err and "nope-1" in err
    assert len(list_runs(open_project(project_dir))) == 2


def test_a_continued_sft_run_killed_with_sigkill_resumes_on_the_same_trajectory(
    project, tiny_model_dir, tmp_path
):
    """Resuming reloads the finished run's adapter, then the checkpoint's weights over it:
    the same steps as the uninterrupted continued run."""
    from killed_run import assert_same_trajectory, kill_at_step, train_records

    from core.runs.record import RunState
    from core.training.session import resume_run

    first = run_training(project, sft_config(tiny_model_dir, write_dataset(tmp_path / "a.jsonl")))
    assert first.status == "finished", first.reason
    config = TrainConfig(
        **tiny_lora_settings(
            tiny_model_dir,
            write_dataset(tmp_path / "b.jsonl", n=16, offset=8),
            start_from=first.run_id,
            epochs=2.5,
            lora_dropout=0.1,  # random: the RNG state must come back too
            checkpoint_every_steps=3,
            keep_checkpoints=2,
        )
    )
    reference = CollectingObserver()
    done = run_training(project, config, reference)
    assert done.status == "finished" and done.max_steps == 10, done.reason

    run_id = kill_at_step(project, config, tmp_path, 8)
    assert load_run(project, run_id).status == RunState.INTERRUPTED
    observer = CollectingObserver()
    result = resume_run(project, run_id, observer)
    assert result.status == "finished", result.reason
    assert observer.progress[0].step == 7  # right after checkpoint-6
    records = train_records(project, run_id)
    assert [r.step for r in records] == list(range(1, 11))
    assert_same_trajectory(records, reference.records, ("loss",))
    log = (load_run(project, run_id).folder / "train.log").read_text(encoding="utf-8")
    assert log.count(f"continuing the adapter of {first.run_id}") == 2  # started, resumed


def test_the_runs_page_shows_a_continued_sft_run_whole(qtbot, project):
    """The Method column reads "qlora, SFT (continued)" without eliding it."""
    from test_runs_page import add_run, cell, open_page

    from core.recipe.config import config_to_yaml
    from desktop.runs.runs_table import column

    add_run(project, "sft-1")
    more = TrainConfig(
        base_model="SmolLM2-135M-Instruct", train_file="/d/more.jsonl", start_from="sft-1"
    )
    add_run(project, "sft-2", config_yaml=config_to_yaml(more))
    page = open_page(qtbot, project)
    page.wait_for_background()
    text = cell(page, "sft-2", "method")
    assert text == f"{more.method}, SFT (continued)"
    assert cell(page, "sft-1", "method") == more.method
    table = page.runs_view.table
    padding = 12  # the cell's margins either side of the text
    width = table.fontMetrics().horizontalAdvance(text) + padding
    assert width <= table.columnWidth(column("method"))
