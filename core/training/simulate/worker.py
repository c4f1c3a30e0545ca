"""The simulation's own process: `python -m core.training.simulate.worker REQUEST RESULT`.

The fake GPU changes torch and the libraries for the rest of the process, so simulations
never run in the app or the test process: they run here, and the results come back as
JSON. REQUEST: {"steps": n, "cases": [{"model_config": {...}, "train_config": {...}}]};
RESULT: one object per case, the measured figures or {"error": "one line"}.
"""

from __future__ import annotations

import json
import sys

from core.recipe.config import config_from_dict
from core.training.simulate.dpo_step import run_simulated_dpo_steps
from core.training.simulate.fake_cuda import unavailable_reason
from core.training.simulate.grpo_step import run_simulated_grpo_steps
from core.training.simulate.step import run_simulated_steps

# Each stage's step; SFT for any other.
STAGE_STEPS = {"dpo": run_simulated_dpo_steps, "grpo": run_simulated_grpo_steps}


def run_case(case: dict, steps: int) -> dict:
    # all-linear is resolved against the model by the trainer's own lora_config, experts
    # of a mixture of experts included, exactly as a real run resolves it.
    config = config_from_dict(dict(case["train_config"]), "the simulated run's settings")
    return STAGE_STEPS.get(config.stage, run_simulated_steps)(case["model_config"], config, steps)


def main(argv: list[str]) -> int:
    request_path, result_path = argv
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)

    reason = unavailable_reason()
    results = []
    for case in request["cases"]:
        if reason:
            results.append({"error": reason})
            continue
        try:
            results.append(run_case(case, int(request.get("steps", 2))))
        except Exception as error:  # one case failing must not lose the others' figures
            first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
            results.append({"error": f"{type(error).__name__}: {first}"})
        with open(result_path, "w", encoding="utf-8") as handle:
            json.dump(results, handle)
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
