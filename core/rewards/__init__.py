"""Rewards without code: checkable presets that score a model's answer for GRPO.

A reward spec (spec.py) is a list of weighted presets (presets.py): valid JSON, a JSON
schema, required keys and allowed values, a regular expression, a match against the
reference answer, a length penalty, and, only after explicit trust, the user's own Python
file (user_code.py). Every preset reads an answer through limits.py, so a hostile answer
(huge, deeply nested, invalid unicode, a pattern that backtracks forever) scores 0 instead
of crashing or hanging a run. preview.py scores sample answers before training;
schema_inference.py offers a JSON schema from the reference answers of an eval set.
"""
