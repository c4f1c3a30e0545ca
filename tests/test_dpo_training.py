"""DPO for real on the tiny model: the run through run_training (finite loss, the margin and
accuracy recorded), the reference as the adapter-disabled base (one copy of the weights),
continuing a finished SFT run's adapter, and the run record."""

from __future__ import annotations

import json
import math

import pytest
from killed_run import assert_same_trajectory, kill_at_step, train_records
from ticket_router_run import tiny_lora_settings

from core.recipe.config import TrainConfig, TrainConfigError
from core.runs.record import RunState, load_run, read_metrics
from core.training.observer import CollectingObserver
from core.training.session import resume_run, run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEAMS = ["billing", "shipping", "login", "refund"]


def write_pairs(path, n=8):
    rows = [
        {
            "prompt": [{"role": "user", "content": f"Ticket {i}: which team?"}],
            "chosen": [{"role": "assistant", "content": f'{{"team": "{TEAMS[i % 4]}"}}'}],
            "rejected": [{"role": "assistant", "content": "I cannot tell, sorry."}],
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def dpo_config(model_dir, train_file, **changes) -> TrainConfig:
    settings = tiny_lora_settings(
        model_dir, train_file, stage="dpo", epochs=2.0, learning_rate=5e-3, max_seq_length=64
    )
    settings.update(changes)
    return TrainConfig(**settings)


def _watch_reference(monkeypatch) -> dict:
    """What the DPOTrainer holds once built, and which adapter each reference forward used."""
    # trl is heavy: imported by the tests that train
    import trl.trainer.dpo_trainer as dpo_module

    seen = {"reference_adapters": []}
    original_init = dpo_module.DPOTrainer.__init__
    original_use = dpo_module.use_adapter

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        seen["ref_model"] = self.ref_model
        held = [p for m in (self.model, self.ref_model) if m is not None for p in m.parameters()]
        seen["tensors_held"] = len({p.data_ptr() for p in held})
        seen["base_tensors"] = sum(1 for n, _ in self.model.named_parameters() if "lora_" not in n)
        seen["lora_tensors"] = sum(1 for n, _ in self.model.named_parameters() if "lora_" in n)

    def use_adapter(model, adapter_name):
        seen["reference_adapters"].append(adapter_name)
        return original_use(model, adapter_name)

    monkeypatch.setattr(dpo_module.DPOTrainer, "__init__", init)
    monkeypatch.setattr(dpo_module, "use_adapter", use_adapter)
    return seen


def test_a_dpo_run_trains_with_the_adapter_disabled_reference(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    seen = _watch_reference(monkeypatch)
    config = dpo_config(tiny_model_dir, write_pairs(tmp_path / "pairs.jsonl"))
    observer = CollectingObserver()
    result = run_training(project, config, observer)
    assert result.status == "finished", result.reason
    # One copy of the base weights: no reference model, every tensor held once, and each
    # reference forward ran with the adapters disabled (adapter None).
    assert seen["ref_model"] is None
    assert seen["tensors_held"] == seen["base_tensors"] + seen["lora_tensors"]
    assert seen["reference_adapters"] and set(seen["reference_adapters"]) == {None}
    train = [r for r in observer.records if r.kind == "train"]
    assert train and all(math.isfinite(r.loss) for r in train)
    assert all(r.rewards_margin is not None and r.rewards_accuracy is not None for r in train)
    assert train[-1].rewards_margin > 0  # chosen pulled above rejected
    run = load_run(project, result.run_id)
    stored = [r for r in read_metrics(run) if r.kind == "train"]
    assert [r.rewards_margin for r in stored] == [r.rewards_margin for r in train]
    assert "stage: dpo" in (run.folder / "config.yaml").read_text()
    assert (run.folder / "final" / "adapter_config.json").is_file()


def test_train_cli_runs_a_dpo_config(tiny_model_dir, tmp_path, capsys):
    # the CLI as the user types it: a YAML file with stage: dpo
    from core.cli import build_parser
    from core.project import open_project
    from core.runs.record import list_runs

    write_pairs(tmp_path / "pairs.jsonl", n=12)
    config_path = tmp_path / "dpo.yaml"
    config_path.write_text(
        f"base_model: {tiny_model_dir}\ntrain_file: pairs.jsonl\nstage: dpo\nmethod: lora\n"
        "dpo_beta: 0.2\nmicro_batch_size: 4\ngradient_accumulation: 1\nmax_seq_length: 64\n"
        "preflight: false\n"
    )
    project_dir = tmp_path / "proj"
    args = build_parser().parse_args(
        ["train", str(config_path), "--project", str(project_dir), "--set", "max_steps=2"]
    )
    code = args.func(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "step 2/2" in out and "margin " in out and "pairs right " in out
    (run,) = list_runs(open_project(project_dir))
    assert run.status == "finished" and run.config().stage == "dpo"
    assert run.config().dpo_beta == 0.2


def test_bad_preference_data_fails_the_run_with_the_line(project, tiny_model_dir, tmp_path):
    path = write_pairs(tmp_path / "pairs.jsonl", n=4)
    rows = path.read_text().splitlines()
    same = json.loads(rows[2])
    same["rejected"] = same["chosen"]
    rows[2] = json.dumps(same)
    path.write_text("\n".join(rows) + "\n")
    result = run_training(project, dpo_config(tiny_model_dir, path))
    assert result.status == "failed"
    assert "line 3: chosen and rejected are the same" in result.reason
    assert "Line 3" not in result.reason  # the line is named once


def test_a_dpo_run_killed_with_sigkill_resumes_on_the_same_trajectory(
    project, tiny_model_dir, tmp_path
):
    # the same kill -9 as the SFT resume test: a child process hangs at step 8, is killed
    config = dpo_config(
        tiny_model_dir,
        write_pairs(tmp_path / "pairs.jsonl", n=16),
        epochs=2.5,
        lora_dropout=0.1,  # random: the RNG state must come back too
        checkpoint_every_steps=3,
        keep_checkpoints=2,
    )
    reference = CollectingObserver()
    done = run_training(project, config, reference)
    assert done.status == "finished" and done.max_steps == 10, done.reason

    run_id = kill_at_step(project, config, tmp_path, 8)
    killed = load_run(project, run_id)
    assert killed.status == RunState.INTERRUPTED and killed.resumable
    observer = CollectingObserver()
    result = resume_run(project, run_id, observer)
    assert result.status == "finished", result.reason
    assert observer.progress[0].step == 7  # right after checkpoint-6
    records = train_records(project, run_id)
    assert [r.step for r in records] == list(range(1, 11))
    assert_same_trajectory(records, reference.records, ("loss", "rewards_margin"))


def test_dpo_continues_a_finished_sft_runs_adapter(project, tiny_model_dir, tmp_path, monkeypatch):
    from test_training_session import write_dataset

    sft = TrainConfig(
        **tiny_lora_settings(tiny_model_dir, write_dataset(tmp_path / "sft.jsonl"), max_steps=2)
    )
    first = run_training(project, sft)
    assert first.status == "finished", first.reason
    seen = _watch_reference(monkeypatch)
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    result = run_training(
        project, dpo_config(tiny_model_dir, pairs, start_from=first.run_id, max_steps=2)
    )
    assert result.status == "finished", result.reason
    # The reference is the SFT model: TRL's "ref" copy of the adapter, the base held once.
    assert seen["ref_model"] is None and set(seen["reference_adapters"]) == {"ref"}
    assert seen["tensors_held"] == seen["base_tensors"] + seen["lora_tensors"]
    log = (load_run(project, result.run_id).folder / "train.log").read_text()
    assert f"continuing the adapter of {first.run_id}" in log

    unfinished = run_training(
        project, dpo_config(tiny_model_dir, pairs, start_from="no-such-run", max_steps=1)
    )
    assert unfinished.status == "failed" and "start_from" in unfinished.reason


def test_data_of_the_other_kind_is_refused_naming_the_stage(project, tiny_model_dir, tmp_path):
    from test_training_session import write_dataset

    chats = write_dataset(tmp_path / "chats.jsonl")
    dpo_on_chats = run_training(project, dpo_config(tiny_model_dir, chats))
    assert dpo_on_chats.status == "failed"
    assert "holds conversations" in dpo_on_chats.reason and "train_file" in dpo_on_chats.reason
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    sft_on_pairs = run_training(project, dpo_config(tiny_model_dir, pairs, stage="sft"))
    assert sft_on_pairs.status == "failed"
    assert "holds preference pairs" in sft_on_pairs.reason and "dpo" in sft_on_pairs.reason


def test_a_dpo_run_pauses_stops_and_exports_like_any_run(project, tiny_model_dir, tmp_path):
    import threading

    from core.export.exporter import export_run
    from core.export.options import ExportOptions
    from core.training.observer import PAUSED
    from core.training.session import start_run

    config = dpo_config(tiny_model_dir, write_pairs(tmp_path / "pairs.jsonl"), epochs=100.0)
    paused, reached = threading.Event(), threading.Event()

    class Watch(CollectingObserver):
        def on_progress(self, progress):
            super().on_progress(progress)
            if progress.step == 2:
                session.pause()
            if progress.step == 3:
                reached.set()

        def on_status(self, state, message):
            super().on_status(state, message)
            if state == PAUSED:
                paused.set()

    observer = Watch()
    session = start_run(project, config, observer)
    assert paused.wait(120)
    assert session.is_paused and len(observer.progress) == 2
    threading.Thread(target=session.resume).start()
    assert reached.wait(120)
    threading.Thread(target=session.stop).start()
    assert session.wait(120)
    result = session.result
    assert result.status == "stopped", result.reason
    assert (result.folder / "checkpoints" / f"checkpoint-{result.steps_done}").is_dir()
    assert (result.final_model_dir / "adapter_config.json").is_file()

    merged = export_run(
        project, result.run_id, ExportOptions(format="merged", out_dir=str(tmp_path / "out"))
    )
    assert (tmp_path / "out").is_dir() and merged is not None


def test_the_run_plan_of_a_dpo_recipe_counts_pairs_and_both_answers(
    project, tiny_model_dir, tmp_path
):
    from core.training.run_plan import plan_for_project

    pairs = write_pairs(tmp_path / "pairs.jsonl")
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        "\n".join(
            json.dumps({"messages": r["prompt"] + r["chosen"]})
            for r in map(json.loads, pairs.read_text().splitlines())
        )
        + "\n"
    )
    dpo = plan_for_project(project, dpo_config(tiny_model_dir, pairs, packing=True))
    sft = plan_for_project(project, dpo_config(tiny_model_dir, chats, stage="sft", packing=False))
    assert dpo.n_train == sft.n_train == 8
    # each pair is prompt + chosen and prompt + rejected, one row each, never packed
    assert all(d > s for d, s in zip(dpo.lengths, sft.lengths))
    assert dpo.plan.optimizer_steps == sft.plan.optimizer_steps


def test_pre_flight_times_real_dpo_steps_on_the_longest_pairs(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    from core.training.dpo_data import count_pair_tokens, read_preference_data
    from core.training.model_loading import load_tokenizer
    from core.training.preflight import run_preflight

    seen = _watch_reference(monkeypatch)
    config = dpo_config(tiny_model_dir, write_pairs(tmp_path / "pairs.jsonl"), micro_batch_size=2)
    report = run_preflight(project, config, verify=False)
    assert report.measured and report.fits, report.message
    assert report.micro_step_time_s > 0 and report.step_time_s > 0
    assert report.estimated_run_time_s > 0 and report.peak_memory_bytes > 0
    # DPO's own steps: a DPOTrainer, the reference the adapter disabled, its forward run
    assert seen["ref_model"] is None and seen["reference_adapters"]
    # the batch is the two pairs that put the most tokens through the model, both sides
    pairs = read_preference_data(project, config)
    count_pair_tokens(pairs, load_tokenizer(tiny_model_dir), config.max_seq_length)
    assert report.batch_tokens == sum(sorted(pairs.train_lengths)[-2:])


def test_pre_flight_of_a_continued_dpo_run_loads_the_sft_adapter(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    """A DPO run that continues a finished SFT run trains that adapter against TRL's "ref"
    copy of it; its pre-flight (the Train page's button and the run's own) does the same,
    not a new LoRA against the bare base."""
    from test_training_session import write_dataset

    from core.training.preflight import run_preflight

    sft = TrainConfig(
        **tiny_lora_settings(tiny_model_dir, write_dataset(tmp_path / "sft.jsonl"), max_steps=2)
    )
    first = run_training(project, sft)
    assert first.status == "finished", first.reason
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    config = dpo_config(tiny_model_dir, pairs, start_from=first.run_id, max_steps=2)

    seen = _watch_reference(monkeypatch)
    report = run_preflight(project, config, verify=False)
    assert report.measured and report.fits, report.message
    assert set(seen["reference_adapters"]) == {"ref"}
    # the SFT adapter and its "ref" copy, each once: no new adapter beside them
    continued_lora_tensors = seen["lora_tensors"]

    seen = _watch_reference(monkeypatch)
    result = run_training(project, config.replace(preflight=True), CollectingObserver())
    assert result.status == "finished", result.reason
    log = (load_run(project, result.run_id).folder / "train.log").read_text(encoding="utf-8")
    assert "pre-flight: The longest batch fits" in log
    # the pre-flight's steps and the run's: every reference forward used the SFT adapter
    assert set(seen["reference_adapters"]) == {"ref"}
    assert seen["lora_tensors"] == continued_lora_tensors

    # a start_from that cannot be continued is refused before anything is loaded
    with pytest.raises(TrainConfigError, match="start_from"):
        run_preflight(project, config.replace(start_from="no-such-run"), verify=False)


def test_a_dpo_run_checks_with_pre_flight_first(project, tiny_model_dir, tmp_path):
    config = dpo_config(tiny_model_dir, write_pairs(tmp_path / "pairs.jsonl"), preflight=True)
    result = run_training(project, config, CollectingObserver())
    assert result.status == "finished", result.reason
    run = load_run(project, result.run_id)
    saved = json.loads((run.folder / "preflight.json").read_text(encoding="utf-8"))
    assert saved["fits"] and saved["micro_step_time_s"] > 0
    log = (run.folder / "train.log").read_text(encoding="utf-8")
    assert "pre-flight: The longest batch fits" in log


def test_train_plan_of_a_dpo_config_is_timed_by_dpo_steps(
    project, tiny_model_dir, tmp_path, capsys
):
    from core.cli import build_parser

    write_pairs(tmp_path / "pairs.jsonl")
    config_path = tmp_path / "dpo.yaml"
    config_path.write_text(
        f"base_model: {tiny_model_dir}\ntrain_file: pairs.jsonl\nstage: dpo\nmethod: lora\n"
        "micro_batch_size: 2\nmax_seq_length: 64\n"
    )
    args = build_parser().parse_args(
        ["train", str(config_path), "--plan", "--json", "--project", str(project.folder)]
    )
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seconds"] > 0 and "fits" in out["preflight"]
