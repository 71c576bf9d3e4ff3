"""Off-CPU time of each call from sched_switch, and who woke its task (sched_wakeup/waking).

Per task, the off-CPU intervals are [switched out, switched back in).  Their cumulative length
is a non-decreasing function of time, ``F(t)``; a call's off-CPU time is ``F(exit) - F(entry)``
(inclusive of time spent inside its children).  The scheduler events are paired with
``np.searchsorted`` on a combined (task rank, time) key; the calls' lookups are one C pass
(``stacks.offspans``): no Python loop over calls.

Split by the switched-out task's state (``prev_state``, kernel letters as printed by
``sched_switch``, include/trace/events/sched.h): ``R``/``R+`` is runnable (preempted), anything
else is sleeping or blocked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._ext import stacks
from .._malloc import sparse_zeros
from .._numpy import unique
from ..schema import IrqCtx
from ..table import CallTable, EventTable
from .calls import OFFCPU_COLUMNS, task_keys


def _combined(task_rank: np.ndarray, t: np.ndarray, t0: int, span: int) -> np.ndarray:
    """One sortable float64-free key: rank * (span + 2) + (t - t0 + 1), as int64 (or object)."""
    return task_rank.astype(np.int64) * (span + 2) + (t - t0 + 1)


class _Cumulative:
    """F(t) per task: cumulative length of the task's intervals before t.

    Intervals are sorted by (task, start) and grouped by task (``off``: each key's slice), with
    ``before`` the summed length of the task's intervals before each one.  The per-call lookup
    is in C (``stacks.offspans``, both kinds at once), so no call-length temporaries are made.
    """

    def __init__(self, task: np.ndarray, start: np.ndarray, end: np.ndarray, keys: np.ndarray):
        o = np.lexsort((start, task))
        self.task, self.start, self.end = task[o], start[o], end[o]
        self.keys = keys
        self.off = _offsets(self.task, keys)
        length = self.end - self.start
        cum = np.cumsum(length) - length  # global exclusive prefix
        first = np.ones(len(o), dtype=bool)
        first[1:] = self.task[1:] != self.task[:-1]
        base = np.maximum.accumulate(np.where(first, cum, 0))
        self.before = cum - base  # per-task exclusive prefix


def _own_column(calls: CallTable, name: str, dtype: type = np.int64) -> np.ndarray | None:
    """The table's column when it can be overwritten in place (the rebuild's own fresh,
    unshared array), else None (a new array is made)."""
    col = calls[name]
    f = col.flags
    # (an array over the C machine's own buffer has a capsule as its base: not a view either)
    unshared = f.owndata or not isinstance(col.base, np.ndarray)
    if col.dtype == dtype and unshared and f.writeable and f.c_contiguous:
        return col
    return None


STEP = 1 << 18  # calls per chunk: the per-call temporaries are made a chunk at a time (~2 MB)


def _valid(ce: np.ndarray, cx: np.ndarray) -> np.ndarray:
    """Calls with a usable time range (an entry, and an exit not before it)."""
    return (ce >= 0) & (cx >= ce)


def _offsets(sorted_task: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Slice bounds of each key in a task-sorted column (len(keys) + 1)."""
    return np.append(np.searchsorted(sorted_task, keys), len(sorted_task)).astype(np.int64)


_SCAN: Any = object()  # (offcpu's time_range default: scan the calls' times)


def offcpu(
    events: EventTable,
    calls: CallTable,
    ts_max: int | None = None,
    time_range: tuple[int, int] | None = _SCAN,
) -> None:
    """Fill offcpu_sleep_ns, offcpu_runnable_ns and waker_pid of ``calls`` in place.

    ``events`` needs only the scheduler events (a windowed rebuild keeps just the events that
    are not funcgraph records); ``ts_max`` is then the trace's last timestamp.  The off-CPU
    columns are written whatever they held (-1 where the times are unknown), so the table
    builder need not fill them (memory: a sparse placeholder will do).  ``time_range``: the
    calls' ``stacks.valid_range``, when the caller has it (build_table's ``found``)."""
    if not _offcpu(events, calls, ts_max, time_range):
        for name in OFFCPU_COLUMNS:
            col = _own_column(calls, name)
            if col is not None:
                col.fill(-1)
            else:
                calls[name] = np.full(len(calls), -1, np.int64)


def _offcpu(
    events: EventTable, calls: CallTable, ts_max: int | None, time_range: tuple[int, int] | None
) -> bool:
    """The off-CPU times and the wakers, if the scheduler events allow (True)."""
    ft = events.fields.get("sched_switch")
    if ft is None or len(ft) == 0 or "prev_pid" not in ft.columns or "next_pid" not in ft.columns:
        return False
    ts = events["ts"]
    cpu = events["cpu"]
    rows = ft.rows
    sw_ts = ts[rows]
    sw_cpu = cpu[rows]
    prev = task_keys(ft.columns["prev_pid"].astype(np.int64), sw_cpu)
    nxt = task_keys(ft.columns["next_pid"].astype(np.int64), sw_cpu)
    state = ft.columns.get("prev_state")
    runnable = np.zeros(len(rows), dtype=bool)
    if state is not None:
        if "prev_state" in ft.string_cols:
            codes = [i for i, s in enumerate(events.strings.values) if s.startswith("R")]
            runnable = np.isin(state, np.array(codes, dtype=state.dtype))
        else:
            runnable = state == 0
    ce = calls["ts_entry"]
    cx = calls["ts_exit"]
    n = len(calls)
    if not (sw_ts >= 0).all():
        return False  # (no call has a usable time then)
    # the calls' time range (those with a usable one)
    got = (
        stacks.valid_range(ce.astype(np.int64, copy=False), cx.astype(np.int64, copy=False))
        if time_range is _SCAN
        else time_range
    )
    if got is None:
        return False
    cmin, cmax = got
    t0 = int(min(sw_ts.min(), cmin))
    t_end = int(max(sw_ts.max(), cmax, ts.max() if ts_max is None else ts_max))
    span = t_end - t0 + 2
    # switch-outs paired with the task's next switch-in (sorted by task then time)
    keys = unique(np.concatenate([prev, nxt]))
    if len(keys) * (span + 2) > np.iinfo(np.int64).max // 2:
        return False  # absurd time range: unknown
    out_k = _combined(np.searchsorted(keys, prev), sw_ts, t0, span)
    in_k = _combined(np.searchsorted(keys, nxt), sw_ts, t0, span)
    in_sorted = np.sort(in_k)
    j = np.searchsorted(in_sorted, out_k, side="right")
    has_in = j < len(in_sorted)
    in_val = in_sorted[np.clip(j, 0, max(len(in_sorted) - 1, 0))] if len(in_sorted) else out_k
    same = has_in & ((in_val // (span + 2)) == (out_k // (span + 2)))
    end = np.where(same, in_val % (span + 2) + t0 - 1, t_end)
    start = sw_ts
    tasks_out = prev
    fs = _Cumulative(tasks_out[~runnable], start[~runnable], end[~runnable], keys)
    fr = _Cumulative(tasks_out[runnable], start[runnable], end[runnable], keys)
    # Most calls never leave the CPU: the columns are fresh zeros, written only at their other
    # values (off-CPU times, -1 for no usable time), so their pages of only zeros never become
    # resident (~2/3 of them on the benchmark trace).  The columns they replace (build_table's
    # placeholders, or a caller's filled column) are dropped first.
    outs = []
    for name in OFFCPU_COLUMNS:
        calls[name] = sparse_zeros(n, np.int64)
        outs.append(calls[name])
    # a chunk at a time: a column of another type is converted a chunk at a time
    pid, cpu, ctx = calls["pid"], calls["cpu_entry"], calls["ctx"]
    out_s, out_r = outs
    for lo in range(0, n, STEP):
        hi = min(lo + STEP, n)
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
            pid[lo:hi].astype(np.int32, copy=False),
            cpu[lo:hi].astype(np.int16, copy=False),
            ctx[lo:hi].astype(np.int8, copy=False),
            ce[lo:hi].astype(np.int64, copy=False),
            cx[lo:hi].astype(np.int64, copy=False),
            int(IrqCtx.TASK),
            out_s[lo:hi],
            out_r[lo:hi],
        )
    if "waker_pid" in calls.columns:  # (not when the caller left it out)
        _wakers(events, calls, keys, t0)
    return True


def _wakers(events: EventTable, calls: CallTable, keys: np.ndarray, t0: int) -> None:
    """waker_pid of the task's calls: the pid that last woke the task inside the call."""
    parts_rows, parts_pid = [], []
    for name in ("sched_wakeup", "sched_waking", "sched_wakeup_new"):
        ft = events.fields.get(name)
        if ft is not None and "pid" in ft.columns and len(ft):
            parts_rows.append(ft.rows)
            parts_pid.append(ft.columns["pid"].astype(np.int64))
    if not parts_rows:
        return
    rows = np.concatenate(parts_rows)
    target = np.concatenate(parts_pid)
    ts = events["ts"][rows]
    keep = (target > 0) & np.isin(target, keys) & (ts >= t0)
    rows, target, ts = rows[keep], target[keep], ts[keep]
    if not len(rows):
        return
    waker = events["pid"][rows]
    o = np.lexsort((ts, target))  # stable: equal times keep their order
    target, ts, waker = target[o], ts[o], waker[o]
    off = _offsets(target, keys)
    ce, cx = calls["ts_entry"], calls["ts_exit"]
    pid, cpu, ctx = calls["pid"], calls["cpu_entry"], calls["ctx"]
    col = calls["waker_pid"]
    out = _own_column(calls, "waker_pid", col.dtype.type)
    for lo in range(0, len(calls), STEP):
        hi = lo + STEP
        sel = _valid(ce[lo:hi], cx[lo:hi]) & (ctx[lo:hi] == IrqCtx.TASK)
        ctask = task_keys(pid[lo:hi], cpu[lo:hi])
        # the task's last wakeup at or before the call's exit, if it came after the call's entry
        i = stacks.lastin(keys, off, ts, ctask, ce[lo:hi], cx[lo:hi], sel)
        ok = i >= 0
        if ok.any():
            if out is None:  # (a shared column: written in a copy)
                out = col.copy()
            out[lo:hi][ok] = waker[i[ok]]
    if out is not None:
        calls["waker_pid"] = out
