"""What the estimator says about a TrainConfig, as a few lines (the Train page shows them).

The estimator takes the recipe itself (core.estimate.run), as pre-flight, the Runs page
and scale-out do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.estimate.architecture import load_architecture
from core.estimate.cpu_ram import estimate_cpu_ram, this_machine_ram
from core.estimate.estimator import estimate
from core.estimate.fit import choose, recipe_remedies
from core.estimate.gpus import detected_gpu
from core.estimate.run import run_for_recipe
from core.figures import duration_text
from core.methods import METHOD_TITLES

GIB = 1024**3
CHARS_PER_TOKEN = 4  # the usual rough figure for English text
COUNT_LINES_UNDER_BYTES = 50 * 1024**2  # counting lines of bigger files would stall the GUI


@dataclass
class DataSeen:
    examples: int | None
    avg_tokens: int | None
    source: str  # what the figures come from, for the user


@dataclass
class EstimateSummary:
    headline: str  # one line: fits or not, peak memory, time
    details: list[str]
    fits: bool | None  # None when nothing could be estimated


def data_facts(config, version=None) -> DataSeen:
    """Examples and average tokens from a dataset version or the training file, cheaply."""
    if version is not None:
        path = Path(version.train_path)
        examples = int(version.n_train)
        source = f"{version.dataset} {version.label}"
    elif config.train_file.strip():
        path = Path(config.train_file).expanduser()
        if not path.is_file():
            return DataSeen(None, None, "the training file does not exist yet")
        size = path.stat().st_size
        if size > COUNT_LINES_UNDER_BYTES:
            return DataSeen(None, None, f"{path.name} is large; examples not counted")
        with open(path, "rb") as handle:
            examples = sum(1 for line in handle if line.strip())
        source = path.name
    else:
        return DataSeen(None, None, "no data chosen")
    if examples <= 0 or not path.is_file():
        return DataSeen(examples or None, None, source)
    held_out = (
        0 if version is not None or config.validation_file.strip() else config.validation_fraction
    )
    train_examples = max(1, round(examples * (1 - held_out)))
    avg = max(1, round(path.stat().st_size / examples / CHARS_PER_TOKEN))
    return DataSeen(train_examples, avg, f"{source}, about {CHARS_PER_TOKEN} characters a token")


def _data_line(facts: DataSeen, settings) -> str:
    if facts.examples and facts.avg_tokens:
        return f"Data: {facts.examples:,} examples of about {facts.avg_tokens} tokens ({facts.source})."
    return (
        f"Data: {facts.source}; the estimate assumes {settings.examples:,} examples of "
        f"{settings.avg_tokens} tokens."
    )


def summarize(
    config,
    model_path: str | Path | None,
    hardware,
    facts: DataSeen,
    ram: tuple[int | None, int | None] | None = None,
) -> EstimateSummary:
    """ram: (available, total) bytes of this machine's RAM; read with psutil when None."""
    gpu = detected_gpu(hardware) if hardware is not None else None
    try:
        model = load_architecture(model_path or config.base_model)
    except Exception as error:  # an unknown folder or name: the estimate is optional
        return EstimateSummary(f"No estimate for this model: {error}", [], None)
    try:
        settings = run_for_recipe(
            config,
            bf16_supported=bool(gpu and gpu.bf16),
            device="cuda" if gpu is not None else "cpu",
            examples=facts.examples,
            avg_tokens=facts.avg_tokens,
        )
    except Exception as error:
        return EstimateSummary(f"No estimate for these settings: {error}", [], None)
    if gpu is None:
        return summarize_ram(model, settings, facts, ram)
    try:
        result = estimate(model, settings, gpu)
    except Exception as error:
        return EstimateSummary(f"No estimate for these settings: {error}", [], None)
    hours = result.hours
    if hours * 60 < 1:
        duration = "under a minute"
    else:
        duration = f"about {duration_text(hours * 3600, rough=True)}"
    headline = f"Peak {result.peak_gib:.1f} GiB on this GPU: {result.fit_summary()}; {duration}."
    details = [_data_line(facts, settings), *result.warnings]
    details += [f"Memory saver turned on: {reason}." for reason in result.savers_turned_on]
    if result.memory.offloaded_gib:
        details.append(_offload_line(result.memory.offloaded_gib, ram))
    return EstimateSummary(headline, details, result.fits)


def _offload_line(offloaded_gib: float, ram) -> str:
    """Activation offloading's CPU RAM against this machine's free RAM (the trainer refuses
    to start past three quarters of it)."""
    available, _total = ram if ram is not None else this_machine_ram()
    line = f"Activation offloading holds about {offloaded_gib:.1f} GiB of CPU RAM"
    if not available:
        return line + "."
    if offloaded_gib * GIB > 0.75 * available:
        return (
            f"{line}, more than this machine can spare ({available / GIB:.1f} GiB free): "
            "shorten the sequences or lower the micro batch."
        )
    return f"{line} ({available / GIB:.1f} GiB free)."


def summarize_ram(model, settings, facts: DataSeen, ram=None) -> EstimateSummary:
    """No CUDA GPU (or "This computer's CPU" chosen on the Estimate page): the run trains
    on the CPU, in this machine's RAM."""
    available, total = ram if ram is not None else this_machine_ram()
    try:
        result = estimate_cpu_ram(model, settings, available, total)
    except Exception as error:
        return EstimateSummary(f"No estimate for these settings: {error}", [], None)
    need = result.peak_bytes / GIB
    if available:
        verdict = "fits" if result.fits else "does not fit"
        headline = (
            f"About {need:.1f} GiB of RAM on this machine ({available / GIB:.1f} GiB of "
            f"{(total or 0) / GIB:.0f} GiB free): {verdict}."
        )
    else:
        headline = f"About {need:.1f} GiB of RAM (free RAM unknown here)."
    parts = ", ".join(
        f"{key} {value / GIB:.2f}" for key, value in result.breakdown.items() if value >= 0.01 * GIB
    )
    tensors = f" (GiB: {parts})" if parts else " (under 0.01 GiB each)"
    details = [
        "Without a CUDA GPU the run trains on the CPU, in RAM. "
        f"That is {result.baseline_bytes / GIB:.1f} GiB for Python and the libraries plus "
        f"the run's tensors{tensors}.",
        _data_line(facts, settings),
    ]
    if result.fits is False:
        details.append(
            _ram_remedies(model, settings, available, total)
            + " The memory guard stops a run that runs out before the system closes the app."
        )
    else:
        details.append("Pre-flight measures the real peak and step time on this machine.")
    return EstimateSummary(headline, details, result.fits)


def _ram_remedies(model, settings, available: int | None, total: int | None) -> str:
    """What would make a CPU run fit: the fit engine's remedies for this recipe (only those
    that change it: no QLoRA for a QLoRA run, no checkpointing where it is on), each
    re-estimated in RAM; those that fit are named with their RAM."""

    def predict(changes: dict):
        try:
            trial = estimate_cpu_ram(model, settings.replace(**changes), available, total)
        except ValueError:  # settings the estimator cannot take: not a remedy
            return 0, False, None
        return trial.peak_bytes, bool(trial.fits), None

    tried = choose(recipe_remedies(settings.recipe, "cpu"), predict, keep_closest=True)
    fitting = [s for s in tried if s.fits_estimate][:3]
    if fitting:
        named = "; ".join(f"{s.label} (about {s.peak_gib:.1f} GiB)" for s in fitting)
        return f"It would not fit. Settings that should fit here: {named}."
    # No one remedy is enough: the strongest of each kind tried, all together.
    together: dict = {}
    for suggestion in tried:
        together.update(suggestion.changes)
    recipe = settings.recipe
    labels = _changes_text({k: v for k, v in together.items() if getattr(recipe, k) != v})
    peak, fits, _ = predict(together) if together else (0, False, None)
    if not peak:
        return (
            "It would not fit, and no setting of this recipe makes it smaller: choose a "
            "smaller model or a machine with more free RAM."
        )
    if fits:
        return f"It would not fit. These together should (about {peak / GIB:.1f} GiB): {labels}."
    return (
        f"It would not fit even with all of these together (about {peak / GIB:.1f} GiB): "
        f"{labels}. Choose a smaller model or a machine with more free RAM."
    )


def _changes_text(changes: dict) -> str:
    """Remedies merged into one recipe change, in words: 'max sequence length 256, micro
    batch 1 x accumulation 8, gradient checkpointing on'."""
    parts = []
    if "max_seq_length" in changes:
        parts.append(f"max sequence length {changes['max_seq_length']}")
    if "micro_batch_size" in changes:
        parts.append(
            f"micro batch {changes['micro_batch_size']} x accumulation "
            f"{changes.get('gradient_accumulation', 1)}"
        )
    if changes.get("gradient_checkpointing"):
        parts.append("gradient checkpointing on")
    if "optimizer" in changes:
        parts.append(f"the {changes['optimizer']} optimizer")
    if "method" in changes:
        parts.append(METHOD_TITLES.get(changes["method"], changes["method"]))
    return ", ".join(parts)
