"""Hostile model folders, round three: truncated or damaged safetensors and an unknown
model_type are one line naming the file (exit 2 for train, chat and eval alike); pickle
weights are refused with the one command that lifts it (`models convert`, into a new
folder, running nothing in the pickle); `models trust` refuses / and the home folder, and
trust covers the code it saw (changed code asks again)."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from desktop.launcher import main


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    return folder


def one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def train_config(tmp_path: Path, model: Path) -> Path:
    data = tmp_path / "train.jsonl"
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    data.write_text("\n".join(json.dumps(row) for _ in range(8)) + "\n")
    config = tmp_path / "run.yaml"
    config.write_text(f"base_model: {model}\ntrain_file: {data}\nmax_steps: 1\npreflight: false\n")
    return config


# --- damaged weights and unknown architectures -----------------------------------------


def truncate(model: Path) -> Path:
    (weights,) = model.glob("*.safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return weights


def damage_header(model: Path) -> Path:
    (weights,) = model.glob("*.safetensors")
    data = bytearray(weights.read_bytes())
    data[8:20] = b"\xff" * 12  # the JSON header
    weights.write_bytes(bytes(data))
    return weights


def unknown_type(model: Path) -> Path:
    config = model / "config.json"
    values = json.loads(config.read_text())
    values["model_type"] = "llama-from-the-future"
    config.write_text(json.dumps(values))
    return config


@pytest.mark.parametrize("damage", [truncate, damage_header, unknown_type])
@pytest.mark.parametrize("command", ["train", "chat", "eval"])
def test_a_damaged_model_folder_is_one_line_naming_the_file_exit_2(
    model_copy, tmp_path, capsys, monkeypatch, damage, command
):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    bad_file = damage(model_copy)
    if command == "train":
        args = ["train", str(train_config(tmp_path, model_copy)), "--project", str(tmp_path / "p")]
    elif command == "chat":
        args = ["chat", "--model", str(model_copy)]
    else:
        eval_set = tmp_path / "eval.jsonl"
        eval_set.write_text(
            json.dumps({"messages": [{"role": "user", "content": "q"}], "expected": "a"}) + "\n"
        )
        args = ["eval", "--model", str(model_copy), "--eval-set", str(eval_set)]
    assert main(args) == 2
    line = one_error(capsys)
    assert str(bad_file) in line, line


def test_a_sound_safetensors_file_passes_the_header_check(tiny_model_dir):
    from core.models.folder_checks import safetensors_problem, weights_problem

    (weights,) = tiny_model_dir.glob("*.safetensors")
    assert safetensors_problem(weights) is None and weights_problem(tiny_model_dir) is None


# --- pickle weights: the refusal names the command that lifts it -----------------------


@pytest.fixture
def pickle_model(tiny_model_dir, tmp_path) -> Path:
    import torch
    from safetensors.torch import load_file

    # The classic pytorch_model.bin a Hub model of the pickle era ships (transformers 5
    # writes safetensors only), beside the tiny model's config and tokenizer.
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder, ignore=shutil.ignore_patterns("*.safetensors*"))
    (weights,) = tiny_model_dir.glob("*.safetensors")
    torch.save(load_file(weights), folder / "pytorch_model.bin")
    assert list(folder.glob("*.bin")) and not list(folder.glob("*.safetensors"))
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_pickle_refusal_names_models_convert_which_lifts_it(pickle_model, tmp_path, capsys):
    import torch
    from safetensors.torch import load_file

    from core.models.registry import ModelFolderError, resolve_model

    with pytest.raises(ModelFolderError) as refused:
        resolve_model(str(pickle_model))
    message = str(refused.value)
    assert f"finetune-studio models convert {pickle_model}" in message
    assert "models trust" not in message  # trust is for code, and does not lift this

    before = snapshot(pickle_model)
    assert main(["models", "convert", str(pickle_model)]) == 0
    converted = pickle_model.with_name("pickled-safetensors")
    assert str(converted) in capsys.readouterr().out
    assert snapshot(pickle_model) == before  # the user's folder is only read
    assert resolve_model(str(converted)).path == converted.resolve()
    (bin_file,) = pickle_model.glob("*.bin")
    original = torch.load(bin_file, weights_only=True)
    (weights,) = converted.glob("*.safetensors")
    tensors = load_file(weights)
    assert original.keys() == tensors.keys()
    for name, tensor in original.items():
        assert torch.equal(tensor, tensors[name]), name

    # Again: refused (an earlier output), replaced only with --overwrite; never the original.
    assert main(["models", "convert", str(pickle_model)]) == 2
    assert "--overwrite" in one_error(capsys)
    assert main(["models", "convert", str(pickle_model), "--overwrite"]) == 0
    assert main(["models", "convert", str(pickle_model), "--out", str(pickle_model)]) == 2
    assert snapshot(pickle_model) == before


def test_convert_runs_nothing_in_a_hostile_pickle(tmp_path, capsys):
    import pickle

    folder = tmp_path / "hostile"
    folder.mkdir()
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": Payload()}))
    (folder / "config.json").write_text('{"model_type": "llama"}')
    assert main(["models", "convert", str(folder)]) == 2
    line = one_error(capsys)
    assert "Nothing in it was run" in line and str(folder / "pytorch_model.bin") in line
    assert not marker.exists()
    assert not folder.with_name("hostile-safetensors").exists()


# --- models trust: not the root or home, and trust covers the code it saw ---------------


@pytest.mark.parametrize("where", ["/", "~"])
def test_trust_refuses_the_filesystem_root_and_the_home_folder(where, capsys):
    from core.models.remote_code import trusted_folders

    assert main(["models", "trust", where]) == 2
    assert "Trust the model's own folder" in one_error(capsys)
    assert trusted_folders() == []


def test_trust_asks_again_when_the_code_changed(model_copy, capsys):
    from core.models.remote_code import UntrustedCodeError, trust_remote_code_for

    code = model_copy / "modeling_custom.py"
    code.write_text("print('v1')\n")
    with pytest.raises(UntrustedCodeError):
        trust_remote_code_for(model_copy)
    assert main(["models", "trust", str(model_copy)]) == 0
    assert trust_remote_code_for(model_copy) is True
    code.write_text("print('v2: something else')\n")
    with pytest.raises(UntrustedCodeError, match="changed since you trusted it"):
        trust_remote_code_for(model_copy)
    (model_copy / "helper.py").unlink(missing_ok=True)
    assert main(["models", "trust", str(model_copy)]) == 0
    assert trust_remote_code_for(model_copy) is True
    (model_copy / "extra.py").write_text("print('new file')\n")  # a new file counts too
    with pytest.raises(UntrustedCodeError, match="changed"):
        trust_remote_code_for(model_copy)
