"""``ringbuf.disordered`` (the C pass of ``drop_disordered_pages``) against the numpy passes it
replaced, on made page layouts: pages without records or with a bad status, times that go back
or jump forward by more or less than the limit, and times past 2^53 (compared as float64)."""

from __future__ import annotations

import numpy as np
import pytest

from fgraph._ext import ringbuf
from fgraph.parsers.tracedat.ringbuffer import TIME_DISORDER


def _reference(first, nrec, status, ts) -> np.ndarray:
    nrec = nrec.astype(np.int64)
    q = np.nonzero((nrec > 0) & (status == 0))[0]
    if len(q) < 2:
        return np.empty(0, np.int64)
    s = ts[first[q]].astype(np.float64)
    e = ts[first[q] + nrec[q] - 1].astype(np.float64)
    T = float(TIME_DISORDER)
    prev_e = np.concatenate([[-np.inf], e[:-1]])
    next_s = np.concatenate([s[1:], [np.inf]])
    back = (s + T < prev_e) & (next_s + T >= prev_e)
    fwd = (e > next_s + T) & (next_s + T >= prev_e)
    return q[back | fwd]


def _pages(rng: np.random.Generator, npages: int, base: int):
    nrec = rng.integers(0, 5, npages).astype(np.int32)
    status = np.where(rng.random(npages) < 0.1, rng.integers(1, 5, npages), 0).astype(np.int8)
    first = (np.cumsum(nrec, dtype=np.int64) - nrec).astype(np.int64)
    n = int(nrec.sum())
    steps = rng.integers(0, 3 * 10**8, n)
    # a few records far off: back or ahead by more than the limit (some by just about it)
    odd = rng.random(n) < 0.05
    steps[odd] = rng.choice([-3, -1, 1, 3], odd.sum()) * TIME_DISORDER + rng.integers(
        -2, 3, odd.sum()
    )
    ts = (base + np.cumsum(steps)).astype(np.uint64)
    return first, nrec, status, ts


@pytest.mark.parametrize("base", [10**12, 2**60])
def test_disordered_matches_the_numpy_passes(base: int) -> None:
    rng = np.random.default_rng(base % 1000)
    found = 0
    for npages in (0, 1, 2, 3, 10, 300):
        for _ in range(40):
            first, nrec, status, ts = _pages(rng, npages, base)
            want = _reference(first, nrec, status, ts)
            got = ringbuf.disordered(first, nrec, status, ts, float(TIME_DISORDER))
            assert got.dtype == np.int64 and np.array_equal(got, want)
            found += len(got)
    assert found  # (some pages were indeed garbled)


def test_disordered_refuses_pages_outside_the_records() -> None:
    first = np.array([0, 3], np.int64)
    nrec = np.array([3, 5], np.int32)  # the second page's records end past ts
    status = np.zeros(2, np.int8)
    with pytest.raises(IndexError):
        ringbuf.disordered(first, nrec, status, np.arange(4, dtype=np.uint64), 1.0)
    with pytest.raises(ValueError):
        ringbuf.disordered(first, nrec[:1], status, np.arange(8, dtype=np.uint64), 1.0)
