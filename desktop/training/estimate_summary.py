"""What the estimator says about the settings in the form, as a few lines for the Train page.

core.estimate belongs to another feature and may be missing: then the summary says so
and the pre-flight check (real steps) is the way to know. No Qt here; the page shows
the lines. The TrainConfig -> RunSettings mapping is core.estimate.from_train_config, the
same one pre-flight, the Runs page and scale-out use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REFERENCE_GPU = "RTX 4090"  # shown when this machine has no CUDA GPU
CHARS_PER_TOKEN = 4  # the usual rough figure for English text
COUNT_LINES_UNDER_BYTES = 50 * 1024**2  # counting lines of bigger files would stall the GUI


@dataclass
class DataFacts:
    examples: int | None
    avg_tokens: int | None
    source: str  # what the figures come from, for the user


@dataclass
class EstimateSummary:
    headline: str  # one line: fits or not, peak memory, time
    details: list[str]
    fits: bool | None  # None when nothing could be estimated


def data_facts(config, version=None) -> DataFacts:
    """Examples and average tokens from a dataset version or the training file, cheaply."""
    if version is not None:
        path = Path(version.train_path)
        examples = int(version.n_train)
        source = f"{version.dataset} {version.label}"
    elif config.train_file.strip():
        path = Path(config.train_file).expanduser()
        if not path.is_file():
            return DataFacts(None, None, "the training file does not exist yet")
        size = path.stat().st_size
        if size > COUNT_LINES_UNDER_BYTES:
            return DataFacts(None, None, f"{path.name} is large; examples not counted")
        with open(path, "rb") as handle:
            examples = sum(1 for line in handle if line.strip())
        source = path.name
    else:
        return DataFacts(None, None, "no data chosen")
    if examples <= 0 or not path.is_file():
        return DataFacts(examples or None, None, source)
    held_out = (
        0 if version is not None or config.validation_file.strip() else config.validation_fraction
    )
    train_examples = max(1, round(examples * (1 - held_out)))
    avg = max(1, round(path.stat().st_size / examples / CHARS_PER_TOKEN))
    return DataFacts(train_examples, avg, f"{source}, about {CHARS_PER_TOKEN} characters a token")


def summarize(config, model_path: str | Path | None, hardware, facts: DataFacts) -> EstimateSummary:
    try:
        from core.estimate import detected_gpu, estimate, find_gpu, load_architecture
        from core.estimate.from_train_config import run_settings_from_train_config
    except ImportError:
        return EstimateSummary(
            "The estimator is not installed: use Pre-flight to measure memory and step time.",
            [],
            None,
        )
    gpu = detected_gpu(hardware) if hardware is not None else None
    details: list[str] = []
    if gpu is None:
        gpu = find_gpu(REFERENCE_GPU)
        details.append(
            f"No CUDA GPU here, so the run trains on the CPU in RAM; figures are for an "
            f"{gpu.name} ({gpu.memory_gib:.0f} GiB) for reference. Pre-flight measures this machine."
        )
        device = "cpu"
    else:
        device = "cuda"
    try:
        model = load_architecture(model_path or config.base_model)
    except Exception as error:  # an unknown folder or name: the estimate is optional
        return EstimateSummary(f"No estimate for this model: {error}", details, None)
    try:
        settings = run_settings_from_train_config(
            config,
            bf16_supported=gpu.bf16,
            examples=facts.examples,
            avg_tokens=facts.avg_tokens,
        )
        result = estimate(model, settings, gpu)
    except Exception as error:
        return EstimateSummary(f"No estimate for these settings: {error}", details, None)
    hours = result.hours
    if hours * 60 < 1:
        duration = "under a minute"
    elif hours < 1.5:
        duration = f"about {hours * 60:.0f} min"
    else:
        duration = f"about {hours:.1f} h"
    where = "this GPU" if device == "cuda" else gpu.name
    headline = f"Peak {result.peak_gib:.1f} GiB on {where}: {result.fit_summary()}; {duration}."
    details.append(
        f"Data: {facts.examples:,} examples of about {facts.avg_tokens} tokens ({facts.source})."
        if facts.examples and facts.avg_tokens
        else f"Data: {facts.source}; the estimate assumes {settings.examples:,} examples of "
        f"{settings.avg_tokens} tokens."
    )
    details += list(result.warnings)
    return EstimateSummary(headline, details, result.fits)
