"""Where `scaleout` may write its launch files: the rules of every output folder (see
core/output_folder.py). A folder we did not write is never touched, `--overwrite` replaces
only our own launch folder, and inside a project only a folder under exports/ is allowed."""

from __future__ import annotations

import pytest

from core.output_folder import MARKER, OutputPathError
from core.recipe.config import TrainConfig, save_config
from core.scaleout.plan import ScaleOutRequest, plan_scale_out
from core.scaleout.writer import write_plan


def plan_for(tmp_path, nodes: int = 2, project: str = ""):
    config = TrainConfig(base_model="Llama-3.1-8B", train_file="data/train.jsonl", method="lora")
    request = ScaleOutRequest(
        gpus_per_node=4, nodes=nodes, strategy="ddp", project_dir=project, gpu="H100 SXM"
    )
    return plan_scale_out(config, request)


def cli(tmp_path, out, *extra) -> int:
    from desktop.launcher import main

    path = tmp_path / "run.yaml"
    save_config(TrainConfig(base_model="Llama-3.1-8B", train_file="train.jsonl"), path)
    args = ["scaleout", str(path), "--gpus", "2", "--strategy", "ddp", "--out", str(out)]
    return main([*args, *extra])


def test_a_folder_we_did_not_write_is_never_touched_even_with_overwrite(tmp_path, capsys):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "README.md").write_text("my notes\n")
    (users / "plan.json").write_text('{"mine": true}\n')
    with pytest.raises(OutputPathError, match="did not write it"):
        write_plan(plan_for(tmp_path), users)
    for extra in ((), ("--overwrite",)):
        assert cli(tmp_path, users, *extra) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and "did not write it" in error
        assert error.count("\n") == 1  # one line
    assert sorted(p.name for p in users.iterdir()) == ["README.md", "plan.json"]
    assert (users / "README.md").read_text() == "my notes\n"
    assert (users / "plan.json").read_text() == '{"mine": true}\n'


def test_our_own_launch_folder_is_replaced_only_with_overwrite(tmp_path, capsys):
    out = tmp_path / "launch"
    write_plan(plan_for(tmp_path, nodes=3), out)
    assert (out / MARKER).is_file() and (out / "launch_node_2.sh").is_file()
    with pytest.raises(OutputPathError, match="--overwrite"):
        write_plan(plan_for(tmp_path, nodes=2), out)
    assert cli(tmp_path, out) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "launch_node_2.sh").is_file()  # untouched by the refusals
    write_plan(plan_for(tmp_path, nodes=2), out, overwrite=True)
    # The three-node files are gone: the folder holds exactly the new plan.
    assert not (out / "launch_node_2.sh").exists()
    assert (out / "launch_node_1.sh").is_file() and (out / MARKER).is_file()
    assert cli(tmp_path, out, "--overwrite") == 0
    assert not (out / "launch_node_1.sh").exists()  # one node now


def test_an_empty_folder_is_fine(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    written = write_plan(plan_for(tmp_path), out)
    assert {p.parent for p in written} == {out}


def test_never_into_a_project_except_its_exports_folder(tmp_path, capsys):
    from core.project import create_project

    project = create_project(tmp_path / "project", name="P")
    before = sorted(p.name for p in project.folder.iterdir())
    for out in (project.folder, project.folder / "runs" / "launch", project.folder / "launch"):
        with pytest.raises(OutputPathError, match="project"):
            write_plan(plan_for(tmp_path, project=str(project.folder)), out)
        assert cli(tmp_path, out, "--overwrite", "--project", str(project.folder)) == 2
        assert "project" in capsys.readouterr().err
    assert sorted(p.name for p in project.folder.iterdir()) == before
    assert not (project.folder / "runs" / "launch").exists()
    # A folder that holds the project would be replaced with it: refused as well.
    with pytest.raises(OutputPathError):
        write_plan(plan_for(tmp_path, project=str(project.folder)), tmp_path, overwrite=True)
    inside_exports = project.folder / "exports" / "scaleout-4xH100"
    assert cli(tmp_path, inside_exports, "--project", str(project.folder)) == 0
    assert (inside_exports / "accelerate_config.yaml").is_file()
    project.close()
