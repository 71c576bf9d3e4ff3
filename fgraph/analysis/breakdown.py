"""Where the time of a set of calls went: rows that *partition* the calls' total duration.

For each call C of the set (the "slow calls of X"), its wall time is split exactly:

* ``--depth 1`` (default): each direct child's inclusive duration (a row per child function,
  or per call path with ``by="path"``), plus ``[self]`` (C's self time) and ``[irq]`` (interrupt
  time while C itself was the innermost open call; interrupts inside a child are part of the
  child's duration);
* ``--depth N``: descendants at relative depth N count inclusive; shallower descendants
  contribute their own exclusive time (self + irq) as rows named ``F [self]``;
* ``all``: every descendant contributes its exclusive time (self + irq), per function/path.

Whatever the rebuild could not account for (a child with unknown duration, a timestamp that
does not add up) goes into an ``[unaccounted]`` row, so the rows always add up to exactly the
calls' total duration (integer ns) and the shares to 1.

Calls of X nested in another call of the set (recursion) are not broken down again: they are
part of the outer call's tree, and counted in ``nested_calls``.

Everything here is whole-array numpy (bincount / unique / pointer jumping); the only Python
loops run over the output rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._numpy import positions, unique
from ..table import CallTable
from .stats import sparse_quantile
from .tree import bincount_int, nearest_stop, path_ids, path_names, subtrees

SELF = "[self]"
IRQ = "[irq]"
UNACCOUNTED = "[unaccounted]"

# special row keys (negative, so they never collide with function codes or path ids)
_K_SELF, _K_IRQ, _K_UNACC = -1, -2, -3


@dataclass
class BreakdownRow:
    name: str
    kind: str  # "child" (inclusive), "exclusive" (self+irq of a descendant), "self", "irq", "unaccounted"
    calls: (
        int  # calls contributing to the row (for [self]/[irq]: broken-down calls with time there)
    )
    calls_per_call: float  # calls / broken-down calls
    total_ns: int
    mean_ns: float  # total_ns / calls
    share: float  # total_ns / the broken-down calls' total duration
    share_mean: float  # mean over the broken-down calls of (row time in the call / call duration)
    share_p50: float  # … its median (nearest rank; calls without the row count as 0)
    share_p99: float
    offcpu_sleep_ns: int | None  # time the task was switched out sleeping/blocked inside the row
    offcpu_runnable_ns: int | None  # … switched out while runnable (preempted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "calls": self.calls,
            "calls_per_call": self.calls_per_call,
            "total_ns": self.total_ns,
            "mean_ns": self.mean_ns,
            "share": self.share,
            "share_mean": self.share_mean,
            "share_p50": self.share_p50,
            "share_p99": self.share_p99,
            "offcpu_sleep_ns": self.offcpu_sleep_ns,
            "offcpu_runnable_ns": self.offcpu_runnable_ns,
        }


@dataclass
class Breakdown:
    mode: str  # "child", "depth N", "all"
    by: str  # "child" or "path"
    ncalls: int  # calls broken down (outermost calls of the set)
    total_ns: int  # their summed duration; the rows' total_ns add up to it
    nested_calls: int  # calls of the set inside another call of the set (not broken down again)
    rows: list[BreakdownRow] = field(default_factory=list)
    offcpu_sleep_ns: int | None = None  # over the broken-down calls (inclusive)
    offcpu_runnable_ns: int | None = None
    # what the [irq] row is made of: interrupts that arrived while a broken-down call was the
    # innermost one, per handler (name, calls, total_ns of the interrupt roots)
    irq_handlers: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def has_offcpu(self) -> bool:
        return self.offcpu_sleep_ns is not None

    @property
    def offcpu_sleep_share(self) -> float | None:
        if self.offcpu_sleep_ns is None:
            return None
        return self.offcpu_sleep_ns / self.total_ns if self.total_ns else 0.0

    @property
    def offcpu_runnable_share(self) -> float | None:
        if self.offcpu_runnable_ns is None:
            return None
        return self.offcpu_runnable_ns / self.total_ns if self.total_ns else 0.0

    def row(self, name: str) -> BreakdownRow | None:
        for r in self.rows:
            if r.name == name:
                return r
        return None

    def head(self, limit: int | None) -> tuple[list[BreakdownRow], int, int, float]:
        """The first ``limit`` rows plus (number, total_ns, share) of the rows left out."""
        if limit is None or limit >= len(self.rows):
            return list(self.rows), 0, 0, 0.0
        rest = self.rows[limit:]
        return (
            list(self.rows[:limit]),
            len(rest),
            sum(r.total_ns for r in rest),
            sum(r.share for r in rest),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "by": self.by,
            "calls": self.ncalls,
            "total_ns": self.total_ns,
            "nested_calls": self.nested_calls,
            "offcpu_sleep_ns": self.offcpu_sleep_ns,
            "offcpu_runnable_ns": self.offcpu_runnable_ns,
            "irq_handlers": [
                {"name": n, "calls": c, "total_ns": t} for n, c, t in self.irq_handlers
            ],
            "rows": [r.to_dict() for r in self.rows],
        }


def _universe(
    calls: CallTable, roots: np.ndarray, max_rel: int = -1
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
    """(outermost roots, nested count, universe rows, owner index, relative depth).

    The universe is the outermost calls of ``roots`` and their descendants (sorted rows); see
    :func:`fgraph.analysis.tree.subtrees`.  Tables without the shape it relies on (a parent
    after its child: not made by the rebuild) fall back to pointer jumping over every call.
    ``max_rel`` >= 0: the rows deeper below their root may be left out (the fallback keeps
    them).
    """
    parent = calls["parent_id"]
    got = subtrees(parent, calls["depth"], roots, max_rel)
    if got is not None:
        return got
    n = len(parent)
    stop = np.zeros(n, dtype=bool)
    stop[roots] = True
    owner, rel = nearest_stop(parent, stop)
    p = parent[roots]
    nested = (p >= 0) & (owner[np.clip(p, 0, None)] >= 0)
    outer = roots[~nested]
    is_root = np.zeros(n, dtype=bool)
    is_root[outer] = True
    owner, rel = nearest_stop(parent, is_root)
    uni = np.flatnonzero(owner >= 0)
    index = np.full(n, -1, dtype=np.int64)
    index[outer] = np.arange(len(outer))
    return outer, int(nested.sum()), uni, index[owner[uni]], rel[uni].astype(np.int64)


def breakdown(
    calls: CallTable,
    roots: np.ndarray,
    *,
    depth: int = 1,
    all: bool = False,  # noqa: A002 - mirrors the --all option
    by: str = "child",
) -> Breakdown:
    """Partition the time of the calls ``roots`` (call ids) into rows; see the module doc."""
    if by not in ("child", "path"):
        raise ValueError(f"by must be 'child' or 'path', not {by!r}")
    depth = max(1, int(depth))
    mode = "all" if all else ("child" if depth == 1 else f"depth {depth}")
    roots = unique(np.asarray(roots, dtype=np.int64))
    parent = calls["parent_id"]
    if len(roots) == 0:
        return Breakdown(mode=mode, by=by, ncalls=0, total_ns=0, nested_calls=0)
    # Work on the "universe": the broken-down calls and their descendants only (local rows).
    # rows below depth N never count (their time is inside an inclusive row at depth N),
    # and the exclusive time of rows above N needs only their children, at most N deep
    roots, nested, uni, root_index, rel = _universe(calls, roots, -1 if all else depth)
    if not all:
        # (the C pass already cut them; the fallback's universe is whole)
        near = rel <= depth
        if not near.all():
            uni, root_index, rel = uni[near], root_index[near], rel[near]
    nroots = len(roots)
    out = Breakdown(mode=mode, by=by, ncalls=nroots, total_ns=0, nested_calls=nested)
    nu = len(uni)
    is_top = rel == 0
    member = ~is_top  # descendants of a broken-down call (not via interrupts)
    # local parent of each descendant (its parent is a top or another descendant)
    lpar = np.full(nu, -1, dtype=np.int64)
    lpar[member] = np.searchsorted(uni, parent[uni[member]])
    top_local = np.flatnonzero(is_top)  # in root order (uni and roots are both ascending)

    dur = np.clip(calls["duration"][uni], 0, None)
    selfc = calls["self"][uni]
    irq = np.clip(calls["irq_ns"][uni], 0, None)
    sleep_r = calls["offcpu_sleep_ns"][roots]
    has_sched = bool((sleep_r >= 0).all())
    sleep0 = np.clip(calls["offcpu_sleep_ns"][uni], 0, None)
    runq0 = np.clip(calls["offcpu_runnable_ns"][uni], 0, None)

    # Exclusive time of each call: its self time, or what its duration leaves after the
    # children and interrupts when the rebuild could not tell (self == -1).
    kids = lpar[member]
    kid_dur = bincount_int(kids, dur[member], nu)
    excl = np.where(selfc >= 0, selfc, np.clip(dur - kid_dur - irq, 0, None))
    kid_sleep = bincount_int(kids, sleep0[member], nu)
    kid_runq = bincount_int(kids, runq0[member], nu)

    func_u = calls["func"][uni]
    key_of: tuple[np.ndarray, np.ndarray | None, np.ndarray | None]
    if by == "path":
        key_of = path_ids(lpar, func_u, rel, member)
    else:
        key_of = (func_u.astype(np.int64), None, None)
    rowkey = key_of[0]

    # Contributions of descendants: (row key, root, time, sleep, runnable).
    if all:
        sel = member
        incl = np.zeros(nu, dtype=bool)
    else:
        incl = member & (rel == depth)
        sel = member & (rel <= depth)
    sel_rows = np.nonzero(sel)[0]
    is_incl = incl[sel_rows]
    # key >= 0: (code + 1) * 2 + 0 for an inclusive row, + 1 for an exclusive row (code may be -1)
    c_key = (rowkey[sel_rows] + 1) * 2 + np.where(is_incl, 0, 1)
    c_root = root_index[sel_rows]
    c_time = np.where(is_incl, dur[sel_rows], excl[sel_rows] + irq[sel_rows])
    c_sleep = np.where(
        is_incl, sleep0[sel_rows], np.clip(sleep0[sel_rows] - kid_sleep[sel_rows], 0, None)
    )
    c_runq = np.where(
        is_incl, runq0[sel_rows], np.clip(runq0[sel_rows] - kid_runq[sel_rows], 0, None)
    )

    # X's own rows.
    tl = top_local
    r_dur = dur[tl]
    r_self = excl[tl]
    r_irq = irq[tl]
    r_sleep = np.clip(sleep0[tl] - kid_sleep[tl], 0, None)
    r_runq = np.clip(runq0[tl] - kid_runq[tl], 0, None)
    # Whatever does not add up per call goes to [unaccounted] so the rows partition exactly.
    per_root = (
        np.bincount(c_root, weights=c_time, minlength=nroots).astype(np.int64)
        if len(c_root)
        else np.zeros(nroots, np.int64)
    )
    residual = r_dur - per_root - r_self - r_irq
    ar = np.arange(nroots, dtype=np.int64)
    zero = np.zeros(nroots, dtype=np.int64)
    keys = np.concatenate(
        [c_key, np.full(nroots, _K_SELF), np.full(nroots, _K_IRQ), np.full(nroots, _K_UNACC)]
    )
    root_of = np.concatenate([c_root, ar, ar, ar])
    times = np.concatenate([c_time, r_self, r_irq, residual]).astype(np.int64)
    sleeps = np.concatenate([c_sleep, r_sleep, zero, zero]).astype(np.int64)
    runqs = np.concatenate([c_runq, r_runq, zero, zero]).astype(np.int64)
    # a call counts for a row when it belongs to it; X's special rows count calls with time there
    counts = np.concatenate(
        [np.ones(len(c_key), np.int64), (r_self != 0), (r_irq != 0), (residual != 0)]
    ).astype(np.int64)
    keep = np.concatenate([np.ones(len(c_key) + 2 * nroots, bool), residual != 0])
    keys, root_of, times, sleeps, runqs, counts = (
        a[keep] for a in (keys, root_of, times, sleeps, runqs, counts)
    )

    ukeys, kidx = np.unique(keys, return_inverse=True)
    kidx = kidx.reshape(-1)
    nk = len(ukeys)
    tot = np.bincount(kidx, weights=times, minlength=nk)
    cnt = np.bincount(kidx, weights=counts, minlength=nk)
    slp = np.bincount(kidx, weights=sleeps, minlength=nk)
    rnq = np.bincount(kidx, weights=runqs, minlength=nk)
    # exact integer totals (bincount weights are float64)
    tot_i = bincount_int(kidx, times, nk)

    # Per (row, call) time → share of that call's duration, for the share distribution.
    pair = kidx.astype(np.int64) * nroots + root_of
    upair, pinv = np.unique(pair, return_inverse=True)
    psum = np.bincount(pinv.reshape(-1), weights=times, minlength=len(upair))
    proot_dur = r_dur[upair % nroots].astype(np.float64)
    pshare = np.divide(psum, proot_dur, out=np.zeros(len(upair)), where=proot_dur > 0)
    prow = upair // nroots
    order = np.lexsort((pshare, prow))
    prow_s, pshare_s = prow[order], pshare[order]
    starts = np.searchsorted(prow_s, np.arange(nk), side="left")
    ends = np.searchsorted(prow_s, np.arange(nk), side="right")
    share_sum = np.bincount(prow, weights=pshare, minlength=nk)

    total = int(r_dur.sum())
    out.total_ns = total
    if has_sched:
        out.offcpu_sleep_ns = int(sleep0[tl].sum())
        out.offcpu_runnable_ns = int(runq0[tl].sum())

    names = calls.strings.values
    ppar, pfunc = key_of[1], key_of[2]
    path_str: dict[int, str] = {}
    if by == "path" and ppar is not None and pfunc is not None:
        pos_keys = unique(ukeys[ukeys >= 0] // 2 - 1)
        pos_keys = pos_keys[pos_keys >= 0]
        for pid_, s in zip(pos_keys.tolist(), path_names(pos_keys, ppar, pfunc, names)):
            path_str[pid_] = s

    rows = []
    for k in range(nk):
        key = int(ukeys[k])
        if key == _K_SELF:
            name, kind = SELF, "self"
        elif key == _K_IRQ:
            name, kind = IRQ, "irq"
        elif key == _K_UNACC:
            name, kind = UNACCOUNTED, "unaccounted"
        else:
            code, excl_row = divmod(key, 2)
            code -= 1
            base = path_str.get(code, "?") if by == "path" else (names[code] if code >= 0 else "?")
            if excl_row and not all:
                name, kind = f"{base} {SELF}", "exclusive"
            else:
                name, kind = base, ("exclusive" if excl_row else "child")
        seg = pshare_s[starts[k] : ends[k]]
        c = int(cnt[k])
        t = int(tot_i[k])
        rows.append(
            BreakdownRow(
                name=name,
                kind=kind,
                calls=c,
                calls_per_call=c / nroots,
                total_ns=t,
                mean_ns=t / c if c else 0.0,
                share=t / total if total else 0.0,
                share_mean=float(share_sum[k]) / nroots,
                share_p50=sparse_quantile(seg[seg != 0], nroots, 50),
                share_p99=sparse_quantile(seg[seg != 0], nroots, 99),
                offcpu_sleep_ns=int(slp[k]) if has_sched else None,
                offcpu_runnable_ns=int(rnq[k]) if has_sched else None,
            )
        )
    del tot
    # Biggest first; ties by name so the output is stable.
    rows.sort(key=lambda r: (-r.total_ns, r.name))
    out.rows = rows
    # interrupt roots that arrived while a broken-down call was the innermost open call
    intr = calls["interrupted_id"]
    cand = np.flatnonzero(intr >= 0)
    cand = cand[parent[cand] < 0]
    irq_roots = cand[positions(roots, intr[cand]) >= 0]
    if len(irq_roots):
        hdur = np.clip(calls["duration"][irq_roots], 0, None)
        hf, hinv = np.unique(calls["func"][irq_roots], return_inverse=True)
        hcnt = np.bincount(hinv.reshape(-1), minlength=len(hf))
        htot = bincount_int(hinv.reshape(-1), hdur, len(hf))
        out.irq_handlers = sorted(
            (
                (str(names[int(f)]) if f >= 0 else "?", int(c), int(t))
                for f, c, t in zip(hf, hcnt, htot)
            ),
            key=lambda x: (-x[2], x[0]),
        )
    return out
