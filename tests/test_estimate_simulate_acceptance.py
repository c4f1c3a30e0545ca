"""benchmarks/gpu_acceptance.py end to end in its reduced CPU mode: every part (our
trainer's real step next to the estimate and the simulation, our trainer against bare TRL,
the Train page's event loop while training) runs and lands in one JSON report, so the
script is ready the day a GPU is lent. Figures from tiny CPU runs are not asserted as
acceptance figures; that they exist and are sane is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.training.simulate import simulation_unavailable

REPO = Path(__file__).resolve().parent.parent


def test_reduced_cpu_mode_writes_the_whole_report(tmp_path):
    out = tmp_path / "report.json"
    env = dict(os.environ, FINETUNE_STUDIO_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_acceptance.py", "--cpu-reduced", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "cpu-reduced"
    cases = report["memory"]["cases"]
    assert [case["stage"] for case in cases] == ["sft", "dpo"]
    for case in cases:
        assert "error" not in case, case
        assert case["real_tensors_gb"] > 0 and case["estimate_allocated_gb"] > 0
        assert 0.3 < case["estimate_over_real"] < 3  # the same run, roughly the same size
        if simulation_unavailable() is None:
            assert case["simulated_gb"] == pytest.approx(case["estimate_allocated_gb"], rel=0.2)
    throughput = report["throughput"]
    assert "error" not in throughput, throughput
    assert throughput["ours_tokens_per_s"][0] > 0 and throughput["bare_trl_tokens_per_s"][0] > 0
    gui = report["gui"]
    assert gui["training_p99_ms"] is not None and gui["idle_p99_ms"] is not None, gui
    assert report["seconds"] > 0 and "within_budget" in report


def test_gpu_mode_refuses_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the GPU mode would run for minutes")
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_acceptance.py", "--out", str(tmp_path / "r.json")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "--cpu-reduced" in done.stderr
