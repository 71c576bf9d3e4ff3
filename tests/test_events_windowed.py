"""``fgraph events`` writes a trace.dat a window at a time (``pipeline.EventWindows`` +
``tables.write_windows``): csv, jsonl and Parquet must hold what the whole table gives
(``write(read_events(f), fmt, order=event_time_order)``); a text table the same rows, its
columns widened where a later window needs it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import corpus_file

import fgraph
import fgraph.pipeline as pipeline
from fgraph.cli import cli
from fgraph.export.tables import event_time_order, write, write_windows
from fgraph.pipeline import EventWindows, read_events
from fgraph.table import EventTable, StringPool

FILES = [
    "vm61/btrfs_read.dat",
    "vm61/lost.dat",  # lost-event gaps
    "vm61/smp4_instances.dat",  # buffer instances
    "vm61/system.dat",
    "vm61/btrfs_read.txt",  # text: one window
]


def _whole(path, fmt):
    t = read_events(path)
    out = io.BytesIO()
    write(t, fmt, out, order=event_time_order(t))
    return out.getvalue()


def _windows(path, fmt):
    out = io.BytesIO()
    w = EventWindows(path)
    n = write_windows(w, fmt, out)
    return out.getvalue(), n, w.meta


@pytest.mark.corpus
@pytest.mark.parametrize("rel", FILES)
def test_windows_write_what_the_whole_table_writes(monkeypatch, rel):
    path = corpus_file(rel)
    monkeypatch.setattr(pipeline, "WINDOW_RECORDS", 1024)  # many windows
    whole = read_events(path)
    for fmt in ("csv", "jsonl"):
        got, n, meta = _windows(path, fmt)
        assert got == _whole(path, fmt), fmt
        assert n == len(whole)
        assert [str(w) for w in meta.warnings] == [str(w) for w in whole.meta.warnings]
    import pyarrow as pa
    import pyarrow.parquet as pq

    got = pq.read_table(pa.BufferReader(_windows(path, "parquet")[0]))
    want = pq.read_table(pa.BufferReader(_whole(path, "parquet")))
    assert got.schema == want.schema
    for name in want.column_names:  # (each window has its own string dictionary)
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name
    text, _, _ = _windows(path, "table")
    want_text = _whole(path, "table")
    squeeze = [b" ".join(line.split()) for line in want_text.splitlines()]
    assert [b" ".join(line.split()) for line in text.splitlines()] == squeeze


def _table(comm: str, n: int) -> EventTable:
    return EventTable.from_rows(
        [
            {"ts": 1000 + i, "cpu": 0, "pid": 7, "comm": comm, "event": "funcgraph_entry"}
            for i in range(n)
        ],
        strings=StringPool(),
    )


def test_text_table_widens_from_the_window_that_needs_it():
    out = io.BytesIO()
    write_windows([_table("sh", 2), _table("a_much_longer_comm", 1)], "table", out)
    lines = out.getvalue().decode().splitlines()
    assert len(lines) == 4 and lines[0].split()[:4] == ["ts", "cpu", "pid", "comm"]
    assert lines[1].index("funcgraph_entry") == lines[2].index("funcgraph_entry")
    assert lines[3].index("funcgraph_entry") > lines[1].index("funcgraph_entry")
    assert "a_much_longer_comm" in lines[3]


def test_no_window_writes_an_empty_output():
    for fmt in ("csv", "table"):
        out = io.BytesIO()
        assert write_windows([], fmt, out) == 0
        assert out.getvalue().startswith(b"ts") or out.getvalue().startswith(b'"ts"')


def test_unreadable_input_leaves_no_output_file(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"\x17\x08\x44tracing6\x00" + b"\x00" * 40)
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(cli, ["events", str(bad), "--format", "csv", "-o", str(out)])
    assert r.exit_code == 2
    assert not out.exists()


@pytest.mark.corpus
def test_events_cli_on_stdin_same_as_file():
    path = corpus_file("vm61/btrfs_read.dat")
    a = CliRunner().invoke(cli, ["events", str(path), "--format", "csv"])
    b = CliRunner().invoke(cli, ["events", "-", "--format", "csv"], input=path.read_bytes())
    assert a.exit_code == b.exit_code == 0
    assert a.stdout_bytes == b.stdout_bytes
    assert np.sum([1 for _ in a.stdout_bytes.splitlines()]) == len(read_events(path)) + 1


@pytest.mark.corpus
@pytest.mark.parametrize("what", ["events", "calls"])
def test_display_in_parts_writes_what_one_part_writes(monkeypatch, what):
    """``write`` makes the display columns DISPLAY_ROWS rows at a time (a text table in two
    passes, widths first): the output is the one a single part gives."""
    import fgraph.export.tables as tables

    t = read_events(corpus_file("vm61/btrfs_read.dat"))
    table = t if what == "events" else fgraph.load(corpus_file("vm61/btrfs_read.dat")).call_table
    order = event_time_order(t) if what == "events" else None
    outs = {}
    for rows in (1 << 30, 997):
        monkeypatch.setattr(tables, "DISPLAY_ROWS", rows)
        for fmt in ("table", "csv", "jsonl"):
            out = io.BytesIO()
            write(table, fmt, out, order=order)
            outs[rows, fmt] = out.getvalue()
    for fmt in ("table", "csv", "jsonl"):
        assert outs[997, fmt] == outs[1 << 30, fmt], fmt
        assert outs[997, fmt].count(b"\n") >= len(table)
