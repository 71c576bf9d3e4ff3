"""``fgraph calls FILE``: the rebuilt call table, one row per call."""

from __future__ import annotations

import click

from ._options import (
    finish,
    open_output,
    output_format_option,
    quiet_option,
    report_warnings,
    strict_option,
)

FORMATS = ("table", "csv", "jsonl", "parquet")


@click.command("calls")
@click.argument("file", type=click.Path(allow_dash=True))
@output_format_option(FORMATS, "table")
@quiet_option
@strict_option
def calls(file: str, fmt: str, output: str | None, quiet: bool, strict: bool) -> None:
    """The rebuilt calls of FILE in entry order (call_id == row).

    \b
    table/csv/jsonl: times and durations in ns, unknown values empty (null in jsonl),
    ctx as a word (task/softirq/hardirq/nmi), flags as CallFlag names joined by '|'
    (SYNTH_ENTRY, TRUNCATED, LOST_GAP, DEPTH_MISMATCH, CLOSED_BY_OUTER, HAS_RETVAL,
    CTX_BY_NAME, NO_TIME, MIGRATED; empty when none).  parquet: the documented call schema
    (fgraph/schema.py CALL_COLUMNS) with real nulls, flags and ctx as integers.
    """
    from ..export.tables import write
    from . import run
    from ._progress import load_calls

    trace = run(load_calls, file)
    table = run(lambda: trace.call_table)
    out = open_output(output, binary=True)
    try:
        write(table, fmt, out)
    finally:
        if output not in (None, "-"):
            out.close()
        else:
            out.flush()
    report_warnings(trace.warnings, quiet=quiet)
    finish(trace.warnings, strict)
