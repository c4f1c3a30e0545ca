"""A run's settings read from its saved YAML, the few that identify it, and the diff of two.

core.training writes config.yaml one `key: value` per line in flow style, sorted. Reading
those lines directly is ~50x faster than a YAML parser, which matters when the Runs
table lists hundreds of runs; the values stay as the text the file shows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# Header lines that say which program wrote the file, not how the run trained.
HEADER_KEYS = ("config_version", "studio_version")
# What tells two runs apart at a glance, in the order the table shows them.
KEY_SETTINGS = (
    ("learning_rate", "lr"),
    ("epochs", "epochs"),
    ("max_steps", "steps"),
    ("lora_r", "r"),
    ("micro_batch_size", "batch"),
    ("gradient_accumulation", "accum"),
    ("max_seq_length", "len"),
)
ADAPTER_ONLY = ("lora_r",)
# Settings whose difference is not a difference in training.
NOT_TRAINING = ("name",)
# Settings that choose the data: the data diff says how the data changed.
DATA_KEYS = ("dataset_version", "train_file", "validation_file")


def config_values(config_yaml: str) -> dict[str, str]:
    """key -> value text of every setting line (comments and header excluded)."""
    values: dict[str, str] = {}
    for line in config_yaml.splitlines():
        if not line or line.startswith(("#", " ")):
            continue
        key, sep, value = line.partition(":")
        if not sep or key in HEADER_KEYS:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]  # a quoted YAML string: the text it stands for
        values[key.strip()] = value
    return values


def _shown_value(key: str, value: str) -> str:
    if key == "learning_rate" and value in ("0", "0.0"):
        return "auto"
    if key == "max_steps" and value == "0":
        return ""
    return value.strip("'\"")


def key_settings(values: dict[str, str], method: str) -> list[tuple[str, str]]:
    """(short label, value) of the settings that identify a run, empty ones left out."""
    out = []
    for key, label in KEY_SETTINGS:
        if key in ADAPTER_ONLY and method == "full":
            continue
        value = _shown_value(key, values.get(key, ""))
        if value:
            out.append((label, value))
    return out


def key_settings_text(values: dict[str, str], method: str) -> str:
    return ", ".join(f"{label} {value}" for label, value in key_settings(values, method))


@dataclass(frozen=True)
class SettingDifference:
    key: str
    values: tuple[str, ...]  # one per run, "" where the run has no such setting


@dataclass(frozen=True)
class ConfigDiff:
    """How the settings of several runs differ; `unified` is a diff of the first two."""

    differences: list[SettingDifference]
    unified: list[str]

    @property
    def is_empty(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        return {
            "differences": [{"key": d.key, "values": list(d.values)} for d in self.differences],
            "unified": self.unified,
        }


def _setting_lines(config_yaml: str) -> list[str]:
    return [
        f"{key}: {value}"
        for key, value in config_values(config_yaml).items()
        if key not in NOT_TRAINING
    ]


def diff_configs(
    configs: list[str], labels: list[str] | None = None, include_name: bool = False
) -> ConfigDiff:
    """Every setting whose value is not the same in all `configs` (YAML texts), in key order,
    and a unified diff of the first config against the second."""
    parsed = [config_values(text) for text in configs]
    keys = sorted(set().union(*parsed)) if parsed else []
    differences = []
    for key in keys:
        if key in NOT_TRAINING and not include_name:
            continue
        row = tuple(values.get(key, "") for values in parsed)
        if len(set(row)) > 1:
            differences.append(SettingDifference(key, row))
    unified: list[str] = []
    if len(configs) >= 2:
        labels = labels or ["A", "B"]
        unified = list(
            difflib.unified_diff(
                _setting_lines(configs[0]),
                _setting_lines(configs[1]),
                fromfile=labels[0],
                tofile=labels[1],
                lineterm="",
                n=0,
            )
        )
    return ConfigDiff(differences, unified)
