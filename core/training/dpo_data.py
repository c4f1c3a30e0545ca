"""A DPO run's data: preference pairs from a saved preference version or a JSONL file.

The same DatasetSource as SFT data (a version is linked to the run the same way); the
pairs are checked before a model loads: a file with unreadable lines, different prompts,
an empty or identical side stops the run with the file, line and fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.dataset.preferences import PreferencePair, read_preference_file, validate_pairs
from core.dataset.tokens import count_tokens
from core.recipe.config import TrainConfig
from core.training.conversations import TrainingDataError, hold_out
from core.training.prepare import DatasetSource, resolve_dataset


@dataclass
class PreparedPreferences:
    """What run_setup and the trainer need of DPO data (PreparedData's surface)."""

    source: DatasetSource
    train: list[PreferencePair]
    valid: list[PreferencePair]
    held_out: bool
    notes: list[str] = field(default_factory=list)
    # Tokens a pair puts through the model (prompt + chosen and prompt + rejected, each cut
    # at max_seq_length), once counted by count_pair_tokens: what a run plan reads.
    train_lengths: list[int] = field(default_factory=list)
    valid_lengths: list[int] = field(default_factory=list)

    def stats(self) -> dict:
        return {
            "kind": "preference",
            "n_train": len(self.train),
            "n_valid": len(self.valid),
            "validation_held_out": self.held_out,
        }

    def records(self, pairs: list[PreferencePair]) -> list[dict]:
        return [pair.record() for pair in pairs]


def count_pair_tokens(data: PreparedPreferences, tokenizer, max_seq_length: int) -> None:
    """Fill train_lengths and valid_lengths with each pair's tokens, chat template applied."""

    def lengths(pairs: list[PreferencePair]) -> list[int]:
        sides = [list(p.prompt) + list(p.chosen) for p in pairs]
        sides += [list(p.prompt) + list(p.rejected) for p in pairs]
        counts = count_tokens(sides, tokenizer, len(sides))
        n = len(pairs)
        return [
            int(min(counts[i], max_seq_length) + min(counts[n + i], max_seq_length))
            for i in range(n)
        ]

    data.train_lengths = lengths(data.train)
    data.valid_lengths = lengths(data.valid)


def _read_pairs(path) -> list[PreferencePair]:
    read = read_preference_file(path)
    findings = read.findings + validate_pairs(read.pairs, read.lines, str(path))
    errors = [f for f in findings if f.is_error]
    if not errors and read.pairs:
        return read.pairs
    if not errors:
        raise TrainingDataError(
            path, None, "no preference pairs; a DPO run needs lines of prompt, chosen and rejected."
        )
    first = errors[0]
    # The error names the file and line itself; the finding's own "Line N: " would repeat it.
    text = first.message.removeprefix(f"Line {first.line}: ") if first.line else first.message
    message = text + (f" Fix: {first.fix}" if first.fix else "")
    if len(errors) > 1:
        message += f" ({len(errors) - 1} more: finetune-studio data validate {path})"
    raise TrainingDataError(path, first.line, message)


def read_preference_data(project, config: TrainConfig) -> PreparedPreferences:
    """The run's pairs; validation pairs held out of the training file when none are given."""
    source = resolve_dataset(project, config)
    train = _read_pairs(source.train_path)
    notes = []
    if source.valid_path is not None:
        valid = _read_pairs(source.valid_path)
        held_out = False
    else:
        train, valid = hold_out(train, config.validation_fraction, config.seed)
        held_out = bool(valid)
        if held_out:
            notes.append(
                f"held out {len(valid)} of {len(train) + len(valid)} preference pairs for "
                "validation (no validation file given)"
            )
    return PreparedPreferences(source, train, valid, held_out, notes)


def longest_pairs(data: PreparedPreferences, micro_batch_size: int) -> tuple[list[dict], int]:
    """The worst micro batch a DPO run will see: the pairs that put the most tokens through
    the model (count_pair_tokens first), as trainer records, and those tokens."""
    order = sorted(range(len(data.train)), key=lambda i: data.train_lengths[i], reverse=True)
    picked = (order * micro_batch_size)[:micro_batch_size]
    records = data.records([data.train[i] for i in picked])
    return records, sum(data.train_lengths[i] for i in picked)
