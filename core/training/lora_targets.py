"""Which layers of a loaded model get LoRA adapters.

`lora_target_modules` is either PEFT's "all-linear" (the default: every linear layer but
the output head, whatever the family calls them: q_proj on Llama, dense/fc1 on Phi-2,
c_attn/c_fc on StarCoder) or a list of layer names. Names are checked against the loaded
model before training, so a typo or a name from another family is one clear error and not
PEFT's "target modules not found" after loading, or a silent attention-only run.

Mixture-of-experts models in transformers 5 (Mixtral, Qwen-MoE, OLMoE ...) keep each
layer's experts as fused 3-D parameters (experts.gate_up_proj, experts.down_proj) and the
router as a plain weight, not as linear layers, so no target name reaches them. For
all-linear they are found by inspecting the model and handed to PEFT as
`target_parameters` (its ParamWrapper gives every expert its own rank-r adapter). PEFT
cannot apply dropout there, so such a run trains without LoRA dropout (and says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.recipe.config import TrainConfigError
from core.recipe.vocabularies import ALL_LINEAR, is_all_linear


@dataclass(frozen=True)
class LoraTargets:
    """What PEFT is asked to adapt, resolved against one loaded model."""

    modules: tuple[str, ...]  # linear layer names (leaf names, as PEFT matches them)
    parameters: tuple[str, ...] = ()  # PEFT target_parameters: fused experts and routers
    dropout: float = 0.0  # the LoRA dropout the run can use
    notes: tuple[str, ...] = field(default=())  # what differs from the settings, for the log
    # Set on an MoE model whose experts the targets do not reach (the user should hear it).
    experts_left_out: str = ""


def _linear_types() -> tuple[type, ...]:
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    from transformers.pytorch_utils import Conv1D

    # bitsandbytes' Linear4bit and Linear8bitLt subclass torch.nn.Linear.
    return (torch.nn.Linear, Conv1D)


def _output_head_names(model) -> set[str]:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None:
        return set()
    return {name for name, module in model.named_modules() if module is head}


def linear_layers(model) -> list[str]:
    """Full names of every linear layer but the output head (what all-linear adapts)."""
    kinds = _linear_types()
    heads = _output_head_names(model)
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, kinds) and name not in heads and "lora_" not in name
    ]


def linear_layer_names(model) -> list[str]:
    """The distinct leaf names of the model's linear layers (q_proj, dense, c_fc ...)."""
    return sorted({name.rsplit(".", 1)[-1] for name in linear_layers(model)})


def _relative(name: str) -> str:
    """A parameter's name within its repeated block: model.layers.3.mlp.experts.down_proj
    becomes mlp.experts.down_proj (PEFT matches target_parameters by suffix)."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[index + 1 :])
    return name


def expert_parameters(model) -> list[str]:
    """PEFT target_parameters for the experts and routers of a transformers-5 MoE model.

    Found by inspection rather than per architecture: every 3-D parameter is a stack of
    experts' weights (one matrix per expert); a 2-D weight of a non-linear module beside
    the experts, with one row per expert, is the router that was a linear layer before.
    """
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    kinds = _linear_types()
    modules = dict(model.named_modules())
    found: list[str] = []
    expert_counts: dict[str, set[int]] = {}  # the MoE block holding the experts -> counts
    for name, param in model.named_parameters():
        if param.ndim != 3 or "lora_" in name:
            continue
        owner = name.rsplit(".", 1)[0]
        if isinstance(modules.get(owner), kinds):
            continue
        found.append(_relative(name))
        block = owner.rsplit(".", 1)[0] if "." in owner else ""
        expert_counts.setdefault(block, set()).add(int(param.shape[0]))
    for block, counts in expert_counts.items():
        parent = modules.get(block)
        if parent is None:
            continue
        for child_name, child in parent.named_children():
            weight = getattr(child, "weight", None)
            if (
                not isinstance(child, kinds)
                and isinstance(weight, torch.nn.Parameter)
                and weight.ndim == 2
                and int(weight.shape[0]) in counts
            ):
                prefix = f"{block}.{child_name}" if block else child_name
                found.append(_relative(f"{prefix}.weight"))
    return sorted(set(found))


def _matches(name: str, module_name: str) -> bool:
    # PEFT's rule for a list of target modules: the whole name or a dotted suffix.
    return module_name == name or module_name.endswith("." + name)


def resolve_targets(config, model, strict: bool = True) -> LoraTargets:
    """The targets for `config.lora_target_modules` on `model`; TrainConfigError if a
    name matches no layer of it. `strict=False` is for resuming a run: its checkpoint
    already holds adapters for the names that matched when it started (PEFT then skipped
    the others), so those are kept, the rest named in a note, and only a list matching
    nothing at all is refused."""
    requested = [name.strip() for name in config.lora_target_modules if name.strip()]
    linear_names = linear_layer_names(model)
    experts = expert_parameters(model)
    if is_all_linear(requested):
        if not linear_names and not experts:
            raise TrainConfigError(
                "lora_target_modules", "all-linear: this model has no linear layers to adapt."
            )
        if not experts:
            return LoraTargets(tuple(linear_names), dropout=config.lora_dropout)
        notes = [
            f"LoRA adapts every linear layer ({', '.join(linear_names)}) and the experts and "
            f"routers of the mixture of experts ({', '.join(experts)})"
        ]
        if config.lora_dropout > 0:
            notes.append(
                f"LoRA dropout {config.lora_dropout:g} is off for this run: PEFT cannot apply "
                "dropout to the experts' fused weights"
            )
        return LoraTargets(tuple(linear_names), tuple(experts), 0.0, tuple(notes))

    module_names = [name for name, _module in model.named_modules()]
    missing = [
        name
        for name in requested
        if not any(_matches(name, module_name) for module_name in module_names)
    ]
    notes: tuple[str, ...] = ()
    if missing and not strict and len(missing) < len(requested):
        requested = [name for name in requested if name not in missing]
        notes = (
            f"lora_target_modules: {', '.join(missing)} match no layer of this model; the "
            f"resumed run keeps training {', '.join(requested)}, as it did from the start",
        )
    elif missing:
        model_name = getattr(getattr(model, "config", None), "model_type", "") or "this model"
        raise TrainConfigError(
            "lora_target_modules",
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not a layer of "
            f"{model_name}; its linear layers are {', '.join(linear_names) or 'none'} "
            f"(or use {ALL_LINEAR}).",
        )
    left_out = ""
    if experts:
        left_out = (
            f"LoRA trains {', '.join(requested)} only, not the experts and router of this "
            f"mixture of experts ({', '.join(experts)}): layer names cannot reach the "
            f"experts' fused weights; use {ALL_LINEAR} to adapt them too"
        )
    return LoraTargets(
        tuple(requested), dropout=config.lora_dropout, notes=notes, experts_left_out=left_out
    )
