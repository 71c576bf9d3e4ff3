"""A trace.dat read as consecutive windows of its merged timeline (issue 7: bounded memory).

:func:`open_stream` reads the headers, event formats and symbols as ``parse_tracedat`` does,
then :meth:`TraceDatStream.windows` walks each CPU's ring-buffer pages a window at a time and
yields event tables whose records all come after the previous window's:

* Window bounds are times, taken from the pages' own timestamps (the first 8 bytes of every
  ring-buffer page, ``struct buffer_data_page`` in kernel/trace/ring_buffer.c): window ``j``
  walks, on every CPU, the pages that start in ``[T_j, T_j+1)``.
* A page that starts before ``T_j+1`` can hold records after it.  Those records are held back
  and merged into the next window, so every window holds exactly the records of its time range
  and the windows cut together are the whole file's merged timeline.  Within a window the
  records are arranged CPU after CPU (held-back records first), as in the whole-file table, so
  the stable time sort gives the whole file's order, ties included.
* ``row_id`` names each record by its row in ``parse_tracedat``'s table (CPU blobs counted
  first), so call tables refer to the same rows either way.
* Lost-event gaps travel with the record they precede; a flagged page without records at the
  end of a window's range waits for that CPU's next record.
* Once a window is decoded, the file pages it walked are released from the mapping
  (``madvise(MADV_DONTNEED)``): touched pages of a mapped file count in the resident set.

* Compressed (v7 zstd/zlib) data is decompressed a chunk (10 pages) at a time into a
  ``ChunkStore``: one pass up front (``load_lazy``, in two threads, each a C loop without the
  GIL: ``fgraph/_ext/inflate.c``) decompresses every chunk to find the unreadable ones and to
  take each page's first 8 bytes (the window bounds), and leaves up to
  ``KEEP_BYTES`` (1 GB) of the data in place, the first chunks of every CPU; then a window
  decompresses the chunks its walk and its records' decode read that are not resident
  (``_ensure``, before every read of ``mem``) and drops those it has passed.  So a file of up
  to 1 GB of data is decompressed once, a bigger one's later chunks twice (a real capture,
  409 MB of data in 92 MB of zstd: 2.66 -> 2.16 s, peak RSS 532 -> 546 MB, medians of 5,
  session 11; before, every chunk was decompressed twice, and the peak RSS of a 341 MB one
  went 1.23 GB → 0.82 GB when the store stopped keeping all of it, session 6).

Latency-format buffers have no ring buffer: they are read as one window.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import mmap
import re
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..._ext import ringbuf  # type: ignore[attr-defined]
from ..._numpy import unique
from ...errors import TraceWarning
from ...schema import LostSource
from ...source import Source, release_pages
from ...table import EventTable, LostTable, StringPool, TraceMeta
from . import (
    Piece,
    _decode,
    _formats,
    _latency,
    _lost_table,
    _meta,
    _once,
    _page_events,
    _timestamps,
    blob_page_size,
    decode_errors,
    ring_layout,
)
from .eventformat import FormatIndex
from .header import Container, read_container
from .ringbuffer import (
    FAULT_AROUND,
    Blob,
    ChunkStore,
    count,
    drop_disordered_pages,
    load_blobs,
    load_lazy,
    on_two_threads,
    populate_file_pages,
    walk,
)
from .symbols import parse_kallsyms

_UNKNOWN_IDS = re.compile(r"(\d+) (record\(s\) with an event id that has no format.*)", re.S)


def _decode_rank(w: TraceWarning) -> int:
    """Where ``_decode`` says a warning (see ``_settle_warnings``)."""
    if _UNKNOWN_IDS.match(w.what):
        return 2
    return 1 if "event format(s) could not be parsed" in w.what else 0


# records per window by default (~25 MB of event table); load_windowed asks for fewer
# (fgraph.pipeline.WINDOW_RECORDS: less memory, the same CPU)
WINDOW_RECORDS = 1 << 18
CONTEXT_PAGES = 8  # pages walked on each side of a window's range to judge garbled pages
STAMP_BYTES = 1 << 24  # the page stamps of an uncompressed file are read this much at a time
SAMPLE_PAGES = 64  # pages per CPU counted up front to estimate the number of records
ROW_SHIFT = 40  # provisional row id: (blob << ROW_SHIFT) + record index in the blob


@dataclasses.dataclass
class _Cursor:
    """One CPU blob's progress: pages walked so far and records numbered so far."""

    blob: Blob
    page_size: int
    npages: int
    page_ts: np.ndarray  # raw page timestamps, made non-decreasing (for the window bounds)
    index: int  # the blob's place in the file (rows are numbered blob after blob)
    next_page: int = 0
    next_row: int = 0  # blob index of the next record to walk
    # walked records not yet decoded (raw), in walk order: a list of walks' record arrays (or
    # their tails), so records held back are never concatenated with the next walk's
    held: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)
    pending_lost: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    released: int = 0  # mem offset up to which the file pages were released
    sample_rate: float = 0.0  # records per page in the sample of the first pages
    bad_status: list[np.ndarray] = dataclasses.field(default_factory=list)  # damaged pages
    bad_at: list[np.ndarray] = dataclasses.field(default_factory=list)  # (their positions)


def _timeline_order(ts: np.ndarray, runs: np.ndarray) -> np.ndarray | None:
    """A window's timeline order from its times and its CPUs' runs (None: the rebuild's merge
    order decides)."""
    # the stable time sort of the rows, CPU after CPU, is a merge of the CPUs' runs when each
    # is in time order (ringbuf.c; else sorted here)
    order, tmin = ringbuf.merge_order(ts, runs)
    if len(ts) and tmin < 0:
        # times beyond 2^63 ns are no times: the rebuild's merge order keeps such records
        # after their CPU's previous record, as it does for the whole file
        return None
    if order is None:
        order = np.argsort(ts, kind="stable").astype(np.int64, copy=False)
    return order


def _record_pos(blob: Blob, w: dict[str, np.ndarray], starts: np.ndarray, ps: int) -> np.ndarray:
    """The file position of each walked record (``Blob.file_pos`` of its header).  In
    compressed data that is its chunk's: when each page lies in one chunk (trace-cmd writes
    chunks of whole pages), its records' chunk is found per page, not per record (a binary
    search per record was ~0.1 s of the decode thread at 11.8M records)."""
    if blob.compressed and len(starts):
        ust = blob.chunk_ustart
        first = np.searchsorted(ust, starts, "right") - 1
        last = np.searchsorted(ust, starts + (ps - 1), "right") - 1
        nrec = w["nrec"]
        if np.array_equal(first, last) and int(nrec.sum(dtype=np.int64)) == len(w["hdr"]):
            return np.repeat(blob.chunk_fileoff[np.clip(first, 0, len(ust) - 1)], nrec)
    return blob.file_pos(w["hdr"])


def _thin(cuts: np.ndarray, factor: int, last: int) -> np.ndarray:
    """Every ``factor``-th of ``cuts`` before the last ``last`` windows, counted back from the
    first of those, and every one after (any subset of the cuts cuts the same timeline)."""
    m = len(cuts) - last  # the cut that starts the last windows
    if factor <= 1 or m <= 0:
        return cuts
    keep = (m - np.arange(len(cuts))) % factor == 0
    keep[m:] = True
    return cuts[keep]


class _ArraySet:
    """The arrays of one window, kept to be used again by a later one."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.arrays: dict[str, np.ndarray] = {}
        self._probe = object()  # held by the set alone, as each array is

    def free(self) -> bool:
        """Nothing outside holds one of the arrays (no view, no table): each has no more
        references than an object only the set holds, counted the same way (what the
        interpreter itself holds of a value passed on differs between versions)."""
        counts = [sys.getrefcount(v) for v in (self._probe, *self.arrays.values())]
        return all(c <= counts[0] for c in counts[1:])

    def take(self, name: str, n: int, dtype: np.dtype) -> np.ndarray:
        """The first ``n`` items of the set's array ``name`` (made at the first call)."""
        a = self.arrays.get(name)
        if a is None or a.dtype != dtype:
            # (a mapping of its own, not malloc'd: a set let go gives its pages back to the
            # kernel when its last holder drops it, where freed malloc memory stays resident
            # in the arena, between the decoder's other allocations, until the next trim;
            # private: a shared anonymous mapping is shmem, its pages slower to fault in)
            if hasattr(mmap, "MAP_PRIVATE"):
                m = mmap.mmap(-1, max(self.cap * dtype.itemsize, 1), flags=mmap.MAP_PRIVATE)
                a = np.frombuffer(m, dtype, self.cap)
            else:  # pragma: no cover - (Windows)
                a = np.empty(self.cap, dtype)
            self.arrays[name] = a
        return a[:n]


def _take(cols: _ArraySet, scratch: _ArraySet, name: str, n: int, dtype: np.dtype) -> np.ndarray:
    """``_decode``'s ``alloc``: a column from the window's set, a scratch array (a name with a
    leading blank) from the scratch set."""
    return (scratch if name[0] == " " else cols).take(name, n, dtype)


class _Recycler:
    """Window arrays used again from window to window instead of made anew.

    The windows' tables were new arrays each window, freed by the rebuild's thread into the
    decode thread's malloc arena, which gave their pages back to the kernel (heap trims): each
    window's ~10 MB of columns were fresh zero pages again, faulted in by ``ringbuf.assemble``
    (10.2M records: ~0.05 s of the decode thread's CPU, bench/RESULTS.md, session 6).

    A set of arrays is taken again only when nothing outside holds it any more (see
    ``_ArraySet.free``): a window the rebuild keeps, or a view of it, keeps its whole set out
    of reuse, and a new set is made instead.  At most ``keep`` sets are followed (the oldest is
    let go: its holder frees it)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.sets: list[_ArraySet] = []
        self.narrowed = False

    def narrow(self) -> None:
        """From now on a set more than twice as large as the window needs is let go rather
        than used again (the windows got shorter: ``TraceDatStream.fewer_buffers``)."""
        self.narrowed = True

    def get(self, n: int) -> _ArraySet:
        """A free set that holds ``n`` records, or a new one."""
        while len(self.sets) > self.keep:  # (keep lowered meanwhile: a free one goes first)
            free = [s for s in self.sets if s.free()]
            self.sets.remove(free[0] if free else self.sets[0])
        if self.narrowed:  # (a wide set still held goes once free, at a later call)
            self.sets = [s for s in self.sets if s.cap <= 2 * n or not s.free()]
        for s in self.sets:
            if s.cap >= n and s.free():
                return s
        if len(self.sets) >= self.keep:
            self.sets.pop(0)
        s = _ArraySet(n + n // 8)
        self.sets.append(s)
        return s

    def clear(self) -> None:
        self.sets = []


class TraceDatStream:
    """A trace.dat opened for windowed reading (see module doc)."""

    several_windows = True

    def __init__(self, source: Source, window_records: int = WINDOW_RECORDS) -> None:
        self.source = source
        self.window_records = max(int(window_records), 1)
        path = source.name
        c = self.c = read_container(source.data, path)
        self.meta: TraceMeta = _meta(c)
        # what undoing an outer compression lost comes first (fgraph.parsers._stamp, which
        # puts it in a whole table's warnings, leaves a stream's alone: it is here before
        # the warnings this stream keeps in order by their places)
        self.meta.warnings.extend(source.warnings)
        for what, off in c.problems:
            self.meta.warn(what, where=f"{path} at byte {off:#x}")
        self.strings = StringPool()
        self.latency = all(b.latency_text is not None for b in c.buffers)
        self.cursors: list[_Cursor] = []
        # the arrays of the windows' tables (as many sets as windows are alive at a time: the
        # one the rebuild reads, the one being decoded, and one more while the decode thread
        # may run a window further ahead, fgraph.pipeline) and of the decode's scratch arrays
        self._buffers = _Recycler(3)
        self._scratch = _Recycler(1)
        self._cut_cache: np.ndarray | None = None
        self._widen = (1, 0, 0)  # (factor, last windows left as they are, halved): widen()
        self.records = 0  # an estimate, below (none for a latency-format file)
        if self.latency:
            return
        self.long_size, self.data_start = ring_layout(c, self.meta)
        self.formats: FormatIndex = _formats(c, self.meta)
        self.store: ChunkStore | None = None
        heads: list[np.ndarray | None]
        if c.compression == "none":
            self.mem_obj, blobs = load_blobs(c, source.data)
            heads = []  # (read below, once mem is set)
        else:
            # decompressed chunk by chunk as the windows need them (ChunkStore)
            self.store, blobs, heads_ = load_lazy(
                c, source.data, lambda bi: blob_page_size(c, Blob(bi, 0, 0, 0), self.data_start)
            )
            self.mem_obj = self.store.mem
            heads = list(heads_)
            # (the chunks it left in place: the first the windows read, which they drop as
            # they pass them; what the sample below decompresses besides is dropped now)
            left = self.store.resident.copy()
        self.mem = (
            np.frombuffer(self.mem_obj, dtype=np.uint8)
            if len(self.mem_obj)
            else np.zeros(0, np.uint8)
        )
        if self.store is None:
            heads = self._page_heads(blobs)
        row = 0
        self._ts_max = 0  # the latest raw page stamp (_page_times)
        self._nhead = len(self.meta.warnings)  # the container's warnings come first
        for blob, head in zip(blobs, heads):
            for what, off, lost in blob.problems:
                self.meta.warn(what, where=f"{path} at byte {off:#x}", lost=lost)
            ps = blob_page_size(c, blob, self.data_start)
            npages = -(-blob.length // ps)
            self.cursors.append(
                _Cursor(
                    blob,
                    ps,
                    npages,
                    self._page_times(blob, ps, npages, c, head),
                    len(self.cursors),
                    released=blob.start,
                )
            )
            # records per page from a sample of the blob's first pages (for the window bounds
            # and the rebuild's size hint; the rows themselves are numbered as they are walked)
            sample = dataclasses.replace(blob, length=min(blob.length, SAMPLE_PAGES * ps))
            self._ensure(sample.start, sample.start + sample.length)
            nsample = count(self.mem_obj, sample, ps, self.data_start, self.long_size, c.big_endian)
            self.cursors[-1].sample_rate = nsample / max(-(-sample.length // ps), 1)
            row += int(nsample * npages / max(-(-sample.length // ps), 1))
        self.records = row
        self._nblob = len(self.meta.warnings)  # then the blobs' (put in order by _settle)
        if self.store is not None:
            self.store.release_all(skip=left)
        elif self.mem_obj is self.source.data:
            release_pages(self.mem_obj)

    def final_rows(self, ids: np.ndarray) -> np.ndarray:
        """The whole-file rows of provisional row ids (-1 stays), once every window was read:
        a blob's rows start after all the records of the blobs before it.  Rewrites ``ids``
        in place when it owns its memory."""
        if self.latency or not self.cursors:
            return ids  # one window, rows numbered as they are
        sizes = np.array([cur.next_row for cur in self.cursors], dtype=np.int64)
        base = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
        out = ids.copy() if not (ids.flags.writeable and ids.flags.owndata) else ids
        mask = np.int64((1 << ROW_SHIFT) - 1)
        step = 1 << 20  # in place, a piece at a time: no call-table-sized temporaries
        for lo in range(0, len(out), step):  # per million rows
            seg = out[lo : lo + step]
            ok = seg >= 0
            seg[ok] = base[seg[ok] >> ROW_SHIFT] + (seg[ok] & mask)
        return out

    def lost_order(self, lost: LostTable) -> np.ndarray | None:
        """The order that puts the windows' lost-event rows (gathered window after window) in
        ``parse_tracedat``'s: blob after blob, each blob's flagged pages then its damaged ones
        (``_page_events``), in page order.  A row's blob is found by its file position (None:
        nothing to reorder)."""
        if self.latency or len(lost) < 2:
            return None
        pos = lost["pos"]
        nb = len(self.cursors)
        blob = np.full(len(pos), nb, np.int64)
        for cur in self.cursors:
            b = cur.blob
            if b.compressed:  # positions are the blob's chunk offsets
                inb = np.isin(pos, b.chunk_fileoff)
            else:
                inb = (pos >= b.file_offset) & (pos < b.file_offset + b.length)
            blob[inb & (blob == nb)] = cur.index
        damage = lost["source"] == LostSource.DAMAGE
        return np.lexsort((pos, damage, blob))  # stable: ties keep page order

    @property
    def ncpu(self) -> int:
        """CPU slots of the rebuild: the CPUs that have data."""
        return max((cur.blob.cpu for cur in self.cursors), default=-1) + 1

    def _page_heads(self, blobs: list[Blob]) -> list[np.ndarray | None]:
        """The first 8 bytes of every whole page of each blob (uncompressed data), read 16 MB
        at a time (reading a stamp maps its file page and the pages around it, given back
        after each piece).  On a big file the pieces are shared between this thread and a
        second one: the reads are page faults, numpy's copies release the GIL, and nothing
        else runs yet (fsync_x50, 355 MB: 31-41 -> 16-22 ms, all of it before the decode
        starts)."""
        jobs: list[tuple[int, int, int, int, int]] = []  # (blob, first page, pages, start, ps)
        for bi, blob in enumerate(blobs):
            ps = blob_page_size(self.c, blob, self.data_start)
            full = blob.length // ps
            step = max(STAMP_BYTES // ps, 1)
            jobs.extend((bi, i, min(step, full - i), blob.start, ps) for i in range(0, full, step))
        pieces: dict[tuple[int, int], np.ndarray] = {}
        own_file = self.mem_obj is self.source.data

        def read(job: tuple[int, int, int, int, int]) -> None:
            bi, i, k, start, ps = job
            lo = start + i * ps
            pieces[bi, i] = self.mem[lo : lo + k * ps].reshape(k, ps)[:, :8].copy()
            if own_file:
                release_pages(self.mem_obj, lo - FAULT_AROUND, lo + k * ps + FAULT_AROUND)

        if len(jobs) >= 4:
            on_two_threads(jobs, read, "fgraph-stamps")
        else:
            for job in jobs:
                read(job)
        heads: list[np.ndarray | None] = []
        for bi in range(len(blobs)):
            mine = [pieces[j[0], j[1]] for j in jobs if j[0] == bi]
            heads.append(np.concatenate(mine) if mine else None)
        return heads

    def _page_times(
        self, blob: Blob, ps: int, npages: int, c: Container, head: np.ndarray | None
    ) -> np.ndarray:
        """The blob's page stamps from its pages' first 8 bytes (``head``: those bytes,
        ``_page_heads``'s, or ``load_lazy``'s for compressed data)."""
        full = blob.length // ps
        if full == 0 or head is None:
            return np.zeros(npages, np.uint64)
        ts = head.copy().view(">u8" if c.big_endian else "<u8").ravel().astype(np.uint64)
        if npages > full:
            ts = np.append(ts, ts[-1])
        # Non-decreasing for searchsorted, and each page no later than any page after it (a
        # running minimum from the end, not a running maximum): a page is then walked in or
        # before the window of its first record (records come after their page's stamp), and
        # walking early only holds its records back.  A running maximum let one garbled stamp
        # far ahead (a page drop_disordered_pages drops) push every later page of the CPU
        # into the last window, out of the whole file's order.
        self._ts_max = max(self._ts_max, int(ts.max()))
        return np.minimum.accumulate(ts[::-1])[::-1].copy()

    @property
    def window_count(self) -> int:
        """How many windows :meth:`windows` yields."""
        return 1 if self.latency else len(self._cuts()) + 1

    def fewer_buffers(self) -> None:
        """One window fewer will be alive at a time from now on (``fgraph.pipeline``'s decode
        thread one window less ahead): one set of window arrays fewer is kept, and the sets
        made for the wider windows before (``widen``) are let go once free (the last windows
        make sets of their own size)."""
        self._buffers.keep = max(self._buffers.keep - 1, 1)
        if self._widen[0] > 1 or self._widen[2]:
            self._buffers.narrow()
            self._scratch.narrow()

    def warm(self) -> None:
        """Parse the file's symbols now, in the caller's thread (load_windowed's, while its
        decode thread walks the first window, which would parse them: ~10 ms of the time to
        the first window, the rebuild waiting).  A failure is left for the decode to meet
        again, and report as its own."""
        if self.latency:
            return
        with contextlib.suppress(Exception):
            _once(self.c, "kallsyms", parse_kallsyms)

    def resize(self, window_records: int) -> None:
        """Windows of about ``window_records`` records (before the first window is cut)."""
        if self._cut_cache is not None:
            raise RuntimeError("resize() after the windows were cut")
        self.window_records = max(int(window_records), 1)

    def widen(self, factor: int, last: int, halve: int = 0) -> None:
        """Make the windows ``factor`` times as long, all but the ``last`` ones (before the
        first window is cut), and the last ``halve`` of those half as long (two windows each).
        Each window costs the two threads of ``fgraph.pipeline`` ~1 ms
        beside its records (the decode's and the rebuild's Python, the hand-over): 2^15-record
        windows took ~0.15 s more than 2^16 on fsync_x50 (10.2M records), 2^17 ~0.04 s less,
        2^18 no less still.  The read's peak RSS comes in the last windows (the calls are the
        most then), which stay as long as they were: unchanged at 10.2M records (474 MB), 2-5
        MB more on the smaller benchmark files, where windows of 2^17 all through took ~8 MB
        more at 10.2M records (bench/RESULTS.md, session 8).  At the very end two windows of
        records are alive beside the most calls: halving the last few windows makes them half
        as big there (the recycler lets the longer windows' sets go: ``fewer_buffers``), ~8 MB
        less peak RSS (bench/RESULTS.md, session 9)."""
        if self._cut_cache is not None:
            raise RuntimeError("widen() after the windows were cut")
        self._widen = (max(int(factor), 1), max(int(last), 0), max(int(halve), 0))

    def _cuts(self) -> np.ndarray:
        """The window bounds (computed once)."""
        if self._cut_cache is not None:
            return self._cut_cache
        bounds = self._bounds()
        last = self._ts_max  # the latest raw page stamp
        first = min((int(cur.page_ts[0]) for cur in self.cursors if len(cur.page_ts)), default=0)
        if self._ts_of_raw(last) < 0 or self._ts_of_raw(first) < 0:
            # times beyond 2^63 ns, or before 0 (a negative OFFSET option), are no times (the
            # rebuild keeps such records in reader order): cutting by time would not be the
            # whole file's order, so one window (the OFFSET is added to every raw time, so the
            # first and the last page tell)
            bounds = bounds[:0]
        self._cut_cache = bounds
        return bounds

    def _bounds(self) -> np.ndarray:
        """Raw-clock times that cut the trace into windows of about ``window_records``."""
        if not self.cursors:
            return np.empty(0, np.uint64)
        allts = np.sort(np.concatenate([cur.page_ts for cur in self.cursors]))
        npages = len(allts)
        per_page = max(self.records / max(npages, 1), 1.0)
        step = max(int(self.window_records / per_page), 1)
        factor, last, halve = self._widen
        halve = min(halve, last)
        # (a grid of half windows when the very last ones are halved: widen)
        sub = 2 if halve and step >= 2 else 1
        grid = step // sub
        cuts = unique(allts[grid::grid])
        cuts = cuts[cuts > allts[0]] if len(cuts) else cuts
        if sub == 2:
            # every other cut of the grid, but in the last ``halve`` windows
            cuts = _thin(cuts, 2, 2 * halve)
            last += halve  # (the halved windows are twice as many)
        return _thin(cuts, factor, last)

    def windows(
        self,
        defer_order: bool = False,
        sparse_funcgraph: bool = False,
        skip: frozenset[str] = frozenset(),
    ) -> Iterator[tuple[EventTable, Any, np.ndarray]]:
        """``(window table, its timeline order, row ids)`` for each window in time order (the
        order None: the rebuild's merge order decides).  ``defer_order``: the order comes as a
        function that makes it, for the consumer to call (load_windowed: in its own thread).
        ``sparse_funcgraph``: the funcgraph rows' ``flags``, ``preempt``, ``event``, ``pos`` and
        ``overrun`` hold anything (``_decode``; load_windowed: its rebuild reads none of them),
        and with it the funcgraph columns in ``skip`` (``module``, ``retval``: load_windowed's
        when its caller builds no such call column).

        A window's arrays are used again by a later window once nothing holds them any more
        (``_Recycler``): a window kept, or a view of one of its columns, stays as it is."""
        if self.latency:
            table = _latency(self.c, self.meta, self.source)
            self.strings = table.strings
            n = len(table)
            yield table, np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)
            return
        bounds = self._cuts()
        seen: set[tuple[str, str]] = set()
        try:
            for j in range(len(bounds) + 1):
                hi = None if j == len(bounds) else int(bounds[j])
                table, row_id, runs = self._window(hi, seen, sparse_funcgraph, skip)
                if defer_order:
                    yield table, functools.partial(_timeline_order, table["ts"], runs), row_id
                else:
                    yield table, _timeline_order(table["ts"], runs), row_id
                del table, row_id, runs
        finally:
            # (the sets the windows' holders still hold go with them)
            self._buffers.clear()
            self._scratch.clear()
        self._settle_warnings()

    def _settle_warnings(self) -> None:
        """Once every window is read, the warnings of ``parse_tracedat`` in its order: the
        container's, then blob after blob its problems and one damaged-page warning (counted
        over all its windows), then the decode's, each said once with its record counts summed
        over the windows."""
        meta = self.meta
        decode = meta.warnings[self._nblob :]
        del meta.warnings[self._nhead :]
        for cur in self.cursors:
            for what, off, lost in cur.blob.problems:
                meta.warn(what, where=f"{self.source.name} at byte {off:#x}", lost=lost)
            if cur.bad_status:
                status = np.concatenate(cur.bad_status)
                nb = len(status)
                bad: dict[str, np.ndarray] = {
                    "first": np.zeros(nb, np.int64),
                    "nrec": np.zeros(nb, np.int32),
                    "missed": np.zeros(nb, np.int64),
                    "status": status,
                    "bad_at": np.concatenate(cur.bad_at),
                }
                _page_events(cur.blob, bad, 0, 0, cur.page_size, [], meta, self.c)
        # _decode's "N record(s) with an event id that has no format": one warning whose N
        # counts the whole file, where each window said its own N
        merged: dict[tuple[str, str], int] = {}
        # and in _decode's order, which a window without funcgraph records (no kallsyms
        # warning) does not give: the kallsyms one, then the unreadable formats, then the ids
        decode.sort(key=_decode_rank)
        for w_ in decode:
            m = _UNKNOWN_IDS.match(w_.what)
            if m is None:
                meta.warnings.append(w_)
                continue
            key = (m.group(2), w_.where)
            if key in merged:
                old = meta.warnings[merged[key]]
                n = int(_UNKNOWN_IDS.match(old.what).group(1)) + int(m.group(1))  # type: ignore[union-attr]
                meta.warnings[merged[key]] = dataclasses.replace(old, what=f"{n} {key[0]}")
            else:
                merged[key] = len(meta.warnings)
                meta.warnings.append(w_)

    def _ts_of_raw(self, raw: int) -> int:
        """A raw page time in the records' unit (TSC2NSEC and offsets applied), as int64."""
        return int(_timestamps(np.array([raw], np.uint64), self.c)[0])

    def _window(
        self,
        hi: int | None,
        seen: set[tuple[str, str]],
        sparse: bool = False,
        skip: frozenset[str] = frozenset(),
    ) -> tuple[EventTable, np.ndarray, np.ndarray]:
        """Decode the records before raw time ``hi`` (all the rest when None): on every CPU,
        the records held back from the previous window and those of the pages that start
        before ``hi``; records at or after ``hi`` are held back (undecoded) for the next.
        Returns (table, row ids, the first row of each CPU's records and the row count)."""
        c, meta = self.c, self.meta
        # per CPU with records in the window: (cursor, pieces of its held records, row id of
        # the first)
        parts: list[tuple[_Cursor, list[dict[str, np.ndarray]], int]] = []
        lost_rows: list[dict[str, Any]] = []
        base = 0
        runs = [0]
        uhi = None if hi is None else np.uint64(hi)
        for cur in self.cursors:
            # (searched with a uint64: a Python int made numpy cast the CPU's page stamps to
            # float64 first, every window)
            stop = cur.npages if uhi is None else int(cur.page_ts.searchsorted(uhi, "left"))
            stop = max(stop, cur.next_page)
            if stop > cur.next_page:
                self._walk(cur, stop)
            held = cur.held
            if not held and not cur.pending_lost:
                continue
            # (no records left but gaps waiting: they still go out with the last window)
            n = sum(len(ch["ts"]) for ch in held)
            if uhi is None:
                k = n
            else:
                # k = 1 + the last record before the bound.  Per piece: a lower-bound search
                # (numpy's binary search leaves ts[kc - 1] < hi <= ts[kc]), unless time went
                # back inside the CPU's records (garbled, or clock jumps) and a later record is
                # still before the bound: then the last such one.
                k = off = 0
                for ch in held:
                    ts = ch["ts"]
                    kc = int(np.searchsorted(ts, uhi, "left"))
                    if kc < len(ts) and (ts[kc:] < uhi).any():
                        kc = int(np.flatnonzero(ts < uhi).max(initial=-1)) + 1
                    if kc:
                        k = off + kc
                    off += len(ts)
            lo_row = cur.next_row - n  # blob index of the first held record
            take: list[dict[str, np.ndarray]] = []
            rest: list[dict[str, np.ndarray]] = []
            off = 0
            for ch in held:
                m = len(ch["ts"])
                cut = min(max(k - off, 0), m)
                if cut:
                    take.append(ch if cut == m else {key: v[:cut] for key, v in ch.items()})
                if cut < m:
                    rest.append(ch if cut == 0 else {key: v[cut:] for key, v in ch.items()})
                off += m
            if k:
                parts.append((cur, take, (cur.index << ROW_SHIFT) + lo_row))
            # gaps before a record of this window (blob index < lo_row + k); the others wait
            keep_lost = []
            for r in cur.pending_lost:
                bi = r.pop("brow")
                if bi < lo_row + k:
                    r["row"] = base + max(bi - lo_row, 0)
                    lost_rows.append(r)
                elif hi is None:
                    r["row"] = -1  # after the CPU's last record
                    lost_rows.append(r)
                else:
                    r["brow"] = bi
                    keep_lost.append(r)
            cur.pending_lost = keep_lost
            if len(rest) > 8:  # a CPU held back window after window: keep the list short
                rest = [{key: np.concatenate([ch[key] for ch in rest]) for key in rest[0]}]
            cur.held = rest
            base += k
            if k:
                runs.append(base)
        # the window's records, CPU after CPU: decoded from the walks' arrays (ringbuf.assemble
        # reads them piece by piece; no window-sized copy of them is made)
        pieces: list[Piece] = []
        for cur, take, id0 in parts:
            at = 0
            for ch in take:
                pieces.append(
                    (
                        ch["data"],
                        ch["len"],
                        ch["ts"],
                        ch["pos"],
                        cur.blob.cpu,
                        cur.blob.buf_index,
                        id0 + at,
                    )
                )
                at += len(ch["ts"])
            if self.store is not None and take:
                # per CPU: its records lie in one blob, in its page order
                lo = min(int(ch["data"].min()) for ch in take)
                hi = max(int((ch["data"] + ch["len"]).max()) for ch in take)
                self.store.ensure(lo, hi)
        del parts
        # the window's arrays: its table's columns and row ids from a set of arrays of an
        # earlier window, the decode's own scratch arrays (named with a leading blank) from
        # another, one set of which is enough
        cols = self._buffers.get(base)
        alloc = functools.partial(_take, cols, self._scratch.get(base))
        ids = cols.take("ids", base, np.dtype(np.int64))
        nwarn = len(meta.warnings)
        with decode_errors(self.source.name):
            table = _decode(
                c,
                meta,
                self.formats,
                self.mem,
                pieces,
                self.strings,
                ids,
                alloc=alloc,
                sparse_funcgraph=sparse,
                skip=skip,
            )
        del alloc, cols
        del pieces
        # the same warning from every window is said once
        fresh = []
        for w_ in meta.warnings[nwarn:]:
            key2 = (w_.what, w_.where)
            if key2 not in seen or _UNKNOWN_IDS.match(w_.what):  # (counts summed later)
                seen.add(key2)
                fresh.append(w_)
        del meta.warnings[nwarn:]
        meta.warnings.extend(fresh)
        table.lost = _lost_table(lost_rows, table)
        self._release()
        return table, ids, np.array(runs, np.int64)

    def _walk(self, cur: _Cursor, stop: int) -> None:
        """Walk the cursor's pages up to ``stop`` and append their records to its held ones
        (raw: offsets, lengths, timestamps; decoded only when their window comes)."""
        c, meta = self.c, self.meta
        b = cur.blob
        # Garbled pages are judged against their neighbours (drop_disordered_pages): walk a few
        # pages of context on each side so a page at a window edge is judged as in the whole
        # walk, then keep the window's own pages.
        lo_ctx = min(CONTEXT_PAGES, cur.next_page)
        hi_ctx = min(CONTEXT_PAGES, cur.npages - stop)
        first_page = cur.next_page - lo_ctx
        start = first_page * cur.page_size
        length = min((stop + hi_ctx) * cur.page_size, b.length) - start
        sub = dataclasses.replace(
            b,
            start=b.start + start,
            length=length,
            problems=[],
            file_offset=b.file_offset if b.compressed else b.file_offset + start,
        )
        self._ensure(sub.start, sub.start + sub.length)
        # records expected, from the CPU's records per page so far (the sample before the
        # first walk), with a margin: one walk when they fit (ringbuf.c)
        rate = cur.next_row / cur.next_page if cur.next_page else cur.sample_rate
        hint = int(rate * 1.25 * -(-length // cur.page_size)) + 1024
        w = walk(
            self.mem_obj,
            sub,
            cur.page_size,
            self.data_start,
            self.long_size,
            c.big_endian,
            hint=hint,
        )
        drop_disordered_pages(w)
        npg = len(w["first"])
        keep_hi = min(max(stop - first_page, lo_ctx), npg)
        r0 = int(w["first"][lo_ctx]) if lo_ctx < npg else len(w["data"])
        r1 = int(w["first"][keep_hi]) if keep_hi < npg else len(w["data"])
        for k in ("hdr", "data", "len", "ts"):
            w[k] = w[k][r0:r1]
        for k in ("first", "nrec", "missed", "status", "bad_at", "pts"):
            if k in w:
                w[k] = w[k][lo_ctx:keep_hi]
        w["first"] = w["first"] - r0
        n = len(w["data"])
        sub = dataclasses.replace(
            sub,
            start=sub.start + lo_ctx * cur.page_size,
            length=(keep_hi - lo_ctx) * cur.page_size,
            file_offset=sub.file_offset
            if b.compressed
            else sub.file_offset + lo_ctx * cur.page_size,
        )
        starts = sub.start + np.arange(len(w["first"]), dtype=np.int64) * cur.page_size
        w["bad_at"] = np.where(w["bad_at"] == -2, starts, w["bad_at"])
        page_lost: list[dict[str, Any]] = []
        nw = len(meta.warnings)
        _page_events(sub, w, 0, n, cur.page_size, page_lost, meta, c)
        # damaged pages are said once per blob, counted over all its windows (_settle_warnings)
        del meta.warnings[nw:]
        badp = np.flatnonzero(w["status"] != 0)
        if len(badp):
            cur.bad_status.append(w["status"][badp])
            cur.bad_at.append(w["bad_at"][badp])
        for r in page_lost:
            # blob index of the record the gap precedes (a flagged page at the end of the
            # walked range precedes the CPU's next record, walked later)
            r["brow"] = cur.next_row + (r["row"] if r["row"] >= 0 else n)
            cur.pending_lost.append(r)
        if n:
            cur.held.append(
                {
                    "data": w["data"],
                    "len": w["len"],
                    "ts": w["ts"],
                    "pos": _record_pos(sub, w, starts, cur.page_size),
                }
            )
        cur.next_row += n
        cur.next_page = stop

    def _ensure(self, lo: int, hi: int) -> None:
        """mem[lo:hi) is about to be read: decompress what of it is not resident, or map a
        mapped file's pages of it in one call (``populate_file_pages``)."""
        if self.store is not None:
            self.store.ensure(lo, hi)
        elif self.mem_obj is self.source.data:
            populate_file_pages(self.mem_obj, lo, hi)

    def _release(self) -> None:
        """Drop the file pages (or decompressed chunks) whose records are all decoded from the
        resident set (the mapping re-reads them, the store decompresses them, if touched
        again)."""
        data = self.source.data
        if self.store is not None:
            self.store.drop_file()  # and the compressed bytes read for them
        for cur in self.cursors:
            done = cur.blob.start + min(cur.next_page * cur.page_size, cur.blob.length)
            if cur.held:
                done = min(done, int(cur.held[0]["data"][0]))  # a held record's page stays
            if self.store is not None:
                # from the blob's start, but the context pages a next walk reads before its
                # range (_walk): their chunks would be decompressed again for it
                if cur.next_page < cur.npages:
                    ctx = cur.next_page - CONTEXT_PAGES
                    done = min(done, cur.blob.start + max(ctx, 0) * cur.page_size)
                self.store.release(cur.blob.start, done)
                continue
            if not isinstance(data, mmap.mmap) or self.mem_obj is not data:
                return
            a = -(-cur.released // mmap.PAGESIZE) * mmap.PAGESIZE
            z = done // mmap.PAGESIZE * mmap.PAGESIZE
            if z > a:
                try:
                    data.madvise(mmap.MADV_DONTNEED, a, z - a)
                except (OSError, ValueError, AttributeError):
                    return
                cur.released = z


def open_stream(source: Source, window_records: int = WINDOW_RECORDS) -> TraceDatStream:
    with decode_errors(source.name):
        return TraceDatStream(source, window_records)


__all__ = ["TraceDatStream", "open_stream", "WINDOW_RECORDS"]
