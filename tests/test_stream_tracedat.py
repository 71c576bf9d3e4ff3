"""A trace.dat read window by window (``fgraph.pipeline.load_windowed``, what ``hist``, ``slowest``
and ``diff`` use) gives the calls, quality report and warnings of the whole-file path, with
window bounds cutting through calls, across CPUs, at lost-event gaps and in damaged data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, corpus_file, tracecmd

from fgraph.pipeline import load, load_windowed, read_events
from fgraph.reconstruct import WindowedRebuild

STRINGS = ("comm", "func", "module")


def assert_same_calls(a, b) -> None:
    assert len(a) == len(b)
    for name in a.columns:
        if name in STRINGS:  # codes follow each pool's order; the names must agree
            assert (a.strings.decode(a[name]) == b.strings.decode(b[name])).all(), name
        else:
            assert (a[name] == b[name]).all(), name


def whole_with_prefix(path, prefix: int):
    ev = read_events(path)
    ncpu = int(max(ev["cpu"].max(initial=-1), ev.lost["cpu"].max(initial=-1))) + 1
    rb = WindowedRebuild(ncpu, ev.meta, ev.strings, delay_prefix=prefix)
    rb.feed(ev, keep_others=False)
    calls, quality, _ = rb.finish()
    return calls, quality


@pytest.mark.parametrize(
    "rel, window",
    [
        ("vm61/lost.dat", 2000),  # 115 gaps from page flags, 2 CPUs
        ("vm61/system.dat", 30_000),  # interrupts, migrations, sched_switch/wakeup, pid reuse
        ("vm61/fsync.dat", 50_000),
        ("vm61/smp4_instances.dat", 5000),  # 4 CPUs and buffer instances
        ("vm61/thresh.dat", 100),  # exits only
        ("vm61/btrfs_read.v6.dat", 700),  # file version 6
        ("vm61/btrfs_read.dat", 1 << 20),  # one window
    ],
)
def test_windowed_read_is_the_whole_read(rel: str, window: int) -> None:
    path = corpus_file(rel)
    ref = load(path)
    got = load_windowed(path, window)
    assert_same_calls(ref.call_table, got.call_table)
    assert ref.quality.to_dict() == got.quality.to_dict()
    assert [(w.what, w.where) for w in ref.warnings] == [(w.what, w.where) for w in got.warnings]
    # only the events that are not funcgraph records stay, with every lost-event row
    fg = np.isin(ref.event_table["kind"], [1, 2])
    assert len(got.event_table) == int((~fg).sum())
    assert len(got.event_table.lost) == len(ref.event_table.lost)
    for col in ("row", "cpu", "count", "ts"):  # each gap points at the same record
        a, b = ref.event_table.lost[col], got.event_table.lost[col]
        assert (np.sort(a) == np.sort(b)).all(), col
    assert got.windowed and not ref.windowed
    # and with the rebuild itself fed window by window (its head kept small)
    small = load_windowed(path, window, delay_prefix=window)
    wc, wq = whole_with_prefix(path, window)
    assert_same_calls(wc, small.call_table)
    assert wq.to_dict() == small.quality.to_dict()


def test_windowed_read_of_zlib_v7() -> None:
    path = FIXTURES / "tracedat_zlib_v7.dat"
    assert_same_calls(load(path).call_table, load_windowed(path, 500).call_table)


@pytest.mark.parametrize("frac", [0.3, 0.7, 0.95])
def test_windowed_read_of_a_truncated_file(tmp_path: Path, frac: float) -> None:
    """A file cut inside its CPU data: the same records are read, the same loss reported."""
    data = corpus_file("vm61/btrfs_read.v6.dat").read_bytes()  # v6: the data comes last
    cut = tmp_path / "cut.dat"
    start = 5_033_984  # the CPU data: CPU 0 then CPU 1 to the end of the file
    cut.write_bytes(data[: start + int((len(data) - start) * frac)])
    ref = load(cut)
    got = load_windowed(cut, 300)
    assert_same_calls(ref.call_table, got.call_table)
    assert ref.quality.to_dict() == got.quality.to_dict()
    assert [w.what for w in ref.warnings] == [w.what for w in got.warnings]


TEXTS = [
    "vm61/btrfs_read.txt",
    "vm61/btrfs_read.latency.txt",
    "vm61/fsync.txt.zst",  # no tails: bare "}" named by depth across the windows
    "vm61/lost_pipe.txt.zst",  # trace_pipe with lost-event lines
    "vm61/smp4.txt.zst",
    "vm61/system.txt.zst",  # interrupts, sched events, migrations
    "vm61/thresh.txt",
    "vm61/variants/everything.txt.zst",
    "vm61/variants/nocpu.txt.zst",
    "vm61/variants/nocontext.txt.zst",
    "public/perf-tools/funcgraph_example.txt",  # several traces, prose between
    "public/Linux-Kernel-Debugging/ping_ftrace_set_event_report.txt",  # trace-cmd report
    "public/FuncGraph/ftrace.txt",
]


@pytest.mark.parametrize("rel", TEXTS)
def test_text_rebuilt_in_windows_is_the_whole_text(
    rel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text is read whole and rebuilt window by window (views of its rows, whose memory is
    given back once the machine has run them): the same calls, quality report, warnings and
    lost-event rows, in the same order, as its whole-table rebuild, whatever the windows' size
    (61 rows: windows cut most calls)."""
    import fgraph.parsers as parsers

    # (the path of a text read whole: not pieces, even when a run forces them on every text)
    monkeypatch.delenv("FGRAPH_TEXT_PIECE", raising=False)
    dropped = []
    drop = parsers._OneWindow.drop_rows

    def counted(self, lo: int, hi: int) -> int:  # type: ignore[no-untyped-def]
        dropped.append(drop(self, lo, hi))
        return dropped[-1]

    monkeypatch.setattr(parsers._OneWindow, "drop_rows", counted)
    path = corpus_file(rel)
    ref = load(path)
    fg = np.isin(ref.event_table["kind"], [1, 2])
    if len(ref.event_table) > 100_000:  # (pages given back, then never read: else a change)
        assert_same_calls(ref.call_table, load_windowed(path, 4099, delay_prefix=4099).call_table)
        assert sum(dropped) > 20 * len(ref.event_table)
    for window in (61, 4099, 1 << 18):
        got = load_windowed(path, window)
        assert_same_calls(ref.call_table, got.call_table)
        assert ref.quality.to_dict() == got.quality.to_dict()
        assert [(w.what, w.where) for w in ref.warnings] == [
            (w.what, w.where) for w in got.warnings
        ]
        assert len(got.event_table) == int((~fg).sum())
        rl, gl = ref.event_table.lost, got.event_table.lost
        assert len(rl) == len(gl)
        for col in rl.columns:
            assert (rl[col] == gl[col]).all(), col


def read_text(path: Path) -> bytes:
    from fgraph.source import open_source

    return bytes(open_source(path).data)


# kernel texts read whole again when cut into pieces of 3 kB: their first bare "}" comes after
# the first piece (whose entries were not kept for it); every other text is read in pieces to
# the end, rows before a CPU's first banner included (the pieces are held until it comes)
RESTARTS_SMALL_PIECES = {"vm61/btrfs_read.txt", "vm61/btrfs_read.latency.txt"}


def count_pieces(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """(restarts, pieces): the piece size of each text read that started again whole, and the
    rows of each piece handed on (parsers.text_windows.TextWindows.windows, counted)."""
    import fgraph.parsers.text_windows as tw

    restarts: list[int] = []
    pieces: list[int] = []
    windows = tw.TextWindows.windows

    def counted(self, rows=None):  # type: ignore[no-untyped-def]
        try:
            for w in windows(self, rows):
                pieces.append(len(w[0]))
                yield w
        except tw.TextRestart:
            restarts.append(self.piece_bytes)
            raise

    monkeypatch.setattr(tw.TextWindows, "windows", counted)
    return restarts, pieces


# what a text read in pieces must say as the whole text does
TEXT_META = (
    "format",
    "lines_total",
    "lines_unparsed",
    "unparsed_examples",
    "ts_known",
    "ts_resolution_ns",
    "ncpus",
    "buffers",
    "detail",
    "duration_resolution_ns",
    "options",
)


def assert_same_text_read(ref, got) -> None:  # type: ignore[no-untyped-def]
    """A text read in pieces (``got``) and read whole (``ref``): the same calls, quality
    report, warnings, meta and lost-event rows."""
    assert_same_calls(ref.call_table, got.call_table)
    assert ref.quality.to_dict() == got.quality.to_dict()
    assert [(w.what, w.where, w.lost) for w in ref.warnings] == [
        (w.what, w.where, w.lost) for w in got.warnings
    ]
    rm, gm = ref.event_table.meta, got.event_table.meta
    for k in TEXT_META:
        assert getattr(rm, k) == getattr(gm, k), k
    rl, gl = ref.event_table.lost, got.event_table.lost
    for col in rl.columns:
        assert (rl[col] == gl[col]).all(), col


@pytest.mark.parametrize("rel", TEXTS)
def test_text_read_in_pieces_is_the_whole_text(rel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel text read a piece at a time (parsers.text_windows: 7 to 150 pieces here, of 3
    kB and more, lines carried across their cuts) gives the whole text's calls, quality report,
    warnings, meta and lost-event rows; or, where a piece meets what only the whole text
    answers, is read whole."""
    path = corpus_file(rel)
    ref = load(path)
    restarts, pieces = count_pieces(monkeypatch)
    size = len(read_text(path))
    for piece in (max(3000, size // 150), max(200_000, size // 7)):
        monkeypatch.setenv("FGRAPH_TEXT_PIECE", str(piece))
        assert_same_text_read(ref, load_windowed(path))
    assert len(restarts) == (rel in RESTARTS_SMALL_PIECES)
    assert len(pieces) > 10 or size < 30_000 or restarts


def test_rows_before_a_cpus_first_banner_in_a_later_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel text without a proc column names a CPU's task only at a context switch (its
    banner); the rows before a CPU's first banner belong to the task it switched from.  Read in
    pieces, those rows' pieces are held until the banner comes (many pieces later here), then
    handed on with that task; a CPU with no banner at all keeps its rows taskless, as read
    whole.  Past HOLD_BYTES of held text the reader starts again whole."""
    import fgraph.parsers.text_windows as tw

    head = "# tracer: function_graph\n#\n# CPU  DURATION                  FUNCTION CALLS\n"
    # (a bare "}" in the first piece: else its first one, later, would read the text whole)
    lines = [" 0)               |  a() {\n", " 0)   2.000 us    |  }\n"]
    lines += [" 2)   0.100 us    |  z();\n"]  # CPU 2: no banner ever
    lines += [f" 1)   0.500 us    |  f{i}();\n" for i in range(300)]  # before CPU 1's banner
    lines += [
        " 0)               |  a() {\n",
        " 1)   0.500 us    |  g();\n",
        " 0)   2.000 us    |  }\n",
    ] * 100
    lines += [
        " ------------------------------------------\n",
        " 1)    sh-107    =>  kworker-5  \n",
        " ------------------------------------------\n",
        "\n",
    ]
    lines += [f" 1)   0.500 us    |  h{i}();\n" for i in range(50)]
    p = tmp_path / "banner.txt"
    p.write_text(head + "".join(lines))
    ref = load(p)
    calls = ref.call_table
    f0 = int(np.flatnonzero(calls.strings.decode(calls["func"]) == "f0")[0])
    assert calls["pid"][f0] == 107
    assert calls["pid"][int(np.flatnonzero(calls.strings.decode(calls["func"]) == "z")[0])] == -1
    restarts, _ = count_pieces(monkeypatch)
    monkeypatch.setenv("FGRAPH_TEXT_PIECE", "1000")
    # (past HOLD_BYTES: CPU 1's banner is still to come, so only the whole text can tell)
    for hold, restart in ((64 << 20, False), (5000, True)):
        monkeypatch.setattr(tw, "HOLD_BYTES", hold)
        restarts.clear()
        got = load_windowed(p)
        assert bool(restarts) == restart
        assert_same_calls(calls, got.call_table)
        assert ref.quality.to_dict() == got.quality.to_dict()
    # A trace of one task per CPU has no banner at all: past HOLD_BYTES the rest of the text
    # is searched for one, and with none the held rows go on without a task, as read whole.
    p.write_text(head + "".join(ln for ln in lines if "=>" not in ln))
    ref = load(p)
    assert (ref.call_table["pid"] == -1).all()
    restarts.clear()
    got = load_windowed(p)
    assert not restarts
    assert_same_calls(ref.call_table, got.call_table)


# trace-cmd report texts of the corpus: instances, lost events, latency columns, ns times
REPORTS = [
    ("system.dat", ()),
    ("system.dat", ("-l",)),
    ("smp4_instances.dat", ()),  # four buffers, named on their lines
    ("lost.dat", ("-t",)),  # "CPU:n [EVENTS DROPPED]" lines; -t: ns timestamps
    ("btrfs_read.dat", ()),  # events only before the first funcgraph record
]


@pytest.mark.parametrize("dat, flags", REPORTS)
def test_report_read_in_pieces_is_the_whole_report(
    dat: str, flags: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``trace-cmd report`` text read a piece at a time (parsers.text_windows.ReportWindows,
    a report of 32 MB and more) gives the whole report's calls, quality report, warnings, meta,
    lost-event rows and buffer instances, without reading it whole again."""
    import subprocess

    path = tmp_path / f"{dat}.report.txt"
    with path.open("wb") as out:
        subprocess.run(
            [tracecmd(), "report", *flags, str(corpus_file(f"vm61/{dat}"))],
            stdout=out,
            check=True,
        )
    ref = load(path)
    assert ref.event_table.meta.format == "trace-cmd-report"
    restarts, _ = count_pieces(monkeypatch)
    size = path.stat().st_size
    for piece in (max(3000, size // 150), max(200_000, size // 7)):
        monkeypatch.setenv("FGRAPH_TEXT_PIECE", str(piece))
        got = load_windowed(path)
        assert_same_text_read(ref, got)
        # the events that are not funcgraph records are kept, with their buffers
        fg = np.isin(ref.event_table["kind"], [1, 2])
        assert (got.event_table["buf"] == ref.event_table["buf"][~fg]).all()
    assert not restarts
    if dat == "smp4_instances.dat":
        assert len(ref.event_table.meta.buffers) > 1
    if dat == "lost.dat":
        assert len(ref.event_table.lost) and ref.event_table.meta.ts_resolution_ns == 1


def test_a_report_without_records_in_its_first_piece_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the rebuild is told when it begins (that the rows have times, and to what
    resolution) comes from a report's first piece: a first piece of header lines only, or
    times printed to fewer digits further on, read the report whole again."""

    rec = "              sh-107   [000]    17.{:06d}: funcgraph_entry:        0.500 us   |  f();\n"
    coarse = (
        "              sh-107   [000]    18.{:03d}: funcgraph_entry:        0.500 us   |  g();\n"
    )
    restarts, _ = count_pieces(monkeypatch)
    monkeypatch.setenv("FGRAPH_TEXT_PIECE", "2000")
    for text in (
        "cpus=1\n" + "\n" * 3000 + "".join(rec.format(i) for i in range(100)),
        "cpus=1\n"
        + "".join(rec.format(i) for i in range(100))
        + "".join(coarse.format(i) for i in range(100)),
    ):
        path = tmp_path / "r.txt"
        path.write_text(text)
        restarts.clear()
        ref = load(path)
        got = load_windowed(path)
        assert restarts
        assert_same_calls(ref.call_table, got.call_table)
        assert got.event_table.meta.ts_resolution_ns == ref.event_table.meta.ts_resolution_ns


def test_not_a_trace_is_refused(tmp_path: Path) -> None:
    from fgraph.errors import TraceFormatError

    p = tmp_path / "x.dat"
    p.write_bytes(b"hello\x00world" * 100)
    with pytest.raises(TraceFormatError, match="x.dat"):
        load_windowed(p)


@pytest.mark.parametrize("layout", ["le64", "be32"])
def test_windowed_read_of_synthetic_layouts(tmp_path: Path, layout: str) -> None:
    """32/64-bit, little/big-endian files (with lost-event page flags) read the same windowed."""
    from test_tracedat_synth import LAYOUTS, build

    data, _, _ = build(LAYOUTS[layout])
    p = tmp_path / f"{layout}.dat"
    p.write_bytes(data)
    ref = load(p)
    got = load_windowed(p, 3)
    assert_same_calls(ref.call_table, got.call_table)
    assert ref.quality.to_dict() == got.quality.to_dict()


def test_windowed_read_of_a_latency_file(tmp_path: Path) -> None:
    """A v6 'latency' file holds the kernel's text: one window."""
    from test_tracedat_synth import LAYOUTS, build

    data, _, _ = build(LAYOUTS["le64"])
    text = (
        b"# tracer: function_graph\n#\n# CPU  DURATION                  FUNCTION CALLS\n"
        b"# |     |   |                     |   |   |   |\n"
        b" 0)               |  vfs_read() {\n 0)   0.500 us    |    rw_verify_area();\n"
        b" 0)   2.000 us    |  }\n"
    )
    p = tmp_path / "lat.dat"
    p.write_bytes(data[: data.index(b"flyrecord\x00")] + b"latency  \x00" + text)
    got = load_windowed(p)
    assert_same_calls(load(p).call_table, got.call_table)
    assert len(got.call_table) == 2


def test_text_windows_keep_the_gaps_in_line_order(tmp_path: Path) -> None:
    """A gap's row is the next record on its CPU, which may come after the rows of a later
    gap (and a gap with no record after it names none): windowed, the lost-event rows still
    come in the whole table's (line) order."""
    text = (
        " 1)               |  b() {\n"
        " 0)               |  a() {\n"
        "CPU:1 [LOST 3 EVENTS]\n"
        " 0)   1.000 us    |    c();\n"
        "CPU:0 [LOST 2 EVENTS]\n"
        " 0)   1.000 us    |    d();\n"
        "CPU:2 [LOST 7 EVENTS]\n"
        " 0)   5.000 us    |  }\n"
        " 1)   9.000 us    |  }\n"
    )
    p = tmp_path / "gaps.txt"
    p.write_text(text)
    ref = load(p)
    assert list(ref.event_table.lost["row"]) == [7, 4, -1]  # not ascending (a leaf: 2 rows)
    for window in (1, 2, 3):
        got = load_windowed(p, window)
        for col in ref.event_table.lost.columns:
            assert (ref.event_table.lost[col] == got.event_table.lost[col]).all(), col
        assert_same_calls(ref.call_table, got.call_table)
        assert ref.quality.to_dict() == got.quality.to_dict()


def test_text_pieces_adopt_with_the_whole_texts_tolerance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An orphan exit adopts the calls that began inside it, by time within the text's
    resolution (1 us): c began 1 us before p's synthesized entry (its printed times are
    truncated), so it is p's child.  Read in pieces the rebuild once took its tolerance from
    the meta the first piece came with, which did not say microseconds yet: c stayed a root."""
    head = (
        "# tracer: function_graph\n#\n"
        "#     TIME        CPU  DURATION                  FUNCTION CALLS\n"
        "#      |          |     |   |                     |   |   |   |\n"
    )
    body = " 100.000014 |   0)   0.500 us    |    c();\n 100.000020 |   0)   5.000 us    |  } /* p */\n"
    more = "".join(f" {101 + i}.000000 |   0)   0.500 us    |  d();\n" for i in range(200))
    p = tmp_path / "tol.txt"
    p.write_text(head + body + more)
    ref = load(p).call_table
    assert ref["parent_id"][1] == 0  # c inside p
    monkeypatch.setenv("FGRAPH_TEXT_PIECE", "2000")
    assert_same_calls(ref, load_windowed(p).call_table)


def test_the_banner_look_ahead_errs_towards_reading_whole() -> None:
    """``_no_banner_after`` says "none" only when no line ahead could be the CPUs' banner (one
    it is unsure of reads the text whole: slower, never wrong)."""
    from fgraph.parsers.text_windows import _no_banner_after

    text = b" 1)  a();\n 11)  sh-1  =>  kw-2\n 3)  b();\n"
    assert _no_banner_after(text, 0, {1})  # CPU 11's banner, not CPU 1's
    assert not _no_banner_after(text, 0, {11})
    assert _no_banner_after(text, text.index(b" 3)"), {11})  # none after there
    assert not _no_banner_after(b"x\n 100.5 |  2)  sh-1  =>  kw-2\n", 0, {2})  # abstime column
    assert not _no_banner_after(text, 0, {-1})  # no CPU column: cannot tell
    assert _no_banner_after(text, 0, set())
