"""``fgraph events FILE``: the decoded records in time order (table, csv, jsonl or parquet)."""

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


@click.command("events")
@click.argument("file", type=click.Path(allow_dash=True))
@output_format_option(FORMATS, "table")
@quiet_option
@strict_option
def events(file: str, fmt: str, output: str | None, quiet: bool, strict: bool) -> None:
    """Decoded events of FILE in time order across CPUs.

    \b
    table/csv/jsonl: strings decoded, unknown values empty (null in jsonl), times in ns,
    irqctx as a word (task/softirq/hardirq/nmi), addr in hex.  parquet: the documented
    event schema (fgraph/schema.py EVENT_COLUMNS) with real nulls.
    """
    from ..export.tables import event_time_order, write
    from ..pipeline import read_events
    from . import run

    table = run(read_events, file)
    out = open_output(output, binary=True)
    try:
        write(table, fmt, out, order=event_time_order(table))
    finally:
        if output not in (None, "-"):
            out.close()
        else:
            out.flush()
    report_warnings(table.meta.warnings, quiet=quiet)
    finish(table.meta.warnings, strict)
