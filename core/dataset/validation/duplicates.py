"""Exact and near duplicates, in time linear in the dataset (MinHash + LSH buckets, no n² loop).

A conversation's text (its user and assistant words, lowercased, the first ~1 KB of
each side) becomes a set of word-aligned 8-byte shingles, computed in numpy for
thousands of examples at once. One-permutation MinHash (32 bins) summarises each set;
examples sharing a band of bins become candidates; candidates are verified with the
exact Jaccard similarity of their shingle sets. No pair loop over the whole dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SIDE_BYTES = 600  # of user text and of assistant text: enough to tell conversations apart
BINS = 32
BANDS = 8  # 8 bands of 4 bins: pairs above ~0.8 Jaccard share a bucket 99% of the time
ROWS = BINS // BANDS
MAX_CANDIDATES = 200_000
MAX_BUCKET_PAIRS = 50  # a bucket of 1,000 copies of one template pairs each with 50, not all
_EMPTY = np.uint32(0xFFFFFFFF)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT_BIN = np.uint64(64 - 5)  # top 5 bits choose one of 32 bins
_CHUNK = 4096


def dedup_text(user_texts: list[str], assistant_texts: list[str]) -> bytes:
    """The bytes compared for near duplicates (system prompts excluded: they are shared)."""
    user = " ".join(user_texts).encode("utf-8", "replace")[:SIDE_BYTES]
    reply = " ".join(assistant_texts).encode("utf-8", "replace")[:SIDE_BYTES]
    return b" " + user.lower() + b" \x01 " + reply.lower() + b" "


def _shingles_of_blob(blob: bytes, starts: np.ndarray, ends: np.ndarray):
    """(segment, mixed shingle hash) for every word-aligned 8-byte window of each segment."""
    padded = blob + b"\x00" * 8
    data = np.frombuffer(padded, dtype=np.uint8)
    positions = np.flatnonzero(data[: len(blob)] == 32) + 1  # a window starts each word
    segment = np.searchsorted(starts, positions, side="right") - 1
    keep = positions + 8 <= ends[segment]
    positions, segment = positions[keep], segment[keep]
    windows = np.ndarray(
        shape=(len(padded) - 7,), dtype="<u8", buffer=padded, offset=0, strides=(1,)
    )[positions]
    with np.errstate(over="ignore"):
        mixed = windows * _MIX
        mixed ^= mixed >> np.uint64(29)
        mixed *= _MIX
    return segment, mixed


def shingle_set(text: bytes) -> set[int]:
    """The exact shingle set of one text (to verify a candidate pair)."""
    ends = np.array([len(text)])
    _, mixed = _shingles_of_blob(text, np.array([0]), ends)
    return set(mixed.tolist())


def _chunk_signatures(chunk: Sequence[bytes]) -> np.ndarray:
    out = np.full((len(chunk), BINS), _EMPTY, dtype=np.uint32)
    lengths = np.fromiter((len(t) for t in chunk), dtype=np.int64, count=len(chunk))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    segment, mixed = _shingles_of_blob(b"".join(chunk), starts, starts + lengths)
    bins = (mixed >> _SHIFT_BIN).astype(np.int64)
    values = (mixed & np.uint64(0xFFFFFFFE)).astype(np.uint32)  # never the empty marker
    np.minimum.at(out.reshape(-1), segment * BINS + bins, values)
    return out


class SignatureBuilder:
    """Collects texts one by one and keeps only their signatures (a chunk of text at a time)."""

    def __init__(self, capacity: int | None = None) -> None:
        self._pending: list[bytes] = []
        self._done: list[np.ndarray] = []
        # Knowing the count up front, chunks go straight into one array: joining them at the
        # end would hold every signature twice (128 bytes an example, twice, at the peak).
        self._array = np.empty((capacity, BINS), dtype=np.uint32) if capacity else None
        self._filled = 0

    def add(self, text: bytes) -> None:
        self._pending.append(text)
        if len(self._pending) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        chunk = _chunk_signatures(self._pending)
        self._pending = []
        if self._array is not None and self._filled + len(chunk) <= len(self._array):
            self._array[self._filled : self._filled + len(chunk)] = chunk
            self._filled += len(chunk)
        else:
            self._done.append(chunk)

    def finish(self) -> np.ndarray:
        self._flush()
        parts = [self._array[: self._filled]] if self._array is not None else []
        parts += self._done
        if not parts:
            return np.zeros((0, BINS), dtype=np.uint32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def signatures(texts: Sequence[bytes]) -> np.ndarray:
    """(n, 32) uint32 one-permutation MinHash; an empty bin holds 0xFFFFFFFF."""
    builder = SignatureBuilder()
    for text in texts:
        builder.add(text)
    return builder.finish()


def candidate_pairs(sigs: np.ndarray, skip: np.ndarray | None = None) -> np.ndarray:
    """(m, 2) array of index pairs i < j sharing a band whose bins are not all empty."""
    pairs: list[np.ndarray] = []
    total = 0
    for band in range(BANDS):
        block = np.ascontiguousarray(sigs[:, band * ROWS : (band + 1) * ROWS])
        usable = ~(block == _EMPTY).all(axis=1)
        if skip is not None:
            usable &= ~skip
        live = np.flatnonzero(usable)
        if len(live) < 2:
            continue
        keys = block[live].view(np.dtype((np.void, 4 * ROWS))).ravel()
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        if not len(same):
            continue
        # Runs of equal keys; pair each member with up to MAX_BUCKET_PAIRS earlier ones.
        # (Views and one flag array a step: a full index array per step cost ~40 bytes an
        # example, the peak of validating a big file.)
        run_of = np.cumsum(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
        del sorted_keys
        for lag in range(1, MAX_BUCKET_PAIRS + 1):
            ok = run_of[lag:] == run_of[:-lag]
            if not ok.any():
                break
            a = np.flatnonzero(ok)
            left, right = live[order[a]], live[order[a + lag]]
            pairs.append(np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1))
            total += len(a)
        if total > MAX_CANDIDATES:
            break
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


_PAIRS_AT_ONCE = 32_768  # both signatures of every pair at once cost 256 bytes a pair


def estimated_similarity(sigs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    out = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), _PAIRS_AT_ONCE):
        chunk = pairs[start : start + _PAIRS_AT_ONCE]
        a, b = sigs[chunk[:, 0]], sigs[chunk[:, 1]]
        filled = (a != _EMPTY) | (b != _EMPTY)
        agree = (a == b) & filled
        out[start : start + len(chunk)] = agree.sum(axis=1) / np.maximum(filled.sum(axis=1), 1)
    return out


def verified_pairs(
    sigs: np.ndarray,
    text_of: Callable[[int], bytes],
    threshold: float = 0.8,
    skip: np.ndarray | None = None,
) -> list[tuple[int, int, float]]:
    """Verified (i, j, jaccard) with jaccard >= threshold and i < j.

    `text_of(i)` gives an example's dedup text again (only candidates are asked for);
    `skip` marks examples to leave out (e.g. exact duplicates, already reported).
    """
    pairs = candidate_pairs(sigs, skip)
    if not len(pairs):
        return []
    likely = pairs[estimated_similarity(sigs, pairs) >= threshold - 0.25]
    del pairs
    # The pairs come sorted by their first index: keeping that one's shingles is enough
    # (a cache of every candidate's shingles grew with the file).
    last, sa = -1, set()
    found = []
    for a, b in likely.tolist():
        if a != last:
            last, sa = a, shingle_set(text_of(a))
        sb = shingle_set(text_of(b))
        union = len(sa | sb)
        similarity = len(sa & sb) / union if union else 0.0
        if similarity >= threshold:
            found.append((a, b, similarity))
    return found


def near_duplicate_pairs(
    texts: Sequence[bytes], threshold: float = 0.8, skip: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """Near-duplicate pairs among texts held in memory (small datasets, tests)."""
    return verified_pairs(signatures(texts), texts.__getitem__, threshold, skip)


def cluster_heads(pairs: list[tuple[int, int, float]]) -> dict[int, tuple[int, float]]:
    """Each example in a cluster except its first -> (the cluster's first example, similarity)."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    best: dict[int, float] = {}
    for a, b, similarity in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
        for i in (a, b):
            best[i] = max(best.get(i, 0.0), similarity)
    return {i: (root(i), best[i]) for i in list(parent) if root(i) != i}
