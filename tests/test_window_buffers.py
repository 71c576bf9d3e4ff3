"""The windowed read's arrays used again from window to window (``stream._Recycler``) and its
decode thread run ahead of the rebuild (``fgraph.pipeline._Ahead``): a window stays as it was while
anything holds it or a view of it, windows that nobody holds share their memory, and the thread
makes as many windows ahead as it is let."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import corpus_file

from fgraph.parsers import parse_windows
from fgraph.pipeline import _Ahead, load_windowed
from fgraph.source import open_source


def _stream(rel: str, window: int):
    return parse_windows(open_source(str(corpus_file(rel))), window)


def _snapshot(table, order, rows) -> dict[str, np.ndarray]:
    out = {name: np.array(table[name], copy=True) for name in table.columns}
    out["<order>"] = np.array(order, copy=True)
    out["<rows>"] = np.array(rows, copy=True)
    return out


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and (a[k] == b[k]).all(), k


def test_held_windows_stay_as_they_were_and_dropped_ones_share_memory() -> None:
    st = _stream("vm61/system.dat", 3000)
    held, views, seen = [], [], []
    for k, (table, order, rows) in enumerate(st.windows()):
        snap = _snapshot(table, order, rows)
        seen.append(table["ts"].__array_interface__["data"][0])
        if k % 4 == 0:  # kept whole (as the rebuild keeps the windows of its head)
            held.append((table, order, rows, snap))
        elif k % 4 == 1:  # only a view of one column kept
            views.append((table["func"][5:], snap["func"][5:]))
        del table, order, rows
    assert len(seen) > 12
    # windows nobody held were decoded into the memory of earlier ones
    assert len(set(seen)) < len(seen) - len(held) - len(views)
    for table, order, rows, snap in held:
        _same(_snapshot(table, order, rows), snap)
    for view, want in views:
        assert (view == want).all()


def test_windows_are_the_same_held_or_dropped() -> None:
    """Every window kept alive (no array used again) against each dropped once copied (the
    arrays used again, over the previous windows' values): the same tables."""
    kept = [_snapshot(*w) for w in list(_stream("vm61/lost.dat", 2000).windows())]
    dropped = [_snapshot(*w) for w in _stream("vm61/lost.dat", 2000).windows()]
    assert len(kept) == len(dropped) > 5
    for a, b in zip(kept, dropped):
        _same(a, b)


def test_deferred_order_is_the_order() -> None:
    a = [o for _, o, _ in _stream("vm61/smp4_instances.dat", 5000).windows()]
    b = [f() for _, f, _ in _stream("vm61/smp4_instances.dat", 5000).windows(defer_order=True)]
    assert len(a) == len(b) > 1
    for x, y in zip(a, b):
        assert (x is None and y is None) or (x == y).all()


def test_load_windowed_in_one_thread_and_two(monkeypatch) -> None:
    path = str(corpus_file("vm61/lost.dat"))
    two = load_windowed(path, 2000)
    monkeypatch.setenv("FGRAPH_ONE_THREAD", "1")
    one = load_windowed(path, 2000)
    for name in two.call_table.columns:
        assert (two.call_table[name] == one.call_table[name]).all(), name
    assert two.quality.to_dict() == one.quality.to_dict()


def _settles_at(made: list[int], want: int) -> None:
    """The thread has made ``want`` items and makes no more (it waits for room)."""
    deadline = time.monotonic() + 10
    while len(made) < want and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(made) == want


def test_the_thread_runs_as_far_ahead_as_it_is_let() -> None:
    made: list[int] = []

    def items():
        for i in range(50):
            made.append(i)
            yield i

    a = _Ahead(items())
    assert next(a) == 0
    _settles_at(made, 2)  # one ahead: the one taken and the one made
    a.further()  # two ahead from now on
    assert next(a) == 1
    _settles_at(made, 4)
    assert next(a) == 2
    _settles_at(made, 5)
    a.fewer()  # one ahead from now on
    assert next(a) == 3  # (taken without giving room back)
    _settles_at(made, 5)
    assert next(a) == 4
    _settles_at(made, 6)
    assert list(a) == list(range(5, 50))


def test_windowed_read_with_the_thread_ahead_is_the_whole_read() -> None:
    """Enough windows for the decode thread to run two ahead, then one in the last ones
    (load.TAIL_WINDOWS), with the window arrays used again: the calls of the whole-file read."""
    from fgraph.pipeline import TAIL_WINDOWS, load

    for rel, window in (("vm61/lost.dat", 400), ("vm61/system.dat", 5000)):
        path = str(corpus_file(rel))
        assert _stream(rel, window).window_count > TAIL_WINDOWS + 2
        _same_read(load(path), load_windowed(path, window))


def _same_read(ref, got) -> None:
    """The same calls (names compared as strings) and the same quality report."""
    a, b = ref.call_table, got.call_table
    assert len(a) == len(b) > 0
    for name in a.columns:
        if name in ("comm", "func", "module"):
            assert (a.strings.decode(a[name]) == b.strings.decode(b[name])).all(), name
        else:
            assert (a[name] == b[name]).all(), name
    assert ref.quality.to_dict() == got.quality.to_dict()


def test_widened_windows_cut_the_same_records() -> None:
    """``widen(2, last)``: the windows before the last ``last`` ones twice as long (every other
    cut of theirs kept), the last ones as they were, and the same records window after window
    put together; too late once the windows are cut."""
    rel, window, last = "vm61/system.dat", 3000, 5
    plain, wide = _stream(rel, window), _stream(rel, window)
    wide.widen(2, last)
    a, b = plain._cuts(), wide._cuts()
    assert len(a) > 2 * last + 4
    assert set(b.tolist()) <= set(a.tolist())
    assert np.array_equal(a[-last:], b[-last:])
    head = len(a) - last
    assert len(b) - last == head // 2  # every other cut before the last windows
    rows, spans = [], []
    for st in (_stream(rel, window), wide):
        got = [(np.array(t["ts"]), np.array(r)) for t, _, r in st.windows()]
        rows.append(np.sort(np.concatenate([r for _, r in got])))
        spans.append([(int(ts.min()), int(ts.max())) for ts, _ in got if len(ts)])
    assert np.array_equal(rows[0], rows[1])
    # (each window's records after the previous window's)
    assert all(a[1] <= b[0] for a, b in zip(spans[1], spans[1][1:]))
    assert len(spans[1]) < len(spans[0])
    with pytest.raises(RuntimeError):
        wide.widen(2, last)


def test_halved_last_windows_cut_the_same_records() -> None:
    """``widen(2, last, halve)``: the last ``halve`` windows are cut in two (about half as
    many records each), the ones before them as ``widen(2, last)`` makes them, and the same
    records window after window put together."""
    rel, window, last, halve = "vm61/system.dat", 3000, 5, 2
    plain, halved = _stream(rel, window), _stream(rel, window)
    plain.widen(2, last)
    halved.widen(2, last, halve)
    a, b = plain._cuts(), halved._cuts()
    # two windows for each of the last ``halve`` (the half-window grid rounds differently:
    # a few more cuts before them)
    assert len(a) + halve <= len(b) <= len(a) + halve + len(a) // 8
    got = []
    for st in (plain, halved):
        sizes, rows = [], []
        for t, _, r in st.windows():
            sizes.append(len(t))
            rows.append(np.array(r))
        got.append((sizes, np.sort(np.concatenate(rows))))
    assert np.array_equal(got[0][1], got[1][1])
    (ps, _), (hs, _) = got
    # the windows before the halved ones: as many, about as long; the halved ones about half
    # as long as the plain last windows (the very last window is whatever is left)
    mid = np.median(ps[-last:-1])
    assert all(s < 0.75 * mid for s in hs[-2 * halve : -1])
    assert np.median(hs[-last - halve : -2 * halve]) > 0.75 * mid
    with pytest.raises(RuntimeError):
        halved.widen(2, last, halve)


def test_narrowed_recycler_lets_the_wide_sets_go() -> None:
    """After ``narrow`` (the last, shorter windows), a free set more than twice the size a
    window needs is not used again: its memory goes with it, and a set of the window's own
    size is made."""
    from fgraph.parsers.tracedat.stream import _Recycler

    r = _Recycler(2)
    big = r.get(4000)
    big.take("ts", 4000, np.dtype(np.int64))
    assert r.get(1500) is big  # (free, and large enough)
    r.narrow()
    small = r.get(1500)
    assert small is not big and big not in r.sets and small.cap < 2 * 1500
    assert r.get(1000) is small
    # (a set more than twice the window: the last windows, halved, let their sets go too)
    half = r.get(800)
    assert half is not small and small not in r.sets and half.cap < 2 * 800


def test_sparse_funcgraph_rows_differ_only_in_what_the_rebuild_never_reads(monkeypatch) -> None:
    """``windows(sparse_funcgraph=True)`` (load_windowed's): the funcgraph rows' flags,
    preempt, event, overrun and pos may hold anything; every other value is the full decode's,
    the funcgraph columns of windows whose types the decode's cache did not know included
    (decoded again from the record offsets, which the sparse pass left out and
    ``_fill_records`` copies in then)."""
    import fgraph.parsers.tracedat as td

    fills = []
    fill = td._fill_records

    def counted(*a):
        fills.append(1)
        return fill(*a)

    monkeypatch.setattr(td, "_fill_records", counted)
    runs = (
        ("vm61/system.dat", 3000, frozenset()),
        ("vm61/smp4_instances.dat", 5000, frozenset()),
        # (and the module and return value, when the caller builds no call column of them)
        ("vm61/system.dat", 3000, frozenset({"module", "retval"})),
    )
    for rel, window, skip in runs:
        loose = ("flags", "preempt", "event", "overrun", "pos", *skip)
        full = [_snapshot(*w) for w in _stream(rel, window).windows()]
        sparse = []
        for w in _stream(rel, window).windows(sparse_funcgraph=True, skip=skip):
            sparse.append(_snapshot(*w))
            for name in skip:  # (marked: a later window on these arrays shows what it left)
                w[0][name][:] = -77
        assert len(full) == len(sparse) > 1
        differ = dict.fromkeys(loose, 0)
        for a, b in zip(full, sparse):
            fg = np.isin(a["kind"], [1, 2])
            for name in a:
                if name in loose:
                    assert (a[name][~fg] == b[name][~fg]).all(), name
                    differ[name] += int((a[name][fg] != b[name][fg]).any())
                else:
                    assert (a[name] == b[name]).all(), name
        assert differ["pos"] and all(differ[k] for k in skip)  # (indeed left unwritten)
    assert fills  # (and some window met a type after the first)


def test_page_stamps_read_in_two_threads_are_the_ones_read_in_one(monkeypatch) -> None:
    """``_page_heads`` shares the 16 MB pieces of a big file between two threads: with pieces
    of a few pages (many, so the second thread runs) the page stamps, and so the windows, are
    those of one piece a blob."""
    import threading

    import fgraph.parsers.tracedat.stream as stream

    # (uncompressed: a compressed file's stamps come with its chunks)
    rel = "vm61/btrfs_read.v6.dat"
    monkeypatch.setattr(stream, "STAMP_BYTES", 1 << 40)
    one = _stream(rel, 500)
    threads = []
    start = threading.Thread.start

    def counted(self) -> None:
        threads.append(self.name)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counted)
    monkeypatch.setattr(stream, "STAMP_BYTES", 4 * 4096)
    many = _stream(rel, 500)
    assert "fgraph-stamps" in threads
    assert len(one.cursors) == len(many.cursors)
    for a, b in zip(one.cursors, many.cursors):
        assert np.array_equal(a.page_ts, b.page_ts)
    assert np.array_equal(one._cuts(), many._cuts())


def test_other_events_rows_from_assembles_list_are_the_scans(monkeypatch) -> None:
    """The rows of each other event type (the scheduler events' field tables) are looked for
    among the rows ``assemble`` did not decode as funcgraph records, not among all rows: the
    same field tables, window after window, as a scan of every row finds."""
    import fgraph.parsers.tracedat as td

    def fields_of(st):
        out = []
        for t, _, _ in st.windows(sparse_funcgraph=True):
            out.append(
                {
                    name: (ft.rows.copy(), {k: np.array(v) for k, v in ft.columns.items()})
                    for name, ft in t.fields.items()
                }
            )
        return out

    rel, window = "vm61/system.dat", 3000
    listed = fields_of(_stream(rel, window))
    plain = td._TypeRows

    class Scan(plain):  # type: ignore[misc, valid-type]
        def __init__(self, etype, ids, inv, others=None, decoded=frozenset()):
            super().__init__(etype, ids, inv)

    monkeypatch.setattr(td, "_TypeRows", Scan)
    scanned = fields_of(_stream(rel, window))
    assert len(listed) == len(scanned) > 5
    assert any(w for w in listed)
    for a, b in zip(listed, scanned):
        assert a.keys() == b.keys()
        for name in a:
            assert np.array_equal(a[name][0], b[name][0]), name
            for k in a[name][1]:
                assert np.array_equal(a[name][1][k], b[name][1][k]), (name, k)


def test_small_trace_windows() -> None:
    """A trace.dat of fewer than SMALL_TRACE_RECORDS records is read in about SMALL_WINDOWS
    windows of 2^14 records at least, up to WINDOW_RECORDS at SMALL_TRACE_RECORDS."""
    from fgraph.pipeline import (
        SMALL_TRACE_RECORDS,
        SMALL_WINDOWS,
        WINDOW_RECORDS,
        small_window_records,
    )

    assert small_window_records(0) == small_window_records(200_000) == 1 << 14
    assert small_window_records(1_400_000) == 1 << 14  # 47 MB of function_graph trace.dat
    assert small_window_records(2_600_000) == 1 << 15
    assert small_window_records(SMALL_TRACE_RECORDS - 1) == WINDOW_RECORDS // 2
    assert small_window_records(SMALL_TRACE_RECORDS) == WINDOW_RECORDS
    assert SMALL_TRACE_RECORDS // SMALL_WINDOWS == WINDOW_RECORDS


def test_small_trace_read_is_the_whole_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The small-trace path (no widened windows, the thread one window ahead, the first
    windows held until the record delay is known, then one set of window arrays let go) with
    windows short enough that many are held: the calls and quality of the whole-file read."""
    import fgraph.pipeline as pipeline
    from fgraph.parsers.tracedat.stream import TraceDatStream

    fewer = []
    real = TraceDatStream.fewer_buffers

    def spy(self: TraceDatStream) -> None:
        fewer.append(self._buffers.keep)
        real(self)

    monkeypatch.setattr(pipeline, "small_window_records", lambda records: 3000)
    monkeypatch.setattr(TraceDatStream, "fewer_buffers", spy)
    path = str(corpus_file("vm61/system.dat"))
    ref, got = pipeline.load(path), load_windowed(path)
    assert fewer == [3]  # once, when the held windows were consumed
    _same_read(ref, got)
