"""fgraph: offline analyzer for Linux ftrace function_graph traces.

>>> import fgraph
>>> t = fgraph.load("trace.dat")                    # doctest: +SKIP
>>> fgraph.hist(t, "vfs_read", threshold="1ms")     # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import FgraphError, TraceFormatError, TraceParseError, TraceWarning

if TYPE_CHECKING:
    from .pipeline import Trace, load, load_windowed, read_events

__version__ = "0.1.0"

__all__ = [
    "FgraphError",
    "Trace",
    "TraceFormatError",
    "TraceParseError",
    "TraceWarning",
    "hist",
    "load",
    "load_windowed",
    "read_events",
    "__version__",
]


def hist(trace: Any, func: str | None = None, **kwargs: Any) -> Any:
    """Slow-call histogram and breakdown of ``func`` (see :func:`fgraph.analysis.hist.hist`)."""
    from .analysis.hist import hist as _hist

    return _hist(trace, func, **kwargs)


# The loaders (and with them numpy) are imported on first use, not by ``import fgraph``: the
# command sets its environment before numpy starts (OpenBLAS's thread, fgraph.cli.main), and
# ``fgraph --help`` does not import numpy at all.
_PIPELINE = frozenset({"Trace", "load", "load_windowed", "read_events"})


def __getattr__(name: str) -> Any:
    if name in _PIPELINE:
        from . import pipeline

        value = getattr(pipeline, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fgraph' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _PIPELINE)
