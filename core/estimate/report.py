"""The estimate as text for a terminal and as one JSON object (the CLI's two outputs)."""

from __future__ import annotations

from core.estimate.memory import COMPONENT_TITLES
from core.estimate.recommend import Recommendation
from core.figures import duration_text, money_text
from core.methods import METHOD_TITLES


def recommendation_dict(rec: Recommendation) -> dict:
    """The chosen method's fields at the top level, every method under `methods`."""
    chosen = rec.chosen
    data = chosen.as_dict()
    data.update(
        {
            "reason": rec.reason,
            "model": chosen.model.name,
            "model_params": chosen.model.total_params,
            "gpu": chosen.gpu.name,
            "gpus": chosen.settings.num_gpus,
            "settings": chosen.settings.as_dict(),
            "methods": [
                {**result.as_dict(), "reason": rec.reason if method == rec.method else ""}
                for method, result in rec.estimates.items()
            ],
            "fixes": [fix.as_dict() for fix in rec.fixes],
            "assumptions": list(chosen.assumptions),
        }
    )
    return data


def recommendation_text(rec: Recommendation) -> str:
    chosen = rec.chosen
    settings = chosen.settings
    gpu = chosen.gpu
    lines = [
        f"{chosen.model.name}: {chosen.model.describe()}",
        f"GPU: {settings.num_gpus} x {gpu.name} ({gpu.memory_gib:.1f} GiB, "
        f"{gpu.tflops:g} TFLOP/s, {money_text(gpu.price_per_hour)}/h)",
        f"Run: micro batch {settings.micro_batch_size} x {settings.max_seq_length} tokens, accumulation "
        f"{settings.gradient_accumulation}, {'packed' if settings.packing else 'not packed'}, "
        f"checkpointing {'on' if settings.gradient_checkpointing else 'off'}, "
        f"{settings.optimizer}, {settings.precision}, LoRA r {settings.lora_r} on "
        f"{', '.join(settings.lora_target_modules)}",
        f"Data: {settings.examples:,} examples x {settings.avg_tokens} tokens x "
        f"{settings.epochs:g} epochs",
        "",
        f"{'method':<18}{'fits':<6}{'peak GiB':>9}{'spare':>8}{'time':>9}{'cost':>10}",
    ]
    for method, result in rec.estimates.items():
        fits = "yes" if result.fits else "no"
        if result.memory.pages_to_cpu:
            fits = "paged"
        lines.append(
            f"{METHOD_TITLES[method]:<18}{fits:<6}{result.peak_gib:>9.1f}"
            f"{result.headroom_gib:>8.1f}{duration_text(result.hours * 3600, rough=True):>9}{money_text(result.cost_usd):>10}"
        )
    lines += ["", f"Pick: {METHOD_TITLES[rec.method]}. {rec.reason}"]
    fitting = rec.fitting_fixes()
    if rec.fixes:
        lines.append("What would fit:" if fitting else "Nothing tried fits; closest:")
        shown = fitting or sorted(rec.fixes, key=lambda fix: fix.peak_gib)[:3]
        for fix in shown:
            lines.append(f"  - {fix.label}: {fix.peak_gib:.1f} GiB")
    lines += ["", f"{METHOD_TITLES[rec.method]} memory at its peak ({chosen.memory.phase}):"]
    for component in chosen.memory.components:
        lines.append(
            f"  {COMPONENT_TITLES[component.key]:<28}{component.gib:>7.2f} GiB  {component.detail}"
        )
    lines.append(f"  {'Total':<28}{chosen.peak_gib:>7.2f} GiB of {gpu.memory_gib:.1f}")
    for warning in chosen.warnings:
        lines.append(f"Warning: {warning}")
    lines += ["", "Assumptions:"]
    lines += [f"  - {text}" for text in chosen.assumptions]
    return "\n".join(lines)
