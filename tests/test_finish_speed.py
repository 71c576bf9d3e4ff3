"""The C passes at the end of the rebuild (stacks.overfull, times, trees, remap, invert: issue 7,
build_table's speed) against the numpy steps they replaced, on random forests and the corpus."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

from fgraph._ext import stacks
from fgraph.pipeline import load_windowed
from fgraph.reconstruct import calls as calls_mod
from fgraph.reconstruct.calls import (
    _entry_order,
    _fix_overfull,
    _nest_lower_interrupts,
    _OwnPlaces,
    _perm_of,
)
from fgraph.schema import CallFlag, IrqCtx

BYNAME = np.uint16(CallFlag.CTX_BY_NAME)


def _forest(seed: int, n: int, ordered: bool = True) -> dict[str, np.ndarray]:
    """Random calls: parents before children (``ordered``) or, like the machine's creation
    order, a few parents after their children; interrupt roots with an interrupted call."""
    rng = np.random.default_rng(seed)
    parent = np.full(n, -1, np.int64)
    for i in range(1, n):
        if rng.random() < 0.85:
            parent[i] = rng.integers(max(0, i - 20), i)
    interrupted = np.full(n, -1, np.int64)
    roots = np.flatnonzero(parent < 0)
    irq_roots = roots[rng.random(len(roots)) < 0.5]
    irq_roots = irq_roots[irq_roots > 0]
    interrupted[irq_roots] = rng.integers(0, irq_roots)
    if not ordered and n > 2:
        # relabel a few rows: some parents then come after their children
        perm = np.arange(n)
        swap = rng.choice(n, size=max(2, n // 20), replace=False)
        perm[swap] = swap[rng.permutation(len(swap))]
        inv = np.empty(n, np.int64)
        inv[perm] = np.arange(n)
        parent = np.where(parent[perm] >= 0, inv[np.maximum(parent[perm], 0)], -1)
        interrupted = np.where(interrupted[perm] >= 0, inv[np.maximum(interrupted[perm], 0)], -1)
    dur = rng.integers(0, 5000, n).astype(np.int64)
    dur[rng.random(n) < 0.1] = -1
    ts_entry = rng.integers(0, 10**6, n).astype(np.int64)
    ts_exit = ts_entry + rng.integers(-10, 6000, n)
    ts_entry[rng.random(n) < 0.05] = -1
    ts_exit[rng.random(n) < 0.05] = -1
    flags = rng.choice(
        np.array([0, CallFlag.TRUNCATED, CallFlag.CTX_BY_NAME, CallFlag.SYNTH_ENTRY], np.uint16),
        n,
        p=[0.7, 0.1, 0.1, 0.1],
    ).astype(np.uint16)
    ctx = rng.integers(-1, 4, n).astype(np.int8)
    kdepth = rng.integers(-1, 8, n).astype(np.int32)
    return dict(
        parent=parent,
        interrupted=interrupted,
        dur=dur,
        ts_entry=ts_entry,
        ts_exit=ts_exit,
        flags=flags,
        ctx=ctx,
        kdepth=kdepth,
    )


def _inner(
    parent: np.ndarray, interrupted: np.ndarray, dur: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per call, the summed durations (negative ones count 0) of its children and of the
    interrupts that hit it (the numpy reference of what stacks.times and overfull sum)."""
    n = len(dur)
    d = np.maximum(dur, 0)
    sums = []
    for up in (parent, interrupted):
        s = np.zeros(n, np.int64)
        ok = (up >= 0) & (up < n)
        np.add.at(s, up[ok], d[ok])
        sums.append(s)
    return sums[0], sums[1]


def _floor(parent: np.ndarray, duration: np.ndarray, trunc: np.ndarray) -> np.ndarray:
    """A truncated call lasts at least as long as its (positive) children together; children
    after their parent, so one backward walk sees every child first."""
    dur = duration.copy()
    acc = np.zeros(len(dur) + 1, np.int64)
    for i in range(len(dur) - 1, -1, -1):
        if trunc[i] and acc[i] > dur[i]:
            dur[i] = acc[i]
        p = parent[i]
        if 0 <= p < i and dur[i] > 0:
            acc[p] += dur[i]
    return dur


def _times_reference(
    parent: np.ndarray,
    interrupted: np.ndarray,
    duration: np.ndarray,
    ts_entry: np.ndarray,
    ts_exit: np.ndarray,
    flags: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """build_table's numpy steps before stacks.times: (duration, self, irq_ns)."""
    duration = duration.copy()
    no_exit_dur = duration < 0
    duration[no_exit_dur] = -1
    np.subtract(
        ts_exit, ts_entry, out=duration, where=no_exit_dur & (ts_entry >= 0) & (ts_exit >= 0)
    )
    trunc = (flags & CallFlag.TRUNCATED) != 0
    if trunc.any():
        duration = _floor(parent, duration, trunc)
    self_ns, irq_ns = _inner(parent, interrupted, duration)
    np.subtract(duration, self_ns, out=self_ns)
    self_ns -= irq_ns
    self_ns[duration < 0] = -1
    return duration, self_ns, irq_ns


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ordered", [True, False])
def test_times_is_the_numpy_sequence(seed: int, ordered: bool) -> None:
    f = _forest(seed, 3000, ordered)
    args = (f["parent"], f["interrupted"], f["dur"], f["ts_entry"], f["ts_exit"], f["flags"])
    want = _times_reference(*args)
    duration = f["dur"].copy()
    self_ns, irq_ns = stacks.times(
        f["parent"], f["interrupted"], duration, f["ts_entry"], f["ts_exit"], f["flags"]
    )
    assert np.array_equal(duration, want[0])
    assert np.array_equal(self_ns, want[1])
    assert np.array_equal(irq_ns, want[2])
    # made in the caller's arrays (whatever they held)
    spare_self, spare_irq = np.full(len(duration), 7), np.full(len(duration), -3)
    duration = f["dur"].copy()
    got = stacks.times(
        f["parent"],
        f["interrupted"],
        duration,
        f["ts_entry"],
        f["ts_exit"],
        f["flags"],
        spare_self,
        spare_irq,
    )
    assert got[0] is spare_self and got[1] is spare_irq
    assert np.array_equal(spare_self, want[1]) and np.array_equal(spare_irq, want[2])
    # and the calls' time span on the way: valid_range's
    rng = np.full(4, 9, np.int64)
    stacks.times(*args[:2], f["dur"].copy(), *args[3:], None, None, rng)
    span = stacks.valid_range(f["ts_entry"], f["ts_exit"])
    assert span is not None and (rng[0], rng[1], rng[2]) == (1, *span)
    assert rng[3] == int(want[2].sum())  # (and irq_ns' sum)
    none = np.full(len(duration), -1, np.int64)
    stacks.times(*args[:2], f["dur"].copy(), none, none, args[5], None, None, rng)
    assert list(rng[:3]) == [0, 0, 0] and stacks.valid_range(none, none) is None
    with pytest.raises(TypeError):
        stacks.times(*args[:2], f["dur"].copy(), *args[3:], None, None, np.zeros(3, np.int64))


def test_times_checks_the_column_it_writes() -> None:
    z = np.zeros(3, np.int64)
    with pytest.raises(TypeError):
        stacks.times(z, z, z.astype(np.int32), z, z, z.astype(np.uint16))
    with pytest.raises(TypeError):
        stacks.times(z, z, np.zeros(6, np.int64)[::2], z, z, z.astype(np.uint16))
    with pytest.raises(ValueError):
        stacks.times(z, z, z.copy(), z[:2], z, z.astype(np.uint16))
    e = np.empty(0, np.int64)
    assert [len(a) for a in stacks.times(e, e, e.copy(), e, e, e.astype(np.uint16))] == [0, 0]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tol", [0, 1000])
def test_overfull_is_the_numpy_test(seed: int, tol: int) -> None:
    f = _forest(seed, 3000, ordered=seed % 2 == 0)
    parent, interrupted, dur, kd = f["parent"], f["interrupted"], f["dur"], f["kdepth"]
    child_ns, irq_ns = _inner(parent, interrupted, dur)
    want = np.flatnonzero((dur >= 0) & (child_ns + irq_ns > dur + tol) & (kd >= 0))
    got = stacks.overfull(parent, interrupted, dur, kd, tol)
    assert got.dtype == np.int64
    assert np.array_equal(got, want)
    acc = np.zeros(len(dur), np.int64)
    assert np.array_equal(stacks.overfull(parent, interrupted, dur, kd, tol, acc), want)
    assert np.array_equal(acc, child_ns + irq_ns)  # (the sums, kept)
    assert len(want)  # (the forest has some)
    # zero: the sums made in any array, cleared first
    acc = np.arange(len(dur), dtype=np.int64)
    assert np.array_equal(stacks.overfull(parent, interrupted, dur, kd, tol, acc, True), want)
    assert np.array_equal(acc, child_ns + irq_ns)


@pytest.mark.parametrize("seed", range(6))
def test_trees_is_resolve(seed: int) -> None:
    f = _forest(seed, 3000)
    parent, flags, ctx = f["parent"], f["flags"], f["ctx"]
    depth, root = stacks.resolve(parent)
    c, fl = ctx.copy(), flags.copy()
    got = stacks.trees(parent, c, fl, 3)
    assert got is not None
    assert np.array_equal(got[0], depth) and got[0].dtype == np.int32
    assert np.array_equal(got[1], root)
    assert got[2] is False
    assert np.array_equal(c, ctx[root])
    assert np.array_equal(fl, flags | (flags[root] & BYNAME))
    # each part alone
    c2 = ctx.copy()
    d2, r2, _ = stacks.trees(parent, c2, None) or (None, None, None)
    assert np.array_equal(d2, depth) and r2 is None and np.array_equal(c2, c)
    fl2 = flags.copy()
    assert stacks.trees(parent, None, fl2, 0) == (None, None, False)
    assert np.array_equal(fl2, fl)


def test_trees_gives_up_when_a_parent_comes_later() -> None:
    """None; the flags untouched, and every root's ctx too (what resolve's fallback reads)."""
    f = _forest(1, 500, ordered=False)
    c, fl = f["ctx"].copy(), f["flags"].copy()
    assert stacks.trees(f["parent"], c, fl, 3) is None
    roots = f["parent"] < 0
    assert np.array_equal(c[roots], f["ctx"][roots]) and np.array_equal(fl, f["flags"])
    with pytest.raises(TypeError):
        stacks.trees(f["parent"], f["ctx"].astype(np.int16), None)


def _nest_reference(
    parent: np.ndarray,
    interrupted: np.ndarray,
    depth: np.ndarray,
    root: np.ndarray,
    ctx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """build_table's numpy version before the in-place one.  Inside an interrupt, code of the same or a lower context is part of that interrupt's
    tree (the machine nests it as it goes).  A synthesized interrupt root can adopt calls that
    were first seen outside it, together with the interrupts they had: nest those too."""
    for _ in range(8):
        tree_ctx = ctx[root]
        r = np.nonzero(interrupted >= 0)[0]
        i = interrupted[r]
        move = r[(tree_ctx[i] != IrqCtx.TASK) & (tree_ctx[r] <= tree_ctx[i])]
        if not len(move):
            break
        parent = parent.copy()
        interrupted = interrupted.copy()
        parent[move] = interrupted[move]
        interrupted[move] = -1
        depth, root = stacks.resolve(parent)
    return parent, interrupted, depth, root


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ordered", [True, False])
def test_nest_lower_interrupts_in_place(seed: int, ordered: bool) -> None:
    f = _forest(seed, 2000, ordered)
    parent, interrupted, ctx = f["parent"], f["interrupted"], f["ctx"]
    depth, root = stacks.resolve(parent)
    wp, wi, wd, wr = _nest_reference(parent, interrupted, depth, root, ctx)
    flags = f["flags"]
    want_flags = flags | (flags[wr] & BYNAME)
    p, i, c, fl = parent.copy(), interrupted.copy(), ctx.copy(), flags.copy()
    d, r = _nest_lower_interrupts(p, i, c, fl, True)
    assert not np.array_equal(wp, parent)  # (some interrupts were nested)
    assert np.array_equal(p, wp) and np.array_equal(i, wi)
    assert np.array_equal(d, wd) and np.array_equal(r, wr)
    assert np.array_equal(c, ctx[wr])
    assert np.array_equal(fl, want_flags)
    d, r = _nest_lower_interrupts(
        parent.copy(), interrupted.copy(), ctx.copy(), flags.copy(), False
    )
    assert np.array_equal(d, wd) and r is None


@pytest.mark.parametrize("seed", range(4))
def test_trees_says_when_nothing_can_nest(seed: int) -> None:
    """trees' nest answer: False only when the numpy test finds nothing to move (then the
    flags are done); with interrupts that must nest it is True and the flags are untouched."""
    f = _forest(seed, 2000)
    parent, flags, ctx = f["parent"], f["flags"], f["ctx"]
    # task-context interrupted calls: nothing nests
    ctx0 = np.where(parent < 0, 0, ctx).astype(np.int8)
    ctx0[f["interrupted"][f["interrupted"] >= 0]] = 0
    _, root = stacks.resolve(parent)
    c, fl = ctx0.copy(), flags.copy()
    tree_ctx = ctx0[root]
    r = np.flatnonzero(f["interrupted"] >= 0)
    i = f["interrupted"][r]
    assert not ((tree_ctx[i] != IrqCtx.TASK) & (tree_ctx[r] <= tree_ctx[i])).any()
    got = stacks.trees(parent, c, fl, 1, f["interrupted"])
    assert got is not None and got[2] is False
    assert np.array_equal(fl, flags | (flags[root] & BYNAME))
    # the random contexts: some must nest
    c, fl = ctx.copy(), flags.copy()
    got = stacks.trees(parent, c, fl, 1, f["interrupted"])
    assert got is not None and got[2] is True
    assert np.array_equal(fl, flags) and np.array_equal(c, ctx[root])


@pytest.mark.parametrize("seed", range(6))
def test_entry_order_is_the_three_key_sort(seed: int) -> None:
    """_entry_order (entry_key, a stable argsort, tie_order) sorts like a lexsort by (order,
    depth, synthesized first, row), with the depths of resolve."""
    f = _forest(seed, 4000, ordered=seed % 2 == 0)
    rng = np.random.default_rng(seed)
    parent, flags = f["parent"], f["flags"]
    n = len(parent)
    order = np.sort(rng.integers(0, 10**6, n)) * 4 + 2
    # many shared places: each child of some calls at its parent's place, and a few out of order
    share = (parent >= 0) & (rng.random(n) < 0.3)
    order[share] = order[parent[share]]
    order[rng.random(n) < 0.05] -= 4 * rng.integers(0, 50)
    depth, _ = stacks.resolve(parent)
    synth_last = (flags & CallFlag.SYNTH_ENTRY) == 0
    want = np.lexsort((np.arange(n), synth_last, depth, order))
    assert len(np.unique(order)) < n - 100
    key = order.copy()
    got, moved, src = _entry_order(key, parent, flags)
    if got is None:  # (few rows out of place: no whole permutation made)
        got = _perm_of(moved, src, n)
    assert np.array_equal(got, want)
    assert np.array_equal(moved, np.flatnonzero(want != np.arange(n)))
    assert np.array_equal(src, want[moved])
    assert np.array_equal(key, 2 * order + synth_last)
    # too wide for one key: nothing written (what was is undone), the lexsort
    for at in (0, n // 2, n - 1):
        wide = order.copy()
        wide[at] = -(1 << 62) if at else 1 << 61
        w = wide.copy()
        assert not stacks.entry_key(w, flags)
        assert np.array_equal(w, wide)
        want = np.lexsort((np.arange(n), synth_last, depth, wide))
        got, moved, src = _entry_order(w, parent, flags)
        assert np.array_equal(got, want)
        assert np.array_equal(moved, np.flatnonzero(want != np.arange(n)))
    e = np.empty(0, np.int64)
    assert [len(a) for a in _entry_order(e, parent[:0], flags[:0])] == [0, 0, 0]


def test_tie_order_finds_a_cycle() -> None:
    parent = np.array([1, 0, -1], np.int64)
    key = np.array([2, 2, 4], np.int64)
    with pytest.raises(RuntimeError):
        stacks.tie_order(np.arange(3, dtype=np.int64), key, parent)


@pytest.mark.parametrize("seed", range(4))
def test_call_flags(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4000
    flags = rng.choice(np.array([0, 1, 2, 3], np.uint16), n)
    ce = rng.integers(-1, 3, n).astype(np.int16)
    cx = rng.integers(-1, 3, n).astype(np.int16)
    has_ret = rng.random(n) < 0.3
    fl = flags.copy()
    stacks.call_flags(fl, ce, cx, has_ret)
    want_fl = flags.copy()
    want_fl[(ce >= 0) & (cx >= 0) & (ce != cx)] |= np.uint16(CallFlag.MIGRATED)
    want_fl[has_ret] |= np.uint16(CallFlag.HAS_RETVAL)
    assert np.array_equal(fl, want_fl)


@pytest.mark.parametrize("n", [0, 1, 50, 5000])
def test_remap_and_invert(n: int) -> None:
    rng = np.random.default_rng(n)
    perm = np.arange(n, dtype=np.int64)
    k = rng.choice(n, size=n // 7, replace=False) if n else perm[:0]
    perm[k] = k[rng.permutation(len(k))]
    inv = np.full(n, 99, np.int64)
    moved, src = stacks.invert(perm, inv)
    want_inv = np.empty(n, np.int64)
    want_inv[perm] = np.arange(n)
    assert np.array_equal(inv, want_inv)
    assert np.array_equal(moved, np.flatnonzero(want_inv != np.arange(n)))
    assert np.array_equal(src, perm[moved])
    idx = rng.integers(-1, n + 3, n).astype(np.int64)
    want = np.where(idx < 0, -1, inv[np.clip(idx, 0, max(n - 1, 0))] if n else -1)
    idx2 = idx.copy()
    stacks.remap(inv, idx)
    assert np.array_equal(idx, want)
    # the same without the inverse: through the moved rows
    m2, s2 = stacks.moves(perm)
    assert np.array_equal(m2, moved) and np.array_equal(s2, src)
    stacks.renumber(idx2, moved, src)
    assert np.array_equal(idx2, want)
    with pytest.raises(ValueError):
        stacks.invert(np.array([0, 5], np.int64), np.zeros(2, np.int64))
    with pytest.raises(TypeError):
        stacks.remap(inv, np.zeros(4, np.int32))


@pytest.mark.parametrize("name", ["fsync.dat", "lost.dat", "system.dat", "thresh.txt"])
def test_corpus_tables_agree_with_the_references(name: str) -> None:
    """On real traces: self/irq_ns are inner's over the final durations, each call has its
    root's context, depth is resolve's, and parents come before children (trees' pass)."""
    calls = load_windowed(corpus_file(f"vm61/{name}")).call_table
    parent, interrupted = calls["parent_id"], calls["interrupted_id"]
    duration = calls["duration"]
    child_ns, irq_ns = _inner(parent, interrupted, duration)
    assert np.array_equal(calls["irq_ns"], irq_ns)
    want_self = np.where(duration < 0, -1, duration - child_ns - irq_ns)
    assert np.array_equal(calls["self"], want_self)
    depth, root = stacks.resolve(parent)
    assert np.array_equal(calls["depth"], depth)
    assert np.array_equal(calls["root_id"], root)
    assert np.array_equal(calls["ctx"], calls["ctx"][root])
    byname = (calls["flags"] & BYNAME) != 0
    assert not (byname[root] & ~byname).any()
    assert (parent < np.arange(len(parent))).all()


def _fix_overfull_reference(
    raw: dict[str, np.ndarray], dur: np.ndarray, own: np.ndarray, tol: int = 1000
) -> None:
    """build_table's _fix_overfull before the C test and the incremental sums."""
    parent, interrupted, kd, order = raw["parent"], raw["interrupted"], raw["kdepth"], raw["order"]
    n = len(parent)
    synth = None
    for _ in range(4):
        child_ns, irq_ns = _inner(parent, interrupted, dur)
        child_ns += irq_ns
        ov = np.flatnonzero((dur >= 0) & (child_ns > dur + tol) & (kd >= 0))
        if not len(ov):
            return
        if synth is None:
            synth = (raw["flags"] & CallFlag.SYNTH_ENTRY) != 0
        mark = np.zeros(n + 1, dtype=bool)
        mark[ov] = True
        kc = np.flatnonzero(mark[parent])
        ic = np.flatnonzero(mark[interrupted])
        p, i = parent[kc], interrupted[ic]
        kid_exit = kd[kc] == kd[p]
        irq_exit = kd[ic] == kd[i]
        has_exit_side = np.zeros(n, bool)
        has_exit_side[p[kid_exit]] = True
        has_exit_side[i[irq_exit]] = True
        kid_entry = ~kid_exit & ~has_exit_side[p] & ~synth[p] & (own[kc] < own[p])
        irq_entry = ~irq_exit & ~has_exit_side[i] & ~synth[i] & (own[ic] < own[i])
        kids = kc[kid_exit | kid_entry]
        irqs = ic[irq_exit | irq_entry]
        if not len(kids) and not len(irqs):
            return
        restore = np.unique(np.concatenate([p[kid_entry], i[irq_entry]]))
        pk = parent[kids]
        parent[kids] = parent[pk]
        interrupted[kids] = np.where(parent[pk] >= 0, -1, interrupted[pk])
        ii = interrupted[irqs]
        interrupted[irqs] = np.where(parent[ii] >= 0, parent[ii], interrupted[ii])
        order[restore] = own[restore]


@pytest.mark.parametrize("seed", range(12))
def test_fix_overfull_is_the_full_retest(seed: int) -> None:
    """The repair loop with the sums updated after each repair gives the parents, interrupted
    calls and entry places of the loop that summed every call again each time."""
    f = _forest(seed, 3000, ordered=seed % 2 == 0)
    rng = np.random.default_rng(seed)
    n = len(f["parent"])
    kd = np.where(f["parent"] >= 0, rng.integers(0, 3, n), rng.integers(-1, 2, n)).astype(np.int32)
    own = rng.integers(0, 4 * n, n).astype(np.int64)
    dur = f["dur"] // (1 + seed % 3)  # (parents shorter than their children: many overfull)
    raw = dict(
        parent=f["parent"],
        interrupted=f["interrupted"],
        kdepth=kd,
        order=own + rng.integers(-5, 5, n),
        flags=f["flags"],
    )
    want = {k: v.copy() for k, v in raw.items()}
    _fix_overfull_reference(want, dur, own)
    got = {k: v.copy() for k, v in raw.items()}
    _fix_overfull(got, dur, own)
    for k in want:
        assert np.array_equal(got[k], want[k]), k
    assert not np.array_equal(want["parent"], raw["parent"])  # (something was repaired)


def test_members() -> None:
    parent = np.array([-1, 0, 0, 1, -1, 4, 9], np.int64)
    interrupted = np.array([-1, -1, -1, -1, 1, -1, -1], np.int64)
    kids, irqs = stacks.members(parent, interrupted, np.array([0, 1, 42, -1], np.int64))
    assert list(kids) == [1, 2, 3] and list(irqs) == [4]
    kids, irqs = stacks.members(parent, interrupted, np.empty(0, np.int64))
    assert len(kids) == len(irqs) == 0


@pytest.mark.parametrize("name", ["fsync.dat", "lost_pipe.txt.zst", "thresh.txt"])
def test_whole_permutation_path_builds_the_same_table(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole-permutation path (gathers and an inverse permutation) and the moved-rows path
    (in-place reorder, renumber) give the same table (in thresh.txt nearly every call moves,
    in the others a few percent)."""
    path = corpus_file(f"vm61/{name}")
    monkeypatch.setattr(calls_mod, "WHOLE_PERM_SHARE", 1)  # (never whole)
    moved_rows = load_windowed(path).call_table
    monkeypatch.setattr(calls_mod, "WHOLE_PERM_SHARE", 1 << 62)  # (whole when any row moves)
    whole = load_windowed(path).call_table
    assert sorted(whole.columns) == sorted(moved_rows.columns)
    for c in whole.columns:
        assert np.array_equal(whole[c], moved_rows[c]), c


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ordered", [True, False])
def test_trees_renumbers_as_it_reads(seed: int, ordered: bool) -> None:
    """trees with (moved, src) = renumber both id columns, then trees; when it gives up (a
    parent after its child) every id is renumbered all the same."""
    f = _forest(seed, 3000, ordered)
    rng = np.random.default_rng(seed)
    n = len(f["parent"])
    # old ids: a few rows of the final numbering swapped (what the entry sort undoes)
    perm = np.arange(n, dtype=np.int64)
    k = rng.choice(n, size=60, replace=False)
    perm[k] = k[rng.permutation(len(k))]
    inv = np.empty(n, np.int64)
    inv[perm] = np.arange(n)
    moved = np.flatnonzero(perm != np.arange(n))
    src = perm[moved]
    old_par = np.where(f["parent"] >= 0, perm[np.maximum(f["parent"], 0)], -1)
    old_itr = np.where(f["interrupted"] >= 0, perm[np.maximum(f["interrupted"], 0)], -1)
    assert np.array_equal(np.where(old_par >= 0, inv[np.maximum(old_par, 0)], -1), f["parent"])
    want_ctx, want_fl = f["ctx"].copy(), f["flags"].copy()
    want = stacks.trees(f["parent"], want_ctx, want_fl, 3, f["interrupted"])
    p, i, c, fl = old_par.copy(), old_itr.copy(), f["ctx"].copy(), f["flags"].copy()
    got = stacks.trees(p, c, fl, 3, i, moved, src)
    assert np.array_equal(p, f["parent"]) and np.array_equal(i, f["interrupted"])
    if want is None:
        assert got is None and np.array_equal(fl, f["flags"])
        return
    assert got is not None
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert got[2] == want[2]
    assert np.array_equal(c, want_ctx) and np.array_equal(fl, want_fl)


@pytest.mark.parametrize("seed", range(4))
def test_fix_overfull_with_own_places_apart(seed: int) -> None:
    """_fix_overfull reading the own places through _OwnPlaces (order, and the few rows whose
    own place differs) repairs exactly as with the whole own column."""
    f = _forest(seed, 3000, ordered=seed % 2 == 0)
    rng = np.random.default_rng(seed)
    n = len(f["parent"])
    kd = np.where(f["parent"] >= 0, rng.integers(0, 3, n), rng.integers(-1, 2, n)).astype(np.int32)
    own = rng.integers(0, 4 * n, n).astype(np.int64)
    order = own.copy()
    apart = np.sort(rng.choice(n, size=n // 10, replace=False))
    order[apart] += rng.integers(-5, 6, len(apart))
    dur = f["dur"] // (1 + seed % 3)
    raw = dict(
        parent=f["parent"], interrupted=f["interrupted"], kdepth=kd, order=order, flags=f["flags"]
    )
    want = {k: v.copy() for k, v in raw.items()}
    _fix_overfull(want, dur, own)
    got = {k: v.copy() for k, v in raw.items()}
    rows = np.flatnonzero(own != order)
    _fix_overfull(got, dur, _OwnPlaces(got["order"], rows, own[rows]))
    for k in want:
        assert np.array_equal(got[k], want[k]), k
    assert not np.array_equal(want["parent"], raw["parent"])  # (something was repaired)


def test_own_places_reads_the_column() -> None:
    order = np.array([5, 7, 9, 11, 13], np.int64)
    places = _OwnPlaces(order, np.array([1, 3], np.int64), np.array([70, 110], np.int64))
    assert list(places[np.array([0, 1, 2, 3, 4, 3, 1], np.int64)]) == [5, 70, 9, 110, 13, 110, 70]
    assert len(places[np.empty(0, np.int64)]) == 0
    none = _OwnPlaces(order, np.empty(0, np.int64), np.empty(0, np.int64))
    assert list(none[np.array([4, 0], np.int64)]) == [13, 5]


def test_machine_lists_the_own_places_apart() -> None:
    """stacks.finish lists the calls whose own place differs from their order (the own column
    then says no more), and build_table gives the same table with or without that list."""
    path = corpus_file("vm61/fsync.dat")
    from fgraph.pipeline import read_events
    from fgraph.reconstruct.calls import Rebuilder, build_table, prepare
    from fgraph.reconstruct.timeline import merge_order
    from fgraph.reconstruct.window import CallAttrs

    ev = read_events(path)
    inp = prepare(ev, merge_order(ev))

    def raw_of() -> dict[str, np.ndarray]:
        r = Rebuilder(4)
        r.feed(inp)
        return r.finish()

    raw = raw_of()
    rows, vals = raw["own_rows"], raw["own_vals"]
    differ = np.flatnonzero(raw["own"] != raw["order"])
    assert np.array_equal(rows, differ) and np.array_equal(vals, raw["own"][differ])
    # (the synthesized entries' own places are their order: they never differ)
    assert not (raw["flags"][rows] & CallFlag.SYNTH_ENTRY).any()

    def table(drop: bool) -> dict[str, np.ndarray]:
        raw = raw_of()
        raw.pop("counters")
        if drop:
            raw.pop("own_rows")
            raw.pop("own_vals")
        attrs = {name: np.zeros(len(raw["parent"]), dt) for name, dt in CallAttrs.SPEC}
        attrs["xdur"] -= 1
        attrs["cpu_entry"] -= 1
        attrs["cpu_exit"] -= 1
        return build_table(attrs, raw, ev.meta, ev.strings).columns

    a, b = table(False), table(True)
    assert sorted(a) == sorted(b)
    for c in a:
        assert np.array_equal(a[c], b[c]), c


@pytest.mark.parametrize("seed", range(4))
def test_call_counts_is_the_numpy_steps(seed: int) -> None:
    """stacks.call_counts against quality.py's numpy steps it replaced (flag and context
    counts, positive self sums, with and without repairs, the interrupt time's sum)."""
    rng = np.random.default_rng(seed)
    n = 10000 + seed
    flags = rng.integers(0, 1 << 12, n).astype(np.uint16)
    flags[rng.random(n) < 0.6] = 0
    self_ns = rng.integers(-5, 10**9, n).astype(np.int64)
    ctx = rng.integers(-1, 5, n).astype(np.int8)
    irq = rng.integers(-1, 10**6, n).astype(np.int64)
    bits = [int(CallFlag.TRUNCATED), int(CallFlag.LOST_GAP), int(CallFlag.MIGRATED), 0x400]
    codes = [int(IrqCtx.SOFTIRQ), int(IrqCtx.HARDIRQ), int(IrqCtx.NMI), -1]
    repair = int(calls_mod.REPAIR_FLAGS)
    flagged, in_ctx, traced, certain, irq_total = stacks.call_counts(
        flags, self_ns, ctx, irq, bits, codes, repair
    )
    assert flagged == [int(np.count_nonzero(flags & b)) for b in bits]
    assert in_ctx == [int(np.count_nonzero(ctx == c)) for c in codes]
    pos = self_ns > 0
    assert traced == int(self_ns.sum(where=pos))
    assert certain == int(self_ns.sum(where=pos & ((flags & repair) == 0)))
    assert irq_total == int(irq.sum())
    # (without the interrupt time: not read, its sum 0)
    assert stacks.call_counts(flags, self_ns, ctx, None, bits, codes, repair) == (
        flagged,
        in_ctx,
        traced,
        certain,
        0,
    )
    empty = np.empty(0, np.int64)
    got = stacks.call_counts(
        np.empty(0, np.uint16), empty, np.empty(0, np.int8), empty, bits, codes, repair
    )
    assert got == ([0] * 4, [0] * 4, 0, 0, 0)


@pytest.mark.parametrize("seed", range(4))
def test_child_sums_halves_are_the_overfull_sums(seed: int) -> None:
    """stacks.child_sums on two halves (what each lists for the other added after) gives the
    sums overfull makes in one pass, and overfull(summed=True) tests them alike; the members
    of a split table are those of the whole."""
    f = _forest(seed, 3000, ordered=seed % 2 == 0)
    parent, interrupted, dur, kd = f["parent"], f["interrupted"], f["dur"], f["kdepth"]
    want = np.zeros(len(dur), np.int64)
    rows = stacks.overfull(parent, interrupted, dur, kd, 100, want)
    acc = np.full(len(dur), 5, np.int64)
    mid = len(dur) // 3
    lists = [
        stacks.child_sums(parent, interrupted, dur, acc, lo, hi, True)
        for lo, hi in ((0, mid), (mid, len(dur)))
    ]
    assert sum(len(t) for t, _ in lists)  # (some sums owed across the cut)
    for targets, values in lists:
        np.add.at(acc, targets, values)
    assert np.array_equal(acc, want)
    assert np.array_equal(
        stacks.overfull(parent, interrupted, dur, kd, 100, acc, False, True), rows
    )
    assert np.array_equal(acc, want)
    whole = stacks.members(parent, interrupted, rows)
    halves = [
        stacks.members(parent, interrupted, rows, lo, hi) for lo, hi in ((0, mid), (mid, len(dur)))
    ]
    for k in range(2):
        assert np.array_equal(np.concatenate([h[k] for h in halves]), whole[k])


def test_child_sums_range_outside_the_table() -> None:
    """child_sums with [lo, hi) past the table's end, empty or reversed: nothing summed, cleared
    or listed (lo is clamped to the table: acc + lo past the array was undefined behaviour even
    for the clear of no bytes)."""
    f = _forest(1, 50)
    acc = np.full(50, 9, np.int64)
    for lo, hi in ((60, 80), (1 << 40, 1 << 41), (50, 50), (40, 10), (-5, -1)):
        targets, values = stacks.child_sums(
            f["parent"], f["interrupted"], f["dur"], acc, lo, hi, True
        )
        assert len(targets) == len(values) == 0 and (acc == 9).all()


def test_fix_overfull_split_between_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """_fix_overfull with the sums and the members split between two threads repairs as the
    one-thread pass does."""
    f = _forest(3, 3000, ordered=False)
    rng = np.random.default_rng(3)
    n = len(f["parent"])
    kd = np.where(f["parent"] >= 0, rng.integers(0, 3, n), rng.integers(-1, 2, n)).astype(np.int32)
    own = rng.integers(0, 4 * n, n).astype(np.int64)
    dur = f["dur"] // 2
    raw = dict(
        parent=f["parent"],
        interrupted=f["interrupted"],
        kdepth=kd,
        order=own.copy(),
        flags=f["flags"],
    )
    want = {k: v.copy() for k, v in raw.items()}
    _fix_overfull(want, dur, own)
    monkeypatch.setattr(calls_mod, "PARALLEL_MEMBERS_CALLS", 1)
    got = {k: v.copy() for k, v in raw.items()}
    acc = np.full(n, 3, np.int64)
    _fix_overfull(got, dur, own, acc=acc, zero=True)
    for k in want:
        assert np.array_equal(got[k], want[k]), k
    assert not np.array_equal(want["parent"], raw["parent"])


def test_entry_key_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    """_entry_key on two halves is stacks.entry_key: the key when every order fits, else the
    order left as it was (a half that fitted undone)."""
    monkeypatch.setattr(calls_mod, "PARALLEL_MEMBERS_CALLS", 1)
    rng = np.random.default_rng(5)
    order = rng.integers(-(10**9), 10**9, 1001).astype(np.int64)
    flags = rng.choice(np.array([0, CallFlag.SYNTH_ENTRY], np.uint16), len(order))
    want = order.copy()
    assert stacks.entry_key(want, flags)
    got = order.copy()
    assert calls_mod._entry_key(got, flags) and np.array_equal(got, want)
    for at in (3, 900):  # (an order that does not fit, in either half)
        bad = order.copy()
        bad[at] = 1 << 62
        kept = bad.copy()
        assert not calls_mod._entry_key(bad, flags) and np.array_equal(bad, kept)


def test_clear_and_times_on_cleared_arrays() -> None:
    """stacks.clear zeroes an array; times with cleared=True takes its output arrays' zeros as
    they are (the same results as when it clears them itself)."""
    f = _forest(2, 2000)
    args = (f["parent"], f["interrupted"], f["dur"], f["ts_entry"], f["ts_exit"], f["flags"])
    want = _times_reference(*args)
    a, b = np.full(2000, 7, np.int64), np.full(2000, -3, np.int64)
    stacks.clear(a)
    stacks.clear(b)
    assert not a.any() and not b.any()
    rng = np.zeros(4, np.int64)
    dur = f["dur"].copy()
    stacks.times(*args[:2], dur, *args[3:], a, b, rng, True)
    assert np.array_equal(dur, want[0]) and np.array_equal(a, want[1])
    assert np.array_equal(b, want[2])
    with pytest.raises(ValueError):
        stacks.clear(np.zeros(10)[::2])
