"""The machine run on the records in place (``stacks.feed_rows``, what the rebuild does) is the
machine run on :func:`prepare`'s columns; the call attributes it keeps are those of the records
that made and closed each call; the pid generations follow their rule."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from gen_calls import GenTrace, call_sequences, to_events  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_reconstruct_props import damage  # noqa: E402

from fgraph.reconstruct import merge_order  # noqa: E402
from fgraph.reconstruct.calls import Rebuilder, _Prep, prepare  # noqa: E402
from fgraph.schema import EventFlag, EventKind  # noqa: E402
from fgraph.table import EventTable  # noqa: E402

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = st.sampled_from(("none", "drop", "cut", "gaps"))


def exit_durations_at(events: EventTable, rows: np.ndarray) -> np.ndarray:
    """The rule the machine follows for an exit's own duration: the printed or recorded one,
    else rettime - calltime (-1 when neither)."""
    dur = events["duration"][rows]
    need = np.flatnonzero(dur < 0)
    if len(need):
        r = rows[need]
        ct, rt = events["calltime"][r], events["rettime"][r]
        fill = (ct >= 0) & (rt >= ct)
        dur[need[fill]] = rt[fill] - ct[fill]
    return dur


def perturb(events: EventTable, rng: np.random.Generator) -> EventTable:
    """Some comms changed (the comm rule) and some switches made deaths (zombie marks)."""
    events = events.take(np.arange(len(events)))
    fg = np.flatnonzero(
        (events["kind"] == EventKind.FG_ENTRY) | (events["kind"] == EventKind.FG_EXIT)
    )
    if len(fg) and rng.random() < 0.5:
        sel = rng.choice(fg, size=max(1, len(fg) // 20), replace=False)
        events["comm"][sel] = events.strings.code("renamed")
    ft = events.fields.get("sched_switch")
    if ft is not None and len(ft):
        st_ = ft.columns["prev_state"].copy()
        st_[rng.random(len(st_)) < 0.3] = events.strings.code("Z")
        ft.columns["prev_state"] = st_
    return events


def reference_generations(events: EventTable, order: np.ndarray) -> np.ndarray:
    """Generation of each row's pid, record by record (calls.py Generations, one window)."""
    kind, pid, comm = events["kind"], events["pid"], events["comm"]
    depth, irq = events["depth"], events["irqctx"]
    marks: dict[int, int] = {}
    ft = events.fields.get("sched_switch")
    if ft is not None:
        for r, p, s in zip(ft.rows, ft.columns["prev_pid"], ft.columns["prev_state"]):
            if (events.strings[int(s)] or "")[:1] in ("Z", "X"):
                marks[int(r)] = int(p)
    fgrows = [r for r in order if kind[r] in (EventKind.FG_ENTRY, EventKind.FG_EXIT)]
    first: dict[int, int] = {}
    comm_rule = bool(fgrows) and min(pid[fgrows]) >= 0
    comm_rule = comm_rule and any(
        first.setdefault(int(pid[r]), int(comm[r])) != comm[r] for r in fgrows
    )
    pending: set[int] = set()
    gen: dict[int, int] = {}
    last: dict[int, int] = {}
    out = np.zeros(len(events), np.int64)
    for r in order:
        if r in marks:
            pending.add(marks[r])
        if kind[r] not in (EventKind.FG_ENTRY, EventKind.FG_EXIT):
            continue
        p = int(pid[r])
        entry0 = kind[r] == EventKind.FG_ENTRY and depth[r] == 0 and irq[r] <= 0
        start = entry0 and p in pending
        if start:
            pending.discard(p)
        if comm_rule:
            c = int(comm[r])
            start |= entry0 and last.get(p, -1) >= 0 and c >= 0 and c != last[p]
            last[p] = c
        gen[p] = gen.get(p, 0) + int(start)
        out[r] = gen[p]
    return out


@SETTINGS
@given(call_sequences(), st.integers(0, 2**32 - 1), MODES, st.integers(1, 40))
def test_feed_rows_is_the_machine_on_prepare(
    gen: GenTrace, seed: int, mode: str, size: int
) -> None:
    rng = np.random.default_rng(seed)
    events, _ = to_events(gen)
    if mode != "none":
        events = damage(events, rng, mode)
    events = perturb(events, rng)
    order = merge_order(events)
    inp = prepare(events, order)
    # the generations the task keys carry
    rows = inp.row[inp.row >= 0]
    live = events["pid"][rows] > 0  # (idle and unknown tasks are keyed by CPU)
    got = inp.task[inp.row >= 0][live] >> 33
    assert (got == reference_generations(events, order)[rows[live]]).all()

    whole = Rebuilder(4)
    cid = np.empty(len(inp), np.int64)
    whole.feed(inp, cid)
    a = whole.finish()
    parts = Rebuilder(4)
    prep = _Prep(events, order, 0)
    n = len(order)
    for lo in range(0, max(n, 1), size):
        parts.feed_rows(prep, lo, min(lo + size, n), attrs=True)
    b = parts.finish()
    attrs = parts.attrs()
    assert a.pop("counters") == b.pop("counters")
    for k in a:
        assert (a[k] == b[k]).all(), k

    # the attributes, as the records that entered and closed each call give them
    m = len(a["parent"])
    want = {
        "pid": np.full(m, -7, np.int32),
        "comm": np.full(m, -7, np.int32),
        "func": np.full(m, -7, np.int32),
        "module": np.full(m, -7, np.int32),
        "cpu_entry": np.full(m, -1, np.int16),
        "cpu_exit": np.full(m, -1, np.int16),
        "retval": np.zeros(m, np.int64),
        "xdur": np.full(m, -1, np.int64),
        "has_ret": np.zeros(m, bool),
    }
    ent, ex = inp.kind == 1, inp.kind == 2
    for side in (ex, ent):  # a call's entry gives these, else its exit
        for name in ("pid", "comm", "func", "module"):
            want[name][cid[side]] = events[name][inp.row[side]]
    c, r = cid[ent], inp.row[ent]
    want["cpu_entry"][c] = events["cpu"][r]
    c, r = cid[ex], inp.row[ex]
    want["cpu_exit"][c] = events["cpu"][r]
    want["xdur"][c] = exit_durations_at(events, r)
    hr = (events["eflags"][r] & EventFlag.HAS_RETVAL) != 0
    want["has_ret"][c] = hr
    want["retval"][c] = np.where(hr, events["retval"][r], 0)
    assert set(attrs) == set(want)
    for k, v in want.items():
        assert attrs[k].dtype == v.dtype and (attrs[k] == v).all(), k


@pytest.mark.parametrize("bad", [-1, "n"])
def test_an_order_outside_the_table_is_refused(bad: int | str) -> None:
    from conftest import corpus_file

    from fgraph._ext import stacks
    from fgraph.pipeline import read_events

    events = read_events(corpus_file("vm61/thresh.txt"))
    order = merge_order(events)
    args = list(_Prep(events, order, 0).rows_args(0, len(order)))
    o = args[0].copy()
    o[len(o) // 2] = len(events) if bad == "n" else bad
    args[0] = o
    with pytest.raises(ValueError, match="outside the table"):
        stacks.prepare_rows(*args)
    r = Rebuilder(4)
    with pytest.raises(ValueError, match="outside the table"):
        stacks.feed_rows(r._m, *args)
