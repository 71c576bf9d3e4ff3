"""Vectorized walks over the call forest (parent pointers), shared by the analyses.

The call table stores each call's caller in ``parent_id`` (-1 for a root).  Questions like
"which slow call of X is this call inside, and how deep below it?" are answered for every row at
once by *pointer jumping*: each row holds a pointer to an ancestor and a hop count, and each
round replaces the pointer by the pointer's pointer, so the walk finishes in log2(max depth)
rounds of whole-array numpy operations instead of one Python step per call.
"""

from __future__ import annotations

import numpy as np


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
    parent: np.ndarray, root_id: np.ndarray, depth: np.ndarray, tops: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray] | None:
    """Descendants (via ``parent``) of the calls ``tops`` without walking the whole table.

    Calls are ordered by entry, so within one tree (one ``root_id``) the rows are in preorder
    and the descendants of t are the run of the tree's rows after t whose depth is greater
    than t's.  Only the rows of the trees holding a top are gathered and sorted; each top's run
    end is a searchsorted into that tree's rows of depth <= the top's depth (one pass per
    distinct depth of the tops).  Tops inside another top's run (recursion) are dropped.

    Returns ``(outer, nested, universe, owner, rel)``: the outermost tops (ascending), how many
    tops were nested, the sorted rows of the outer tops and their descendants, each universe
    row's index into ``outer``, and its depth below that top (0 for the top).  Returns None if
    the table does not have the preorder/depth shape this relies on (checked exactly: every
    descendant's parent is its top or in the same run, and no row outside the runs has a
    parent inside one); the caller then falls back to :func:`nearest_stop`.
    """
    n = len(parent)
    tops = np.asarray(tops, dtype=np.int64)
    lut = np.zeros(n, dtype=bool)
    lut[root_id[tops]] = True
    rows = np.flatnonzero(lut[root_id])
    key = root_id[rows].astype(np.int64) * n + rows
    order = np.argsort(key, kind="stable")
    srows, skey = rows[order], key[order]
    k = len(srows)
    sdep = depth[srows]
    tkey = root_id[tops].astype(np.int64) * n + tops
    tpos = np.searchsorted(skey, tkey)
    gend = np.searchsorted(skey, (root_id[tops].astype(np.int64) + 1) * n)
    end = gend.copy()
    tdep = depth[tops]
    for d in np.unique(tdep).tolist():
        stops = np.flatnonzero(sdep <= d)
        sel = tdep == d
        i = np.searchsorted(stops, tpos[sel], "right")
        nxt = np.where(i < len(stops), stops[np.minimum(i, len(stops) - 1)], k)
        end[sel] = np.minimum(nxt, gend[sel])
    # recursion: a top inside an earlier top's run is not a top of its own
    o = np.argsort(tpos, kind="stable")
    prev_end = np.concatenate([[-1], np.maximum.accumulate(end[o])[:-1]])
    nested_o = prev_end > tpos[o]
    keep = np.ones(len(tops), dtype=bool)
    keep[o[nested_o]] = False
    nested = int(nested_o.sum())
    otop, opos, oend = tops[keep], tpos[keep], end[keep]
    ntop = len(otop)
    lens = oend - opos  # the top plus its descendants
    total = int(lens.sum())
    starts = np.repeat(opos - (np.cumsum(lens) - lens), lens) + np.arange(total)
    own_pos = np.full(k, -1, dtype=np.int64)
    own_pos[starts] = np.repeat(np.arange(ntop), lens)
    # exact check: the runs are closed under parent→child, and every run row's parent is in it
    spar = parent[srows]
    has_p = spar >= 0
    pkey = np.where(has_p, root_id[srows].astype(np.int64) * n + spar, -1)
    ppos = np.minimum(np.searchsorted(skey, pkey), k - 1)
    if not (skey[ppos[has_p]] == pkey[has_p]).all():
        return None
    own_excl = own_pos.copy()
    own_excl[opos] = -1
    par_own = np.where(has_p, own_pos[ppos], -1)
    if not (own_excl == par_own).all():
        return None
    inner = own_excl >= 0
    if not (sdep[inner] == sdep[ppos[inner]] + 1).all():
        return None
    universe = srows[starts]
    owner = own_pos[starts]
    rel = (sdep[starts] - tdep[keep][owner]).astype(np.int64)
    ou = np.argsort(universe, kind="stable")
    return otop, nested, universe[ou], owner[ou], rel[ou]


def shallow_subtrees(
    parent: np.ndarray, tops: np.ndarray, max_levels: int = 6
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`subtrees` for tops with shallow subtrees (leaf-like functions), by levels.

    Level L is the rows whose parent is at level L - 1: one gather over the parent column per
    level, exact by definition (no order assumption).  Cheaper than :func:`subtrees` when the
    tops' trees are big but their own subtrees short.  Returns None when the subtrees are
    deeper than ``max_levels``, widen below the first level, or a top lies inside another
    (recursion): use subtrees() then.
    """
    n = len(parent)
    tops = np.asarray(tops, dtype=np.int64)
    # level of each row (-1: not reached); index n stands for "no parent" (parent == -1)
    lvl = np.full(n + 1, -1, dtype=np.int16)
    lvl[tops] = 0
    levels = [tops]
    owners = [np.arange(len(tops), dtype=np.int64)]
    for level in range(1, max_levels + 2):
        front = np.flatnonzero(lvl[parent] == level - 1)
        if len(front) == 0:
            break
        # deep or widening subtrees (a syscall, not a leaf helper): subtrees() is cheaper
        growing = level >= 2 and len(front) > len(levels[-1])
        if level > max_levels or growing or (lvl[front] == 0).any():
            return None
        prev = levels[-1]
        owners.append(owners[-1][np.searchsorted(prev, parent[front])])
        lvl[front] = level
        levels.append(front)
    uni = np.concatenate(levels)
    owner = np.concatenate(owners)
    rel = np.repeat(np.arange(len(levels), dtype=np.int64), [len(x) for x in levels])
    o = np.argsort(uni, kind="stable")
    return tops, 0, uni[o], owner[o], rel[o]
