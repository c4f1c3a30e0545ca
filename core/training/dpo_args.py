"""DPOConfig's arguments for our settings: the SFT mapping of the shared ones (sft_args),
plus DPO's own. Used by the run (dpo_setup), its real steps (real_steps) and the
benchmarks' bare TRL scripts, so all of them train alike."""

from __future__ import annotations

import dataclasses

from core.training.sft_args import build_sft_kwargs


def dpo_config_fields() -> dict[str, dataclasses.Field]:
    # trl is heavy: imported once a run starts
    from trl import DPOConfig

    return {f.name: f for f in dataclasses.fields(DPOConfig)}


def build_dpo_kwargs(config, plan, schedule, output_dir, has_eval) -> tuple[dict, list[str]]:
    """DPOConfig's arguments: the SFT mapping of the shared settings, plus DPO's own."""
    kwargs, notes = build_sft_kwargs(
        config, plan, schedule, output_dir, has_eval, 0, trainer_fields=dpo_config_fields()
    )
    kwargs["beta"] = config.dpo_beta
    kwargs["loss_type"] = [config.dpo_loss_type]
    # Reference log-probabilities are computed beside each step (adapter disabled), so
    # resuming after a kill needs nothing precomputed.
    kwargs["precompute_ref_log_probs"] = False
    return kwargs, notes
