"""Options shared by several commands, and the open → warn → strict plumbing."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ..errors import EXIT_PARTIAL


@dataclass(frozen=True)
class Filters:
    """Call filters given on the command line (applied by fgraph.analysis.filters)."""

    pids: tuple[int, ...] = ()
    comms: tuple[str, ...] = ()
    cpus: tuple[int, ...] = ()
    since: str | None = None
    until: str | None = None


def filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    @click.option("--pid", "pids", type=int, multiple=True, help="Only this task id (repeatable).")
    @click.option("--comm", "comms", multiple=True, help="Only tasks with this name (repeatable).")
    @click.option(
        "--cpu",
        "cpus",
        type=int,
        multiple=True,
        help="Only calls entered on this CPU (repeatable).",
    )
    @click.option(
        "--since",
        default=None,
        help="Only calls entered at or after this trace time (s, or with unit).",
    )
    @click.option("--until", default=None, help="Only calls entered before this trace time.")
    @functools.wraps(f)
    def wrapper(
        *args: Any, pids: Any, comms: Any, cpus: Any, since: Any, until: Any, **kw: Any
    ) -> Any:
        return f(*args, filters=Filters(tuple(pids), tuple(comms), tuple(cpus), since, until), **kw)

    return wrapper


def strict_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--strict", is_flag=True, help="Exit 3 when the input could be read only partly (warnings)."
    )(f)


def quiet_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-q", "--quiet", is_flag=True, help="Do not print warnings to stderr.")(f)


def output_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-o/--output FILE`` (default stdout)."""
    return click.option(
        "-o",
        "--output",
        "output",
        default=None,
        type=click.Path(dir_okay=False, allow_dash=True),
        help="Write to this file instead of stdout.",
    )(f)


def output_format_option(
    choices: tuple[str, ...], default: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = output_option(f)
        f = click.option(
            "--format",
            "fmt",
            type=click.Choice(choices),
            default=default,
            show_default=True,
            help="Output format.",
        )(f)
        return f

    return deco


def report_warnings(warnings: list[Any], *, quiet: bool = False) -> None:
    """Print each TraceWarning on stderr as ``fgraph: warning: …``."""
    if quiet:
        return
    for w in warnings:
        click.echo(f"fgraph: warning: {w}", err=True)


def finish(warnings: list[Any], strict: bool) -> None:
    """Exit 3 under --strict when the input was read only partly."""
    if strict and warnings:
        sys.exit(EXIT_PARTIAL)


def open_output(path: str | None, binary: bool = False) -> Any:
    if path is None or path == "-":
        return sys.stdout.buffer if binary else sys.stdout
    return open(
        path,
        "wb" if binary else "w",
        encoding=None if binary else "utf-8",
        newline=None if binary else "",
    )


def files_in(directory: str) -> list[str]:
    """The files of ``directory`` that stand for its traces: sorted by name, not its
    subdirectories nor hidden files such as ``.DS_Store``."""
    import os

    return sorted(
        os.path.join(directory, n)
        for n in os.listdir(directory)
        if not n.startswith(".") and os.path.isfile(os.path.join(directory, n))
    )


def expand_inputs(paths: tuple[str, ...] | list[str]) -> list[str]:
    """The trace files ``paths`` name: a directory stands for the files in it
    (:func:`files_in`), traces of many hosts or runs gathered in one place.  A directory with
    no file is a usage error."""
    import os

    out: list[str] = []
    for p in paths:
        if p != "-" and os.path.isdir(p):
            try:
                inside = files_in(p)
            except OSError as exc:
                raise click.UsageError(f"{p}: {exc.strerror or exc}") from None
            if not inside:
                raise click.UsageError(f"{p}: a directory with no trace file in it")
            out += inside
        else:
            out.append(p)
    return out
