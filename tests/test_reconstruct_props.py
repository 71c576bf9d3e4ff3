"""Property tests of the rebuild: generated call sequences come back exactly; damage is counted."""

from __future__ import annotations

import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from gen_calls import GenTrace, call_sequences, expected_offcpu, generate, to_events  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fgraph.reconstruct import rebuild  # noqa: E402
from fgraph.schema import CallFlag, EventKind  # noqa: E402
from fgraph.table import EventTable, LostTable  # noqa: E402

SETTINGS = settings(
    max_examples=int(os.environ.get("FGRAPH_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def check_invariants(calls, quality, events: EventTable) -> None:
    calls.validate()
    n = len(calls)
    assert (calls["call_id"] == np.arange(n)).all()
    parent = calls["parent_id"]
    has = parent >= 0
    assert (parent[has] < calls["call_id"][has]).all(), "parents before children"
    assert (calls["depth"][has] == calls["depth"][parent[has]] + 1).all()
    assert (calls["depth"][~has] == 0).all()
    assert (calls["ctx"][has] == calls["ctx"][parent[has]]).all()
    irq_roots = calls["interrupted_id"] >= 0
    assert (calls["interrupted_id"][irq_roots] < np.arange(n)[irq_roots]).all()
    assert not (irq_roots & has).any()
    assert quality.events_unaccounted == 0
    assert calls.strings is events.strings
    f = calls["flags"]
    assert quality.orphan_exits == int(((f & CallFlag.SYNTH_ENTRY) != 0).sum())
    assert quality.closed_by_outer == int(((f & CallFlag.CLOSED_BY_OUTER) != 0).sum())
    assert quality.unclosed_entries + quality.closed_by_outer == int(
        ((f & CallFlag.TRUNCATED) != 0).sum()
    )
    synth = (f & CallFlag.SYNTH_ENTRY) != 0
    assert (calls["entry_row"][synth] == -1).all() and (calls["entry_row"][~synth] >= 0).all()
    trunc = (f & CallFlag.TRUNCATED) != 0
    assert (calls["exit_row"][trunc] == -1).all() and (calls["exit_row"][~trunc] >= 0).all()
    d = calls["duration"]
    known = (calls["ts_entry"] >= 0) & (calls["ts_exit"] >= 0)
    assert (calls["ts_exit"][known] >= calls["ts_entry"][known]).all()
    assert (d[known] >= 0).all()


def compare(gen: GenTrace, events: EventTable, row_of_seq: np.ndarray) -> None:
    calls, q = rebuild(events)
    check_invariants(calls, q, events)
    assert len(calls) == len(gen.calls)
    assert q.orphan_exits == q.unclosed_entries == q.closed_by_outer == 0
    # true call of each rebuilt call, through its entry record
    seq_of_row = np.empty(len(row_of_seq), np.int64)
    seq_of_row[row_of_seq] = np.arange(len(row_of_seq))
    true_by_entry_seq = {c.entry_seq: c for c in gen.calls}
    rebuilt_of_true = {}
    truth = []
    for i, er in enumerate(calls["entry_row"]):
        c = true_by_entry_seq[int(seq_of_row[er])]
        rebuilt_of_true[c.id] = i
        truth.append(c)
    strings = events.strings
    exp_irq = np.zeros(len(calls), np.int64)
    exp_child = np.zeros(len(calls), np.int64)
    for i, c in enumerate(truth):
        assert strings[int(calls["func"][i])] == c.func
        assert calls["pid"][i] == c.pid
        assert calls["parent_id"][i] == (rebuilt_of_true[c.parent] if c.parent >= 0 else -1)
        assert calls["interrupted_id"][i] == (
            rebuilt_of_true[c.interrupted] if c.interrupted >= 0 else -1
        )
        assert calls["ctx"][i] == c.ctx
        assert calls["depth"][i] == c.depth
        assert calls["kernel_depth"][i] == c.kdepth
        assert calls["ts_entry"][i] == c.ts_entry and calls["ts_exit"][i] == c.ts_exit
        assert calls["duration"][i] == c.ts_exit - c.ts_entry
        assert calls["cpu_entry"][i] == c.cpu_entry and calls["cpu_exit"][i] == c.cpu_exit
        assert calls["exit_row"][i] == row_of_seq[c.exit_seq]
        want = CallFlag.MIGRATED if c.cpu_entry != c.cpu_exit else 0
        assert calls["flags"][i] == want, (i, c, calls["flags"][i])
        if c.interrupted >= 0:
            exp_irq[rebuilt_of_true[c.interrupted]] += c.ts_exit - c.ts_entry
        if c.parent >= 0:
            exp_child[rebuilt_of_true[c.parent]] += c.ts_exit - c.ts_entry
    assert (calls["irq_ns"] == exp_irq).all()
    assert (calls["self"] == calls["duration"] - exp_child - exp_irq).all()
    assert q.depth_mismatches == {
        "ancestors_not_traced": 0,
        "repair": 0,
        "entry_in_flight": 0,
        "exit_in_flight": 0,
        "interrupt": 0,
        "other": 0,
    }
    if "sched_switch" in events.fields:
        off = expected_offcpu(gen)
        for tid, (s, r) in off.items():
            i = rebuilt_of_true[tid]
            assert (calls["offcpu_sleep_ns"][i], calls["offcpu_runnable_ns"][i]) == (s, r), (
                tid,
                truth[i],
            )


@SETTINGS
@given(call_sequences())
def test_generated_calls_come_back(gen: GenTrace) -> None:
    events, row_of_seq = to_events(gen)
    compare(gen, events, row_of_seq)


def test_generated_big_deep() -> None:
    gen = generate(7, ncpu=4, ntasks=6, steps=3000, p_irq=0.1)
    events, row_of_seq = to_events(gen)
    compare(gen, events, row_of_seq)


def test_deep_stack_no_recursion_limit() -> None:
    """Stacks much deeper than Python's recursion limit."""
    from fgraph.table import TraceMeta

    depth = 5000
    n = 2 * depth
    ts = np.arange(n, dtype=np.int64)
    kind = np.r_[np.full(depth, EventKind.FG_ENTRY), np.full(depth, EventKind.FG_EXIT)].astype(
        np.int8
    )
    from fgraph.table import StringPool

    pool = StringPool(["f"])
    cols = {
        "ts": ts,
        "cpu": np.zeros(n, np.int16),
        "pid": np.full(n, 7, np.int32),
        "kind": kind,
        "func": np.zeros(n, np.int32),
        "irqctx": np.zeros(n, np.int8),
        "depth": np.r_[np.arange(depth), np.arange(depth)[::-1]].astype(np.int32),
        "calltime": np.r_[np.full(depth, -1), np.arange(depth)[::-1]].astype(np.int64),
        "rettime": np.r_[np.full(depth, -1), np.arange(depth, n)].astype(np.int64),
    }
    ev = EventTable(cols, pool, meta=TraceMeta(format="trace.dat"))
    calls, q = rebuild(ev)
    assert len(calls) == depth and q.events_unaccounted == 0
    assert calls["depth"].max() == depth - 1
    assert calls["flags"].max() == 0


# ---------------------------------------------------------------- damage


def damage(events: EventTable, rng: np.random.Generator, mode: str) -> EventTable:
    n = len(events)
    if n == 0:
        return events
    order = np.argsort(events["ts"], kind="stable")
    keep = np.ones(n, bool)
    lost_rows: list[tuple[int, int, int]] = []
    if mode == "drop":
        keep[rng.random(n) < 0.1] = False
    elif mode == "cut":
        a = rng.integers(0, n // 3 + 1)
        b = rng.integers(0, n // 3 + 1)
        keep[order[:a]] = False
        keep[order[n - b :]] = False
    elif mode == "gaps":
        cpu = events["cpu"]
        for _ in range(rng.integers(1, 4)):
            c = rng.integers(0, cpu.max() + 1)
            rows = np.nonzero(cpu == c)[0]
            if len(rows) < 3:
                continue
            a = rng.integers(0, len(rows) - 1)
            b = min(len(rows) - 1, a + rng.integers(1, 20))
            keep[rows[a:b]] = False
            lost_rows.append((int(c), int(rows[b]), int(b - a)))
    idx = np.nonzero(keep)[0]
    out = events.take(idx)
    if lost_rows:
        newpos = np.full(n, -1, np.int64)
        newpos[idx] = np.arange(len(idx))
        rows_ = [newpos[r] for _, r, _ in lost_rows]
        out.lost = LostTable(
            {
                "cpu": np.array([c for c, _, _ in lost_rows], np.int16),
                "row": np.array(rows_, np.int64),
                "ts": np.array([out["ts"][r] if r >= 0 else -1 for r in rows_], np.int64),
                "count": np.array([k for _, _, k in lost_rows], np.int64),
            },
            out.strings,
        )
    return out


@SETTINGS
@given(call_sequences(), st.integers(0, 2**32 - 1), st.sampled_from(("drop", "cut", "gaps")))
def test_damaged_input_is_accounted(gen: GenTrace, seed: int, mode: str) -> None:
    events, _ = to_events(gen)
    bad = damage(events, np.random.default_rng(seed), mode)
    calls, q = rebuild(bad)
    check_invariants(calls, q, bad)
    fg = int(np.isin(bad["kind"], (EventKind.FG_ENTRY, EventKind.FG_EXIT)).sum())
    assert q.funcgraph_events == fg
    assert fg == len(calls) * 2 - q.orphan_exits - q.unclosed_entries - q.closed_by_outer
    if mode == "gaps" and len(bad.lost):
        assert q.lost_gaps == len(bad.lost)
        assert q.lost_events == int(bad.lost["count"].sum())


def test_cut_start_rebuilds_upward() -> None:
    """A trace that opens mid-call: each orphan exit adopts the calls before it, and the
    whole tree comes back (the synthesized calls stand for the lost entries)."""
    gen = generate(3, ncpu=1, ntasks=2, steps=300, p_irq=0.1, equal_ts=False)
    events, _ = to_events(gen)
    full, _ = rebuild(events)
    cut = int(np.argmax(full["depth"][: max(1, len(full) // 2)]))
    er = int(full["entry_row"][cut])  # one CPU: row order is time order
    bad = events.take(np.arange(er + 1, len(events)))
    calls, q = rebuild(bad)
    check_invariants(calls, q, bad)
    open_at_cut = (full["entry_row"] <= er) & (full["exit_row"] > er)
    assert q.orphan_exits == int(open_at_cut.sum())
    assert q.unclosed_entries == q.closed_by_outer == 0
    # same tree: map each full call to the rebuilt call through its exit record
    by_exit = {int(r) - er - 1: i for i, r in enumerate(full["exit_row"]) if r > er}
    rebuilt_of_full = {fi: ci for ci, r in enumerate(calls["exit_row"]) for fi in [by_exit[int(r)]]}
    for fi, ci in rebuilt_of_full.items():
        fp = int(full["parent_id"][fi])
        want = rebuilt_of_full.get(fp, -1) if fp >= 0 else -1
        assert calls["parent_id"][ci] == want, (fi, ci)
        assert calls["duration"][ci] == full["duration"][fi]
        fi_int = int(full["interrupted_id"][fi])
        assert calls["interrupted_id"][ci] == (
            rebuilt_of_full.get(fi_int, -1) if fi_int >= 0 else -1
        )


# ---------------------------------------------------------------- text round trip


def _with_latency_flags(events: EventTable) -> EventTable:
    """common_flags from the generated context, so the latency text carries it."""
    ctx = events["irqctx"]
    events["flags"] = np.select([ctx == 1, ctx == 2, ctx == 3], [0x10, 0x08, 0x48], 0).astype(
        np.int16
    )
    return events


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call_sequences())
def test_generated_calls_through_text(gen: GenTrace) -> None:
    """Rendered as function_graph text (fgraph/export/ftrace_text.py) and read back, the
    rebuild finds the same calls."""
    import io

    pytest.importorskip("fgraph.export.ftrace_text")
    pytest.importorskip("fgraph.parsers.ftrace_text")
    from fgraph.export.ftrace_text import write_function_graph
    from fgraph.pipeline import read_events

    events = _with_latency_flags(to_events(gen)[0])
    calls, _ = rebuild(events)
    if len(calls) == 0:
        return
    buf = io.StringIO()
    other = np.nonzero(~np.isin(events["kind"], (EventKind.FG_ENTRY, EventKind.FG_EXIT)))[0]
    write_function_graph(events, calls, np.arange(len(calls)), other, buf)
    text_events = read_events(buf.getvalue().encode())
    calls2, q2 = rebuild(text_events)
    check_invariants(calls2, q2, text_events)
    assert len(calls2) == len(calls)
    for col in (
        "parent_id",
        "interrupted_id",
        "ctx",
        "depth",
        "kernel_depth",
        "duration",
        "pid",
        "cpu_entry",
    ):
        assert (calls[col] == calls2[col]).all(), col
    assert (
        events.strings.decode(calls["func"]) == text_events.strings.decode(calls2["func"])
    ).all()


# ---------------------------------------------------------------- chunked feeding (issue 7)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    call_sequences(), st.integers(0, 2**32 - 1), st.sampled_from(("none", "drop", "cut", "gaps"))
)
def test_feeding_in_chunks_gives_the_same_calls(gen: GenTrace, seed: int, mode: str) -> None:
    """The machine keeps its stacks between feeds: any split of the timeline is the same."""
    from fgraph.reconstruct import merge_order
    from fgraph.reconstruct.calls import MachineInput, Rebuilder, prepare

    events, _ = to_events(gen)
    if mode != "none":
        events = damage(events, np.random.default_rng(seed), mode)
    inp = prepare(events, merge_order(events))
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, len(inp) + 1, size=rng.integers(0, 5)))
    whole = Rebuilder(4)
    whole.feed(inp)
    a = whole.finish()
    parts = Rebuilder(4)
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(inp)]):
        parts.feed(MachineInput(**{k: v[lo:hi] for k, v in vars(inp).items()}))
    b = parts.finish()
    assert a.pop("counters") == b.pop("counters")
    for k in a:
        assert (a[k] == b[k]).all(), k


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    call_sequences(),
    st.integers(0, 2**32 - 1),
    st.sampled_from(("none", "drop", "cut", "gaps")),
    st.integers(1, 40),
)
def test_windowed_input_is_the_whole_input(gen: GenTrace, seed: int, mode: str, size: int) -> None:
    """prepare_windows (what rebuild feeds) cut together is prepare's input, gaps included."""
    from fgraph.reconstruct import merge_order
    from fgraph.reconstruct.calls import prepare, prepare_windows

    events, _ = to_events(gen)
    if mode != "none":
        events = damage(events, np.random.default_rng(seed), mode)
    order = merge_order(events)
    whole = prepare(events, order)
    parts = list(prepare_windows(events, order, size))
    for k, v in vars(whole).items():
        cut = np.concatenate([getattr(p, k) for p in parts])
        assert cut.dtype == v.dtype and (cut == v).all(), k
