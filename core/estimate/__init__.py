"""Estimate: peak GPU memory, training time and cost of full fine-tuning, LoRA and QLoRA.

Pure Python (no torch): it reads a model's config facts and does arithmetic, so it answers
in well under a millisecond, before anything is downloaded or trained.

    from core.estimate import load_architecture, find_gpu, EstimateRun, estimate, recommend
    from core.recipe import TrainConfig
    model = load_architecture("Llama-3.1-8B")      # catalog name, HF folder or config.json
    gpu = find_gpu("RTX 4090")                       # or detected_gpu(detect_hardware())
    run = EstimateRun(TrainConfig(method="qlora"), DataFacts(examples=5000), Cluster())
    result = estimate(model, run, gpu)
    result.fits, result.peak_gib, result.memory.breakdown(), result.hours, result.cost_usd
    pick = recommend(model, EstimateRun(), gpu, Goals(task_kind="format"))
    pick.method, pick.reason, pick.estimates, pick.fitting_fixes()
"""

from core.estimate.architecture import (
    ArchitectureError,
    ModelArchitecture,
    architecture_from_config,
    catalog_names,
    load_architecture,
)
from core.estimate.estimator import Estimate, compare_methods, estimate
from core.estimate.fit import Suggestion, suggest_fits
from core.estimate.gpus import (
    GpuCatalogError,
    GpuSpec,
    detected_gpu,
    find_gpu,
    gpu_catalog,
    remove_user_gpu,
    save_user_gpu,
)
from core.estimate.recommend import Goals, Recommendation, recommend
from core.estimate.run import Cluster, DataFacts, EstimateRun, estimate_run, run_for_recipe
from core.estimate.settings import OPTIMIZER_STATE, PROJECT_STACK, StackAssumptions

__all__ = [
    "OPTIMIZER_STATE",
    "PROJECT_STACK",
    "ArchitectureError",
    "Cluster",
    "DataFacts",
    "Estimate",
    "EstimateRun",
    "Goals",
    "GpuCatalogError",
    "GpuSpec",
    "ModelArchitecture",
    "Recommendation",
    "StackAssumptions",
    "Suggestion",
    "architecture_from_config",
    "catalog_names",
    "compare_methods",
    "detected_gpu",
    "estimate",
    "estimate_run",
    "find_gpu",
    "gpu_catalog",
    "load_architecture",
    "recommend",
    "remove_user_gpu",
    "run_for_recipe",
    "save_user_gpu",
    "suggest_fits",
]
