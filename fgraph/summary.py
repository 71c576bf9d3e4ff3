"""What ``fgraph info`` reports of an input, counted a window at a time.

:class:`EventSummary` adds up the records of consecutive event tables (the windows of one
input, or one whole table): how many, per event type, the first and last known timestamps and
the lost-event gaps per CPU.  A trace.dat is summarized without ever holding all its records
(``fgraph.pipeline.read_summary``); the facts are those of the whole table
(``tests/test_info_windowed.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .table import EventTable, TraceMeta


@dataclass
class EventSummary:
    meta: TraceMeta = field(default_factory=TraceMeta)
    events: int = 0
    per_type: dict[str, int] = field(default_factory=dict)
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    # cpu -> [gaps, events in the gaps of known size, gaps of unknown size]
    lost: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, table: EventTable) -> EventSummary:
        s = cls()
        s.add(table)
        s.meta = table.meta
        return s

    def add(self, table: EventTable) -> None:
        """Count one more table's records and lost-event rows."""
        self.events += len(table)
        if len(table):
            codes, counts = np.unique(table["event"], return_counts=True)
            for c, n in zip(codes.tolist(), counts.tolist()):
                name = str(table.strings[int(c)])
                self.per_type[name] = self.per_type.get(name, 0) + int(n)
            ts = table["ts"]
            known = ts[ts >= 0]
            if len(known):
                lo, hi = int(known.min()), int(known.max())
                self.first_ts_ns = lo if self.first_ts_ns is None else min(self.first_ts_ns, lo)
                self.last_ts_ns = hi if self.last_ts_ns is None else max(self.last_ts_ns, hi)
        lost = table.lost
        if len(lost):
            cpu, count = lost["cpu"], lost["count"]
            for c in np.unique(cpu).tolist():
                sel = cpu == c
                n = count[sel]
                acc = self.lost.setdefault(int(c), [0, 0, 0])
                acc[0] += int(sel.sum())
                acc[1] += int(n[n > 0].sum())
                acc[2] += int((n < 0).sum())

    def events_per_type(self) -> dict[str, int]:
        """Most records first (ties by name)."""
        return dict(sorted(self.per_type.items(), key=lambda kv: (-kv[1], kv[0])))

    def lost_per_cpu(self) -> dict[str, dict[str, int]]:
        return {
            str(c): {"gaps": g, "events": e, "gaps_unknown_count": u}
            for c, (g, e, u) in sorted(self.lost.items())
        }
