"""fgraph._malloc.release_zero_pages: all-zero pages of an array are given back, its values
never change, and memory that may not read back as zeros is left alone."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import corpus_file, status_kb

from fgraph._malloc import release_zero_pages

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise: Linux only")


def _sparse(n: int = 1 << 20) -> np.ndarray:
    a = np.zeros(n, np.int64)
    a[::5000] = np.arange(len(a[::5000])) + 1  # a value every ~10 pages
    a[-1] = -7  # and in the last (partly shared) page
    return a


@linux
def test_zero_pages_released_values_kept() -> None:
    a = _sparse()
    want = a.copy()
    released = release_zero_pages(a)
    assert released > a.nbytes // 2
    assert released % 4096 == 0
    np.testing.assert_array_equal(a, want)
    # writable afterwards, into a released page and next to a kept value
    a[3] = 5
    a[5001] = 6
    want[3], want[5001] = 5, 6
    np.testing.assert_array_equal(a, want)


@linux
def test_views_and_dtypes() -> None:
    a = _sparse().view(np.uint16)
    want = a.copy()
    v = a[1000:-1000]  # a view of an owned array: its pages inside the view only
    assert release_zero_pages(v) > 0
    np.testing.assert_array_equal(a, want)
    dense = np.arange(1 << 20, dtype=np.int64)
    assert release_zero_pages(dense) == 0


def test_left_alone() -> None:
    small = np.zeros(100, np.int64)
    assert release_zero_pages(small) == 0
    strided = np.zeros(1 << 21, np.int64)[::2]
    assert release_zero_pages(strided) == 0
    ro = np.zeros(1 << 20, np.int64)
    ro.flags.writeable = False
    assert release_zero_pages(ro) == 0


def test_file_mapping_refused(tmp_path: Path) -> None:
    # A private file mapping zeroed in memory would read back the file's bytes after a
    # madvise: such memory is never touched.
    p = tmp_path / "ones.bin"
    p.write_bytes(b"\x01" * (1 << 22))
    m = np.memmap(p, dtype=np.uint8, mode="c")
    m[:] = 0
    assert release_zero_pages(m) == 0
    assert not m.any()
    b = bytearray(1 << 22)
    assert release_zero_pages(np.frombuffer(b, np.uint8)) == 0


@linux
def test_machine_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C machine's columns (a capsule owns their malloc'd buffer) are released too; the
    rebuild gives back their zero pages before building the table, and its results are those
    of a rebuild that does not."""
    import fgraph
    import fgraph.reconstruct.window as window
    from fgraph import _malloc
    from fgraph._ext import pages

    path = corpus_file("vm61/system.dat")
    assert not pages.machine_buffer(object())
    assert not pages.machine_buffer(np.zeros(3))
    seen: list[bool] = []
    build = window.build_table

    def spy(attrs: dict, raw: dict, *a: object, **k: object) -> object:
        seen.append(all(_malloc._private_anonymous(v) for v in raw.values()))
        return build(attrs, raw, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(window, "build_table", spy)
    monkeypatch.setattr(_malloc, "_ZERO_PAGES_MIN", 0)  # (a small trace's columns too)
    got = fgraph.load_windowed(path, window_records=4096)
    assert seen == [True]
    monkeypatch.setattr(window, "release_zero_pages", lambda *a: 0)
    want = fgraph.load_windowed(path, window_records=4096)
    for name, col in want.call_table.columns.items():
        np.testing.assert_array_equal(got.call_table[name], col, err_msg=name)
    assert got.quality == want.quality


def test_small_pages_turns_numpy_huge_page_advice_off() -> None:
    """The CLI's small_pages: numpy stops advising huge pages (and says it was asked)."""
    from numpy._core import multiarray

    from fgraph._malloc import small_pages

    advise = multiarray._set_madvise_hugepage  # type: ignore[attr-defined]
    before = advise(True)
    try:
        small_pages()
        assert advise(False) is False  # (returns the setting it replaces)
    finally:
        advise(before)


def test_libc_is_loaded_once() -> None:
    from fgraph import _malloc

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")
    assert _malloc._libc() is _malloc._libc()


def test_many_zero_runs_given_back_in_batches() -> None:
    """Thousands of zero runs (more than one batch of process_madvise ranges): each given back
    (the bytes counted), every value unchanged."""
    from fgraph._ext import pages

    a = np.ones(3000 * 1024, np.int64)
    blocks = a.reshape(-1, 1024)  # (8 KiB blocks: each holds a whole page whatever the offset)
    blocks[::2] = 0
    want = a.copy()
    got = pages.release_zero_pages(a)
    # (nothing resident left to give back: before a read maps the zero page there again)
    again = pages.release_zero_pages(a)
    assert np.array_equal(a, want)
    if sys.platform.startswith("linux"):
        assert got >= 1500 * 4096  # (a page or more of each zero block)
        assert again == 0


@linux
def test_populate_write_maps_whole_pages_and_changes_nothing() -> None:
    """pages.populate_write (the decompressed store's pages mapped before two threads copy
    into them): the whole pages inside the buffer become resident, bytes already there stay,
    a buffer without a whole page is refused, a read-only one is an error."""
    import mmap

    from fgraph._ext import pages

    m = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE)
    a = np.frombuffer(m, np.uint8)
    a[4096 * 3 + 5] = 9  # one page written before
    before = status_kb("RssAnon") // 4  # (resident anonymous pages)
    ok = pages.populate_write(a[10:])  # (from the second page on: whole pages only)
    if not ok:
        pytest.skip("a kernel without MADV_POPULATE_WRITE (5.14+)")
    assert status_kb("RssAnon") // 4 - before >= (64 << 20) // 4096 - 16
    assert a[4096 * 3 + 5] == 9 and int(a.sum(dtype=np.int64)) == 9
    assert not pages.populate_write(a[:100])  # no whole page inside
    with pytest.raises(TypeError):
        pages.populate_write(b"read-only")
