"""Sample answers of the model a GRPO run starts from, scored by its rewards: the reward
editor's preview and GRPO's pre-flight (the generation every step will do, timed once).

The model is the run's starting point: the base model, or the base with the adapter of
the run it continues (start_from). Answers are sampled as GRPO samples them (the run's
temperature and answer length), several per prompt, so the preview shows whether the
answers to one prompt differ in reward: when they never do, GRPO has nothing to learn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.recipe.config import TrainConfig
from core.rewards.preview import Preview, score_answers
from core.rewards.spec import RewardSpec
from core.training.device import resolve_device
from core.training.grpo_data import PromptExample, read_prompt_data
from core.training.model_loading import load_tokenizer
from core.training.prepare import resolve_base_model
from core.training.start_from import load_policy_model


@dataclass(frozen=True)
class SampledPreview:
    preview: Preview
    seconds: float  # generation time of all answers
    answer_tokens: int  # tokens generated, all answers together
    flat_groups: int  # prompts whose answers all scored the same total
    n_prompts: int

    def summary(self) -> str:
        rate = self.answer_tokens / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.preview.summary()}; {self.answer_tokens} answer tokens in "
            f"{self.seconds:.1f} s ({rate:.0f} tokens/s); {self.flat_groups} of "
            f"{self.n_prompts} prompts got answers that all scored the same"
        )


def sample_answers(
    model, tokenizer, examples: list[PromptExample], config: TrainConfig, per_prompt: int
) -> tuple[list[list[str]], float, int]:
    """`per_prompt` sampled answers to each example (GRPO's sampling settings), the
    seconds it took and the tokens generated."""
    # torch is heavy: imported when a model is loaded
    import torch

    answers: list[list[str]] = []
    tokens = 0
    start = time.perf_counter()
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    was_training = model.training
    model.eval()
    try:
        for example in examples:
            encoded = tokenizer.apply_chat_template(
                example.prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
            ).to(device)
            with torch.no_grad():
                output = model.generate(
                    **encoded,
                    do_sample=True,
                    temperature=config.grpo_temperature,
                    max_new_tokens=config.grpo_max_completion_length,
                    num_return_sequences=per_prompt,
                    pad_token_id=pad,
                )
            new = output[:, encoded["input_ids"].shape[1] :]
            tokens += int((new != pad).sum())
            answers.append(tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        model.train(was_training)
    return answers, time.perf_counter() - start, tokens


def preview_samples(
    model,
    tokenizer,
    spec: RewardSpec,
    examples: list[PromptExample],
    config: TrainConfig,
    per_prompt: int = 2,
) -> SampledPreview:
    """Sampled answers to the examples scored by the spec."""
    answers, seconds, tokens = sample_answers(model, tokenizer, examples, config, per_prompt)
    samples = [
        (example.user_text, answer, example.reference)
        for example, group in zip(examples, answers)
        for answer in group
    ]
    preview = score_answers(spec, samples)
    flat = 0
    for i in range(len(examples)):
        totals = {round(a.total, 6) for a in preview.answers[i * per_prompt : (i + 1) * per_prompt]}
        flat += len(totals) == 1
    return SampledPreview(preview, seconds, tokens, flat, len(examples))


def preview_rewards(
    project, config: TrainConfig, n_prompts: int = 4, per_prompt: int = 2
) -> SampledPreview:
    """The preview for a recipe before training: its rewards, its data's first prompts,
    the model it would start from. Raises TrainConfigError / TrainingDataError as a run
    would, before loading anything when the rewards or data are wrong."""
    data = read_prompt_data(project, config)
    base = resolve_base_model(project, config)
    plan = resolve_device(config)
    tokenizer = load_tokenizer(base.path)
    model, _adapter = load_policy_model(project, config, plan, base.path)
    return preview_samples(model, tokenizer, data.spec, data.train[:n_prompts], config, per_prompt)
