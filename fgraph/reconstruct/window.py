"""The rebuild fed one timeline window at a time (issue 7: bounded memory).

A :class:`WindowedRebuild` takes a trace as consecutive windows of its merged timeline: event
tables whose records all come after the previous window's.  Between windows it keeps only what
the next window needs: the machine's open stacks (:class:`~.calls.Rebuilder`), the pid
generations, the interrupt-marker levels, the record delay, the gaps after the last record, the
calls' attributes taken from their records (:class:`CallAttrs`: pid, comm, function, module,
CPUs, return value, exit duration), and the events that are not funcgraph records (few: the
scheduler events the off-CPU stage needs).  The funcgraph records themselves are dropped as
soon as the machine has consumed them.

``rebuild(events)`` is one window of the whole table, so the windowed and the whole-file paths
are the same code; ``tests/test_reconstruct_window.py`` checks that any cut into windows gives
the same call table and quality report.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._malloc import release_free_memory, release_zero_pages
from ..schema import CALL
from ..table import CallTable, EventTable, LostTable, StringPool, TraceMeta
from . import timeline
from .calls import (
    DELAY_PREFIX,
    EV_GAP,
    MachineInput,
    Rebuilder,
    WindowState,
    _Prep,
    build_table,
    delay_candidate,
    depth_check,
)
from .offcpu import offcpu
from .quality import (
    ASSESS_COLUMNS,
    EventCounts,
    Quality,
    assess,
    per_call_counts,
    row_references,
)

# calls from which the quality counts and the depth check run in their own thread
PARALLEL_FINISH_CALLS = 1 << 20
# The columns (of the machine's, its attributes' and the call table's) with many pages of
# zeros, the ones whose zero pages the end of the rebuild gives back (on fsync_x50 no other
# column had any, and each one's scan cost ~0.4 ms)
MOSTLY_ZEROS = ("flags", "ctx", "cpu_entry", "cpu_exit", "has_ret", "retval", "irq_ns", "module")
# bytes before a column's scanned end that release_zero_pages scans again: the page the end
# was in (pages.release_zero_pages takes only the pages wholly inside what it is given)
ZERO_SCAN_BACK = 2 * mmap.PAGESIZE
MACHINE_WINDOW = 1 << 20  # timeline positions per machine feed (it reads the records in place)
PRUNE_MIN = 1 << 14  # calls the machine makes at least between two prunes (prune_to)
# and at least the calls kept / PRUNE_GROWTH: a prune costs about the calls made since the
# last one, so pruning often costs little, and the machine's columns peak at (1 + 1/8) times
# what it keeps (at 1/2 and 2^16: 17 of the 72 MB peak of hist --func on 47 MB of trace.dat,
# 3 MB more than now; fsync_x50, 10.2M records: 245-249 -> 219-226 MB, no slower)
PRUNE_GROWTH = 8


class CallAttrs:
    """Per-call values taken from the records that entered and closed each call, in the
    machine's creation order.

    The machine keeps them next to its call columns (:meth:`~.calls.Rebuilder.feed_rows` with
    ``attrs``): pid, comm, function and module from the record that made the call (its entry,
    or its exit when the entry is missing), the CPU of each side, and from the exit its own
    duration (the printed or recorded one, else rettime - calltime) and return value.  A side
    a call lacks keeps the sentinels: CPU -1, duration -1, return value 0 without
    ``has_ret``."""

    SPEC: tuple[tuple[str, Any], ...] = (
        ("pid", CALL["pid"].dtype),
        ("comm", CALL["comm"].dtype),
        ("func", CALL["func"].dtype),
        ("module", CALL["module"].dtype),
        ("cpu_entry", CALL["cpu_entry"].dtype),
        ("cpu_exit", CALL["cpu_exit"].dtype),
        ("retval", CALL["retval"].dtype),
        ("xdur", np.dtype(np.int64)),
        ("has_ret", np.dtype(bool)),
    )

    ATTRS_ON, ATTRS_NO_MODULE, ATTRS_NO_RETVAL = 0x1, 0x2, 0x4  # stacks.c ATTRS_*

    def __init__(self, expect: int = 0, skip: frozenset[str] = frozenset()) -> None:
        # (the machine reserves the columns with its own: ``expect`` is its hint)
        # skip: columns the caller will not build (``build_table(keep=...)``): never kept
        self.spec = tuple((name, dt) for name, dt in self.SPEC if name not in skip)
        self.mask = (
            self.ATTRS_ON
            | (self.ATTRS_NO_MODULE if "module" in skip else 0)
            | (self.ATTRS_NO_RETVAL if "retval" in skip else 0)
        )
        self._machine: Rebuilder | None = None

    def source(self, machine: Rebuilder) -> int:
        """The machine that keeps the attributes; what to ask its feeds for (``attrs``)."""
        self._machine = machine
        return self.mask

    def finish(self) -> dict[str, np.ndarray]:
        """The columns, after the machine's ``finish``."""
        if self._machine is None:
            return {name: np.empty(0, dt) for name, dt in self.spec}
        out = self._machine.attrs()
        self._machine = None
        return out


class WindowedRebuild:
    """Per-task calls of a trace fed as consecutive timeline windows.

    >>> rb = WindowedRebuild(ncpu=2, meta=meta, strings=pool)      # doctest: +SKIP
    >>> for w in windows: rb.feed(w)                                 # doctest: +SKIP
    >>> calls, quality, other_events = rb.finish()                   # doctest: +SKIP

    Every window must share ``strings`` (one pool for the whole trace).  ``row_id`` names each
    window row in the call table's ``entry_row``/``exit_row`` (default: rows counted across the
    windows in feeding order).  ``prune_to`` (a function name): only the trees holding a call of
    it are kept (:meth:`_prune`), every ``prune_min`` new calls at least (default
    :data:`PRUNE_MIN`); the calls kept are exactly those trees of the whole call table.
    """

    def __init__(
        self,
        ncpu: int,
        meta: TraceMeta,
        strings: StringPool,
        delay_prefix: int = DELAY_PREFIX,
        machine_window: int = MACHINE_WINDOW,
        expect_calls: int = 0,
        columns: frozenset[str] | None = None,
        prune_to: str | None = None,
        prune_min: int | None = None,
    ) -> None:
        tol = meta.ts_resolution_ns if meta.ts_resolution_ns > 1 else 0
        # the call columns to build (None: all); the others are never made (memory)
        self.columns = None if columns is None else frozenset(columns)
        self.meta, self.strings = meta, strings
        rows = columns is None or bool({"entry_row", "exit_row"} & set(columns))
        self._r = Rebuilder(max(int(ncpu), 1), tol, expect_calls, rows=rows)
        self._state = WindowState.new(delay_prefix)
        self._attrs = CallAttrs(
            expect_calls,
            frozenset() if columns is None else frozenset({"module", "retval"}) - set(columns),
        )
        self._counts = EventCounts()
        self._others: list[EventTable] = []
        self._lost: list[LostTable] = []
        self._pos = 0
        self._rows = 0
        self._ts_max: int | None = None
        self._step = max(int(machine_window), 1)
        # the first windows, prepared and held until the record delay is known
        self._head: list[_Prep] = []
        self._head_n = 0  # their timeline positions
        self._head_delay: int | None = None  # the least delay candidate among them
        self._taken = False  # the kept events are copies (their lost rows are replaced)
        self._unnamed = 0  # funcgraph records the machine named no call (consume's own count)
        # per machine column: (its address, its bytes) when release_zero_pages last scanned it
        self._zero_done: list[tuple[int, int]] = []
        # prune_to: the function whose calls' trees are kept (the others let go as the windows
        # go, see _prune); the machine's calls at which it prunes next
        self._prune_to = prune_to
        self._prune_min = max(int(PRUNE_MIN if prune_min is None else prune_min), 1)
        self._prune_at = self._prune_min if prune_to is not None else -1

    @property
    def held(self) -> int:
        """Timeline positions prepared and held, not yet run by the machine (the first
        windows, until the record delay is known)."""
        return self._head_n

    def feed(
        self,
        events: EventTable,
        order: np.ndarray | None = None,
        row_id: np.ndarray | None = None,
        keep_others: bool = True,
    ) -> None:
        """Consume one window (``order``: its timeline order, default the merge order).
        ``keep_others=False`` when the caller keeps the whole table itself.  The same as
        ``consume(prepare(...))``."""
        self.consume(self.prepare(events, order, row_id, keep_others))

    # The rebuild's state is in two parts that do not read each other, so ``prepare`` may run
    # windows ahead of ``consume`` (tests/test_reconstruct_window.py prepares every window
    # before the machine runs on any), or in another thread, one thread a side:
    # - prepare: the window state (irq levels, generations' death marks, record delay, end
    #   gaps), the held head, the event counts, the lost rows, the kept events, the positions
    #   and rows counted so far, the last timestamp;
    # - consume: the machine (self._r), its call attributes and the records it named no call.
    # The windows go from one side to the other in order, and ``finish`` runs after both are
    # done.  The pid generations the machine follows live in the machine's ``stacks.gens``
    # object: prepare only hands it on (Generations.window reads nothing of it).
    # load_windowed runs both in its main thread: prepare in the decode thread made that thread
    # the slower one of the two at 10M records, and the read slower (bench/RESULTS.md, session
    # 5).

    def prepare(
        self,
        events: EventTable,
        order: np.ndarray | None = None,
        row_id: np.ndarray | None = None,
        keep_others: bool = True,
    ) -> list[_Prep] | _Prep | None:
        """Everything of :meth:`feed` but the machine: the window's machine input (contexts,
        generations' marks, gaps), its counts, lost rows and kept events.  Returns what
        :meth:`consume` runs the machine on, or None while the first windows are held (the
        record delay needs the first ``delay_prefix`` records: the windows are prepared as
        they come and held until there are that many, then returned together, or run at
        :meth:`finish`).  Windows are prepared in order, and consumed in that same order."""
        if events.strings is not self.strings:
            raise ValueError("every window must share the rebuild's string pool")
        if order is None:
            order = timeline.merge_order(events)
        prep = self._prepare_window(events, order, row_id, keep_others)
        if self._state.delay is not None:
            return prep
        # The record delay comes from the first delay_prefix timeline positions: the least
        # candidate of each held window's positions inside them.  The windows are held as they
        # are, not joined into one table (a copy of them all: at 47 MB of trace.dat, ~40 MB of
        # the read's peak).
        least = delay_candidate(events, order, self._state.delay_prefix - self._head_n)
        if least is not None:
            self._head_delay = least if self._head_delay is None else min(self._head_delay, least)
        self._head.append(prep)
        self._head_n += len(order)
        if self._head_n < self._state.delay_prefix:
            return None
        return self._release_head()

    def _release_head(self) -> list[_Prep]:
        """The held windows, given the record delay (0 when their exits have no calltime)."""
        head, self._head, self._head_n = self._head, [], 0
        delay = self._state.delay = 0 if self._head_delay is None else self._head_delay
        for p in head:
            p.delay = delay
        return head

    def consume(self, prepared: list[_Prep] | _Prep | None) -> None:
        """Run the machine over what :meth:`prepare` returned (None: nothing to do)."""
        if prepared is None:
            return
        todo = prepared if isinstance(prepared, list) else [prepared]
        while todo:
            # (taken out of the list: a held window's table is freed as soon as the machine is
            # done with it, not when the last of them is)
            p = todo.pop(0)
            n = len(p.order)
            for lo in range(0, max(n, 1), self._step):
                self._feed(p, lo, min(lo + self._step, n))
            del p

    def _prepare_window(
        self,
        events: EventTable,
        order: np.ndarray,
        row_id: np.ndarray | None,
        keep_others: bool,
    ) -> _Prep:
        n = len(order)
        prep = _Prep(
            events,
            order,
            self._rows,
            state=self._state,
            pos_base=self._pos,
            row_id=row_id,
        )
        kind = events["kind"]
        self._counts.add(kind, prep.fg)
        if self.meta.ts_known and n:
            t = int(events["ts"].max())
            self._ts_max = t if self._ts_max is None else max(self._ts_max, t)
        lost = events.lost
        if len(lost):
            lt = LostTable(dict(lost.columns), self.strings)
            r = lt["row"]
            base = self._rows
            if row_id is not None and len(row_id):
                lt["row"] = np.where((r >= 0) & (r < n), row_id[np.clip(r, 0, max(n - 1, 0))], -1)
            elif row_id is not None:
                lt["row"] = np.full(len(r), -1, np.int64)
            else:
                lt["row"] = np.where((r >= 0) & (r < n), r + base, -1)
            self._lost.append(lt)
        if keep_others:
            self._taken = True
            other = ~prep.fg
            self._others.append(events if other.all() else events.take(np.flatnonzero(other)))
        else:
            self._others.append(events)
        self._pos += n
        self._rows += len(events)
        return prep

    def release_zero_pages(self) -> int:
        """Give back the all-zero pages of the call columns made so far (bytes): between two
        feeds, from the feeding thread (the machine writes them only while fed).  Several are
        mostly zeros (flags, contexts, CPUs, ...): given back as the windows go, they are not
        all resident at the end of the windows, the read's peak.  A page given back and
        written again later (a call that exits windows after it entered) is faulted in again,
        zeroed: values never change.

        Each column is scanned from where the previous call left it (less ZERO_SCAN_BACK
        bytes: the page it ended in was partly written), or whole when the machine moved it:
        the pages before were scanned already, and a page of data does not turn into zeros.
        Scanning every column whole each time read every resident page again, a cost growing
        with the calls: on fsync_x50, 23-25 ms in all (1.2 ms at the first trim, 7.3-7.8 at
        the last) against 15-18 (3-5 ms a trim), in the feeding thread, the windows' slower
        one once the first windows are in (the decode thread waits for it then)."""
        from .._ext import pages

        # (straight to pages: the views are the machine's own malloc'd columns, which
        # _malloc.release_zero_pages's ownership test does not recognise through a view)
        views = self._r.column_views()
        done = self._zero_done
        if len(done) != len(views):
            done[:] = [(0, 0)] * len(views)
        total = 0
        for k, a in enumerate(views):
            addr = a.__array_interface__["data"][0]
            at, n = done[k]
            lo = max(min(n, len(a)) - ZERO_SCAN_BACK, 0) if at == addr else 0
            total += pages.release_zero_pages(a[lo:])
            done[k] = (addr, len(a))
        return total

    def _feed(self, prep: _Prep, lo: int, hi: int) -> None:
        # about one call per two function_graph records: their pages faulted in at once
        self._r.prefault((hi - lo) // 2 + 1024)
        unnamed, ncalls = self._r.feed_rows(prep, lo, hi, attrs=self._attrs.source(self._r))
        self._unnamed += unnamed
        if 0 <= self._prune_at <= ncalls:
            self._prune()

    def _prune(self, final: bool = False) -> None:
        """Let go of the calls whose trees hold no call of ``prune_to`` and can no longer
        change (``stacks.prune``): they would be dropped by the one reader of the table.  The
        next prune comes once the machine has made an eighth as many calls as it keeps
        (:data:`PRUNE_GROWTH`; at least ``prune_min``): its columns peak at about 1.125 times
        what it keeps, and each prune, a pass over the calls made since the last and those it
        held back, is paid for by as many new ones."""
        pool = self.strings
        keep = np.zeros(len(pool), dtype=bool)
        code = pool.lookup(self._prune_to or "")
        if code >= 0:
            keep[code] = True
        kept = self._r.prune(keep, final)
        self._prune_at = kept + max(kept // PRUNE_GROWTH, self._prune_min)
        self._zero_done = []

    def finish(self) -> tuple[CallTable, Quality, EventTable]:
        """The call table, the quality report, and the events that are not funcgraph records
        (with every window's lost-event rows)."""
        if self._head:
            self.consume(self._release_head())
        # (the consume side's count, into the prepare side's counts: both sides are done)
        self._counts.unaccounted += self._unnamed
        self._unnamed = 0
        gaps = self._state.end_gaps or []
        if gaps:
            gts = np.concatenate([g[0] for g in gaps])
            gcpu = np.concatenate([g[1] for g in gaps])
            m = len(gts)
            self._r.feed(
                MachineInput(
                    pos=np.full(m, 4 * self._pos + 4, np.int64),
                    row=np.full(m, -1, np.int64),
                    kind=np.full(m, EV_GAP, np.int8),
                    task=np.zeros(m, np.int64),
                    cpu=gcpu.astype(np.int32),
                    ctx=np.full(m, -1, np.int8),
                    bits=np.zeros(m, np.int8),
                    fkey=np.zeros(m, np.int64),
                    ts=gts.astype(np.int64),
                    dur=np.full(m, -1, np.int64),
                    kdepth=np.full(m, -1, np.int32),
                )
            )
        if self._prune_to is not None:
            # (the last: what the lists held back goes too, the trees holding X stay)
            self._prune(final=True)
        raw = self._r.finish()
        counters = raw.pop("counters")
        attrs = self._attrs.finish()
        referenced = (
            row_references(raw["entry_row"], raw["exit_row"])
            if "entry_row" in raw
            else counters.pop("row_references")
        )
        # the machine's columns that are mostly zeros (flags, CPUs, contexts) are not all kept
        # resident through build_table, where the rebuild's memory peaks
        # (MOSTLY_ZEROS: the scans of the other columns took ~5 of this step's ~6 ms on
        # fsync_x50, for nothing)
        release_zero_pages(*(d[k] for d in (raw, attrs) for k in MOSTLY_ZEROS if k in d))
        found: dict[str, Any] = {}
        calls = build_table(attrs, raw, self.meta, self.strings, keep=self.columns, found=found)
        # (the interrupt time's sum, taken by the build: the column, read after its zero
        # pages are given back below, would fault each of those in: ~3.5k at 5M calls)
        irq_total = found["irq_total"]
        # (before the depth check's thread writes the flags; the off-CPU times are written
        # sparsely, see offcpu)
        release_zero_pages(*(calls.columns[k] for k in MOSTLY_ZEROS if k in calls.columns))
        # The quality report's counts and the depth check, then, and the off-CPU times read
        # disjoint columns (and write different ones): on a big table the first two run in a
        # second thread meanwhile (their C passes release the GIL; ~0.025 s beside ~0.05 s
        # at 5M calls).  The counts are taken before the check marks the flags (it sets a
        # bit they do not count: see per_call_counts).
        result: list[Any] = []  # (the counts, the check's counts), or what they raised

        def check() -> None:
            try:
                result.append((per_call_counts(calls, irq_total), depth_check(calls)))
            except Exception as exc:  # raised by the main thread, below
                result.append(exc)

        checker = None
        if len(calls) >= PARALLEL_FINISH_CALLS:
            checker = threading.Thread(target=check, name="fgraph-depth")
            checker.start()
        else:
            check()
        others = (
            self._others[0]
            if len(self._others) == 1
            else EventTable.concat(self._others, meta=self.meta)
        )
        # the events are the caller's own table (one window, keep_others=False): leave them
        single = len(self._others) == 1 and not self._taken
        self._others = []
        lost = (
            self._lost[0]
            if len(self._lost) == 1
            else LostTable(
                {k: np.concatenate([t[k] for t in self._lost]) for k in self._lost[0].columns}
                if self._lost
                else {},
                self.strings,
            )
        )
        if not single:
            others.lost = lost
        try:
            offcpu(others, calls, self._ts_max, found["time_range"])
        finally:
            if checker is not None:
                checker.join()
                # the off-CPU step's temporaries, freed by now, go back (the counts and the
                # check, C passes over the table's own columns, make none)
                release_free_memory()
        if isinstance(result[0], Exception):
            raise result[0]
        per_call, depth = result[0]
        # what only the rebuild itself needed: what the quality report does not read (the
        # kernel depths, the exit times) is dropped before it, the rest after it
        extra = set() if self.columns is None else set(calls.columns) - self.columns
        for name in extra - ASSESS_COLUMNS:
            del calls.columns[name]
        quality = assess(
            self._counts, lost, self.meta, calls, counters, depth, referenced, per_call
        )
        for name in extra & ASSESS_COLUMNS:
            del calls.columns[name]
        calls.omitted = calls.omitted | extra
        codes, calls.calls_let_go = self._r.dropped()
        if len(codes):
            calls.funcs_let_go = frozenset(str(self.strings[int(c)]) for c in codes)
        return calls, quality, others


def split_windows(
    events: EventTable, size: int
) -> Iterator[tuple[EventTable, np.ndarray, np.ndarray]]:
    """Cut a whole table into consecutive timeline windows of ``size`` records, as a streaming
    reader would deliver them: ``(window, its timeline order, row ids in events)``.  Each
    lost-event row goes with the window of the record it precedes (the last one takes the
    gaps after every record)."""
    order = timeline.merge_order(events)
    n = len(order)
    lost = events.lost
    lrow = lost["row"]
    at_end = (lrow < 0) | (lrow >= n)
    rank = timeline.ranks(order)
    lwin = np.where(at_end, -1, rank[np.clip(lrow, 0, max(n - 1, 0))] // max(size, 1))
    nwin = max((n + size - 1) // max(size, 1), 1)
    for k in range(nwin):
        rows = order[k * size : (k + 1) * size]
        w = events.take(rows)
        keep = (lwin == k) | (at_end & (k == nwin - 1))
        w.lost = w.lost.take(np.flatnonzero(keep))
        yield w, np.arange(len(rows), dtype=np.int64), rows.astype(np.int64)
