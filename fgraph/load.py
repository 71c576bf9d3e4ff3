"""``fgraph.load()``: the one place that knows the whole pipeline.

parsers → event table → merged timeline → per-task calls.  Analyses take the resulting
:class:`Trace` (or its :class:`~fgraph.table.CallTable`).
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from .errors import TraceWarning
from .table import CallTable, EventTable, TraceMeta


class Trace:
    """A loaded trace: events, rebuilt calls and the quality report.

    ``events`` / ``calls`` are pandas DataFrames (Arrow-backed, nulls for unknowns);
    ``event_table`` / ``call_table`` are the columnar tables the analyses use.
    """

    def __init__(self, event_table: EventTable, name: str = "") -> None:
        self.event_table = event_table
        self.name = name or event_table.meta.path
        self._calls: CallTable | None = None
        self._quality: Any = None

    @property
    def meta(self) -> TraceMeta:
        return self.event_table.meta

    @property
    def warnings(self) -> list[TraceWarning]:
        return self.event_table.meta.warnings

    def _rebuild(self) -> None:
        from .reconstruct import rebuild

        self._calls, self._quality = rebuild(self.event_table)

    @property
    def call_table(self) -> CallTable:
        if self._calls is None:
            self._rebuild()
        assert self._calls is not None
        return self._calls

    @property
    def quality(self) -> Any:
        if self._quality is None:
            self._rebuild()
        return self._quality

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self.quality.to_dict())

    @property
    def events(self) -> Any:
        return self.event_table.to_pandas()

    @property
    def calls(self) -> Any:
        return self.call_table.to_pandas()


def read_events(path: str | os.PathLike[str] | BinaryIO | bytes) -> EventTable:
    """Parse one input (any supported format, compressed or not) into an EventTable."""
    from .parsers import parse
    from .source import open_source

    return parse(open_source(path))


def load(path: str | os.PathLike[str] | BinaryIO | bytes) -> Trace:
    """Load a trace file (``"-"`` for stdin).  Calls are rebuilt lazily on first use.

    >>> t = fgraph.load("btrfs_read.dat")           # doctest: +SKIP
    >>> t.calls.query("func == 'vfs_read'").duration.describe()   # doctest: +SKIP
    """
    return Trace(read_events(path))
