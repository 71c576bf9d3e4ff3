"""``fgraph hist`` builds only the call columns it reads (``load_windowed(columns=...)``).

The projection must never change an answer: every hist option on real traces prints the same
with the whole call table and with only :data:`fgraph.analysis.hist.COLUMNS`; a column left
out fails loudly when read, never silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import corpus_file
from test_robustness_cli import fgraph

from fgraph.analysis.calls import concat_calls
from fgraph.analysis.hist import COLUMNS
from fgraph.pipeline import load_windowed
from fgraph.schema import CALL_COLUMNS
from fgraph.table import CallTable, ColumnNotLoaded

OPTIONS = [
    ["--func", "{f}"],
    ["--func", "{f}", "--json"],
    ["--func", "{f}", "--depth", "3", "--threshold", "p90"],
    ["--func", "{f}", "--all", "--threshold", "10us"],
    ["--func", "{f}", "--by", "path", "--depth", "2"],
    ["--func", "{f}", "--compare", "fast", "--threshold", "p50"],
    ["--func", "{f}", "--pid", "1", "--since", "0"],
    ["--func", "{f}", "--cpu", "0", "--comm", "fsync_test"],
    [],
    ["--json", "--top", "5"],
]

TRACES = [
    ("vm61/fsync.dat", "vfs_fsync_range"),
    ("vm61/lost.dat", "handle_mm_fault"),
    ("vm61/btrfs_read.txt", "vfs_read"),
]


def _printed(
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    path: str,
    func: str,
    options: list[list[str]],
    columns: frozenset[str],
) -> dict[str, list[Any]]:
    """What ``fgraph COMMAND path OPTIONS`` prints, per option, from the whole call table and
    from one built with only ``columns`` (the command must ask for exactly those)."""
    from fgraph.cli import _progress

    got: dict[str, list[Any]] = {}
    for name, cols in (("whole", None), ("projected", columns)):

        def load(p: str, asked: Any = None, trees: Any = None, _cols: Any = cols) -> Any:
            # the command asks for its columns (and hist --func for X's trees); "whole"
            # ignores the requests
            assert asked == columns
            trees = trees if _cols is not None else None
            return load_windowed(p, 5000, columns=_cols, trees_of=trees)

        monkeypatch.setattr(_progress, "load_calls", load)
        got[name] = []
        for opts in options:
            args = [a.format(f=func) for a in opts]
            r = fgraph(command, path, *args)
            got[name].append((args, r.returncode, r.stdout, r.stderr))
    return got


@pytest.mark.parametrize("rel,func", TRACES)
def test_hist_prints_the_same_from_the_projected_table(
    monkeypatch: pytest.MonkeyPatch, rel: str, func: str
) -> None:
    got = _printed(monkeypatch, "hist", str(corpus_file(rel)), func, OPTIONS, COLUMNS)
    assert got["projected"] == got["whole"]
    assert any(len(out) > 200 and code == 0 for _, code, out, _ in got["whole"])


def test_several_inputs_with_projected_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    a = str(corpus_file("vm61/fsync.dat"))
    b = str(corpus_file("vm61/lost.dat"))
    r = fgraph("hist", a, b, "--func", "vfs_write", "--json")
    assert r.returncode == 0, r.stderr
    assert '"traces"' in r.stdout


def test_projected_table_and_quality() -> None:
    path = str(corpus_file("vm61/lost.dat"))
    whole = load_windowed(path, 3000)
    proj = load_windowed(path, 3000, columns=COLUMNS)
    assert whole.stats == proj.stats  # the quality report counts what it counted before
    w, p = whole.call_table, proj.call_table
    assert set(p.columns) == set(COLUMNS)
    assert p.omitted == {c.name for c in CALL_COLUMNS} - COLUMNS
    for name in COLUMNS:
        assert np.array_equal(w[name], p[name]), name
    p.validate()


def test_a_left_out_column_fails_loudly() -> None:
    path = str(corpus_file("vm61/btrfs_read.dat"))
    calls = load_windowed(path, columns=frozenset({"func", "duration"})).call_table
    with pytest.raises(ColumnNotLoaded, match="'module' was not loaded"):
        calls["module"]
    with pytest.raises(KeyError):  # (a KeyError, as for any missing column)
        calls["retval"]
    with pytest.raises(ColumnNotLoaded):
        calls.to_arrow()
    sub = calls.take(np.arange(3))
    assert sub.omitted == calls.omitted and len(sub) == 3
    with pytest.raises(ColumnNotLoaded):
        sub["entry_row"]


def test_concat_keeps_the_columns_all_inputs_have() -> None:
    full = CallTable.from_rows([{"func": "a", "duration": 5, "parent_id": -1}])
    part = CallTable(
        {k: v for k, v in full.columns.items() if k not in ("module", "retval")},
        full.strings,
        omit={"module", "retval"},
    )
    both = concat_calls([full, part])
    assert len(both) == 2 and both.omitted == {"module", "retval"}
    assert list(both["trace"]) == [0, 1]
    assert list(both["duration"]) == [5, 5]


def test_rows_of_is_flatnonzero() -> None:
    """hist's chunked row search is np.flatnonzero(col == value), across chunk edges."""
    from fgraph.analysis.hist import _rows_of

    col = np.random.default_rng(1).integers(0, 5, 1000).astype(np.int32)
    for step in (1, 7, 256, 1000, 4096):
        got = _rows_of(col, 3, step)
        assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero(col == 3))
    assert len(_rows_of(col[:0], 3)) == 0 and len(_rows_of(col, 9)) == 0


SLOWEST_OPTIONS = [
    ["--func", "{f}"],
    ["--func", "{f}", "--json"],
    ["--func", "{f}", "--min", "0", "-n", "2"],
    ["--func", "{f}", "--depth", "2", "-n", "3"],
    ["--func", "{f}", "--cpu", "0", "--pid", "1", "--since", "0"],
]


@pytest.mark.parametrize("rel,func", TRACES)
def test_slowest_prints_the_same_from_the_projected_table(
    monkeypatch: pytest.MonkeyPatch, rel: str, func: str
) -> None:
    """``fgraph slowest`` builds only :data:`fgraph.analysis.slowest.COLUMNS` (89 MB trace.dat:
    219 -> 155 MB peak RSS): every option prints what the whole call table prints."""
    from fgraph.analysis.slowest import COLUMNS as SLOWEST

    path = str(corpus_file(rel))
    got = _printed(monkeypatch, "slowest", path, func, SLOWEST_OPTIONS, SLOWEST)
    assert got["projected"] == got["whole"]
    assert all(code == 0 for _, code, _, _ in got["whole"][:4])
