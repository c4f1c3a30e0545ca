"""LoRA on the experts of a mixture of experts, as this project's trainer does it.

transformers 5 keeps each layer's experts as fused 3-D parameters (gate_up_proj of shape
experts x 2*inner x hidden, down_proj), so layer names cannot reach them. For all-linear
the trainer hands them to PEFT as target_parameters (core.training.lora_targets): every
expert gets its own rank-r adapter on the fused gate_up and on down, and the run has no
LoRA dropout (PEFT's ParamWrapper cannot apply it). In each forward PEFT merges
W + B @ A into a full-size copy of the layer's expert weights, which autograd keeps for
the backward pass, and the backward makes a full-size gradient of it: memory on the
order of the expert weights themselves, not of the adapters.
"""

from __future__ import annotations

from core.estimate.architecture import ModelArchitecture
from core.estimate.run import EstimateRun
from core.estimate.settings import StackAssumptions


def adapts_experts(
    arch: ModelArchitecture, settings: EstimateRun, stack: StackAssumptions | None
) -> bool:
    """Whether LoRA reaches the expert MLPs of this run."""
    if not arch.is_moe or settings.method == "full":
        return False
    if stack is not None and stack.lora_reaches_experts:
        return True
    all_linear = settings.target_names() is None
    return all_linear and (stack is None or stack.all_linear_reaches_experts)


def fused_expert_weights(arch: ModelArchitecture) -> bool:
    """The experts are target_parameters (fused gate_up), not linear layers."""
    return arch.is_moe


def expert_lora_counts(arch: ModelArchitecture, r: int) -> tuple[int, int]:
    """(LoRA parameters, adapted expert matrices) over all layers: one adapter per expert
    on the fused gate_up (hidden -> 2*inner) and one on down (inner -> hidden)."""
    params = matrices = 0
    seen_gate_input: set[tuple[str, int]] = set()
    for layer in arch.linear_layers():
        if not layer.expert:
            continue
        if layer.role in ("gate", "up"):
            # gate and up are one fused parameter: one shared input side of the adapter.
            key = (layer.block, layer.d_in)
            params += r * layer.d_out * layer.count
            if key not in seen_gate_input:
                seen_gate_input.add(key)
                params += r * layer.d_in * layer.count
                matrices += layer.count
        else:
            params += r * (layer.d_in + layer.d_out) * layer.count
            matrices += layer.count
    return params, matrices


def merged_expert_bytes(arch: ModelArchitecture, settings: EstimateRun, weight_bytes: int) -> float:
    """Bytes at the backward peak for the merged expert weights: each layer whose
    activations are kept holds its merged copy (one layer with gradient checkpointing, as
    it is recomputed), and the gradient of the fused gate_up replaces the already-freed
    down_proj's copy while the backward works on it."""
    if not arch.num_layers:
        return 0.0
    per_layer = sum(layer.params for layer in arch.linear_layers() if layer.expert)
    per_layer /= arch.num_layers
    down = sum(
        layer.params for layer in arch.linear_layers() if layer.expert and layer.role == "down"
    )
    down /= arch.num_layers
    gate_up = per_layer - down
    kept_layers = 1 if settings.gradient_checkpointing else arch.num_layers
    return weight_bytes * (per_layer * kept_layers + max(0.0, gate_up - down))
