"""The quality report of a rebuild: what went in, what came out, every repair, every loss."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._ext import stacks
from .._numpy import unique
from ..schema import CallFlag, IrqCtx
from ..table import CallTable, LostTable, TraceMeta
from .calls import REPAIR_FLAGS
from .timeline import FG_ENTRY_CODE, FG_EXIT_CODE


@dataclass
class Quality:
    """Counts of a rebuild.  ``events_unaccounted`` must be 0: every funcgraph record is the
    entry or the exit of exactly one call (or a counted anomaly)."""

    path: str = ""
    format: str = ""
    events_in: int = 0
    funcgraph_events: int = 0
    entries: int = 0
    exits: int = 0
    other_events: int = 0
    calls: int = 0
    tasks: int = 0
    orphan_exits: int = 0
    adopted_by_orphans: int = 0
    unclosed_entries: int = 0
    closed_by_outer: int = 0
    truncated: int = 0
    lost_events: int = 0
    lost_gaps: int = 0
    lost_unknown_count_gaps: int = 0
    lost_per_cpu: dict[str, int] = field(default_factory=dict)
    calls_spanning_gaps: int = 0
    migrated_calls: int = 0
    irq_calls: dict[str, int] = field(default_factory=dict)
    ctx_by_name_calls: int = 0
    irq_ns_total: int = 0
    depth_mismatches: dict[str, int] = field(default_factory=dict)
    anomalies: dict[str, int] = field(default_factory=dict)
    events_unaccounted: int = 0
    traced_ns: int = 0
    certain_ns: int = 0
    certain_time_share: float = 1.0
    ts_known: bool = True
    warnings: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def render(self) -> str:
        """Human-readable report (``fgraph stats``)."""
        d = self.to_dict()
        lines = [f"{self.path}  ({self.format or 'unknown format'})"]

        def row(label: str, value: Any) -> None:
            lines.append(f"  {label:<28} {value}")

        row("events in", self.events_in)
        row(
            "funcgraph events",
            f"{self.funcgraph_events}  ({self.entries} entries, {self.exits} exits)",
        )
        row("calls rebuilt", f"{self.calls}  in {self.tasks} tasks")
        row(
            "orphan exits (synth entry)",
            f"{self.orphan_exits}  (adopting {self.adopted_by_orphans} calls)",
        )
        row("unclosed entries", self.unclosed_entries)
        row("closed by outer exit", self.closed_by_outer)
        gaps = f"{self.lost_gaps} gaps, {self.lost_events} events known lost"
        if self.lost_unknown_count_gaps:
            gaps += f" (+{self.lost_unknown_count_gaps} gaps of unknown size)"
        row("lost events", gaps)
        if self.lost_per_cpu:
            row("lost per cpu", ", ".join(f"cpu{c}: {n}" for c, n in self.lost_per_cpu.items()))
        row("calls spanning a gap", self.calls_spanning_gaps)
        row("migrated calls", self.migrated_calls)
        irq = ", ".join(f"{k} {v}" for k, v in self.irq_calls.items() if v) or "none"
        row(
            "interrupt calls",
            irq + (f"  ({self.ctx_by_name_calls} by name)" if self.ctx_by_name_calls else ""),
        )
        dm = d["depth_mismatches"]
        row("depth mismatches", ", ".join(f"{k} {v}" for k, v in dm.items() if v) or "0")
        if self.anomalies:
            row("anomalies", ", ".join(f"{k} {v}" for k, v in self.anomalies.items()))
        row("events unaccounted", self.events_unaccounted)
        if self.ts_known:
            row("time with certain attribution", f"{100.0 * self.certain_time_share:.2f} %")
        else:
            row("timestamps", "none in the input (durations from the text)")
        return "\n".join(lines) + "\n"


@dataclass
class EventCounts:
    """What the rebuild saw of the events, summed over the timeline windows it was fed."""

    events_in: int = 0
    funcgraph_events: int = 0
    entries: int = 0
    exits: int = 0
    unaccounted: int = 0  # funcgraph records the machine gave to no call

    def add(self, kind: np.ndarray, fg: np.ndarray) -> None:
        self.events_in += len(kind)
        self.funcgraph_events += int(np.count_nonzero(fg))
        # (plain ints: see timeline.FG_ENTRY_CODE)
        self.entries += int(np.count_nonzero(kind == FG_ENTRY_CODE))
        self.exits += int(np.count_nonzero(kind == FG_EXIT_CODE))


def row_references(entry_row: np.ndarray, exit_row: np.ndarray) -> int:
    """How many records the calls refer to (their entry and exit rows that are set)."""
    return int(np.count_nonzero(entry_row >= 0)) + int(np.count_nonzero(exit_row >= 0))


# the call columns assess reads (the row references only when not counted by the caller)
ASSESS_COLUMNS = frozenset({"flags", "self", "ctx", "irq_ns", "entry_row", "exit_row"})


_IRQ_CTXS = (IrqCtx.SOFTIRQ, IrqCtx.HARDIRQ, IrqCtx.NMI)
_COUNTED_FLAGS = (CallFlag.TRUNCATED, CallFlag.LOST_GAP, CallFlag.MIGRATED, CallFlag.CTX_BY_NAME)


@dataclass
class _PerCall:
    """The report's per-call counts and sums (see :func:`per_call_counts`)."""

    flagged: dict[int, int]  # calls with each of ``_COUNTED_FLAGS``
    in_ctx: dict[int, int]  # calls of each of ``_IRQ_CTXS``
    traced: int = 0  # positive self time
    certain: int = 0  # of it, in calls without a repair
    irq_ns: int = 0


def per_call_counts(calls: CallTable, irq_ns: int | None = None) -> _PerCall:
    """The report's per-call counts, in one C pass over the flags, self, ctx and irq_ns columns
    (``stacks.call_counts``; tests/test_finish_speed.py keeps the numpy steps it replaced).
    The depth check does not change them (it sets DEPTH_MISMATCH only, neither counted nor a
    repair bit), so the rebuild takes them as soon as the table is built: its columns all
    resident then (read after their zero pages were given back, each of those pages was a
    page fault: ~6k, half of the numpy steps' 22 ms at 5M calls).  ``irq_ns``: the irq_ns
    column's sum, when the caller took it (the column is not read then)."""
    assert not REPAIR_FLAGS & CallFlag.DEPTH_MISMATCH
    assert not any(f & CallFlag.DEPTH_MISMATCH for f in _COUNTED_FLAGS)
    flagged, in_ctx, traced, certain, irq_sum = stacks.call_counts(
        calls["flags"].astype(np.uint16, copy=False),
        calls["self"].astype(np.int64, copy=False),
        calls["ctx"].astype(np.int8, copy=False),
        calls["irq_ns"].astype(np.int64, copy=False) if irq_ns is None else None,
        [int(f) for f in _COUNTED_FLAGS],
        [int(c) for c in _IRQ_CTXS],
        int(REPAIR_FLAGS),
    )
    return _PerCall(
        flagged={int(f): k for f, k in zip(_COUNTED_FLAGS, flagged)},
        in_ctx={int(c): k for c, k in zip(_IRQ_CTXS, in_ctx)},
        traced=traced,
        certain=certain,
        irq_ns=irq_sum if irq_ns is None else irq_ns,
    )


def assess(
    counts: EventCounts,
    lost: LostTable,
    meta: TraceMeta,
    calls: CallTable,
    counters: dict[str, int],
    depth: dict[str, int],
    referenced: int | None = None,
    per_call: _PerCall | None = None,
) -> Quality:
    """The quality report.  Every funcgraph record must be the entry or the exit of exactly one
    call: the machine names the call of each record it is fed (``counts.unaccounted`` are the
    records it named none for), and a call's entry and exit rows are set once, by the record
    that entered or closed it.  ``per_call``: :func:`per_call_counts` of ``calls``, when the
    caller took them already."""
    n = counts.events_in
    unaccounted = counts.unaccounted
    # the calls' row references must cover exactly the funcgraph records that were given one
    # (``referenced``: counted by the caller when the table was built without the row columns)
    if referenced is None:
        referenced = row_references(calls["entry_row"], calls["exit_row"])
    unaccounted += abs(referenced - (counts.funcgraph_events - counts.unaccounted))
    cnt = lost["count"]
    per_cpu: dict[str, int] = {}
    for c in unique(lost["cpu"]):
        sel = lost["cpu"] == c
        per_cpu[str(int(c))] = int(np.maximum(cnt[sel], 0).sum())
    if per_call is None:
        per_call = per_call_counts(calls)
    traced, certain_ns = per_call.traced, per_call.certain
    q = Quality(
        path=meta.path,
        format=meta.format,
        events_in=n,
        funcgraph_events=counts.funcgraph_events,
        entries=counts.entries,
        exits=counts.exits,
        other_events=n - counts.funcgraph_events,
        calls=len(calls),
        tasks=int(counters.get("tasks", 0)),
        orphan_exits=int(counters.get("orphan_exits", 0)),
        adopted_by_orphans=int(counters.get("adopted", 0)),
        unclosed_entries=int(counters.get("unclosed_entries", 0)),
        closed_by_outer=int(counters.get("closed_by_outer", 0)),
        truncated=per_call.flagged[CallFlag.TRUNCATED],
        lost_events=int(np.maximum(cnt, 0).sum()),
        lost_gaps=len(lost),
        lost_unknown_count_gaps=int((cnt < 0).sum()),
        lost_per_cpu=per_cpu,
        calls_spanning_gaps=per_call.flagged[CallFlag.LOST_GAP],
        migrated_calls=per_call.flagged[CallFlag.MIGRATED],
        irq_calls={str(c.name).lower(): per_call.in_ctx[c] for c in _IRQ_CTXS},
        ctx_by_name_calls=per_call.flagged[CallFlag.CTX_BY_NAME],
        irq_ns_total=per_call.irq_ns,
        depth_mismatches=depth,
        anomalies={},
        events_unaccounted=unaccounted,
        traced_ns=traced,
        certain_ns=certain_ns,
        certain_time_share=(certain_ns / traced) if traced > 0 else 1.0,
        ts_known=bool(meta.ts_known),
        warnings=len(meta.warnings),
    )
    return q
