"""The breakdown table of ``fgraph hist``: where the time of the slow calls went."""

from __future__ import annotations

from typing import IO

from ..analysis.breakdown import Breakdown
from ._fmt import dur, pct, plural


def what_rows(bd: Breakdown) -> str:
    if bd.mode == "child":
        what = "direct children (inclusive time)"
    elif bd.mode == "all":
        what = "every descendant (exclusive time: self + irq)"
    else:
        n = bd.mode.split()[1]
        what = f"descendants {n} levels down (inclusive), shallower ones by exclusive time ([self] rows)"
    return what + (", by call path" if bd.by == "path" else "")


def write_breakdown(
    bd: Breakdown, out: IO[str], *, limit: int | None = 25, title: str = ""
) -> None:
    if bd.ncalls == 0:
        out.write(f"{title or 'Breakdown'}: no calls to break down.\n")
        return
    head = title or f"Where the time of the {plural(bd.ncalls, 'slow call')} went"
    out.write(f"{head} ({dur(bd.total_ns).strip()} in all; the rows add up to 100% of it):\n")
    out.write(f"  rows: {what_rows(bd)}; [self] = own time, [irq] = interrupts while innermost\n")
    if bd.nested_calls:
        out.write(
            f"  ({plural(bd.nested_calls, 'call')} nested in another slow call are counted inside it)\n"
        )
    off = bd.has_offcpu
    hdr = "   share      total  calls/call       mean  share p50  share p99"
    if off:
        hdr += "  off:sleep  off:runq"
    out.write(hdr + "  name\n")
    rows, nrest, rest_ns, rest_share = bd.head(limit)
    for r in rows:
        line = (
            f"  {pct(r.share)} {dur(r.total_ns, 10)} {r.calls_per_call:11.2f} {dur(r.mean_ns, 10)}"
            f" {pct(r.share_p50, 10)} {pct(r.share_p99, 10)}"
        )
        if off:
            line += f" {dur(r.offcpu_sleep_ns, 10)} {dur(r.offcpu_runnable_ns, 9)}"
        out.write(f"{line}  {r.name}\n")
    if nrest:
        out.write(
            f"  {pct(rest_share)} {dur(rest_ns, 10)}  ({plural(nrest, 'more row')}; --limit 0 shows all)\n"
        )
    total_share = sum(r.share for r in bd.rows)
    out.write(f"  {pct(total_share)} {dur(bd.total_ns, 10)}  total\n")
    if bd.irq_handlers:
        parts = [f"{c} x {n} ({dur(t).strip()})" for n, c, t in bd.irq_handlers[:5]]
        more = f", {len(bd.irq_handlers) - 5} more" if len(bd.irq_handlers) > 5 else ""
        out.write(f"  [irq] interrupts: {', '.join(parts)}{more}\n")
    if off:
        out.write(
            f"  The task was switched out for {pct(bd.offcpu_sleep_share).strip()} of this time sleeping/blocked"
            f" and {pct(bd.offcpu_runnable_share).strip()} runnable (preempted), inside the rows above.\n"
        )
