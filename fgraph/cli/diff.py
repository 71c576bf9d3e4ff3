"""``fgraph diff A B --func X``: X's breakdown in two traces side by side."""

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
from .hist import breakdown_options


@click.command("diff")
@click.argument("file_a", type=click.Path(allow_dash=True))
@click.argument("file_b", type=click.Path(allow_dash=True))
@click.option("-f", "--func", required=True, help="The function X.")
@click.option(
    "-t",
    "--threshold",
    default=None,
    help="Compare only calls >= this (duration, or a percentile like p90 per trace); default all.",
)
@breakdown_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (all rows).")
@output_option
@filter_options
@quiet_option
@strict_option
def diff(
    file_a: str,
    file_b: str,
    func: str,
    threshold: str | None,
    depth: int,
    all_: bool,
    by: str,
    limit: int,
    as_json: bool,
    output: str | None,
    filters: Any,
    quiet: bool,
    strict: bool,
) -> None:
    """Compare FUNC between trace A (before) and trace B (after).

    A or B may be a directory: the traces in it are aggregated (several runs or hosts).

    Prints the change in X's p50/p90/p99/max and the breakdown rows of both traces ranked
    by the change in time per call of X.

    \b
    Example:
      fgraph diff before.dat after.dat --func vfs_fsync_range --threshold 1ms
    """
    from ..analysis.diff import combine, side
    from ..analysis.hist import COLUMNS as HIST_COLUMNS
    from ..render.compare import write_comparison
    from ..render.json import write_json
    from . import run
    from ._progress import load_inputs

    # diff is two hists: it reads the columns hist reads; a directory on either side stands for
    # the traces in it, aggregated (runs or hosts before, and after).  One side at a time: the
    # first side's calls are let go before the second is read (the peak is the bigger side's,
    # not both), and each keeps only X's calls and the trees they are in.
    kw = {"threshold": threshold, "depth": depth, "all": all_, "by": by, "filters": filters}
    results, warnings = [], []
    for path in (file_a, file_b):
        t, traces = load_inputs([path], HIST_COLUMNS, func)
        results.append(run(side, t, func, **kw))
        warnings += [w for tr in traces for w in tr.warnings]
        del t, traces
    res = run(combine, func, results[0], results[1], (file_a, file_b))
    out = open_output(output)
    try:
        if as_json:
            write_json(res, out)
        else:
            if threshold is not None:
                out.write(f"Calls of {func} >= {threshold} in each trace.\n")
            write_comparison(res.comparison, out, limit=limit or None, func=func)
    finally:
        if output not in (None, "-"):
            out.close()
    report_warnings(warnings, quiet=quiet)
    finish(warnings, strict)
