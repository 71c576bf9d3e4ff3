"""``fgraph events FILE``: the decoded records in time order (table, csv, jsonl or parquet)."""

from __future__ import annotations

from typing import Any

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
    from ..export.tables import write_windows
    from ..pipeline import EventWindows
    from . import run

    # (a trace.dat a window at a time: its records are never all held)
    windows = run(EventWindows, file)
    opened: list[Any] = []

    def sink() -> Any:  # opened once the first window is in: no output file on an error
        opened.append(open_output(output, binary=True))
        return opened[0]

    try:
        run(write_windows, windows, fmt, sink)
    finally:
        if opened:
            if output not in (None, "-"):
                opened[0].close()
            else:
                opened[0].flush()
    report_warnings(windows.meta.warnings, quiet=quiet)
    finish(windows.meta.warnings, strict)
