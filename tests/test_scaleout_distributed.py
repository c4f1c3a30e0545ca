"""Scale-out for real: the generated launch script starts two CPU processes (accelerate launch,
gloo) that train the tiny model together; both ranks step, the run's metrics, advice, rows and
checkpoints are written once, and the result loads. A stop asked of one rank stops all."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from core.recipe.config import load_config
from core.scaleout.plan import ScaleOutRequest, plan_scale_out
from core.scaleout.writer import write_plan

REPO = Path(__file__).resolve().parent.parent
ANSWERS = ["billing", "shipping"]


def process_env(home: Path) -> dict:
    bin_dir = str(Path(sys.executable).parent)  # accelerate and finetune-studio of this venv
    return {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "FINETUNE_STUDIO_HOME": str(home),
        "OMP_NUM_THREADS": "1",  # two processes on a 2-core machine
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def write_launch(tmp_path: Path, tiny_model_dir: Path, strategy: str):
    """(project, plan, launch folder): the tiny model's 4-step LoRA run, checkpoint every 2
    steps, planned for 2 processes on this machine with `strategy`."""
    from core.project import create_project

    project = create_project(tmp_path / "project", name="Scale-out")
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: which team?"},
                {"role": "assistant", "content": f'{{"category": "{ANSWERS[i % 2]}"}}'},
            ]
        }
        for i in range(8)
    ]
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config_path = tmp_path / "run.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "base_model": str(tiny_model_dir),
                "train_file": str(train),
                "validation_fraction": 0.0,
                "method": "lora",
                "max_steps": 4,
                "micro_batch_size": 2,
                "gradient_accumulation": 1,
                "learning_rate": 0.01,
                "max_seq_length": 64,
                "packing": False,
                "warmup_ratio": 0.0,
                "checkpoint_every_steps": 2,
                "log_every_steps": 1,
                "lora_r": 8,
                "lora_alpha": 16,
                "lora_dropout": 0.0,
                "name": "two ranks",
            }
        )
    )
    launch = tmp_path / "launch"
    plan = plan_scale_out(
        load_config(config_path),
        ScaleOutRequest(
            gpus_per_node=2,
            nodes=1,
            strategy=strategy,
            out_dir=str(launch),
            project_dir=str(project.folder),
        ),
    )
    write_plan(plan, launch)
    return project, plan, launch


def test_two_cpu_processes_train_together_and_the_run_is_recorded_once(tmp_path, tiny_model_dir):
    project, _plan, launch = write_launch(tmp_path, tiny_model_dir, "ddp")
    # On a machine without GPUs the trainer picks the CPU, and the processes join over gloo.
    process = subprocess.run(
        ["bash", str(launch / "launch_node_0.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env=process_env(tmp_path / "home"),
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]

    from core.runs.record import list_runs

    [run] = list_runs(project)  # one run row, not one per rank
    assert run.status == "finished" and run.steps_done == 4, run.reason
    assert [p.name for p in project.runs_dir.iterdir()] == [run.run_id]
    assert json.loads((run.folder / "run.json").read_text())["processes"] == 2

    records = [json.loads(line) for line in (run.folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]  # each step once
    # Both ranks stepped: each step took a micro batch of 2 on each of 2 ranks, so 4 steps
    # are 2 epochs of the 8 examples (one process would be at epoch 1.0).
    assert records[-1]["epoch"] == 2.0
    db_rows = (
        project.connection()
        .execute(
            "SELECT step FROM training_metrics JOIN training_runs ON training_runs.id = run "
            "WHERE run_id = ? ORDER BY step",
            (run.run_id,),
        )
        .fetchall()
    )
    assert [r[0] for r in db_rows] == [1, 2, 3, 4]
    advice = [
        json.loads(line)["kind"] for line in (run.folder / "advice.jsonl").read_text().splitlines()
    ]
    assert len(advice) == len(set(advice)) and advice
    log = (run.folder / "train.log").read_text()
    assert log.count("distributed: 2 processes") == 1
    assert "each of the 2 processes holds all" in log  # DDP: nothing sharded
    assert not (run.folder / "preflight.json").exists()  # pre-flight is one process's test

    checkpoints = sorted(p.name for p in (run.folder / "checkpoints").iterdir() if p.is_dir())
    assert checkpoints == ["checkpoint-2", "checkpoint-4"]
    for name in checkpoints:
        files = {p.name for p in (run.folder / "checkpoints" / name).iterdir()}
        # One model, written by rank 0; each rank saved its own RNG state (rank 1 was there).
        assert {"adapter_model.safetensors", "rng_state_0.pth", "rng_state_1.pth"} <= files
    assert output.count("checkpoint saved at step 2") == 1
    assert output.count("run " + run.run_id + ": finished") == 1

    from core.evaluation.eval_set import eval_set_from_examples
    from core.evaluation.generation import GenerationConfig, generate_answers, load_model
    from core.evaluation.models import run_spec

    loaded = load_model(run_spec(run.folder), device="cpu")
    eval_set = eval_set_from_examples(
        "t", "test", [{"messages": [{"role": "user", "content": "Ticket 9: which team?"}]}]
    )
    [answer] = generate_answers(loaded, eval_set.examples, GenerationConfig(max_new_tokens=8))
    assert isinstance(answer.answer, str)
    project.close()


# Fault injection for the FSDP test: rank 1 dies by SIGKILL at the end of step KILL_AT_STEP,
# where every rank meets to share a stop (core.training.distributed.stop_on_every_rank).
KILL_RANK_SITECUSTOMIZE = textwrap.dedent(
    """
    import os
    if os.environ.get("KILL_RANK") and os.environ.get("KILL_RANK") == os.environ.get("RANK"):
        import signal
        import core.training.distributed as distributed

        original = distributed.stop_on_every_rank
        steps = [0]

        def stop_or_die(control):
            steps[0] += 1
            if steps[0] == int(os.environ["KILL_AT_STEP"]):
                os.kill(os.getpid(), signal.SIGKILL)
            original(control)

        distributed.stop_on_every_rank = stop_or_die
    """
)


@pytest.mark.slow  # two launches of two processes each: ~50 s on a 2-core CPU
def test_fsdp2_shards_the_run_over_two_cpu_processes_and_resumes_after_a_rank_is_killed(
    tmp_path, tiny_model_dir
):
    from core.runs.record import list_runs, read_metrics

    project, plan, launch = write_launch(tmp_path, tiny_model_dir, "fsdp")
    accelerate = yaml.safe_load((launch / "accelerate_config.yaml").read_text())
    assert accelerate["distributed_type"] == "FSDP"
    assert accelerate["fsdp_config"]["fsdp_version"] == 2
    env = process_env(tmp_path / "home")
    killer = tmp_path / "killer"
    killer.mkdir()
    (killer / "sitecustomize.py").write_text(KILL_RANK_SITECUSTOMIZE)
    killed = subprocess.run(
        ["bash", str(launch / "launch_node_0.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **env,
            "PYTHONPATH": str(killer) + os.pathsep + str(REPO),
            "KILL_RANK": "1",
            "KILL_AT_STEP": "4",
        },
    )
    output = killed.stdout + killed.stderr
    assert killed.returncode != 0 and "SIGKILL" in output, output[-4000:]
    [run] = list_runs(project)
    assert run.status != "finished"
    before = {r.step: r.loss for r in read_metrics(run) if r.kind == "train"}
    assert sorted(before) == [1, 2, 3]  # step 4 never ended
    checkpoints = run.folder / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir() if p.is_dir()) == ["checkpoint-2"]
    saved = {p.name for p in (checkpoints / "checkpoint-2").iterdir()}
    # Saved by the FSDP path (a gathered full state dict), with each rank's RNG state.
    assert {"pytorch_model_fsdp.bin", "optimizer.bin", "rng_state_1.pth"} <= saved
    log = (run.folder / "train.log").read_text()
    # Sharded for real: each of the two processes held half of the parameters.
    [layout] = re.findall(
        r"distributed: FSDP; parameters sharded over 2 processes: "
        r"this one holds ([\d,]+) of ([\d,]+)",
        log,
    )
    held, total = (int(n.replace(",", "")) for n in layout)
    assert 0.4 * total < held < 0.6 * total

    # Resumed as the launch README says: the same launcher, `train --resume RUN`.
    resume = plan.node_commands[0].replace(
        "train train_config.yaml", f"train --resume {run.run_id}"
    )
    resumed = subprocess.run(
        ["bash", "-c", resume], cwd=launch, capture_output=True, text=True, timeout=600, env=env
    )
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-4000:]
    [run] = list_runs(project)  # still the one run
    assert run.status == "finished" and run.steps_done == 4, run.reason
    assert [p.name for p in project.runs_dir.iterdir()] == [run.run_id]
    after = {r.step: r.loss for r in read_metrics(run) if r.kind == "train"}
    assert sorted(after) == [1, 2, 3, 4]
    # From checkpoint-2 the run retraced step 3 exactly as before the kill.
    assert after[3] == pytest.approx(before[3], rel=1e-5)
    assert after[1] == before[1] and after[2] == before[2]
    assert output.count("run " + run.run_id + ": finished") == 1
    final = json.loads((run.folder / "final" / "studio_model.json").read_text())
    assert final["step"] == 4 and (run.folder / "final" / "adapter_model.safetensors").is_file()
    project.close()


# DeepSpeed on CPUs compiles a shared-memory allreduce kernel at first use (about 2 min on
# 2 cores). Told that no kernel of its own can be built here, it uses torch.distributed's
# gloo collectives instead, as it does wherever the kernel cannot be built.
NO_DEEPSPEED_KERNELS_SITECUSTOMIZE = textwrap.dedent(
    """
    import os
    if os.environ.get("RANK"):
        import deepspeed.ops

        deepspeed.ops.__compatible_ops__ = {}
    """
)


@pytest.mark.slow  # two processes: ~35 s on a 2-core CPU
def test_deepspeed_zero3_partitions_the_run_over_two_cpu_processes(tmp_path, tiny_model_dir):
    from core.runs.record import list_runs, read_metrics

    project, _plan, launch = write_launch(tmp_path, tiny_model_dir, "zero3")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_DEEPSPEED_KERNELS_SITECUSTOMIZE)
    env = process_env(tmp_path / "home")
    process = subprocess.run(
        ["bash", str(launch / "launch_node_0.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "PYTHONPATH": str(site) + os.pathsep + str(REPO)},
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    [run] = list_runs(project)
    assert run.status == "finished" and run.steps_done == 4, run.reason
    assert [r.step for r in read_metrics(run) if r.kind == "train"] == [1, 2, 3, 4]
    log = (run.folder / "train.log").read_text()
    [layout] = re.findall(
        r"distributed: DEEPSPEED; parameters sharded over 2 processes: "
        r"this one holds ([\d,]+) of ([\d,]+)",
        log,
    )
    held, total = (int(n.replace(",", "")) for n in layout)
    assert 0.4 * total < held < 0.6 * total
    # ZeRO checkpoints (each rank's partitions), and a final model in the usual format.
    assert (run.folder / "checkpoints" / "checkpoint-2" / "global_step2").is_dir()
    assert (run.folder / "final" / "adapter_model.safetensors").is_file()
    project.close()


STOP_WORKER = textwrap.dedent(
    """
    import json, sys
    from core.training.control import RunControl
    from core.training.distributed import current_world, join_process_group, stop_on_every_rank

    world = current_world()
    join_process_group("cpu")
    control = RunControl()
    if world.rank == 1:
        control.request_stop("Ctrl-C on rank 1")
    stop_on_every_rank(control)
    print(json.dumps({"rank": world.rank, "stop": control.stop_requested,
                      "reason": control.stop_reason}), flush=True)
    # Leave the group together before exiting: a rank whose peer has already gone can
    # abort in gloo's threads at interpreter exit ("terminate called without an active
    # exception", seen once in a full run).
    import torch.distributed as dist
    dist.barrier()
    dist.destroy_process_group()
    """
)


def test_a_stop_asked_of_one_rank_stops_every_rank(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = process_env(tmp_path / "home")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STOP_WORKER],
            env={
                **env,
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": "2",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["stop"] for r in results] == [True, True]
    assert results[0]["reason"] == "Stopped on another process of the distributed run."
    assert results[1]["reason"] == "Ctrl-C on rank 1"
