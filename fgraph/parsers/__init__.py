"""Readers: identify the input's format, then decode it into an :class:`~fgraph.table.EventTable`.

Formats, auto-detected from the first bytes:

* ``trace.dat`` (trace-cmd, versions 6 and 7) — :mod:`fgraph.parsers.tracedat`
* kernel function_graph text (``trace``, ``trace_pipe``) — :mod:`fgraph.parsers.ftrace_text`
* ``trace-cmd report`` text — :mod:`fgraph.parsers.report_text`
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import FgraphError, TraceFormatError
from ..source import TRACE_DAT_MAGIC, Source
from ..table import EventTable

TRACE_DAT = "trace.dat"
KERNEL_TEXT = "kernel-text"
REPORT_TEXT = "trace-cmd-report"

# A trace-cmd report record: "<comm>-<pid> [cpu] <flags>? <ts>: <event>:"
_REPORT_LINE = re.compile(rb"^\s*\S.*-\d+\s+\[\d+\]\s+(?:\S+\s+)?\d+(?:\.\d+)?:\s+[\w:]+:", re.M)
# A kernel function_graph line: optional abstime, then " N) " CPU column or a duration bar.
_GRAPH_LINE = re.compile(
    rb"^(?:\s*\d+\.\d+\s+\|\s+)?\s*(?:\d+\)\s.*\|)|^\s*[\w.$<>\[\]\- ]+\(\)\s*[{;]|^\s*}\s*(?:/\*.*\*/)?\s*$"
    rb"|^\s*(?:[!+#*@$]\s+)?\d+\.\d+ us\s+\|",
    re.M,
)


def detect_format(head: bytes) -> str:
    """Name of the format of an input starting with ``head`` (raises TraceFormatError)."""
    if head.startswith(TRACE_DAT_MAGIC):
        return TRACE_DAT
    if head[:3] == TRACE_DAT_MAGIC[:3]:
        return TRACE_DAT  # damaged magic: the trace.dat reader explains what is wrong
    text = head[:65536]
    if b"\x00" in text[:4096]:
        raise TraceFormatError("binary data that is not a trace.dat (no trace-cmd magic)")
    lines = text.splitlines()
    for ln in lines[:50]:
        s = ln.strip()
        if s.startswith(b"# tracer:"):
            if b"function_graph" in s:
                return KERNEL_TEXT
            raise TraceFormatError(
                f"a '{s[9:].strip().decode(errors='replace')}' trace, not function_graph"
            )
        if re.match(rb"^cpus=\d+\s*$", s) or s.startswith(b"version = 6"):
            return REPORT_TEXT
    if _REPORT_LINE.search(text):
        return REPORT_TEXT
    if _GRAPH_LINE.search(text):
        return KERNEL_TEXT
    raise TraceFormatError(
        "not a function_graph trace (no trace.dat magic, no function_graph text lines)"
    )


def parse(source: Source) -> EventTable:
    """Decode ``source`` into an EventTable (records in input order; see EventTable)."""
    try:
        fmt = detect_format(source.head(65536))  # inside the try: its errors name the input too
        if fmt == TRACE_DAT:
            from .tracedat import parse_tracedat

            table = parse_tracedat(source)
        elif fmt == REPORT_TEXT:
            from .report_text import parse_report_text

            table = parse_report_text(source)
        else:
            from .ftrace_text import parse_ftrace_text

            table = parse_ftrace_text(source)
    except FgraphError as exc:
        _name_input(exc, source)
        raise
    _stamp(table.meta, source)
    return table


def _name_input(exc: FgraphError, source: Source) -> None:
    """Make the error name the input when the reader did not, and say what undoing its
    compression lost (a cut .gz may leave too little to read: that is the cause to name)."""
    if exc.path is None:
        exc.path = source.name
    for w in source.warnings:
        exc.message += f" (the input is damaged: {w.what})"
    exc.args = (exc.describe(),)


def _stamp(meta: Any, source: Source, warnings: bool = True) -> None:
    meta.path = source.name
    meta.input_compression = source.compression
    meta.bytes_total = len(source)
    if warnings:
        # what undoing the outer compression lost comes first (a stream has it already)
        meta.warnings[:0] = source.warnings


class TextRestart(Exception):
    """A piece of a text met what only the whole text answers (:mod:`.text_windows`): read it
    whole.  (Here, not there: a trace.dat's reader never imports the text readers' pyarrow.)"""


class _OneWindow:
    """An input that is read whole (text): the same interface as
    :class:`~fgraph.parsers.tracedat.stream.TraceDatStream`.  Its rows are already in timeline
    order (the kernel and trace-cmd print one merged stream), so :meth:`windows` can hand them
    to the rebuild in consecutive row ranges, views of the one table."""

    several_windows = False
    records = 0  # no estimate up front

    def __init__(self, table: EventTable) -> None:
        self.meta = table.meta
        self._table: EventTable | None = table
        self._ncpu = int(table["cpu"].max(initial=-1)) + 1
        self._sliced = False
        self._whole: EventTable | None = None  # the table being handed out in windows

    @property
    def ncpu(self) -> int:
        return self._ncpu

    def final_rows(self, ids: np.ndarray) -> np.ndarray:
        return ids

    def lost_order(self, lost: Any) -> np.ndarray | None:
        # the whole table's lost rows are in line order; the windows' come window by window
        # (a gap's row is the next one on its CPU, maybe in a later window)
        return np.argsort(lost["pos"], kind="stable") if self._sliced else None

    def windows(
        self, rows: int | None = None
    ) -> Iterator[tuple[EventTable, np.ndarray | None, np.ndarray | None]]:
        """The table (``rows`` None), or its consecutive ranges of ``rows`` rows with their
        row numbers (the last range also takes the gaps after every record)."""
        t, self._table = self._table, None
        if t is None:
            return
        n = len(t)
        if rows is None or n <= rows:
            yield t, None, None
            return
        self._sliced = True
        self._whole = t
        try:
            for lo in range(0, n, rows):
                hi = min(lo + rows, n)
                yield t.row_range(lo, hi, last=hi == n), None, np.arange(lo, hi, dtype=np.int64)
        finally:
            self._whole = None

    def drop_rows(self, lo: int, hi: int) -> int:
        """Give back the memory of rows ``lo:hi`` of the table the windows are views of, once
        the rebuild has read them (they read back as zeros): the table shrinks as the calls
        grow.  Bytes released."""
        from .._malloc import drop_rows

        t = self._whole
        if t is None:
            return 0
        return sum(drop_rows(c, lo, hi) for c in t.columns.values())


def whole_windows(source: Source) -> _OneWindow:
    """``source`` read whole, as one table handed out in windows of its rows."""
    return _OneWindow(parse(source))


def parse_windows(source: Source, window_records: int | None = None) -> Any:
    """``source`` as consecutive timeline windows: an object with ``meta``, ``ncpu`` and
    ``windows()`` yielding ``(table, timeline order or None, row ids or None)``, and
    ``final_rows(ids)`` turning those row ids into rows of :func:`parse`'s table once every
    window was read.  A trace.dat is read a window at a time
    (:mod:`fgraph.parsers.tracedat.stream`); a text (kernel or ``trace-cmd report``) of two
    pieces or more a piece at a time (:mod:`.text_windows`), a smaller one whole.  Errors name
    the input as :func:`parse`'s do."""
    try:
        fmt = detect_format(source.head(65536))
        if fmt in (KERNEL_TEXT, REPORT_TEXT):
            from .text_windows import ReportWindows, TextWindows, piece_bytes

            piece = piece_bytes()
            if len(source) >= 2 * piece:
                tw = (TextWindows if fmt == KERNEL_TEXT else ReportWindows)(source, piece)
                _stamp(tw.meta, source)
                return tw
        if fmt != TRACE_DAT:
            return whole_windows(source)
        from .tracedat.stream import WINDOW_RECORDS, open_stream

        st = open_stream(source, window_records or WINDOW_RECORDS)
    except FgraphError as exc:
        _name_input(exc, source)
        raise
    _stamp(st.meta, source, warnings=False)
    return st
