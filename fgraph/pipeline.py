"""``fgraph.load()``: the one place that knows the whole pipeline.

parsers → event table → merged timeline → per-task calls.  Analyses take the resulting
:class:`Trace` (or its :class:`~fgraph.table.CallTable`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TypeVar

from .errors import TraceWarning
from .table import CallTable, EventTable, TraceMeta

# Rows of a text's table per rebuild window: the rebuild's per-record state (contexts, pid
# generations, the machine's input) is for one window at a time, not the whole text (a 203 MB
# text: 2.85M rows, ~85 MB of it at once).
TEXT_WINDOW_RECORDS = 1 << 18
# Records per trace.dat window.  Two windows are alive while the calls grow (the one the
# rebuild consumes, the one the decode thread makes): ~15 MB at 2^16 records, where 2^18 took
# ~60 MB at the end of the windows; the CPU time measured the same at 10M records.
WINDOW_RECORDS = 1 << 16
# A trace.dat of fewer records than SMALL_TRACE_RECORDS (~140 MB of function_graph pages) is
# read in about SMALL_WINDOWS windows (small_window_records), none widened, the decode thread
# one window ahead all through, the heap trimmed every SMALL_TRIM_RECORDS: the windows alive
# are a cost that did not shrink with the trace, and at 47 MB they were most of the peak beside
# the calls (hist --func: 89-92 MB against 47 MB of file).  At 1.4M records windows of 2^15
# took 6 MB off, 2^14 3.5 MB more, for 0.06 s more (0.35 -> 0.41 s: each window costs ~1.4 ms
# of Python in the two threads); at 10M records 2^15 took 1.02 -> 1.34 s, so large traces
# keep theirs (bench/RESULTS.md, session 17).
SMALL_TRACE_RECORDS = 1 << 22
SMALL_WINDOWS = 64
SMALL_TRIM_RECORDS = 1 << 17


def small_window_records(records: int) -> int:
    """Records per window of a small trace.dat: a power of two near records / SMALL_WINDOWS,
    from 2^14 to WINDOW_RECORDS (which it meets at SMALL_TRACE_RECORDS)."""
    per = max(int(records) // SMALL_WINDOWS, 1)
    return min(max(1 << (per.bit_length() - 1), 1 << 14), WINDOW_RECORDS)


TRIM_RECORDS = 1 << 21  # records between two trims of the heap while the windows are fed
# The decode thread runs up to two windows ahead of the rebuild (three windows alive), one in
# the last TAIL_WINDOWS windows: the read's peak RSS comes at the end of the windows, when the
# calls are the most (bench/RESULTS.md, session 6).
TAIL_WINDOWS = 16
# of which the last HALF_WINDOWS are cut in two: the two windows alive at the very end, beside
# the most calls, are half as big (~8 MB less peak RSS on the 173 MB benchmark file, where the
# peak came there: bench/RESULTS.md, session 9)
HALF_WINDOWS = 4

_T = TypeVar("_T")


class Trace:
    """A loaded trace: events, rebuilt calls and the quality report.

    ``events`` / ``calls`` are pandas DataFrames (Arrow-backed, nulls for unknowns);
    ``event_table`` / ``call_table`` are the columnar tables the analyses use.
    """

    def __init__(self, event_table: EventTable, name: str = "") -> None:
        self.event_table = event_table
        self.name = name or event_table.meta.path
        self._calls: CallTable | None = None
        self._quality: Any = None
        # loaded by load_windowed: event_table holds only the events that are not funcgraph
        # records
        self.windowed = False

    @property
    def meta(self) -> TraceMeta:
        return self.event_table.meta

    @property
    def warnings(self) -> list[TraceWarning]:
        return self.event_table.meta.warnings

    def _rebuild(self) -> None:
        from .reconstruct import rebuild

        self._calls, self._quality = rebuild(self.event_table)

    @property
    def call_table(self) -> CallTable:
        if self._calls is None:
            self._rebuild()
        assert self._calls is not None
        return self._calls

    @property
    def quality(self) -> Any:
        if self._quality is None:
            self._rebuild()
        return self._quality

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self.quality.to_dict())

    @property
    def events(self) -> Any:
        return self.event_table.to_pandas()

    @property
    def calls(self) -> Any:
        return self.call_table.to_pandas()


def read_events(path: str | os.PathLike[str] | BinaryIO | bytes) -> EventTable:
    """Parse one input (any supported format, compressed or not) into an EventTable."""
    from .parsers import parse
    from .source import open_source

    return parse(open_source(path))


def load_windowed(
    path: str | os.PathLike[str] | BinaryIO | bytes,
    window_records: int | None = None,
    *,
    delay_prefix: int | None = None,
    columns: frozenset[str] | None = None,
    final_rows: bool = True,
    trees_of: str | None = None,
) -> Trace:
    """Load a trace and rebuild its calls window by window (issue 7: bounded memory).

    A trace.dat is decoded a timeline window at a time and each window is fed to the rebuild
    and dropped: the calls, the quality report and the events that are not funcgraph records
    (scheduler events, lost-event rows) are kept, the funcgraph records are not, so
    ``trace.event_table`` holds only those other events.  The calls are the same as
    ``load(path).calls`` (``tests/test_stream_tracedat.py``).  Other inputs (text) are read
    whole, then rebuilt in windows of :data:`TEXT_WINDOW_RECORDS` rows; their ``event_table``
    too keeps only the events that are not funcgraph records.
    ``window_records`` sets the window size (default :data:`WINDOW_RECORDS`; the windows before
    the last :data:`TAIL_WINDOWS` are twice as long); ``delay_prefix``
    (tests) how many records the rebuild gathers before its first window (see
    :data:`fgraph.reconstruct.calls.DELAY_PREFIX`).  ``columns`` (names from
    ``fgraph.schema.CALL``) builds only those call columns: the others are never made, and
    reading one raises :class:`fgraph.table.ColumnNotLoaded` (a command that knows what it
    reads, e.g. ``fgraph hist``, saves their memory).  ``path`` may be an open
    :class:`~fgraph.source.Source`, to be read again (:func:`reread_rows`); with
    ``final_rows=False`` the calls' ``entry_row``/``exit_row`` and the lost-event rows keep the
    reader's row ids, the ids :func:`reread_rows` takes (a trace.dat's are final only once
    every record was read).  ``trees_of`` (a function name) keeps only the trees of calls that
    hold a call of it (:class:`~fgraph.reconstruct.WindowedRebuild`, ``prune_to``): what
    ``fgraph hist --func X`` reads, in a fraction of the memory.  Those calls are exactly as
    without it (``call_table.calls_let_go`` counts the others); the quality report's per-call
    counts then cover only them.
    """
    from .schema import CALL
    from .source import Source, open_source

    if columns is not None:
        # (a str would be its letters; a typo would leave out the column meant, silently)
        unknown = sorted(set(columns) - set(CALL)) if not isinstance(columns, str) else [columns]
        if unknown:
            raise ValueError(f"load_windowed(columns=...): not call columns: {unknown}")
        columns = frozenset(columns)
    src = path if isinstance(path, Source) else open_source(path)
    args = (window_records, delay_prefix, columns, final_rows, trees_of)
    return _read_windows(src, lambda st: _rebuild_windows(src, st, *args), window_records)


def _read_windows(src: Any, read: Callable[[Any], _T], window_records: int | None = None) -> _T:
    """``read(st)`` over the windows of ``src`` (``parsers.parse_windows``), or, when a piece of
    a text met what only the whole text answers (``parsers.text_windows`` raises
    TextRestart), ``read`` again over the text read whole."""
    from .parsers import TextRestart, parse_windows, whole_windows

    st = parse_windows(src, window_records or WINDOW_RECORDS)
    try:
        return read(st)
    except TextRestart:
        return read(whole_windows(src))


def _rebuild_windows(
    src: Any,
    st: Any,
    window_records: int | None,
    delay_prefix: int | None,
    columns: frozenset[str] | None,
    final_rows: bool = True,
    trees_of: str | None = None,
) -> Trace:
    """:func:`load_windowed` once its input is open: its windows through the rebuild."""
    from ._malloc import release_free_memory
    from .reconstruct import WindowedRebuild
    from .reconstruct.calls import DELAY_PREFIX
    from .source import release_pages

    rb = None
    several = st.several_windows
    # (the funcgraph rows' flags, preempt, event, overrun and pos are not made: the rebuild
    # reads none of them, and keeps only the other rows as the trace's events)
    small = several and window_records is None and st.records < SMALL_TRACE_RECORDS
    if small:
        st.resize(small_window_records(st.records))
    elif several:
        # the windows before the last TAIL_WINDOWS twice as long (fewer of them, less per-window
        # work; the last ones, where the calls and the read's RSS peak, as long as they were)
        st.widen(2, TAIL_WINDOWS, HALF_WINDOWS)
    # (and the funcgraph rows' module and return value when no call column is made of them)
    unread = frozenset() if columns is None else frozenset({"module", "retval"}) - columns
    windows = (
        st.windows(defer_order=True, sparse_funcgraph=True, skip=unread)
        if several
        else st.windows(window_records or TEXT_WINDOW_RECORDS)
    )
    ahead: _Ahead | None = None
    if several and not os.environ.get("FGRAPH_ONE_THREAD"):
        # (FGRAPH_ONE_THREAD: a switch for measuring what the thread buys.)  One-window inputs
        # (text) gain nothing from it, and the memory their parse frees would stay in the
        # thread's malloc arena.
        windows = ahead = _Ahead(windows)
        st.warm()
    elif getattr(st, "pieces", False) and not os.environ.get("FGRAPH_ONE_THREAD"):
        windows = _Ahead(windows)
    tail_from = 0  # the first of the last TAIL_WINDOWS windows
    # An error or interrupt in the middle of the windows: close them here, not when the
    # generator is collected (the exception's traceback holds this frame, so a caller that
    # keeps the exception kept the decode thread, its window and the file alive).
    fed = 0  # records fed
    dropped = 0  # text: the rows whose memory was given back
    nwin = 0  # windows fed
    head = True  # the rebuild holds the first windows (see WindowedRebuild.prepare)
    # when to trim the heap next: first once the rebuild has consumed the first windows (it
    # holds them, prepared, until it has DELAY_PREFIX records, then consumes them all: their
    # memory is freed at once, and a small trace never reuses it), then every TRIM_RECORDS
    # (SMALL_TRIM_RECORDS in a small trace: ~1 MB less peak at 47 MB of trace.dat)
    trim_at = 2 * (DELAY_PREFIX if delay_prefix is None else delay_prefix)
    try:
        for table, order, rows in windows:
            if callable(order):
                # the timeline order, made here rather than in the decode thread (which was the
                # slower of the two when it moved; now they are about even, the rebuild's the
                # slower after the first windows: bench/RESULTS.md, session 7)
                order = order()
            if rb is None:
                ncpu = max(st.ncpu, int(table["cpu"].max(initial=-1)) + 1)
                # function_graph data: about one call per two records.  ``records`` is estimated
                # from a sample of pages, so reserve 25% more: outgrowing the reserve near the end
                # copies the call attributes (twice their memory at once), while reserved pages that
                # are never touched cost nothing.
                expect = st.records * 5 // 8
                kw = {} if delay_prefix is None else {"delay_prefix": delay_prefix}
                rb = WindowedRebuild(
                    ncpu,
                    table.meta,
                    table.strings,
                    expect_calls=expect,
                    columns=columns,
                    prune_to=trees_of,
                    **kw,
                )
            if ahead is not None and not small:
                # The two threads take about as long a window (~3.5 ms at 2^16 records), each
                # the slower one in turn: two windows ahead (three alive: the one fed, one
                # waiting, one decoded), the decode thread waits less for the rebuild's slower
                # windows (10.2M records: 0.05-0.07 -> 0.01-0.03 s of waits, the windows 0.035 s
                # less wall).  Not in the last windows, where the calls grow to the read's peak
                # RSS (which stays as it was: bench/RESULTS.md, session 6).
                if nwin == 0:
                    # (the decode thread has cut the windows: the count is known now)
                    tail_from = max(st.window_count - TAIL_WINDOWS - HALF_WINDOWS, 0)
                    if tail_from:
                        ahead.further()
                elif nwin == tail_from:
                    ahead.fewer()
                    st.fewer_buffers()
            nwin += 1
            # (text: views of its one table, which goes once the rebuild has read them all;
            # the trace keeps its other events, as a trace.dat's)
            rb.feed(table, order, rows, keep_others=True)
            fed += len(table)
            if head and rb.held == 0:
                # the first windows, held until the record delay was known, are consumed: from
                # now on two windows are alive (the one fed, the one decoded), and the recycler
                # lets the third's arrays go
                head = False
                if small:
                    st.fewer_buffers()
            if not several and rows is not None:
                # the text's rows the machine has run (its windows are consumed in order)
                # are not read again: their memory goes, as the calls' grows
                done = fed - rb.held
                if done > dropped:
                    st.drop_rows(dropped, done)
                    dropped = done
            if several and fed >= trim_at:
                # The windows' freed memory stays in glibc's arenas, scattered (the kept events
                # and the decoder's state sit between the freed windows); the memory the calls
                # take grows meanwhile.  Given back every 2^21 records: ~30 MB less at the end
                # of the windows at 10M records, for ~10k more page faults (pages given back
                # and faulted in again: after every window it cost much more, bench/RESULTS.md).
                rb.release_zero_pages()
                release_free_memory()
                # and the file pages the decoder leaves resident (the page ahead of each CPU's
                # cursor and what a fault mapped around it, the headers): ~13 MB at the end of
                # the windows at 10M records, refaulted from the page cache if read again
                release_pages(src.data)
                trim_at = fed + (SMALL_TRIM_RECORDS if small else TRIM_RECORDS)
            # (let go before the next window is asked for: the decode thread reuses this
            # window's arrays for the one after, rather than making a third set)
            del table, order, rows
    finally:
        windows.close()
    if rb is None:  # pragma: no cover - every input yields at least one window
        raise RuntimeError("no window")
    # (every window is decoded: the file's pages still mapped, the headers, the symbol and
    # string sections, leave the resident set; a later read faults them back in)
    release_pages(src.data)
    release_free_memory()
    calls, quality, others = rb.finish()
    # rows named by the reader while streaming become the whole-file table's rows
    for col in ("entry_row", "exit_row"):
        if col in calls.columns and final_rows:
            calls[col] = st.final_rows(calls[col])
    if final_rows:
        others.lost["row"] = st.final_rows(others.lost["row"])
    # and the lost-event rows, gathered window by window, in the whole-file table's order
    perm = st.lost_order(others.lost)
    if perm is not None:
        others.lost = others.lost.take(perm)
    others.meta = st.meta
    trace = Trace(others, name=src.name)
    trace._calls, trace._quality = calls, quality
    trace.windowed = True
    return trace


class EventWindows:
    """An input's records in timeline order, a window of them at a time: ``for table in
    EventWindows(path)`` gives consecutive event tables, each in time order, that joined are
    the whole input's table in ``tables.event_time_order`` (``fgraph events``).  A trace.dat
    is decoded a window at a time, never held whole; a text is read whole, as one window (a
    text read in pieces may have to start over, and what was written of it could not be taken
    back).  :attr:`meta` is complete once every window was taken."""

    def __init__(self, path: str | os.PathLike[str] | BinaryIO | bytes) -> None:
        from .parsers import parse_windows, whole_windows
        from .source import open_source

        self.src = open_source(path)
        st = parse_windows(self.src, WINDOW_RECORDS)
        self._st = st if st.several_windows else whole_windows(self.src)

    @property
    def meta(self) -> TraceMeta:
        return self._st.meta  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[EventTable]:
        import numpy as np

        for table, order, _rows in _timeline_windows(self.src, self._st):
            same = len(order) == 0 or bool(order[0] == 0 and (np.diff(order) == 1).all())
            yield table if same else table.take(order)


def read_summary(path: str | os.PathLike[str] | BinaryIO | bytes) -> Any:
    """What ``fgraph info`` reports of ``path`` (a :class:`fgraph.summary.EventSummary`),
    counted a window at a time: a trace.dat is never held whole (a 4 GB one would need ~12 GB
    as one table)."""
    from .source import open_source

    src = open_source(path)
    return _read_windows(src, lambda st: _summarize(src, st))


def _summarize(src: Any, st: Any) -> Any:
    from .summary import EventSummary

    s = EventSummary()
    # (a text's next piece parsed meanwhile, as load_windowed does)
    ahead = getattr(st, "pieces", False) and not os.environ.get("FGRAPH_ONE_THREAD")
    for table, _order, _rows in _timeline_windows(src, st, ordered=False, ahead=ahead):
        s.add(table)
    s.meta = st.meta
    return s


def reread_rows(src: Any, wanted: Any) -> tuple[EventTable, Any]:
    """Read the open source ``src`` again, a window at a time, and keep the funcgraph records
    whose reader row ids (as ``load_windowed(..., final_rows=False)`` named them) are among
    ``wanted``, with every record that is not a funcgraph record: ``(their table in timeline
    order, their row ids)``.  The table has no lost-event rows (the first read has them).

    ``fgraph trim`` names the few records it prints this way (its first read kept no funcgraph
    record), instead of holding every record of the trace (``tests/test_trim_reread.py``)."""
    return _read_windows(src, lambda st: _reread(src, st, wanted))


def _reread(src: Any, st: Any, wanted: Any) -> tuple[EventTable, Any]:
    import numpy as np

    from ._numpy import positions, unique
    from .schema import GRAPH_KINDS, EventKind
    from .table import LostTable

    want = unique(np.asarray(wanted, dtype=np.int64))
    graph = np.zeros(max(EventKind) + 1, dtype=bool)  # the kinds of funcgraph records
    graph[list(GRAPH_KINDS)] = True
    parts: list[EventTable] = []
    ids: list[np.ndarray] = []
    for table, order, rid in _timeline_windows(src, st):
        keep = ~graph[table["kind"]]
        keep |= positions(want, rid) >= 0  # (a search: np.isin took 1.8 s at 10M records)
        at = order[keep[order]]  # the kept rows, in timeline order
        part = table.take(at)
        part.lost = LostTable({}, part.strings)
        parts.append(part)
        ids.append(rid[at].astype(np.int64))
    return EventTable.concat(parts, meta=st.meta), np.concatenate(ids)


def _timeline_windows(
    src: Any, st: Any, *, ordered: bool = True, ahead: bool = False
) -> Iterator[tuple[EventTable, Any, Any]]:
    """``(table, timeline order, row ids)`` of each window of the stream ``st`` over ``src``
    (``ordered=False``: the order as the reader gives it, maybe None), row ids counted across
    the windows where the reader names none; what the windows leave behind (freed memory, the
    file's mapped pages) is given back as they go, as :func:`load_windowed` does.  ``ahead``:
    the next window made in a second thread meanwhile."""
    import numpy as np

    from ._malloc import release_free_memory
    from .reconstruct import timeline
    from .source import release_pages

    base = 0  # rows read so far
    trim_at = TRIM_RECORDS
    windows: Any = st.windows()
    if ahead:
        windows = _Ahead(windows)
    try:
        for table, order, rows in windows:
            n = len(table)
            if ordered and callable(order):
                order = order()
            if ordered and order is None:
                order = timeline.merge_order(table)
            rid = np.asarray(rows) if rows is not None else np.arange(base, base + n)
            base += n
            yield table, order, rid
            del table, order, rows, rid
            if base >= trim_at:
                release_free_memory()
                release_pages(src.data)
                trim_at = base + TRIM_RECORDS
    finally:
        close = getattr(windows, "close", None)
        if close is not None:
            close()
        release_pages(src.data)


class _Ahead:
    """Items of ``it`` computed ahead in a second thread: the next window is decoded while the
    rebuild consumes this one (the page walk, the field gathers and the stack machine are C
    that releases the GIL, as do numpy's large-array loops).  Errors reach the consumer.
    :meth:`close` (or the end of the items) lets the thread go.

    The thread makes an item only while fewer than ``ahead`` items it made are not yet taken
    (``ahead`` 1: two windows alive, the one consumed and the one decoded); :meth:`further` and
    :meth:`fewer` change that."""

    def __init__(self, it: Iterator[Any], ahead: int = 1) -> None:
        import queue
        import threading

        q: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        stop = threading.Event()
        room = threading.Semaphore(ahead)  # items the thread may make now
        self._q, self._stop, self._room = q, stop, room
        self._owed = 0  # rooms not given back when the next items are taken (fewer)
        self._done = False

        def run() -> None:
            try:
                while True:
                    # (a timed wait: once the consumer has gone, a blocking wait would keep
                    # this thread, the file and the stream's memory forever)
                    while not room.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    try:
                        item = next(it)
                    except StopIteration:
                        q.put(("end", None))
                        return
                    if stop.is_set():  # (the consumer has gone: nobody takes it)
                        return
                    q.put(("item", item))
                    # handed over: the consumer holds it now (the last window would otherwise
                    # live in this frame until the thread ends)
                    del item
            except BaseException as exc:  # handed to the consumer, raised there
                q.put(("error", exc))

        self._thread = threading.Thread(target=run, name="fgraph-decode", daemon=True)
        self._thread.start()

    def __iter__(self) -> _Ahead:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        what, val = self._q.get()
        if self._owed:
            self._owed -= 1
        else:
            self._room.release()
        if what == "item":
            return val
        self.close()
        if what == "error":
            raise val
        raise StopIteration

    def further(self) -> None:
        """One item more ahead from now on."""
        if not self._done:
            self._room.release()

    def fewer(self) -> None:
        """One item less ahead from now on (the next item taken gives no room back)."""
        self._owed += 1

    def close(self) -> None:
        import threading

        self._done = True
        self._stop.set()
        # The thread sees the stop at its next hand-over (it polls every 0.1 s) or has already
        # handed over its end: wait for it, so no decode thread outlives the read (it held the
        # file and a window, and a caller that checks for leftover threads saw it still
        # running right after a complete read).  Bounded: a thread stuck past that is left,
        # as a daemon, rather than hanging the caller.
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        # (an item made meanwhile is not kept by this object: a caller that keeps the
        # exception that stopped it keeps this object)
        with contextlib.suppress(Exception):
            while True:
                self._q.get_nowait()

    def __del__(self) -> None:  # dropped without close (as a generator is closed)
        self._stop.set()


def load(path: str | os.PathLike[str] | BinaryIO | bytes) -> Trace:
    """Load a trace file (``"-"`` for stdin).  Calls are rebuilt lazily on first use.

    >>> t = fgraph.load("btrfs_read.dat")           # doctest: +SKIP
    >>> t.calls.query("func == 'vfs_read'").duration.describe()   # doctest: +SKIP
    """
    return Trace(read_events(path))
