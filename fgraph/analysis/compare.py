"""Two breakdowns of X side by side: slow vs fast calls of one trace (``hist --compare fast``)
or trace A vs trace B (``fgraph diff``), ranked by the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .breakdown import Breakdown
from .stats import Latency


@dataclass
class Comparison:
    """Two breakdowns of X side by side (slow vs fast calls, or trace A vs trace B).

    Rows are matched by name and ranked by the change of the time they take *per call of X*
    (row total / broken-down calls), which stays comparable when the two sides have different
    numbers of calls.
    """

    label_a: str
    label_b: str
    a: Breakdown
    b: Breakdown
    lat_a: Latency
    lat_b: Latency
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def side(lat: Latency, bd: Breakdown) -> dict[str, Any]:
            return {
                "calls": lat.calls,
                "p50_ns": lat.p50_ns,
                "p90_ns": lat.p90_ns,
                "p99_ns": lat.p99_ns,
                "max_ns": lat.max_ns,
                "broken_down_calls": bd.ncalls,
                "total_ns": bd.total_ns,
                "offcpu_sleep_share": bd.offcpu_sleep_share,
                "offcpu_runnable_share": bd.offcpu_runnable_share,
            }

        return {
            "a": self.label_a,
            "b": self.label_b,
            "side_a": side(self.lat_a, self.a),
            "side_b": side(self.lat_b, self.b),
            "p50_change_ns": self.lat_b.p50_ns - self.lat_a.p50_ns,
            "p99_change_ns": self.lat_b.p99_ns - self.lat_a.p99_ns,
            "rows": self.rows,
        }


def compare_breakdowns(
    label_a: str, a: Breakdown, lat_a: Latency, label_b: str, b: Breakdown, lat_b: Latency
) -> Comparison:
    ra = {r.name: r for r in a.rows}
    rb = {r.name: r for r in b.rows}
    names = list(dict.fromkeys([*ra, *rb]))
    rows: list[dict[str, Any]] = []
    for name in names:
        x, y = ra.get(name), rb.get(name)
        pa = x.total_ns / a.ncalls if x and a.ncalls else 0.0
        pb = y.total_ns / b.ncalls if y and b.ncalls else 0.0
        rows.append(
            {
                "name": name,
                "per_call_a_ns": pa,
                "per_call_b_ns": pb,
                "change_ns": pb - pa,
                "share_a": x.share if x else 0.0,
                "share_b": y.share if y else 0.0,
                "calls_per_call_a": x.calls_per_call if x else 0.0,
                "calls_per_call_b": y.calls_per_call if y else 0.0,
            }
        )
    rows.sort(key=lambda r: (-abs(float(r["change_ns"])), str(r["name"])))
    return Comparison(label_a, label_b, a, b, lat_a, lat_b, rows)
