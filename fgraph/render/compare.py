"""Two breakdowns side by side, ranked by the change per call of X (hist --compare, diff)."""

from __future__ import annotations

from typing import IO

from ..analysis.compare import Comparison
from ._fmt import dur, pct, signed_dur


def write_comparison(
    cmp: Comparison, out: IO[str], *, limit: int | None = 25, func: str = "X"
) -> None:
    a, b = cmp.lat_a, cmp.lat_b
    out.write(f"{func}: A = {cmp.label_a}, B = {cmp.label_b}\n")
    out.write(f"  {'':>8} {'calls':>8} {'p50':>10} {'p90':>10} {'p99':>10} {'max':>10}\n")
    for tag, lat in (("A", a), ("B", b)):
        out.write(
            f"  {tag:>8} {lat.calls:>8} {dur(lat.p50_ns, 10)} {dur(lat.p90_ns, 10)} {dur(lat.p99_ns, 10)}"
            f" {dur(lat.max_ns, 10)}\n"
        )
    out.write(
        f"  {'change':>8} {b.calls - a.calls:>+8} {signed_dur(b.p50_ns - a.p50_ns)} {signed_dur(b.p90_ns - a.p90_ns)}"
        f" {signed_dur(b.p99_ns - a.p99_ns)} {signed_dur(b.max_ns - a.max_ns)}\n"
    )
    out.write(
        f"Time per call of {func} by row (A: {cmp.a.ncalls} calls, {dur(cmp.a.total_ns).strip()};"
        f" B: {cmp.b.ncalls} calls, {dur(cmp.b.total_ns).strip()}), biggest change first:\n"
    )
    out.write(
        f"  {'A /call':>10} {'B /call':>10} {'change':>10} {'A share':>8} {'B share':>8}  name\n"
    )
    rows = cmp.rows if limit is None else cmp.rows[:limit]
    for r in rows:
        out.write(
            f"  {dur(r['per_call_a_ns'], 10)} {dur(r['per_call_b_ns'], 10)} {signed_dur(r['change_ns'])}"
            f" {pct(r['share_a'], 8)} {pct(r['share_b'], 8)}  {r['name']}\n"
        )
    if limit is not None and len(cmp.rows) > limit:
        out.write(f"  ({len(cmp.rows) - limit} more rows; --limit 0 shows all)\n")
    for tag, bd in (("A", cmp.a), ("B", cmp.b)):
        if bd.has_offcpu:
            out.write(
                f"  {tag}: switched out {pct(bd.offcpu_sleep_share).strip()} sleeping/blocked,"
                f" {pct(bd.offcpu_runnable_share).strip()} runnable\n"
            )
