"""The fast subtree path (one forward pass, parents before children) gives exactly what pointer
jumping gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

import fgraph
from fgraph.analysis import breakdown as bd_mod
from fgraph.analysis import slowest as slow_mod
from fgraph.analysis.tree import bincount_int, nearest_stop, subtrees


def random_forest(rng: np.random.Generator, ntrees: int, size: int):
    """(parent, root_id, depth) of random trees, each in preorder, interleaved in one order."""
    seqs = []
    for _ in range(ntrees):
        m = int(rng.integers(1, size))
        par, dep = [-1], [0]
        stack = [0]
        for i in range(1, m):
            # climb a random number of levels, then open a child of the stack top
            while len(stack) > 1 and rng.random() < 0.4:
                stack.pop()
            par.append(stack[-1])
            dep.append(dep[stack[-1]] + 1)
            stack.append(i)
        seqs.append((par, dep))
    # interleave: a random merge keeping each tree's order
    owner = np.concatenate([np.full(len(p), t) for t, (p, _) in enumerate(seqs)])
    rng.shuffle(owner)
    n = len(owner)
    local = np.zeros(n, dtype=np.int64)
    glob = [np.zeros(len(p), dtype=np.int64) for p, _ in seqs]
    nxt = [0] * ntrees
    for row, t in enumerate(owner.tolist()):
        local[row] = nxt[t]
        glob[t][nxt[t]] = row
        nxt[t] += 1
    parent = np.full(n, -1, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int32)
    root = np.zeros(n, dtype=np.int64)
    for row, t in enumerate(owner.tolist()):
        p, d = seqs[t][0][local[row]], seqs[t][1][local[row]]
        parent[row] = glob[t][p] if p >= 0 else -1
        depth[row] = d
        root[row] = glob[t][0]
    return parent, root, depth


def reference(parent, tops):
    """Outermost tops, nested count, universe, owner index, rel — by pointer jumping."""
    n = len(parent)
    stop = np.zeros(n, dtype=bool)
    stop[tops] = True
    owner, _ = nearest_stop(parent, stop)
    p = parent[tops]
    nested = (p >= 0) & (owner[np.clip(p, 0, None)] >= 0)
    outer = tops[~nested]
    stop[:] = False
    stop[outer] = True
    owner, rel = nearest_stop(parent, stop)
    uni = np.flatnonzero(owner >= 0)
    index = np.full(n, -1, dtype=np.int64)
    index[outer] = np.arange(len(outer))
    return outer, int(nested.sum()), uni, index[owner[uni]], rel[uni]


@pytest.mark.parametrize("seed", range(20))
def test_subtrees_match_pointer_jumping(seed):
    rng = np.random.default_rng(seed)
    parent, root, depth = random_forest(rng, int(rng.integers(1, 8)), 60)
    n = len(parent)
    tops = np.unique(rng.choice(n, size=int(rng.integers(1, max(2, n // 4))), replace=True))
    got = subtrees(parent, depth, tops)
    assert got is not None
    want = reference(parent, tops)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_subtrees_decline_a_parent_after_its_child():
    # 1's parent is 2, which comes after it: one forward pass cannot know 1's owner in time
    parent = np.array([-1, 2, 0, 1])
    depth = np.array([0, 2, 1, 3])
    assert subtrees(parent, depth, np.array([0])) is None
    # rows out of preorder are fine as long as parents come first (0 → 1, 0 → 2, 1 → 3)
    parent = np.array([-1, 0, 0, 1])
    got = subtrees(parent, np.array([0, 1, 1, 2]), np.array([1]))
    assert got is not None and list(got[2]) == [1, 3] and list(got[4]) == [0, 1]
    # a depth that disagrees with the parent is declined
    assert subtrees(parent, np.array([0, 1, 2, 2]), np.array([0])) is None


def test_bincount_int_is_exact_beyond_float():
    big = np.array([2**60 + 1, 3, 2**55 + 7, -5], dtype=np.int64)
    idx = np.array([0, 0, 1, 1])
    assert bincount_int(idx, big, 3).tolist() == [2**60 + 4, 2**55 + 2, 0]


@pytest.mark.parametrize(
    "rel,func",
    [
        ("vm61/fsync.dat", "vfs_fsync_range"),
        ("vm61/fsync.dat", "btrfs_log_inode"),
        ("vm61/btrfs_read.dat", "vfs_read"),
        ("vm61/lost.dat", "page_remove_rmap"),
    ],
)
def test_fast_path_equals_fallback_on_real_traces(rel, func, monkeypatch):
    trace = fgraph.load(corpus_file(rel))
    c = trace.call_table
    ids = np.flatnonzero(c["func"] == c.strings.lookup(func))
    assert subtrees(c["parent_id"], c["depth"], ids) is not None  # no fallback
    variants = [{}, {"depth": 3}, {"all": True}, {"by": "path", "depth": 2}, {"compare": "fast"}]
    fast = [fgraph.hist(trace, func, threshold="p50", **kw).to_dict() for kw in variants]
    fast_slow = slow_mod.slowest(trace, func, n=3).to_dict()
    monkeypatch.setattr(bd_mod, "subtrees", lambda *a: None)
    monkeypatch.setattr(slow_mod, "_display_universe", lambda *a: None)
    slow = [fgraph.hist(trace, func, threshold="p50", **kw).to_dict() for kw in variants]
    assert fast == slow
    assert fast_slow == slow_mod.slowest(trace, func, n=3).to_dict()
