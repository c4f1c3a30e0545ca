"""`finetune-studio scaleout`: launch files for training one config on many GPUs and nodes.

finetune-studio scaleout CONFIG.yaml --gpus N [--nodes M] [--strategy fsdp|zero3|ddp|zero2]
                         --out DIR [--overwrite] [--project DIR] [--gpu "H100 SXM"] [--port 29500]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import EXIT_OK, EXIT_USAGE
from core.output_folder import OutputPathError
from core.recipe.config import TrainConfigError, load_config
from core.scaleout.plan import ScaleOutError, ScaleOutRequest, plan_scale_out
from core.scaleout.strategies import STRATEGIES
from core.scaleout.writer import SLURM_SCRIPT, check_launch_folder, estimate_lines, write_plan


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "scaleout",
        help="write the accelerate launch files to train a config on many GPUs or nodes",
        description="Generate an accelerate launch configuration (DDP, FSDP, or DeepSpeed "
        "ZeRO) and the exact command for each node, all running the same headless "
        "`finetune-studio train CONFIG.yaml`, with the estimator's memory per GPU.",
    )
    parser.add_argument("config", help="the training configuration (YAML)")
    parser.add_argument(
        "--gpus", type=int, required=True, help="GPUs on each node (one process per GPU)"
    )
    parser.add_argument("--nodes", type=int, default=1, help="machines (default 1)")
    parser.add_argument(
        "--strategy",
        choices=tuple(STRATEGIES),
        default="",
        help="ddp, fsdp, zero3 (DeepSpeed) or zero2 (DeepSpeed); default: ddp if the run fits "
        "each GPU, else fsdp",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="a new (or empty) folder for the launch files; in a project only under exports/",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier scaleout folder (never a folder FineTune Studio did not write)",
    )
    parser.add_argument(
        "--project",
        dest="scaleout_project",
        metavar="DIR",
        default="",
        help="the project the run belongs to (same path on every node)",
    )
    parser.add_argument(
        "--gpu", default="", help="the nodes' GPU, from the estimate catalog (e.g. 'H100 SXM')"
    )
    parser.add_argument("--port", type=int, default=29500, help="node 0's rendezvous port")
    parser.set_defaults(func=run_scaleout_command)


def run_scaleout_command(args: argparse.Namespace) -> int:
    try:
        # Refused before anything is planned: the answer comes at once.
        check_launch_folder(args.out, args.overwrite, args.scaleout_project)
        config = load_config(args.config)
        request = ScaleOutRequest(
            gpus_per_node=args.gpus,
            nodes=args.nodes,
            strategy=args.strategy,
            out_dir=args.out,
            project_dir=args.scaleout_project,
            gpu=args.gpu,
            main_process_port=args.port,
        )
        plan = plan_scale_out(config, request, Path(args.config).expanduser().resolve().parent)
        written = write_plan(plan, args.out, overwrite=args.overwrite)
    except (
        TrainConfigError,
        ScaleOutError,
        OutputPathError,
        FileNotFoundError,
        ValueError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{request.nodes} node(s) x {request.gpus_per_node} GPUs = {request.total_gpus} "
        f"processes, strategy {plan.strategy} (estimator sharding: {plan.estimator_sharding})"
    )
    for line in estimate_lines(plan):
        if line:
            print(line)
    for warning in plan.warnings:
        print(f"warning: {warning}")
    print(f"wrote {', '.join(p.name for p in written)} to {Path(args.out).expanduser()}")
    for rank, command in enumerate(plan.node_commands):
        print(f"node {rank}: {command}")
    print(f"on Slurm: sbatch {written[0].parent / SLURM_SCRIPT}")
    return EXIT_OK
