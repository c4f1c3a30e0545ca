"""The figures the decision wizard quotes, taken from the fine-tuning guide (the seed).

Each constant says where in the guide it comes from, so the product and its source
never drift apart silently. Figures we had to assume are marked as ours.
"""

from __future__ import annotations

# "Dataset Size": 50-200 for simple format or style changes, 500-2,000 for moderate
# domain adaptation (terminology and conventions), 2,000-10,000 for new reasoning patterns.
EXAMPLES_NEEDED: dict[str, tuple[int, int]] = {
    "format": (50, 200),
    "domain": (500, 2_000),
    "reasoning": (2_000, 10_000),
}

# "The rank parameter": 4-8 for format or tone, start at 16, 32-128 for new reasoning.
LORA_RANK: dict[str, int] = {"format": 8, "domain": 16, "reasoning": 64}

TASK_KIND_TITLES: dict[str, str] = {
    "format": "a format or style change",
    "domain": "domain adaptation (a field's terminology and conventions)",
    "reasoning": "new reasoning patterns or complex behaviour",
}

# "Cost Analysis": 2,000 high-quality examples take 80-160 hours of expert time.
EXPERT_HOURS_PER_EXAMPLE: tuple[float, float] = (80 / 2_000, 160 / 2_000)

# "at market rates can easily exceed $10,000" for 160 hours: about $60-75 an hour.
DEFAULT_EXPERT_RATE_USD = 75.0

# "Human Evaluation": an evaluation set of 100-200 representative examples.
EVAL_EXAMPLES: tuple[int, int] = (100, 200)

# Ours: minutes an expert spends rating one blind base-versus-fine-tuned pair.
RATING_MINUTES_PER_EXAMPLE: tuple[float, float] = (1.0, 2.0)

# "Budget for at least 3-5 iterations before expecting production-quality results."
ITERATIONS: tuple[int, int] = (3, 5)

# "budget for 10-20 runs minimum during development".
TRAINING_RUNS: tuple[int, int] = (10, 20)

# "7B model using QLoRA ... approximately $5-20 per training run on a single A100".
COST_PER_RUN_7B_QLORA_USD: tuple[float, float] = (5.0, 20.0)

# "70B model using QLoRA, costs increase to $50-200 per training run."
COST_PER_RUN_70B_QLORA_USD: tuple[float, float] = (50.0, 200.0)

# "The total cost of a well-executed fine-tuning project ... typically $5,000-$30,000".
TYPICAL_PROJECT_TOTAL_USD: tuple[int, int] = (5_000, 30_000)

# "With small datasets (under 1,000 examples), overfitting can begin within a single epoch".
SMALL_DATASET_EXAMPLES = 1_000
