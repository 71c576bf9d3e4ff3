"""``fgraph trim FILE --func X [--threshold T] -o OUT``: a regression fixture of X's calls."""

from __future__ import annotations

from typing import Any

import click

from ._options import finish, quiet_option, report_warnings, strict_option


def _open_text(path: str) -> Any:
    """A text stream to ``path``, compressed by its suffix (.gz, .xz, .zst) — fgraph reads
    those back as they are."""
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "wt", encoding="utf-8")
    if path.endswith(".xz"):
        import lzma

        return lzma.open(path, "wt", encoding="utf-8")
    if path.endswith(".zst"):
        import io

        import zstandard

        raw = open(path, "wb")  # noqa: SIM115 (closed with the wrapper)
        return io.TextIOWrapper(
            zstandard.ZstdCompressor(level=19).stream_writer(raw), encoding="utf-8"
        )
    return click.open_file(path, "w", encoding="utf-8")


@click.command("trim")
@click.argument("file", type=click.Path(allow_dash=True))
@click.option(
    "--func", required=True, help="Keep the calls of this function (and everything under them)."
)
@click.option(
    "--threshold", default=None, help="Keep only X's calls at least this long (e.g. 1ms)."
)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Output text file ('-' for stdout); .gz, .xz or .zst compress it.",
)
@quiet_option
@strict_option
def trim(
    file: str, func: str, threshold: str | None, output: str, quiet: bool, strict: bool
) -> None:
    """Write a small function_graph text trace holding only FUNC's calls.

    The calls of FUNC (at least THRESHOLD long), their subtrees, the interrupts that arrived
    inside them and their task's events, printed as the kernel does with funcgraph-abstime,
    funcgraph-proc, funcgraph-tail and latency-format on.  fgraph reads it back with the same
    results for FUNC (durations keep their ns; timestamps are printed in us).
    """
    import os
    from functools import partial

    from ..export.trim import COLUMNS, select_reread, write_reread
    from ..pipeline import load_windowed, reread_rows
    from ..source import open_source
    from ..units import parse_duration
    from . import run
    from ._progress import progress

    thr = run(parse_duration, threshold, what="threshold") if threshold else None
    # Read twice: once window by window for the calls (no funcgraph record kept), once for the
    # records of the calls kept (a 355 MB trace.dat: 2.4 GB read whole).
    src = run(open_source, file)
    name = os.path.basename(file) if file != "-" else "stdin"
    with progress(f"reading {name} and rebuilding its calls"):
        # (only FUNC's calls and the trees they are in: the rebuild keeps no other call)
        trace = run(load_windowed, src, columns=COLUMNS, final_rows=False, trees_of=func)
    with progress("reading the kept calls' records again"):
        # before opening OUT: no empty file on an error
        picked = run(select_reread, trace, func, thr, partial(reread_rows, src))
    sel = picked.sel
    with _open_text(output) as fh:
        stats = run(write_reread, picked, fh)
    click.echo(
        f"fgraph: trim: {len(sel.roots)} calls of {func}, {len(sel.calls)} calls in all, "
        f"{len(sel.events)} other events, {stats.lines} lines",
        err=True,
    )
    report_warnings(trace.warnings, quiet=quiet)
    finish(trace.warnings, strict)
