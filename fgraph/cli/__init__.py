"""The ``fgraph`` command.  Thin: each command opens the input, calls the library, renders.

Commands live one per module in this package and are imported only when run, so
``fgraph --help`` stays fast.  Errors become a one-line message and an exit code here, in
:func:`main`, and nowhere else.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Any

import click

from ..errors import EXIT_BAD_INPUT, FgraphError

# name → (module, function, one-line help).  The help is repeated here so that the group's
# --help does not import every command.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "info": (
        "info",
        "info",
        "What the file is: format, version, clock, CPUs, kernel, events, losses.",
    ),
    "events": ("events", "events", "Decoded events in time order (table, csv, jsonl or parquet)."),
    "calls": ("calls", "calls", "The rebuilt call table (one row per call)."),
    "stats": ("stats", "stats", "Quality report of the rebuild: repairs, losses, accounting."),
    "hist": ("hist", "hist", "Latency histogram of X and where the time of its slow calls went."),
    "slowest": ("slowest", "slowest", "The slowest calls of X drawn as function_graph trees."),
    "diff": ("diff", "diff", "Compare X's breakdown between two traces (before/after)."),
    "export": ("export", "export", "Export calls as parquet, csv, folded stacks or Perfetto JSON."),
    "trim": (
        "trim",
        "trim",
        "Write a small text trace with only X's calls (a regression fixture).",
    ),
    "check": ("check", "check", "Assert latency expectations on X (exit 1 when one fails)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        try:
            mod = importlib.import_module(f"{__name__}.{spec[0]}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"{__name__}."):
                return None  # command not built yet
            raise
        cmd = getattr(mod, spec[1])
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, spec[2]) for name, spec in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fgraph", prog_name="fgraph")
def cli() -> None:
    """Analyze Linux ftrace function_graph traces.

    FILE may be a trace-cmd trace.dat (v6/v7), the kernel's function_graph text
    (trace, trace_pipe) or `trace-cmd report` output, optionally gzip/zstd/xz
    compressed; `-` reads stdin.

    \b
    Exit codes: 0 ok, 1 `check` expectation failed, 2 unusable input or usage error,
    3 input read only partly (with --strict).
    """


# commands that read a trace.dat window by window (fgraph.load_windowed)
_WINDOWED = frozenset({"hist", "slowest", "diff", "stats", "calls", "export", "check", "trim"})


def _windowed_tracedat(args: list[str]) -> bool:
    """Is this a windowed command whose inputs are all trace.dat files?  Those keep glibc's own
    malloc thresholds: with no trace-sized temporaries, keeping freed memory only added ~200 MB
    of peak RSS at 10M records (bench/RESULTS.md)."""
    from ..source import TRACE_DAT_MAGIC, peek

    if not args or args[0] not in _WINDOWED:
        return False
    files = [a for a in args[1:] if not a.startswith("-") and os.path.isfile(a)]
    for a in args[1:]:  # (a directory stands for the traces in it)
        if not a.startswith("-") and os.path.isdir(a):
            from ._options import files_in

            try:
                files += files_in(a)
            except OSError:  # (unreadable: the command says so)
                return False
    if "-" in args[1:]:
        # stdin: what its buffer holds already, without taking it (a pipe's first bytes)
        try:
            stdin: Any = sys.stdin.buffer
            if stdin.peek(len(TRACE_DAT_MAGIC)).startswith(TRACE_DAT_MAGIC):
                files.append("-")
            else:
                return False
        except (AttributeError, OSError, ValueError):
            return False
    if not files:
        return False
    for f in files:
        try:
            # (a compressed trace.dat is one too: read from its decompressed copy)
            if f != "-" and peek(f, len(TRACE_DAT_MAGIC)) != TRACE_DAT_MAGIC:
                return False
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> Any:
    # Before numpy is first imported (``import fgraph`` does not import it): numpy's OpenBLAS
    # starts a thread per core at import, which spins ~0.1 s waiting for work fgraph never
    # gives it (no BLAS calls), one core of two taken while the decode thread starts: 0.1 s
    # less CPU per run, small trace or 10M records (bench/RESULTS.md, session 7).  A user's
    # own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from .._malloc import keep_freed_memory, small_pages

    small_pages()
    if not _windowed_tracedat(list(sys.argv[1:] if argv is None else argv)):
        keep_freed_memory()
    # Die quietly when the reader of our stdout goes away (`fgraph events … | head`).
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return cli.main(args=argv, prog_name="fgraph", standalone_mode=True)
    except FgraphError as exc:
        sys.exit(_report(exc))
    except KeyboardInterrupt:
        click.echo("fgraph: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug in fgraph, not in the input: still one line (issue 8)
        if os.environ.get("FGRAPH_DEBUG"):
            raise
        click.echo(
            f"fgraph: error: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} "
            "(a bug in fgraph: please report it with the input; FGRAPH_DEBUG=1 shows the "
            "traceback)",
            err=True,
        )
        sys.exit(EXIT_BAD_INPUT)


def entry() -> None:
    """The ``fgraph`` command (console script, ``python -m fgraph``): :func:`main`, then the
    process ends without the interpreter's teardown.

    What a command made is freed by the kernel with the process, in one go; the teardown
    would first free every array and object one by one (at 10M records, ~500 MB of call
    columns: 45-80 ms between the command's end and the process's, 7-10 ms without it).  Every
    output file is closed by its command; stdout and stderr are flushed here.  ``main`` itself
    returns normally, for callers in the same process (tests, the fuzz worker)."""
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): what the interpreter prints
        sys.stderr.write(f"{code}\n")
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # (a full disk, a closed pipe): the interpreter's own exit reports it
        raise SystemExit(code) from None
    os._exit(code)


def _one_line(msg: str) -> str:
    return " ".join(msg.split())


def _report(exc: FgraphError) -> int:
    """Print an FgraphError as the one-line message and return its exit code."""
    click.echo(f"fgraph: error: {_one_line(exc.describe())}", err=True)
    return exc.exit_code or EXIT_BAD_INPUT


def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` and turn FgraphError into a click exit (used inside commands)."""
    try:
        return fn(*args, **kwargs)
    except FgraphError as exc:
        raise SystemExit(_report(exc)) from None
