"""The windowed rebuild (issue 7): a trace fed as consecutive timeline windows gives the same
call table and quality report as the whole table, with window boundaries cutting through calls,
across CPUs, at lost-event gaps, through pid reuse and interrupts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

hypothesis = pytest.importorskip("hypothesis")
from gen_calls import GenTrace, call_sequences, to_events  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_reconstruct_props import damage  # noqa: E402

from fgraph.reconstruct import WindowedRebuild, rebuild  # noqa: E402
from fgraph.reconstruct.window import split_windows  # noqa: E402
from fgraph.table import EventTable  # noqa: E402


def _ncpu(events: EventTable) -> int:
    return int(max(events["cpu"].max(initial=-1), events.lost["cpu"].max(initial=-1))) + 1


def windowed(events: EventTable, size: int, prefix: int, step: int = 1 << 20, **kw):
    """``events`` fed in timeline windows of ``size`` records (``kw``: WindowedRebuild's)."""
    rb = WindowedRebuild(_ncpu(events), events.meta, events.strings, prefix, step, **kw)
    for w, order, rows in split_windows(events, size):
        rb.feed(w, order, rows)
    return rb.finish()


def whole(events: EventTable, prefix: int):
    rb = WindowedRebuild(_ncpu(events), events.meta, events.strings, prefix)
    rb.feed(events, keep_others=False)
    return rb.finish()


def assert_same(a, b) -> None:
    ca, qa, oa = a
    cb, qb, ob = b
    assert len(ca) == len(cb)
    for name in ca.columns:
        assert (ca[name] == cb[name]).all(), name
    assert qa.to_dict() == qb.to_dict()
    # the windowed path keeps only the events that are not funcgraph records, in timeline order
    ob = ob.take(np.flatnonzero(~np.isin(ob["kind"], [1, 2])))
    assert len(oa) == len(ob)
    assert (np.sort(oa["ts"]) == np.sort(ob["ts"])).all()


@pytest.mark.parametrize(
    "name, sizes",
    [
        ("lost.dat", (997, 20_000)),  # 115 lost-event gaps, 2 CPUs
        ("system.dat", (4096, 65_536)),  # 2 CPUs, migrations, interrupts, scheduler events
        ("thresh.dat", (333,)),  # tracing_thresh: exits only, orphans adopting each other
        ("fsync.dat", (7777,)),  # 12 dead-task switch-outs: pid generations across windows
        ("smp4_instances.dat", (1000,)),
        ("btrfs_read.txt", (500,)),  # text: no merge, derived timestamps
    ],
)
def test_windows_give_the_whole_rebuild(name: str, sizes: tuple[int, ...]) -> None:
    from fgraph.pipeline import read_events

    events = read_events(corpus_file(f"vm61/{name}"))
    for size in sizes:
        prefix = min(size, 1 << 20)
        ref = whole(events, prefix)
        assert_same(windowed(events, size, prefix), ref)
    # the machine's own feeds may be cut finer than the windows
    assert_same(windowed(events, sizes[0], sizes[0], step=101), whole(events, sizes[0]))


def test_one_window_is_rebuild() -> None:
    from fgraph.pipeline import read_events

    events = read_events(corpus_file("vm61/lost.dat"))
    calls, quality = rebuild(events)
    c2, q2, _ = windowed(events, len(events) + 1, 1 << 20)
    for name in calls.columns:
        assert (calls[name] == c2[name]).all(), name
    assert quality.to_dict() == q2.to_dict()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    call_sequences(),
    st.integers(1, 60),
    st.integers(0, 2**32 - 1),
    st.sampled_from(("none", "drop", "cut", "gaps")),
)
def test_any_window_size_on_generated_traces(
    gen: GenTrace, size: int, seed: int, mode: str
) -> None:
    """Migrations, nested interrupts, recursion, pid reuse; records dropped, the trace cut,
    lost-event gaps: any window size gives the whole rebuild."""
    events, _ = to_events(gen)
    if mode != "none":
        events = damage(events, np.random.default_rng(seed), mode)
    assert_same(windowed(events, size, size), whole(events, size))


def prepared_ahead(events: EventTable, size: int, prefix: int):
    """Every window prepared before the machine runs on any (``load_windowed`` prepares them
    in its decode thread while the main thread runs the machine): the preparation carries its
    state from window to window without the machine."""
    rb = WindowedRebuild(_ncpu(events), events.meta, events.strings, prefix)
    held = []
    ready = []
    tables = []
    for w, order, rows in split_windows(events, size):
        p = rb.prepare(w, order, rows)
        held.append(p is None)
        ready.append(p)
        tables.append(w)
        if isinstance(p, list):
            # the held windows come back prepared one by one, each on its own table (not
            # joined into a copy of them all)
            assert all(q.events is t for q, t in zip(p, tables[-len(p) :], strict=True))
            assert all(q.delay == p[0].delay is not None for q in p)
    for p in ready:
        rb.consume(p)
    return rb.finish(), held


@pytest.mark.parametrize("name", ["lost.dat", "system.dat", "fsync.dat", "btrfs_read.txt"])
def test_windows_prepared_ahead_of_the_machine(name: str) -> None:
    from fgraph.pipeline import read_events

    events = read_events(corpus_file(f"vm61/{name}"))
    out, held = prepared_ahead(events, 1500, 4000)
    assert_same(out, whole(events, 4000))
    # the first windows are held until they have the record delay's prefix, then returned
    # together (by the last of them); a trace shorter than the prefix runs at finish
    assert held[:2] == [True, True] and held[2:] == [False] * (len(held) - 2)
    out, held = prepared_ahead(events, 1500, len(events) + 1)
    assert all(held)
    assert_same(out, whole(events, len(events) + 1))


def test_consume_of_nothing_is_nothing() -> None:
    from fgraph.pipeline import read_events

    events = read_events(corpus_file("vm61/thresh.dat"))
    rb = WindowedRebuild(_ncpu(events), events.meta, events.strings)
    rb.consume(None)
    rb.feed(events, keep_others=False)
    rb.consume(None)
    c, q, _ = rb.finish()
    ref, qref = rebuild(events)
    assert len(c) == len(ref) and q.to_dict() == qref.to_dict()


def test_windows_must_share_the_pool() -> None:
    from fgraph.pipeline import read_events

    events = read_events(corpus_file("vm61/thresh.dat"))
    rb = WindowedRebuild(_ncpu(events), events.meta, events.strings)
    other = read_events(corpus_file("vm61/thresh.dat"))
    with pytest.raises(ValueError):
        rb.feed(other)


def test_scheduler_events_kept_for_offcpu() -> None:
    """Only the events that are not funcgraph records are kept between windows."""
    from fgraph.pipeline import read_events

    events = read_events(corpus_file("vm61/system.dat"))
    _, _, others = windowed(events, 50_000, 50_000)
    fg = np.isin(events["kind"], [1, 2])
    assert len(others) == int((~fg).sum())
    assert "sched_switch" in others.fields


def test_the_depth_check_in_its_own_thread_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Big tables run the depth check beside the off-CPU times (PARALLEL_FINISH_CALLS)."""
    from fgraph.pipeline import read_events
    from fgraph.reconstruct import window

    events = read_events(corpus_file("vm61/system.dat"))
    ref = whole(events, 4096)
    monkeypatch.setattr(window, "PARALLEL_FINISH_CALLS", 1)
    calls, quality, _ = whole(events, 4096)
    for name in calls.columns:
        assert (calls[name] == ref[0][name]).all(), name
    assert quality.to_dict() == ref[1].to_dict()
    assert sum(ref[1].to_dict()["depth_mismatches"].values())  # (the check did count)


def test_an_error_in_the_depth_check_thread_is_raised_once(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from fgraph.pipeline import read_events
    from fgraph.reconstruct import window

    events = read_events(corpus_file("vm61/btrfs_read.dat"))

    def broken(calls):  # type: ignore[no-untyped-def]
        raise ValueError("depth check failed")

    monkeypatch.setattr(window, "PARALLEL_FINISH_CALLS", 1)
    monkeypatch.setattr(window, "depth_check", broken)
    with pytest.raises(ValueError, match="depth check failed"):
        whole(events, 4096)
    assert "Traceback" not in capfd.readouterr().err  # (not printed by the thread)
