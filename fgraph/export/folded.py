"""Folded stacks (``a;b;c 123``) for flamegraph.pl, inferno and speedscope.

One line per distinct call path, weighted in µs.  ``self`` weights (the default) are each
call's duration minus its children and minus the interrupts that ran inside it; interrupts are
folded under the call they interrupted behind a ``[hardirq]``/``[softirq]``/``[nmi]`` frame, so
the weights of a tree add up to its root's duration (the traced time).  ``total`` weights are
inclusive durations (each path's own calls, not summed upward).

The interrupts' frame parent is ``interrupted_id`` (the rebuild's link from an interrupt root
to the task call it arrived in); everything else follows ``parent_id``.  All walks go level by
level over numpy arrays (loops over tree depth, never over calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

import numpy as np

from ..errors import UsageError
from ..schema import IrqCtx
from ..table import CallTable

_CTX_FRAME = {
    int(IrqCtx.SOFTIRQ): "[softirq]",
    int(IrqCtx.HARDIRQ): "[hardirq]",
    int(IrqCtx.NMI): "[nmi]",
}


@dataclass
class Folded:
    """Folded stacks: ``paths[i]`` weighs ``weights_ns[i]``; ``traced_ns`` is the kept roots' time."""

    paths: list[str]
    weights_ns: np.ndarray
    traced_ns: int
    roots: int
    clipped_ns: int = 0  # negative self times (children longer than their parent) set to 0

    def weights_us(self) -> np.ndarray:
        """Integer µs whose sum is the rounded total (cumulative rounding, no drift)."""
        cum = np.cumsum(self.weights_ns)
        r = np.rint(cum / 1000.0).astype(np.int64)
        return np.diff(np.concatenate([[0], r]))

    def write(self, out: IO[str]) -> None:
        w = self.weights_us()
        keep = w > 0
        lines = np.char.add(
            np.char.add(np.array(self.paths, dtype=object)[keep].astype(str), " "),
            w[keep].astype(str),
        )
        if len(lines):
            out.write("\n".join(lines.tolist()) + "\n")


def frame_parent(calls: CallTable) -> np.ndarray:
    """Parent in the folded tree: the caller, or for an interrupt root the interrupted call."""
    p = calls["parent_id"].astype(np.int64)
    irq_root = (p < 0) & (calls["interrupted_id"] >= 0) & (calls["ctx"] > IrqCtx.TASK)
    return np.where(irq_root, calls["interrupted_id"].astype(np.int64), p)


def levels(fp: np.ndarray) -> np.ndarray:
    """Depth of each call in the frame-parent forest (parents always have smaller ids)."""
    n = len(fp)
    lvl = np.zeros(n, dtype=np.int64)
    has = fp >= 0
    for _ in range(n + 1):
        new = np.where(has, lvl[np.clip(fp, 0, None)] + 1, 0)
        if np.array_equal(new, lvl):
            break
        lvl = new
    return lvl


def fold(
    calls: CallTable,
    func: str | None = None,
    *,
    weight: str = "self",
    min_ns: int = 0,
) -> Folded:
    """Fold ``calls`` (only the subtrees of ``func``'s outermost calls when given)."""
    if weight not in ("self", "total"):
        raise ValueError(weight)
    n = len(calls)
    fp = frame_parent(calls)
    lvl = levels(fp)
    order = np.argsort(lvl, kind="stable")
    bounds = np.searchsorted(lvl[order], np.arange(int(lvl.max(initial=-1)) + 2))
    by_level = [order[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]

    # Which calls are kept, and which are roots of the output.
    if func is not None:
        code = calls.strings.lookup(func)
        if code < 0 or not (calls["func"] == code).any():
            raise UsageError(f"function {func!r} does not appear in the trace")
        is_x = calls["func"] == code
        inside = np.zeros(n, dtype=bool)  # an ancestor (frame parent chain) is X
        for ids in by_level:
            p = fp[ids]
            ok = p >= 0
            inside[ids[ok]] = inside[p[ok]] | is_x[p[ok]]
        root = is_x & ~inside
        kept = is_x | inside
    else:
        root = fp < 0
        kept = np.ones(n, dtype=bool)

    dur = np.clip(calls["duration"].astype(np.int64), 0, None)
    clipped = 0
    if weight == "self":
        # A folded line cannot weigh less than nothing: a negative self time (the kernel's
        # child durations add up to more than the parent's, or a repaired call's lower bound)
        # is counted as 0 and reported, so weights = traced time + clipped_ns.
        raw = calls["self"].astype(np.int64)
        unknown = raw == -1
        neg = kept & (raw < 0) & ~unknown
        clipped = int(-raw[neg].sum())
        w = np.clip(raw, 0, None)
    else:
        w = dur.copy()

    # --min: calls shorter than min fold into the nearest kept ancestor (time is conserved).
    visible = kept & ((dur >= min_ns) | root)
    owner = np.where(visible, np.arange(n), -1)
    for ids in by_level:
        hid = ids[kept[ids] & ~visible[ids]]
        owner[hid] = owner[fp[hid]]
    if weight == "self":
        acc = np.zeros(n, dtype=np.int64)
        k = kept & (owner >= 0)
        np.add.at(acc, owner[k], w[k])
        w = acc
    else:
        w = np.where(visible, w, 0)

    # Frame names: function, with the interrupt context in front of interrupt roots.
    names = calls.strings.decode(calls["func"]).astype(object)
    names[names == None] = "[unknown]"  # noqa: E711  (object array comparison)
    irq_root = (calls["parent_id"] < 0) & (calls["ctx"] > IrqCtx.TASK)
    for ctx, label in _CTX_FRAME.items():
        m = irq_root & (calls["ctx"] == ctx) & ~root
        if m.any():
            names[m] = np.char.add(label + ";", names[m].astype(str)).astype(object)
    uniq_names, name_code = np.unique(names.astype(str), return_inverse=True)

    # Path ids level by level: id of (parent path, name), so strings exist only per distinct path.
    path = np.full(n, -1, dtype=np.int64)
    path_parent: list[np.ndarray] = []
    path_name: list[np.ndarray] = []
    npaths = 0
    for ids in by_level:
        ids = ids[visible[ids]]
        if not len(ids):
            continue
        pp = np.where(root[ids], -1, path[np.clip(fp[ids], 0, None)])
        key = np.stack([pp, name_code[ids]], axis=1)
        uk, inv = np.unique(key, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        path[ids] = npaths + inv
        path_parent.append(uk[:, 0])
        path_name.append(uk[:, 1])
        npaths += len(uk)
    pparent = np.concatenate(path_parent) if path_parent else np.empty(0, np.int64)
    pname = np.concatenate(path_name) if path_name else np.empty(0, np.int64)
    strings: list[str] = []
    for i in range(npaths):  # one step per distinct path (tree nodes, not calls)
        s = uniq_names[pname[i]]
        strings.append(s if pparent[i] < 0 else strings[pparent[i]] + ";" + s)
    weights = np.zeros(npaths, dtype=np.int64)
    v = visible & (path >= 0)
    np.add.at(weights, path[v], w[v])
    order_p = (
        np.argsort(np.array(strings, dtype=object), kind="stable")
        if npaths
        else np.empty(0, np.int64)
    )
    return Folded(
        [strings[i] for i in order_p],
        weights[order_p],
        int(dur[root].sum()),
        int(root.sum()),
        clipped,
    )
