"""Edge cases of the windowed trace.dat read (issue 7): ``fgraph.load_windowed(path, W)`` gives
the calls, quality report, warnings and lost-event rows of ``fgraph.load(path)`` for tiny
windows, damaged or flagged pages at window edges, CPUs with no or one page, compressed and
piped inputs, an error in the decode thread, and the CLI commands that read window by window.

The damaged files are a real v6 capture with bytes changed in place (v6: the CPU data is
plain pages, ``struct buffer_data_page`` of kernel/trace/ring_buffer.c: an 8-byte timestamp,
then ``commit`` (a kernel long) whose top bits are RB_MISSED_EVENTS (1 << 31) and
RB_MISSED_STORED (1 << 30)).
"""

from __future__ import annotations

import gzip
import io
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import corpus_file
from test_stream_tracedat import assert_same_calls, whole_with_prefix

from fgraph.errors import TraceParseError
from fgraph.parsers.tracedat.stream import open_stream
from fgraph.pipeline import load, load_windowed
from fgraph.source import open_source

pytestmark = pytest.mark.corpus

V6 = "vm61/btrfs_read.v6.dat"  # 2 CPUs: CPU 0 34 pages, CPU 1 26 pages of 4096 bytes
MISSED_EVENTS = 1 << 31


def assert_same(path: Path | str, window: int, *, prefix: bool = False) -> None:
    """The windowed read is the whole read: calls, quality, warnings, lost-event rows."""
    ref = load(path)
    got = load_windowed(path, window)
    assert_same_calls(ref.call_table, got.call_table)
    assert ref.quality.to_dict() == got.quality.to_dict()
    assert [(w.what, w.where, w.lost) for w in ref.warnings] == [
        (w.what, w.where, w.lost) for w in got.warnings
    ]
    a, b = ref.event_table.lost, got.event_table.lost
    assert len(a) == len(b)
    for col in ("row", "cpu", "count", "ts", "pos", "source"):  # in the same order too
        assert (a[col] == b[col]).all(), col
    fg = np.isin(ref.event_table["kind"], [1, 2])
    assert len(got.event_table) == int((~fg).sum())
    if prefix:  # the rebuild itself fed window by window
        small = load_windowed(path, window, delay_prefix=window)
        wc, wq = whole_with_prefix(path, window)
        assert_same_calls(wc, small.call_table)
        assert wq.to_dict() == small.quality.to_dict()


def _blobs(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of each CPU's data, from the v6 flyrecord table."""
    at = data.index(b"flyrecord\x00") + 10
    return [struct.unpack_from("<QQ", data, at + 16 * cpu) for cpu in range(2)]


def _set_blob(data: bytearray, cpu: int, size: int) -> None:
    at = data.index(b"flyrecord\x00") + 10
    off, _ = struct.unpack_from("<QQ", data, at + 16 * cpu)
    struct.pack_into("<QQ", data, at + 16 * cpu, off, size)


def _commit(data: bytearray, cpu: int, page: int, value: int) -> None:
    off, _ = _blobs(bytes(data))[cpu]
    struct.pack_into("<Q", data, off + page * 4096 + 8, value)


@pytest.fixture(scope="module")
def v6() -> bytes:
    return corpus_file(V6).read_bytes()


def _write(tmp_path: Path, data: bytes | bytearray, name: str = "t.dat") -> Path:
    p = tmp_path / name
    p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize("window", [1, 2, 3, 300])
def test_tiny_windows(window: int) -> None:
    """Windows of 1, 2, 3 records (each page its own window) on a real 2-CPU capture."""
    assert_same(corpus_file("vm61/btrfs_read.dat"), window, prefix=window == 3)


@pytest.mark.parametrize("window", [1, 300, 5000])
def test_damaged_pages_in_several_windows(tmp_path: Path, v6: bytes, window: int) -> None:
    """Two garbled pages of one CPU read in different windows: one warning counting both (as
    the whole read says it), not one per window."""
    data = bytearray(v6)
    for page in (3, 29):
        _commit(data, 0, page, 10**6)  # commit beyond the page: page skipped
    assert_same(_write(tmp_path, data), window)


def test_damaged_pages_then_a_truncated_cpu(tmp_path: Path, v6: bytes) -> None:
    """Warnings keep the whole read's order: CPU 0's damaged pages, then CPU 1's truncation."""
    data = bytearray(v6)
    _commit(data, 0, 20, 10**6)
    off, size = _blobs(bytes(data))[1]
    p = _write(tmp_path, data[: off + size // 2 + 100])
    assert_same(p, 300)
    assert len(load(p).warnings) >= 3  # the container's, CPU 0's, CPU 1's


@pytest.mark.parametrize("window", [1, 300])
def test_unknown_event_ids_in_several_windows(tmp_path: Path, v6: bytes, window: int) -> None:
    """Records whose event id has no format, in different windows: one warning whose count
    is the whole file's."""
    from fgraph.parsers.tracedat.ringbuffer import walk

    st = open_stream(open_source(corpus_file(V6)))
    cur = st.cursors[0]
    w = walk(st.mem_obj, cur.blob, cur.page_size, st.data_start, st.long_size, False)
    data = bytearray(v6)
    for i in (100, len(w["data"]) - 50, len(w["data"]) - 49):
        struct.pack_into("<H", data, int(w["data"][i]), 9999)  # common_type
    p = _write(tmp_path, data)
    assert_same(p, window)
    assert any(x.what.startswith("3 record(s)") for x in load_windowed(p, window).warnings)


@pytest.mark.parametrize("window", [1, 2, 3, 50])
def test_lost_flags_on_empty_pages_at_window_edges(tmp_path: Path, v6: bytes, window: int) -> None:
    """Flagged pages without records (first page, a run in the middle, the last page) travel
    with the CPU's next record, whichever window that falls in."""
    data = bytearray(v6)
    for page in (0, 10, 11, 12, 33):
        _commit(data, 0, page, MISSED_EVENTS)
    _commit(data, 1, 25, MISSED_EVENTS)  # the last page of CPU 1
    p = _write(tmp_path, data)
    assert len(load(p).event_table.lost) >= 6
    assert_same(p, window)


@pytest.mark.parametrize("window", [1, 3, 300])
def test_lost_flags_with_records_at_window_edges(tmp_path: Path, v6: bytes, window: int) -> None:
    """Flagged pages that keep their records, on every page of CPU 1 and some of CPU 0."""
    data = bytearray(v6)
    offs = _blobs(bytes(data))
    for cpu, pages in ((0, (0, 1, 16, 33)), (1, range(26))):
        for page in pages:
            at = offs[cpu][0] + page * 4096 + 8
            (c,) = struct.unpack_from("<Q", data, at)
            struct.pack_into("<Q", data, at, c | MISSED_EVENTS)
    assert_same(_write(tmp_path, data), window)


@pytest.mark.parametrize("size", [0, 4096, 100])
@pytest.mark.parametrize("window", [1, 300])
def test_a_cpu_with_no_data_or_one_page(tmp_path: Path, v6: bytes, size: int, window: int) -> None:
    """CPU 1 empty (all records on one CPU), one page, or a piece of a page."""
    data = bytearray(v6)
    _set_blob(data, 1, size)
    assert_same(_write(tmp_path, data), window)


def test_v7_zstd_with_flagged_and_damaged_pages(tmp_path: Path, v6: bytes) -> None:
    """The same damage in a v7 zstd file (written by trace-cmd convert): the rows' positions
    are compressed chunks' offsets."""
    import subprocess

    from conftest import tracecmd

    data = bytearray(v6)
    offs = _blobs(v6)
    for cpu, pages in ((0, (0, 1, 10, 11, 16, 33)), (1, (0, 5, 25))):
        for page in pages:
            at = offs[cpu][0] + page * 4096 + 8
            (c,) = struct.unpack_from("<Q", data, at)
            # odd pages keep their records, even ones are emptied
            struct.pack_into("<Q", data, at, (c | MISSED_EVENTS) if page % 2 else MISSED_EVENTS)
    _commit(data, 0, 20, 10**6)
    src = _write(tmp_path, data)
    dst = tmp_path / "z.dat"
    subprocess.run(
        [
            tracecmd(),
            "convert",
            "-i",
            str(src),
            "-o",
            str(dst),
            "--file-version",
            "7",
            "--compression",
            "zstd",
        ],
        check=True,
        capture_output=True,
    )
    for window in (1, 300):
        assert_same(src, window)
        assert_same(dst, window)


@pytest.mark.parametrize("flag", [0, MISSED_EVENTS])
def test_a_cpu_whose_pages_are_all_empty(tmp_path: Path, v6: bytes, flag: int) -> None:
    """CPU 1 has pages but no records (with a lost-event flag on each: gaps at its end)."""
    data = bytearray(v6)
    for page in range(26):
        _commit(data, 1, page, flag)
    assert_same(_write(tmp_path, data), 2)


def test_smp4_instances_small_windows() -> None:
    """4 CPUs and buffer instances, windows of a few records."""
    assert_same(corpus_file("vm61/smp4_instances.dat"), 7)


def test_gzip_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = corpus_file("vm61/lost.dat").read_bytes()
    gz = _write(tmp_path, gzip.compress(raw, 1), "lost.dat.gz")
    assert_same(gz, 50)
    ref = load(corpus_file("vm61/lost.dat"))
    for data in (raw, gzip.compress(raw, 1)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        got = load_windowed("-", 50)
        assert_same_calls(ref.call_table, got.call_table)
        qr, qg = ref.quality.to_dict(), got.quality.to_dict()
        assert qg.pop("path") == "<stdin>"
        qr.pop("path")
        assert qr == qg


def _failing_decode(
    monkeypatch: pytest.MonkeyPatch, exc: Exception, at: int = 3, then: Any = None
) -> None:
    """The stream's decode raises ``exc`` in window ``at`` (read by the decode thread)."""
    from fgraph.parsers.tracedat import stream

    real = stream._decode
    calls = [0]

    def decode(*a, **k):
        calls[0] += 1
        if calls[0] == at:
            if then is not None:
                then.set()
            raise exc
        return real(*a, **k)

    monkeypatch.setattr(stream, "_decode", decode)


def test_an_error_in_the_decode_thread_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    path = corpus_file("vm61/btrfs_read.dat")
    _failing_decode(monkeypatch, IndexError("index 7 is out of bounds"))
    with pytest.raises(TraceParseError, match=r"IndexError: index 7") as ei:
        load_windowed(path, 300)
    assert str(path) in str(ei.value)
    err = TraceParseError("bad record", path="x.dat")
    _failing_decode(monkeypatch, err)
    with pytest.raises(TraceParseError) as ei:
        load_windowed(path, 300)
    assert ei.value is err  # the same error object, not a wrapper


def test_an_error_in_the_decode_thread_is_one_cli_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_robustness_cli import fgraph

    from fgraph.cli import _progress

    path = str(corpus_file("vm61/btrfs_read.dat"))
    monkeypatch.setattr(
        _progress,
        "load_calls",
        lambda p, columns=None, trees_of=None: load_windowed(p, 300, columns=columns),
    )
    _failing_decode(monkeypatch, IndexError("index 7 is out of bounds"))
    r = fgraph("stats", path)
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("fgraph: "), r.stderr
    assert "IndexError" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["stats", "--json"],
        ["calls", "--format", "csv"],
        ["export", "--to", "perfetto", "-o", "-"],
        ["export", "--to", "folded", "-o", "-"],
        ["hist"],
        ["hist", "--func", "handle_mm_fault"],
        ["slowest", "--func", "handle_mm_fault", "-n", "3"],
    ],
)
def test_cli_windowed_output_is_the_whole_output(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """The commands that read window by window print what they print from the whole read."""
    from test_robustness_cli import fgraph

    from fgraph.cli import _progress
    from fgraph.reconstruct import window

    path = str(corpus_file("vm61/lost.dat"))
    full = args[:1] + [path] + args[1:]
    monkeypatch.setattr(_progress, "load_calls", lambda p, columns=None, trees_of=None: load(p))
    whole = fgraph(*full)
    # (hist --func: only X's trees, pruned after every machine feed of 40 records)
    monkeypatch.setattr(window, "PRUNE_MIN", 1)
    monkeypatch.setattr(
        _progress,
        "load_calls",
        lambda p, columns=None, trees_of=None: load_windowed(
            p, 40, columns=columns, trees_of=trees_of
        ),
    )
    windowed = fgraph(*full)
    assert whole.returncode == 0, whole.stderr
    assert (windowed.returncode, windowed.stdout, windowed.stderr) == (
        0,
        whole.stdout,
        whole.stderr,
    )
    assert len(whole.stdout) > 100


def test_cli_parquet_export_is_the_whole_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq
    from test_robustness_cli import fgraph

    from fgraph.cli import _progress

    path = str(corpus_file("vm61/lost.dat"))
    out = {}
    for name, fn in (
        ("whole", lambda p, columns=None, trees_of=None: load(p)),
        ("win", lambda p, columns=None, trees_of=None: load_windowed(p, 40, columns=columns)),
    ):
        monkeypatch.setattr(_progress, "load_calls", fn)
        dest = tmp_path / f"{name}.parquet"
        r = fgraph("export", path, "--to", "parquet", "-o", str(dest))
        assert r.returncode == 0, r.stderr
        out[name] = pq.read_table(dest)
    a, b = out["whole"], out["win"]
    assert a.schema.equals(b.schema, check_metadata=True)
    for name in a.column_names:  # dictionary columns: each pool's order; the names agree
        assert a[name].to_pylist() == b[name].to_pylist(), name


@pytest.mark.parametrize("offset", [-(10**9 + 10**7), -(10**9 + 2**30 + 10**6)])
def test_a_negative_offset_option(tmp_path: Path, offset: int) -> None:
    """An OFFSET option that puts the first records before 0 (times the rebuild takes as no
    times, kept in reader order): the windowed read is then one window, as for times past
    2^63 ns."""
    from test_tracedat_synth import LAYOUTS, build

    data, _, _ = build(LAYOUTS["le32"], offset_ns=offset)
    p = _write(tmp_path, data)
    assert (load(p).event_table["ts"] < 0).any()
    for window in (1, 3):
        assert_same(p, window)


def test_decode_warnings_keep_the_whole_reads_order(tmp_path: Path, v6: bytes) -> None:
    """No kallsyms and an unknown event id on the earliest record: with windows of one record
    the first window has no funcgraph record (no kallsyms warning yet), but the warnings keep
    the whole read's order."""
    from fgraph.parsers.tracedat.header import read_container
    from fgraph.parsers.tracedat.ringbuffer import walk

    ks = read_container(v6, V6).kallsyms.encode()
    data = bytearray(v6)
    at = v6.index(ks[:200])
    data[at : at + len(ks)] = b"\n" * len(ks)
    st = open_stream(open_source(corpus_file(V6)))
    cur = min(st.cursors, key=lambda c: int(c.page_ts[0]))
    w = walk(st.mem_obj, cur.blob, cur.page_size, st.data_start, st.long_size, False)
    struct.pack_into("<H", data, int(w["data"][0]), 9999)
    p = _write(tmp_path, data)
    assert len(load(p).warnings) == 2
    assert_same(p, 1)


def test_the_decode_thread_ends_when_the_rebuild_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rebuild raises while the decode thread is about to report its own error: once the
    caller drops the error, the thread ends (it held the file and the stream's memory)."""
    import gc
    import threading

    from fgraph.reconstruct import WindowedRebuild

    failed = threading.Event()

    def feed(self, *a, **k):
        failed.wait(10)  # the thread has decoded window 2 (queued) and fails on window 3
        raise TraceParseError("rebuild failed", path="x")

    before = set(threading.enumerate())
    monkeypatch.setattr(WindowedRebuild, "feed", feed)
    _failing_decode(monkeypatch, IndexError("decode failed"), at=3, then=failed)
    with pytest.raises(TraceParseError, match="rebuild failed"):
        load_windowed(corpus_file("vm61/btrfs_read.dat"), 300)
    gc.collect()
    for t in set(threading.enumerate()) - before:
        if t.name == "fgraph-decode":
            t.join(10)
            assert not t.is_alive()


@pytest.mark.parametrize("jump", [10**10, -(10**10)])
def test_one_garbled_page_stamp(tmp_path: Path, v6: bytes, jump: int) -> None:
    """One page stamp of CPU 0 far ahead of (or behind) its neighbours: the whole read drops
    that page, and the windowed read must not put CPU 0's later pages out of order."""
    data = bytearray(v6)
    off, _ = _blobs(v6)[0]
    (ts,) = struct.unpack_from("<Q", data, off + 21 * 4096)
    struct.pack_into("<Q", data, off + 21 * 4096, ts + jump)
    p = _write(tmp_path, data)
    assert any("out of order" in w.what for w in load(p).warnings)
    for window in (1, 50, 3000):
        assert_same(p, window)
