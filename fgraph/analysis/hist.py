"""``fgraph hist``: the latency distribution of X and where the time of its slow calls went.

``hist(trace, "vfs_read", threshold="1ms")`` returns a :class:`HistResult`; its ``to_dict()`` is
exactly ``fgraph hist --json`` (``fgraph check`` evaluates expressions on these keys, keep them
stable).  Without a function, ``hist(trace)`` returns a :class:`TopResult`: the functions with
the most total and the most self time, each with its histogram.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UsageError
from ..schema import CallFlag
from ..table import CallTable
from ..units import parse_duration
from .breakdown import Breakdown, breakdown
from .calls import as_calls, complete_mask, func_code
from .compare import Comparison, compare_breakdowns
from .filters import describe, filter_ids, filter_mask
from .stats import Latency, nearest_rank
from .tree import bincount_int

# The call columns hist (its breakdown, comparison, filters and --plot) reads: the CLI builds
# only these (``load_windowed(columns=...)``), ~40% less memory than the whole call table.
# tests/test_hist_columns.py runs every option on a table built with only these.
COLUMNS = frozenset(
    {
        "parent_id",
        "interrupted_id",
        "pid",
        "comm",
        "func",
        "depth",
        "ts_entry",
        "duration",
        "self",
        "irq_ns",
        "offcpu_sleep_ns",
        "offcpu_runnable_ns",
        "cpu_entry",
        "ctx",
        "flags",
        "trace",
    }
)

_PCT_RE = re.compile(r"^\s*p(\d+(?:\.\d+)?)\s*$", re.IGNORECASE)


@dataclass
class HistResult:
    func: str
    threshold_ns: int
    threshold_text: str
    latency: Latency  # complete calls
    slow: Latency  # complete calls >= threshold
    truncated_calls: int
    truncated_max_ns: int  # longest lower bound among truncated calls (-1: none)
    repaired_calls: dict[str, int]  # flag name → calls of X with that repair
    breakdown: Breakdown
    compare: Comparison | None = None
    filters: str = ""
    traces: list[str] = field(default_factory=list)
    # (ts_entry, duration) of the complete calls, for --plot's latency-over-time panel
    times_ns: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    durations_ns: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)

    @property
    def calls(self) -> int:
        return self.latency.calls

    @property
    def slow_calls(self) -> int:
        return self.slow.calls

    def to_dict(self) -> dict[str, Any]:
        lat = self.latency
        bd = self.breakdown
        d: dict[str, Any] = {
            "func": self.func,
            "threshold_ns": self.threshold_ns,
            "calls": lat.calls,
            "slow_calls": self.slow.calls,
            "truncated_calls": self.truncated_calls,
            "truncated_max_ns": self.truncated_max_ns,
            "p50_ns": lat.p50_ns,
            "p90_ns": lat.p90_ns,
            "p99_ns": lat.p99_ns,
            "max_ns": lat.max_ns,
            "mean_ns": lat.mean_ns,
            "total_ns": lat.total_ns,
            "slow_total_ns": self.slow.total_ns,
            "histogram_unit": lat.histogram.unit,
            "histogram": lat.histogram.buckets(),
            "breakdown_mode": bd.mode,
            "breakdown_by": bd.by,
            "breakdown_calls": bd.ncalls,
            "breakdown_nested_calls": bd.nested_calls,
            "breakdown_total_ns": bd.total_ns,
            "breakdown": [r.to_dict() for r in bd.rows],
            "irq_handlers": [{"name": n, "calls": c, "total_ns": t} for n, c, t in bd.irq_handlers],
            "offcpu_sleep_share": bd.offcpu_sleep_share,
            "offcpu_runnable_share": bd.offcpu_runnable_share,
            "repaired_calls": dict(self.repaired_calls),
            "filters": self.filters,
            "traces": list(self.traces),
        }
        if self.compare is not None:
            d["compare"] = self.compare.to_dict()
        return d


@dataclass
class TopFunction:
    name: str
    calls: int
    total_ns: int  # inclusive (nested calls of the same function count again)
    self_ns: int
    latency: Latency

    def to_dict(self) -> dict[str, Any]:
        lat = self.latency
        return {
            "name": self.name,
            "calls": self.calls,
            "total_ns": self.total_ns,
            "self_ns": self.self_ns,
            "p50_ns": lat.p50_ns,
            "p90_ns": lat.p90_ns,
            "p99_ns": lat.p99_ns,
            "max_ns": lat.max_ns,
            "histogram_unit": lat.histogram.unit,
            "histogram": lat.histogram.buckets(),
        }


@dataclass
class TopResult:
    by_total: list[TopFunction]
    by_self: list[TopFunction]
    functions: int
    calls: int
    filters: str = ""
    traces: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "functions": self.functions,
            "calls": self.calls,
            "top_total": [f.to_dict() for f in self.by_total],
            "top_self": [f.to_dict() for f in self.by_self],
            "filters": self.filters,
            "traces": list(self.traces),
        }


def parse_threshold(threshold: str | int | None, durations: np.ndarray) -> tuple[int, str]:
    """ns of "1ms" / "250us" / 1000000, or of "p90" (that percentile of X's complete calls)."""
    if threshold is None:
        return 0, "0"
    if isinstance(threshold, str):
        m = _PCT_RE.match(threshold)
        if m:
            q = float(m.group(1))
            if not 0 < q <= 100:
                raise UsageError(f"bad threshold {threshold!r}: percentile must be in (0, 100]")
            v = nearest_rank(np.sort(durations), q)
            return max(v, 0), threshold.strip()
    ns = parse_duration(threshold, what="threshold")
    assert ns is not None
    if ns < 0:
        raise UsageError(f"bad threshold {threshold!r}: must not be negative")
    return ns, str(threshold).strip()


def _trace_names(obj: Any) -> list[str]:
    if isinstance(getattr(obj, "names", None), list):  # (calls.Aggregated)
        return list(obj.names)
    if isinstance(obj, (list, tuple)):
        return [n for o in obj for n in _trace_names(o)]
    name = getattr(obj, "name", None)
    return [str(name)] if name else []


def _rows_of(col: np.ndarray, value: int, step: int = 1 << 18) -> np.ndarray:
    """``np.flatnonzero(col == value)``, a quarter million rows at a time: the masks stay small
    and in cache (a table-sized one is fresh memory: 5.6 -> ~3 ms at 5M calls)."""
    parts = [np.flatnonzero(col[lo : lo + step] == value) + lo for lo in range(0, len(col), step)]
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def hist(
    trace_or_calls: Any,
    func: str | None = None,
    *,
    threshold: str | int | None = "1ms",
    depth: int = 1,
    all: bool = False,  # noqa: A002 - mirrors the --all option
    by: str = "child",
    compare: str | None = None,
    filters: Any = None,
    top: int = 10,
) -> HistResult | TopResult:
    """Histogram and slow-call breakdown of ``func`` (or the top functions when None).

    ``threshold``: slow means duration >= threshold ("1ms", "250us", ns as int, or "p90").
    ``depth`` / ``all`` / ``by``: see :func:`fgraph.analysis.breakdown.breakdown`.
    ``compare="fast"`` adds the same breakdown of the fast calls beside the slow ones.
    ``filters``: --pid/--comm/--cpu/--since/--until (see :mod:`fgraph.analysis.filters`).
    """
    calls = as_calls(trace_or_calls)
    names = _trace_names(trace_or_calls)
    if depth < 1:
        raise UsageError(f"--depth must be at least 1, not {depth}")
    if by not in ("child", "path"):
        raise UsageError(f"--by must be 'child' or 'path', not {by!r}")
    if compare not in (None, "fast"):
        raise UsageError(f"--compare takes 'fast', not {compare!r}")
    if func is None:
        mask = filter_mask(calls, filters)
        return top_functions(calls, mask, n=top, filters=describe(filters), traces=names)
    # X's calls first; everything below works on them (and their subtrees) only.  (func_code
    # only when there are none, for its error: its test reads the whole column again)
    code = calls.strings.lookup(func)
    ids = _rows_of(calls["func"], code) if code >= 0 else np.empty(0, np.int64)
    if not len(ids):
        code = func_code(calls, func)
        ids = _rows_of(calls["func"], code)
    x_ids = filter_ids(calls, filters, ids)
    x_dur = calls["duration"][x_ids]
    x_flags = calls["flags"][x_ids]
    x_trunc = (x_flags & CallFlag.TRUNCATED) != 0
    x_complete = ~x_trunc & (x_dur >= 0)  # as calls.complete_mask
    c_ids, c_dur = x_ids[x_complete], x_dur[x_complete]
    thr, thr_text = parse_threshold(threshold, c_dur)
    lat = Latency.of(c_dur)
    unit = lat.histogram.unit
    slow_ids = c_ids[c_dur >= thr]
    slow = Latency.of(calls["duration"][slow_ids], unit)
    bd = breakdown(calls, slow_ids, depth=depth, all=all, by=by)
    cmp = None
    if compare == "fast":
        fast_ids = c_ids[c_dur < thr]
        fast_bd = breakdown(calls, fast_ids, depth=depth, all=all, by=by)
        cmp = compare_breakdowns(
            f"fast (< {thr_text})",
            fast_bd,
            Latency.of(calls["duration"][fast_ids], unit),
            f"slow (>= {thr_text})",
            bd,
            slow,
        )
    fl = x_flags
    repaired = {}
    for f in (
        CallFlag.SYNTH_ENTRY,
        CallFlag.LOST_GAP,
        CallFlag.CLOSED_BY_OUTER,
        CallFlag.DEPTH_MISMATCH,
        CallFlag.MIGRATED,
    ):
        k = int(((fl & f) != 0).sum())
        if k:
            repaired[str(f.name).lower()] = k
    tdur = x_dur[x_trunc]
    c_ts = calls["ts_entry"][c_ids]
    order = np.argsort(c_ts, kind="stable")
    return HistResult(
        func=func,
        threshold_ns=thr,
        threshold_text=thr_text,
        latency=lat,
        slow=slow,
        truncated_calls=int(x_trunc.sum()),
        truncated_max_ns=int(tdur.max()) if len(tdur) else -1,
        repaired_calls=repaired,
        breakdown=bd,
        compare=cmp,
        filters=describe(filters),
        traces=names,
        times_ns=c_ts[order],
        durations_ns=c_dur[order],
    )


def top_functions(
    calls: CallTable,
    mask: np.ndarray,
    *,
    n: int = 10,
    filters: str = "",
    traces: list[str] | None = None,
) -> TopResult:
    """Functions with the most inclusive and the most self time among the complete calls in mask."""
    sel = mask & complete_mask(calls)
    func = calls["func"][sel].astype(np.int64)
    dur = calls["duration"][sel]
    selfc = np.clip(calls["self"][sel], 0, None)
    ok = func >= 0
    func, dur, selfc = func[ok], dur[ok], selfc[ok]
    nf = int(func.max()) + 1 if len(func) else 0
    cnt = np.bincount(func, minlength=nf)
    tot = bincount_int(func, dur, nf)
    slf = bincount_int(func, selfc, nf)
    # ties broken by name code order (stable), so the output is deterministic
    by_total = np.lexsort((np.arange(nf), -tot))[:n]
    by_self = np.lexsort((np.arange(nf), -slf))[:n]
    # durations of the (at most 2n) shown functions only, grouped by function (sorted), so
    # each one's histogram is a slice
    shown = np.zeros(nf, dtype=bool)
    shown[by_total] = True
    shown[by_self] = True
    pick = shown[func]
    fsel, dsel = func[pick], dur[pick]
    order = np.argsort(fsel, kind="stable")
    fs, ds = fsel[order], dsel[order]

    def make(codes: np.ndarray) -> list[TopFunction]:
        out = []
        for c in codes.tolist():
            if cnt[c] == 0:
                continue
            lo, hi = np.searchsorted(fs, c, "left"), np.searchsorted(fs, c, "right")
            out.append(
                TopFunction(
                    str(calls.strings[c]),
                    int(cnt[c]),
                    int(tot[c]),
                    int(slf[c]),
                    Latency.of(ds[lo:hi]),
                )
            )
        return out

    return TopResult(
        by_total=make(by_total),
        by_self=make(by_self),
        functions=int((cnt > 0).sum()),
        calls=int(len(func)),
        filters=filters,
        traces=list(traces or []),
    )
