"""Progress on stderr while an input is read and its calls rebuilt.

Shown only when stderr is a terminal (never in pipes, files or CI logs) and only once a step
has taken more than a moment, so quick commands print nothing extra.  The parsers and the
rebuild do not report fractions, so this is a spinner with the step and elapsed time, drawn
from a background thread and erased when the step ends.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DELAY_S = 0.7  # show nothing for steps shorter than this
TICK_S = 0.2
_SPIN = "|/-\\"


def enabled() -> bool:
    if os.environ.get("FGRAPH_NO_PROGRESS"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(label: str) -> Iterator[None]:
    """Show ``fgraph: <label> … 3.2s`` on stderr while the block runs (tty only)."""
    if not enabled():
        yield
        return
    done = threading.Event()
    start = time.monotonic()
    drawn = [False]

    def run() -> None:
        if done.wait(DELAY_S):
            return
        i = 0
        while not done.wait(TICK_S):
            msg = f"\rfgraph: {label} {_SPIN[i % 4]} {time.monotonic() - start:.1f}s"
            sys.stderr.write(msg)
            sys.stderr.flush()
            drawn[0] = True
            i += 1

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()
        if drawn[0]:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def load_calls(
    path: str, columns: frozenset[str] | None = None, trees_of: str | None = None
) -> Any:
    """The calls of ``path``, rebuilt window by window (``fgraph.pipeline.load_windowed``: a
    trace.dat never holds all its records at once), under a progress display.  ``columns``:
    the call columns the command reads (None: all); ``trees_of``: the function whose calls'
    trees are all it reads (the others are let go as the windows go)."""
    from ..pipeline import load_windowed

    name = os.path.basename(path) if path != "-" else "stdin"
    with progress(f"reading {name} and rebuilding its calls"):
        return load_windowed(path, columns=columns, trees_of=trees_of)


def load_inputs(
    paths: tuple[str, ...] | list[str],
    columns: frozenset[str] | None,
    trees_of: str | None = None,
) -> Any:
    """(what an analysis takes, the traces): the traces ``paths`` name (a directory stands for
    the traces in it), each rebuilt as :func:`load_calls` does, and the one trace, or all of
    them as one (their columns given up as they are copied: ``analysis.calls.aggregate``).
    A trace that cannot be read ends the command with its error."""
    from ..analysis.calls import aggregate
    from . import run
    from ._options import expand_inputs

    traces = [run(load_calls, f, columns, trees_of) for f in expand_inputs(paths)]
    return (traces[0] if len(traces) == 1 else aggregate(traces, consume=True)), traces
