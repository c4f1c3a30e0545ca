"""The export's safety nets for real: the parity check (passes on a faithful export, uses the
stored in-app answers, catches a broken or lost chat template), cancel and kill half-way
(nothing under the final name), overwriting, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ticket_router_run import rows, train_ticket_router, write_jsonl

from core.export.exporter import ExportCancelled, export_run
from core.export.options import ExportOptions
from core.export.parity import check_parity
from core.export.source import load_export_source
from core.export.staging import ExportFolderError, partial_folders

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """A project with a LoRA run trained until it answers, and an eval set file."""
    root = tmp_path_factory.mktemp("export-safety")
    project, run_id = train_ticket_router(
        root, tiny_model_dir, max_steps=10, project_name="Export safety"
    )
    eval_file = write_jsonl(root / "eval.jsonl", rows(6, offset=20))
    yield project, run_id, eval_file
    project.close()


def test_parity_passes_against_the_stored_in_app_evaluation(trained, tmp_path):
    from core.evaluation.eval_set import load_eval_set_file
    from core.evaluation.generation import GenerationConfig
    from core.evaluation.models import run_spec
    from core.evaluation.runner import run_evaluation
    from core.evaluation.store import save_eval_set
    from core.runs.record import load_run

    project, run_id, eval_file = trained
    eval_set_id = save_eval_set(project, load_eval_set_file(eval_file, name="tickets"))
    spec = run_spec(load_run(project, run_id).folder)
    assert spec.training_run == run_id
    [stored] = run_evaluation(
        project, eval_set_id, [spec], GenerationConfig(max_new_tokens=12), with_perplexity=False
    )
    out = tmp_path / "merged"
    result = export_run(
        project, run_id, ExportOptions(format="merged", out_dir=str(out), parity_eval_set="tickets")
    )
    parity = result.parity
    assert parity.passed and parity.n == 6 and parity.mismatches == ()
    assert f"stored evaluation #{stored}" in parity.reference
    assert parity.settings["max_new_tokens"] == 12 and parity.settings["greedy"] is True
    card = (out / "README.md").read_text()
    assert "Parity passed: all 6 answers" in card
    assert "Eval set **tickets**" in card  # the stored evaluation's metrics are in the card
    saved = json.loads((out / "export.json").read_text())
    assert saved["parity"]["passed"] is True


def test_parity_catches_a_broken_and_a_lost_chat_template(trained, tmp_path):
    project, run_id, eval_file = trained
    out = tmp_path / "merged"
    export_run(project, run_id, ExportOptions(format="merged", out_dir=str(out)))
    source = load_export_source(project, run_id)

    good = check_parity(project, source, out, "merged", str(eval_file))
    assert good.passed and good.n == 6

    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    # A template that someone "simplified": no role markers, so the prompt the model sees is
    # not the one it was trained on.
    template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    (broken / "chat_template.jinja").write_text(template)
    config = json.loads((broken / "tokenizer_config.json").read_text())
    config["chat_template"] = template
    (broken / "tokenizer_config.json").write_text(json.dumps(config))
    result = check_parity(project, source, broken, "merged", str(eval_file))
    assert not result.passed and len(result.mismatches) >= 3
    assert "FAILED" in result.summary()
    mismatch = result.mismatches[0]
    assert '"category"' in mismatch.in_app and mismatch.exported != mismatch.in_app

    lost = tmp_path / "lost"
    shutil.copytree(out, lost)
    (lost / "chat_template.jinja").unlink()
    config = json.loads((lost / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (lost / "tokenizer_config.json").write_text(json.dumps(config))
    assert not check_parity(project, source, lost, "merged", str(eval_file)).passed


def test_cancel_half_way_leaves_nothing_under_the_final_name(trained, tmp_path):
    project, run_id, eval_file = trained
    out = tmp_path / "exports" / "merged"
    seen = []

    def progress(fraction, message):
        seen.append(fraction)

    def cancelled():
        # Half-way: the merged weights are written, the parity check is answering.
        return bool(seen) and seen[-1] >= 0.5

    with pytest.raises(ExportCancelled):
        export_run(
            project,
            run_id,
            ExportOptions(format="merged", out_dir=str(out), parity_eval_set=str(eval_file)),
            progress,
            cancelled,
        )
    assert max(seen) >= 0.5
    assert not out.exists() and partial_folders(out) == []


KILL_SCRIPT = """
import sys
sys.argv = ["finetune-studio"] + sys.argv[1:]
from desktop.launcher import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_export_leaves_no_folder_under_the_final_name(trained, tmp_path):
    project, run_id, eval_file = trained
    out = tmp_path / "exports" / "adapter"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILL_SCRIPT,
            "export",
            run_id,
            "--to",
            "merged",
            "--out",
            str(out),
            "--project",
            str(project.folder),
            "--parity",
            str(eval_file),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 180
    try:
        # Kill it once the merged weights are in the staging folder: half-way through.
        while time.monotonic() < deadline:
            staged = partial_folders(out)
            if staged and (staged[0] / "model.safetensors").is_file():
                break
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.05)
        else:
            pytest.fail("the export never started writing")
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert not out.exists()
    assert partial_folders(out), "the killed export's staging folder is what it left"
    # The next export into the same place cleans up after the dead one.
    result = export_run(project, run_id, ExportOptions(format="adapter", out_dir=str(out)))
    assert result.folder == out and (out / "adapter_model.safetensors").is_file()
    assert partial_folders(out) == []


def test_a_users_folder_is_never_replaced_and_our_export_only_with_overwrite(trained, tmp_path):
    project, run_id, _ = trained
    out = tmp_path / "export"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ExportFolderError, match="not empty"):
            options = ExportOptions(format="adapter", out_dir=str(out), overwrite=overwrite)
            export_run(project, run_id, options)
        assert [p.name for p in out.iterdir()] == ["precious.txt"]
        assert (out / "precious.txt").read_text() == "mine"
    ours = tmp_path / "ours"
    export_run(project, run_id, ExportOptions(format="adapter", out_dir=str(ours)))
    with pytest.raises(ExportFolderError, match="--overwrite"):
        export_run(project, run_id, ExportOptions(format="adapter", out_dir=str(ours)))
    export_run(project, run_id, ExportOptions(format="adapter", out_dir=str(ours), overwrite=True))
    assert (ours / "adapter_config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "ours"]  # no leftovers


def test_cli_exports_with_parity_and_lists_exports(trained, tmp_path, capsys):
    from desktop.launcher import main

    project, run_id, eval_file = trained
    out = tmp_path / "cli-adapter"
    code = main(
        [
            "export",
            run_id,
            "--to",
            "adapter",
            "--out",
            str(out),
            "--project",
            str(project.folder),
            "--parity",
            str(eval_file),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "Parity passed: all 6 answers" in text and f"model card: {out / 'README.md'}" in text
    assert main(["export", "--list", "--project", str(project.folder)]) == 0
    assert f"{run_id}\tadapter\t{out}\tparity passed" in capsys.readouterr().out
    assert main(["export", run_id, "--to", "merged", "--project", str(project.folder)]) == 2
    code = main(
        [
            "export",
            "no-such-run",
            "--to",
            "merged",
            "--out",
            str(tmp_path / "x"),
            "--project",
            str(project.folder),
        ]
    )
    assert code == 1 and "No run 'no-such-run'" in capsys.readouterr().err
