"""stacks.offspans (the off-CPU times of every call in one pass, searched from where each task's
last call was found: issue 7, the finish's speed) against the numpy lookup it replaced
(np.searchsorted per task, what stacks.cumspan did a call at a time), on random intervals and
calls: out-of-order entries, calls across interval boundaries and over many intervals,
overlapping and equal-start intervals, unknown times, interrupts, tasks without intervals."""

from __future__ import annotations

import numpy as np
import pytest

from fgraph._ext import stacks
from fgraph.reconstruct.calls import task_keys
from fgraph.reconstruct.offcpu import _Cumulative
from fgraph.schema import IrqCtx

TASK = int(IrqCtx.TASK)


def _f_reference(c: _Cumulative, task: np.ndarray, t: np.ndarray) -> np.ndarray:
    """F(t) of each query's task: the task's last interval starting at or before t (the last
    of equal starts), before + min(t, end) - start; 0 when there is none."""
    out = np.zeros(len(t), np.int64)
    for g, key in enumerate(c.keys):
        q = np.flatnonzero(task == key)
        lo, hi = c.off[g], c.off[g + 1]
        j = np.searchsorted(c.start[lo:hi], t[q], side="right") - 1 + lo
        ok = j >= lo
        jj = j[ok]
        out[q[ok]] = c.before[jj] + np.minimum(t[q[ok]], c.end[jj]) - c.start[jj]
    return out


def _reference(
    c: _Cumulative,
    pid: np.ndarray,
    cpu: np.ndarray,
    ctx: np.ndarray,
    ce: np.ndarray,
    cx: np.ndarray,
) -> np.ndarray:
    """offcpu's numpy steps: -1 without a usable time, 0 for an interrupt's call, else
    F(exit) - F(entry) of the task (pid, or the idle task of the CPU)."""
    task = task_keys(pid, cpu)
    valid = (ce >= 0) & (cx >= ce)
    got = _f_reference(c, task, cx) - _f_reference(c, task, ce)
    got[ctx != TASK] = 0
    got[~valid] = -1
    return got


def _case(seed: int, n: int) -> tuple[_Cumulative, _Cumulative, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    # tasks: pids, and idle tasks (pid 0 on a CPU: -(cpu + 2)); some only in the calls
    pids = np.array([1, 2, 7, 40, 41, 300], np.int64)
    idle = -(np.arange(3, dtype=np.int64) + 2)
    with_spans = np.concatenate([pids[:4], idle[:2]])
    m = int(rng.integers(0, 400))
    itask = rng.choice(with_spans, m)
    istart = rng.integers(0, 20_000, m).astype(np.int64)
    # a few equal starts, a few intervals that overlap the next (lost switch-ins)
    dup = rng.random(m) < 0.1
    if m > 1:
        istart[1:][dup[1:]] = istart[:-1][dup[1:]]
    iend = istart + rng.choice(np.array([0, 1, 30, 400, 5000], np.int64), m)
    kind = rng.random(m) < 0.6
    keys = np.unique(np.concatenate([with_spans, [pids[4]]]))
    fs = _Cumulative(itask[kind], istart[kind], iend[kind], keys)
    fr = _Cumulative(itask[~kind], istart[~kind], iend[~kind], keys)
    # calls: per task mostly in entry order (as the table is), some not; short calls, calls
    # over many intervals, entries and exits on interval bounds
    ce = np.sort(rng.integers(-100, 21_000, n)).astype(np.int64)
    swap = rng.random(n) < 0.05
    ce[swap] = rng.permutation(ce[swap])
    cx = ce + rng.choice(np.array([0, 1, 5, 50, 3000, 20_000, -3], np.int64), n)
    if m:
        on = rng.random(n) < 0.1
        ce[on] = rng.choice(np.concatenate([istart, iend]), int(on.sum()))
        on = rng.random(n) < 0.1
        cx[on] = np.maximum(ce[on], rng.choice(np.concatenate([istart, iend]), int(on.sum())))
    ce[rng.random(n) < 0.03] = -1
    cx[rng.random(n) < 0.03] = -1
    pid = rng.choice(np.array([1, 2, 7, 40, 41, 300, 0, -1], np.int32), n)
    # runs of one task, like the table's (a task's calls follow each other between switches)
    pid = np.repeat(pid[: max(n // 8, 1)], 8)[:n]
    if len(pid) < n:
        pid = np.concatenate([pid, np.ones(n - len(pid), np.int32)])
    cpu = rng.integers(0, 3, n).astype(np.int16)
    ctx = rng.choice(np.array([TASK, TASK, TASK, 1, 2], np.int8), n)
    return fs, fr, keys, dict(pid=pid, cpu=cpu, ctx=ctx, ce=ce, cx=cx)


def _offspans(
    fs: _Cumulative, fr: _Cumulative, keys: np.ndarray, c: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    n = len(c["ce"])
    out_s, out_r = np.zeros(n, np.int64), np.zeros(n, np.int64)
    stacks.offspans(
        keys,
        fs.off,
        fs.start,
        fs.end,
        fs.before,
        fr.off,
        fr.start,
        fr.end,
        fr.before,
        c["pid"],
        c["cpu"],
        c["ctx"],
        c["ce"],
        c["cx"],
        TASK,
        out_s,
        out_r,
    )
    return out_s, out_r


@pytest.mark.parametrize("seed", range(12))
def test_offspans_is_the_numpy_lookup(seed: int) -> None:
    fs, fr, keys, c = _case(seed, 4000)
    out_s, out_r = _offspans(fs, fr, keys, c)
    args = (c["pid"], c["cpu"], c["ctx"], c["ce"], c["cx"])
    assert np.array_equal(out_s, _reference(fs, *args))
    assert np.array_equal(out_r, _reference(fr, *args))


def test_offspans_writes_only_what_is_not_zero() -> None:
    """The outputs are the caller's zeroed (sparse) columns: a 0 is never written."""
    fs, fr, keys, c = _case(3, 2000)
    n = len(c["ce"])
    want_s = _reference(fs, c["pid"], c["cpu"], c["ctx"], c["ce"], c["cx"])
    out_s, out_r = np.full(n, 99, np.int64), np.full(n, 99, np.int64)
    stacks.offspans(
        keys, fs.off, fs.start, fs.end, fs.before, fr.off, fr.start, fr.end, fr.before,
        c["pid"], c["cpu"], c["ctx"], c["ce"], c["cx"], TASK, out_s, out_r,
    )  # fmt: skip
    assert np.array_equal(out_s, np.where(want_s == 0, 99, want_s))


def test_offspans_without_intervals() -> None:
    """No interval of either kind (or no task key at all): 0, or -1 without a usable time."""
    keys = np.array([5], np.int64)
    empty = _Cumulative(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), keys)
    c = dict(
        pid=np.array([5, 6, 5], np.int32),
        cpu=np.zeros(3, np.int16),
        ctx=np.full(3, TASK, np.int8),
        ce=np.array([10, 10, -1], np.int64),
        cx=np.array([20, 20, 5], np.int64),
    )
    for k in (keys, np.empty(0, np.int64)):
        e = _Cumulative(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), k)
        out_s, out_r = _offspans(e, e, k, c)
        assert out_s.tolist() == [0, 0, -1] and out_r.tolist() == [0, 0, -1]
    assert empty.off.tolist() == [0, 0]


def test_offspans_checks_its_arguments() -> None:
    fs, fr, keys, c = _case(1, 10)
    bad = dict(c, ce=c["ce"][:-1])
    with pytest.raises(ValueError):
        _offspans(fs, fr, keys, bad)
    with pytest.raises((TypeError, ValueError)):
        stacks.offspans(
            keys, fs.off, fs.start, fs.end, fs.before, fr.off, fr.start, fr.end, fr.before,
            c["pid"], c["cpu"], c["ctx"], c["ce"], c["cx"], TASK,
            np.zeros(10, np.int32), np.zeros(10, np.int64),
        )  # fmt: skip
    off = fs.off.copy()
    off[-1] = len(fs.start) + 1  # past the list
    with pytest.raises(ValueError):
        stacks.offspans(
            keys, off, fs.start, fs.end, fs.before, fr.off, fr.start, fr.end, fr.before,
            c["pid"], c["cpu"], c["ctx"], c["ce"], c["cx"], TASK,
            np.zeros(10, np.int64), np.zeros(10, np.int64),
        )  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_valid_range_is_the_masked_min_max(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    ce = rng.integers(-5, 10_000, n).astype(np.int64)
    cx = ce + rng.integers(-20, 500, n)
    cx[rng.random(n) < 0.05] = -1
    v = (ce >= 0) & (cx >= ce)
    assert stacks.valid_range(ce, cx) == (int(ce[v].min()), int(cx[v].max()))
    # (the widest exit need not be the first entry's call)
    assert stacks.valid_range(np.array([5, 1, -1]), np.array([90, 2, 99])) == (1, 90)
    assert stacks.valid_range(np.array([-1, 5]), np.array([3, 4])) is None
    assert stacks.valid_range(np.empty(0, np.int64), np.empty(0, np.int64)) is None
