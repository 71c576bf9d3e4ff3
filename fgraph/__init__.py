"""fgraph: offline analyzer for Linux ftrace function_graph traces.

>>> import fgraph
>>> t = fgraph.load("trace.dat")                    # doctest: +SKIP
>>> fgraph.hist(t, "vfs_read", threshold="1ms")     # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .errors import FgraphError, TraceFormatError, TraceParseError, TraceWarning
from .load import Trace, load, load_windowed, read_events

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
