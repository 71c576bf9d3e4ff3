"""``fgraph slowest FILE --func X``: the N slowest calls of X as complete call trees."""

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


@click.command("slowest")
@click.argument("file", type=click.Path(allow_dash=True))
@click.option("-f", "--func", required=True, help="The function X.")
@click.option("-n", "count", type=int, default=5, show_default=True, help="How many calls.")
@click.option(
    "--min",
    "min_",
    default="10us",
    show_default=True,
    help="Collapse calls shorter than this into one summary line per parent (0 = show all).",
)
@click.option(
    "--depth",
    type=int,
    default=None,
    help="Draw N levels below X; deeper calls are collapsed like short ones (default: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@output_option
@filter_options
@quiet_option
@strict_option
def slowest(
    file: str,
    func: str,
    count: int,
    min_: str,
    depth: int | None,
    as_json: bool,
    output: str | None,
    filters: Any,
    quiet: bool,
    strict: bool,
) -> None:
    """The N slowest calls of FUNC drawn as function_graph trees.

    Each tree is complete: every call inside X, the interrupts that arrived while it ran
    (marked ==========>) and off-CPU time (sleeping or runnable) noted where the task was
    switched out; calls under --min (and below --depth levels) are collapsed into a line saying
    how many and how long.

    \b
    Example:
      fgraph slowest trace.dat --func vfs_read -n 3 --min 20us
      fgraph slowest trace.dat --func vfs_write -n 1 --depth 3
    """
    from ..analysis.slowest import COLUMNS as SLOWEST_COLUMNS
    from ..analysis.slowest import slowest as run_slowest
    from ..render.json import write_json
    from ..render.tree import write_slowest
    from . import run
    from ._progress import load_calls

    # (all calls, not only X's trees, though it reads no other: its call ids are the whole
    # table's, as `fgraph calls` prints them)
    trace = run(load_calls, file, SLOWEST_COLUMNS)
    res = run(run_slowest, trace, func, n=count, min=min_, filters=filters, depth=depth)
    out = open_output(output)
    try:
        if as_json:
            write_json(res, out)
        else:
            write_slowest(res, out)
    finally:
        if output not in (None, "-"):
            out.close()
    report_warnings(trace.warnings, quiet=quiet)
    finish(trace.warnings, strict)
