"""Writing a scale-out plan to a folder: the files a user copies to (or shares with) the nodes.

accelerate_config.yaml   accelerate's launch configuration
deepspeed_config.json    DeepSpeed's configuration (zero2 and zero3 only)
train_config.yaml        the training configuration every node runs
launch_node_<r>.sh       the exact command for node r (executable)
slurm.sbatch             the same run as one Slurm batch job (sbatch slurm.sbatch)
README.md                what to do, the estimate on the same sharding, the warnings
plan.json                the same, for tools

The folder follows the rules of every output we write (core.output_folder): a non-empty
folder we did not write is refused even with overwrite, `overwrite` replaces only an
earlier launch folder (it carries our marker), and inside a project only exports/ may
hold it, so the launch files never land among the project's own files.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

from core.atomic_file import folder_mode, write_text_atomic
from core.figures import duration_text, money_text
from core.output_folder import (
    is_our_output,
    prepare_output_folder,
    refuse_project_data,
    write_marker,
)
from core.scaleout.accelerate_config import DEEPSPEED_CONFIG_FILE, MAIN_PROCESS_IP_PLACEHOLDER
from core.scaleout.plan import ScaleOutPlan
from core.scaleout.strategies import strategy_for

GIB = 1024**3
OUTPUT_KIND = "scaleout"  # the marker's kind: an export's rules, our own folder
# Files only some plans have: an earlier plan's copies would mislead (a node script for
# a node that is no longer there, DeepSpeed's file beside an FSDP launch).
PLAN_DEPENDENT_FILES = ("launch_node_*.sh", DEEPSPEED_CONFIG_FILE)


def launch_script(plan: ScaleOutPlan, rank: int) -> str:
    request = plan.request
    title = strategy_for(plan.strategy).title
    lines = [
        "#!/usr/bin/env bash",
        f"# FineTune Studio scale-out: node {rank} of {request.nodes}, {request.gpus_per_node} "
        f"GPUs here, {request.total_gpus} training processes in all, {title}.",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
    ]
    if request.nodes > 1:
        lines += [
            "# Node 0's address, reachable from every node. Fill it in here or export it.",
            f'MAIN_PROCESS_IP="${{MAIN_PROCESS_IP:-{MAIN_PROCESS_IP_PLACEHOLDER}}}"',
            f'MAIN_PROCESS_PORT="${{MAIN_PROCESS_PORT:-{request.main_process_port}}}"',
            f'if [ "$MAIN_PROCESS_IP" = "{MAIN_PROCESS_IP_PLACEHOLDER}" ]; then',
            '  echo "Set MAIN_PROCESS_IP to node 0\'s IP address (edit this file or export it)." >&2',
            "  exit 2",
            "fi",
        ]
    lines.append(f"exec {plan.node_commands[rank]}")
    return "\n".join(lines) + "\n"


SLURM_SCRIPT = "slurm.sbatch"


def slurm_script(plan: ScaleOutPlan, folder: Path) -> str:
    """A Slurm batch job for the plan: one task per node (srun), each running accelerate
    launch with its rank from Slurm, all meeting on the allocation's first node."""
    request = plan.request
    title = strategy_for(plan.strategy).title
    lines = [
        "#!/usr/bin/env bash",
        # Slurm reads #SBATCH lines only before the first command.
        "#SBATCH --job-name=finetune-studio",
        f"#SBATCH --nodes={request.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={request.gpus_per_node}",
        "#SBATCH --output=finetune-studio-%j.out",
        f"# FineTune Studio scale-out on Slurm: {request.nodes} node(s) x "
        f"{request.gpus_per_node} GPUs, {request.total_gpus} training processes, {title}.",
        f"# Submit with: sbatch {shlex.quote(str(folder / SLURM_SCRIPT))}",
        "# Each node runs one task, accelerate launch, which starts a process per GPU.",
        "set -euo pipefail",
        "# sbatch runs a copy of this file: the launch folder by its path, which every node",
        "# must see (a shared filesystem).",
        f"cd {shlex.quote(str(folder))}",
        "# The rendezvous: the first node of the allocation.",
        # (sed reads the whole list: `head -n 1` could end scontrol with SIGPIPE, which
        # pipefail turns into a failed job.)
        'MAIN_PROCESS_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)"',
        f'MAIN_PROCESS_PORT="${{MAIN_PROCESS_PORT:-{request.main_process_port}}}"',
        "export MAIN_PROCESS_IP MAIN_PROCESS_PORT",
        # Single quotes: each task's own shell fills in its $SLURM_NODEID.
        f"srun --nodes={request.nodes} --ntasks-per-node=1 --kill-on-bad-exit=1 "
        f"bash -c {shlex.quote(plan.slurm_command)}",
    ]
    return "\n".join(lines) + "\n"


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False)


def estimate_lines(plan: ScaleOutPlan) -> list[str]:
    estimate = plan.estimate
    if estimate is None:
        return ["No estimate (see the warnings)."]
    memory = estimate.memory
    lines = [
        f"Estimated on {plan.estimate_note} x {plan.request.total_gpus}, with the same "
        f"sharding as the launch ({plan.estimator_sharding}):",
        "",
        f"- peak memory per GPU: {estimate.peak_gib:.1f} GiB of {memory.capacity_gib:.1f} GiB "
        f"({estimate.fit_summary()})",
        f"- training time: {duration_text(estimate.hours * 3600, rough=True)} on all GPUs together",
        f"- cost: {money_text(estimate.cost_usd)}",
    ]
    lines += [f"- {line}" for line in estimate.assumptions if "GPU" in line][:3]
    return lines


def readme(plan: ScaleOutPlan) -> str:
    request = plan.request
    chosen = strategy_for(plan.strategy)
    lines = [
        "# Scale-out launch",
        "",
        f"{request.nodes} node(s) x {request.gpus_per_node} GPUs = {request.total_gpus} "
        f"training processes, **{chosen.title}**. {chosen.help}",
        "",
        "Each node runs the same headless `finetune-studio train train_config.yaml` under "
        "`accelerate launch`. Rank 0 (on node 0) writes the run folder, metrics, checkpoints "
        "and final model into the project; the other ranks only train.",
        "",
        "## Start",
        "",
    ]
    if request.nodes > 1:
        lines += [
            "Copy this folder to every node (or keep it on the shared filesystem), fill in "
            f"node 0's IP address (`MAIN_PROCESS_IP`, port {request.main_process_port}), then "
            "start every node (in any order within a few minutes):",
            "",
        ]
    for rank, command in enumerate(plan.node_commands):
        lines += [
            f"Node {rank}: `bash launch_node_{rank}.sh`, which runs",
            "",
            "```bash",
            command,
            "```",
            "",
        ]
    lines += [
        "On a Slurm cluster, submit the same run as one job instead: `sbatch slurm.sbatch` "
        "(one task per node, each running accelerate launch with its rank from Slurm; the "
        "first node of the allocation is the rendezvous). This folder must be on a "
        "filesystem every node shares.",
        "",
        "## Estimate",
        "",
        *estimate_lines(plan),
        "",
    ]
    if plan.warnings:
        lines += ["## Warnings", "", *[f"- {w}" for w in plan.warnings], ""]
    lines += [
        "## Stop and resume",
        "",
        "Ctrl-C on node 0 stops after the current step with a checkpoint. Resume with the same "
        "launcher and `finetune-studio train --resume RUN` in place of `train train_config.yaml`.",
        "",
    ]
    return "\n".join(lines)


def check_launch_folder(out_dir: str | Path, overwrite: bool, project_dir: str = "") -> Path:
    """The launch folder, absolute; OutputPathError if writing there could lose files: a
    non-empty folder we did not write, our own without `overwrite`, a project's own data
    (anything in a project but exports/), or a folder that holds the run's project."""
    folder = Path(out_dir).expanduser().absolute()
    refuse_project_data(folder, project=Path(project_dir).expanduser() if project_dir else None)
    return prepare_output_folder(folder, overwrite)


def write_plan(plan: ScaleOutPlan, out_dir: str | Path, overwrite: bool = False) -> list[Path]:
    """Write the launch files; the paths written. OutputPathError (nothing written) where
    check_launch_folder refuses the folder."""
    folder = check_launch_folder(out_dir, overwrite, plan.request.project_dir)
    replacing = is_our_output(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder, OUTPUT_KIND)
    written = []

    def put(name: str, text: str, executable: bool = False) -> None:
        path = folder / name
        write_text_atomic(path, text)  # rw as the user's umask allows
        if executable:  # rwx as the umask allows, as for a new folder
            path.chmod(folder_mode())
        written.append(path)

    put("accelerate_config.yaml", _yaml(plan.accelerate))
    if plan.deepspeed is not None:
        put(DEEPSPEED_CONFIG_FILE, json.dumps(plan.deepspeed, indent=2, sort_keys=True) + "\n")
    put("train_config.yaml", plan.config_yaml)
    for rank in range(plan.request.nodes):
        put(f"launch_node_{rank}.sh", launch_script(plan, rank), executable=True)
    put(SLURM_SCRIPT, slurm_script(plan, folder), executable=True)
    put("README.md", readme(plan))
    put("plan.json", json.dumps(plan.as_dict(), indent=2, sort_keys=True, default=str) + "\n")
    if replacing:
        for pattern in PLAN_DEPENDENT_FILES:
            for stale in set(folder.glob(pattern)) - set(written):
                stale.unlink()
    return written
