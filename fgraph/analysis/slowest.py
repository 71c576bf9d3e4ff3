"""``fgraph slowest``: the N slowest calls of X as complete call trees.

Each tree holds X's descendants *and* the interrupts that arrived inside them (an interrupt
root hangs under the task call it interrupted, ``interrupted_id``), in entry order.  Calls
shorter than ``min_ns`` (and, with ``depth``, the calls more than ``depth`` levels below X) are
collapsed into one summary line per parent that says how many calls and how much time it
stands for, so the trees stay readable and nothing silently disappears.  Which rows belong to
which tree, what is shown and what each summary line counts is computed for all trees at once
with pointer jumping; only building the printed lines loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._numpy import positions, unique
from ..errors import UsageError
from ..schema import CallFlag, IrqCtx
from ..table import CallTable
from ..units import parse_duration
from .calls import as_calls, flag_names, func_code
from .filters import describe, filter_ids
from .tree import bincount_int, children_sum, display_parent, nearest_stop, subtrees

# The call columns slowest (its trees, filters and collapsed lines) reads: the CLI builds only
# these (``load_windowed(columns=...)``), as for hist (analysis.hist.COLUMNS).
# tests/test_hist_columns.py runs every option on a table built with only these.
COLUMNS = frozenset(
    {
        "parent_id",
        "interrupted_id",
        "pid",
        "comm",
        "func",
        "depth",
        "ts_entry",
        "ts_exit",
        "duration",
        "offcpu_sleep_ns",
        "offcpu_runnable_ns",
        "cpu_entry",
        "cpu_exit",
        "ctx",
        "flags",
        "trace",
    }
)


@dataclass
class TreeLine:
    depth: int  # 0 = the slow call itself
    func: str  # function name; "" for a collapsed-summary line
    call_id: int  # -1 for a collapsed-summary line
    duration_ns: int  # inclusive; for a summary line the collapsed calls' time
    ts_entry_ns: int
    cpu: int
    ctx: int  # IrqCtx
    interrupt: bool  # an interrupt that arrived while its parent line was running
    flags: list[str]  # repairs (synth_entry, truncated, lost_gap, …)
    offcpu_sleep_ns: int  # switched out sleeping/blocked directly in this call (-1 no sched data)
    offcpu_runnable_ns: int  # … while runnable (preempted)
    collapsed_calls: int = 0  # summary line: calls it stands for (including their descendants)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "depth": self.depth,
            "func": self.func,
            "call_id": self.call_id,
            "duration_ns": self.duration_ns,
            "ts_entry_ns": self.ts_entry_ns,
            "cpu": self.cpu,
            "ctx": IrqCtx(self.ctx).name.lower()
            if self.ctx in IrqCtx._value2member_map_
            else "unknown",
            "interrupt": self.interrupt,
            "flags": self.flags,
            "offcpu_sleep_ns": self.offcpu_sleep_ns,
            "offcpu_runnable_ns": self.offcpu_runnable_ns,
        }
        if self.call_id < 0:
            d["collapsed_calls"] = self.collapsed_calls
        return d


@dataclass
class SlowCall:
    rank: int
    call_id: int
    func: str
    pid: int
    comm: str
    cpu_entry: int
    cpu_exit: int
    ts_entry_ns: int
    ts_exit_ns: int
    duration_ns: int
    irq_ns: int  # interrupt time anywhere in the tree
    offcpu_sleep_ns: int
    offcpu_runnable_ns: int
    flags: list[str]
    tree_calls: int  # calls in the tree (descendants + interrupts, not X itself)
    shown_calls: int
    collapsed_calls: int
    collapsed_ns: int  # time of the collapsed subtrees (top-level ones; no double counting)
    lines: list[TreeLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "call_id": self.call_id,
            "func": self.func,
            "pid": self.pid,
            "comm": self.comm,
            "cpu_entry": self.cpu_entry,
            "cpu_exit": self.cpu_exit,
            "ts_entry_ns": self.ts_entry_ns,
            "ts_exit_ns": self.ts_exit_ns,
            "duration_ns": self.duration_ns,
            "irq_ns": self.irq_ns,
            "offcpu_sleep_ns": self.offcpu_sleep_ns,
            "offcpu_runnable_ns": self.offcpu_runnable_ns,
            "flags": self.flags,
            "tree_calls": self.tree_calls,
            "shown_calls": self.shown_calls,
            "collapsed_calls": self.collapsed_calls,
            "collapsed_ns": self.collapsed_ns,
            "tree": [ln.to_dict() for ln in self.lines],
        }


@dataclass
class SlowestResult:
    func: str
    n: int
    min_ns: int
    calls: int  # complete calls of X (after filters)
    truncated_calls: int  # not ranked: their durations are lower bounds
    slowest: list[SlowCall]
    filters: str = ""
    has_offcpu: bool = False
    depth: int = -1  # levels shown below X (-1: all)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "func": self.func,
            "n": self.n,
            "min_ns": self.min_ns,
        }
        if self.depth >= 0:  # (only when asked for: the output without it is as it was)
            d["depth"] = self.depth
        d.update(
            calls=self.calls,
            truncated_calls=self.truncated_calls,
            filters=self.filters,
            slowest=[s.to_dict() for s in self.slowest],
        )
        return d


def slowest(
    trace_or_calls: Any,
    func: str,
    *,
    n: int = 5,
    min: str | int | None = "10us",  # noqa: A002 - mirrors the --min option
    filters: Any = None,
    depth: int | None = None,
) -> SlowestResult:
    """The ``n`` slowest complete calls of ``func`` as trees (subtrees under ``min``, and the
    calls more than ``depth`` levels below ``func``, collapsed; interrupts count as a level)."""
    calls = as_calls(trace_or_calls)
    if n < 1:
        raise UsageError(f"-n must be at least 1, not {n}")
    if depth is not None and depth < 1:
        raise UsageError(f"--depth must be at least 1, not {depth}")
    max_depth = -1 if depth is None else int(depth)
    min_ns = parse_duration(min, what="--min duration") or 0
    code = func_code(calls, func)
    x_ids = filter_ids(calls, filters, np.flatnonzero(calls["func"] == code))
    trunc = (calls["flags"][x_ids] & CallFlag.TRUNCATED) != 0
    ntrunc = int(trunc.sum())
    dur = calls["duration"]
    ids = x_ids[~trunc & (dur[x_ids] >= 0)]  # complete calls, as calls.complete_mask
    # slowest first; equal durations in trace order
    pick = ids[np.lexsort((ids, -dur[ids]))[:n]]
    res = SlowestResult(func, n, min_ns, len(ids), ntrunc, [], describe(filters), depth=max_depth)
    if len(pick) == 0:
        return res

    # Work on the picks' trees only: a sub-table of the rows they hold (descendants and
    # interrupts), ids remapped; the whole table only if its shape does not allow that.
    got = _display_universe(calls, pick)
    if got is None:
        trees = _trees_of(calls, func, pick, min_ns, max_depth)
    else:
        sub, uni = got
        local = _trees_of(sub, func, np.searchsorted(uni, pick), min_ns, max_depth)
        trees = {}
        for r, sc in local.items():
            sc.call_id = int(uni[r])
            for ln in sc.lines:
                if ln.call_id >= 0:
                    ln.call_id = int(uni[ln.call_id])
            trees[sc.call_id] = sc
    for rank, r in enumerate(pick.tolist(), start=1):
        trees[r].rank = rank
        res.slowest.append(trees[r])
    res.has_offcpu = bool((calls["offcpu_sleep_ns"][pick] >= 0).all())
    return res


def _display_universe(calls: CallTable, pick: np.ndarray) -> tuple[CallTable, np.ndarray] | None:
    """Sub-table of the picks' display trees: their descendants, the interrupts that arrived
    inside them and those interrupts' descendants (rounds of :func:`subtrees`, one per level
    of interrupt nesting).  ``(sub-table, its rows in calls)``; None when subtrees() declines.
    """
    parent, depth = calls["parent_id"], calls["depth"]
    intr = calls["interrupted_id"]
    cand = np.flatnonzero(intr >= 0)
    cand = cand[parent[cand] < 0]  # interrupt roots
    cand_at = intr[cand]
    parts = []
    tops = unique(pick)
    for _ in range(64):  # interrupt nesting levels (task → softirq → hardirq → nmi)
        if len(tops) == 0:
            break
        got = subtrees(parent, depth, tops)
        if got is None:
            return None
        rows = got[2]
        parts.append(rows)
        tops = cand[positions(rows, cand_at) >= 0]
    else:
        return None
    uni = unique(np.concatenate(parts))
    cols = {}
    for name, col in calls.columns.items():  # (the columns loaded: see COLUMNS)
        a = col[uni]
        if name in ("parent_id", "interrupted_id"):
            a = positions(uni, a).astype(a.dtype)  # (-1 stays: no row is negative)
        elif name == "call_id":
            a = np.arange(len(uni), dtype=a.dtype)
        cols[name] = a
    return CallTable(cols, calls.strings, omit=calls.omitted), uni


def _trees_of(
    calls: CallTable, func: str, pick: np.ndarray, min_ns: int, max_depth: int = -1
) -> dict[int, SlowCall]:
    dur = calls["duration"]
    parent = calls["parent_id"]
    dpar = display_parent(parent, calls["interrupted_id"])
    nrows = len(calls)
    # Recursion: a picked call may lie inside another picked call.  Trees are built one
    # nesting level at a time, so an outer tree contains the inner pick's whole subtree and
    # the inner pick still gets its own tree.
    stop_all = np.zeros(nrows, dtype=bool)
    stop_all[pick] = True
    owner_all, _ = nearest_stop(dpar, stop_all)
    outer = {int(p): (int(owner_all[dpar[p]]) if dpar[p] >= 0 else -1) for p in pick}
    level: dict[int, int] = {}
    for p in pick.tolist():  # a handful of picks; walk their (short) chains of outer picks
        k, q = 0, outer[p]
        while q >= 0:
            k, q = k + 1, outer[q]
        level[p] = k
    trees: dict[int, SlowCall] = {}
    for lv in sorted(set(level.values())):
        group = np.array([p for p in pick.tolist() if level[p] == lv], dtype=np.int64)
        _build_trees(calls, func, group, dpar, dur, min_ns, max_depth, trees)
    return trees


def _build_trees(
    calls: CallTable,
    func: str,
    pick: np.ndarray,
    dpar: np.ndarray,
    dur: np.ndarray,
    min_ns: int,
    max_depth: int,
    trees: dict[int, SlowCall],
) -> None:
    """Trees of the picked calls ``pick`` (none inside another), added to ``trees``; calls
    more than ``max_depth`` levels below their pick are collapsed too (-1: none)."""
    parent = calls["parent_id"]
    nrows = len(calls)
    stop = np.zeros(nrows, dtype=bool)
    stop[pick] = True
    owner, depth = nearest_stop(dpar, stop)
    member = owner >= 0
    long_enough = dur >= min_ns
    if max_depth >= 0:  # (a level is a display level: an interrupt is one below its call)
        long_enough &= depth <= max_depth
    shown = member & (long_enough | stop)
    hidden = member & ~shown
    # keep the shown set closed under ancestors (an odd short parent hides its children)
    hid_owner, _ = nearest_stop(dpar, hidden)
    shown &= hid_owner < 0
    hidden = member & ~shown
    near_shown, _ = nearest_stop(dpar, shown)
    top_hidden = hidden & (np.where(dpar >= 0, shown[np.clip(dpar, 0, None)], False))
    coll_calls = (
        np.bincount(near_shown[hidden], minlength=nrows)
        if hidden.any()
        else np.zeros(nrows, np.int64)
    )
    coll_ns = bincount_int(dpar[top_hidden], np.clip(dur[top_hidden], 0, None), nrows)
    has_sched = bool((calls["offcpu_sleep_ns"][pick] >= 0).all())
    sleep0 = np.clip(calls["offcpu_sleep_ns"], 0, None)
    runq0 = np.clip(calls["offcpu_runnable_ns"], 0, None)
    own_sleep = sleep0 - children_sum(parent, sleep0)
    own_runq = runq0 - children_sum(parent, runq0)
    coll_sleep = bincount_int(dpar[top_hidden], sleep0[top_hidden], nrows)
    coll_runq = bincount_int(dpar[top_hidden], runq0[top_hidden], nrows)
    is_irq_root = (parent < 0) & (calls["interrupted_id"] >= 0)
    irq_sel = member & is_irq_root
    irq_time = bincount_int(owner[irq_sel], np.clip(dur[irq_sel], 0, None), nrows)
    tree_size = np.bincount(owner[member], minlength=nrows)
    shown_size = np.bincount(owner[shown], minlength=nrows)

    # rows of every tree grouped by owner, each in entry order (= preorder of the tree)
    rows = np.nonzero(shown)[0]
    rows = rows[np.lexsort((rows, owner[rows]))]
    own_sorted = owner[rows]
    names = calls.strings
    flags = calls["flags"]
    # a rebuilt entry (SYNTH_ENTRY) has no CPU of its own: show the exit's
    cpu = np.where(calls["cpu_entry"] >= 0, calls["cpu_entry"], calls["cpu_exit"])
    ts = calls["ts_entry"]
    ctx = calls["ctx"]

    def sched(v: int) -> int:
        return int(v) if has_sched else -1

    # Each shown call's values gathered once, as Python ints, in ``rows``' order: the loop
    # below makes a line per shown call (a slow call of a real capture had 80k of them), and
    # a numpy scalar read per value per line was most of its time.
    at = {"depth": depth[rows], "func": calls["func"][rows], "dur": dur[rows], "ts": ts[rows]}
    at.update(cpu=cpu[rows], ctx=ctx[rows], irq=is_irq_root[rows], flags=flags[rows])
    at.update(sleep=np.maximum(own_sleep[rows], 0), runq=np.maximum(own_runq[rows], 0))
    at.update(ncoll=coll_calls[rows], coll_ns=coll_ns[rows])
    at.update(coll_sleep=coll_sleep[rows], coll_runq=coll_runq[rows])
    col = {k: v.tolist() for k, v in at.items()}
    row_ids = rows.tolist()
    name_of: dict[int, str] = {}

    def close_until(stack: list[int], lines: list[TreeLine], d: int) -> None:
        # Close open calls at depth >= d, writing each one's collapsed summary as its last
        # child (``stack``: their places in ``rows``).
        while stack and col["depth"][stack[-1]] >= d:
            i = stack.pop()
            if col["ncoll"][i]:
                lines.append(
                    TreeLine(
                        col["depth"][i] + 1,
                        "",
                        -1,
                        col["coll_ns"][i],
                        -1,
                        -1,
                        int(IrqCtx.UNKNOWN),
                        False,
                        [],
                        sched(col["coll_sleep"][i]),
                        sched(col["coll_runq"][i]),
                        col["ncoll"][i],
                    )
                )

    for r in pick.tolist():
        lo, hi = np.searchsorted(own_sorted, r, "left"), np.searchsorted(own_sorted, r, "right")
        lines: list[TreeLine] = []
        stack: list[int] = []  # open calls (display ancestors of the next line)

        for i in range(int(lo), int(hi)):
            c = row_ids[i]
            d = col["depth"][i]
            close_until(stack, lines, d)
            code = col["func"][i]
            name = name_of.get(code)
            if name is None:
                name = name_of[code] = str(names[code])
            lines.append(
                TreeLine(
                    d,
                    name,
                    c,
                    col["dur"][i],
                    col["ts"][i],
                    col["cpu"][i],
                    col["ctx"][i],
                    col["irq"][i] and c != r,
                    flag_names(col["flags"][i]),
                    sched(col["sleep"][i]),
                    sched(col["runq"][i]),
                )
            )
            stack.append(i)
        close_until(stack, lines, 0)
        trees[r] = SlowCall(
            rank=0,
            call_id=r,
            func=func,
            pid=int(calls["pid"][r]),
            comm=str(names[int(calls["comm"][r])] or ""),
            cpu_entry=int(calls["cpu_entry"][r]),
            cpu_exit=int(calls["cpu_exit"][r]),
            ts_entry_ns=int(ts[r]),
            ts_exit_ns=int(calls["ts_exit"][r]),
            duration_ns=int(dur[r]),
            irq_ns=int(irq_time[r]),
            offcpu_sleep_ns=sched(calls["offcpu_sleep_ns"][r]),
            offcpu_runnable_ns=sched(calls["offcpu_runnable_ns"][r]),
            flags=flag_names(int(flags[r])),
            tree_calls=int(tree_size[r]) - 1,
            shown_calls=int(shown_size[r]) - 1,
            collapsed_calls=int(tree_size[r] - shown_size[r]),
            collapsed_ns=int(coll_ns[shown & (owner == r)].sum()),
            lines=lines,
        )
