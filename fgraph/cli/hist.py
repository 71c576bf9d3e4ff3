"""``fgraph hist FILE… --func X``: X's latency histogram and where its slow calls' time went."""

from __future__ import annotations

from typing import Any

import click

from ._options import (
    filter_options,
    finish,
    open_output,
    output_option,
    quiet_option,
    report_warnings,
    strict_option,
)


def breakdown_options(f: Any) -> Any:
    f = click.option(
        "--limit",
        type=int,
        default=25,
        show_default=True,
        help="Breakdown rows to print (0 = all; --json always has all).",
    )(f)
    f = click.option(
        "--by",
        type=click.Choice(["child", "path"]),
        default="child",
        show_default=True,
        help="Rows per function, or per call path relative to X.",
    )(f)
    f = click.option(
        "--all",
        "all_",
        is_flag=True,
        help="Rows for every descendant by exclusive (self + irq) time.",
    )(f)
    f = click.option(
        "--depth",
        type=int,
        default=1,
        show_default=True,
        help="Break down N levels below X (inclusive at level N).",
    )(f)
    return f


@click.command("hist")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-f", "--func", default=None, help="The function X (without: the top functions).")
@click.option(
    "-t",
    "--threshold",
    default="1ms",
    show_default=True,
    help="Slow means duration >= this (1ms, 250us, 1500 = ns, or a percentile like p90).",
)
@breakdown_options
@click.option(
    "--compare",
    type=click.Choice(["fast"]),
    default=None,
    help="Show the same breakdown for the fast calls beside the slow ones.",
)
@click.option(
    "--top", type=int, default=10, show_default=True, help="Functions listed without --func."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (all rows).")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also draw the histogram and latency over time to OUT.png|svg (needs matplotlib).",
)
@output_option
@filter_options
@quiet_option
@strict_option
def hist(
    files: tuple[str, ...],
    func: str | None,
    threshold: str,
    depth: int,
    all_: bool,
    by: str,
    limit: int,
    compare: str | None,
    top: int,
    as_json: bool,
    plot: str | None,
    output: str | None,
    filters: Any,
    quiet: bool,
    strict: bool,
) -> None:
    """Latency histogram of FUNC and where the time of its slow calls went.

    Counts X's complete calls (truncated ones apart), draws a log2 histogram with
    p50/p90/p99/max, and splits the slow calls' time into rows that add up to 100%:
    direct children (inclusive), [self] and [irq] by default.  Several FILES (or a
    directory of traces) are aggregated.  Without --func: the functions with the most
    total and self time.

    \b
    Examples:
      fgraph hist trace.dat --func vfs_read --threshold 1ms
      fgraph hist trace.dat --func vfs_read --depth 2 --compare fast
      fgraph hist trace.dat --func vfs_fsync_range --all --json
    """
    from ..analysis.hist import COLUMNS as HIST_COLUMNS
    from ..analysis.hist import HistResult
    from ..analysis.hist import hist as run_hist
    from ..render.hist import write_hist, write_top
    from ..render.json import write_json
    from . import run
    from ._progress import load_inputs, progress

    # (with --func, only X's calls and the trees they are in are read: the rebuild keeps no
    # other call)
    src, traces = load_inputs(files, HIST_COLUMNS, func)
    with progress("analyzing"):
        res = run(
            run_hist,
            src,
            func,
            threshold=threshold,
            depth=depth,
            all=all_,
            by=by,
            compare=compare,
            filters=filters,
            top=top,
        )
    if plot is not None:
        if not isinstance(res, HistResult):
            run(_usage, "--plot needs --func")
        from ..render.plot import write_plot

        run(write_plot, res, plot)
    out = open_output(output)
    try:
        if as_json:
            write_json(res, out)
        elif isinstance(res, HistResult):
            write_hist(res, out, limit=limit or None)
        else:
            write_top(res, out)
    finally:
        if output not in (None, "-"):
            out.close()
    warnings = [w for t in traces for w in t.warnings]
    report_warnings(warnings, quiet=quiet)
    finish(warnings, strict)


def _usage(msg: str) -> None:
    from ..errors import UsageError

    raise UsageError(msg)
