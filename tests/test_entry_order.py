"""stacks.entry_moves: the rows a stable sort by the entry key moves (then the calls of one
place by depth, synthesized first), without the whole permutation."""

import numpy as np
import pytest

from fgraph._ext import stacks


def _want(key: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    perm = np.argsort(key, kind="stable")
    return stacks.tie_order(perm, key.copy(), parent)


def _check(key: np.ndarray, parent: np.ndarray) -> None:
    got = stacks.entry_moves(key, parent, len(key))
    assert got is not None
    want = _want(key, parent)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert got[0].dtype == got[1].dtype == np.int64


def _chain_parents(n: int, rng: np.random.Generator) -> np.ndarray:
    """Parents before their children (no cycle): each row's parent an earlier row or -1."""
    parent = np.full(n, -1, np.int64)
    if n > 1:
        at = np.arange(1, n)
        p = at - 1 - rng.integers(0, 5, n - 1)
        parent[1:] = np.where(rng.random(n - 1) < 0.2, -1, np.maximum(p, -1))
    return parent


@pytest.mark.parametrize("seed", range(8))
def test_nearly_sorted_keys_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    key = np.sort(rng.integers(0, 400, n)) * 2 + rng.integers(0, 2, n)
    bad = rng.random(n) < 0.05
    key[bad] = rng.integers(-10, 810, int(bad.sum()))
    _check(key.astype(np.int64), _chain_parents(n, rng))


@pytest.mark.parametrize("seed", range(6))
def test_random_keys_with_ties(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 500))
    key = rng.integers(-20, 20, n).astype(np.int64)
    _check(key, _chain_parents(n, rng))


def test_sorted_and_reversed_and_extremes() -> None:
    n = 50
    parent = np.full(n, -1, np.int64)
    _check(np.arange(n, dtype=np.int64), parent)
    _check(np.arange(n, dtype=np.int64)[::-1].copy(), parent)
    _check(np.full(n, 7, np.int64), parent)
    big = np.array([2**62, -(2**62), 0, 2**62, -(2**62)], np.int64)
    _check(big, parent[:5])


def test_empty_and_one() -> None:
    e = np.empty(0, np.int64)
    got = stacks.entry_moves(e, e, 0)
    assert got is not None and len(got[0]) == len(got[1]) == 0
    one = np.array([5], np.int64)
    got = stacks.entry_moves(one, np.array([-1], np.int64), 0)
    assert got is not None and len(got[0]) == 0


def test_limit_and_errors() -> None:
    key = np.array([3, 2, 1, 0], np.int64)
    parent = np.full(4, -1, np.int64)
    assert stacks.entry_moves(key, parent, 3) is None  # 4 rows out of place
    assert stacks.entry_moves(key, parent, 4) is not None
    # a cycle among the calls of one shared place
    with pytest.raises(RuntimeError):
        stacks.entry_moves(np.array([2, 2, 4], np.int64), np.array([1, 0, -1], np.int64), 3)
    with pytest.raises(ValueError):
        stacks.entry_moves(key, parent[:3], 4)
