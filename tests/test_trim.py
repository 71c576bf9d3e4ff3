"""The function_graph text writer and `fgraph trim`: trimmed traces read back with the same
results for X."""

from __future__ import annotations

import io

import numpy as np
import pytest
from _export_cases import T0, small_trace
from click.testing import CliRunner
from conftest import corpus_file

import fgraph
from fgraph.cli import cli
from fgraph.export.ftrace_text import (
    format_abstime,
    format_durations,
    lat_flags,
    proc_field,
    write_function_graph,
)
from fgraph.export.trim import select_calls, select_events
from fgraph.schema import EventKind


def test_duration_column_is_the_kernels():
    # formats.md §4.2 examples (trace_print_graph_duration + overhead marks)
    got = format_durations(
        np.array([198, 11719, 8147120, 3594274000, 136043, 12345678, 123456789, 1000131000])
    )
    assert got.tolist() == [
        "  0.198 us    |  ",
        "+ 11.719 us   |  ",
        "# 8147.120 us |  ",
        "$ 3594274 us  |  ",
        "! 136.043 us  |  ",
        "* 12345.67 us |  ",
        "@ 123456.7 us |  ",
        "$ 1000131 us  |  ",
    ]
    assert all(len(s) == 17 for s in got)
    assert format_durations(np.array([10000, 10001])).tolist() == [
        "  10.000 us   |  ",
        "+ 10.001 us   |  ",
    ]


def test_prefix_columns():
    assert format_abstime(np.array([17_858_012_999])).tolist() == ["   17.858012 |  "]
    assert proc_field("<idle>", 0) == "   <idle>-0   "
    assert proc_field("rcu_preempt", 15) == "  rcu_pre-15  "
    assert proc_field("sh", 107) == "    sh-107    "
    assert lat_flags(0, 1, 0) == "...1."
    assert lat_flags(0x09, 0x11, 2) == "d.h11"
    assert lat_flags(-1, -1, 1) == "..s.."
    assert lat_flags(0x01 | 0x80 | 0x04 | 0x20, 0, 0) == "DN..."


def _write(ev, calls, ids, rows) -> str:
    s = io.StringIO()
    write_function_graph(ev, calls, np.asarray(ids), np.asarray(rows), s)
    return s.getvalue()


def test_writer_layout():
    ev, calls = small_trace()
    text = _write(ev, calls, np.arange(len(calls)), [7, 8])
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert body[0] == "   17.000000 |   0)     cat-10     |  ..... |               |  vfs_read() {"
    assert body[1] == "   17.000001 |   0)     cat-10     |  ...1. |   1.500 us    |    a();"
    assert body[2].endswith("|  d.h11 |               |    __sysvec_apic_timer_interrupt() {")
    assert body[3].endswith("|  d.h11 |   0.200 us    |      b();")
    assert body[4].endswith("|  d.h11 |   1.000 us    |    } /* __sysvec_apic_timer_interrupt */")
    # comment one level below the open vfs_read, then a context-switch banner
    assert body[5].endswith(
        "|    /* sched_switch: prev_comm=cat prev_pid=10 prev_prio=120 prev_state=D ==> next_comm=swapper/0 next_pid=0 next_prio=120 */"
    )
    assert body[6:9] == [" " + "-" * 42, " 0)     cat-10     =>    <idle>-0   ", " " + "-" * 42]
    assert body[9] == ""
    assert "+ 20.000 us   |  } /* vfs_read */" in text
    assert "   17.000030 |   1)     sh-20      |  ..... |               |  vfs_read() {" in text


def test_truncated_and_synthesized_calls():
    ev, calls = small_trace()
    from fgraph.schema import CallFlag

    calls["flags"][4] = CallFlag.TRUNCATED  # sh's vfs_read never returned
    calls["flags"][0] = CallFlag.SYNTH_ENTRY  # cat's vfs_read entry was rebuilt
    text = _write(ev, calls, np.arange(len(calls)), [])
    assert "vfs_read() {" in text  # sh's entry is still there
    assert text.count("vfs_read() {") == 1
    assert text.count("} /* vfs_read */") == 1  # cat's return only


def test_roundtrip_through_the_text_reader(tmp_path):
    """Hand-built calls → text → fgraph's reader: same records, durations, contexts, fields."""
    ev, calls = small_trace()
    p = tmp_path / "t.txt"
    p.write_text(_write(ev, calls, np.arange(len(calls)), [7, 8, 14]))
    back = fgraph.read_events(p)
    assert back.meta.lines_unparsed == 0
    fg = np.isin(back["kind"], [EventKind.FG_ENTRY, EventKind.FG_EXIT])
    orig = np.isin(ev["kind"], [EventKind.FG_ENTRY, EventKind.FG_EXIT])
    assert fg.sum() == orig.sum()
    f_back = sorted(
        zip(
            back.strings.decode(back["func"][fg]),
            back["kind"][fg].tolist(),
            back["duration"][fg].tolist(),
        )
    )
    f_orig = sorted(
        zip(
            ev.strings.decode(ev["func"][orig]),
            ev["kind"][orig].tolist(),
            ev["duration"][orig].tolist(),
        )
    )
    assert f_back == f_orig
    assert sorted(back["irqctx"][fg].tolist()) == sorted(ev["irqctx"][orig].tolist())
    assert back.events_per_type().get("sched_switch") == 3
    rows, vals = back.field("sched_switch", "next_pid")
    assert sorted(vals.tolist()) == [0, 0, 10]
    assert (back["ts"][back["kind"] == EventKind.FG_ENTRY] >= T0).all()


def test_selection_with_threshold_and_events():
    ev, calls = small_trace()
    roots, kept = select_calls(calls, "vfs_read")
    assert roots.tolist() == [0, 4] and kept.tolist() == [0, 1, 2, 3, 4, 5]
    roots, kept = select_calls(calls, "vfs_read", threshold_ns=10_000)
    assert roots.tolist() == [0] and kept.tolist() == [0, 1, 2, 3]
    # the irq tree travels with the call it interrupted; both switches of cat are kept
    assert select_events(ev, calls, roots).tolist() == [7, 8]
    roots, kept = select_calls(calls, "b")
    assert roots.tolist() == [3] and kept.tolist() == [3]
    with pytest.raises(fgraph.FgraphError):
        select_calls(calls, "nope")


def test_hist_same_after_trim_hand_built(tmp_path):
    """Needs the rebuild: rebuild the hand-built events, trim, rebuild the text: same X."""
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    ev, _ = small_trace()
    from fgraph.analysis.hist import hist
    from fgraph.export.trim import trim

    tr = fgraph.Trace(ev)
    with (tmp_path / "t.txt").open("w") as fh:
        trim(tr, "vfs_read", fh)
    a = hist(tr, "vfs_read", threshold="10us").to_dict()
    b = hist(fgraph.load(tmp_path / "t.txt"), "vfs_read", threshold="10us").to_dict()
    for k in ("calls", "slow_calls", "truncated_calls", "p50_ns", "p99_ns", "max_ns"):
        assert a[k] == b[k], k


# ----------------------------------------------------------------------------- real data

KEYS = ("calls", "slow_calls", "truncated_calls", "p50_ns", "p90_ns", "p99_ns", "max_ns")


def _close(a: int | None, b: int | None) -> bool:
    """Equal to the text's precision: the kernel prints 7 significant digits of µs, so a
    duration with k integer µs digits keeps 10**max(0, k-4) ns (cut, not rounded)."""
    if a is None or b is None:
        return a == b
    k = len(str(a // 1000))
    return 0 <= a - b < 10 ** max(0, k - 4)


# Wrapped/lossy trace.dat captures where the rebuild pairs an exit with its entry by the exit's
# calltime (an open call whose exit never came is closed when a later exit of the same function
# shows another start): text carries no calltime, so the reader pairs them and reports fewer
# truncated calls; complete calls and their durations agree.
CALLTIME_PAIRED = {"vm61/system.dat", "vm61/lost.dat"}


@pytest.mark.corpus
@pytest.mark.parametrize(
    "rel,func,threshold",
    [
        ("vm61/btrfs_read.dat", "vfs_read", None),
        ("vm61/btrfs_read.dat", "vfs_read", "1ms"),
        ("vm61/fsync.dat", "vfs_fsync_range", None),
        ("vm61/btrfs_read.abstime_proc_tail.txt", "vfs_read", None),
        ("vm61/system.dat", "schedule", None),  # wrapped buffer: rebuilt entries, truncated calls
    ],
)
def test_trim_then_hist_same(tmp_path, rel, func, threshold):
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    from fgraph.analysis.hist import hist

    src = corpus_file(rel)
    out = tmp_path / "trim.txt"
    args = ["trim", str(src), "--func", func, "-o", str(out)] + (
        ["--threshold", threshold] if threshold else []
    )
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    thr = threshold or "1ms"
    a = hist(fgraph.load(src), func, threshold=thr).to_dict()
    t = fgraph.load(out)
    assert t.meta.lines_unparsed == 0
    b = hist(t, func, threshold=thr).to_dict()
    if threshold:  # only the slow calls were kept: they are all there, all slow
        assert b["calls"] == b["slow_calls"] == a["slow_calls"]
        assert _close(a["max_ns"], b["max_ns"])
    else:
        for k in KEYS:
            if k == "truncated_calls" and rel in CALLTIME_PAIRED:
                continue
            assert _close(a[k], b[k]), (k, a[k], b[k])
        if rel in CALLTIME_PAIRED:
            assert b["truncated_calls"] <= a["truncated_calls"]
    ra = {r["name"]: r["share"] for r in a["breakdown"]}
    rb = {r["name"]: r["share"] for r in b["breakdown"]}
    assert ra.keys() == rb.keys()
    for k in ra:
        assert abs(ra[k] - rb[k]) < 1e-4, k
    for k in ("offcpu_sleep_share", "offcpu_runnable_share"):
        if a[k] is not None and rel not in CALLTIME_PAIRED:  # (their windows differ there)
            assert b[k] is not None and abs(a[k] - b[k]) < 1e-3, k


def test_modules_and_return_values_roundtrip(tmp_path):
    from fgraph.schema import CallFlag, EventFlag

    ev, calls = small_trace()
    calls["module"][1] = calls.strings.code("btrfs")
    calls["flags"][1] |= CallFlag.HAS_RETVAL
    calls["retval"][1] = -22
    calls["flags"][0] |= CallFlag.HAS_RETVAL
    calls["retval"][0] = 4096
    text = _write(ev, calls, np.arange(len(calls)), [])
    assert "|    a [btrfs](); /* = -22 */" in text
    assert "|  } /* vfs_read = 0x1000 */" in text
    p = tmp_path / "t.txt"
    p.write_text(text)
    back = fgraph.read_events(p)
    ex = back["kind"] == EventKind.FG_EXIT
    has = (back["eflags"] & EventFlag.HAS_RETVAL) != 0
    assert sorted(back["retval"][ex & has].tolist()) == [-22, 4096]
    assert "btrfs" in set(back.strings.decode(back["module"]).tolist())


# ------------------------------------------------------------- a committed regression fixture

FIXTURE = "trim/btrfs_read.vfs_read.100ms.txt"


@pytest.mark.corpus
def test_trim_golden(tmp_path, update_golden):
    """`fgraph trim` output is stable (the committed file is a real regression fixture)."""
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    from conftest import GOLDEN, check_golden

    out = tmp_path / "t.txt"
    r = CliRunner().invoke(
        cli,
        [
            "trim",
            str(corpus_file("vm61/btrfs_read.dat")),
            "--func",
            "vfs_read",
            "--threshold",
            "100ms",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    check_golden(GOLDEN / FIXTURE, out.read_text(), update_golden)


def test_check_on_committed_fixture():
    """What a kernel CI does with a fixture: `fgraph check` passes and fails where it should."""
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    from conftest import GOLDEN

    path = str(GOLDEN / FIXTURE)
    base = ["check", path, "--func", "vfs_read", "--threshold", "100ms"]
    ok = CliRunner().invoke(
        cli,
        base + ["--expect", "calls == 2", "--expect", "p99 < 500ms", "--expect", "share(pipe_read) > 99%",
                "--expect", "offcpu_sleep_share > 90%"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(
        cli, base + ["--expect", "max < 100ms", "--expect", "share([self]) < 1%"]
    )
    assert bad.exit_code == 1, bad.output
    assert "FAIL  max < 100ms" in bad.output and "PASS  share([self]) < 1%" in bad.output


def test_lost_event_lines(tmp_path):
    ev, calls = small_trace()
    s = io.StringIO()
    st = write_function_graph(
        ev, calls, np.arange(len(calls)), np.array([14]), s, lost_rows=np.array([0])
    )
    assert st.lost == 1
    body = [ln for ln in s.getvalue().splitlines() if not ln.startswith("#")]
    i = body.index("CPU:1 [LOST 7 EVENTS]")
    assert "sched_switch: prev_comm=sh" in body[i + 1]  # before the first record after the gap
    p = tmp_path / "t.txt"
    p.write_text(s.getvalue())
    back = fgraph.read_events(p)
    assert back.lost["count"].tolist() == [7] and back.lost["cpu"].tolist() == [1]


@pytest.mark.corpus
def test_trim_keeps_lost_gaps(tmp_path):
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    from fgraph.analysis.hist import hist
    from fgraph.schema import CallFlag

    src = corpus_file("vm61/lost.dat")
    out = tmp_path / "t.txt"
    assert (
        CliRunner()
        .invoke(cli, ["trim", str(src), "--func", "x64_sys_call", "-o", str(out)])
        .exit_code
        == 0
    )
    assert "[LOST" in out.read_text()
    a = hist(fgraph.load(src), "x64_sys_call").to_dict()
    t = fgraph.load(out)
    b = hist(t, "x64_sys_call").to_dict()
    for k in KEYS:
        if k != "truncated_calls":  # see CALLTIME_PAIRED
            assert _close(a[k], b[k]), k
    assert b["truncated_calls"] <= a["truncated_calls"]
    c = t.call_table
    x = c["func"] == c.strings.lookup("x64_sys_call")
    assert ((c["flags"][x] & CallFlag.LOST_GAP) != 0).any()


@pytest.mark.corpus
@pytest.mark.parametrize("suffix", [".txt.zst", ".txt.gz", ".txt.xz"])
def test_trim_compressed_output(tmp_path, suffix):
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    from fgraph.analysis.hist import hist

    src = corpus_file("vm61/btrfs_read.dat")
    out = tmp_path / f"t{suffix}"
    r = CliRunner().invoke(
        cli, ["trim", str(src), "--func", "vfs_read", "--threshold", "1ms", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    t = fgraph.load(out)
    assert t.meta.input_compression != "none"
    assert hist(t, "vfs_read", threshold="1ms").to_dict()["calls"] == 9


def test_trim_error_leaves_no_file(tmp_path):
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    from conftest import GOLDEN

    out = tmp_path / "t.txt"
    r = CliRunner().invoke(
        cli,
        ["trim", str(GOLDEN / FIXTURE), "--func", "vfs_read", "--threshold", "10s", "-o", str(out)],
    )
    assert r.exit_code == 2 and not out.exists()


def test_root_closed_by_outer_keeps_its_closer():
    from fgraph.schema import CallFlag

    ev, calls = small_trace()
    calls["flags"][1] = CallFlag.TRUNCATED | CallFlag.CLOSED_BY_OUTER  # a's exit never came
    roots, kept = select_calls(calls, "a")
    assert roots.tolist() == [1] and kept.tolist() == [0, 1]  # vfs_read's exit closes it
    text = _write(ev, calls, kept, [])
    body = [ln.split("|")[-1].strip() for ln in text.splitlines() if not ln.startswith("#")]
    assert body == ["vfs_read() {", "a() {", "} /* vfs_read */"]
