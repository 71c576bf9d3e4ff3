"""The all-zero pages of the stack machine's call columns given back while the windows are
fed (``WindowedRebuild.release_zero_pages``, at each heap trim of ``load_windowed``): the
calls are the same, even when it runs after every window (pages given back and written again
later read back as zeros, then hold what was written)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import corpus_file
from test_stream_tracedat import assert_same_calls

from fgraph._ext import stacks
from fgraph.pipeline import load_windowed, read_events
from fgraph.reconstruct import WindowedRebuild


@pytest.mark.parametrize(
    "rel, window", [("vm61/system.dat", 3000), ("vm61/fsync.dat", 5000), ("vm61/lost.dat", 2000)]
)
def test_zero_pages_given_back_every_window(
    rel: str, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = corpus_file(rel)
    ref = load_windowed(path, window, delay_prefix=window)
    given: list[int] = []
    real = WindowedRebuild.release_zero_pages

    def spy(self: WindowedRebuild) -> int:
        views = stacks.machine_views(self._r._m)
        before = [v.copy() for v in views]
        got = real(self)
        # values unchanged
        assert all(np.array_equal(a, b) for a, b in zip(before, views))
        given.append(got)
        return got

    monkeypatch.setattr(WindowedRebuild, "release_zero_pages", spy)
    monkeypatch.setattr(sys.modules["fgraph.pipeline"], "TRIM_RECORDS", window)
    got = load_windowed(path, window, delay_prefix=window)
    assert len(given) > 3 and sum(given) > 0
    assert_same_calls(ref.call_table, got.call_table)
    assert ref.quality.to_dict() == got.quality.to_dict()


def test_machine_views_after_finish_are_empty() -> None:
    path = corpus_file("vm61/system.dat")
    ev = read_events(path)
    rb = WindowedRebuild(1 + int(ev["cpu"].max()), ev.meta, ev.strings, delay_prefix=1)
    rb.feed(ev, keep_others=False)
    views = stacks.machine_views(rb._r._m)
    assert views and all(v.dtype == np.uint8 for v in views)
    rb.finish()
    assert stacks.machine_views(rb._r._m) == ()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise: Linux only")
def test_zero_pages_scanned_from_where_the_last_scan_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each trim scans a column from the previous scan's end (less a page), the whole of it
    when the machine moved it; values never change."""
    import mmap

    path = corpus_file("vm61/system.dat")
    ev = read_events(path)
    rb = WindowedRebuild(1 + int(ev["cpu"].max()), ev.meta, ev.strings, delay_prefix=1)
    pg = mmap.PAGESIZE
    base = np.zeros(512 * pg, np.uint8)
    base[:] = 0  # (every page resident, all zeros)
    views: list[np.ndarray] = [base[: 256 * pg]]
    monkeypatch.setattr(rb._r, "column_views", lambda: tuple(views))
    first = rb.release_zero_pages()
    assert 250 * pg <= first <= 256 * pg
    base[:] = 0  # the pages back again, still zeros
    views[0] = base  # grown in place: only what is past the last scan (and its last page)
    second = rb.release_zero_pages()
    assert 255 * pg <= second <= 259 * pg
    assert rb.release_zero_pages() <= 2 * pg  # nothing new
    moved = np.zeros(256 * pg, np.uint8)
    moved[:] = 0
    views[0] = moved  # moved: scanned whole
    assert rb.release_zero_pages() >= 250 * pg
    assert not moved.any() and not base.any()
