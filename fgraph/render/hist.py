"""Human output of ``fgraph hist``: summary, log2 histogram, breakdown (and comparison)."""

from __future__ import annotations

from typing import IO

from ..analysis.hist import HistResult, TopResult
from ._fmt import dur, plural
from .breakdown import write_breakdown
from .compare import write_comparison
from .histogram import write_log2_hist


def _sources(names: list[str]) -> str:
    """Where the calls came from, after the header's count: the traces, or for more than three
    (a directory of them) their number, the first two and the last."""
    if not names:
        return ""
    if len(names) <= 3:
        return f" in {', '.join(names)}"
    return f" in {len(names)} traces ({names[0]}, {names[1]}, ..., {names[-1]})"


def write_hist(res: HistResult, out: IO[str], *, limit: int | None = 25) -> None:
    lat = res.latency
    src = _sources(res.traces)
    flt = f" [{res.filters}]" if res.filters else ""
    out.write(f"{res.func}: {plural(lat.calls, 'complete call')}{src}{flt}\n")
    if res.truncated_calls:
        out.write(
            f"  + {plural(res.truncated_calls, 'truncated call')} (no exit in the trace; not counted below,"
            f" longest at least {dur(res.truncated_max_ns).strip()})\n"
        )
    if res.repaired_calls:
        rep = ", ".join(f"{v} {k}" for k, v in sorted(res.repaired_calls.items()))
        out.write(f"  flagged by the rebuild: {rep} (see fgraph stats)\n")
    if lat.calls:
        out.write(
            f"  p50 {dur(lat.p50_ns).strip()}   p90 {dur(lat.p90_ns).strip()}   p99 {dur(lat.p99_ns).strip()}"
            f"   max {dur(lat.max_ns).strip()}   mean {dur(lat.mean_ns).strip()}\n"
        )
    out.write(
        f"  slow (>= {dur(res.threshold_ns).strip()}"
        f"{'' if res.threshold_text[:1].isdigit() else ' = ' + res.threshold_text}):"
        f" {res.slow.calls} calls, {dur(res.slow.total_ns).strip()} in all\n\n"
    )
    write_log2_hist(lat.histogram, out)
    out.write("\n")
    if res.slow.calls == 0:
        out.write(
            f"No call of {res.func} took {dur(res.threshold_ns).strip()} or more; try a lower --threshold"
            " (e.g. --threshold p90).\n"
        )
    else:
        write_breakdown(res.breakdown, out, limit=limit)
    if res.compare is not None:
        out.write("\n")
        write_comparison(res.compare, out, limit=limit, func=res.func)


def write_top(res: TopResult, out: IO[str], *, hist_rows: int | None = None) -> None:
    flt = f" [{res.filters}]" if res.filters else ""
    src = _sources(res.traces)
    out.write(
        f"{plural(res.calls, 'complete call')} of {plural(res.functions, 'function')}{src}{flt}.\n"
    )
    out.write(
        "Ask about one of them with --func NAME.  (Total time counts a recursive call's nested calls\n"
    )
    out.write("again; histograms are of each function's call durations.)\n\n")
    drawn: set[str] = set()
    for title, funcs in (
        ("Most total (inclusive) time", res.by_total),
        ("Most self time", res.by_self),
    ):
        out.write(f"{title}:\n")
        out.write(
            f"  {'total':>10} {'self':>10} {'calls':>8} {'p50':>9} {'p99':>9} {'max':>9}  function\n"
        )
        for f in funcs:
            lat = f.latency
            out.write(
                f"  {dur(f.total_ns, 10)} {dur(f.self_ns, 10)} {f.calls:>8} {dur(lat.p50_ns)} {dur(lat.p99_ns)}"
                f" {dur(lat.max_ns)}  {f.name}\n"
            )
        out.write("\n")
        for f in funcs[:hist_rows]:
            if f.name in drawn:
                continue
            drawn.add(f.name)
            out.write(f"  {f.name}: durations of its {plural(f.calls, 'call')}\n")
            write_log2_hist(f.latency.histogram, out, indent="  ", strip_leading_zero=True)
            out.write("\n")
