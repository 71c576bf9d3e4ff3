"""Line → row expansion of the text readers (fgraph/_ext/textscan.c ``expand``): the C loop
gives what the numpy version gives, for every line kind and every optional column, on one
thread or two; and a text run never imports pandas (pyarrow would load it on the first
numpy/Python conversion, about 0.2 s of every run) nor pyarrow.compute (30-50 ms)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fgraph.parsers import _textlines as tl
from fgraph.parsers import parse
from fgraph.source import open_source
from fgraph.table import EventTable

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_c = pytest.mark.skipif(tl._tsc is None, reason="textscan not built")


def _lines(n: int, seed: int, optional: bool) -> dict[str, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    d: dict[str, np.ndarray | None] = {
        "kind": rng.integers(0, 12, n).astype(np.int8),
        "ts": rng.choice([-1, 0, 5, 10**12], n).astype(np.int64),
        "cpu": rng.integers(-1, 4, n).astype(np.int16),
        "pid": rng.integers(-1, 1000, n).astype(np.int32),
        "comm": rng.integers(-1, 9, n).astype(np.int32),
        "flags": rng.integers(-1, 300, n).astype(np.int16),
        "preempt": rng.integers(-1, 40, n).astype(np.int16),
        "irqctx": rng.integers(-1, 4, n).astype(np.int8),
        "depth": rng.integers(-1, 30, n).astype(np.int32),
        "dur": rng.choice([-1, 0, 1042, 7 * 10**9], n).astype(np.int64),
        "func": rng.integers(-1, 50, n).astype(np.int32),
        "module": rng.integers(-1, 5, n).astype(np.int32),
        "has_tail": rng.random(n) < 0.3,
        "overrun": None,
        "retval": None,
        "retok": None,
    }
    if optional:
        d["overrun"] = rng.integers(-1, 3, n).astype(np.int64)
        d["retval"] = rng.integers(-(2**62), 2**62, n).astype(np.int64)
        d["retok"] = rng.random(n) < 0.5
    return d


@needs_c
@pytest.mark.parametrize("optional", [False, True])
@pytest.mark.parametrize("split", [False, True])
def test_c_expansion_equals_numpy(
    optional: bool, split: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_line = _lines(5000, 7 + optional, optional)
    codes = (11, 12, 13, 14)
    monkeypatch.setattr(tl, "EXPAND_SPLIT_LINES", 1000 if split else 1 << 40)
    c_cols = tl.expand_rows(per_line, codes)
    monkeypatch.setattr(tl, "EXPAND_C", False)
    n_cols = tl.expand_rows(per_line, codes)
    assert sorted(c_cols) == sorted(n_cols)
    for k in n_cols:
        assert c_cols[k].dtype == n_cols[k].dtype, k
        assert np.array_equal(c_cols[k], n_cols[k]), k


@needs_c
def test_expansion_of_no_lines() -> None:
    cols = tl.expand_rows(_lines(0, 1, True), (1, 2, 3, 4))
    assert all(len(v) == 0 for v in cols.values())


def _same(a: EventTable, b: EventTable) -> None:
    assert len(a) == len(b)
    for k in a.columns:
        assert np.array_equal(a[k], b[k]), k
    assert list(a.strings) == list(b.strings)
    assert sorted(a.fields) == sorted(b.fields)
    for name, ft in a.fields.items():
        assert np.array_equal(ft.rows, b.fields[name].rows), name
        for c in ft.columns:
            assert np.array_equal(ft.columns[c], b.fields[name].columns[c]), (name, c)
    for k in a.lost.columns:
        assert np.array_equal(a.lost[k], b.lost[k]), k
    assert [w.what for w in a.meta.warnings] == [w.what for w in b.meta.warnings]


@needs_c
@pytest.mark.parametrize(
    "rel",
    [
        "public/FuncGraph/ftrace.txt",  # arrows, overruns
        "public/perf-tools/funcgraph_example.txt",
        "public/Linux-Kernel-Debugging/ping_ftrace_report.txt",  # trace-cmd report
        "vm61/lost_pipe.txt.zst",  # lost events, banners
        "vm61/thresh.txt",
        "vm61/variants/everything.txt.zst",
    ],
)
def test_readers_same_table_either_expansion(rel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"{rel} not in the corpus")
    monkeypatch.setattr(tl, "EXPAND_SPLIT_LINES", 64)
    fast = parse(open_source(path))
    monkeypatch.setattr(tl, "EXPAND_C", False)
    slow = parse(open_source(path))
    _same(fast, slow)


def test_text_run_imports_neither_pandas_nor_pyarrow_compute() -> None:
    path = CORPUS / "vm61" / "btrfs_read.abstime_proc_tail.txt"
    if not path.exists():
        pytest.skip("corpus file missing")
    code = (
        "import sys\n"
        "from fgraph.pipeline import load\n"
        f"t = load({str(path)!r})\n"
        "assert len(t.call_table) > 0\n"
        "print('pandas' in sys.modules, 'pyarrow.compute' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False", out.stderr


def test_every_line_read_by_the_scanner_with_comments() -> None:
    """A capture whose lines all go through the C scanner (no header, no banner), with event
    comments: no line is left for the regexes, the comments still become events."""
    lines = [
        "   39.633602 |   1)     dd-244     |               |  f() {",
        "   39.633603 |   1)     dd-244     |               |    /* sched_waking: comm=a pid=2"
        " prio=120 target_cpu=001 */",
        "   39.633604 |   1)     dd-244     |   1.042 us    |    g();",
        "   39.633605 |   1)     dd-244     |   3.000 us    |  }",
    ] * 5
    et = parse(open_source(("\n".join(lines) + "\n").encode()))
    assert et.meta.options["fast_path_lines"] == len(lines)
    assert et.meta.lines_unparsed == 0
    assert et.events_per_type()["sched_waking"] == 5
    assert et.fields["sched_waking"].columns["pid"].tolist() == [2] * 5
