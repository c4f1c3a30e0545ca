"""`finetune-studio chat`: prompts from stdin, answers streamed to stdout, /exit and EOF."""

from __future__ import annotations

import io

import pytest
from chat_adapter import ANSWER, train_chat_adapter

from core.cli import build_parser


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def run_cli(monkeypatch, stdin: str, *argv) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = build_parser().parse_args(list(argv))
    return args.func(args)


def test_a_terminal_conversation_with_a_fine_tuned_run(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run-1"
    train_chat_adapter(tiny_model_dir, run / "final")
    stdin = "ticket refund\n\n/reset\nticket invoice\n/exit\nnever read\n"
    code = run_cli(
        monkeypatch, stdin, "chat", "--model", str(tiny_model_dir), "--adapter", str(run)
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == f"{ANSWER}\n\n{ANSWER}\n\n"  # the empty line is skipped
    assert (
        "Loading run-1" in captured.err and "cleared" in captured.err and "tokens/s" in captured.err
    )


def test_end_of_input_ends_it_and_a_seed_repeats_a_sampled_answer(
    tiny_model_dir, monkeypatch, capsys
):
    argv = ["chat", "--model", str(tiny_model_dir), "--temperature", "1.2"]
    argv += ["--seed", "5", "--max-new-tokens", "12", "--system", "Be brief."]
    assert run_cli(monkeypatch, "hello\n", *argv) == 0
    first = capsys.readouterr().out
    assert run_cli(monkeypatch, "hello", *argv) == 0  # EOF without a newline
    assert capsys.readouterr().out == first and first.strip()


def test_bad_input_is_a_usage_error(tiny_model_dir, tmp_path, monkeypatch, capsys):
    assert run_cli(monkeypatch, "", "chat", "--model", str(tmp_path / "nope")) == 2
    assert "Unknown model" in capsys.readouterr().err
    argv = ["chat", "--model", str(tiny_model_dir), "--temperature", "-1"]
    assert run_cli(monkeypatch, "", *argv) == 2
    assert "temperature must be between 0 and 5" in capsys.readouterr().err
    assert (
        run_cli(monkeypatch, "", "chat", "--model", str(tiny_model_dir), "--adapter", str(tmp_path))
        == 2
    )
    assert "holds no adapter" in capsys.readouterr().err
