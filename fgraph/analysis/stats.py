"""Percentiles and log2 histograms of durations (pure data, no formatting).

Percentiles use the *nearest-rank* definition (the smallest value with at least q·n values at
or below it), so p99 is always a duration that was actually measured, and `fgraph check
'p99 < 2ms'` compares against a real call, not an interpolation between two calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PERCENTILES = (50, 90, 99)

# Histogram display units, bcc funclatency style (nsecs / usecs / msecs).
UNITS = {"nsecs": 1, "usecs": 1_000, "msecs": 1_000_000}


def nearest_rank(sorted_values: np.ndarray, q: float) -> int:
    """Value at percentile ``q`` (0..100) of an ascending array; -1 when empty."""
    n = len(sorted_values)
    if n == 0:
        return -1
    k = max(1, math.ceil(q / 100.0 * n))
    return int(sorted_values[min(k, n) - 1])


def percentiles(values: np.ndarray, qs: tuple[float, ...] = PERCENTILES) -> dict[float, int]:
    v = np.sort(np.asarray(values))
    return {q: nearest_rank(v, q) for q in qs}


def sparse_quantile(sorted_nonzero: np.ndarray, n_total: int, q: float) -> float:
    """Nearest-rank quantile of ``n_total`` values of which all but ``sorted_nonzero`` are 0."""
    if n_total <= 0:
        return 0.0
    k = max(1, math.ceil(q / 100.0 * n_total))
    zeros = n_total - len(sorted_nonzero)
    if k <= zeros:
        return 0.0
    return float(sorted_nonzero[min(k - zeros, len(sorted_nonzero)) - 1])


@dataclass(frozen=True)
class Log2Histogram:
    """Counts per power-of-two bucket of a duration in ``unit``.

    Bucket ``i`` holds values ``v`` (in unit, truncated) with ``v.bit_length() == i``:
    bucket 0 is 0, bucket 1 is 1, bucket 2 is 2..3, bucket 3 is 4..7 … (bcc's bpf_log2l
    buckets, printed as "low -> high").  ``counts`` runs from bucket 0 to the highest
    non-empty bucket.
    """

    unit: str
    counts: np.ndarray

    def bounds(self, i: int) -> tuple[int, int]:
        """(low, high) of bucket ``i`` in the display unit, inclusive."""
        if i == 0:
            return 0, 0
        return 1 << (i - 1), (1 << i) - 1

    def buckets(self) -> list[dict[str, int]]:
        scale = UNITS[self.unit]
        out = []
        for i, c in enumerate(self.counts.tolist()):
            lo, hi = self.bounds(i)
            out.append(
                {
                    "low": lo,
                    "high": hi,
                    "low_ns": lo * scale,
                    "high_ns": (hi + 1) * scale - 1,
                    "count": int(c),
                }
            )
        return out


def choose_unit(durations: np.ndarray) -> str:
    """usecs unless the calls are mostly sub-microsecond (nsecs) or mostly above 10 ms (msecs)."""
    if len(durations) == 0:
        return "usecs"
    med = nearest_rank(np.sort(durations), 50)
    if med < 1_000:
        return "nsecs"
    if med >= 10_000_000:
        return "msecs"
    return "usecs"


def log2_histogram(durations_ns: np.ndarray, unit: str | None = None) -> Log2Histogram:
    unit = unit or choose_unit(durations_ns)
    d = np.asarray(durations_ns, dtype=np.int64)
    d = d[d >= 0] // UNITS[unit]
    if len(d) == 0:
        return Log2Histogram(unit, np.zeros(0, dtype=np.int64))
    # bit_length without a Python loop: floor(log2(v)) + 1 for v >= 1, 0 for v == 0.
    idx = np.zeros(len(d), dtype=np.int64)
    pos = d > 0
    idx[pos] = np.floor(np.log2(d[pos].astype(np.float64))).astype(np.int64) + 1
    # float log2 can land one off just below a power of two; fix exactly with integer compares.
    lo = np.where(idx > 0, np.left_shift(np.int64(1), np.maximum(idx - 1, 0)), 0)
    idx = np.where(pos & (d < lo), idx - 1, idx)
    hi = np.left_shift(np.int64(1), idx)
    idx = np.where(pos & (d >= hi), idx + 1, idx)
    return Log2Histogram(unit, np.bincount(idx).astype(np.int64))


@dataclass
class Latency:
    """Distribution of a set of complete calls' durations."""

    calls: int
    p50_ns: int
    p90_ns: int
    p99_ns: int
    max_ns: int
    mean_ns: float
    total_ns: int
    histogram: Log2Histogram

    @classmethod
    def of(cls, durations: np.ndarray, unit: str | None = None) -> Latency:
        d = np.sort(np.asarray(durations, dtype=np.int64))
        return cls(
            calls=len(d),
            p50_ns=nearest_rank(d, 50),
            p90_ns=nearest_rank(d, 90),
            p99_ns=nearest_rank(d, 99),
            max_ns=int(d[-1]) if len(d) else -1,
            mean_ns=float(d.mean()) if len(d) else 0.0,
            total_ns=int(d.sum()),
            histogram=log2_histogram(d, unit),
        )
