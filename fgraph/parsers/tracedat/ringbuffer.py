"""Per-CPU ring-buffer data: locate (and decompress) each CPU's pages, then walk them.

The page walk itself is C (``fgraph/_ext/ringbuf.c``, kbuffer semantics); this module feeds it
one CPU blob at a time and returns flat numpy arrays.  Uncompressed data is walked in place in
the file's buffer (an mmap, not copied); compressed v7 data (chunks of ``u32 csize, u32 usize,
bytes``, trace-output.c ``out_write_cpu_data``) is decompressed chunk by chunk into one
``bytearray`` shared by all CPUs of all buffers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import TraceParseError
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
    first, nrec, ts = w["first"], w["nrec"].astype(np.int64), w["ts"]
    q = np.nonzero((nrec > 0) & (w["status"] == 0))[0]
    if len(q) < 2:
        return
    s = ts[first[q]].astype(np.float64)
    e = ts[first[q] + nrec[q] - 1].astype(np.float64)
    T = float(TIME_DISORDER)
    prev_e = np.concatenate([[-np.inf], e[:-1]])
    next_s = np.concatenate([s[1:], [np.inf]])
    # went back: earlier than the previous page, while the next page continues after that one
    back = (s + T < prev_e) & (next_s + T >= prev_e)
    # jumped forward: later than the next page, while the next page continues after the previous
    fwd = (e > next_s + T) & (next_s + T >= prev_e)
    bad = q[back | fwd]
    if not len(bad):
        return
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
    data: Any, off: int, size: int, e: str, path: str
) -> tuple[list[tuple[int, int, int]], str | None]:
    """[(file offset of the chunk's bytes, csize, usize)] and a problem text if cut short."""
    # The BUFFER option's size does not cover the chunk headers (observed with trace-cmd
    # 3.1.x: the last chunk always ends past offset+size), so bound by the file only.
    end = len(data)
    if off + 4 > end:
        return [], f"chunk count at {off} beyond the data"
    (n,) = struct.unpack_from(e + "I", data, off)
    p = off + 4
    chunks: list[tuple[int, int, int]] = []
    if n > (end - p) // 8 + 1:
        return [], f"implausible chunk count {n}"
    for i in range(n):
        if p + 8 > end:
            return chunks, f"chunk {i} of {n} header truncated"
        cs, us = struct.unpack_from(e + "II", data, p)
        if p + 8 + cs > end:
            return chunks, f"chunk {i} of {n} ({cs} bytes) runs past the data"
        if us > (1 << 28):
            return chunks, f"chunk {i} of {n}: implausible size {us}"
        chunks.append((p + 8, cs, us))
        p += 8 + cs
    return chunks, None


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
    plans = []
    total = 0
    for bi, b in enumerate(c.buffers):
        if b.latency_text is not None:
            continue
        for cb in b.cpus:
            if cb.size == 0:
                continue
            chunks, problem = _chunk_table(data, cb.offset, cb.size, c.endian, c.path)
            plans.append((bi, cb, chunks, problem))
            total += sum(us for _, _, us in chunks)
    mem = bytearray(total)
    mv = memoryview(mem)
    pos = 0
    zd = None
    if c.compression == "zstd":
        import zstandard

        zd = zstandard.ZstdDecompressor()
    for bi, cb, chunks, problem in plans:
        blob = Blob(bi, cb.cpu, pos, 0, file_offset=cb.offset, compressed=True)
        ustart, fileoff = [], []
        for i, (fo, cs, us) in enumerate(chunks):
            try:
                if zd is not None:
                    out = zd.decompress(bytes(data[fo : fo + cs]), max_output_size=max(us, 1))
                    if len(out) != us:
                        raise TraceParseError(
                            f"chunk decompressed to {len(out)} bytes, header says {us}",
                            path=c.path,
                            offset=fo - 8,
                        )
                else:
                    out = decompress(
                        c.compression, data[fo : fo + cs], us, c.path, fo - 8, "data chunk"
                    )
            except TraceParseError as exc:
                problem = f"chunk {i} of {len(chunks)} unreadable ({exc.message}); its events and the following chunks' are lost"
                blob.problems.append(
                    (f"buffer {c.buffers[bi].name!r} CPU {cb.cpu}: {problem}", fo - 8, -1)
                )
                problem = None
                break
            except Exception as exc:  # zstandard.ZstdError
                blob.problems.append(
                    (
                        f"buffer {c.buffers[bi].name!r} CPU {cb.cpu}: chunk {i} of {len(chunks)} unreadable ({exc}); it and the following chunks are lost",
                        fo - 8,
                        -1,
                    )
                )
                break
            mv[pos : pos + us] = out
            ustart.append(pos)
            fileoff.append(fo - 8)
            pos += us
        if problem:
            blob.problems.append(
                (f"buffer {c.buffers[bi].name!r} CPU {cb.cpu}: {problem}", cb.offset, -1)
            )
        blob.length = pos - blob.start
        blob.chunk_ustart = np.array(ustart or [blob.start], dtype=np.int64)
        blob.chunk_fileoff = np.array(fileoff or [cb.offset], dtype=np.int64)
        blobs.append(blob)
    return mem, blobs


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
) -> dict[str, np.ndarray]:
    """Records and per-page facts of one blob (see ``fgraph/_ext/ringbuf.c``).

    With ``out`` (arrays ``hdr``, ``data``, ``len``, ``ts`` sized by ``count`` for all blobs)
    the records are written there from row ``at``, and the returned record arrays are views
    of those rows.
    """
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    args = (mem, blob.start, blob.length, page_size, data_start, long_size, int(big_endian))
    if out is None:
        return dict(ringbuf.walk(*args))
    w = dict(ringbuf.walk(*args, out["hdr"], out["data"], out["len"], out["ts"], at))
    n = int(w["nrec"].sum(dtype=np.int64))
    for k in ("hdr", "data", "len", "ts"):
        w[k] = out[k][at : at + n]
    return w
