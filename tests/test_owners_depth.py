"""``stacks.owners`` with depths (``analysis.tree.subtrees``): each universe row's depth below
its top and the depth-shape check in the C pass give what the numpy version gave, on random
forests, broken depths and the corpus."""

from __future__ import annotations

import numpy as np
import pytest

from fgraph._ext import stacks


def _numpy_subtrees(parent: np.ndarray, depth: np.ndarray, tops: np.ndarray):  # type: ignore[no-untyped-def]
    got = stacks.owners(parent, tops)
    if got is None:
        return None
    outer, nested, uni, owner = got
    top_of = outer[owner]
    udep = depth[uni]
    inner = uni != top_of
    if not (udep[inner] == depth[parent[uni[inner]]] + 1).all():
        return None
    return outer, int(nested), uni, owner, (udep - depth[top_of]).astype(np.int64)


def _forest(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    parent = np.full(n, -1, np.int64)
    depth = np.zeros(n, np.int32)
    for i in range(1, n):
        if rng.random() < 0.8:
            p = int(rng.integers(max(0, i - 20), i))
            parent[i] = p
            depth[i] = depth[p] + 1
    return parent, depth


@pytest.mark.parametrize("seed", range(40))
def test_same_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    parent, depth = _forest(rng, n)
    if seed % 4 == 1 and n:
        depth[int(rng.integers(0, n))] += 1  # a broken depth somewhere
    if seed % 4 == 2 and n > 5:
        depth = depth + 3  # depths not from 0: rel is still relative to the top
    tops = np.unique(rng.integers(-2, max(n, 1) + 2, size=int(rng.integers(0, 30))))
    ref = _numpy_subtrees(parent, depth, tops)
    got = stacks.owners(parent, tops, depth)
    if ref is None:
        assert got is None
        return
    assert got is not None
    assert got[1] == ref[1]
    for a, b in zip((got[0], got[2], got[3], got[4]), (ref[0], ref[2], ref[3], ref[4])):
        assert a.dtype == np.int64
        assert np.array_equal(a, b)
    for max_rel in (0, 1, 2, 5):
        cut = stacks.owners(parent, tops, depth, max_rel)
        assert cut is not None
        near = ref[4] <= max_rel
        assert cut[1] == ref[1] and np.array_equal(cut[0], ref[0])
        for a, b in zip((cut[2], cut[3], cut[4]), (ref[2][near], ref[3][near], ref[4][near])):
            assert np.array_equal(a, b)


def test_depth_length_must_match() -> None:
    with pytest.raises(ValueError):
        stacks.owners(np.array([-1, 0], np.int64), np.array([0]), np.array([0], np.int32))


def test_max_rel_checks_the_whole_universe() -> None:
    # the broken depth is 3 below the top: max_rel 1 still declines (the caller falls back)
    parent = np.array([-1, 0, 1, 2], np.int64)
    depth = np.array([0, 1, 2, 7], np.int32)
    assert stacks.owners(parent, np.array([0]), depth, 1) is None
    with pytest.raises(ValueError):
        stacks.owners(parent, np.array([0]), None, 1)


def test_parent_after_child_is_none() -> None:
    parent = np.array([-1, 2, 0], np.int64)
    assert stacks.owners(parent, np.array([0]), np.array([0, 2, 1], np.int32)) is None
