"""Vectorized walks over the call forest (parent pointers), shared by the analyses.

The call table stores each call's caller in ``parent_id`` (-1 for a root).  Questions like
"which slow call of X is this call inside, and how deep below it?" are answered for every row at
once by *pointer jumping*: each row holds a pointer to an ancestor and a hop count, and each
round replaces the pointer by the pointer's pointer, so the walk finishes in log2(max depth)
rounds of whole-array numpy operations instead of one Python step per call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._ext import stacks
from ..schema import IrqCtx


def display_parent(parent: np.ndarray, interrupted: np.ndarray) -> np.ndarray:
    """Caller, or for an interrupt root the task call it interrupted (for drawing trees)."""
    return np.where(parent >= 0, parent, interrupted).astype(np.int64, copy=False)


def nearest_stop(parent: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every row: the nearest ancestor-or-self in ``stop`` and the hops to it.

    ``parent`` holds parent row numbers (-1 = root); ``stop`` is a bool mask.  Returns
    ``(owner, dist)``: owner is -1 where no ancestor-or-self is a stop (then dist is
    meaningless); a stop row is its own owner at distance 0.
    """
    n = len(parent)
    rows = np.arange(n, dtype=np.int64)
    halt = stop | (parent < 0)
    ptr = np.where(halt, rows, parent).astype(np.int64, copy=False)
    dist = np.where(halt, 0, 1).astype(np.int64)
    # Each round doubles the distance covered; rows already at a halting row stay put
    # (ptr[ptr] == ptr there, dist adds 0).
    while True:
        nxt = ptr[ptr]
        moved = nxt != ptr
        if not moved.any():
            break
        dist = dist + np.where(moved, dist[ptr], 0)
        ptr = nxt
    owner = np.where(stop[ptr], ptr, -1)
    return owner, dist


def frame_parent(calls: Any) -> np.ndarray:
    """Parent in the frame tree (folded stacks, trimmed traces, subtree exports): the caller,
    or for an interrupt root the interrupted call."""
    p = calls["parent_id"].astype(np.int64)
    irq_root = (p < 0) & (calls["interrupted_id"] >= 0) & (calls["ctx"] > IrqCtx.TASK)
    return np.where(irq_root, calls["interrupted_id"].astype(np.int64), p)


def outermost(fp: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(roots, kept)`` in the forest of parent rows ``fp``: the ``cand`` rows with no
    ``cand`` ancestor, and every row at or under a ``cand`` row (masks).

    A rebuilt table has every parent before its children: one forward pass in C
    (``stacks.owners``, a 4-byte scratch per row).  Otherwise one pointer-jumping walk, whose
    six row-sized int64 temporaries were ~2.8 GB of ``fgraph trim``'s peak at 58M calls."""
    n = len(fp)
    got = stacks.owners(np.asarray(fp, dtype=np.int64), np.flatnonzero(cand))
    if got is not None:
        outer, _nested, uni, _owner = got
        roots = np.zeros(n, dtype=bool)
        roots[outer] = True
        kept = np.zeros(n, dtype=bool)
        kept[uni] = True
        return roots, kept
    owner, _ = nearest_stop(fp, cand)
    kept = owner >= 0
    above = np.where(fp >= 0, owner[np.clip(fp, 0, None)], -1)  # nearest cand strictly above
    return cand & (above < 0), kept


def levels(fp: np.ndarray) -> np.ndarray:
    """Depth of each row in the forest of parent rows ``fp`` (-1: a root; parents before
    their children, as in a rebuilt table): hops to its root."""
    n = len(fp)
    if n and not (fp >= np.arange(n)).any():
        # hops to the root by pointer jumping: log2(depth) rounds, not one per level
        return nearest_stop(fp, np.zeros(n, dtype=bool))[1]
    lvl = np.zeros(n, dtype=np.int64)  # (a parent after its child: never a rebuilt table's)
    has = fp >= 0
    for _ in range(n + 1):
        new = np.where(has, lvl[np.clip(fp, 0, None)] + 1, 0)
        if np.array_equal(new, lvl):
            break
        lvl = new
    return lvl


def children_sum(
    parent: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Per row: the sum of ``values`` over its direct children (optionally only rows in mask)."""
    n = len(parent)
    sel = parent >= 0
    if mask is not None:
        sel &= mask
    return bincount_int(parent[sel], values[sel], n)


def path_ids(
    parent: np.ndarray, func: np.ndarray, rel: np.ndarray, member: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interned call paths relative to an owner: ``(path_of_row, path_parent, path_func)``.

    Rows with ``member`` and relative depth ``rel`` >= 1 get a path id; the path of a row at
    relative depth 1 is just its function, deeper rows extend their parent's path.  Paths are
    built one relative depth at a time (a loop over depth levels, not over calls).
    ``path_parent[p]`` is the parent path (-1 at depth 1) and ``path_func[p]`` the last function.
    """
    n = len(parent)
    path = np.full(n, -1, dtype=np.int64)
    pparent: list[np.ndarray] = []
    pfunc: list[np.ndarray] = []
    npaths = 0
    sel = member & (rel >= 1)
    if not sel.any():
        return path, np.empty(0, np.int64), np.empty(0, np.int32)
    maxrel = int(rel[sel].max())
    for level in range(1, maxrel + 1):
        rows = np.nonzero(sel & (rel == level))[0]
        if len(rows) == 0:
            continue
        par_path = path[parent[rows]] if level > 1 else np.full(len(rows), -1, dtype=np.int64)
        keys = np.stack([par_path, func[rows].astype(np.int64)], axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        path[rows] = npaths + inv
        pparent.append(uniq[:, 0])
        pfunc.append(uniq[:, 1].astype(np.int32))
        npaths += len(uniq)
    return path, np.concatenate(pparent), np.concatenate(pfunc)


def path_names(
    ids: np.ndarray, path_parent: np.ndarray, path_func: np.ndarray, names: list[str]
) -> list[str]:
    """Strings "a;b;c" of the given path ids (output only; one short walk per printed path)."""
    out = []
    for p in ids.tolist():
        parts = []
        while p >= 0:
            parts.append(names[int(path_func[p])] if path_func[p] >= 0 else "?")
            p = int(path_parent[p])
        out.append(";".join(reversed(parts)))
    return out


def bincount_int(idx: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Exact int64 per-bin sums (``np.bincount`` sums in float64, exact only below 2**53).

    The values are split into 24 low bits and the rest, so each float sum stays an exact
    integer for any realistic table; much faster than ``np.add.at``.
    """
    v = np.asarray(values, dtype=np.int64)
    if len(v) == 0:
        return np.zeros(n, dtype=np.int64)
    lo = np.bincount(idx, weights=v & 0xFFFFFF, minlength=n).astype(np.int64)
    hi = np.bincount(idx, weights=v >> 24, minlength=n).astype(np.int64)
    return lo + (hi << 24)


def subtrees(
    parent: np.ndarray, depth: np.ndarray, tops: np.ndarray, max_rel: int = -1
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray] | None:
    """Descendants (via ``parent``) of the calls ``tops``, in one forward pass over the table.

    The rebuild orders calls with every parent before its children, so a row's owning top is
    known once its parent's is (``stacks.owners``, C: one pass, no sort; the numpy versions it
    replaced sorted each top's tree, 0.28 s and 180 MB at 5M calls).  Tops inside another top's
    subtree (recursion) are dropped.

    Returns ``(outer, nested, universe, owner, rel)``: the outermost tops (ascending), how many
    tops were nested, the sorted rows of the outer tops and their descendants, each universe
    row's index into ``outer``, and its depth below that top (0 for the top).  Returns None if
    the table does not have the shape this relies on (a parent after its child, or a ``depth``
    that is not the parent's plus one); the caller then falls back to :func:`nearest_stop`.
    ``max_rel`` >= 0 keeps only the universe rows at most that deep below their top (the shape
    is still checked over all of them).
    """
    # (the depth check and ``rel`` in the same C pass: gathered with numpy over the universe
    # they took as long as the pass itself, ~70 ms at 5M calls)
    depth = np.asarray(depth)
    if depth.dtype != np.int32:  # (the schema's; a table built by hand may differ)
        if len(depth) and (depth.min() < -(2**31) or depth.max() >= 2**31):
            return None
        depth = depth.astype(np.int32)
    got = stacks.owners(parent, np.asarray(tops, dtype=np.int64), depth, int(max_rel))
    if got is None:
        return None
    outer, nested, uni, owner, rel = got
    return outer, int(nested), uni, owner, rel
