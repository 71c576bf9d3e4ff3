"""The trace.dat decode's two C passes (``ringbuf.assemble`` / ``ringbuf.fg_fill``) and the type
cache that lets the first pass write the funcgraph columns of later windows: every window's
rows are the whole-file table's rows, whichever pass wrote them, for little/big-endian, 32/64-bit
layouts, the 32-bit funcgraph_exit format bug and a cache that no longer fits the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import corpus_file
from test_tracedat_synth import LAYOUTS, Layout, build

from fgraph.parsers.tracedat import _TypeCache, parse_tracedat
from fgraph.parsers.tracedat.stream import open_stream
from fgraph.schema import EVENT_COLUMNS
from fgraph.source import Source

CASES = {**LAYOUTS, "le32bug": Layout(4, False, exit_bug=True)}


def _names(pool: Any, codes: np.ndarray) -> np.ndarray:
    names = np.array([*list(pool), None], object)
    return names[np.where(codes >= 0, codes, len(names) - 1)]


def _windows_match_whole(data: bytes, window: int, between: Any = None) -> int:
    """Each window's columns are the whole table's at the window's rows; the windows read."""
    whole = parse_tracedat(Source("x.dat", data))
    st = open_stream(Source("x.dat", data), window)
    got = []
    for k, (t, _, ids) in enumerate(st.windows()):
        got.append((t, ids.copy()))
        if between is not None:
            between(k, st)
    assert sum(len(t) for t, _ in got) == len(whole)
    for t, ids in got:
        rows = st.final_rows(ids)
        for col in EVENT_COLUMNS:
            a = t[col.name]
            b = whole[col.name][rows]
            if col.string:  # (one pool each: compare the strings)
                a = _names(t.strings, a)
                b = _names(whole.strings, b)
            assert (a == b).all(), col.name
    return len(got)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("window", [3, 7, 1000])
def test_windows_are_the_whole_table(name: str, window: int) -> None:
    data, _, _ = build(CASES[name])
    assert _windows_match_whole(data, window) >= 1


@pytest.mark.corpus
@pytest.mark.parametrize("what", ["layout", "ev", "kind", "drop", None])
def test_a_cache_that_does_not_fit_the_window_is_not_used(what: str | None) -> None:
    """After each window the cache is spoilt (a wrong field offset, event code or kind, or a
    type forgotten): the next window's first pass used it, and the result is still right."""
    data = corpus_file("vm61/btrfs_read.dat").read_bytes()

    def spoil(k: int, st: Any) -> None:
        cache = _TypeCache.of(st.c, st.strings)
        if not len(cache.ev) or what is None:
            return
        if what == "layout":
            fg = np.flatnonzero(cache.layout[:, 0])
            cache.layout[fg, 2] += 4  # func read 4 bytes later
        elif what == "ev":
            cache.ev[:] = (cache.ev + 1) % max(len(st.strings), 1)
        elif what == "kind":
            cache.kind[:] = 0
        else:
            cache.tslot[:] = -1

    assert _windows_match_whole(data, 300, spoil) > 2


@pytest.mark.corpus
@pytest.mark.parametrize("bad", ["negative offset", "past the span", "size"])
def test_a_cache_layout_that_reads_outside_its_records_is_not_used(bad: str) -> None:
    """A cache layout row that would have a field read outside its record (a negative offset,
    an offset whose 8 bytes end past the span the row gives, a size not 1/2/4/8) is not used
    by the first pass (fg_record reads each field as 8 bytes at its offset wherever the record
    has the row's span left in the buffer: a negative offset read before the buffer, under
    AddressSanitizer a heap-buffer-overflow); the result is still right."""
    data = corpus_file("vm61/btrfs_read.dat").read_bytes()

    def spoil(k: int, st: Any) -> None:
        cache = _TypeCache.of(st.c, st.strings)
        if not len(cache.ev):
            return
        fg = np.flatnonzero(cache.layout[:, 0])
        if bad == "negative offset":
            cache.layout[fg, 2] = -(1 << 20)  # (func, 1 MB before its record)
        elif bad == "past the span":
            cache.layout[fg, 2] = cache.layout[fg, 0]
        else:
            cache.layout[fg, 3] = 3

    assert _windows_match_whole(data, 300, spoil) > 2


def test_fg_fill_refuses_a_layout_that_reads_outside_the_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ringbuf.fg_fill refuses (ValueError, a clean parse error) a layout whose field would be
    read outside its record, instead of reading there."""
    import fgraph.parsers.tracedat as td

    real = td._fg_layout

    def bad(fmt: Any) -> list[int]:
        row = real(fmt)
        row[2] = -64  # func, before its record
        return row

    monkeypatch.setattr(td, "_fg_layout", bad)
    data, _, _ = build(CASES["le64"])
    with pytest.raises(Exception, match="fg_fill: bad layout"):
        parse_tracedat(Source("x.dat", data))


@pytest.mark.parametrize("seed", range(6))
def test_merge_order_is_the_stable_time_sort(seed: int) -> None:
    """Per-CPU runs in time order (with ties within and across runs) merge into the stable
    argsort; a run that goes back in time, or too many runs, is left to the sort (None)."""
    from fgraph._ext import ringbuf

    rng = np.random.default_rng(seed)
    nruns = int(rng.integers(1, 12))
    sizes = rng.integers(0, 50, nruns)
    runs = [np.sort(rng.integers(0, 40, int(k))) for k in sizes]
    if seed == 5 and len(runs[0]) > 2:
        runs[0][1], runs[0][0] = runs[0][0], runs[0][1] + 1  # back in time
    ts = np.concatenate(runs).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    order, tmin = ringbuf.merge_order(ts, starts)
    assert tmin == (int(ts.min()) if len(ts) else 0)
    sorted_runs = all((np.diff(r) >= 0).all() for r in runs)
    if nruns > 8 or not sorted_runs:
        assert order is None
    else:
        assert (order == np.argsort(ts, kind="stable")).all()


@pytest.mark.parametrize("seed", range(8))
def test_merge_order_of_two_runs(seed: int) -> None:
    """Two CPUs' runs (merged stretch by stretch in ringbuf.c), with ties inside and across
    the runs, stretches of either length, empty runs around them: the stable argsort."""
    from fgraph._ext import ringbuf

    rng = np.random.default_rng(seed)
    hi = int(rng.choice([3, 50, 10_000]))  # many ties .. few
    a = np.sort(rng.integers(0, hi, int(rng.integers(0, 400))))
    b = np.sort(rng.integers(0, hi, int(rng.integers(0, 400))))
    empty = [np.zeros(0, np.int64)] * int(rng.integers(0, 3))
    runs = [*empty, a, *empty, b, *empty]
    ts = np.concatenate(runs).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum([len(r) for r in runs])]).astype(np.int64)
    order, tmin = ringbuf.merge_order(ts, starts)
    assert tmin == (int(ts.min()) if len(ts) else 0)
    assert order is not None and (order == np.argsort(ts, kind="stable")).all()


@pytest.mark.corpus
def test_pids_beyond_the_comm_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pids the comm table does not keep (beyond its limit) are named every window as in the
    whole read."""
    from fgraph.parsers.tracedat import _CommCache

    monkeypatch.setattr(_CommCache, "LIMIT", 8)
    data = corpus_file("vm61/btrfs_read.dat").read_bytes()
    assert _windows_match_whole(data, 300) > 2


def test_populate_file_pages_ranges(tmp_path: Path) -> None:
    """Mapping a range ahead of the walk (madvise POPULATE_READ) takes any range (past the
    end, empty, reversed) and any buffer, and changes nothing read."""
    import mmap

    from fgraph.parsers.tracedat.ringbuffer import populate_file_pages

    f = tmp_path / "x.bin"
    f.write_bytes(bytes(range(256)) * 40)
    with f.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        for lo, hi in ((0, len(m)), (-5, 10), (10, 5), (4000, len(m) + 10_000), (0, 0)):
            populate_file_pages(m, lo, hi)
        assert m[:] == f.read_bytes()
    populate_file_pages(b"abc", 0, 3)  # not a mapping: nothing to do
