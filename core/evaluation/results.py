"""What one evaluation produced: every answer with its scores, and how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.evaluation.eval_set import EvalExample, EvalSet
from core.evaluation.generation import GenerationConfig
from core.evaluation.metrics import Metrics, summarize
from core.evaluation.models import ModelSpec
from core.evaluation.outputs import ExampleOutput


@dataclass
class EvalResult:
    spec: ModelSpec
    eval_set: EvalSet
    config: GenerationConfig
    outputs: list[ExampleOutput]
    created_at: str = ""
    run_id: int | None = None  # set once stored in a project
    status: str = "complete"
    extra: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.spec.label

    def example(self, index: int) -> EvalExample:
        return self.eval_set.examples[index]

    def output_for(self, index: int) -> ExampleOutput:
        for output in self.outputs:
            if output.index == index:
                return output
        raise KeyError(index)

    def metrics(self) -> Metrics:
        return summarize(self.outputs)
