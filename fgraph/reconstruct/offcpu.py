"""Off-CPU time of each call from sched_switch, and who woke its task (sched_wakeup/waking).

Per task, the off-CPU intervals are [switched out, switched back in).  Their cumulative length
is a non-decreasing function of time, ``F(t)``; a call's off-CPU time is ``F(exit) - F(entry)``
(inclusive of time spent inside its children).  Everything is sorted once and looked up with
``np.searchsorted`` on a combined (task rank, time) key: no loop over calls.

Split by the switched-out task's state (``prev_state``, kernel letters as printed by
``sched_switch``, include/trace/events/sched.h): ``R``/``R+`` is runnable (preempted), anything
else is sleeping or blocked.
"""

from __future__ import annotations

import numpy as np

from ..schema import IrqCtx
from ..table import CallTable, EventTable
from .calls import task_keys


def _combined(task_rank: np.ndarray, t: np.ndarray, t0: int, span: int) -> np.ndarray:
    """One sortable float64-free key: rank * (span + 2) + (t - t0 + 1), as int64 (or object)."""
    return task_rank.astype(np.int64) * (span + 2) + (t - t0 + 1)


class _Cumulative:
    """F(t) per task: cumulative length of the task's intervals before t."""

    def __init__(
        self,
        task: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        keys: np.ndarray,
        t0: int,
        span: int,
    ):
        o = np.lexsort((start, task))
        self.task, self.start, self.end = task[o], start[o], end[o]
        self.keys = keys
        rank = np.searchsorted(keys, self.task)
        self.span, self.t0 = span, t0
        self.k = _combined(rank, self.start, t0, span)
        length = self.end - self.start
        cum = np.cumsum(length) - length  # global exclusive prefix
        first = np.ones(len(o), dtype=bool)
        first[1:] = self.task[1:] != self.task[:-1]
        base = np.maximum.accumulate(np.where(first, cum, 0))
        self.before = cum - base  # per-task exclusive prefix

    def __call__(self, task: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.zeros(len(t), dtype=np.int64)
        if len(self.k) == 0:
            return out
        rank = np.searchsorted(self.keys, task)
        rank_ok = (rank < len(self.keys)) & (
            self.keys[np.clip(rank, 0, len(self.keys) - 1)] == task
        )
        q = _combined(rank, t, self.t0, self.span)
        i = np.searchsorted(self.k, q, side="right") - 1
        ic = np.clip(i, 0, None)
        ok = (i >= 0) & rank_ok & (self.task[ic] == task)
        val = self.before[ic] + np.minimum(t, self.end[ic]) - self.start[ic]
        out[ok] = val[ok]
        return out


def offcpu(events: EventTable, calls: CallTable) -> None:
    """Fill offcpu_sleep_ns, offcpu_runnable_ns and waker_pid of ``calls`` in place."""
    ft = events.fields.get("sched_switch")
    if ft is None or len(ft) == 0 or "prev_pid" not in ft.columns or "next_pid" not in ft.columns:
        return
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
    n = len(calls)
    ce = calls["ts_entry"]
    cx = calls["ts_exit"]
    ctask = task_keys(calls["pid"], calls["cpu_entry"].astype(np.int64))
    valid_t = (ce >= 0) & (cx >= ce) & (sw_ts >= 0).all()
    if not valid_t.any() or (sw_ts < 0).all():
        return
    t0 = int(min(sw_ts.min(), ce[valid_t].min()))
    t_end = int(max(sw_ts.max(), cx[valid_t].max(), ts.max()))
    span = t_end - t0 + 2
    # switch-outs paired with the task's next switch-in (sorted by task then time)
    keys = np.unique(np.concatenate([prev, nxt]))
    if len(keys) * (span + 2) > np.iinfo(np.int64).max // 2:
        return  # absurd time range; leave unknown
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
    fs = _Cumulative(tasks_out[~runnable], start[~runnable], end[~runnable], keys, t0, span)
    fr = _Cumulative(tasks_out[runnable], start[runnable], end[runnable], keys, t0, span)
    is_task = calls["ctx"] == IrqCtx.TASK
    sleep = np.full(n, -1, np.int64)
    run = np.full(n, -1, np.int64)
    sel = valid_t
    sleep[sel] = fs(ctask[sel], cx[sel]) - fs(ctask[sel], ce[sel])
    run[sel] = fr(ctask[sel], cx[sel]) - fr(ctask[sel], ce[sel])
    sleep[~is_task & sel] = 0
    run[~is_task & sel] = 0
    calls["offcpu_sleep_ns"] = sleep
    calls["offcpu_runnable_ns"] = run
    _wakers(events, calls, ctask, keys, t0, span, sel & is_task)


def _wakers(
    events: EventTable,
    calls: CallTable,
    ctask: np.ndarray,
    keys: np.ndarray,
    t0: int,
    span: int,
    sel: np.ndarray,
) -> None:
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
    k = _combined(np.searchsorted(keys, target), ts, t0, span)
    o = np.argsort(k, kind="stable")
    k, waker = k[o], waker[o]
    idx = np.nonzero(sel & np.isin(ctask, keys))[0]
    rank = np.searchsorted(keys, ctask[idx])
    q_exit = _combined(rank, calls["ts_exit"][idx], t0, span)
    q_entry = _combined(rank, calls["ts_entry"][idx], t0, span)
    i = np.searchsorted(k, q_exit, side="right") - 1
    ok = (i >= 0) & (k[np.clip(i, 0, None)] >= q_entry)
    out = calls["waker_pid"].copy()
    out[idx[ok]] = waker[i[ok]]
    calls["waker_pid"] = out
