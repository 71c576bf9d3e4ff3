"""Per-CPU ring-buffer data: locate (and decompress) each CPU's pages, then walk them.

The page walk itself is C (``fgraph/_ext/ringbuf.c``, kbuffer semantics); this module feeds it
one CPU blob at a time and returns flat numpy arrays.  Uncompressed data is walked in place in
the file's buffer (an mmap, not copied); compressed v7 data (chunks of ``u32 csize, u32 usize,
bytes``, trace-output.c ``out_write_cpu_data``) is decompressed chunk by chunk into one
``bytearray`` shared by all CPUs of all buffers (``load_blobs``), or, for the windowed reader,
into a :class:`ChunkStore` of the same layout that holds the chunks being read and those
its first pass left in place (``load_lazy``).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._ext import inflate, pages  # type: ignore[attr-defined]
from ...errors import TraceParseError
from ...source import release_pages
from ._structs import decompress

PAGE_STATUS = {
    1: "commit size larger than the page (page skipped)",
    2: "an event runs past the page's commit (rest of page skipped)",
    3: "impossible event length (rest of page skipped)",
    4: "data ends inside the page (file truncated)",
    5: "page time stamps out of order with its neighbours by more than 1 s (page skipped)",
}

# A page whose records disagree with both neighbouring pages of the same CPU by more than this
# (raw clock units; 1 s for ns clocks) is taken as garbled: a CPU's pages are written in time
# order, and lost-event gaps only ever move time forward.
TIME_DISORDER = 1_000_000_000


def drop_disordered_pages(w: dict[str, np.ndarray], base_pos: int = 0) -> None:
    """Mark pages whose time stamps contradict both neighbours (status 5) and drop their records."""
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    # (one C pass; a page went back: earlier than the previous page, while the next page
    # continues after that one; or jumped forward: later than the next page, while the next
    # page continues after the previous)
    bad = ringbuf.disordered(
        np.ascontiguousarray(w["first"], np.int64),
        np.ascontiguousarray(w["nrec"], np.int32),
        np.ascontiguousarray(w["status"], np.int8),
        np.ascontiguousarray(w["ts"], np.uint64),
        float(TIME_DISORDER),
    )
    if not len(bad):
        return
    first, nrec, ts = w["first"], w["nrec"].astype(np.int64), w["ts"]
    keep = np.ones(len(ts), dtype=bool)
    for p in bad.tolist():  # per bad page
        keep[first[p] : first[p] + nrec[p]] = False
    for k in ("hdr", "data", "len", "ts"):
        w[k] = w[k][keep]
    nrec = nrec.copy()
    nrec[bad] = 0
    w["nrec"] = nrec.astype(np.int32)
    w["first"] = np.concatenate([[0], np.cumsum(nrec)[:-1]]).astype(np.int64)
    w["status"] = w["status"].copy()
    w["status"][bad] = 5
    w["bad_at"] = w["bad_at"].copy()
    w["bad_at"][bad] = -2  # filled by the caller with the page start


@dataclass
class Blob:
    """One CPU's data, located in ``mem`` (file buffer or decompressed store)."""

    buf_index: int
    cpu: int
    start: int  # offset in mem
    length: int
    chunk_ustart: np.ndarray = field(
        default_factory=lambda: np.zeros(1, np.int64)
    )  # offsets in mem
    chunk_fileoff: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    file_offset: int = 0  # where the blob starts in the file
    compressed: bool = False
    problems: list[tuple[str, int, int]] = field(default_factory=list)  # (what, file offset, lost)

    def file_pos(self, mem_off: np.ndarray) -> np.ndarray:
        """File offset for mem offsets: exact when uncompressed, the chunk's when compressed."""
        if not self.compressed:
            if self.start == self.file_offset:  # mem is the file itself: no copy
                return mem_off.astype(np.int64, copy=False)
            return mem_off.astype(np.int64) - self.start + self.file_offset
        k = np.searchsorted(self.chunk_ustart, mem_off, side="right") - 1
        return self.chunk_fileoff[np.clip(k, 0, len(self.chunk_fileoff) - 1)]


def _chunk_table(
    data: Any, off: int, size: int, e: str, path: str, fd: int | None = None
) -> tuple[list[tuple[int, int, int]], str | None]:
    """[(file offset of the chunk's bytes, csize, usize)] and a problem text if cut short.
    ``fd``: the file ``data`` maps, whose headers are then read with pread (``_file_of``)."""
    # The BUFFER option's size does not cover the chunk headers (observed with trace-cmd
    # 3.1.x: the last chunk always ends past offset+size), so bound by the file only.
    end = len(data)
    if off + 4 > end:
        return [], f"chunk count at {off} beyond the data"
    (n,) = struct.unpack_from(e + "I", data, off)
    p = off + 4
    chunks: list[tuple[int, int, int]] = []
    mark = off
    if n > (end - p) // 8 + 1:
        return [], f"implausible chunk count {n}"
    pair = struct.Struct(e + "II")
    for i in range(n):
        if p + 8 > end:
            return chunks, f"chunk {i} of {n} header truncated"
        cs, us = pair.unpack(os.pread(fd, 8, p)) if fd is not None else pair.unpack_from(data, p)
        if p + 8 + cs > end:
            return chunks, f"chunk {i} of {n} ({cs} bytes) runs past the data"
        if us > (1 << 28):
            return chunks, f"chunk {i} of {n}: implausible size {us}"
        chunks.append((p + 8, cs, us))
        p += 8 + cs
        if i % 256 == 255 and fd is None:
            # the headers are spread over the whole blob: give back the file pages read for
            # them as we go (a mapped file's touched pages count in the resident set)
            release_pages(data, mark, p - FAULT_AROUND)
            mark = p - FAULT_AROUND
    release_pages(data, mark, p + FAULT_AROUND)
    return chunks, None


def _file_of(data: Any, path: str) -> int | None:
    """A descriptor of the file ``data`` maps, to read the chunk headers with pread: read
    through the mapping, the ~10k headers of a 92 MB zstd capture (one every 9 KB) faulted its
    pages in, 30-88 ms, against 14-16 ms with pread, which maps nothing.  None: not a mapped
    file (or not the one at ``path`` any more)."""
    if not isinstance(data, mmap.mmap) or not os.path.isfile(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    if os.fstat(fd).st_size != len(data):
        os.close(fd)
        return None
    return fd


def load_blobs(container: Any, data: Any) -> tuple[Any, list[Blob]]:
    """Locate every CPU blob of every ring-buffer instance; returns (mem, blobs)."""
    c = container
    blobs: list[Blob] = []
    if c.compression == "none":
        for bi, b in enumerate(c.buffers):
            if b.latency_text is not None:
                continue
            for cb in b.cpus:
                if cb.size == 0:
                    continue
                start = min(cb.offset, len(data))
                length = max(0, min(cb.size, len(data) - start))
                blob = Blob(bi, cb.cpu, start, length, file_offset=start)
                if length < cb.size:
                    blob.problems.append(
                        (
                            f"buffer {b.name!r} CPU {cb.cpu}: data truncated ({length} of {cb.size} bytes present)",
                            cb.offset + length,
                            -1,
                        )
                    )
                blobs.append(blob)
        return data, blobs
    plans, total = _plans(c, data)
    mem = bytearray(total)
    mv = memoryview(mem)
    pos = 0
    inflater = _Inflater(c, data)
    for bi, cb, chunks, problem in plans:
        blob = Blob(bi, cb.cpu, pos, 0, file_offset=cb.offset, compressed=True)
        ustart, fileoff = [], []
        for fo, _cs, us, out in _inflated(c, inflater, blob, chunks):
            mv[pos : pos + us] = out
            ustart.append(pos)
            fileoff.append(fo - 8)
            pos += us
        if blob.problems:  # a chunk was unreadable: that says what was lost
            problem = None
        _close_blob(c, blob, cb, problem, pos, ustart, fileoff)
        blobs.append(blob)
    return mem, blobs


def _inflated(
    c: Any,
    inflater: Any,
    blob: Blob,
    chunks: list[tuple[int, int, int]],
    first: int = 0,
    of: int | None = None,
) -> Iterator[tuple[int, int, int, bytes]]:
    """Each chunk of a blob decompressed: (file offset, compressed size, size, bytes), in
    order.  At an unreadable chunk the blob's problems say so, and it and the chunks after it
    are lost (nothing more is yielded).  ``chunks`` may be a piece of the blob's: its first is
    the blob's chunk ``first`` of ``of``."""
    n = len(chunks) if of is None else of
    for i, (fo, cs, us) in enumerate(chunks, first):
        try:
            out = inflater(fo, cs, us)
        except Exception as exc:  # TraceParseError, zstandard.ZstdError
            blob.problems.append(_chunk_lost(c, blob.buf_index, blob.cpu, i, n, exc, fo))
            return
        yield fo, cs, us, out


def _plans(
    c: Any, data: Any
) -> tuple[list[tuple[int, Any, list[tuple[int, int, int]], str | None]], int]:
    """Each compressed CPU blob's chunk table (and the problem that cut it short), and the
    decompressed size of them all."""
    plans = []
    total = 0
    fd = _file_of(data, c.path)
    try:
        for bi, b in enumerate(c.buffers):
            if b.latency_text is not None:
                continue
            for cb in b.cpus:
                if cb.size == 0:
                    continue
                chunks, problem = _chunk_table(data, cb.offset, cb.size, c.endian, c.path, fd)
                plans.append((bi, cb, chunks, problem))
                total += sum(us for _, _, us in chunks)
    finally:
        if fd is not None:
            os.close(fd)
    return plans, total


class _Inflater:
    """Decompress one v7 data chunk (``fo``: file offset of its bytes, after the 8-byte
    header); raises TraceParseError (or zstandard.ZstdError) when it is unreadable."""

    def __init__(self, c: Any, data: Any) -> None:
        self.c, self.data = c, data
        self.zd: Any = None
        if c.compression == "zstd":
            import zstandard

            self.zd = zstandard.ZstdDecompressor()  # one context for every chunk

    def __call__(self, fo: int, cs: int, us: int) -> bytes:
        c, data = self.c, self.data
        if self.zd is None:
            return decompress(c.compression, data[fo : fo + cs], us, c.path, fo - 8, "data chunk")
        out = self.zd.decompress(bytes(data[fo : fo + cs]), max_output_size=max(us, 1))
        if len(out) != us:
            raise TraceParseError(
                f"chunk decompressed to {len(out)} bytes, header says {us}",
                path=c.path,
                offset=fo - 8,
            )
        return out  # type: ignore[no-any-return]


# fgraph/_ext/inflate.c's codec numbers
_C_CODECS = {"zstd": 1, "zlib": 2}


def c_codec(c: Any) -> int:
    """The codec number of ``inflate.scan`` for the container's compression, 0 when its C
    loop cannot run here (no codec library, or ``FGRAPH_PY_INFLATE`` set: the Python path,
    for tests and measurements)."""
    code = _C_CODECS.get(c.compression, 0)
    if not code or os.environ.get("FGRAPH_PY_INFLATE"):
        return 0
    return code if inflate.available(code) else 0


def _chunk_lost(
    c: Any, bi: int, cpu: int, i: int, n: int, exc: Exception, fo: int
) -> tuple[str, int, int]:
    """The problem an unreadable chunk makes: it and the rest of its CPU's data are lost."""
    name = c.buffers[bi].name
    if isinstance(exc, TraceParseError):
        what = f"chunk {i} of {n} unreadable ({exc.message}); its events and the following chunks' are lost"
    else:  # zstandard.ZstdError
        what = f"chunk {i} of {n} unreadable ({exc}); it and the following chunks are lost"
    return (f"buffer {name!r} CPU {cpu}: {what}", fo - 8, -1)


def _close_blob(
    c: Any,
    blob: Blob,
    cb: Any,
    problem: str | None,
    pos: int,
    ustart: list[int],
    fileoff: list[int],
) -> None:
    if problem:
        blob.problems.append(
            (f"buffer {c.buffers[blob.buf_index].name!r} CPU {cb.cpu}: {problem}", cb.offset, -1)
        )
    blob.length = pos - blob.start
    blob.chunk_ustart = np.array(ustart or [blob.start], dtype=np.int64)
    blob.chunk_fileoff = np.array(fileoff or [cb.offset], dtype=np.int64)


class ChunkStore:
    """Compressed v7 CPU data decompressed on demand, for the windowed reader.

    Laid out as ``load_blobs``'s bytearray (every chunk at the same offset, so blob starts,
    record offsets and file positions are the same), but in an anonymous private mapping
    whose chunks are decompressed into place only when a reader asks for them (``ensure``)
    and handed back to the kernel when the windows have passed them (``release``:
    ``madvise(MADV_DONTNEED)``, after which a private anonymous page reads as zeros).  So
    every read of ``mem`` must be preceded by an ``ensure`` of its range: the ``resident``
    flags, not the release policy, keep the reads right.
    """

    def __init__(
        self,
        c: Any,
        data: Any,
        mem: mmap.mmap,
        rows: list[tuple[int, int, int, int]],
        resident: np.ndarray | None = None,
    ):
        self.c = c
        self.data = data
        self.mem = mem  # (_anon_mem)
        self.view = np.frombuffer(mem, np.uint8)
        self.inflate = _Inflater(c, data)
        self.codec = c_codec(c)
        # the readable chunks in mem order (the chunks of every blob, blob after blob):
        # offset in mem, decompressed size, file offset of the compressed bytes, their size
        a = np.array(rows, dtype=np.int64).reshape(-1, 4)
        self.ustart, self.usize, self.fo, self.csize = (a[:, i].copy() for i in range(4))
        self.uend = self.ustart + self.usize
        # chunks load_lazy decompressed into place and left there (its first pass)
        self.resident = np.zeros(len(a), bool) if resident is None else resident
        self.decompressed = 0  # chunks decompressed into mem since (for tests and bench/)

    def _load(self, k: int) -> None:
        fo, cs, us = int(self.fo[k]), int(self.csize[k]), int(self.usize[k])
        try:
            out = self.inflate(fo, cs, us)
        except TraceParseError:
            raise
        except Exception as exc:  # zstandard.ZstdError; it read fine in load_lazy
            raise TraceParseError(
                f"data chunk no longer decompresses ({exc})", path=self.c.path, offset=fo - 8
            ) from None
        a = int(self.ustart[k])
        self.mem[a : a + us] = out
        self.resident[k] = True
        self.decompressed += 1

    def ensure(self, lo: int, hi: int) -> None:
        """Make mem[lo:hi) hold its data."""
        if hi <= lo or not len(self.ustart):
            return
        k0 = int(np.searchsorted(self.uend, lo, "right"))  # the first chunk ending after lo
        k1 = int(np.searchsorted(self.ustart, hi, "left"))  # and those starting before hi
        todo = (k0 + np.flatnonzero(~self.resident[k0:k1])).tolist()
        if len(todo) > 1:
            # their pages mapped in one call, not a fault at a time as each chunk is copied in
            # (no byte changes: a page already there stays as it is)
            pages.populate_write(self.view[int(self.ustart[todo[0]]) : int(self.uend[todo[-1]])])
        if self.codec and todo:
            todo = self._load_runs(np.array(todo, np.int64))
        for k in todo:  # per chunk
            self._load(k)

    def _runs(self, ks: np.ndarray) -> list[np.ndarray]:
        """The chunks ``ks`` (sorted) in runs of consecutive chunks adjacent in mem."""
        cut = np.flatnonzero((np.diff(ks) != 1) | (self.ustart[ks[1:]] != self.uend[ks[:-1]]))
        return np.split(ks, cut + 1)

    def _load_runs(self, ks: np.ndarray) -> list[int]:
        """Decompress the chunks ``ks`` in C (``inflate.scan``), a run of chunks adjacent in
        mem at a time, into place, the GIL let go; the chunks left for ``_load`` (from one
        that did not decompress: it says why).  The chunks past ``KEEP_BYTES`` are
        decompressed here a second time: the real capture with 100 MB kept (3/4 of its
        chunks read twice), ``hist`` 2.96 -> 2.40 s (medians of 5)."""
        for run in self._runs(ks):  # per run of chunks
            a, z = int(self.ustart[run[0]]), int(self.uend[run[-1]])
            table = np.stack([self.fo[run], self.csize[run], self.usize[run]], axis=1)
            # (a page size past the run: no page heads are taken)
            done, _kept, _heads = inflate.scan(
                self.codec, self.data, table, self.view[a:z], 1 << 62, 0, 0
            )
            self.resident[run[:done]] = True
            self.decompressed += done
            if done < len(run):
                return ks[ks >= run[done]].tolist()
        return []

    def release(self, lo: int, hi: int, skip: np.ndarray | None = None) -> None:
        """Drop the resident chunks that lie wholly in mem[lo:hi) (decompressed again if
        asked for later), but those ``skip`` flags.  Only memory pages wholly inside dropped
        chunks are given back, so a page shared with a chunk that stays resident keeps its
        bytes."""
        if hi <= lo or not len(self.ustart):
            return
        k0 = int(np.searchsorted(self.ustart, lo, "left"))
        k1 = int(np.searchsorted(self.uend, hi, "right"))
        if k1 <= k0:
            return
        flags = self.resident[k0:k1] if skip is None else self.resident[k0:k1] & ~skip[k0:k1]
        ks = k0 + np.flatnonzero(flags)
        if not len(ks):
            return
        self.resident[ks] = False
        pg = mmap.PAGESIZE
        for run in self._runs(ks):  # one madvise per run of chunks
            a = -(-int(self.ustart[run[0]]) // pg) * pg
            z = int(self.uend[run[-1]]) // pg * pg
            if z > a:
                with contextlib.suppress(OSError, ValueError):
                    self.mem.madvise(mmap.MADV_DONTNEED, a, z - a)

    def release_all(self, skip: np.ndarray | None = None) -> None:
        """Drop every resident chunk (but those ``skip`` flags) and the compressed file's
        pages."""
        self.release(0, len(self.mem), skip)
        self.drop_file()

    def drop_file(self) -> None:
        """Give back the compressed file's pages read so far.  The whole file, not the
        chunks read: a page fault maps the file's cached pages around the one asked for too
        (fault-around, 64 KB), and those pages would stay in the resident set."""
        release_pages(self.data, 0, len(self.data))

    @property
    def resident_chunks(self) -> int:
        return int(self.resident.sum())


DROP_EVERY = 1 << 20  # compressed bytes read by load_lazy between two release_pages

# bytes of a mapped file's cached pages a page fault maps around the page asked for
# (mm/memory.c do_fault_around, /sys/kernel/mm/transparent_hugepage/../fault_around_bytes)
FAULT_AROUND = 1 << 16


# madvise(MADV_POPULATE_READ): map a range's pages in one call (Linux 5.14+; Python 3.12
# names the constant, 22 in include/uapi/asm-generic/mman-common.h); None elsewhere
MADV_POPULATE_READ: int | None = getattr(
    mmap, "MADV_POPULATE_READ", 22 if sys.platform.startswith("linux") else None
)


def populate_file_pages(data: Any, lo: int, hi: int) -> None:
    """Map the pages of a mapped file's [lo, hi) that is about to be read, in one call: the
    page walk took a fault per 64 KB (FAULT_AROUND), ~1/3 of its time (fsync_x50, 10.2M
    records: ringbuf.walk 0.18 -> 0.12 s with the call).  Only what the read touches anyway
    (no more resident pages); a kernel without it says EINVAL and the faults map them."""
    if not isinstance(data, mmap.mmap) or MADV_POPULATE_READ is None:
        return
    a = max(lo, 0) // mmap.PAGESIZE * mmap.PAGESIZE
    hi = min(hi, len(data))
    if hi > a:
        # (EFAULT/EIO: a page beyond the file's end, an unreadable one: the read meets it as
        # it would have)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data.madvise(MADV_POPULATE_READ, a, hi - a)


def on_two_threads(items: list[Any], fn: Callable[[Any], None], name: str) -> None:
    """``fn(item)`` for every item, on this thread and a second one (``name``), each taking
    the next item left; the first exception either raises is raised here, once both have
    stopped (for work that lets the GIL go: decompression, page faults, numpy copies)."""
    todo = list(items)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    item = todo.pop(0)
                fn(item)
        except BaseException as exc:  # (raised in the caller's thread, below)
            errors.append(exc)

    t = threading.Thread(target=work, name=name)
    t.start()
    try:
        work()
    finally:
        t.join()
    if errors:
        raise errors[0]


# compressed bytes from which load_lazy scans the blobs in two threads (the decompression
# releases the GIL): below, one thread costs less than starting another
PARALLEL_SCAN_BYTES = 1 << 24

# a blob of more decompressed bytes than this is scanned by load_lazy in pieces of about this
# size, which its two threads share: a trace whose data is mostly one CPU's (a busy task, the
# rest idle) had that CPU's blob scanned by one thread while the other waited (fsync_x100 zstd,
# 474 + 226 MB of data: the first pass 1.19-1.52 -> 1.01-1.21 s, hist 4.28 -> 3.83 s, medians
# of 3; the real capture's two equal blobs: the same)
PIECE_BYTES = 1 << 26

# decompressed bytes load_lazy's first pass leaves in place for the windows (the earliest of
# each CPU's data, the same share of every blob): those chunks are decompressed once, the
# rest twice.  The windows give the chunks back as they pass them while the calls they
# rebuild grow, so the read's peak is about the larger of the two: the calls, on a big file
# (~47 B of calls per record against ~35 B of data).  fsync_x100 zstd, 705 MB of data: 512 MB
# kept 4.11 s, all of it 3.44 s, the same peak RSS (900 / 898 MB); see load_lazy.
KEEP_BYTES = 1 << 30


def _anon_mem(total: int) -> mmap.mmap:
    """The store's memory: a private anonymous mapping (a shared one would keep the pages
    given back with DONTNEED in its shmem object, and in the resident set)."""
    try:
        return mmap.mmap(-1, max(total, 1), flags=mmap.MAP_PRIVATE)
    except OSError as exc:  # ENOMEM: as bytearray(total) would say (decode_errors)
        raise MemoryError(f"{total} bytes of decompressed data: {exc.strerror}") from None


def load_lazy(
    container: Any, data: Any, page_size_of: Callable[[int], int], keep: int | None = None
) -> tuple[ChunkStore, list[Blob], list[np.ndarray]]:
    """``load_blobs`` for compressed data, into a :class:`ChunkStore`: (store, blobs, page
    heads).  Every chunk is decompressed once here, to find the unreadable ones (the blobs
    and their problems are ``load_blobs``'s) and to take the first 8 bytes of every page (the
    page's timestamp; ``page_size_of(buffer index)``): heads[i] is a (pages, 8) uint8 array
    of blobs[i]'s whole pages.

    Of what it decompresses, up to ``keep`` bytes (``KEEP_BYTES``) stay in the store,
    resident: the first chunks of every blob, the same share of each (the data the windows
    read first).  The other chunks keep nothing but their page heads and are decompressed
    again when a window reads them.  When a chunk was unreadable the blobs after it move:
    nothing is kept then.  On the real 2-CPU capture (409 MB of data in 92 MB of zstd, all of
    it kept) ``fgraph hist`` took 2.66 -> 2.16 s (medians of 5; the decode thread no longer
    decompresses), and its peak RSS went 532 -> 546 MB: the windows drop the store's chunks
    as they pass them while the calls grow, so the peak stays near the end's (on a smaller
    file, 89 MB of data, 161 -> 181 MB: there the store outweighs the calls).  The pages of
    the kept share are mapped before the copies, in one call without the GIL
    (``pages.populate_write``): this pass took 0.59-0.69 s faulting them in a page at a time,
    0.56-0.66 s with Python's ``mmap.madvise`` (the other scan thread waits for the GIL it
    holds), 0.42-0.49 s so.

    The blobs are scanned each on its own (offsets from the blob's start), a big one in
    pieces (``PIECE_BYTES``), in two threads when there are several pieces and enough
    compressed bytes (``PARALLEL_SCAN_BYTES``: a real 2-CPU capture of 409 MB in 92 MB of
    zstd, 0.50 -> 0.29 s before the first window), then laid out one after the other as
    ``load_blobs`` does."""
    c = container
    plans, total = _plans(c, data)
    mem = _anon_mem(total)
    store_view = np.frombuffer(mem, np.uint8)
    # where each blob lies when every chunk reads (the layout below), and the bytes of its
    # first chunks kept there
    sizes = [sum(us for _, _, us in chunks) for _, _, chunks, _ in plans]
    at = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
    keep = KEEP_BYTES if keep is None else keep
    share = min(max(keep, 0) / total, 1.0) if total else 0.0

    # the blobs' pieces: (blob, first chunk, end chunk, offset in the blob, bytes)
    jobs = [
        (i, c0, c1, off, n)
        for i, (bi, _cb, chunks, _p) in enumerate(plans)
        for c0, c1, off, n in _pieces(chunks, page_size_of(bi), PIECE_BYTES)
    ]
    done: dict[tuple[int, int], _BlobScan] = {}

    def scan(j: int) -> None:
        i, c0, c1, off, n = jobs[j]
        bi, cb, chunks, _problem = plans[i]
        sink = store_view[at[i] : at[i] + int(sizes[i] * share)][off : off + n]
        done[i, c0] = _scan_blob(
            c, data, bi, cb, chunks[c0:c1], page_size_of(bi), sink, c0, len(chunks)
        )

    compressed = sum(cs for _, _, chunks, _ in plans for _, cs, _ in chunks)
    # (the biggest pieces first, each thread taking the next one left)
    todo = sorted(range(len(jobs)), key=lambda j: -jobs[j][4])
    if len(jobs) >= 2 and compressed >= PARALLEL_SCAN_BYTES:
        on_two_threads(todo, scan, "fgraph-inflate")
    else:
        for j in todo:
            scan(j)
    # each blob's pieces joined
    scans = [
        _joined([done[i, c0] for ii, c0, _, _, _ in jobs if ii == i]) for i in range(len(plans))
    ]
    rows: list[tuple[int, int, int, int]] = []
    blobs: list[Blob] = []
    heads: list[np.ndarray] = []
    pos = 0
    for (_bi, cb, _chunks, problem), sc in zip(plans, scans):
        blob = sc.blob
        blob.start = pos
        rows.extend((pos + u, us, fo, cs) for u, us, fo, cs in sc.rows)
        end = pos + sc.length
        if blob.problems:  # a chunk was unreadable: that says what was lost
            problem = None
        _close_blob(c, blob, cb, problem, end, [pos + u for u, _, _, _ in sc.rows], sc.fileoff)
        heads.append(sc.head)
        blobs.append(blob)
        pos = end
    resident = np.zeros(len(rows), bool)
    if pos == total:  # (every chunk read: the blobs lie where they were kept)
        k = 0
        for sc in scans:
            resident[k : k + sc.kept] = True
            k += len(sc.rows)
    else:
        with contextlib.suppress(OSError, ValueError):
            mem.madvise(mmap.MADV_DONTNEED, 0, len(mem))
    return ChunkStore(c, data, mem, rows, resident), blobs, heads


@dataclass
class _BlobScan:
    """One compressed blob decompressed once by load_lazy, offsets from the blob's start."""

    blob: Blob
    rows: list[tuple[int, int, int, int]]  # per chunk: (offset, size, file offset, bytes)
    fileoff: list[int]  # per chunk: its header's file offset
    length: int  # decompressed bytes read
    head: np.ndarray  # (whole pages, 8): each page's first 8 bytes
    kept: int  # its first chunks, copied into the sink


def _pieces(
    chunks: list[tuple[int, int, int]], ps: int, piece: int
) -> list[tuple[int, int, int, int]]:
    """A blob's pieces for the scan: (first chunk, end chunk, offset in the blob, bytes), cut
    every ``piece`` bytes or so where a chunk starts on a page (so no page head lies across
    two pieces; trace-cmd's chunks are whole pages)."""
    out = []
    c0 = off0 = off = 0
    for k, (_fo, _cs, us) in enumerate(chunks):
        if k > c0 and off - off0 >= piece and off % ps == 0:
            out.append((c0, k, off0, off - off0))
            c0, off0 = k, off
        off += us
    out.append((c0, len(chunks), off0, off - off0))
    return out


def _joined(parts: list[_BlobScan]) -> _BlobScan:
    """One blob's scan from its pieces' (in order; each piece's offsets from its start).  The
    pieces after one with an unreadable chunk are dropped, as a scan of the whole blob stops
    there; the kept chunks stay a prefix of the blob's."""
    sc = parts[0]
    for p in parts[1:]:
        if sc.blob.problems:  # (an unreadable chunk: the rest of the blob is lost)
            break
        if sc.kept == len(sc.rows):  # (every chunk so far kept: the piece's kept ones follow)
            sc.kept += p.kept
        base = sc.length
        sc.rows.extend((u + base, us, fo, cs) for u, us, fo, cs in p.rows)
        sc.fileoff.extend(p.fileoff)
        sc.head = np.concatenate([sc.head, p.head])
        sc.length += p.length
        sc.blob.problems.extend(p.blob.problems)
    return sc


def _heads(buf: np.ndarray, base: int, head: int, end: int, ps: int, got: list[np.ndarray]) -> int:
    """Append the first 8 bytes of the pages from blob offset ``head`` on whose 8 bytes end
    by ``end`` (``buf[0]`` is at blob offset ``base``); the offset of the next page head."""
    at = np.arange(head, end - 7, ps, dtype=np.int64)
    got.append(buf[(at - base)[:, None] + np.arange(8, dtype=np.int64)])
    return head + len(at) * ps


def _scan_c(
    code: int, data: Any, blob: Blob, chunks: list[tuple[int, int, int]], ps: int, sink: np.ndarray
) -> _BlobScan | None:
    """``_scan_blob``'s scan in one C loop without the GIL (``fgraph/_ext/inflate.c``): None
    when a chunk does not decompress (the Python path then says what was lost).  The real
    2-CPU capture (409 MB of data in 9870 zstd chunks), the stream's opening (this pass, in two
    threads): 0.50 -> 0.42 s, CPU 0.94 -> 0.71 s (medians of 6, alternating); ``hist`` 1.92 ->
    1.79 s, CPU 2.89 -> 2.71 s (medians of 7).  What is left of the pass is libzstd itself
    (0.39 s of CPU for these chunks in one thread) and the store's page faults (~0.3 s of CPU
    in ``perf``, mostly memcg charging and clearing 100k fresh pages).  Transparent huge pages
    for the store (``MADV_HUGEPAGE``) took 0.08 s off that, but the kernel's direct compaction
    (``defrag=madvise``) made one run in three take 0.7-1.1 s."""
    table = np.array(chunks, dtype=np.int64).reshape(-1, 3)
    drop = DROP_EVERY if isinstance(data, mmap.mmap) else 0
    done, kept, heads = inflate.scan(code, data, table, sink, ps, drop, FAULT_AROUND)
    if done < len(chunks):
        return None
    us = table[:, 2]
    offs = np.concatenate([[0], np.cumsum(us)[:-1]]) if len(us) else us
    rows = list(zip(offs.tolist(), us.tolist(), table[:, 0].tolist(), table[:, 1].tolist()))
    return _BlobScan(blob, rows, (table[:, 0] - 8).tolist(), int(us.sum()), heads, kept)


def _scan_blob(
    c: Any,
    data: Any,
    bi: int,
    cb: Any,
    chunks: list[tuple[int, int, int]],
    ps: int,
    sink: np.ndarray,
    first: int = 0,
    of: int | None = None,
) -> _BlobScan:
    """Decompress one blob, or a piece of it (its chunks from the blob's chunk ``first`` of
    ``of``, starting on a page): its chunks, page heads, and its first chunks copied into
    ``sink`` (those that fit wholly: ``kept``)."""
    if len(sink):
        # (its pages mapped at once, not faulted in a copy at a time; the GIL let go)
        pages.populate_write(sink)
    blob = Blob(bi, cb.cpu, 0, 0, file_offset=cb.offset, compressed=True)
    code = c_codec(c)
    if code and chunks:
        sc = _scan_c(code, data, blob, chunks, ps, sink)
        if sc is not None:
            return sc
    inflater = _Inflater(c, data)  # (a decompression context per thread)
    rows: list[tuple[int, int, int, int]] = []
    fileoff: list[int] = []
    got: list[np.ndarray] = []
    pos = 0
    kept = 0
    tail = b""  # the blob's last 7 bytes so far (a page head may run into the next chunk)
    head = 0  # blob offset of the next page head to take
    mark = -1  # file offset from which the compressed bytes read are still mapped
    for fo, cs, us, out in _inflated(c, inflater, blob, chunks, first, of):
        # the compressed bytes read, given back every DROP_EVERY bytes (and the pages a
        # fault mapped around them: fault-around, 64 KB by default); one madvise per
        # chunk (~10 KB) cost ~0.1 s per 8000 chunks
        if mark < 0:
            mark = fo
        elif fo + cs - mark >= DROP_EVERY:
            release_pages(data, mark - FAULT_AROUND, fo + cs + FAULT_AROUND)
            mark = -1
        rows.append((pos, us, fo, cs))
        fileoff.append(fo - 8)
        if kept == len(rows) - 1 and pos + us <= len(sink):
            # (numpy's copy lets the other scan thread run meanwhile; the page heads of the
            # kept chunks are taken from the sink at once, below: per chunk, that was ~1/5 of
            # this loop's Python)
            sink[pos : pos + us] = np.frombuffer(out, np.uint8)
            kept += 1
            pos += us
            continue
        if kept == len(rows) - 1 and kept:  # the first chunk not kept
            head = _heads(sink, 0, 0, pos, ps, got)
            tail = bytes(sink[max(pos - 7, 0) : pos])
        base = pos  # blob offset of out[0]
        buf = out
        if head < base:  # a page head that began in the chunk before (chunks of whole
            buf = tail + out  # pages, as trace-cmd writes them, never have one)
            base -= len(tail)
        pos += us
        if head + 8 <= pos:
            head = _heads(np.frombuffer(buf, np.uint8), base, head, pos, ps, got)
        tail = buf[-7:]  # (a copy of at most 7 bytes)
    if mark >= 0:
        release_pages(data, mark - FAULT_AROUND, rows[-1][2] + rows[-1][3] + FAULT_AROUND)
    if kept == len(rows) and kept:  # every chunk kept
        _heads(sink, 0, 0, pos, ps, got)
    full = pos // ps
    h = np.concatenate(got) if got else np.zeros((0, 8), np.uint8)
    return _BlobScan(blob, rows, fileoff, pos, h[:full], kept)


def count(
    mem: Any, blob: Blob, page_size: int, data_start: int, long_size: int, big_endian: bool
) -> int:
    """Number of records ``walk`` will find in the blob (a walk that stores nothing)."""
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    return int(
        ringbuf.count(
            mem, blob.start, blob.length, page_size, data_start, long_size, int(big_endian)
        )
    )


def walk(
    mem: Any,
    blob: Blob,
    page_size: int,
    data_start: int,
    long_size: int,
    big_endian: bool,
    out: dict[str, np.ndarray] | None = None,
    at: int = 0,
    hint: int = 0,
) -> dict[str, np.ndarray]:
    """Records and per-page facts of one blob (see ``fgraph/_ext/ringbuf.c``).

    With ``out`` (arrays ``hdr``, ``data``, ``len``, ``ts`` sized by ``count`` for all blobs)
    the records are written there from row ``at``, and the returned record arrays are views
    of those rows.  Without, ``hint`` (records expected) spares the count pass when it is
    not short.
    """
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    args = (mem, blob.start, blob.length, page_size, data_start, long_size, int(big_endian))
    if out is None:
        if hint > 0:  # records expected: one walk when they fit (ringbuf.c)
            return dict(ringbuf.walk(*args, None, None, None, None, 0, int(hint)))
        return dict(ringbuf.walk(*args))
    w = dict(ringbuf.walk(*args, out["hdr"], out["data"], out["len"], out["ts"], at))
    n = int(w["nrec"].sum(dtype=np.int64))
    for k in ("hdr", "data", "len", "ts"):
        w[k] = out[k][at : at + n]
    return w
