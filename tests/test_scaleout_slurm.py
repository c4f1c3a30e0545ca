"""The Slurm batch job written with every scale-out plan: its #SBATCH directives ask for
one task per node with the plan's GPUs, and a dry run (stand-ins for scontrol and srun,
and an `accelerate` that parses its arguments with accelerate's own launch parser and
reads our accelerate_config.yaml) shows each node starting the plan's exact command with
its rank from Slurm, all meeting on the allocation's first node."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap

import pytest

from core.recipe.config import TrainConfig, load_config
from core.scaleout.plan import ScaleOutRequest, plan_scale_out
from core.scaleout.writer import write_plan

# Prints what accelerate launch would start on this node, then stops (a dry run).
FAKE_ACCELERATE = textwrap.dedent(
    """
    import json, os, sys
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    assert sys.argv[1] == "launch", sys.argv
    args = launch_command_parser().parse_args(sys.argv[2:])
    args, _defaults, _precision = _validate_launch_command(args)  # reads the config file
    print(json.dumps({
        "node": int(os.environ["SLURM_NODEID"]),
        "cwd": os.getcwd(),
        "machine_rank": args.machine_rank,
        "main_process_ip": args.main_process_ip,
        "main_process_port": args.main_process_port,
        "num_machines": args.num_machines,
        "num_processes": args.num_processes,
        "fsdp": bool(args.use_fsdp),
        "command": [args.training_script, *args.training_script_args],
    }), flush=True)
    """
)
FAKE_SCONTROL = """#!/usr/bin/env bash
[ "$1 $2" = "show hostnames" ] && [ "$3" = "gpu-[07-09]" ] || exit 9
printf 'gpu-07\\ngpu-08\\ngpu-09\\n'
"""
# One task per node, run one after another: SLURM_NODEID as Slurm sets it in each.
FAKE_SRUN = """#!/usr/bin/env bash
nodes=1
while [ "${1#--}" != "$1" ]; do
  case "$1" in --nodes=*) nodes=${1#--nodes=} ;; esac
  shift
done
for ((node = 0; node < nodes; node++)); do SLURM_NODEID=$node "$@" || exit $?; done
"""


def sbatch_directives(script: str) -> dict:
    """#SBATCH options as Slurm reads them: only those before the first command."""
    options = {}
    for line in script.splitlines()[1:]:
        if line.startswith("#SBATCH"):
            key, _, value = line.split(None, 1)[1].partition("=")
            options[key] = value
        elif line.strip() and not line.startswith("#"):
            break
    return options


@pytest.mark.parametrize("nodes", [3, 1])
def test_the_batch_job_runs_each_nodes_command_with_its_slurm_rank(tmp_path, nodes):
    project = tmp_path / "shared" / "project"
    config = TrainConfig(base_model="Llama-3.1-8B", train_file="train.jsonl", method="full")
    plan = plan_scale_out(
        config,
        ScaleOutRequest(
            gpus_per_node=4,
            nodes=nodes,
            strategy="fsdp",
            project_dir=str(project),
            gpu="H100 SXM",
        ),
    )
    launch = tmp_path / "shared" / "launch"
    write_plan(plan, launch)
    script_path = launch / "slurm.sbatch"
    script = script_path.read_text()
    assert sbatch_directives(script) == {
        "--job-name": "finetune-studio",
        "--nodes": str(nodes),
        "--ntasks-per-node": "1",
        "--gpus-per-node": "4",
        "--output": "finetune-studio-%j.out",
    }
    assert subprocess.run(["bash", "-n", str(script_path)]).returncode == 0
    [srun] = [line for line in script.splitlines() if line.startswith("srun ")]
    assert f"--nodes={nodes} --ntasks-per-node=1" in srun

    fakes = tmp_path / "bin"
    fakes.mkdir()
    (fakes / "accelerate_dry_run.py").write_text(FAKE_ACCELERATE)
    (fakes / "accelerate").write_text(
        f'#!/usr/bin/env bash\nexec {shlex.quote(sys.executable)} "$(dirname "$0")/accelerate_dry_run.py" "$@"\n'
    )
    (fakes / "scontrol").write_text(FAKE_SCONTROL)
    (fakes / "srun").write_text(FAKE_SRUN)
    for name in ("accelerate", "scontrol", "srun"):
        (fakes / name).chmod(0o755)
    elsewhere = tmp_path / "submitted-from"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PATH": str(fakes) + os.pathsep + os.environ["PATH"],
        "SLURM_JOB_NODELIST": "gpu-[07-09]",
    }
    env.pop("MAIN_PROCESS_IP", None)
    job = subprocess.run(
        ["bash", str(script_path)], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert job.returncode == 0, job.stderr[-3000:]
    started = [json.loads(line) for line in job.stdout.splitlines() if line.startswith("{")]
    assert [s["node"] for s in started] == list(range(nodes))
    for node in started:
        assert node["cwd"] == str(launch)  # where accelerate_config.yaml is
        assert node["num_machines"] == nodes and node["num_processes"] == 4 * nodes
        assert node["fsdp"]
        assert node["command"] == [
            "finetune-studio",
            "train",
            "train_config.yaml",
            "--project",
            str(project.resolve()),
        ]
        if nodes > 1:
            assert node["machine_rank"] == node["node"]
            assert node["main_process_ip"] == "gpu-07"  # the allocation's first node
            assert node["main_process_port"] == 29500
    # The config every node trains is the plan's, readable as a training config.
    assert load_config(launch / "train_config.yaml").method == "full"
