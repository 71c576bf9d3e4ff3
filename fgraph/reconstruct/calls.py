"""Pair entries with exits on per-task stacks: the call table.

The sequential part (one pass over the timeline, one stack per task) is the C machine in
``fgraph/_ext/stacks.c``; this module prepares what every record of a window shares with numpy
(contexts, record delay, gaps, death marks: :class:`_Prep`), lets the machine read the records
in place through the timeline order (:meth:`Rebuilder.feed_rows`; :func:`prepare` gives the
same input as columns), and turns its output into a :class:`~fgraph.table.CallTable`
(ordering, the calls' record attributes, self and interrupt time).

Task key: the pid, except the idle task (pid 0, one per CPU) and unknown pids (-1), which are
keyed by CPU.  A task keeps its stack when it migrates.

:class:`Rebuilder` keeps the machine's state between :meth:`Rebuilder.feed` calls, so a trace
can be fed in timeline-ordered chunks (issue 7); ``rebuild()`` is one feed of the whole table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._ext import stacks
from .._malloc import sparse_zeros
from .._numpy import positions, unique
from ..schema import CALL_COLUMNS, CallFlag, EventKind, IrqCtx
from ..table import CallTable, EventTable, StringPool, TraceMeta
from . import irq, timeline

EV_ENTRY = 1
EV_EXIT = 2
EV_GAP = 3
EB_CALLTIME = 0x04  # stacks.c: the exit carries its own calltime

REPAIR_FLAGS = int(
    CallFlag.SYNTH_ENTRY | CallFlag.TRUNCATED | CallFlag.LOST_GAP | CallFlag.CLOSED_BY_OUTER
)


def task_keys(pid: np.ndarray, cpu: np.ndarray) -> np.ndarray:
    """Stack owner of each record: pid, or -(cpu+2) for the idle task and unknown pids."""
    pid64 = pid.astype(np.int64)
    if len(pid64) == 0 or pid64.min() > 0:
        return pid64
    # in place, on the few idle/unknown records only (no trace-length temporaries)
    idle = np.flatnonzero(pid64 <= 0)
    pid64[idle] = -(cpu[idle].astype(np.int64) + 2)
    return pid64


# A task that died (switched out for the last time as a zombie, or inside do_exit, which never
# returns) leaves its frames open; the kernel then hands its pid to a new task.  Stacks are
# keyed by pid, so each pid gets a *generation* that starts anew (a fresh, empty stack) at:
#  * a record after a sched_switch whose prev_pid is the pid and whose prev_state is dead
#    ("Z" zombie / "X" dead: kernel TASK_REPORT letters, include/trace/events/sched.h);
#  * in text, a record whose comm differs from the pid's previous record while it is a task-
#    context entry at kernel depth 0: after exec (the other way a comm changes) the first
#    record with the new comm is inside execve, never a depth-0 entry.
# trace.dat comms come from saved_cmdlines (one per pid), so there only the first rule applies.
# The machine follows the generations as it runs the records (stacks.c gen_of): a death mark
# waits for its pid's next task-context (irqctx <= 0) entry at kernel depth 0, across windows
# (the records of the dying task's last __schedule still carry its pid after its final
# sched_switch), and once the comm rule is on each pid's last comm is kept.  A record that
# starts a task has the new generation.
# Task keys of generation g > 0 are pid + (g << 33): they stay unique, as pid < 2**32 and the
# idle/unknown keys are negative.


class Generations:
    """Pid generations across timeline windows: the state a window leaves to the next (each
    pid's generation, the pids with a death mark not yet followed by a new task, and each pid's
    last comm) lives in the C machine's ``stacks.gens`` object."""

    def __init__(self) -> None:
        self._g = stacks.gens()
        self.comm_rule = False  # on from the first window where a pid shows two comms

    def window(self, events: EventTable) -> tuple[Any, np.ndarray, np.ndarray, bool]:
        """What the machine needs to follow the generations through one window: (state,
        rows of the death marks, sorted, their pids, whether the comm rule turns on here)."""
        marks_row = marks_pid = np.empty(0, np.int64)
        ft = events.fields.get("sched_switch")
        if (
            ft is not None
            and "prev_pid" in ft.columns
            and "prev_state" in ft.string_cols
            and len(ft)
        ):
            states = ft.columns["prev_state"]
            codes = unique(states)  # decode the few distinct states, not the whole pool
            dead_codes = [c for c in codes if (events.strings[int(c)] or "")[:1] in ("Z", "X")]
            if dead_codes:
                # (a comparison per dead state, few: np.isin's setup cost ~0.1 ms a window)
                hit = states == dead_codes[0]
                for c in dead_codes[1:]:
                    hit |= states == c
                dead = np.flatnonzero(hit)
                rows = ft.rows[dead].astype(np.int64)
                o = np.argsort(rows, kind="stable")
                marks_row = rows[o]
                marks_pid = ft.columns["prev_pid"][dead[o]].astype(np.int64)
        now = False
        # Only when some pid shows two comms: never where the comm column is a function of
        # the pid (a trace.dat's, from its one saved_cmdlines table: parsers/tracedat
        # _CommCache/comm_table), whose windows skip the scan (~30 ms at 10M records)
        if not self.comm_rule and not events.meta.comm_by_pid:
            now = self.comm_rule = stacks.two_comms(events["kind"], events["pid"], events["comm"])
        return self._g, marks_row, marks_pid, now


@dataclass
class MachineInput:
    """Columns fed to the C machine, in timeline order (funcgraph records and gap markers)."""

    pos: np.ndarray
    row: np.ndarray
    kind: np.ndarray
    task: np.ndarray
    cpu: np.ndarray
    ctx: np.ndarray
    bits: np.ndarray
    fkey: np.ndarray
    ts: np.ndarray
    dur: np.ndarray
    kdepth: np.ndarray

    def __len__(self) -> int:
        return len(self.pos)


def prepare(events: EventTable, order: np.ndarray, row_base: int = 0) -> MachineInput:
    """Machine input for ``events`` (rows numbered from ``row_base``)."""
    return _Prep(events, order, row_base).window(0, len(order))


def prepare_windows(
    events: EventTable, order: np.ndarray, size: int = 1 << 20
) -> Iterator[MachineInput]:
    """The machine input of ``prepare`` in pieces of ``size`` timeline positions: fed one after
    the other to one :class:`Rebuilder` they give the same calls, and only one piece of input
    (59 bytes a record) is in memory at a time next to the machine's growing call columns."""
    p = _Prep(events, order, 0)
    n = len(order)
    for lo in range(0, max(n, 1), max(int(size), 1)):
        yield p.window(lo, min(lo + size, n))


# The record delay (below) is taken from the exits among the first DELAY_PREFIX timeline
# positions, so that it is the same whether a trace is rebuilt whole or window by window.  A
# windowed rebuild holds its first windows, prepared, until it has seen that many records, so
# the prefix is no longer than a window or two: 2^18 held four windows at the start of a read
# (~20 MB, the peak of hist --func on 47 MB of trace.dat).  Among ~30k exits the least delay is
# the one among 130k on every trace.dat of the corpus but one (vm61/system.dat: 260 ns against
# 250), and the delay only places the entries made up for orphan exits.
DELAY_PREFIX = 1 << 16


def record_delay(events: EventTable, order: np.ndarray, prefix: int = DELAY_PREFIX) -> int:
    """Smallest ts - rettime of the exits with a calltime among the first ``prefix`` records."""
    least = delay_candidate(events, order, prefix)
    return 0 if least is None else least


def delay_candidate(events: EventTable, order: np.ndarray, prefix: int) -> int | None:
    """:func:`record_delay` of one table's first ``prefix`` timeline positions, None when
    they hold no exit with a calltime.  The delay of consecutive timeline windows is the least
    candidate of their positions inside the trace's first ``prefix`` (window.py)."""
    if not events.meta.ts_known or prefix <= 0:
        return None
    kind = events["kind"]
    head = order[:prefix] if len(order) > prefix else None
    ex = (
        np.flatnonzero(kind == EventKind.FG_EXIT)
        if head is None
        else head[kind[head] == EventKind.FG_EXIT]
    )
    ct, rt, ts = events["calltime"][ex], events["rettime"][ex], events["ts"][ex]
    has_ct = (ct >= 0) & (rt >= ct) & (ts >= 0)
    if has_ct.any():
        return int((ts[has_ct] - rt[has_ct]).min())
    return None


@dataclass
class WindowState:
    """What one timeline window of events leaves to the next (see :mod:`.window`)."""

    generations: Generations
    irq_levels: dict[int, dict[int, int]]
    delay: int | None = None
    delay_prefix: int = DELAY_PREFIX
    end_gaps: list[tuple[np.ndarray, np.ndarray]] | None = None  # (ts, cpu) after the last record

    @classmethod
    def new(cls, delay_prefix: int = DELAY_PREFIX) -> WindowState:
        return cls(Generations(), {}, None, delay_prefix, [])


class _Prep:
    """What every window of the machine input shares: per-record contexts, the file's record
    delay, and the lost-event gaps sorted by place.

    Alone (``state`` None) it prepares one whole table; with a :class:`WindowState` it prepares
    one timeline window of a longer trace: positions start at ``pos_base``, rows are named by
    ``row_id`` (or ``row_base`` + row), and gaps after the window's last record are left in the
    state for the end of the trace."""

    def __init__(
        self,
        events: EventTable,
        order: np.ndarray,
        row_base: int,
        *,
        state: WindowState | None = None,
        pos_base: int = 0,
        row_id: np.ndarray | None = None,
    ) -> None:
        self.events, self.order, self.row_base = events, order, row_base
        self.pos_base, self.row_id = (pos_base, row_id) if state is not None else (row_base, None)
        n = len(events)
        if state is None:
            self.ctx, self.bits, self.fg = irq.contexts_and_mask(events, order)
            self.gen = Generations().window(events)
        else:
            self.ctx, self.bits, self.fg = irq.contexts_and_mask(events, order, state.irq_levels)
            self.gen = state.generations.window(events)
        # A synthesized entry is placed at ts - dur.  With binary calltime/rettime, place it at
        # the calltime moved into the record clock by the smallest record delay (ts - rettime)
        # of the file: the delay of one record varies (an interrupt can land between taking
        # rettime and writing the record), and a nest of orphan exits must keep the calltime
        # order to adopt each other correctly.
        # (a window of a trace whose delay is not known yet keeps None: the rebuild sets it
        # before the machine runs on the window, window.py)
        self.delay: int | None = record_delay(events, order) if state is None else state.delay
        self.gpos = self.gts = np.empty(0, np.int64)
        self.gcpu = np.empty(0, np.int16)
        lost = events.lost
        if len(lost):
            lrow = lost["row"]
            inside = (lrow >= 0) & (lrow < n)
            gts = (
                timeline.gap_times(events)
                if events.meta.ts_known
                else np.full(len(lost), -1, np.int64)
            )
            gcpu = lost["cpu"]
            if state is not None and state.end_gaps is not None and not inside.all():
                state.end_gaps.append((gts[~inside], gcpu[~inside]))
                gts, gcpu, lrow = gts[inside], gcpu[inside], lrow[inside]
                inside = inside[inside]
            gpos = np.full(len(lrow), 4 * (n + self.pos_base) + 4, dtype=np.int64)
            gpos[inside] = 4 * (_ranks_of(order, lrow[inside]) + self.pos_base)
            g = np.argsort(gpos, kind="stable")
            self.gpos, self.gts, self.gcpu = gpos[g], gts[g], gcpu[g]

    def rows_args(self, lo: int, hi: int) -> tuple[Any, ...]:
        """What the machine reads for the timeline positions [lo, hi) (the last window also
        takes the gaps after the last record): ``stacks.feed_rows``/``prepare_rows`` decode
        each record from the event columns through the order, in place.

        Per record: the kind (entry/exit), the task key (:func:`task_keys`, plus the pid's
        generation: :class:`Generations`), the function key exits are matched on (the name
        code, else -2 - the address without its top two bits, -1 when neither is known), the
        kernel depth, the context and bits of :func:`irq.event_contexts`, and the duration: the
        printed or recorded one, else rettime - calltime; an exit with a calltime (trace.dat)
        takes ts - (calltime + record delay) and the ``EB_CALLTIME`` bit.  Records sit at
        4*rank+2, a gap at 4*rank just before the first record after it; the space between lets
        a synthesized entry sort just before an interrupt it covers."""
        events, pos_base = self.events, self.pos_base
        n = len(self.order)
        g = self.gpos
        a = int(np.searchsorted(g, 4 * (lo + pos_base))) if lo > 0 else 0
        z = int(np.searchsorted(g, 4 * (hi + pos_base))) if hi < n else len(g)
        z = max(a, z)
        cols = events.columns if events.meta.ts_known else {**events.columns, "ts": None}
        return (
            self.order[lo:hi],
            lo,
            cols,
            self.ctx,
            self.bits,
            self.gen,
            self.row_id,
            self.row_base,
            pos_base,
            self.delay,
            g[a:z],
            self.gts[a:z],
            self.gcpu[a:z],
        )

    def window(self, lo: int, hi: int) -> MachineInput:
        """Machine input of the timeline positions [lo, hi), as columns (what
        :meth:`Rebuilder.feed_rows` runs without making them)."""
        return MachineInput(*stacks.prepare_rows(*self.rows_args(lo, hi)))


def _ranks_of(order: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Timeline position of each row in ``which`` (valid rows), without inverting ``order``."""
    mark = np.zeros(len(order), dtype=bool)
    mark[which] = True
    at = np.flatnonzero(mark[order])  # positions of the marked rows, in timeline order
    rows_at = order[at]
    o = np.argsort(rows_at)
    return at[o][np.searchsorted(rows_at[o], which)]


class Rebuilder:
    """The stack machine with state kept across chunks.

    >>> r = Rebuilder(ncpu=2)
    >>> r.feed(prepare(events, merge_order(events)))      # doctest: +SKIP
    >>> raw = r.finish()                                    # doctest: +SKIP
    """

    def __init__(
        self, ncpu: int, ts_tolerance_ns: int = 0, expect_calls: int = 0, rows: bool = True
    ) -> None:
        # rows=False: the calls' entry/exit rows are only counted (counters["row_references"])
        self._m = stacks.new(
            max(int(ncpu), 1), int(ts_tolerance_ns), max(int(expect_calls), 0), bool(rows)
        )
        self._done = False

    def feed(self, inp: MachineInput, cid: np.ndarray | None = None) -> None:
        """Run the machine over ``inp``; with ``cid`` (int64, len(inp)) it writes there the call
        each record entered, closed or made (-1 at gaps)."""
        if self._done:
            raise RuntimeError("Rebuilder.feed after finish")
        stacks.feed(
            self._m,
            inp.pos,
            inp.row,
            inp.kind,
            inp.task,
            inp.cpu,
            inp.ctx,
            inp.bits,
            inp.fkey,
            inp.ts,
            inp.dur,
            inp.kdepth,
            cid,
        )

    def feed_rows(self, prep: _Prep, lo: int, hi: int, attrs: int = 0) -> tuple[int, int]:
        """Run the machine over the timeline positions [lo, hi) of ``prep``, reading the records
        in place; with ``attrs`` (:attr:`~.window.CallAttrs.mask`, the same at every feed from
        the first on) it keeps the attributes of the call each record entered, closed or made
        (:meth:`attrs`).  Returns (records given no call, calls so far)."""
        if self._done:
            raise RuntimeError("Rebuilder.feed after finish")
        args = (self._m, *prep.rows_args(lo, hi), attrs)
        unnamed, ncalls = stacks.feed_rows(*args)
        return int(unnamed), int(ncalls)

    def prune(self, keep: np.ndarray, final: bool = False) -> int:
        """Let go of the calls whose trees hold no call of a function ``keep[code]`` and that
        nothing open or adoptable names (``stacks.prune``); returns the calls kept.
        ``final``: after the last feed (the open calls are closed, as :meth:`finish` does)."""
        _gone, kept = stacks.prune(self._m, keep, final)
        return int(kept)

    def dropped(self) -> tuple[np.ndarray, int]:
        """(the function codes of the calls :meth:`prune` let go, how many it let go)"""
        codes, n = stacks.dropped(self._m)
        return codes, int(n)

    def attrs(self) -> dict[str, np.ndarray]:
        """The calls' attribute columns (:class:`~.window.CallAttrs`), after :meth:`finish`."""
        return dict(stacks.attrs(self._m))

    def finish(self) -> dict[str, Any]:
        """Raw call columns in creation order plus the machine's counters."""
        self._done = True
        return dict(stacks.finish(self._m))

    def prefault(self, ahead: int) -> int:
        """Fault in the call-column pages the next ``ahead`` calls will write, in bulk (bytes;
        0 where the kernel cannot): cheaper than the page faults of writing them one call
        after the other (``stacks.prefault``).  Values never change."""
        return int(stacks.prefault(self._m, int(ahead)))

    def column_views(self) -> tuple[np.ndarray, ...]:
        """Byte views of the call columns made so far (empty after :meth:`finish`): valid
        only until the next feed, which may move a column as it grows."""
        return tuple(stacks.machine_views(self._m))


def _tree_columns(
    parent: np.ndarray,
    ctx: np.ndarray | None,
    flags: np.ndarray | None,
    want_depth: bool,
    want_root: bool,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Depth and root of each call (each when wanted), its tree's context written over ``ctx``
    and its root's CTX_BY_NAME or'ed into ``flags`` (each when not None).  A root keeps its
    own ctx, so a call's tree context can be taken again from ``ctx`` after parents change.
    One forward C pass when parents come before children (the rebuild's order), else
    ``resolve``."""
    t = stacks.trees(parent, ctx, flags, int(want_depth) | 2 * int(want_root))
    if t is not None:
        return t[0], t[1]
    depth, root = stacks.resolve(parent)
    if ctx is not None:
        ctx[...] = ctx[root]
    if flags is not None:
        flags |= flags[root] & np.uint16(CallFlag.CTX_BY_NAME)
    return (depth if want_depth else None), (root if want_root else None)


def _nest_lower_interrupts(
    parent: np.ndarray,
    interrupted: np.ndarray,
    ctx: np.ndarray,
    flags: np.ndarray,
    want_root: bool,
    renumber: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Inside an interrupt, code of the same or a lower context is part of that interrupt's
    tree (the machine nests it as it goes).  A synthesized interrupt root can adopt calls that
    were first seen outside it, together with the interrupts they had: nest those too.

    On the caller's arrays: ``parent`` and ``interrupted`` change in place, ``ctx`` (the calls'
    own contexts) becomes each call's tree context, and ``flags`` takes each call's root's
    CTX_BY_NAME.  Returns the depth and (``want_root``) the root.  Usually nothing moves, and
    the first tree pass, which looks for what might, does it all.  ``renumber``: (moved, src)
    of the entry sort, whose call ids in ``parent`` and ``interrupted`` that pass renumbers
    first (``stacks.renumber``)."""
    t = stacks.trees(parent, ctx, flags, 1 | 2 * int(want_root), interrupted, *(renumber or ()))
    if t is not None and not t[2]:
        return t[0], t[1]
    depth, root = t[:2] if t is not None else _tree_columns(parent, ctx, None, True, want_root)
    for _ in range(8):
        r = np.flatnonzero(interrupted >= 0)
        i = interrupted[r]
        move = r[(ctx[i] != IrqCtx.TASK) & (ctx[r] <= ctx[i])]
        if not len(move):
            break
        parent[move] = interrupted[move]
        interrupted[move] = -1
        depth, root = _tree_columns(parent, ctx, None, True, want_root)
    _tree_columns(parent, None, flags, False, False)
    return depth, root


def _fix_overfull(
    raw: dict[str, Any],
    dur: np.ndarray,
    own: np.ndarray | _OwnPlaces,
    tol: int = 1000,
    acc: np.ndarray | None = None,
    zero: bool = False,
) -> None:
    """Calls whose children and interrupts last longer than they do (beyond ``tol`` ns).

    The kernel's depth counter and its clock readings are not taken at one instant:
    ``ftrace_pop_return_trace`` lowers the depth before ``rettime`` is read and the exit record
    written, and ``function_graph_enter`` raises it before ``calltime`` is read and the entry
    record written (kernel/trace/fgraph.c).  An interrupt in those windows can lie outside the
    call's [calltime, rettime] although the records put it inside.  Such a call's own duration
    cannot hold it: move what arrived in the window to the caller -- first the calls at the
    call's own kernel depth (the exit side), else those placed before the call's entry record
    (the entry side).  Works on durations alone, so text and trace.dat agree.
    """
    parent, interrupted, kd, order = raw["parent"], raw["interrupted"], raw["kdepth"], raw["order"]
    n = len(parent)
    flags = raw["flags"]
    synth = np.uint16(CallFlag.SYNTH_ENTRY)
    # the overfull calls: dur >= 0, kd >= 0, and children + interrupts (inner's sums) longer
    # than dur + tol (one C pass: at 5M calls the numpy test made ~100 MB of temporaries, and
    # it usually finds few calls or none).  The sums stay in ``acc`` (int64 zeros, the
    # caller's when given; with ``zero`` any int64 array, cleared first): after a repair only
    # the calls that lost or gained a child or an interrupt are tested again
    # (:func:`_overfull_again`), not the whole table.
    if acc is None:
        acc, zero = np.zeros(n, np.int64), False
    if n >= PARALLEL_MEMBERS_CALLS and _usable_sums(acc, n):
        _child_sums(parent, interrupted, dur, acc, zero)
        ov = stacks.overfull(parent, interrupted, dur, kd, tol, acc, False, True)
    else:
        ov = stacks.overfull(parent, interrupted, dur, kd, tol, acc, zero)
    for _ in range(4):
        if not len(ov):
            return
        # only the children and interrupts of the overfull calls are looked at
        kc, ic = _members(parent, interrupted, ov)
        p, i = parent[kc], interrupted[ic]
        kid_exit = kd[kc] == kd[p]
        irq_exit = kd[ic] == kd[i]
        has_exit_side = np.zeros(n, bool)
        has_exit_side[p[kid_exit]] = True
        has_exit_side[i[irq_exit]] = True
        kid_entry = ~kid_exit & ~has_exit_side[p] & ((flags[p] & synth) == 0) & (own[kc] < own[p])
        irq_entry = ~irq_exit & ~has_exit_side[i] & ((flags[i] & synth) == 0) & (own[ic] < own[i])
        kids = kc[kid_exit | kid_entry]
        irqs = ic[irq_exit | irq_entry]
        if not len(kids) and not len(irqs):
            return
        restore = unique(np.concatenate([p[kid_entry], i[irq_entry]]))
        moved = unique(np.concatenate([kids, irqs]))
        before = parent[moved], interrupted[moved]
        pk = parent[kids]
        parent[kids] = parent[pk]
        interrupted[kids] = np.where(parent[pk] >= 0, -1, interrupted[pk])
        ii = interrupted[irqs]
        interrupted[irqs] = np.where(parent[ii] >= 0, parent[ii], interrupted[ii])
        order[restore] = own[restore]
        after = parent[moved], interrupted[moved]
        ov = _overfull_again(acc, ov, dur[moved], before, after, dur, kd, tol)


# the overfull sums and the members pass are split between two threads from this many calls
PARALLEL_MEMBERS_CALLS = 1 << 20


def _usable_sums(acc: np.ndarray, n: int) -> bool:
    return (
        acc.dtype == np.int64 and len(acc) == n and acc.flags.writeable and acc.flags.c_contiguous
    )


def _child_sums(
    parent: np.ndarray, interrupted: np.ndarray, dur: np.ndarray, acc: np.ndarray, zero: bool
) -> None:
    """The overfull test's sums (``stacks.child_sums``), each half of the table in its own
    thread: each writes its half of ``acc``, and the few sums a half owes the other (a parent
    after its child, or a call open across the middle) are added after both (~20 -> ~11 ms
    at 5M calls)."""
    n = len(parent)
    mid = n // 2
    d = dur.astype(np.int64, copy=False)
    got: list[Any] = [None]

    def first() -> None:
        try:
            got[0] = stacks.child_sums(parent, interrupted, d, acc, 0, mid, zero)
        except BaseException as exc:  # raised by the caller's thread, after the join
            got[0] = exc

    helper = threading.Thread(target=first, name="fgraph-sums")
    helper.start()
    try:
        second = stacks.child_sums(parent, interrupted, d, acc, mid, n, zero)
    finally:
        helper.join()
    if isinstance(got[0], BaseException):
        raise got[0]
    for targets, values in (got[0], second):
        np.add.at(acc, targets, values)


def _members(
    parent: np.ndarray, interrupted: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``stacks.members``; on a big table its halves in two threads (one read of the two id
    columns, no writes and no fresh memory: 17 -> ~9 ms at 5M calls)."""
    n = len(parent)
    if n < PARALLEL_MEMBERS_CALLS:
        return stacks.members(parent, interrupted, rows)
    mid = n // 2
    got: list[Any] = [None]

    def first() -> None:
        try:
            got[0] = stacks.members(parent, interrupted, rows, 0, mid)
        except BaseException as exc:  # raised by the caller's thread, after the join
            got[0] = exc

    helper = threading.Thread(target=first, name="fgraph-members")
    helper.start()
    try:
        second = stacks.members(parent, interrupted, rows, mid, n)
    finally:
        helper.join()
    if isinstance(got[0], BaseException):
        raise got[0]
    return np.concatenate([got[0][0], second[0]]), np.concatenate([got[0][1], second[1]])


def _overfull_again(
    acc: np.ndarray,
    ov: np.ndarray,
    dmoved: np.ndarray,
    before: tuple[np.ndarray, np.ndarray],
    after: tuple[np.ndarray, np.ndarray],
    dur: np.ndarray,
    kd: np.ndarray,
    tol: int,
) -> np.ndarray:
    """``stacks.overfull`` after a repair moved some calls (their durations ``dmoved``) from the
    parents and interrupted calls ``before`` to those ``after``: each sum in ``acc`` is updated
    by what its call lost and gained, and only those calls can change their answer."""
    n = len(acc)
    d = np.maximum(dmoved, 0)
    touched = []
    for old, new in zip(before, after):
        for at, sign in ((old, -1), (new, 1)):
            ok = (at >= 0) & (at < n)
            np.add.at(acc, at[ok], sign * d[ok])
            touched.append(at[ok])
    t = unique(np.concatenate(touched))
    again = t[(dur[t] >= 0) & (kd[t] >= 0) & (acc[t] > dur[t] + tol)]
    return unique(np.concatenate([np.setdiff1d(ov, t, assume_unique=True), again]))


def _entry_order(
    order: np.ndarray, parent: np.ndarray, flags: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Stable sort by (order, depth, synthesized first): (perm, moved, src), the rows that
    move (perm[i] != i, sorted) and where they come from (perm[moved]).  perm is None when
    few rows move: (moved, src) say it all then (``_perm_of`` makes it).

    The machine makes calls nearly in entry order, which the stable sort (timsort) finds in
    one pass; a 3-key lexsort cost 10x more at 4.9M calls.  The key is made in ``order``
    itself (an int64 array the caller gives up: no fresh memory): 2 * order + (not
    synthesized) by ``stacks.entry_key``; then the few calls that share a place (a
    synthesized entry takes the place of the first call it adopted) are put parents first by
    ``stacks.tie_order``, which walks up only their depths instead of resolving every call's,
    and lists the rows that move on the way.  Most calls keep their place, so
    ``stacks.entry_moves`` sorts only the rows out of place and gives (moved, src) without
    the whole permutation (8 B a call and the sort's buffer, at the build's peak); when more
    than 1/WHOLE_PERM_SHARE of the rows are out of place, the whole key is sorted instead."""
    n = len(order)
    if (
        n
        and order.dtype == np.int64
        and order.flags.writeable
        and order.flags.c_contiguous
        and _entry_key(order, flags)
    ):
        few = stacks.entry_moves(order, parent, n // WHOLE_PERM_SHARE)
        if few is not None:
            return None, *few
        perm = np.argsort(order, kind="stable")
        ties = stacks.tie_order(perm, order, parent)
        if ties is not None:
            return perm, *ties
        # the calls that share places lie deep (a trace that starts inside a deep stack: one
        # chain of synthesized entries at one place), where walking up from each of them would
        # be quadratic: resolve every call's depth instead, with the key made order again
        np.right_shift(order, 1, out=order)
    depth0, _ = stacks.resolve(parent, False)  # (depth only: no root array)
    synth_last = (flags & CallFlag.SYNTH_ENTRY) == 0
    perm = np.lexsort((np.arange(n), synth_last, depth0, order))
    return (perm, *stacks.moves(perm))


class _OwnPlaces:
    """The machine's own-place column read as ``order`` except at the few ``rows`` whose own
    places (``vals``) differ.  ``order`` is the live column: :func:`_fix_overfull` only ever
    writes a call's own place there, so reading through it stays right."""

    def __init__(self, order: np.ndarray, rows: np.ndarray, vals: np.ndarray) -> None:
        self.order, self.rows, self.vals = order, rows, vals

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        out = np.asarray(self.order[idx])
        if len(self.rows) and out.size:
            at = positions(self.rows, idx)
            hit = at >= 0
            out[hit] = self.vals[at[hit]]
        return out


def _entry_key(order: np.ndarray, flags: np.ndarray) -> bool:
    """``stacks.entry_key``; on a big table its halves in two threads (each row on its own:
    ~7 -> ~4 ms at 5M calls), a half that fits undone when the other does not."""
    n = len(order)
    if n < PARALLEL_MEMBERS_CALLS or len(flags) != n or not flags.flags.c_contiguous:
        return stacks.entry_key(order, flags)
    mid = n // 2
    got: list[Any] = [None]

    def first() -> None:
        try:
            got[0] = stacks.entry_key(order[:mid], flags[:mid])
        except BaseException as exc:  # raised by the caller's thread, after the join
            got[0] = exc

    helper = threading.Thread(target=first, name="fgraph-key")
    helper.start()
    try:
        second = stacks.entry_key(order[mid:], flags[mid:])
    finally:
        helper.join()
    if isinstance(got[0], BaseException):
        raise got[0]
    if got[0] and second:
        return True
    for fit, half in ((got[0], order[:mid]), (second, order[mid:])):
        if fit:  # (undone: key >> 1 is the order again, as entry_key undoes itself)
            np.right_shift(half, 1, out=half)
    return False


def _perm_of(moved: np.ndarray, src: np.ndarray, n: int) -> np.ndarray:
    """The permutation that moves rows ``src`` to ``moved`` and keeps every other row."""
    perm = np.arange(n, dtype=np.int64)
    perm[moved] = src
    return perm


def _map_in_place(lut: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``idx[i] = lut[idx[i]]`` (-1 stays -1), written over ``idx`` (int64): no fresh memory.
    (``take`` reads each index before it writes that position, and copies its output only
    when it overlaps ``lut`` or in "raise" mode.)"""
    if idx.dtype == np.int64 and idx.flags.writeable and idx.flags.c_contiguous:
        stacks.remap(lut, idx)  # the same in one C pass, without the mask of the -1s
        return idx
    if len(lut) == 0:
        idx.fill(-1)
        return idx
    neg = np.flatnonzero(idx < 0)
    np.take(lut, idx, out=idx, mode="clip")
    idx[neg] = -1
    return idx


# build_table keeps the whole entry permutation (and renumbers call ids through its inverse)
# when more than 1/WHOLE_PERM_SHARE of the calls move; else it works from the moved rows alone
WHOLE_PERM_SHARE = 4

# The columns the off-CPU step (offcpu.py) writes whole, whatever they held
OFFCPU_COLUMNS = ("offcpu_sleep_ns", "offcpu_runnable_ns")

# Call columns the end of the rebuild reads itself (depth check, off-CPU times, quality
# report), whatever a caller keeps
FINISH_COLUMNS = frozenset(
    {
        "parent_id",
        "interrupted_id",
        "flags",
        "ctx",
        "kernel_depth",
        "ts_entry",
        "ts_exit",
        "pid",
        "cpu_entry",
        "duration",
        "self",
        "irq_ns",
        "offcpu_sleep_ns",
        "offcpu_runnable_ns",
    }
)


def build_table(
    attrs: dict[str, np.ndarray],
    raw: dict[str, Any],
    meta: TraceMeta,
    strings: StringPool,
    keep: frozenset[str] | None = None,
    found: dict[str, Any] | None = None,
) -> CallTable:
    """Order the machine's calls by entry (parents first) and fill every call column.

    ``attrs`` are the calls' record attributes in creation order (:class:`CallAttrs`): the
    event rows themselves are not needed, so a trace can be rebuilt window by window.
    Consumes ``raw`` and ``attrs``: their columns become the table's (reordered in place) or
    are released as soon as they are reordered (this is where the rebuild's memory peaks).
    ``keep``: build only these columns (plus :data:`FINISH_COLUMNS`); the others are left out
    of the table (``CallTable.omitted``) and never take memory.
    ``found``: takes what the build finds on the way: ``time_range``, the calls' time span
    (``stacks.valid_range`` of the entry and exit times, for the off-CPU step), and
    ``irq_total``, the irq_ns column's sum (for the quality report).
    """
    built = None if keep is None else keep | FINISH_COLUMNS

    def wanted(name: str) -> bool:
        if name in ("entry_row", "exit_row"):  # the two go together
            return built is None or "entry_row" in built or "exit_row" in built
        return built is None or name in built

    for name in ("entry_row", "exit_row", "module", "retval"):
        # left out: released before the table's temporaries are made (the quality report
        # counts the row references before the table is built)
        if not wanted(name):
            (raw if name.endswith("_row") else attrs).pop(name, None)
    ncalls = len(raw["parent"])

    def usable(a: np.ndarray) -> bool:
        return (
            a.dtype == np.int64 and len(a) == ncalls and a.flags.writeable and a.flags.c_contiguous
        )

    xdur_raw = attrs.pop("xdur")
    own_col = raw.pop("own")
    # The overfull test's sums, later the self column: made in the machine's own-place column.
    # A call's own place differs from its place in ``order`` for a few calls only (550 of 5M on
    # the benchmark trace), kept aside (:class:`_OwnPlaces`); the column's 40 MB at 5M calls
    # then hold the sums, where fresh zeros were faulted in at the rebuild's peak (~10k page
    # faults, and 40 MB more resident there: bench/RESULTS.md, session 6).
    # (the machine lists those calls when they are few: stacks.finish's own_rows, own_vals)
    own: np.ndarray | _OwnPlaces = own_col
    apart = raw.pop("own_rows", None), raw.pop("own_vals", None)
    spare_sums = apart[0] is not None and apart[1] is not None and usable(own_col)
    if spare_sums:
        own = _OwnPlaces(raw["order"], apart[0], apart[1])
        sums = own_col  # (cleared by the overfull pass, with the GIL released)
    else:
        sums = np.zeros(ncalls, np.int64)
    del own_col, apart
    _fix_overfull(raw, xdur_raw, own, acc=sums, zero=spare_sums)
    # by entry; at the same place parents first, and a synthesized entry (which takes the place
    # of the first call it adopted or interrupt it covered) before what it covers
    order = raw.pop("order")
    perm, moved, src = _entry_order(order, raw["parent"], raw["flags"])
    # call ids (0..n-1), when wanted, made in the order array (spent once sorted): no fresh
    # memory.  Else the order array is spare: the irq_ns column (or the inverse permutation)
    # is made there instead of in fresh memory (~10k page faults at 5M calls).
    ids = None
    spare = None
    if wanted("call_id"):
        ids = order if usable(order) else np.empty(ncalls, np.int64)
        ids.fill(1)
        np.cumsum(ids, out=ids)
        ids -= 1
    elif usable(order):
        spare = order
    del order
    # The machine makes calls nearly in entry order: perm moves few rows (perm[i] != i: moved,
    # from src).  Then each column is reordered in place (gather the moved rows' values, then
    # scatter them), so the table takes over the machine's arrays instead of touching ~100 B a
    # call of fresh memory (page faults are most of this stage's system time), and the call ids
    # in parent/interrupted are renumbered through the moved rows alone.
    # the whole permutation is kept only when many rows move; else the moved rows say it all
    # (and perm's memory, when the whole key was sorted, is kept for the irq_ns column: freed
    # here, the depth column would take half of it and irq_ns fresh memory.  Usually
    # entry_moves makes no perm: irq_ns is then born in times, ~40 MB at 5M calls less from
    # the sort to there)
    if perm is None and len(moved) > ncalls // WHOLE_PERM_SHARE:
        # (entry_moves found few rows out of place, but the ties of shared places moved more)
        perm = _perm_of(moved, src, ncalls)
    whole = perm if len(moved) > ncalls // WHOLE_PERM_SHARE else None
    inv = None
    if whole is not None:
        # (a binary search per call id would cost more than a gather through the inverse)
        if isinstance(own, np.ndarray) and usable(own):
            inv = own
        elif spare is not None:
            inv, spare = spare, None
        else:
            inv = np.empty(ncalls, np.int64)
        stacks.invert(whole, inv)
        irq_out = spare
    else:
        # (None when entry_moves made no permutation and the order array is the call ids:
        # then times makes irq_ns, where perm would have been held until then)
        irq_out = perm if perm is not None and usable(perm) else spare
    del perm, own, spare

    def reorder(a: np.ndarray) -> np.ndarray:
        if whole is None and a.flags.writeable and a.flags.c_contiguous:
            a[moved] = a[src]
            return a
        return a[whole if whole is not None else _perm_of(moved, src, ncalls)]

    def take(name: str) -> np.ndarray:
        return reorder(raw.pop(name))

    def atake(name: str) -> np.ndarray:
        return reorder(attrs.pop(name))

    # (reorder leaves each one writable and contiguous)
    parent, interrupted = take("parent"), take("interrupted")
    if inv is not None:
        _map_in_place(inv, parent)
        _map_in_place(inv, interrupted)
    del inv
    # each call's context becomes its tree's, its root's (a synthesized interrupt root may
    # adopt calls first seen in the task's level), in place
    ctx = take("ctx")
    if not (ctx.dtype == np.int8 and ctx.flags.writeable and ctx.flags.c_contiguous):
        ctx = np.array(ctx, np.int8)
    flags = take("flags")
    if not (flags.dtype == np.uint16 and flags.flags.writeable and flags.flags.c_contiguous):
        flags = np.array(flags, np.uint16)  # (written in place)
    # and a call whose root's context was guessed from a name is flagged too
    # (and, when only the moved rows say where calls went, the first tree pass renumbers the
    # call ids in parent and interrupted as it reads them)
    # The arrays stacks.times writes self and irq_ns in (spare memory, resident: the sums,
    # and the spent order array) are cleared in a second thread meanwhile, not by times
    # itself after the tree pass (two 40 MB clears at 5M calls: ~9 ms)
    clearing = None
    if ncalls >= PARALLEL_MEMBERS_CALLS and irq_out is not None and _usable_sums(sums, ncalls):
        clear = (sums, irq_out)

        def clear_spare() -> None:
            for a in clear:
                stacks.clear(a)

        clearing = threading.Thread(target=clear_spare, name="fgraph-clear")
        clearing.start()
    try:
        depth, root = _nest_lower_interrupts(
            parent,
            interrupted,
            ctx,
            flags,
            wanted("root_id"),
            None if whole is not None else (moved, src),
        )
    finally:
        if clearing is not None:
            clearing.join()
    if wanted("entry_row"):
        entry_row = take("entry_row")
        exit_row = take("exit_row")
    ts_entry = take("ts_entry")
    ts_exit = take("ts_exit")
    if not meta.ts_known:
        ts_entry = np.full(ncalls, -1, np.int64)
        ts_exit = np.full(ncalls, -1, np.int64)
        flags |= np.uint16(CallFlag.NO_TIME)

    cols: dict[str, np.ndarray] = {}
    if ids is not None:
        cols["call_id"] = ids
    del ids
    cols["parent_id"] = parent
    if root is not None:
        cols["root_id"] = root
    cols["interrupted_id"] = interrupted
    for name in ("pid", "comm", "func", "module"):
        if wanted(name):
            cols[name] = atake(name)
    assert depth is not None
    cols["depth"] = depth.astype(np.int32, copy=False)
    cols["kernel_depth"] = take("kdepth").astype(np.int32, copy=False)
    cols["ts_entry"] = ts_entry
    cols["ts_exit"] = ts_exit
    cpu_entry = cols["cpu_entry"] = atake("cpu_entry")
    cpu_exit = atake("cpu_exit")
    has_ret = atake("has_ret")
    # MIGRATED (both CPUs known and different) and HAS_RETVAL, in one pass
    stacks.call_flags(flags, cpu_entry, cpu_exit, has_ret)
    if wanted("cpu_exit"):
        cols["cpu_exit"] = cpu_exit
    del cpu_exit, has_ret
    if wanted("retval"):
        cols["retval"] = atake("retval")
    cols["ctx"] = ctx  # (each call's tree's: _nest_lower_interrupts)
    if wanted("entry_row"):
        cols["entry_row"] = entry_row
        cols["exit_row"] = exit_row
        del entry_row, exit_row

    # duration: the exit's own (rettime - calltime, or the printed one) when the call has an
    # exit; for truncated calls the time it was open until it was closed (a lower bound), and
    # at least as long as its children (without timestamps there is nothing else).  Then
    # self = duration - children - interrupts, -1 where the duration is unknown.  One C pass
    # (stacks.times) over the calls; tests/test_finish_speed.py has the numpy steps it
    # replaced.
    duration = reorder(xdur_raw)
    del xdur_raw
    if not (
        duration.dtype == np.int64 and duration.flags.writeable and duration.flags.c_contiguous
    ):
        duration = np.array(duration, np.int64)  # (completed in place)
    rng = np.zeros(4, np.int64)  # (the time span, valid_range's, and irq_ns' sum, on the way)
    self_ns, irq_ns = stacks.times(
        parent,
        interrupted,
        duration,
        ts_entry,
        ts_exit,
        flags,
        sums,
        irq_out,
        rng,
        clearing is not None,
    )
    del sums, irq_out
    if found is not None:
        found["time_range"] = (int(rng[1]), int(rng[2])) if rng[0] else None
        found["irq_total"] = int(rng[3])
    cols["duration"] = duration
    cols["irq_ns"] = irq_ns
    cols["self"] = self_ns
    cols["flags"] = flags
    omit = set()
    for c in CALL_COLUMNS:
        if c.name in cols:
            continue
        if not wanted(c.name):
            omit.add(c.name)
        elif c.name in OFFCPU_COLUMNS:
            # placeholders the off-CPU step overwrites in every case (-1 where the times are
            # unknown): pages only where it writes a nonzero time, not ~80 MB at 5M calls
            # resident at the build's peak
            cols[c.name] = sparse_zeros(ncalls, c.dtype)
        elif c.name == "trace":
            # (all zeros, never written here: not resident at all.  np.zeros may reuse a
            # freed heap chunk, which calloc clears: 10 MB resident at 5M calls, scanned and
            # given back again by window.py)
            cols["trace"] = sparse_zeros(ncalls, np.int16)
        else:
            cols[c.name] = np.full(ncalls, c.null if c.null is not None else 0, dtype=c.dtype)
    return CallTable(cols, strings, omit=omit)


def depth_check(calls: CallTable) -> dict[str, int]:
    """Flag calls whose kernel depth disagrees with the rebuilt nesting; counts by cause.

    Within one tree the kernel depth minus the rebuilt depth is constant; it changes where the
    kernel's view and ours differ.  Task roots should sit at kernel depth 0, interrupt roots one
    below the call they interrupted (the kernel keeps one return stack per task).

    The causes of a mismatch that is not a repair's (no repair flag on the call or its parent)
    nor a task root's (its ancestors were not traced): one deeper than expected, an interrupt
    arrived after the kernel pushed a frame on the task's return stack but before it wrote
    that frame's entry record (kernel/trace/fgraph.c function_graph_enter:
    ftrace_push_return_trace, then the entry event), so the calls of the interrupt (and
    irq_enter_rcu before it) count one frame we see only afterwards; one shallower, the kernel
    had already popped the frame (ftrace_pop_return_trace decrements curr_ret_depth) but not
    yet written its exit record when the interrupt came; else an interrupt's call.  One C pass
    (``stacks.depth_marks``; tests/test_depth_marks.py keeps the numpy steps it replaced).
    """
    flags = calls["flags"]
    # The flags are marked in place when the column is the rebuild's own (no table-sized copy;
    # a failed check fails the whole rebuild, so a half-marked column is never seen).  Marking
    # sets DEPTH_MISMATCH only, never a repair bit, so a parent's repair flags read after its
    # row is marked are the same as before.
    f = flags.flags
    unshared = f.owndata or not isinstance(flags.base, np.ndarray)
    own = unshared and f.writeable and f.c_contiguous and flags.dtype == np.uint16
    out_flags = flags if own else np.array(flags, np.uint16)
    assert not REPAIR_FLAGS & CallFlag.DEPTH_MISMATCH
    nbad, *counts = stacks.depth_marks(
        calls["kernel_depth"].astype(np.int32, copy=False),
        calls["parent_id"].astype(np.int64, copy=False),
        calls["interrupted_id"].astype(np.int64, copy=False),
        out_flags,
        calls["ctx"].astype(np.int8, copy=False),
        int(IrqCtx.TASK),
        REPAIR_FLAGS,
    )
    names = ("ancestors_not_traced", "repair", "entry_in_flight", "exit_in_flight", "interrupt")
    causes = dict(zip(names, counts))
    calls["flags"] = out_flags
    causes["other"] = nbad - sum(causes.values())
    return causes
