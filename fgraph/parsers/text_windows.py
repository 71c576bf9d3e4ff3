"""Kernel function_graph text and ``trace-cmd report`` text read a piece at a time (issue 7:
bounded memory).

The kernel and trace-cmd print one merged stream, so consecutive pieces of lines are
consecutive timeline windows: each piece (~:data:`PIECE_BYTES` of text, cut at a line end) is
parsed on its own into a table that the rebuild consumes and drops, and a text of any size is
read in the memory of a piece plus its calls.  The tables are the whole-text reader's (tests/test_stream_tracedat.py
compares them through the rebuild on every corpus text): what a line's meaning takes from
lines before it is carried from piece to piece (:class:`~._textlines.TextCarry`: the entry a
bare ``}`` closes, the task a banner named on each CPU, the lost-event gaps no record has
followed yet), rows and lines are numbered in the whole text, and the warnings and the meta are
said once, at the end, as the whole-text reader says them.

Rows before a CPU's first banner (a kernel text without a proc column) take the task that banner
switched from: the pieces that have such rows are held until the banner comes, up to
:data:`HOLD_BYTES` of text.  What only the whole text can answer (a banner further away than
that, the text's first bare ``}`` after its first piece, bytes that are not UTF-8, a time column
that stops half-way; in a report, a first piece without records, or timestamps printed with
fewer digits further on) raises :class:`TextRestart`: the caller reads the text whole
instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..source import Source, release_pages
from ..table import EventTable, StringPool, TraceMeta
from . import TextRestart
from . import _textlines as tl

# Text per piece: ~230k lines of a typical capture, about the rebuild's text windows
# (fgraph.pipeline.TEXT_WINDOW_RECORDS rows).  Texts of less than two pieces are read whole.
# On the 203 MB benchmark text: 16 MB pieces 1.00 s and 305 MB peak RSS, 8 MB 1.1-1.3 s and
# 278 MB, 4 MB 1.5-1.7 s and 255 MB (each piece's own costs: Arrow calls, the scanner's
# threads); read whole, 1.0-1.3 s and 540 MB.
PIECE_BYTES = 16 << 20
# Text held while some CPU's rows wait for its first banner (the pieces' tables: ~3x their
# text), past which the text is read whole.
HOLD_BYTES = 64 << 20
RELEASE_EVERY = 64 << 20  # bytes of the text a look-ahead reads between two page releases


def piece_bytes() -> int:
    """:data:`PIECE_BYTES`, or ``FGRAPH_TEXT_PIECE`` bytes (tests: every text in pieces)."""
    import os

    env = os.environ.get("FGRAPH_TEXT_PIECE", "")
    return int(env) if env.isdigit() and int(env) > 0 else PIECE_BYTES


def _cut(data: Any, at: int) -> int:
    """The end of the piece that reaches ``at``: after the line ``at`` is in, and after the
    overrun lines that follow it (" (Overruns: N)" belongs to the return above it)."""
    n = len(data)
    if at >= n:
        return n
    end = data.find(b"\n", at)
    while end >= 0:
        nxt = data.find(b"\n", end + 1)
        line = data[end + 1 : nxt if nxt >= 0 else n]
        if b"(Overruns: " not in line:
            break
        end = nxt
    return n if end < 0 else end + 1


def _give_tasks(tables: list[EventTable], tasks: dict[int, tuple[int, int]]) -> None:
    """The rows of ``tables`` (pieces before the one with their CPU's first banner) that have no
    task take the task that banner switched from, as read whole (_textlines.build_event_table)."""
    for t in tables:
        cpu, pid, comm = t["cpu"], t["pid"], t["comm"]
        for c, (p, cm) in tasks.items():
            sel = np.flatnonzero((cpu == c) & (pid < 0))
            pid[sel] = p
            comm[sel] = cm


def _no_banner_after(data: Any, at: int, cpus: set[int]) -> bool:
    """Whether no line of ``data`` from ``at`` on can be a banner of one of ``cpus`` (a line with
    ``=>`` and the CPU column ``N)``: a superset of the banners the reader finds).  The pages
    it reads are given back as it goes."""
    if not cpus or min(cpus) < 0:
        return not cpus
    tags = [b"%d)" % c for c in cpus]
    n = len(data)
    given = at  # pages given back up to here
    pos = data.find(b"=>", at)
    while pos >= 0:
        start = data.rfind(b"\n", at, pos) + 1 or at
        stop = data.find(b"\n", pos)
        stop = n if stop < 0 else stop
        line = bytes(data[start:stop])
        for t in tags:
            k = line.find(t)
            while k >= 0:
                if k == 0 or not line[k - 1 : k].isdigit():
                    release_pages(data, given, start)
                    return False
                k = line.find(t, k + 1)
        if stop - given > RELEASE_EVERY:
            release_pages(data, given, stop)
            given = stop
        pos = data.find(b"=>", stop)
    release_pages(data, given, n)
    return True


class TextWindows:
    """A kernel text as the windows of :func:`fgraph.pipeline.load_windowed` (the interface of
    :class:`~fgraph.parsers._OneWindow`)."""

    several_windows = False
    pieces = True
    records = 0  # no estimate up front
    ncpu = 1 << 15  # (the CPU column is int16; the pieces to come may name any)
    format = "kernel-text"

    def __init__(self, source: Source, piece_bytes: int | None = None) -> None:
        self.source = source
        self.piece_bytes = max(int(piece_bytes or PIECE_BYTES), 1)
        # (the kernel prints times in microseconds: ftrace_text.finish_meta says so at the end,
        # but the rebuild takes its adoption tolerance from the meta the first piece comes with)
        self.meta = TraceMeta(
            path=source.name, format=self.format, ts_resolution_ns=tl.KERNEL_TS_NS
        )
        self.strings = StringPool()
        self._told: bool | None = None  # ts_known as the rebuild was first told it

    def final_rows(self, ids: np.ndarray) -> np.ndarray:
        return ids

    def lost_order(self, lost: Any) -> np.ndarray | None:
        # the whole text's gaps are in line order; a piece's come once a record follows them
        return np.argsort(lost["pos"], kind="stable")

    def drop_rows(self, lo: int, hi: int) -> int:
        return 0  # (each piece's table is freed once the rebuild is done with it)

    def windows(
        self, rows: int | None = None
    ) -> Iterator[tuple[EventTable, np.ndarray | None, np.ndarray | None]]:
        """The pieces' tables, each with its rows' numbers in the whole text.  Raises
        :class:`TextRestart` (see the module)."""
        data, name = self.source.data, self.source.name
        carry = tl.TextCarry()
        self._told = None
        at = row = 0
        # pieces with rows waiting for their CPU's first banner (the task it switched from),
        # and the bytes of text they hold
        held: list[tuple[EventTable, None, np.ndarray]] = []
        held_bytes = 0
        while at < len(data):
            end = _cut(data, at + self.piece_bytes)
            carry.line_base, carry.last = carry.lines, end >= len(data)
            piece = Source(name, memoryview(data)[at:end])
            table = self._parse(piece, carry)
            release_pages(data, at, end)
            self._check(carry, at)
            if carry.restart:
                raise TextRestart
            n = len(table)
            ids = np.arange(row, row + n, dtype=np.int64)
            row += n
            if carry.resolved:
                _give_tasks([t for t, _, _ in held], carry.resolved)
                carry.resolved.clear()
            held.append((table, None, ids))
            held_bytes += end - at
            del table, ids
            if carry.unresolved and held_bytes > HOLD_BYTES:
                # A CPU whose first banner is far away, or never comes (the kernel prints none
                # for a CPU's first task, kernel/trace/trace_functions_graph.c verif_pid(), so a
                # trace of one task per CPU has none at all): when no line after this piece can
                # be one, its rows have no task, as read whole; else only the whole text can
                # tell.
                if not _no_banner_after(data, end, carry.unresolved):
                    raise TextRestart
                carry.bannerless |= carry.unresolved
                carry.unresolved.clear()
            if not carry.unresolved:  # (no row waits for a banner: the pieces go, in order)
                while held:
                    yield held.pop(0)
                held_bytes = 0
            at = end
        while held:  # (CPUs with no banner after their rows: those rows have no task)
            yield held.pop(0)
        self._finish(carry)

    def _parse(self, piece: Source, carry: tl.TextCarry) -> EventTable:
        from .ftrace_text import parse_ftrace_text

        return parse_ftrace_text(piece, self.strings, carry, self.meta)

    def _check(self, carry: tl.TextCarry, at: int) -> None:
        """After the piece at byte ``at``: set ``carry.restart`` if the pieces read so far
        change what the rebuild was told of the text when it began."""
        f = carry.facts
        # (whether the rows have times, as the whole text says it: told the rebuild with
        # the first piece that has funcgraph lines; earlier pieces were read as timed)
        known = bool(f["fg"] and not f["fg_no_ts"]) if f["fg"] else None
        if self._told is None and known is not None:
            if at > 0 and not known:
                carry.restart = True
                return
            self._told = self.meta.ts_known = known
        if known is not None and known != self._told:
            carry.restart = True

    def _finish(self, carry: tl.TextCarry) -> None:
        """The meta and warnings of the whole text, in the whole-text reader's order."""
        meta, name = self.meta, self.source.name
        meta.lines_total = carry.lines
        if carry.lost_lines:
            meta.warn(
                tl.lost_warning(carry.lost_lines, carry.lost_known, carry.lost_uncounted),
                name,
                -1 if carry.lost_uncounted else carry.lost_known,
            )
        tl.unparsed(meta, carry.unparsed, carry.examples, name)
        meta.duration_resolution_ns = carry.dur_res if carry.dur_res > 0 else 1
        self._finish_meta(carry)
        if carry.fast_lines >= 0:
            meta.options["fast_path_lines"] = carry.fast_lines

    def _finish_meta(self, carry: tl.TextCarry) -> None:
        from .ftrace_text import finish_meta

        finish_meta(self.meta, carry.facts, self.source.name)


class ReportWindows(TextWindows):
    """A ``trace-cmd report`` text as the windows of :func:`fgraph.pipeline.load_windowed`.

    What the rebuild is told of the text when it begins (that its rows have times, and their
    resolution, the adoption tolerance) is what the first piece says: a first piece with no
    record, or a later piece with times printed to fewer digits (the whole text's resolution
    is its coarsest), restarts the read whole."""

    format = "trace-cmd-report"

    def _parse(self, piece: Source, carry: tl.TextCarry) -> EventTable:
        from .report_text import parse_report_text

        return parse_report_text(piece, self.strings, carry, self.meta)

    def _check(self, carry: tl.TextCarry, at: int) -> None:
        from .report_text import ts_resolution

        f = carry.facts
        if self._told is None:
            if not f["rows"] or not f["ts_all"]:
                carry.restart = True
                return
            self._told = self.meta.ts_known = True
            self.meta.ts_resolution_ns = ts_resolution(f["digits"])
        elif not f["ts_all"] or ts_resolution(f["digits"]) != self.meta.ts_resolution_ns:
            carry.restart = True

    def _finish_meta(self, carry: tl.TextCarry) -> None:
        from .report_text import finish_report_meta

        finish_report_meta(self.meta, carry.facts, self.source.name)
