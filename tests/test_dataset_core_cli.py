"""`finetune-studio data validate|convert`: output lines, JSON, and exit codes 0/1/2."""

from __future__ import annotations

import json

from desktop.launcher import main

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def write(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


def test_validate_prints_line_severity_code_message_and_exits_1_on_errors(tmp_path, capsys):
    path = write(
        tmp_path / "d.jsonl", [GOOD, "{broken", {"messages": [{"role": "user", "content": "x"}]}]
    )
    assert main(["data", "validate", path]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("2:error:invalid_json:Line 2 is not valid JSON")
    assert out[1].startswith("3:error:no_assistant:")
    assert all(line.split(":")[1] in ("error", "warning", "info") for line in out)


def test_validate_json_and_exit_0_with_only_warnings(tmp_path, capsys):
    path = write(tmp_path / "d.jsonl", [GOOD, GOOD])
    assert main(["data", "validate", path, "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)
    duplicate = next(f for f in findings if f["code"] == "duplicate")
    assert duplicate["line"] == 2 and duplicate["severity"] == "warning" and duplicate["message"]


def test_validate_exits_2_when_the_file_cannot_be_read(tmp_path, capsys):
    assert main(["data", "validate", str(tmp_path / "missing.jsonl")]) == 2
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    assert main(["data", "validate", str(tmp_path / "x.parquet"), "--format", "parquet"]) == 2
    assert "0:error:unreadable:" in capsys.readouterr().out
    assert main(["data", "validate", str(tmp_path / "x.parquet"), "--max-seq-len", "64"]) == 2


def test_validate_counts_tokens_with_a_model_tokenizer(tmp_path, capsys, tiny_model_dir):
    long = {
        "messages": [
            {"role": "user", "content": "word " * 700},
            {"role": "assistant", "content": "ok"},
        ]
    }
    path = write(tmp_path / "d.jsonl", [GOOD, long])
    code = main(
        ["data", "validate", path, "--max-seq-len", "256", "--tokenizer", str(tiny_model_dir)]
    )
    assert code == 0
    assert "2:warning:too_long:Example 2 is" in capsys.readouterr().out


def test_convert_between_formats_and_refuse_lossy_targets(tmp_path, capsys):
    alpaca = tmp_path / "a.json"
    alpaca.write_text(json.dumps([{"instruction": "q", "input": "", "output": "a"}]))
    assert main(["data", "convert", str(alpaca), str(tmp_path / "out.jsonl")]) == 0
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"][1]["content"] == "a"
    multi = write(tmp_path / "m.jsonl", [{"messages": GOOD["messages"] * 2}])
    assert main(["data", "convert", multi, str(tmp_path / "m.csv")]) == 1
    assert "cannot be written as csv" in capsys.readouterr().err
    assert main(["data", "convert", multi, str(tmp_path / "m.csv"), "--allow-loss"]) == 0
    assert main(["data", "convert", multi, str(tmp_path / "m.json"), "--to", "sharegpt"]) == 0
    assert json.loads((tmp_path / "m.json").read_text())[0]["conversations"][1]["from"] == "gpt"


def test_an_empty_file_has_nothing_to_train_on(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["data", "validate", str(tmp_path / "empty.jsonl")]) == 1
    assert "0:error:no_examples:" in capsys.readouterr().out
