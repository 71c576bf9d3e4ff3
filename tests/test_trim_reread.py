"""``fgraph trim`` reads a trace twice instead of holding every record: once window by window
for the calls (``load_windowed(columns=trim.COLUMNS, final_rows=False)``), once for the records
of the calls it keeps (``pipeline.reread_rows``).  Its output must be the one the whole trace
gives (``trim.select`` + ``write_selection`` on ``fgraph.load``), byte for byte."""

from __future__ import annotations

import io
from functools import partial

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import corpus_file

import fgraph
from fgraph.cli import cli
from fgraph.errors import UsageError
from fgraph.export.trim import COLUMNS, select, select_reread, write_reread, write_selection
from fgraph.pipeline import load_windowed, reread_rows
from fgraph.schema import EventKind
from fgraph.source import open_source


def _whole(path, func, thr):
    t = fgraph.load(path)
    out = io.StringIO()
    write_selection(t, select(t, func, thr), out)
    return out.getvalue()


def _twice(path, func, thr, window_records=None):
    src = open_source(path)
    t = load_windowed(src, window_records, columns=COLUMNS, final_rows=False)
    r = select_reread(t, func, thr, partial(reread_rows, src))
    out = io.StringIO()
    write_reread(r, out)
    return out.getvalue()


CASES = [
    ("vm61/btrfs_read.dat", "vfs_read", None),
    ("vm61/btrfs_read.v6.dat", "vfs_read", 50_000),
    ("vm61/fsync.dat", "vfs_fsync_range", None),
    ("vm61/lost.dat", "x64_sys_call", None),  # lost-event gaps inside kept calls
    ("vm61/system.dat", "schedule", 100_000),  # wrapped buffer: rebuilt entries, truncated
    ("vm61/smp4_instances.dat", "vfs_read", None),  # buffer instances
    ("vm61/btrfs_read.abstime_proc_tail.txt", "vfs_read", None),
    ("vm61/lost_pipe.txt.zst", "vfs_read", None),  # text gaps
    ("vm61/thresh.dat", "do_idle", None),  # tracing_thresh: every entry rebuilt
]


@pytest.mark.corpus
@pytest.mark.parametrize("rel,func,thr", CASES)
def test_read_twice_writes_what_the_whole_trace_writes(rel, func, thr):
    path = corpus_file(rel)
    want = _whole(path, func, thr)
    assert want.count("\n") > 20
    assert _twice(path, func, thr) == want
    if rel.endswith(".dat"):  # windows cutting through calls, across CPUs and gaps
        assert _twice(path, func, thr, window_records=4096) == want


@pytest.mark.corpus
@pytest.mark.parametrize("rel", ["vm61/btrfs_read.txt", "vm61/fsync.txt.zst"])
def test_text_read_in_pieces_writes_the_same(monkeypatch, rel):
    path = corpus_file(rel)
    func = "vfs_read" if "btrfs" in rel else "vfs_fsync_range"
    want = _whole(path, func, None)
    monkeypatch.setenv("FGRAPH_TEXT_PIECE", "200000")  # both reads in pieces
    assert _twice(path, func, None) == want


@pytest.mark.corpus
def test_reread_rows_gives_the_records_named_in_timeline_order():
    path = corpus_file("vm61/btrfs_read.dat")
    src = open_source(path)
    t = load_windowed(src, 4096, columns=COLUMNS, final_rows=False)
    c = t.call_table
    pick = np.flatnonzero(c["entry_row"] >= 0)[::7]
    ev, ids = reread_rows(src, c["entry_row"][pick])
    fg = ev["kind"] == EventKind.FG_ENTRY
    # every named record, once, and no other funcgraph record
    assert sorted(ids[fg].tolist()) == sorted(c["entry_row"][pick].tolist())
    at = {int(i): k for k, i in enumerate(ids)}
    rows = np.array([at[int(i)] for i in c["entry_row"][pick]])
    assert (ev["ts"][rows] == c["ts_entry"][pick]).all()
    assert (ev["pid"][rows] == c["pid"][pick]).all()
    # beside every record that is not a function_graph one, as the first read kept them
    assert (~fg).sum() == len(t.event_table)
    assert (np.diff(ev["ts"]) >= 0).all()  # timeline order
    assert len(ev.lost) == 0


@pytest.mark.corpus
def test_cli_trim_from_stdin_and_from_a_file_agree(tmp_path):
    path = corpus_file("vm61/btrfs_read.dat")
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    r = CliRunner().invoke(cli, ["trim", str(path), "--func", "vfs_read", "-o", str(a)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        cli, ["trim", "-", "--func", "vfs_read", "-o", str(b)], input=path.read_bytes()
    )
    assert r.exit_code == 0, r.output
    assert a.read_text() == b.read_text() == _whole(path, "vfs_read", None)


@pytest.mark.corpus
def test_no_call_long_enough_is_a_usage_error():
    src = open_source(corpus_file("vm61/btrfs_read.dat"))
    t = load_windowed(src, columns=COLUMNS, final_rows=False)
    with pytest.raises(UsageError, match="at least as long"):
        select_reread(t, "vfs_read", 10**15, partial(reread_rows, src))
    with pytest.raises(UsageError, match="does not appear"):
        select_reread(t, "no_such_function", None, partial(reread_rows, src))
