"""Train/validation split: seeded, reproducible, stable as examples are added, optionally by tag.

Each example's side is decided by ranking a hash of (seed, example id), not by shuffling
positions, so adding examples to a dataset never moves an old example from validation
into training (which would leak it into the next version's training set).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from core.dataset.model import Example

UNTAGGED = ""


@dataclass(frozen=True)
class SplitConfig:
    valid_fraction: float = field(
        default=0.1,
        metadata={
            "help": "Share of examples held out for validation (0 to 0.5). Validation loss "
            "is how you see overfitting, which with small datasets can start within one epoch."
        },
    )
    seed: int = field(
        default=42,
        metadata={"help": "The same seed and examples always give the same split."},
    )
    stratify_by_tag: bool = field(
        default=False,
        metadata={
            "help": "Hold out the same share of each tag (by an example's first tag), so "
            "rare kinds of request are in both training and validation."
        },
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_fraction <= 0.5:
            raise ValueError(
                f"valid_fraction must be between 0 and 0.5, not {self.valid_fraction}: "
                "hold out 5 to 20% for validation."
            )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer, not {self.seed!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SplitConfig:
        known = {
            key: data[key] for key in ("valid_fraction", "seed", "stratify_by_tag") if key in data
        }
        return cls(**known)


def _rank_key(seed: int, example_id: str) -> bytes:
    return hashlib.blake2b(f"{seed}:{example_id}".encode(), digest_size=8).digest()


def _valid_count(n: int, fraction: float) -> int:
    if fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(fraction * n)))


def _allocate(group_sizes: dict[str, int], total: int) -> dict[str, int]:
    """Split `total` across groups in proportion to their size (largest remainder)."""
    n = sum(group_sizes.values())
    if n == 0:
        return dict.fromkeys(group_sizes, 0)
    exact = {key: total * size / n for key, size in group_sizes.items()}
    counts = {key: int(value) for key, value in exact.items()}
    leftover = total - sum(counts.values())
    by_remainder = sorted(exact, key=lambda key: (-(exact[key] - counts[key]), key))
    for key in by_remainder[:leftover]:
        counts[key] += 1
    return counts


def split_indices(
    examples: Sequence[Example], config: SplitConfig = SplitConfig()
) -> tuple[list[int], list[int]]:
    """(train indexes, validation indexes), each in dataset order."""
    n = len(examples)
    n_valid = _valid_count(n, config.valid_fraction)
    if n_valid == 0:
        return list(range(n)), []
    groups: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        key = (example.tags[0] if example.tags else UNTAGGED) if config.stratify_by_tag else ""
        groups.setdefault(key, []).append(index)
    quotas = _allocate({key: len(members) for key, members in groups.items()}, n_valid)
    valid: set[int] = set()
    for key, members in groups.items():
        ranked = sorted(members, key=lambda i: _rank_key(config.seed, examples[i].id))
        valid.update(ranked[: quotas[key]])
    train = [i for i in range(n) if i not in valid]
    return train, sorted(valid)
