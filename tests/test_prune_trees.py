"""The rebuild that keeps only X's trees (issue 7: ``fgraph hist --func X`` in a fraction of the
memory; ``WindowedRebuild(prune_to=X)``, ``stacks.prune``).

Its call table must be exactly the whole rebuild's calls in the trees -- calls joined by
``parent_id`` or ``interrupted_id`` -- that hold a call of X, every column the same (ids
renumbered), however often the machine prunes and wherever the windows cut.  And a depth-0 entry
ends what a later orphan exit may adopt (``stacks.c`` barrier), which is what lets trees settle.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

hypothesis = pytest.importorskip("hypothesis")
from gen_calls import GenTrace, call_sequences, to_events  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_reconstruct_props import damage  # noqa: E402
from test_reconstruct_window import windowed  # noqa: E402

from fgraph.table import CallTable, EventTable  # noqa: E402

IDS = ("call_id", "parent_id", "interrupted_id", "root_id")


def rebuilt(events: EventTable, size: int, prune_to: str | None = None, prune_min: int = 1):
    """The calls of ``events`` in windows of ``size`` records, the machine fed 97 timeline
    positions at a time (and pruned after each feed, with ``prune_to``)."""
    kw = {"prune_to": prune_to, "prune_min": prune_min}
    return windowed(events, size, min(size, 1 << 20), 97, **kw)[0]


def trees_holding(calls: CallTable, func: str) -> np.ndarray:
    """Rows of ``calls`` in a tree (parent or interrupted links) holding a call of ``func``."""
    n = len(calls)
    label = np.arange(n, dtype=np.int64)
    a_rows, b_rows = [], []
    for col in ("parent_id", "interrupted_id"):
        link = calls[col].astype(np.int64)
        has = np.flatnonzero(link >= 0)
        a_rows.append(has)
        b_rows.append(link[has])
    a, b = np.concatenate(a_rows), np.concatenate(b_rows)
    while True:  # least label over every link, until nothing moves
        before = label.copy()
        m = np.minimum(label[a], label[b])
        np.minimum.at(label, a, m)
        np.minimum.at(label, b, m)
        label = label[label]
        if (label == before).all():
            break
    code = calls.strings.lookup(func)
    hold = np.zeros(n, dtype=bool)
    if code >= 0:
        hold[label[calls["func"] == code]] = True
    return np.flatnonzero(hold[label])


def assert_pruned_is_trees(whole: CallTable, pruned: CallTable, func: str) -> None:
    rows = trees_holding(whole, func)
    assert len(pruned) == len(rows)
    lut = np.full(len(whole) + 1, -1, dtype=np.int64)
    lut[rows] = np.arange(len(rows))
    for name in whole.columns:
        want = whole[name][rows]
        if name in IDS:
            want = lut[want]  # (-1 stays -1: lut[-1] is the extra slot)
        got = pruned[name]
        assert got.dtype == want.dtype, name
        if got.dtype.kind == "f":
            assert np.array_equal(got, want, equal_nan=True), name
        else:
            assert (got == want).all(), name
    gone = set(np.unique(whole["func"][np.setdiff1d(np.arange(len(whole)), rows)]).tolist())
    got_gone = {int(whole.strings.lookup(f)) for f in pruned.funcs_let_go}
    assert got_gone == gone
    assert pruned.calls_let_go == len(whole) - len(rows)


def _funcs(calls: CallTable, k: int) -> list[str]:
    """``k`` functions of the table: the most called, one with the most time, one called once."""
    codes, counts = np.unique(calls["func"], return_counts=True)
    picks = [int(codes[np.argmax(counts)]), int(codes[np.argmin(counts)])]
    picks.append(int(calls["func"][np.argmax(calls["duration"])]))
    picks += [int(c) for c in codes[:: max(len(codes) // max(k - 3, 1), 1)]][: max(k - 3, 0)]
    return list(dict.fromkeys(str(calls.strings[c]) for c in picks))


@pytest.mark.parametrize(
    "name, size",
    [
        ("lost.dat", 997),  # lost-event gaps: orphans and truncated calls in the middle
        ("system.dat", 4096),  # 2 CPUs, migrations, interrupts, scheduler events (off-CPU)
        ("thresh.dat", 333),  # tracing_thresh: exits only, orphans adopting each other
        ("fsync.dat", 7777),  # pid generations across windows
        ("btrfs_read.txt", 500),  # text
    ],
)
def test_pruned_rebuild_is_the_trees_of_x(name: str, size: int) -> None:
    from fgraph.pipeline import read_events

    events = read_events(corpus_file(f"vm61/{name}"))
    whole = rebuilt(events, size)
    for func in _funcs(whole, 6) + ["no_such_function"]:
        for prune_min in (1, 1000):
            assert_pruned_is_trees(whole, rebuilt(events, size, func, prune_min), func)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    call_sequences(),
    st.integers(0, 2**32 - 1),
    st.sampled_from(("none", "drop", "cut", "gaps")),
    st.integers(1, 60),
)
def test_pruned_generated(gen: GenTrace, seed: int, mode: str, size: int) -> None:
    """Generated traces, damaged (records dropped, the start cut, lost-event gaps), in small
    windows, pruned after every machine feed."""
    events, _ = to_events(gen)
    if mode != "none":
        events = damage(events, np.random.default_rng(seed), mode)
    whole = rebuilt(events, size)
    if not len(whole):
        return
    rng = np.random.default_rng(seed)
    func = str(whole.strings[int(whole["func"][rng.integers(len(whole))])])
    assert_pruned_is_trees(whole, rebuilt(events, size, func), func)


def test_hist_is_the_same_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fgraph hist --func X`` reads only X's trees: its output is byte for byte what the
    whole rebuild gives, and an unknown function's error still names the functions traced."""
    from test_robustness_cli import fgraph

    from fgraph.cli import _progress
    from fgraph.pipeline import load_windowed
    from fgraph.reconstruct import window

    path = str(corpus_file("vm61/system.dat"))
    for func, extra in (
        ("schedule", ["--depth", "2"]),
        ("__do_softirq", ["--all"]),
        ("x64_sys_call", ["--by", "path", "--threshold", "p50", "--json"]),
        ("shedule", []),
    ):
        args = ["hist", path, "--func", func, *extra]
        monkeypatch.setattr(window, "PRUNE_MIN", 64)
        got = fgraph(*args)
        with monkeypatch.context() as m:  # the whole rebuild
            m.setattr(
                _progress,
                "load_calls",
                lambda p, columns=None, trees_of=None: load_windowed(p, columns=columns),
            )
            want = fgraph(*args)
        assert (got.returncode, got.stdout, got.stderr) == (
            want.returncode,
            want.stdout,
            want.stderr,
        )
    assert "did you mean schedule" in got.stderr
    t = load_windowed(path, trees_of="schedule")
    assert t.call_table.funcs_let_go


def _task_events(rows: list[tuple[int, int, str, int, int]]) -> EventTable:
    """One task's funcgraph records: (ts, kind 1/2, function, kernel depth, duration)."""
    from fgraph.schema import EventKind
    from fgraph.table import TraceMeta

    names = {1: "funcgraph_entry", 2: "funcgraph_exit"}
    t = EventTable.from_rows(
        [
            dict(
                ts=ts,
                cpu=0,
                pid=10,
                comm="t",
                event=names[k],
                kind=EventKind(k),
                func=f,
                depth=d,
                **({"duration": dur} if k == 2 else {}),
            )
            for ts, k, f, d, dur in rows
        ]
    )
    t.meta = TraceMeta(format="trace.dat", ncpus=1)
    return t


def test_an_orphan_adopts_nothing_before_a_depth0_entry() -> None:
    """The trace opens inside `outer`: the calls before its exit are its children, up to the
    task's last entry at kernel depth 0 with nothing open (the kernel had no traced call of
    the task open then), not before it."""
    from fgraph.reconstruct import rebuild

    calls, q = rebuild(
        _task_events(
            [
                (100, 1, "a", 1, 0),  # mid-call: `a` runs inside the unseen `outer`
                (110, 2, "a", 1, 10),
                (200, 1, "b", 0, 0),  # depth 0, nothing open: `outer` has returned
                (210, 2, "b", 0, 10),
                (300, 1, "c", 1, 0),  # inside a second unseen call (its entry lost)
                (310, 2, "c", 1, 10),
                (400, 2, "outer", 0, 350),  # its duration reaches back over b and a
            ]
        )
    )
    fn = [calls.strings[int(c)] for c in calls["func"]]
    par = {f: calls["parent_id"][i] for i, f in enumerate(fn)}
    outer = fn.index("outer")
    assert par["c"] == outer and par["b"] == outer  # after the barrier: adopted
    assert par["a"] == -1  # before it: not
    assert q.orphan_exits == 1
