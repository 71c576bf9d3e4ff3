"""Analyses (hist, breakdown, slowest, compare) on hand-built call tables."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from analysis_helpers import MS, US, build_calls, sample_calls

from fgraph.analysis.calls import concat_calls
from fgraph.analysis.diff import diff
from fgraph.analysis.filters import filter_mask
from fgraph.analysis.hist import HistResult, TopResult, hist
from fgraph.analysis.slowest import slowest
from fgraph.analysis.stats import log2_histogram, nearest_rank, sparse_quantile
from fgraph.analysis.tree import nearest_stop
from fgraph.errors import UsageError
from fgraph.schema import IrqCtx


def rows_of(res: HistResult) -> dict[str, int]:
    return {r.name: r.total_ns for r in res.breakdown.rows}


# --- helpers ---------------------------------------------------------------------------------


def test_nearest_rank_percentiles():
    v = np.arange(1, 101)
    assert nearest_rank(v, 50) == 50
    assert nearest_rank(v, 99) == 99
    assert nearest_rank(v, 100) == 100
    assert nearest_rank(np.array([7]), 99) == 7
    assert nearest_rank(np.array([], dtype=np.int64), 50) == -1


def test_sparse_quantile_matches_dense():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        k = int(rng.integers(0, n + 1))
        nz = np.sort(rng.random(k) + 0.01)
        dense = np.sort(np.concatenate([np.zeros(n - k), nz]))
        for q in (1, 50, 90, 99, 100):
            r = max(1, int(np.ceil(q / 100 * n)))
            assert sparse_quantile(nz, n, q) == dense[r - 1]


def test_log2_buckets_are_bit_lengths():
    vals = np.array([0, 1, 2, 3, 4, 7, 8, 1023, 1024, 1025, 2**40 - 1, 2**40], dtype=np.int64)
    h = log2_histogram(vals, "nsecs")
    expect = np.bincount([int(v).bit_length() for v in vals])
    assert h.counts.tolist() == expect.tolist()
    b = h.buckets()
    assert (b[3]["low"], b[3]["high"]) == (4, 7)
    h2 = log2_histogram(np.array([999, 1000, 2500]), "usecs")  # 0, 1, 2 us
    assert h2.counts.tolist() == [1, 1, 1]


def test_nearest_stop_matches_walk():
    rng = np.random.default_rng(7)
    n = 500
    parent = np.array([-1] + [int(rng.integers(-1, i)) for i in range(1, n)])
    stop = rng.random(n) < 0.1
    owner, dist = nearest_stop(parent, stop)
    for i in range(n):
        c, d = i, 0
        while c >= 0 and not stop[c]:
            c, d = parent[c], d + 1
        assert owner[i] == (c if c >= 0 else -1)
        if c >= 0:
            assert dist[i] == d


# --- hist --------------------------------------------------------------------------------------


def test_hist_counts_percentiles_and_child_rows():
    res = hist(sample_calls(), "vfs_read", threshold="1ms")
    assert isinstance(res, HistResult)
    assert (res.calls, res.slow_calls, res.truncated_calls) == (3, 2, 1)
    assert res.truncated_max_ns == 5 * MS
    assert (res.latency.p50_ns, res.latency.p99_ns, res.latency.max_ns) == (2 * MS, 3 * MS, 3 * MS)
    assert rows_of(res) == {"A": 3 * MS, "B": 1 * MS, "[self]": 900 * US, "[irq]": 100 * US}
    assert res.breakdown.total_ns == 5 * MS
    assert sum(r.total_ns for r in res.breakdown.rows) == res.breakdown.total_ns
    assert sum(r.share for r in res.breakdown.rows) == pytest.approx(1.0, abs=1e-12)
    a = res.breakdown.row("A")
    assert a is not None and a.calls == 2 and a.calls_per_call == 1.0
    assert a.share_p50 == pytest.approx(0.5) and a.share_p99 == pytest.approx(2 / 3)
    irq = res.breakdown.row("[irq]")
    assert irq is not None and irq.calls == 1 and irq.share_p50 == 0.0
    assert res.breakdown.offcpu_sleep_share is None  # no sched data in this table


def test_hist_depth_all_and_path_partition():
    t = sample_calls()
    d2 = hist(t, "vfs_read", depth=2)
    assert rows_of(d2) == {
        "A [self]": 1500 * US,  # A's exclusive time in both slow calls (0.5 + 1.0 ms)
        "C": 1500 * US,  # depth 2, inclusive
        "B [self]": 1 * MS,
        "[self]": 900 * US,
        "[irq]": 100 * US,
    }
    al = hist(t, "vfs_read", all=True)
    assert rows_of(al) == {
        "A": 1500 * US,
        "C": 1500 * US,
        "B": 1 * MS,
        "[self]": 900 * US,
        "[irq]": 100 * US,
    }
    p = hist(t, "vfs_read", depth=2, by="path")
    assert set(rows_of(p)) == {"A [self]", "A;C", "B [self]", "[self]", "[irq]"}
    for r in (d2, al, p):
        assert sum(x.total_ns for x in r.breakdown.rows) == 5 * MS


def test_offcpu_rows_and_shares():
    res = hist(sample_calls(sched=True), "vfs_read")
    assert res.breakdown.offcpu_sleep_share == pytest.approx(0.2)
    assert res.breakdown.offcpu_runnable_share == pytest.approx(0.04)
    a = res.breakdown.row("A")
    selfrow = res.breakdown.row("[self]")
    assert a is not None and a.offcpu_sleep_ns == 1 * MS
    assert selfrow is not None and selfrow.offcpu_runnable_ns == 200 * US
    d = res.to_dict()
    assert d["offcpu_sleep_share"] == pytest.approx(0.2)


def test_unaccounted_row_keeps_the_partition_exact():
    # the child claims more than fits: the residual is negative, still rows sum to duration
    t = build_calls(
        [
            {"func": "X", "ts": 0, "dur": 2 * MS},
            {"func": "Y", "parent": 0, "ts": 10, "dur": 1 * MS},
            {"func": "Z", "parent": 0, "ts": 20, "dur": -1},  # unknown duration
        ]
    )
    t["self"][0] = 200 * US  # rebuild says 0.2 ms self, so 0.8 ms are not explained
    res = hist(t, "X", threshold=0)
    assert rows_of(res)["[unaccounted]"] == 800 * US
    assert sum(r.total_ns for r in res.breakdown.rows) == 2 * MS


def test_recursive_calls_are_broken_down_once():
    t = build_calls(
        [
            {"func": "X", "ts": 0, "dur": 4 * MS},
            {"func": "X", "parent": 0, "ts": 10, "dur": 3 * MS},
            {"func": "Y", "parent": 1, "ts": 20, "dur": 2 * MS},
        ]
    )
    res = hist(t, "X", threshold="1ms")
    assert res.slow_calls == 2
    assert res.breakdown.ncalls == 1 and res.breakdown.nested_calls == 1
    assert rows_of(res) == {"X": 3 * MS, "[self]": 1 * MS, "[irq]": 0}


def test_threshold_percentile_and_errors():
    t = sample_calls()
    res = hist(t, "vfs_read", threshold="p50")
    assert res.threshold_ns == 2 * MS and res.slow_calls == 2
    with pytest.raises(UsageError, match="bad threshold"):
        hist(t, "vfs_read", threshold="fast")
    with pytest.raises(UsageError, match="did you mean vfs_read"):
        hist(t, "vfs_reed")
    with pytest.raises(UsageError):
        hist(t, "vfs_read", depth=0)


def test_no_slow_calls():
    res = hist(sample_calls(), "vfs_read", threshold="1s")
    assert res.slow_calls == 0 and res.breakdown.rows == [] and res.breakdown.total_ns == 0
    json.dumps(res.to_dict())


def test_filters():
    t = sample_calls()
    assert filter_mask(t, {"pids": (200,)}).sum() == 2
    assert filter_mask(t, {"comms": ("nope",)}).sum() == 0
    assert filter_mask(t, {"cpus": (1,)}).sum() == 2
    res = hist(t, "vfs_read", threshold=0, filters={"since": "1.005", "until": "1.025"})
    assert res.calls == 2  # the fast call at 1.010 s and the slow one at 1.020 s
    res = hist(t, "vfs_read", threshold=0, filters={"pids": (200,)})
    assert res.calls == 1 and rows_of(res)["A"] == 50 * US
    with pytest.raises(UsageError, match="must be after"):
        filter_mask(t, {"since": "2", "until": "1"})


def test_compare_fast_ranks_by_change_per_call():
    res = hist(sample_calls(), "vfs_read", compare="fast")
    assert res.compare is not None
    rows = res.compare.rows
    assert rows[0]["name"] == "A"
    assert rows[0]["per_call_a_ns"] == 50 * US and rows[0]["per_call_b_ns"] == 1500 * US
    d = res.to_dict()["compare"]
    assert d["p50_change_ns"] == 2 * MS - 100 * US


def test_json_keys_are_stable():
    d = hist(sample_calls(), "vfs_read").to_dict()
    for k in (
        "func", "threshold_ns", "calls", "slow_calls", "truncated_calls", "p50_ns", "p90_ns", "p99_ns",
        "max_ns", "histogram", "breakdown", "offcpu_sleep_share", "offcpu_runnable_share",
    ):  # fmt: skip
        assert k in d
    assert {"name", "calls", "total_ns", "share", "mean_ns", "share_p50", "share_p99"} <= set(
        d["breakdown"][0]
    )
    assert sum(b["count"] for b in d["histogram"]) == d["calls"]
    assert {r["name"] for r in d["breakdown"]} >= {"[self]", "[irq]"}
    json.dumps(d)


def test_top_functions():
    res = hist(sample_calls(), None)
    assert isinstance(res, TopResult)
    assert res.by_total[0].name == "vfs_read" and res.by_total[0].total_ns == 5100 * US
    assert res.by_self[0].name == "A" and res.by_self[0].self_ns == 1550 * US
    assert res.functions == 5


def test_random_forests_partition_exactly():
    rng = np.random.default_rng(3)
    for _ in range(20):
        spec = []
        stack: list[tuple[int, int, int]] = []  # (index, end ts, depth)
        ts = 0
        for i in range(200):
            while stack and stack[-1][1] <= ts:
                stack.pop()
            par = stack[-1][0] if stack else -1
            room = (stack[-1][1] - ts) if stack else 10_000
            d = int(rng.integers(1, max(2, room)))
            fn = "X" if rng.random() < 0.2 else f"f{int(rng.integers(0, 6))}"
            spec.append({"func": fn, "parent": par, "ts": ts, "dur": d})
            stack.append((i, ts + d, 0))
            ts += int(rng.integers(0, 5))
        t = build_calls(spec)
        if not (t["func"] == t.strings.lookup("X")).any():
            continue
        for kw in ({}, {"depth": 3}, {"all": True}, {"by": "path", "depth": 2}):
            res = hist(t, "X", threshold=0, **kw)
            bd = res.breakdown
            assert sum(r.total_ns for r in bd.rows) == bd.total_ns
            assert bd.row("[unaccounted]") is None
            assert sum(r.share for r in bd.rows) == pytest.approx(1.0, abs=1e-9)


# --- diff, aggregation ---------------------------------------------------------------------------


def test_diff_two_tables_and_concat():
    a = sample_calls()
    b = build_calls(
        [
            {"func": "vfs_read", "ts": 0, "dur": 4 * MS},
            {"func": "A", "parent": 0, "ts": 10, "dur": 3 * MS},
        ]
    )
    res = diff(a, b, "vfs_read", labels=("before", "after"))
    d = res.to_dict()
    assert d["a"] == "before" and d["side_a"]["calls"] == 3 and d["side_b"]["calls"] == 1
    assert d["rows"][0]["name"] == "A"
    assert d["p99_change_ns"] == 1 * MS
    both = concat_calls([a, b])
    assert len(both) == len(a) + len(b)
    assert both["trace"][-1] == 1 and both["parent_id"][-1] == len(a)
    r = hist([a, b], "vfs_read", threshold=0)
    assert r.calls == 4
    # consume (the CLI's several traces): the same table, the inputs' columns given up
    from fgraph.analysis.calls import aggregate
    from fgraph.table import ColumnNotLoaded

    class _T:  # (a trace: its calls and its name)
        def __init__(self, calls, name):  # type: ignore[no-untyped-def]
            self.call_table, self.name = calls, name

    ta, tb = _T(a.take(np.arange(len(a))), "a.dat"), _T(b.take(np.arange(len(b))), "b.dat")
    agg = aggregate([ta, tb], consume=True)
    assert agg.names == ["a.dat", "b.dat"]
    for col in both.columns:
        got, want = agg.call_table[col], both[col]
        if col in ("func", "comm", "module"):
            got, want = agg.call_table.strings.decode(got), both.strings.decode(want)
        assert (got == want).all(), col
    with pytest.raises(ColumnNotLoaded):
        ta.call_table["duration"]
    assert len(ta.call_table) == len(a)
    r2 = hist(agg, "vfs_read", threshold=0)
    assert r2.calls == 4 and r2.traces == ["a.dat", "b.dat"]


# --- slowest -----------------------------------------------------------------------------------


def test_slowest_trees_collapse_and_interrupts():
    res = slowest(sample_calls(sched=True), "vfs_read", n=2, min="0")
    assert [s.duration_ns for s in res.slowest] == [3 * MS, 2 * MS]
    first = res.slowest[0]
    assert [ln.func for ln in first.lines] == ["vfs_read", "A", "C", "B", "irq_handler"]
    assert [ln.depth for ln in first.lines] == [0, 1, 2, 1, 1]
    irq = first.lines[-1]
    assert irq.interrupt and irq.ctx == IrqCtx.HARDIRQ
    assert first.irq_ns == 100 * US and first.tree_calls == 4
    col = slowest(sample_calls(sched=True), "vfs_read", n=1, min="600us").slowest[0]
    assert [ln.func for ln in col.lines] == ["vfs_read", "A", "C", ""]
    summary = col.lines[-1]
    assert summary.collapsed_calls == 2 and summary.duration_ns == 600 * US and summary.depth == 1
    assert col.collapsed_calls == 2 and col.shown_calls == 2
    assert res.truncated_calls == 1


def test_slowest_depth_collapses_the_deeper_calls():
    """--depth N draws N levels below X; the deeper calls fold into their level-N parent's
    summary line as short ones do (C under A here), and nothing else changes."""
    calls = sample_calls(sched=True)
    res = slowest(calls, "vfs_read", n=1, min="0", depth=1)
    t = res.slowest[0]
    assert [ln.func for ln in t.lines] == ["vfs_read", "A", "", "B", "irq_handler"]
    summary = t.lines[2]
    assert summary.depth == 2 and summary.collapsed_calls == 1 and summary.duration_ns == 1500 * US
    assert summary.offcpu_sleep_ns == 1 * MS  # C's sleep goes with it
    assert t.tree_calls == 4 and t.shown_calls == 3 and t.collapsed_calls == 1
    assert res.to_dict()["depth"] == 1 and "depth" not in slowest(calls, "vfs_read").to_dict()
    # deep enough: the same trees as without
    deep = slowest(calls, "vfs_read", n=2, min="0", depth=5).to_dict()
    full = slowest(calls, "vfs_read", n=2, min="0").to_dict()
    assert deep.pop("depth") == 5 and deep == full
    # with --min: a call is drawn only when long enough and shallow enough
    both = slowest(calls, "vfs_read", n=1, min="600us", depth=1).slowest[0]
    assert [ln.func for ln in both.lines] == ["vfs_read", "A", "", ""]
    assert [ln.collapsed_calls for ln in both.lines[2:]] == [1, 2]
    with pytest.raises(UsageError, match="--depth must be at least 1"):
        slowest(calls, "vfs_read", depth=0)


def test_render_tree_text():
    from fgraph.render.tree import write_slowest

    out = io.StringIO()
    write_slowest(slowest(sample_calls(sched=True), "vfs_read", n=1, min="600us"), out)
    text = out.getvalue()
    assert "#1 vfs_read  3.00 ms  pid 100 cat  cpu 0  1.000000 -> 1.003000" in text
    assert "|  vfs_read() {" in text and "|      C();  [off-cpu sleep 1.00 ms]" in text
    assert "|    ... 2 calls under 600 us: 600 us" in text
    assert text.rstrip().endswith("} /* vfs_read */")
    out = io.StringIO()
    write_slowest(slowest(sample_calls(sched=True), "vfs_read", n=1, min="0", depth=1), out)
    text = out.getvalue()
    assert "(calls under 0 ns or deeper than 1 level collapsed)" in text.splitlines()[0]
    assert "|      ... 1 call under 0 ns or deeper than 1 level: 1.50 ms" in text


def test_render_hist_text_bcc_style():
    from fgraph.render.hist import write_hist

    out = io.StringIO()
    write_hist(hist(sample_calls(), "vfs_read"), out)
    lines = out.getvalue().splitlines()
    assert "     usecs               : count     distribution" in lines
    assert "         0 -> 1          : 0        |                                        |" in lines
    assert "      2048 -> 4095       : 1        |****************************************|" in lines
    assert any("the rows add up to 100% of it" in ln for ln in lines)
    assert any(ln.strip().startswith("100.0%") and ln.endswith("total") for ln in lines)


def test_render_json_and_top_and_compare():
    from fgraph.render.hist import write_hist, write_top
    from fgraph.render.json import write_json

    out = io.StringIO()
    write_json(hist(sample_calls(), "vfs_read"), out)
    assert json.loads(out.getvalue())["slow_calls"] == 2
    out = io.StringIO()
    write_top(hist(sample_calls(), None), out)
    assert "Most self time:" in out.getvalue()
    out = io.StringIO()
    write_hist(hist(sample_calls(), "vfs_read", compare="fast"), out)
    assert "A = fast (< 1ms), B = slow (>= 1ms)" in out.getvalue()


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from fgraph.render.plot import write_plot

    p = tmp_path / "h.svg"
    write_plot(hist(sample_calls(), "vfs_read"), p)
    assert p.read_text().lstrip().startswith("<?xml")
    with pytest.raises(UsageError):
        write_plot(hist(sample_calls(), "vfs_read"), tmp_path / "h.txt")


def test_plot_without_matplotlib(monkeypatch):
    import sys

    from fgraph.errors import MissingDependencyError
    from fgraph.render.plot import write_plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"fgraph\[plot\]"):
        write_plot(hist(sample_calls(), "vfs_read"), "x.png")


def test_slowest_recursive_calls_keep_whole_trees():
    t = build_calls(
        [
            {"func": "X", "ts": 0, "dur": 4 * MS},
            {"func": "X", "parent": 0, "ts": 10, "dur": 3 * MS},
            {"func": "Y", "parent": 1, "ts": 20, "dur": 2 * MS},
        ]
    )
    res = slowest(t, "X", n=2, min=0)
    outer, inner = res.slowest
    assert [ln.func for ln in outer.lines] == ["X", "X", "Y"] and outer.tree_calls == 2
    assert [ln.func for ln in inner.lines] == ["X", "Y"] and [ln.depth for ln in inner.lines] == [
        0,
        1,
    ]
    assert (outer.rank, inner.rank) == (1, 2)


def test_irq_handlers_listed():
    res = hist(sample_calls(), "vfs_read")
    assert res.breakdown.irq_handlers == [("irq_handler", 1, 100 * US)]
    assert res.to_dict()["irq_handlers"] == [
        {"name": "irq_handler", "calls": 1, "total_ns": 100 * US}
    ]


def test_flag_names_per_value() -> None:
    """flag_names: the repair flags set, in CallFlag's order, HAS_RETVAL left out; a list of
    the caller's own each time (the names are kept per value)."""
    from fgraph.analysis.calls import flag_names
    from fgraph.schema import CallFlag

    v = int(CallFlag.TRUNCATED | CallFlag.SYNTH_ENTRY | CallFlag.HAS_RETVAL)
    a = flag_names(v)
    assert a == ["synth_entry", "truncated"]
    a.append("x")
    assert flag_names(v) == ["synth_entry", "truncated"]
    assert flag_names(0) == [] and flag_names(int(CallFlag.HAS_RETVAL)) == []
