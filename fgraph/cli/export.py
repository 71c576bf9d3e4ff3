"""``fgraph export FILE... --to parquet|csv|folded|perfetto -o OUT``."""

from __future__ import annotations

from typing import Any

import click

from ._options import expand_inputs, finish, quiet_option, report_warnings, strict_option


@click.command("export")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option(
    "--to",
    "to",
    type=click.Choice(("parquet", "csv", "folded", "perfetto")),
    required=True,
    help="Output kind.",
)
@click.option(
    "-o",
    "--output",
    "output",
    default=None,
    help="Output file ('-' or absent: stdout); a directory for parquet with several inputs.",
)
@click.option(
    "--func",
    default=None,
    help="folded, perfetto: keep only the subtrees of this function's calls.",
)
@click.option(
    "--min",
    "min_",
    default=None,
    help="folded: fold calls shorter than this into their caller (e.g. 10us).",
)
@click.option(
    "--self/--total",
    "self_",
    default=True,
    show_default=True,
    help="folded: weigh by self time (inclusive minus children) or inclusive time.",
)
@quiet_option
@strict_option
def export(
    files: tuple[str, ...],
    to: str,
    output: str | None,
    func: str | None,
    min_: str | None,
    self_: bool,
    quiet: bool,
    strict: bool,
) -> None:
    """Export the call table of each FILE (the rebuilt calls, one row per call).

    \b
    parquet   the call table with its documented schema (fgraph/schema.py CALL_COLUMNS),
              one row per call; pandas, DuckDB and Spark read it as is.  With several
              FILEs (or a directory of traces) and -o DIR: a hive-partitioned dataset
              DIR/trace=<file name>/part-0.parquet.
    csv       the same rows as `fgraph calls --format csv`.
    folded    folded stacks `a;b;c 123` (weights in us) for flamegraph.pl, inferno and
              speedscope; interrupts fold under the call they interrupted.
    perfetto  Chrome/Perfetto JSON (open in ui.perfetto.dev): a track per task, interrupts on
              per-CPU tracks, lost-event markers.  --func X keeps X's subtrees only (a
              whole busy capture makes more JSON than the viewer loads well).
    """
    from . import run
    from ._progress import load_calls

    if to not in ("folded", "perfetto") and func:
        raise click.UsageError("--func applies to --to folded and --to perfetto")
    if to != "folded" and min_:
        raise click.UsageError("--min applies to --to folded")
    warnings: list[Any] = []
    files = tuple(expand_inputs(files))  # (a directory stands for the traces in it)
    if not files:
        raise click.UsageError("no input files")
    if len(files) > 1 and to != "parquet":
        raise click.UsageError(
            "several inputs are supported with --to parquet (a partitioned dataset)"
        )
    if len(files) > 1:
        from ..export.tables import partition_names, write_partitioned_parquet

        if not output or output == "-":
            raise click.UsageError("several inputs need -o DIR (a partitioned Parquet dataset)")

        def parts() -> Any:
            # one trace at a time: read, written, let go (a directory of many hosts' traces
            # is never in memory at once)
            for f, name in zip(files, partition_names(files)):
                tr = run(load_calls, f)
                warnings.extend(tr.warnings)
                yield name, run(lambda tr=tr: tr.call_table)
                del tr

        run(write_partitioned_parquet, parts(), output)
        report_warnings(warnings, quiet=quiet)
        finish(warnings, strict)
        return

    columns = None  # (the columns folding or the Perfetto writer reads; tables take all)
    if to == "folded":
        from ..export.folded import COLUMNS as FOLDED_COLUMNS

        columns = FOLDED_COLUMNS
    elif to == "perfetto":
        from ..export.perfetto import COLUMNS as PERFETTO_COLUMNS

        columns = PERFETTO_COLUMNS
    # (folded --func: only X's calls and the trees they are in are read.  Not for perfetto,
    # whose slices name the whole table's call ids, as `fgraph calls` prints them)
    trees_of = func if to == "folded" and func else None
    trace = run(load_calls, files[0], columns, trees_of)
    calls = run(lambda: trace.call_table)
    target = output or "-"
    if to in ("parquet", "csv"):
        from ..export.tables import write

        with click.open_file(target, "wb") as fh:
            run(write, calls, to, fh)
    elif to == "folded":
        from ..export.folded import fold
        from ..units import parse_duration

        mn = run(parse_duration, min_, what="--min") if min_ else 0
        folded = run(fold, calls, func, weight="self" if self_ else "total", min_ns=mn or 0)
        with click.open_file(target, "w", encoding="utf-8") as fh:
            folded.write(fh)
        if folded.clipped_ns and not quiet:
            from ..units import format_ns

            click.echo(
                f"fgraph: note: {format_ns(folded.clipped_ns)} of negative self time (children "
                "longer than their caller) counted as 0 in the folded weights",
                err=True,
            )
    else:
        from ..export.perfetto import subtrees, write_perfetto

        keep = run(subtrees, calls, func) if func else None
        with click.open_file(target, "w", encoding="utf-8") as fh:
            run(
                write_perfetto,
                calls,
                fh,
                lost=trace.event_table.lost,
                title=trace.name,
                keep=keep,
            )
    report_warnings(trace.warnings, quiet=quiet)
    finish(trace.warnings, strict)
