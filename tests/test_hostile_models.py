"""Hostile model folders and a hostile network: no code runs and nothing connects unasked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE once, at import.
NO_SOCKETS_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys, threading
    attempts = []

    def refuse(name):
        def call(*args, **kwargs):
            attempts.append(f"{name}{args[1:2] if name.startswith('socket.') else args[:1]}")
            raise OSError("network refused by the test")
        return call

    socket.socket.connect = refuse("socket.connect")
    socket.socket.connect_ex = refuse("socket.connect_ex")
    socket.create_connection = refuse("create_connection")
    socket.getaddrinfo = refuse("getaddrinfo")

    import torch
    torch.set_num_threads(1)
    from desktop.launcher import main

    codes = [main(argv) for argv in json.loads(sys.argv[1])]
    # TRL's telemetry is sent from a daemon thread: let it finish before counting.
    telemetry = sys.modules.get("huggingface_hub.utils._telemetry")
    if telemetry is not None and telemetry._TELEMETRY_THREAD is not None:
        done = threading.Thread(target=telemetry._TELEMETRY_QUEUE.join, daemon=True)
        done.start()
        done.join(60)
    print("RESULT " + json.dumps({"codes": codes, "attempts": attempts}))
    """
)


def _chat_rows(n: int, answer: str = "billing team") -> list[dict]:
    return [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}"},
                {"role": "assistant", "content": answer},
            ]
        }
        for i in range(n)
    ]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_train_eval_and_export_open_no_socket(tiny_model_dir, tmp_path):
    data = _write_jsonl(tmp_path / "data" / "train.jsonl", _chat_rows(12))
    eval_set = _write_jsonl(tmp_path / "eval.jsonl", _chat_rows(3))
    config = tmp_path / "run.yaml"
    config.write_text(
        f"base_model: {tiny_model_dir}\ntrain_file: {data}\nmethod: lora\n"
        "micro_batch_size: 4\ngradient_accumulation: 1\nmax_seq_length: 64\n"
        "packing: false\npreflight: false\nvalidation_fraction: 0\n"
    )
    project = tmp_path / "proj"
    train = ["train", str(config), "--project", str(project), "--set", "max_steps=2", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k not in ("CI",)}
    for name in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "HF_HUB_DISABLE_TELEMETRY",
        "DISABLE_TELEMETRY",
        "DO_NOT_TRACK",
        "FINETUNE_STUDIO_ONLINE",
    ):
        env.pop(name, None)  # the app's own policy is what is tested here
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["FINETUNE_STUDIO_HOME"] = str(tmp_path / "home")

    def run(argvs):
        done = subprocess.run(
            [sys.executable, "-c", NO_SOCKETS_SCRIPT, json.dumps(argvs)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, done.stdout[-3000:] + done.stderr[-3000:]
        return json.loads(lines[-1][len("RESULT ") :]), done

    result, done = run([train])
    assert result["codes"] == [0], done.stdout[-3000:] + done.stderr[-3000:]
    from core.project import open_project
    from core.runs.record import list_runs

    (run_record,) = list_runs(open_project(project))
    evaluate = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--adapter",
        str(run_record.folder),
        "--eval-set",
        str(eval_set),
        "--max-new-tokens",
        "4",
        "--no-baseline",
    ]
    export = [
        "export",
        run_record.run_id,
        "--to",
        "adapter",
        "--out",
        str(tmp_path / "exported"),
        "--project",
        str(project),
    ]
    result2, done2 = run([evaluate, export])
    assert result2["codes"] == [0, 0], done2.stdout[-3000:] + done2.stderr[-3000:]
    # The eval prompts are training prompts: the CLI says so (leakage).
    assert "warning: 3 of 3 eval examples (#1, #2, #3) are in the training data" in done2.stderr
    assert result["attempts"] + result2["attempts"] == []


def test_opting_in_keeps_the_users_choices_and_a_download_child_is_online():
    from core.network_policy import go_offline, online_environment

    env = {"FINETUNE_STUDIO_ONLINE": "1", "HF_HUB_OFFLINE": "0"}
    go_offline(env)
    assert env["HF_HUB_OFFLINE"] == "0" and env["HF_HUB_DISABLE_TELEMETRY"] == "1"
    env = {"HF_HUB_OFFLINE": "0", "DO_NOT_TRACK": "0"}
    go_offline(env)  # not opted in: our policy wins over a stray variable
    assert env["HF_HUB_OFFLINE"] == "1" and env["DO_NOT_TRACK"] == "1"
    child = online_environment(env)
    assert "HF_HUB_OFFLINE" not in child and child["HF_HUB_DISABLE_TELEMETRY"] == "1"


@pytest.fixture
def never_prompt(monkeypatch):
    """transformers asks on stdin before running a folder's code; answer 'y' if it does."""
    import builtins

    asked = []

    def fake_input(prompt=""):
        asked.append(prompt)
        return "y"

    monkeypatch.setattr(builtins, "input", fake_input)
    return asked


EVIL_CODE = """
from pathlib import Path
Path({marker!r}).write_text("the folder's code ran")
from transformers import {base}
class Evil({base}):
    pass
"""


def _hostile_folder(tiny_model_dir, tmp_path, config_name: str, auto_map: dict, base: str):
    """The tiny model plus an auto_map entry in `config_name` pointing at evil.py."""
    import shutil

    folder = tmp_path / f"hostile-{config_name.split('.')[0]}"
    shutil.copytree(tiny_model_dir, folder)
    marker = tmp_path / "code-ran.txt"
    (folder / "evil.py").write_text(EVIL_CODE.format(marker=str(marker), base=base))
    path = folder / config_name
    config = json.loads(path.read_text()) if path.is_file() else {}
    config["auto_map"] = auto_map
    path.write_text(json.dumps(config))
    return folder, marker


@pytest.fixture
def hostile_tokenizer_folder(tiny_model_dir, tmp_path):
    return _hostile_folder(
        tiny_model_dir,
        tmp_path,
        "tokenizer_config.json",
        {"AutoTokenizer": [None, "evil.Evil"]},
        "PreTrainedTokenizerFast",
    )


def test_auto_map_in_tokenizer_config_runs_no_code_anywhere(hostile_tokenizer_folder, never_prompt):
    from core.dataset.tokens import load_tokenizer as dataset_tokenizer
    from core.evaluation.generation import load_model
    from core.evaluation.models import baseline_spec
    from core.models.remote_code import UntrustedCodeError
    from core.training.model_loading import load_tokenizer as training_tokenizer

    folder, marker = hostile_tokenizer_folder
    for load in (
        lambda: training_tokenizer(folder),
        lambda: dataset_tokenizer(folder),
        lambda: load_model(baseline_spec(folder), device="cpu"),
    ):
        with pytest.raises(UntrustedCodeError) as error:
            load()
        message = str(error.value)
        assert "tokenizer_config.json: field auto_map" in message
        assert f"models trust {folder.resolve()}" in message
    assert not marker.exists() and never_prompt == []


def test_auto_map_in_config_json_stops_training_model_load(tiny_model_dir, tmp_path, never_prompt):
    from core.models.remote_code import UntrustedCodeError
    from core.recipe.config import TrainConfig
    from core.training.device import DevicePlan
    from core.training.model_loading import load_base_model

    folder, marker = _hostile_folder(
        tiny_model_dir,
        tmp_path,
        "config.json",
        {"AutoModelForCausalLM": "evil.Evil"},
        "LlamaForCausalLM",
    )
    plan = DevicePlan.__new__(DevicePlan)  # never reached: the check comes first
    with pytest.raises(UntrustedCodeError, match=r"config\.json: field auto_map"):
        load_base_model(TrainConfig(method="full"), plan, folder)
    assert not marker.exists() and never_prompt == []


def test_a_python_file_alone_or_a_nested_auto_map_is_found(tiny_model_dir, tmp_path):
    from core.models.remote_code import find_custom_code

    folder, _ = _hostile_folder(
        tiny_model_dir,
        tmp_path,
        "processor_config.json",
        {"AutoProcessor": "evil.Evil"},
        "PreTrainedTokenizerFast",
    )
    (folder / "generation_config.json").write_text(json.dumps({"x": {"auto_map": {"a": "b"}}}))
    found = "\n".join(find_custom_code(folder))
    assert "processor_config.json: field auto_map" in found
    assert "generation_config.json: field x.auto_map" in found
    assert "evil.py: Python file" in found
    assert find_custom_code(tiny_model_dir) == []


def test_cli_eval_with_stdin_closed_refuses_in_one_line(hostile_tokenizer_folder, tmp_path):
    folder, marker = hostile_tokenizer_folder
    eval_set = _write_jsonl(tmp_path / "eval.jsonl", _chat_rows(2))
    done = subprocess.run(
        [
            *(sys.executable, "-m", "desktop.launcher", "eval", "--model", str(folder)),
            *("--eval-set", str(eval_set), "--max-new-tokens", "2"),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "auto_map" in line and "models trust" in line
    assert "Traceback" not in done.stderr and not marker.exists()


def test_a_trusted_folder_loads_with_its_code(hostile_tokenizer_folder, never_prompt, capsys):
    from core.cli import build_parser
    from core.training.model_loading import load_tokenizer

    folder, marker = hostile_tokenizer_folder
    args = build_parser().parse_args(["models", "trust", str(folder)])
    assert args.func(args) == 0
    assert "trusted:" in capsys.readouterr().out
    tokenizer = load_tokenizer(folder)
    assert type(tokenizer).__name__ == "Evil" and marker.exists()
    assert never_prompt == []  # trust was passed explicitly, never asked on stdin


def test_going_offline_after_huggingface_hub_was_imported_still_takes_effect(monkeypatch):
    """huggingface_hub reads its switches once, at import: they are updated in place."""
    from huggingface_hub import constants

    from core.network_policy import OFFLINE_VARIABLES, TELEMETRY_VARIABLES, go_offline

    for name in (*OFFLINE_VARIABLES, *TELEMETRY_VARIABLES, "FINETUNE_STUDIO_ONLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", False)
    go_offline()
    assert constants.HF_HUB_OFFLINE is True and constants.is_offline_mode()
    assert constants.HF_HUB_DISABLE_TELEMETRY is True


def write_chats(path: Path, n: int = 8) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"question {i}"},
                {"role": "assistant", "content": f"answer {i}"},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_run_of_a_trusted_custom_code_model_is_trusted_for_evaluation(
    tiny_model_dir, never_prompt, project, tmp_path
):
    """The final model carries the base's code (save_pretrained copies it and its auto_map):
    trusted like the base, so evaluating the user's own run does not ask again. An untrusted
    base is refused before training (above), so no run of one can exist."""
    from core.evaluation.generation import load_model
    from core.evaluation.models import baseline_spec
    from core.models.remote_code import find_custom_code, is_trusted, trust_folder
    from core.recipe.config import TrainConfig
    from core.training.session import TrainingSession

    folder, _marker = _hostile_folder(
        tiny_model_dir,
        tmp_path,
        "config.json",
        {"AutoModelForCausalLM": "evil.Evil"},
        "LlamaForCausalLM",
    )
    trust_folder(folder)
    config = TrainConfig(
        base_model=str(folder),
        train_file=str(write_chats(tmp_path / "train.jsonl")),
        validation_fraction=0.0,
        method="full",
        device="cpu",
        max_steps=1,
        micro_batch_size=2,
        max_seq_length=32,
        packing=False,
        preflight=False,
    )
    result = TrainingSession(project, config).run()
    assert result.status == "finished", result.reason
    final = result.final_model_dir
    assert any("config.json: field auto_map" in reason for reason in find_custom_code(final))
    assert is_trusted(final)
    loaded = load_model(baseline_spec(final), device="cpu")
    assert type(loaded.model).__name__ == "Evil" and never_prompt == []
