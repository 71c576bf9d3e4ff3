"""``fgraph check FILE... --func X --expect 'p99 < 2ms' …``: latency assertions for CI."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ._options import (
    filter_options,
    finish,
    quiet_option,
    report_warnings,
    strict_option,
)


@click.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--func", "func", required=True, help="The function whose calls are checked.")
@click.option(
    "--threshold", default=None, help="Slow-call threshold (e.g. 1ms); as in `fgraph hist`."
)
@click.option(
    "--expect",
    "expects",
    multiple=True,
    required=True,
    help="An expectation (repeatable): 'p99 < 2ms', 'calls >= 10', 'slow_calls == 0', "
    "'share(btrfs_lookup_csum) < 40%', 'share([self]) > 0.1', 'offcpu_sleep_share < 50%'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
@filter_options
@quiet_option
@strict_option
def check(
    files: tuple[str, ...],
    func: str,
    threshold: str | None,
    expects: tuple[str, ...],
    as_json: bool,
    filters: Any,
    quiet: bool,
    strict: bool,
) -> None:
    """Check expectations on FUNC's latency in FILES (several files, or a directory of
    traces, are aggregated: e.g. the runs of one benchmark).

    Prints each expectation with the measured value; exits 1 when one fails, 0 when all
    hold (2 for a bad input or expectation, 3 with --strict when the input was read only
    partly).  Metrics: p50 p90 p99 max (durations), calls slow_calls truncated_calls
    (counts), share(NAME) of the slow calls' time (a child of FUNC, [self] or [irq]),
    offcpu_sleep_share offcpu_runnable_share.
    """
    from ..analysis.check import all_hold, evaluate, parse_expectation
    from ..analysis.hist import COLUMNS as HIST_COLUMNS
    from ..analysis.hist import hist
    from ..errors import EXIT_CHECK_FAILED
    from . import run
    from ._progress import load_inputs

    parsed = [run(parse_expectation, e) for e in expects]  # bad expectations fail before loading
    # (the calls hist reads, rebuilt window by window, as `fgraph hist` reads them: a whole
    # load held every record too, 3x hist's memory on an 89 MB trace.dat)
    src, traces = load_inputs(files, HIST_COLUMNS, func)
    kw: dict[str, Any] = {"filters": filters}
    if threshold is not None:
        kw["threshold"] = threshold
    result = run(lambda: hist(src, func, **kw).to_dict())
    warnings = [w for t in traces for w in t.warnings]
    outcomes = evaluate(parsed, result)
    if as_json:
        click.echo(
            json.dumps(
                {"func": func, "ok": all_hold(outcomes), "checks": [o.to_dict() for o in outcomes]},
                indent=2,
            )
        )
    else:
        thr = result.get("threshold_ns")
        head = f"{func}: {result.get('calls', 0)} calls, {result.get('slow_calls', 0)} slow"
        if thr is not None:
            from ..units import format_ns

            head += f" (>= {format_ns(thr)})"
        click.echo(head)
        for o in outcomes:
            click.echo(o.render())
    report_warnings(warnings, quiet=quiet)
    if not all_hold(outcomes):
        sys.exit(EXIT_CHECK_FAILED)
    finish(warnings, strict)
