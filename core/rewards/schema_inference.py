"""A JSON schema offered from reference answers (an eval set's or the training data's):
the keys every reference has are required, each key's JSON type is fixed, and a string
key with few distinct short values is an enum of them (a label such as category)."""

from __future__ import annotations

from core.rewards.limits import parse_answer_json

MAX_ENUM_VALUES = 12  # more distinct values than this is free text, not a label
MAX_ENUM_WORDS = 3

_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def _json_type(value) -> str:
    for kind, name in _TYPES:
        if isinstance(value, kind):
            return name
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


def infer_schema(references: list[str | None]) -> dict | None:
    """The schema the JSON-object references share, or None when fewer than half of them
    are JSON objects (then a schema reward is no fit)."""
    objects = []
    for reference in references:
        if isinstance(reference, str):
            ok, value = parse_answer_json(reference)
            if ok and isinstance(value, dict) and value:
                objects.append(value)
    if not objects or len(objects) * 2 < len([r for r in references if r is not None]):
        return None
    keys = [key for key in objects[0] if all(key in obj for obj in objects)]
    properties = {}
    for key in keys:
        types = {_json_type(obj[key]) for obj in objects}
        if types == {"integer", "number"}:
            types = {"number"}
        prop: dict = {"type": types.pop() if len(types) == 1 else sorted(types)}
        if prop["type"] == "string":
            values = sorted({obj[key] for obj in objects})
            short = all(len(v.split()) <= MAX_ENUM_WORDS for v in values)
            if short and len(values) <= MAX_ENUM_VALUES and len(values) < len(objects):
                prop["enum"] = values
        properties[key] = prop
    return {"type": "object", "required": keys, "properties": properties}
