"""What the estimator is asked about: the training recipe (TrainConfig, the trainer's own
settings object) plus the facts that are not training settings: the data and the cluster.

EstimateRun adds no setting of its own: every training setting is read from the recipe,
so a recipe that goes Train -> Estimate -> Train comes back as it went. It resolves the
recipe's automatic choices (precision, optimizer) as the trainer resolves them on a CUDA
GPU, so the estimate describes the run the trainer will actually do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.methods import METHODS
from core.recipe.config import TrainConfig
from core.recipe.vocabularies import OPTIMIZERS, RESOLVED_PRECISIONS, is_all_linear

SHARDINGS = ("none", "zero2", "fsdp")
SHARDING_TITLES = {
    "none": "none (DDP: each GPU holds all)",
    "zero2": "ZeRO-2 (gradients, optimizer)",
    "fsdp": "FSDP / ZeRO-3 (everything)",
}
# The estimator's names for what a run keeps its weights and computes in.
ESTIMATE_PRECISIONS = ("bf16", "fp16", "bf16-mixed", "fp32")


class EstimateInputError(ValueError):
    """Data or cluster facts that cannot be estimated; lists every problem at once."""


@dataclass(frozen=True)
class DataFacts:
    """What the estimator knows about the training data (counted or typed in)."""

    examples: int = field(default=1000, metadata={"help": "Training examples in the dataset."})
    avg_tokens: int = field(
        default=512,
        metadata={"help": "Average tokens per example (prompt and answer together)."},
    )
    dataset_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Total tokens of the dataset when known (counted from the project's "
            "dataset); replaces examples x average tokens."
        },
    )
    decoder_seq_len: int | None = field(
        default=None,
        metadata={
            "help": "Encoder-decoder models only: target length in tokens (default: a quarter "
            "of the sequence length)."
        },
    )

    def __post_init__(self) -> None:
        problems = []
        for name, low, high in (("examples", 1, 10**10), ("avg_tokens", 1, 2_097_152)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                problems.append(
                    f"{name} must be a whole number from {low} to {high}, not {value!r}"
                )
        for name in ("dataset_tokens", "decoder_seq_len"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be positive when given, not {value!r}")
        if problems:
            raise EstimateInputError("; ".join(problems))


@dataclass(frozen=True)
class Cluster:
    """How many GPUs train together and how they split the model."""

    num_gpus: int = field(
        default=1,
        metadata={"help": "GPUs training together (data parallel, each with its own micro batch)."},
    )
    sharding: str = field(
        default="none",
        metadata={
            "help": "How several GPUs split the model: none (DDP), zero2 (gradients and "
            "optimizer states), fsdp (everything, as FSDP full shard or ZeRO-3).",
            "choices": SHARDINGS,
        },
    )

    def __post_init__(self) -> None:
        problems = []
        if (
            not isinstance(self.num_gpus, int)
            or isinstance(self.num_gpus, bool)
            or not 1 <= self.num_gpus <= 1024
        ):
            problems.append(
                f"num_gpus must be a whole number from 1 to 1024, not {self.num_gpus!r}"
            )
        if self.sharding not in SHARDINGS:
            problems.append(
                f"sharding must be one of {', '.join(SHARDINGS)}, not {self.sharding!r}"
            )
        if problems:
            raise EstimateInputError("; ".join(problems))


_DATA_FIELDS = frozenset(f.name for f in dataclasses.fields(DataFacts))
_CLUSTER_FIELDS = frozenset(f.name for f in dataclasses.fields(Cluster))
_RECIPE_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))


@dataclass(frozen=True)
class EstimateRun:
    """A recipe with its data and cluster facts: the one argument of the estimator's terms.

    `precision_override` is for reproducing other training stacks' published measurements
    (pure bf16 full fine-tuning, fp32 weights under LoRA): an estimator precision, never a
    training setting. `bf16_supported` is the GPU's, set by `estimate` so that the recipe's
    "auto" precision resolves as the trainer resolves it on that card.
    """

    recipe: TrainConfig = field(default_factory=TrainConfig)
    data: DataFacts = field(default_factory=DataFacts)
    cluster: Cluster = field(default_factory=Cluster)
    precision_override: str | None = None
    bf16_supported: bool = True

    def __post_init__(self) -> None:
        if self.precision_override not in (None, *ESTIMATE_PRECISIONS):
            raise EstimateInputError(
                f"precision_override must be one of {', '.join(ESTIMATE_PRECISIONS)}, "
                f"not {self.precision_override!r}"
            )

    # The recipe's settings, as the estimator's terms read them ---------------------
    @property
    def method(self) -> str:
        return self.recipe.method

    @property
    def precision(self) -> str:
        """The estimator's precision: the trainer loads full fine-tuning in fp32 and
        autocasts to bf16 (bf16-mixed); the adapter methods load the base in the compute
        precision (core.training.model_loading)."""
        if self.precision_override is not None:
            return self.precision_override
        precision = self.recipe.precision
        if precision == "auto":
            precision = "bf16" if self.bf16_supported else "fp16"
        if precision == "bf16" and self.method == "full":
            return "bf16-mixed"
        return precision

    @property
    def optimizer(self) -> str:
        """The optimizer the trainer uses on a CUDA GPU."""
        return self.recipe.effective_optimizer("cuda")

    @property
    def micro_batch_size(self) -> int:
        return self.recipe.micro_batch_size

    @property
    def sequences_per_micro_batch(self) -> int:
        """Sequences in one forward: DPO puts each pair's chosen and rejected answers in the
        same batch, so twice the micro batch (of pairs); GRPO trains on every answer of
        each prompt, grpo_num_generations times the micro batch (of prompts)."""
        if self.recipe.stage == "grpo":
            return self.micro_batch_size * self.recipe.grpo_num_generations
        return self.micro_batch_size * (2 if self.recipe.stage == "dpo" else 1)

    @property
    def gradient_accumulation(self) -> int:
        return self.recipe.gradient_accumulation

    @property
    def max_seq_length(self) -> int:
        """The longest sequence a step trains on; for GRPO the prompt (at most
        max_seq_length) and the answer the model writes (grpo_max_completion_length)."""
        if self.recipe.stage == "grpo":
            return self.recipe.max_seq_length + self.recipe.grpo_max_completion_length
        return self.recipe.max_seq_length

    @property
    def packing(self) -> bool:
        # Only SFT packs: DPO and GRPO batches are whole pairs and prompts, padded.
        return self.recipe.packing and self.recipe.stage == "sft"

    @property
    def gradient_checkpointing(self) -> bool:
        return self.recipe.gradient_checkpointing

    @property
    def lora_r(self) -> int:
        return self.recipe.lora_r

    @property
    def lora_target_modules(self) -> tuple[str, ...]:
        return tuple(self.recipe.lora_target_modules)

    @property
    def dropout_off(self) -> bool:
        """TRL's DPOTrainer turns every dropout of the model off, LoRA's included
        (DPOConfig.disable_dropout, on by default; dpo_setup keeps it)."""
        return self.recipe.stage == "dpo"

    @property
    def lora_dropout(self) -> float:
        return 0.0 if self.dropout_off else self.recipe.lora_dropout

    @property
    def double_quant(self) -> bool:
        return self.recipe.double_quant

    @property
    def epochs(self) -> float:
        """Passes over the data. A step limit (epochs 0) is turned into passes in
        training_time, where the steps per epoch are known."""
        return self.recipe.epochs

    @property
    def max_steps(self) -> int:
        return self.recipe.max_steps

    # Data and cluster facts -----------------------------------------------------------
    @property
    def examples(self) -> int:
        return self.data.examples

    @property
    def avg_tokens(self) -> int:
        return self.data.avg_tokens

    @property
    def dataset_tokens(self) -> int | None:
        return self.data.dataset_tokens

    @property
    def decoder_seq_len(self) -> int | None:
        return self.data.decoder_seq_len

    @property
    def num_gpus(self) -> int:
        return self.cluster.num_gpus

    @property
    def sharding(self) -> str:
        return self.cluster.sharding

    # Derived facts ------------------------------------------------------------------
    @property
    def trains_adapters(self) -> bool:
        return METHODS[self.method].trains_adapters

    @property
    def quantized_bits(self) -> int | None:
        return METHODS[self.method].quantized_bits

    @property
    def effective_batch(self) -> int:
        return self.micro_batch_size * self.gradient_accumulation * self.num_gpus

    @property
    def effective_sharding(self) -> str:
        return self.sharding if self.num_gpus > 1 else "none"

    def target_names(self) -> tuple[str, ...] | None:
        """None for all-linear, else the module names (the recipe validated them)."""
        names = tuple(name.strip() for name in self.lora_target_modules if name.strip())
        return None if is_all_linear(names) else names

    def replace(self, **changes) -> EstimateRun:
        """The same run with some settings or facts changed, each where it lives."""
        recipe = {k: v for k, v in changes.items() if k in _RECIPE_FIELDS}
        data = {k: v for k, v in changes.items() if k in _DATA_FIELDS}
        cluster = {k: v for k, v in changes.items() if k in _CLUSTER_FIELDS}
        own = {k: v for k, v in changes.items() if k in ("precision_override", "bf16_supported")}
        unknown = set(changes) - set(recipe) - set(data) - set(cluster) - set(own)
        if unknown:
            raise TypeError(f"EstimateRun has no setting {', '.join(sorted(unknown))}")
        return dataclasses.replace(
            self,
            recipe=self.recipe.replace(**recipe) if recipe else self.recipe,
            data=dataclasses.replace(self.data, **data) if data else self.data,
            cluster=dataclasses.replace(self.cluster, **cluster) if cluster else self.cluster,
            **own,
        )

    def as_dict(self) -> dict:
        """One flat mapping (the CLI's --json): the recipe's settings with precision and
        optimizer as estimated, and the data and cluster facts."""
        return {
            **self.recipe.as_dict(),
            **dataclasses.asdict(self.data),
            **dataclasses.asdict(self.cluster),
            "precision": self.precision,
            "optimizer": self.optimizer,
        }


def run_for_recipe(
    recipe: TrainConfig,
    *,
    device: str = "cuda",
    resolved_precision: str | None = None,
    used_optimizer: str | None = None,
    bf16_supported: bool = True,
    examples: int | None = None,
    avg_tokens: int | None = None,
    dataset_tokens: int | None = None,
    num_gpus: int = 1,
    sharding: str = "none",
) -> EstimateRun:
    """The run a trainer does (or did) with `recipe` on `device`: the precision it resolved
    and the optimizer it used (a DevicePlan's or run.json's) replace the recipe's "auto"
    (anything else there, as an old run.json may hold, is ignored); data facts that are
    unknown (None, 0) keep the estimator's defaults."""
    changes: dict = {}
    if resolved_precision in RESOLVED_PRECISIONS:
        changes["precision"] = resolved_precision
    if used_optimizer and used_optimizer in OPTIMIZERS:
        changes["optimizer"] = used_optimizer
    elif recipe.optimizer == "auto" and device != "cuda":
        changes["optimizer"] = recipe.effective_optimizer(device)
    data: dict = {}
    if examples:
        data["examples"] = max(1, int(examples))
    if avg_tokens:
        data["avg_tokens"] = max(1, int(avg_tokens))
    if dataset_tokens and dataset_tokens > 0:
        data["dataset_tokens"] = int(dataset_tokens)
    return EstimateRun(
        recipe.replace(**changes) if changes else recipe,
        DataFacts(**data),
        Cluster(num_gpus, sharding),
        bf16_supported=bf16_supported,
    )


def estimate_run(
    recipe: TrainConfig | None = None,
    *,
    data: DataFacts | None = None,
    cluster: Cluster | None = None,
    **facts,
) -> EstimateRun:
    """Shorthand: estimate_run(recipe, examples=5000, num_gpus=2) puts each keyword where
    it lives (recipe settings, data or cluster facts)."""
    run = EstimateRun(recipe or TrainConfig(), data or DataFacts(), cluster or Cluster())
    return run.replace(**facts) if facts else run
