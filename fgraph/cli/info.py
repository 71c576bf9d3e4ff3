"""``fgraph info FILE``: what the file is."""

from __future__ import annotations

import json
import sys

import click

from ._options import finish, quiet_option, report_warnings, strict_option


@click.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@strict_option
@quiet_option
def info(file: str, as_json: bool, strict: bool, quiet: bool) -> None:
    """What FILE is: format, version, compression, clock, CPUs, kernel, events per type, losses.

    \b
    Example:
      fgraph info trace.dat
    """
    from ..pipeline import read_summary
    from ..render.info import info_dict, render_info

    # (counted window by window: the records are never all held)
    summary = read_summary(file)
    data = info_dict(summary)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        render_info(data, sys.stdout)
    report_warnings(summary.meta.warnings, quiet=quiet)
    finish(summary.meta.warnings, strict)
