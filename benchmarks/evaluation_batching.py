"""How much batched, length-sorted, left-padded generation saves over one prompt at a time.

Runs both on the same prompts in the same process (the machine is noisy) with the
bundled SmolLM2-135M (or --model FOLDER), checks the answers are identical, and prints
the ratio. Usage: python benchmarks/evaluation_batching.py [--prompts 16] [--tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = [
    "My invoice shows a charge twice.",
    "Where is my parcel? It is a week late.",
    "I cannot log in after resetting my password, what should I do now?",
    "Please delete my account.",
    "The package arrived broken.",
    "Can I change the delivery address of an order I placed yesterday evening?",
    "Refund please.",
    "How do I update my email address?",
]


def main() -> None:
    from core.evaluation.eval_set import eval_set_from_examples
    from core.evaluation.generation import GenerationConfig, generate_answers, load_model
    from core.evaluation.models import baseline_spec
    from core.models.bundled import ensure_bundled_model

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="model folder (default: the bundled SmolLM2-135M)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    folder = args.model or str(ensure_bundled_model())
    records = [
        {"messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" (#{i})"}]}
        for i in range(args.prompts)
    ]
    eval_set = eval_set_from_examples("bench", "memory", records)
    loaded = load_model(baseline_spec(folder, "Classify the request. Reply in JSON."))
    timings, answers = {}, {}
    # Warm-up so neither side pays for first-call allocation.
    generate_answers(loaded, eval_set.examples[:2], GenerationConfig(max_new_tokens=4))
    for batch_size in (1, args.batch_size):
        config = GenerationConfig(max_new_tokens=args.tokens, batch_size=batch_size)
        start = time.perf_counter()
        answers[batch_size] = [
            g.answer for g in generate_answers(loaded, eval_set.examples, config)
        ]
        timings[batch_size] = time.perf_counter() - start
    same = answers[1] == answers[args.batch_size]
    print(
        f"model: {Path(folder).name}, {args.prompts} prompts, up to {args.tokens} new tokens, "
        f"device {loaded.device}"
    )
    print(f"one at a time:      {timings[1]:.2f} s")
    print(f"batches of {args.batch_size:<3}:     {timings[args.batch_size]:.2f} s")
    print(
        f"RATIO (one at a time / batched): {timings[1] / timings[args.batch_size]:.2f}x; "
        f"identical answers: {same}"
    )


if __name__ == "__main__":
    main()
