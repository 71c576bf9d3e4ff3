"""``fgraph trim FILE --func X [--threshold T] -o OUT``: a regression fixture of X's calls."""

from __future__ import annotations

import click

from ._options import finish, quiet_option, report_warnings, strict_option


@click.command("trim")
@click.argument("file", type=click.Path(allow_dash=True))
@click.option(
    "--func", required=True, help="Keep the calls of this function (and everything under them)."
)
@click.option(
    "--threshold", default=None, help="Keep only X's calls at least this long (e.g. 1ms)."
)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Output text file ('-' for stdout).",
)
@quiet_option
@strict_option
def trim(
    file: str, func: str, threshold: str | None, output: str, quiet: bool, strict: bool
) -> None:
    """Write a small function_graph text trace holding only FUNC's calls.

    The calls of FUNC (at least THRESHOLD long), their subtrees, the interrupts that arrived
    inside them and their task's events, printed as the kernel does with funcgraph-abstime,
    funcgraph-proc, funcgraph-tail and latency-format on.  fgraph reads it back with the same
    results for FUNC (durations keep their ns; timestamps are printed in us).
    """
    from ..export.trim import trim as do_trim
    from ..load import load
    from ..units import parse_duration
    from . import run

    thr = run(parse_duration, threshold, what="threshold") if threshold else None
    trace = run(load, file)
    with click.open_file(output, "w", encoding="utf-8") as fh:
        sel, stats = run(do_trim, trace, func, fh, threshold_ns=thr)
    click.echo(
        f"fgraph: trim: {len(sel.roots)} calls of {func}, {len(sel.calls)} calls in all, "
        f"{len(sel.events)} other events, {stats.lines} lines",
        err=True,
    )
    report_warnings(trace.warnings, quiet=quiet)
    finish(trace.warnings, strict)
