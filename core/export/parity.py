"""Parity check: does the exported model answer the eval set as the model in the app did?

The in-app answers are the run's stored evaluation on that eval set (greedy decoding),
or, when there is none, answers generated now from the run's final model. The exported
model answers the same prompts with the same settings (greedy, same system prompt, same
token limit) and every answer that differs is reported: a lost or changed chat template,
a wrong tokenizer or a broken merge shows up here before the model is shipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.evaluation.eval_set import EvalSetError, load_eval_set_file
from core.evaluation.generation import (
    GenerationConfig,
    LoadedModel,
    generate_answers,
    load_model,
    release,
)
from core.evaluation.models import ModelSpec, run_spec
from core.evaluation.store import (
    UnknownRecordError,
    list_eval_sets,
    list_runs,
    load_eval_set,
    load_result,
)
from core.export.source import ExportSource
from core.models.load_lock import model_loading

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]
# Without a stored evaluation to copy settings from: short answers keep the check quick.
DEFAULT_MAX_NEW_TOKENS = 128


class ParityError(ValueError):
    """The eval set for the parity check cannot be found or read."""


@dataclass(frozen=True)
class ParityMismatch:
    index: int
    prompt: str
    in_app: str
    exported: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ParityResult:
    eval_set: str
    eval_set_hash: str
    n: int
    n_same: int
    reference: str  # where the in-app answers came from
    settings: dict = field(default_factory=dict)
    mismatches: tuple[ParityMismatch, ...] = ()

    @property
    def passed(self) -> bool:
        return self.n_same == self.n

    def summary(self) -> str:
        if self.passed:
            return (
                f"Parity passed: all {self.n} answers on {self.eval_set} are identical to the "
                "in-app answers."
            )
        return (
            f"Parity FAILED: {self.n - self.n_same} of {self.n} answers on {self.eval_set} "
            "differ from the in-app answers. Check the chat template and tokenizer before "
            "shipping this export."
        )

    def as_dict(self) -> dict:
        return {
            "eval_set": self.eval_set,
            "eval_set_hash": self.eval_set_hash,
            "n": self.n,
            "n_same": self.n_same,
            "passed": self.passed,
            "reference": self.reference,
            "settings": self.settings,
            "mismatches": [m.as_dict() for m in self.mismatches],
        }


def resolve_eval_set(project, text: str):
    """(EvalSet, stored id or None) for a stored id, a stored name, or a JSONL file."""
    text = str(text).strip()
    stored = list_eval_sets(project, purpose=None) if project is not None else []
    if text.isdigit() and project is not None:
        try:
            return load_eval_set(project, int(text)), int(text)
        except UnknownRecordError:
            pass
    path = Path(text).expanduser()
    if path.is_file():
        try:
            eval_set = load_eval_set_file(path)
        except EvalSetError as error:
            raise ParityError(str(error)) from None
        same = [s for s in stored if s.content_hash == eval_set.content_hash]
        return eval_set, (same[0].id if same else None)
    named = [s for s in stored if s.name == text]  # newest first
    if named:
        return load_eval_set(project, named[0].id), named[0].id
    known = ", ".join(f"{s.id} ({s.name})" for s in stored[:10]) or "none stored yet"
    raise ParityError(
        f"No eval set {text!r}: give a stored eval set's id or name ({known}) or a JSONL file."
    )


def stored_in_app_result(project, run_id: str, eval_set_id: int | None):
    """The newest greedy evaluation of this run on this eval set, or None."""
    if project is None or eval_set_id is None:
        return None

    for stored in reversed(list_runs(project, eval_set_id)):
        if stored.training_run != run_id or stored.status != "complete":
            continue
        result = load_result(project, stored.id)
        if result.config.greedy:
            return result
    return None


def _load_gguf(folder: Path, gguf_name: str, spec):
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # The GGUF export is our own file, never custom code: say so, so transformers never asks.
    tokenizer = AutoTokenizer.from_pretrained(
        str(folder), gguf_file=gguf_name, trust_remote_code=False
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    with model_loading():
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), gguf_file=gguf_name, dtype=torch.float32, trust_remote_code=False
        )
    model.eval()
    return LoadedModel(model, tokenizer, "cpu", spec)


def exported_spec(source: ExportSource, folder: Path, fmt: str, system_prompt: str | None):
    if fmt == "adapter":
        return ModelSpec(
            label="exported adapter",
            base_model=str(source.base_path),
            kind="adapter",
            adapter=str(folder),
            system_prompt=system_prompt,
        )
    return ModelSpec(
        label=f"exported {fmt} model",
        base_model=str(folder),
        kind="full",
        system_prompt=system_prompt,
    )


def _answers(loaded, examples, config, report, cancelled, span) -> list[str]:
    try:
        return [
            g.answer for g in generate_answers(loaded, examples, config, report, cancelled, span)
        ]
    finally:
        release(loaded)


def check_parity(
    project,
    source: ExportSource,
    folder: Path,
    fmt: str,
    eval_set_ref: str,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    span: tuple[float, float] = (0.0, 1.0),
    gguf_file: str | None = None,
) -> ParityResult:
    """Answer the eval set with the export in `folder` and compare with the in-app answers."""
    report = progress or (lambda fraction, message: None)
    start, end = span
    eval_set, eval_set_id = resolve_eval_set(project, eval_set_ref)
    examples = eval_set.examples
    stored = stored_in_app_result(project, source.run_id, eval_set_id)
    if stored is not None:
        config = stored.config
        system_prompt = stored.spec.system_prompt
        in_app = {o.index: o.answer for o in stored.outputs}
        reference = f"stored evaluation #{stored.run_id} of {source.run_id} ({stored.created_at})"
        middle = start
    else:
        config = GenerationConfig(max_new_tokens=DEFAULT_MAX_NEW_TOKENS, greedy=True)
        system_prompt = None
        middle = start + (end - start) / 2
        report(start, f"answering {len(examples)} prompts with the run's own model")
        spec = run_spec(source.run.folder, base_model=source.base_path, label="in-app model")
        answers = _answers(load_model(spec), examples, config, report, cancelled, (start, middle))
        in_app = {e.index: a for e, a in zip(examples, answers)}
        reference = f"answers generated now from {source.run_id}'s final model"
    report(middle, f"answering {len(examples)} prompts with the exported model")
    spec = exported_spec(source, folder, fmt, system_prompt)
    loaded = _load_gguf(folder, gguf_file or "", spec) if fmt == "gguf" else load_model(spec)
    exported = _answers(loaded, examples, config, report, cancelled, (middle, end))
    mismatches = tuple(
        ParityMismatch(e.index, e.user_text[:200], in_app.get(e.index, ""), answer)
        for e, answer in zip(examples, exported)
        if in_app.get(e.index) != answer
    )
    return ParityResult(
        eval_set=eval_set.name,
        eval_set_hash=eval_set.content_hash,
        n=len(examples),
        n_same=len(examples) - len(mismatches),
        reference=reference,
        settings={**config.as_dict(), "system_prompt": system_prompt},
        mismatches=mismatches,
    )
