"""``fgraph trim``: keep X's calls (optionally only the slow ones), their subtrees, the
interrupts that arrived inside them and the events inside them; write them as function_graph
text (:mod:`fgraph.export.ftrace_text`) that fgraph reads back with the same results for X.

Selection:

* roots: the outermost calls of X (an X inside another kept X travels with its outer call),
  with ``duration >= threshold`` when a threshold is given (truncated calls count with their
  lower-bound duration);
* their subtrees through ``parent_id``, and interrupt trees whose ``interrupted_id`` is a kept
  call (so irq time inside X survives);
* for a root closed by an outer frame's exit (CLOSED_BY_OUTER), its callers up to the one
  whose exit closed it (their own lines only), so the reader closes it the same way;
* the non-graph events of X's task while a root is open: records of the task itself
  (``common_pid``: its sched_switch out, irq and softirq events, wakeups it sends), the
  sched_switch that brings it back (``next_pid``) and wakeups of it (``pid`` field) — what the
  rebuild needs for off-CPU time and waker_pid;
* the lost-event gaps that fall while a root is open (``CPU:n [LOST m EVENTS]``), so the
  repairs and LOST_GAP flags they cause are made again;
* every sched_switch of those tasks (switched out or in), also between kept calls, so the
  task's on/off-CPU state at each call's entry is the same as in the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from .._numpy import positions, unique
from ..analysis.tree import frame_parent, outermost
from ..errors import UsageError
from ..schema import EVENT, GRAPH_KINDS, CallFlag
from ..table import CallTable, EventTable, LostTable
from .ftrace_text import WriteStats, write_function_graph

# The call columns the selection and the writer read: ``fgraph trim`` builds only these
# (``load_windowed(columns=...)``); tests/test_trim_reread.py writes from such a table.
COLUMNS = frozenset(
    {
        "parent_id",
        "interrupted_id",
        "pid",
        "comm",
        "func",
        "module",
        "ts_entry",
        "ts_exit",
        "duration",
        "cpu_entry",
        "cpu_exit",
        "ctx",
        "flags",
        "retval",
        "entry_row",
        "exit_row",
    }
)


@dataclass
class Selection:
    roots: np.ndarray  # call ids of the kept outermost X calls
    calls: np.ndarray  # every kept call id (sorted)
    events: np.ndarray  # kept non-graph event rows (sorted)
    lost: np.ndarray  # rows of the lost-event table inside a kept call (sorted)


def select_calls(
    calls: CallTable, func: str, threshold_ns: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(roots, kept call ids) for X's outermost calls (≥ threshold) and everything under them."""
    n = len(calls)
    code = calls.strings.lookup(func)
    if code < 0 or not (calls["func"] == code).any():
        raise UsageError(f"function {func!r} does not appear in the trace")
    cand = calls["func"] == code
    if threshold_ns is not None:
        cand &= calls["duration"] >= threshold_ns
    # (every row under a candidate lies under an outermost one)
    roots, kept = outermost(frame_parent(calls), cand)
    # A root that was closed by an outer frame's exit (its own exit missing) needs that exit in
    # the output too, or the reader would pair it with a later exit of the same function.
    # Keep its callers up to the first one that returned (their lines only, not their other
    # callees).  When no caller returned (the trace.dat rebuild closed the chain because an
    # exit's calltime showed it belonged to another call), there is no line that could say so
    # in text, and the chain is left as it is.
    flags = calls["flags"]
    parent = calls["parent_id"].astype(np.int64)
    start = np.nonzero(roots & ((flags & CallFlag.CLOSED_BY_OUTER) != 0))[0]
    chain_of = start.copy()  # which root each walker belongs to
    cur = start.copy()
    steps: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(n):  # one step per level of callers
        par = parent[cur]
        ok = par >= 0
        cur, chain_of = par[ok], chain_of[ok]
        if not len(cur):
            break
        steps.append((cur, chain_of))
        done = (flags[cur] & CallFlag.TRUNCATED) == 0  # this caller returned: the closer
        if done.any():
            closer_found = np.zeros(n, dtype=bool)
            closer_found[chain_of[done]] = True
            for ids, ch in steps:  # keep the whole chain of the roots that found their closer
                kept[ids[closer_found[ch]]] = True
        cur, chain_of = cur[~done], chain_of[~done]
    return np.nonzero(roots)[0], np.nonzero(kept)[0]


def _alt_pid(events: EventTable, event: str, field: str) -> tuple[np.ndarray, np.ndarray]:
    rows, vals = events.field(event, field)
    return np.asarray(rows, dtype=np.int64), np.asarray(vals, dtype=np.int64)


def select_events(events: EventTable, calls: CallTable, roots: np.ndarray) -> np.ndarray:
    """Non-graph event rows that belong to a root's task while the root is open."""
    nev = len(events)
    if nev == 0 or len(roots) == 0:
        return np.empty(0, dtype=np.int64)
    kind = events["kind"]
    other = ~np.isin(kind, np.array(GRAPH_KINDS, dtype=kind.dtype))
    ts = events["ts"]
    # Candidate (row, task pid) pairs: the record's own pid plus the task it switches in/wakes.
    rows = [np.nonzero(other)[0]]
    pids = [events["pid"][rows[0]].astype(np.int64)]
    for ev, fld in (
        ("sched_switch", "next_pid"),
        ("sched_wakeup", "pid"),
        ("sched_waking", "pid"),
        ("sched_wakeup_new", "pid"),
    ):
        r, v = _alt_pid(events, ev, fld)
        if len(r):
            rows.append(r)
            pids.append(v)
    row = np.concatenate(rows)
    pid = np.concatenate(pids)
    keep = np.zeros(nev, dtype=bool)
    rpid = calls["pid"][roots].astype(np.int64)
    t0 = calls["ts_entry"][roots]
    t1 = calls["ts_exit"][roots]
    for p in unique(rpid).tolist():  # one step per task
        m = rpid == p
        a, b = t0[m], t1[m]
        o = np.argsort(a, kind="stable")
        a, b = a[o], b[o]
        sel = pid == p
        r = row[sel]
        t = ts[r]
        i = np.searchsorted(a, t, side="right") - 1
        ok = (i >= 0) & (t >= 0)
        ok[ok] &= t[ok] <= b[i[ok]]
        keep[r[ok]] = True
    # Every context switch of the roots' tasks, inside a window or not: the rebuild's off-CPU
    # time of a call depends on the task's switch state when it entered the call (a switch-in
    # between two kept calls is what ends an off-CPU stretch that began in the first).
    rows_sw, prev = _alt_pid(events, "sched_switch", "prev_pid")
    rows_sw2, nxt = _alt_pid(events, "sched_switch", "next_pid")
    tasks = unique(rpid)
    keep[rows_sw[np.isin(prev, tasks)]] = True
    keep[rows_sw2[np.isin(nxt, tasks)]] = True
    return np.nonzero(keep)[0]


def select_lost(events: EventTable, calls: CallTable, roots: np.ndarray) -> np.ndarray:
    """Lost-event gaps that fall while a root is open (they repair and flag the calls)."""
    lost = events.lost
    if len(lost) == 0 or len(roots) == 0:
        return np.empty(0, dtype=np.int64)
    a = calls["ts_entry"][roots].astype(np.int64)
    b = calls["ts_exit"][roots].astype(np.int64)
    o = np.argsort(a, kind="stable")
    a, bmax = a[o], np.maximum.accumulate(b[o])
    t = lost["ts"].astype(np.int64)
    i = np.searchsorted(a, t, side="right") - 1
    ok = (i >= 0) & (t >= 0)
    ok[ok] &= t[ok] <= bmax[i[ok]]
    return np.nonzero(ok)[0]


def select(trace: Any, func: str, threshold_ns: int | None = None) -> Selection:
    """What :func:`trim` keeps; UsageError when no call of ``func`` is long enough."""
    calls: CallTable = trace.call_table
    events: EventTable = trace.event_table
    roots, kept = select_calls(calls, func, threshold_ns)
    if len(roots) == 0:
        raise UsageError(f"no call of {func!r} is at least as long as the threshold")
    return Selection(
        roots, kept, select_events(events, calls, roots), select_lost(events, calls, roots)
    )


def write_selection(trace: Any, sel: Selection, out: IO[str]) -> WriteStats:
    return write_function_graph(
        trace.event_table, trace.call_table, sel.calls, sel.events, out, lost_rows=sel.lost
    )


@dataclass
class Reread:
    """What :func:`select_reread` gives :func:`write_reread`: the selection, and the records
    it prints (a table of those alone, in timeline order) with the calls pointing at them."""

    sel: Selection
    events: EventTable
    calls: CallTable
    order: np.ndarray  # the table's rows in the order the writer follows


def select_reread(
    trace: Any,
    func: str,
    threshold_ns: int | None,
    reread: Callable[[np.ndarray], tuple[EventTable, np.ndarray]],
) -> Reread:
    """:func:`select` for a trace loaded window by window, whose event table holds no funcgraph
    record (``load_windowed(columns=COLUMNS, final_rows=False)``): the calls are chosen from
    its call table, then ``reread(row ids)`` reads the input again for the records they were
    made of, beside every event that is not a funcgraph record (``pipeline.reread_rows``).  The
    output is the same as from the whole trace; the memory is the calls' and the kept records',
    not every record's.  The call table's rows are re-pointed at the new table (in place)."""
    calls: CallTable = trace.call_table
    first: EventTable = trace.event_table
    roots, kept = select_calls(calls, func, threshold_ns)
    if len(roots) == 0:
        raise UsageError(f"no call of {func!r} is at least as long as the threshold")
    lost_sel = select_lost(first, calls, roots)
    lost = first.lost.take(lost_sel) if len(lost_sel) else LostTable({}, first.strings)
    # the records of the kept calls, and those a kept gap comes before (the writer prints the
    # gap just before that record)
    named = np.concatenate(
        [calls["entry_row"][kept], calls["exit_row"][kept], lost["row"] if len(lost) else []]
    ).astype(np.int64)
    events, ids = reread(named[named >= 0])
    # (the second read has a string pool of its own: its codes are taken into the calls')
    events = _into_pool(events, calls, first)
    srt = np.argsort(ids, kind="stable")
    sorted_ids = ids[srt]

    def moved(rows: np.ndarray) -> np.ndarray:
        at = positions(sorted_ids, rows)
        return np.where((rows >= 0) & (at >= 0), srt[np.clip(at, 0, None)], -1)

    for col in ("entry_row", "exit_row"):
        # (only the kept calls' rows are read from here on: the others are cleared in place,
        # not mapped through call-table-sized temporaries)
        rows = np.asarray(calls[col][kept], dtype=np.int64)
        calls[col][:] = -1
        calls[col][kept] = moved(rows)
    if len(lost):
        lost["row"] = moved(np.asarray(lost["row"], dtype=np.int64))
        events.lost = LostTable(dict(lost.columns), events.strings)
    # A trace.dat's table is in timeline order; a text is printed in its own line order
    # (``tables.event_time_order``).
    order = np.arange(len(events)) if first.meta.format == "trace.dat" else srt
    sel = Selection(
        roots, kept, select_events(events, calls, roots), np.arange(len(lost), dtype=np.int64)
    )
    return Reread(sel, events, calls, order)


def _into_pool(events: EventTable, calls: CallTable, first: EventTable) -> EventTable:
    if events.strings is calls.strings:
        return events
    empty = EventTable({k: np.empty(0, c.dtype) for k, c in EVENT.items()}, calls.strings)
    out = EventTable.concat([empty, events], meta=first.meta)
    # (its pool starts with the calls' strings, code for code: the writer names the calls'
    # and the events' codes from one pool)
    calls.strings = out.strings
    return out


def write_reread(r: Reread, out: IO[str]) -> WriteStats:
    return write_function_graph(
        r.events, r.calls, r.sel.calls, r.sel.events, out, order=r.order, lost_rows=r.sel.lost
    )


def trim(
    trace: Any, func: str, out: IO[str], *, threshold_ns: int | None = None
) -> tuple[Selection, WriteStats]:
    """Write the trimmed trace of ``func`` to ``out``; returns what was kept."""
    sel = select(trace, func, threshold_ns)
    return sel, write_selection(trace, sel, out)
