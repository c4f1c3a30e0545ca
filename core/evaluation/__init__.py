"""Evaluate: the prompted base model against fine-tuned runs, with evidence.

eval_set (prompts, references, checks) -> runner (generation + scoring) -> store
(project database) -> metrics / ab_results / regression -> report (HTML). judge adds
LLM-as-judge ratings; error_analysis turns failures into new training examples.
"""
