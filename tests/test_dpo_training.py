"""DPO for real on the tiny model: the run through run_training (finite loss, the margin and
accuracy recorded), the reference as the adapter-disabled base (one copy of the weights),
continuing a finished SFT run's adapter, and the run record."""

from __future__ import annotations

import json
import math

import pytest
from ticket_router_run import tiny_lora_settings

from core.recipe.config import TrainConfig
from core.runs.record import load_run, read_metrics
from core.training.observer import CollectingObserver
from core.training.session import run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEAMS = ["billing", "shipping", "login", "refund"]


def write_pairs(path, n=8):
    rows = [
        {
            "prompt": [{"role": "user", "content": f"Ticket {i}: which team?"}],
            "chosen": [{"role": "assistant", "content": f'{{"team": "{TEAMS[i % 4]}"}}'}],
            "rejected": [{"role": "assistant", "content": "I cannot tell, sorry."}],
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def dpo_config(model_dir, train_file, **changes) -> TrainConfig:
    settings = tiny_lora_settings(
        model_dir, train_file, stage="dpo", epochs=2.0, learning_rate=5e-3, max_seq_length=64
    )
    settings.update(changes)
    return TrainConfig(**settings)


def _watch_reference(monkeypatch) -> dict:
    """What the DPOTrainer holds once built, and which adapter each reference forward used."""
    # trl is heavy: imported by the tests that train
    import trl.trainer.dpo_trainer as dpo_module

    seen = {"reference_adapters": []}
    original_init = dpo_module.DPOTrainer.__init__
    original_use = dpo_module.use_adapter

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        seen["ref_model"] = self.ref_model
        held = [p for m in (self.model, self.ref_model) if m is not None for p in m.parameters()]
        seen["tensors_held"] = len({p.data_ptr() for p in held})
        seen["base_tensors"] = sum(1 for n, _ in self.model.named_parameters() if "lora_" not in n)
        seen["lora_tensors"] = sum(1 for n, _ in self.model.named_parameters() if "lora_" in n)

    def use_adapter(model, adapter_name):
        seen["reference_adapters"].append(adapter_name)
        return original_use(model, adapter_name)

    monkeypatch.setattr(dpo_module.DPOTrainer, "__init__", init)
    monkeypatch.setattr(dpo_module, "use_adapter", use_adapter)
    return seen


def test_a_dpo_run_trains_with_the_adapter_disabled_reference(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    seen = _watch_reference(monkeypatch)
    config = dpo_config(tiny_model_dir, write_pairs(tmp_path / "pairs.jsonl"))
    observer = CollectingObserver()
    result = run_training(project, config, observer)
    assert result.status == "finished", result.reason
    # One copy of the base weights: no reference model, every tensor held once, and each
    # reference forward ran with the adapters disabled (adapter None).
    assert seen["ref_model"] is None
    assert seen["tensors_held"] == seen["base_tensors"] + seen["lora_tensors"]
    assert seen["reference_adapters"] and set(seen["reference_adapters"]) == {None}
    train = [r for r in observer.records if r.kind == "train"]
    assert train and all(math.isfinite(r.loss) for r in train)
    assert all(r.rewards_margin is not None and r.rewards_accuracy is not None for r in train)
    assert train[-1].rewards_margin > 0  # chosen pulled above rejected
    run = load_run(project, result.run_id)
    stored = [r for r in read_metrics(run) if r.kind == "train"]
    assert [r.rewards_margin for r in stored] == [r.rewards_margin for r in train]
    assert "stage: dpo" in (run.folder / "config.yaml").read_text()
    assert (run.folder / "final" / "adapter_config.json").is_file()
