"""Growable numpy buffers for live curves, and the smoothing the loss chart offers.

Charts append one point at a time from queued signals and redraw from a timer with
`setData(buffer.x, buffer.y)`, so appends must be O(1) and never reallocate per point;
the buffers double when full. Non-finite values (a diverged run's NaN loss) are counted,
not stored: they would break autoscaling and log scale.
"""

from __future__ import annotations

import math

import numpy as np

INITIAL_CAPACITY = 1024


class SeriesBuffer:
    """(step, value) pairs in preallocated arrays; `x` and `y` are views of the filled part."""

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0
        self.skipped = 0  # non-finite values seen and not stored
        self.version = 0  # bumped on every change, so a chart redraws only when needed
        self.generation = 0  # bumped when points are removed (clear, truncate)

    def __len__(self) -> int:
        return self.n

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def append(self, x: float, y: float | None) -> bool:
        if y is None or not math.isfinite(y) or not math.isfinite(x):
            if y is not None:
                self.skipped += 1
            return False
        if self.n == len(self._x):
            self._grow(self.n * 2)
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1
        self.version += 1
        return True

    def extend(self, xs, ys) -> None:
        """Append many points at once (a replayed run); non-finite ones are skipped."""
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        keep = np.isfinite(xs) & np.isfinite(ys)
        self.skipped += int((~keep).sum())
        xs, ys = xs[keep], ys[keep]
        needed = self.n + len(xs)
        if needed > len(self._x):
            self._grow(max(needed, len(self._x) * 2))
        self._x[self.n : needed] = xs
        self._y[self.n : needed] = ys
        self.n = needed
        self.version += 1

    def truncate_after(self, step: float) -> None:
        """Forget points past `step` (a run resumed from the checkpoint at that step)."""
        keep = int(np.searchsorted(self.x, step, side="right"))
        if keep != self.n:
            self.n = keep
            self.version += 1
            self.generation += 1

    def clear(self) -> None:
        self.n = 0
        self.skipped = 0
        self.version += 1
        self.generation += 1

    def last(self) -> tuple[float, float] | None:
        return (float(self._x[self.n - 1]), float(self._y[self.n - 1])) if self.n else None

    def _grow(self, capacity: int) -> None:
        for name in ("_x", "_y"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=np.float64)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing), weight in [0, 1).

    The recurrence is evaluated in blocks with numpy, so 100,000 points take a few
    milliseconds rather than a Python loop's tens.
    """
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values.copy()
    out = np.empty_like(values)
    # Within a block of B points, ema[i] = w^(i+1) * carry + sum_j (1-w) w^(i-j) v[j].
    # B keeps w^-B under e^16, so the scaled cumulative sum stays exact to about 1e-9.
    block = max(1, min(256, int(-16 / math.log(weight))))
    powers = weight ** np.arange(block + 1)
    carry = 0.0
    for start in range(0, len(values), block):
        chunk = values[start : start + block]
        m = len(chunk)
        # Scale by w^-i so the weighted cumulative sum is a plain cumsum.
        scaled = chunk * (1 - weight) / powers[:m]
        ema = powers[1 : m + 1] * carry + powers[:m] * np.cumsum(scaled)
        out[start : start + m] = ema
        carry = ema[-1]
    debias = 1 - weight ** np.arange(1, len(values) + 1)
    return out / debias


class SmoothedSeries:
    """A smoothed copy of a SeriesBuffer, kept up to date in O(1) per new point.

    Recomputing the whole curve at every 10 Hz redraw would cost tens of milliseconds at
    100,000 points; only a new weight, a bulk load or a truncation recomputes it all.
    """

    def __init__(self, source: SeriesBuffer, weight: float = 0.9) -> None:
        self.source = source
        self.weight = weight
        self.buffer = SeriesBuffer()
        self._generation = -1
        self._raw_last = 0.0  # the EMA before debiasing, to continue from

    def set_weight(self, weight: float) -> None:
        self.weight = weight
        self._generation = -1

    def update(self) -> SeriesBuffer:
        source, buffer, w = self.source, self.buffer, self.weight
        pending = source.n - buffer.n
        if self._generation != source.generation or pending < 0 or pending > 1000:
            buffer.clear()
            if source.n:
                smoothed = smooth(source.y, w)
                buffer.extend(source.x, smoothed)
                self._raw_last = float(smoothed[-1]) * (1 - w**source.n)
            else:
                self._raw_last = 0.0
            self._generation = source.generation
            return buffer
        xs, ys = source.x, source.y
        for i in range(buffer.n, source.n):
            self._raw_last = self._raw_last * w + (1 - w) * ys[i]
            debias = 1 - w ** (i + 1)
            buffer.append(xs[i], self._raw_last / debias if debias > 0 else ys[i])
        return buffer
