"""``fgraph stats FILE``: the quality report of the rebuild."""

from __future__ import annotations

import click

from ._options import finish, quiet_option, report_warnings, strict_option


@click.command("stats")
@click.argument("file", type=click.Path(allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (one JSON object).")
@quiet_option
@strict_option
def stats(file: str, as_json: bool, quiet: bool, strict: bool) -> None:
    """Quality report of FILE's rebuild: events in, calls out, every repair, losses.

    \b
    JSON keys include events_in, funcgraph_events, calls, orphan_exits, unclosed_entries,
    closed_by_outer, lost_events, lost_gaps, lost_per_cpu, depth_mismatches (by cause),
    events_unaccounted (always 0: every funcgraph record is in exactly one call) and
    certain_time_share.

    \b
    Example:
      fgraph stats system.dat
      fgraph stats --json trace.txt.zst | jq .orphan_exits
    """
    from . import run
    from ._progress import load_calls

    # the quality report is made while the calls are rebuilt: keep one small column of them
    trace = run(load_calls, file, frozenset({"flags"}))
    quality = run(lambda: trace.quality)
    if as_json:
        click.echo(quality.to_json())
    else:
        click.echo(quality.render(), nl=False)
    report_warnings(trace.warnings, quiet=quiet)
    finish(trace.warnings, strict)
