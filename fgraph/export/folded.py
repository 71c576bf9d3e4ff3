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

from ..analysis.tree import bincount_int, frame_parent, levels, outermost
from ..errors import UsageError
from ..schema import IrqCtx
from ..table import CallTable

# The call columns folding reads: ``fgraph export --to folded`` builds only these
# (``load_windowed(columns=...)``: 89 MB trace.dat 346 -> ~150 MB peak RSS);
# tests/test_export_folded_perfetto.py folds with only these.
COLUMNS = frozenset({"parent_id", "interrupted_id", "func", "ctx", "duration", "self"})

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
        # (joined as Python strings: numpy's fixed-width text made every line as wide as the
        # deepest path, ~3 s and ~1.5 GB for 147k lines of a real capture)
        lines = [f"{p} {w}\n" for p, w in zip(self.paths, self.weights_us().tolist()) if w > 0]
        out.write("".join(lines))


def _frame_names(calls: CallTable, root: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(the distinct frame names, sorted; each call's index in them): the function, behind
    its interrupt context (``[hardirq];name``) for an interrupt root that is not an output
    root.  Made per distinct (function, context) pair, not per call: a name string per call
    was ~1.4 GB of fixed-width text at 5.9M calls, sorted whole (most of a 42 s export)."""
    func = calls["func"].astype(np.int64)
    label = np.zeros(len(func), dtype=np.int64)
    irq_root = (calls["parent_id"] < 0) & (calls["ctx"] > IrqCtx.TASK) & ~root
    for j, ctx in enumerate(_CTX_FRAME, 1):
        label[irq_root & (calls["ctx"] == ctx)] = j
    span = len(_CTX_FRAME) + 1
    key, inv = np.unique((func + 1) * span + label, return_inverse=True)
    labels = ["", *(f"{lab};" for lab in _CTX_FRAME.values())]
    base = calls.strings.decode(key // span - 1)
    names = [
        labels[int(k % span)] + ("[unknown]" if b is None else str(b))
        for k, b in zip(key.tolist(), base.tolist())
    ]
    # (two pairs may print the same: one name, as the strings are compared)
    uniq, code = np.unique(np.array(names, dtype=str), return_inverse=True)
    return uniq.tolist(), code.reshape(-1)[inv.reshape(-1)]


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
        root, kept = outermost(fp, calls["func"] == code)
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
        k = kept & (owner >= 0)
        w = bincount_int(owner[k], w[k], n)
    else:
        w = np.where(visible, w, 0)

    # Frame names: function, with the interrupt context in front of interrupt roots.
    uniq_names, name_code = _frame_names(calls, root)
    nnames = max(len(uniq_names), 1)

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
        # (one int64 per (parent path, name), in the order of the pairs)
        uk, inv = np.unique((pp + 1) * nnames + name_code[ids], return_inverse=True)
        path[ids] = npaths + inv.reshape(-1)
        path_parent.append(uk // nnames - 1)
        path_name.append(uk % nnames)
        npaths += len(uk)
    pparent = np.concatenate(path_parent) if path_parent else np.empty(0, np.int64)
    pname = np.concatenate(path_name) if path_name else np.empty(0, np.int64)
    strings: list[str] = []
    for i in range(npaths):  # one step per distinct path (tree nodes, not calls)
        s = uniq_names[pname[i]]
        strings.append(s if pparent[i] < 0 else strings[pparent[i]] + ";" + s)
    v = visible & (path >= 0)
    weights = bincount_int(path[v], w[v], npaths)
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
