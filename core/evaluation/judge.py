"""LLM-as-judge: a model rates A/B pairs on the same rubric as the human raters.

The judge is any local model folder (the bundled one for the demo) or an
OpenAI-compatible HTTP endpoint (a local llama.cpp or vLLM server, or a hosted API).
Nothing else in the app needs a judge. Each pair is judged twice, with the answers
in both orders, to cancel the judge's preference for the first (or second) position;
the verdicts are stored as ratings of the rater "judge:<name>".
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.evaluation.ab_pairs import (
    DIMENSION_HELP,
    DIMENSIONS,
    JUDGE,
    MAX_SCORE,
    MIN_SCORE,
    BlindPair,
    Rating,
    blind_pairs,
    record_rating,
)
from core.evaluation.generation import (
    Cancelled,
    EvaluationCancelled,
    Progress,
    load_model,
    release,
    render_prompt,
)
from core.evaluation.models import ModelSpec


class JudgeError(RuntimeError):
    """The judge could not be reached or answered nonsense, with what to check."""


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge runs; no key or endpoint is needed anywhere else in the app."""

    kind: str = field(
        default="local",
        metadata={
            "help": "local: a model folder on this machine; http: an OpenAI-compatible server."
        },
    )
    model_path: str | None = field(
        default=None, metadata={"help": "The local judge model folder (kind 'local')."}
    )
    base_url: str | None = field(
        default=None,
        metadata={"help": "The server's API root, e.g. http://127.0.0.1:8080/v1 (kind 'http')."},
    )
    model_name: str = field(
        default="default", metadata={"help": "The model name the server should use."}
    )
    api_key: str | None = field(
        default=None,
        metadata={"help": "Bearer token, if the server needs one (kept in memory, never stored)."},
    )
    timeout_s: float = field(
        default=60.0, metadata={"help": "Seconds to wait for one verdict before giving up."}
    )
    max_tokens: int = field(
        default=200, metadata={"help": "The longest verdict the judge may write, in tokens."}
    )

    def __post_init__(self) -> None:
        if self.kind not in ("local", "http"):
            raise ValueError(f"kind must be 'local' or 'http', got {self.kind!r}")
        if self.kind == "local" and not self.model_path:
            raise ValueError("a local judge needs a model folder")
        if self.kind == "http" and not re.match(r"https?://", self.base_url or ""):
            raise ValueError("an HTTP judge needs a base URL starting with http:// or https://")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")


class Judge(Protocol):
    name: str

    def complete(self, messages: list[dict]) -> str:
        """The judge's reply to a chat conversation."""


RUBRIC = (
    "You are an impartial expert judging two answers to the same request.\n"
    "Rate each answer from {low} (poor) to {high} (excellent) on:\n{dimensions}\n"
    "Then pick the better answer, or tie if they are equally good. Do not let the order of "
    "the answers or their length sway you.\n"
    'Reply with JSON only, exactly in this shape: {{"A": {{{keys}}}, "B": {{{keys}}}, '
    '"winner": "A" or "B" or "tie"}}'
)


def rubric_text() -> str:
    dimensions = "\n".join(f"- {d}: {DIMENSION_HELP[d]}" for d in DIMENSIONS)
    keys = ", ".join(f'"{d}": n' for d in DIMENSIONS)
    return RUBRIC.format(low=MIN_SCORE, high=MAX_SCORE, dimensions=dimensions, keys=keys)


def judge_messages(
    prompt: tuple[dict, ...] | list[dict], reference: str | None, first: str, second: str
) -> list[dict]:
    """The conversation the judge sees: the rubric, the request, an optional reference, A and B."""
    request = "\n".join(f"[{m['role']}] {m['content']}" for m in prompt)
    parts = [f"## Request\n{request}"]
    if reference:
        parts.append(f"## Reference answer (written by an expert)\n{reference}")
    parts += [f"## Answer A\n{first}", f"## Answer B\n{second}", "## Your verdict (JSON)"]
    return [
        {"role": "system", "content": rubric_text()},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def _first_json_object(text: str) -> dict | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text[match.start() :])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _clean_scores(raw: object) -> dict:
    if not isinstance(raw, dict):
        return {}
    scores = {}
    for dimension in DIMENSIONS:
        value = raw.get(dimension)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            scores[dimension] = int(min(MAX_SCORE, max(MIN_SCORE, round(value))))
    return scores


def parse_verdict(text: str) -> Rating:
    """The judge's reply as a rating of A and B; pick None when no verdict can be read."""
    value = _first_json_object(text)
    pick, scores = None, {}
    if value is not None:
        winner = str(value.get("winner", "")).strip().strip('"').casefold()
        pick = {"a": "A", "b": "B", "tie": "tie"}.get(winner)
        scores = {side: _clean_scores(value.get(side)) for side in ("A", "B")}
        scores = {side: s for side, s in scores.items() if s}
    if pick is None:
        match = re.search(r"winner\W{0,5}(A|B|tie)\b", text, re.IGNORECASE) or re.search(
            r"\b(?:answer\s+)?(A|B)\s+is\s+better\b", text, re.IGNORECASE
        )
        if match:
            word = match.group(1).casefold()
            pick = "tie" if word == "tie" else word.upper()
    return Rating(pick, scores)


def _swap(rating: Rating) -> Rating:
    """A verdict given with the answers swapped, back in the pair's own A/B terms."""
    pick = {"A": "B", "B": "A"}.get(rating.pick, rating.pick)
    scores = {{"A": "B", "B": "A"}[side]: values for side, values in rating.scores.items()}
    return Rating(pick, scores, rating.comment)


class HttpJudge:
    """An OpenAI-compatible /chat/completions endpoint, reached with urllib (no extra packages)."""

    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.name = f"{config.model_name} @ {config.base_url}"

    def complete(self, messages: list[dict]) -> str:
        body = json.dumps(
            {
                "model": self.config.model_name,
                "messages": messages,
                "temperature": 0,
                "max_tokens": self.config.max_tokens,
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                payload = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", errors="replace")[:300]
            raise JudgeError(
                f"The judge at {self.url} answered HTTP {error.code} {error.reason}: {detail}. "
                "Check the URL, the model name and the API key."
            ) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise JudgeError(
                    f"The judge at {self.url} did not answer within {self.config.timeout_s:g} s; "
                    "raise the timeout or use a faster model."
                ) from error
            raise JudgeError(
                f"Could not reach the judge at {self.url} ({error.reason}). Is the server running, "
                "and is the URL its API root (often ending in /v1)?"
            ) from error
        except TimeoutError as error:
            raise JudgeError(
                f"The judge at {self.url} did not answer within {self.config.timeout_s:g} s; "
                "raise the timeout or use a faster model."
            ) from error
        try:
            return json.loads(payload)["choices"][0]["message"]["content"] or ""
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as error:
            raise JudgeError(
                f"The judge at {self.url} did not answer in the OpenAI chat format "
                f"(got: {payload[:200]!r})."
            ) from error


class LocalJudge:
    """A local model folder as judge. A small model often writes no readable verdict; then
    its pick is read from which of 'A', 'B' or 'tie' it finds most likely next."""

    def __init__(self, config: JudgeConfig, device: str | None = None) -> None:
        self.config = config
        self.name = Path(config.model_path).name
        self.loaded = load_model(
            ModelSpec(label=f"judge {self.name}", base_model=config.model_path), device
        )

    def complete(self, messages: list[dict]) -> str:
        # torch is heavy (seconds to import): loaded when a model is
        import torch

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        ids = tokenizer(
            render_prompt(tokenizer, messages), return_tensors="pt", add_special_tokens=False
        )
        ids = ids.to(self.loaded.device)
        with torch.inference_mode():
            output = model.generate(
                **ids,
                max_new_tokens=self.config.max_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
        return tokenizer.decode(output[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)

    def choose(self, messages: list[dict], options: tuple[str, ...] = ("A", "B", "tie")) -> str:
        """The option the model finds most likely as its verdict (mean log-prob per token)."""
        # torch is heavy (seconds to import): loaded when a model is
        import torch

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        prefix = render_prompt(tokenizer, messages) + '{"winner": "'
        prefix_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
        best, best_score = options[0], float("-inf")
        for option in options:
            option_ids = tokenizer(prefix + option, add_special_tokens=False)["input_ids"][
                len(prefix_ids) :
            ]
            if not option_ids:
                continue
            ids = torch.tensor([prefix_ids + option_ids], device=self.loaded.device)
            with torch.inference_mode():
                logits = model(input_ids=ids).logits[0].float()
            log_probs = torch.log_softmax(logits[len(prefix_ids) - 1 : -1], dim=-1)
            score = float(log_probs[torch.arange(len(option_ids)), torch.tensor(option_ids)].mean())
            if score > best_score:
                best, best_score = option, score
        return best

    def close(self) -> None:
        release(self.loaded)


def make_judge(config: JudgeConfig) -> Judge:
    return HttpJudge(config) if config.kind == "http" else LocalJudge(config)


def judge_pair(judge: Judge, pair: BlindPair) -> list[tuple[str, Rating, str]]:
    """The judge's verdict in both orders: [(presented, rating in A/B terms, raw reply)]."""
    verdicts = []
    for presented, first, second in (
        ("AB", pair.answer_a, pair.answer_b),
        ("BA", pair.answer_b, pair.answer_a),
    ):
        messages = judge_messages(pair.prompt, pair.reference, first, second)
        raw = judge.complete(messages)
        rating = parse_verdict(raw)
        if rating.pick is None and hasattr(judge, "choose"):
            rating = Rating(judge.choose(messages), rating.scores, "pick read from likelihoods")
        verdicts.append((presented, _swap(rating) if presented == "BA" else rating, raw))
    return verdicts


def judge_pair_set(
    project,
    pair_set_id: int,
    judge: Judge,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    skip_judged: bool = True,
) -> int:
    """Judge every pair of a pair set in both orders and store the verdicts; pairs judged.

    Each pair is stored as soon as it is judged, so a cancelled or failed run keeps
    what it finished and `skip_judged` resumes where it stopped.
    """
    report = progress or (lambda fraction, message: None)
    rater = f"judge:{judge.name}"
    pairs = blind_pairs(project, pair_set_id)
    done_before = set()
    if skip_judged:
        rows = project.connection().execute(
            "SELECT pair_id FROM evaluation_ratings WHERE rater = ? GROUP BY pair_id "
            "HAVING COUNT(*) = 2",
            (rater,),
        )
        done_before = {row[0] for row in rows}
    todo = [p for p in pairs if p.id not in done_before]
    for number, pair in enumerate(todo, start=1):
        if cancelled and cancelled():
            raise EvaluationCancelled(
                f"Judging was cancelled after {number - 1} of {len(todo)} pairs; those are kept."
            )
        for presented, rating, raw in judge_pair(judge, pair):
            record_rating(project, pair.id, rater, rating, JUDGE, presented, raw_text=raw[:4000])
        report(number / len(todo), f"Judged {number} of {len(todo)} pairs")
    return len(todo)
