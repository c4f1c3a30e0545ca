"""`finetune-studio estimate`: memory, time and cost of full, LoRA and QLoRA, and the pick."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from core.errors import EXIT_OK, EXIT_USAGE
from core.estimate.architecture import ArchitectureError, load_architecture
from core.estimate.capacity import max_seq_length_per_method
from core.estimate.gpus import GpuCatalogError, detected_gpu, find_gpu, gpu_catalog
from core.estimate.recommend import TASK_KINDS, Goals, recommend
from core.estimate.report import recommendation_dict, recommendation_text
from core.estimate.run import SHARDINGS, Cluster, DataFacts, EstimateRun
from core.hardware import detect_hardware
from core.methods import METHOD_NAMES, METHOD_TITLES
from core.models.hub_cache import looks_like_hub_id
from core.models.hub_config import HubConfigMissing, hub_model_config
from core.recipe.config import TrainConfig, TrainConfigError, load_config
from core.recipe.vocabularies import OPTIMIZERS, PRECISIONS, SAVER_CHOICES, parse_targets

DEFAULTS = TrainConfig()
DATA_DEFAULTS = DataFacts()
# The flags that are recipe settings: given, they replace the --config file's value.
RECIPE_FLAGS = (
    "micro_batch_size",
    "gradient_accumulation",
    "max_seq_length",
    "lora_r",
    "lora_target_modules",
    "gradient_checkpointing",
    "packing",
    "optimizer",
    "precision",
    "epochs",
    "frozen_16bit",
    "offload_activations",
    "tiled_mlp",
    "lora_dropout",
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="peak GPU memory, time and cost of full fine-tuning, LoRA and QLoRA; the pick",
        description="Estimates each method for a model on a GPU without loading anything, and "
        "recommends one. Defaults are the fine-tuning guide's.",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="catalog name, Hugging Face id (org/name), model folder, or config.json",
    )
    parser.add_argument(
        "--fetch-config",
        action="store_true",
        help="for a Hugging Face id not in the cache: download only its config.json",
    )
    parser.add_argument(
        "--gpu", default="auto", help="catalog GPU name, or auto for the detected one (default)"
    )
    parser.add_argument("--gpus", type=int, default=1, help="number of GPUs (default 1)")
    parser.add_argument(
        "--sharding",
        choices=SHARDINGS,
        help="how several GPUs split the model (default: fsdp when --gpus > 1)",
    )
    parser.add_argument(
        "--method",
        choices=("auto", *METHOD_NAMES),
        help="report this method, or auto for the recommended one (default: auto, or the "
        "--config file's method)",
    )
    parser.add_argument(
        "--config",
        help="a training configuration (YAML, as `train` takes): estimate that recipe; the "
        "flags below replace its settings where given",
    )
    parser.add_argument(
        "--batch",
        dest="micro_batch_size",
        type=int,
        help=f"micro batch (default {DEFAULTS.micro_batch_size})",
    )
    # Short flags for the command line, read into TrainConfig's names.
    parser.add_argument(
        "--grad-accum",
        dest="gradient_accumulation",
        type=int,
        help=f"gradient accumulation steps (default {DEFAULTS.gradient_accumulation})",
    )
    parser.add_argument(
        "--seq-len",
        dest="max_seq_length",
        type=int,
        help=f"maximum tokens per sequence (default {DEFAULTS.max_seq_length})",
    )
    parser.add_argument("--lora-r", type=int, help=f"LoRA rank (default {DEFAULTS.lora_r})")
    parser.add_argument(
        "--lora-targets",
        dest="lora_target_modules",
        type=parse_targets,
        help="all-linear (default) or q_proj,v_proj,...",
    )
    parser.add_argument(
        "--grad-checkpointing",
        dest="gradient_checkpointing",
        action=argparse.BooleanOptionalAction,
        help="recompute activations in the backward pass (default on)",
    )
    parser.add_argument(
        "--packing",
        action=argparse.BooleanOptionalAction,
        help="pack examples into full sequences (default on)",
    )
    parser.add_argument(
        "--optim", dest="optimizer", help=f"one of {', '.join(OPTIMIZERS)} (default auto)"
    )
    parser.add_argument("--precision", choices=PRECISIONS, help="default auto")
    # Memory savers: auto (the default) turns one on only when the run needs it.
    parser.add_argument(
        "--frozen-16bit",
        choices=SAVER_CHOICES,
        help="QLoRA/8-bit: embeddings, LM head and norms in 16 bit, not fp32 (no slowdown)",
    )
    parser.add_argument(
        "--offload-activations",
        choices=SAVER_CHOICES,
        help="checkpointed layer inputs in CPU RAM (about 5 %% slower, uses CPU RAM)",
    )
    parser.add_argument(
        "--tiled-mlp",
        choices=SAVER_CHOICES,
        help="the MLP over 4,096 tokens at a time (about 10-15 %% slower)",
    )
    parser.add_argument(
        "--lora-dropout",
        type=float,
        help="LoRA dropout (default 0.05); 0 saves memory, with less regularisation",
    )
    parser.add_argument("--examples", type=int, default=DATA_DEFAULTS.examples)
    parser.add_argument("--avg-tokens", type=int, default=DATA_DEFAULTS.avg_tokens)
    parser.add_argument("--epochs", type=float, help=f"default {DEFAULTS.epochs:g}")
    parser.add_argument(
        "--task", choices=TASK_KINDS, help="what the fine-tuning teaches (from the Decide wizard)"
    )
    parser.add_argument(
        "--keep-broad",
        action="store_true",
        help="the model must keep its general skills (argues against full fine-tuning)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="also run our real training step on a simulated GPU (on the CPU, no weights, "
        "about a second per layer) and compare its peak with the estimate",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_estimate)


def _gpu(name: str):
    if name.lower() != "auto":
        return find_gpu(name)

    gpu = detected_gpu(detect_hardware())
    if gpu is None:
        raise GpuCatalogError(
            "no CUDA GPU detected; name one with --gpu (for example "
            f"{', '.join(list(gpu_catalog())[:4])}, ...)"
        )
    return gpu


def _load_model(text: str, fetch: bool):
    """A Hub id is read from the catalog or a cached (or, if asked, fetched) config.json."""
    if not looks_like_hub_id(text):
        return load_architecture(text)
    try:
        source = hub_model_config(
            text, fetch=fetch, progress=lambda fraction, message: print(message, file=sys.stderr)
        )
    except HubConfigMissing as error:
        raise ArchitectureError(str(error)) from None
    model = load_architecture(source)
    # A cached config.json sits in a folder named for its commit: show the Hub id instead.
    return model if isinstance(source, str) else dataclasses.replace(model, name=text)


def run_estimate(args: argparse.Namespace) -> int:
    try:
        model = _load_model(args.model, args.fetch_config)
        gpu = _gpu(args.gpu)
        recipe = load_config(args.config) if args.config else DEFAULTS
        changes = {name: getattr(args, name) for name in RECIPE_FLAGS}
        changes = {name: value for name, value in changes.items() if value is not None}
        method = args.method or (recipe.method if args.config else "auto")
        if method != "auto":
            changes["method"] = method
        settings = EstimateRun(
            recipe.replace(**changes),
            DataFacts(examples=args.examples, avg_tokens=args.avg_tokens),
            Cluster(args.gpus, args.sharding or ("fsdp" if args.gpus > 1 else "none")),
        )
        goals = Goals(
            task_kind=args.task, examples=args.examples, keep_broad_capabilities=args.keep_broad
        )
        rec = recommend(model, settings, gpu, goals, method=method)
    except (ArchitectureError, GpuCatalogError, TrainConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    simulation = None
    if args.simulate:
        # The simulated step is training's (core.training.simulate, above this package):
        # the command line wires it in as `simulate_with` (core.cli).
        simulate_with = getattr(args, "simulate_with", None)
        simulation = (
            simulate_with(rec, args.model)
            if simulate_with is not None
            else {"error": "the simulation is not available in this installation"}
        )
    longest = max_seq_length_per_method(model, settings, gpu)
    if args.json:
        data = recommendation_dict(rec)
        data["max_seq_length_that_fits"] = longest
        if simulation is not None:
            data["simulation"] = simulation
        print(json.dumps(data, indent=2))
    else:
        print(recommendation_text(rec))
        if rec.chosen.savers_turned_on:
            print("Memory savers turned on to fit: " + "; ".join(rec.chosen.savers_turned_on))
        print(
            f"Longest context that fits at micro batch {settings.micro_batch_size} "
            "(memory savers as needed): "
            + ", ".join(f"{METHOD_TITLES[m]} {n:,}" for m, n in longest.items())
        )
        if simulation is not None:
            print(simulation.get("line") or f"Simulation: {simulation['error']}")
    return EXIT_OK
