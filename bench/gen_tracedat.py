"""Build a large trace.dat from the real ring-buffer pages of a small one.

The template's per-CPU pages are written ``copies`` times.  Copy ``k`` has every timestamp moved
by ``k * span`` (``span`` = the template's time range plus a gap), so the result looks like one
long capture of the same workload.  Only two places in a page hold an absolute time
(kernel/trace/ring_buffer.c, libtraceevent src/kbuffer-parse.c):

* the page header's ``time_stamp`` -- every data event and TIME_EXTEND (type_len 30) carries a
  delta relative to it, so shifting the header shifts them all;
* TIME_STAMP records (type_len 31): an absolute 59-bit stamp that *replaces* the running time.
  Kernels since ~5.10 force one when a writer interrupted another (``RB_ADD_STAMP_FORCE``), so
  they occur in ordinary traces and must be shifted too.

Everything else (event formats, kallsyms, cmdlines, options) is copied from the template, so
``trace-cmd report`` and fgraph decode the copies exactly like the original.  Missed-event flags
on pages are kept: each copy has the template's lost-event gaps.

Output: trace.dat version 7 (uncompressed ``none`` or ``zstd`` chunks, the layout trace-cmd 3.x
writes) or version 6.  Input: v6 or v7 (none/zstd/zlib), top buffer only.

This is a standalone reader/writer on purpose: the benchmark input must not depend on the code
it measures.  Usage::

    python bench/gen_tracedat.py TEMPLATE.dat OUT.dat --events 10M [--format v7|v7zstd|v6]
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import sys
import zlib
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"\x17\x08\x44tracing"

# v7 option / section ids (trace-cmd lib/trace-cmd/include/private/trace-cmd-private.h)
OPT_DONE = 0
OPT_BUFFER = 3
OPT_TRACECLOCK = 4
OPT_CPUCOUNT = 8
SEC_STRINGS = 15
SEC_HEADER_INFO = 16
SEC_FTRACE_EVENTS = 17
SEC_EVENT_FORMATS = 18
SEC_KALLSYMS = 19
SEC_PRINTK = 20
SEC_CMDLINES = 21
SEC_BTF = 23
SEC_MODULES = 25
META_SECTIONS = (
    SEC_HEADER_INFO,
    SEC_FTRACE_EVENTS,
    SEC_EVENT_FORMATS,
    SEC_KALLSYMS,
    SEC_PRINTK,
    SEC_CMDLINES,
)
POINTER_OPTIONS = {16, 17, 18, 19, 20, 21, 23, 25}

PAGES_IN_CHUNK = 10  # trace-cmd lib/trace-cmd/trace-output.c: chunks of 10 sub-buffers

# ring-buffer event header (kernel include/linux/ring_buffer.h)
RB_PADDING = 29
RB_TIME_EXTEND = 30
RB_TIME_STAMP = 31
TS_SHIFT = 27
TS_MASK = (1 << TS_SHIFT) - 1
COMMIT_SIZE_MASK = (1 << 27) - 1  # libtraceevent kbuffer-parse.c


class GenError(Exception):
    pass


@dataclass
class Template:
    """What the generator needs from the input file."""

    endian: str  # "<" or ">"
    long_size: int
    page_size: int  # system page size from the initial header
    meta: dict[int, bytes]  # section id → uncompressed v6-layout content
    options: list[tuple[int, bytes]]  # options to copy (not pointers, BUFFER, DONE, CPUCOUNT)
    clock: str
    ncpus: int
    sub_size: int  # sub-buffer ("page") size of the top buffer
    cpu_data: dict[int, bytes] = field(default_factory=dict)  # cpu → raw pages


# --------------------------------------------------------------------------------------- reading


def _cstr(buf: bytes, off: int) -> tuple[str, int]:
    end = buf.index(b"\0", off)
    return buf[off:end].decode(errors="replace"), end + 1


def _decompress(codec: str, data: bytes, usize: int) -> bytes:
    if codec == "none":
        return data
    if codec == "zlib":
        return zlib.decompress(data)
    if codec == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data, max_output_size=usize)
    raise GenError(f"unsupported compression {codec!r}")


def read_template(path: str) -> Template:
    with open(path, "rb") as f:
        d = f.read()
    if not d.startswith(MAGIC):
        raise GenError(f"{path}: not a trace.dat")
    ver, off = _cstr(d, 10)
    e = "<" if d[off] == 0 else ">"
    long_size = d[off + 1]
    (page_size,) = struct.unpack_from(e + "I", d, off + 2)
    off += 6
    if ver == "6":
        return _read_v6(d, off, e, long_size, page_size)
    if ver == "7":
        return _read_v7(d, off, e, long_size, page_size)
    raise GenError(f"{path}: trace.dat version {ver} not supported")


def _read_v7(d: bytes, off: int, e: str, long_size: int, page_size: int) -> Template:
    codec, off = _cstr(d, off)
    _cver, off = _cstr(d, off)
    (opt_off,) = struct.unpack_from(e + "Q", d, off)

    def section(at: int) -> tuple[int, bytes]:
        sid, flags, _desc, size = struct.unpack_from(e + "HHIQ", d, at)
        body = d[at + 16 : at + 16 + size]
        if flags & 1:
            csize, usize = struct.unpack_from(e + "II", body, 0)
            body = _decompress(codec, body[8 : 8 + csize], usize)
        return sid, body

    meta_off: dict[int, int] = {}
    options: list[tuple[int, bytes]] = []
    buffers: list[bytes] = []
    ncpus = 0
    while opt_off:
        sid, body = section(opt_off)
        if sid != 0:
            raise GenError(f"options chain points at section {sid}")
        p, opt_off = 0, 0
        while p + 6 <= len(body):
            oid, osize = struct.unpack_from(e + "HI", body, p)
            payload = body[p + 6 : p + 6 + osize]
            p += 6 + osize
            if oid == OPT_DONE:
                (opt_off,) = struct.unpack_from(e + "Q", payload, 0)
                break
            if oid in POINTER_OPTIONS:
                (meta_off[oid],) = struct.unpack_from(e + "Q", payload, 0)
            elif oid == OPT_BUFFER:
                buffers.append(payload)
            elif oid == OPT_CPUCOUNT:
                (ncpus,) = struct.unpack_from(e + "I", payload, 0)
            else:
                options.append((oid, payload))
    meta = {}
    for sid_want in META_SECTIONS:
        if sid_want in meta_off:
            sid, body = section(meta_off[sid_want])
            meta[sid_want] = body
    top = None
    for b in buffers:
        name, _p = _cstr(b, 8)
        if name == "":
            top = b
            break
    if top is None:
        raise GenError("no top-instance BUFFER option (latency-only or instance-only file)")
    if len(buffers) > 1:
        print("gen_tracedat: note: only the top buffer is copied", file=sys.stderr)
    (sec_off,) = struct.unpack_from(e + "Q", top, 0)
    _name, p = _cstr(top, 8)
    clock, p = _cstr(top, p)
    sub_size, n = struct.unpack_from(e + "II", top, p)
    p += 8
    sid, flags, _desc, _size = struct.unpack_from(e + "HHIQ", d, sec_off)
    compressed = bool(flags & 1)
    cpu_data = {}
    for _ in range(n):
        cpu, doff, dsize = struct.unpack_from(e + "IQQ", top, p)
        p += 20
        if not compressed:
            cpu_data[cpu] = d[doff : doff + dsize]
            continue
        (nchunks,) = struct.unpack_from(e + "I", d, doff)
        q = doff + 4
        parts = []
        for _c in range(nchunks):
            csize, usize = struct.unpack_from(e + "II", d, q)
            parts.append(_decompress(codec, d[q + 8 : q + 8 + csize], usize))
            q += 8 + csize
        cpu_data[cpu] = b"".join(parts)
    return Template(e, long_size, page_size, meta, options, clock, ncpus or n, sub_size, cpu_data)


def _read_v6(d: bytes, off: int, e: str, long_size: int, page_size: int) -> Template:
    meta: dict[int, bytes] = {}
    start = off
    for tag in (b"header_page\0", b"header_event\0"):
        if d[off : off + len(tag)] != tag:
            raise GenError("bad v6 header_page/header_event")
        (n,) = struct.unpack_from(e + "Q", d, off + len(tag))
        off += len(tag) + 8 + n
    meta[SEC_HEADER_INFO] = d[start:off]
    start = off
    (count,) = struct.unpack_from(e + "I", d, off)
    off += 4
    for _ in range(count):
        (n,) = struct.unpack_from(e + "Q", d, off)
        off += 8 + n
    meta[SEC_FTRACE_EVENTS] = d[start:off]
    start = off
    (nsys,) = struct.unpack_from(e + "I", d, off)
    off += 4
    for _ in range(nsys):
        _s, off = _cstr(d, off)
        (count,) = struct.unpack_from(e + "I", d, off)
        off += 4
        for _ in range(count):
            (n,) = struct.unpack_from(e + "Q", d, off)
            off += 8 + n
    meta[SEC_EVENT_FORMATS] = d[start:off]
    for sid, fmt in ((SEC_KALLSYMS, "I"), (SEC_PRINTK, "I"), (SEC_CMDLINES, "Q")):
        (n,) = struct.unpack_from(e + fmt, d, off)
        w = struct.calcsize(fmt)
        meta[sid] = d[off : off + w + n]
        off += w + n
    (ncpus,) = struct.unpack_from(e + "I", d, off)
    off += 4
    options: list[tuple[int, bytes]] = []
    has_clock = False
    tag = d[off : off + 10]
    off += 10
    if tag == b"options  \0":
        while True:
            (oid,) = struct.unpack_from(e + "H", d, off)
            off += 2
            if oid == 0:
                break
            (osize,) = struct.unpack_from(e + "I", d, off)
            payload = d[off + 4 : off + 4 + osize]
            off += 4 + osize
            if oid == OPT_BUFFER:
                print("gen_tracedat: note: only the top buffer is copied", file=sys.stderr)
                continue
            if oid == OPT_TRACECLOCK:
                has_clock = True
            options.append((oid, payload))
        tag = d[off : off + 10]
        off += 10
    if tag != b"flyrecord\0":
        raise GenError(f"v6 data is {tag!r}, not flyrecord")
    cpu_data = {}
    for cpu in range(ncpus):
        doff, dsize = struct.unpack_from(e + "QQ", d, off + 16 * cpu)
        if dsize:
            cpu_data[cpu] = d[doff : doff + dsize]
    off += 16 * ncpus
    clock = "local"
    if has_clock:
        (n,) = struct.unpack_from(e + "Q", d, off)
        m = re.search(r"\[(\w+)\]", d[off + 8 : off + 8 + n].decode(errors="replace"))
        if m:
            clock = m.group(1)
    return Template(e, long_size, page_size, meta, options, clock, ncpus, page_size, cpu_data)


def _header_page_layout(hp: bytes) -> tuple[int, int]:
    """(commit size, data offset) from the header_page text inside HEADER_INFO."""
    text = hp.decode(errors="replace")
    m = re.search(r"commit;\s*offset:(\d+);\s*size:(\d+);", text)
    md = re.search(r"data;\s*offset:(\d+);", text)
    if not m or not md:
        raise GenError("cannot find commit/data in header_page (old ring-buffer format?)")
    return int(m.group(2)), int(md.group(1))


# ----------------------------------------------------------------------------------- page walk


def ftrace_time_fields(ftrace_events: bytes, endian: str) -> dict[int, list[int]]:
    """Event id → payload offsets of absolute-time u64 fields (funcgraph_exit calltime/rettime).

    Since v6.1-ish the kernel stores calltime and rettime in the funcgraph_exit record itself
    (kernel/trace/trace_entries.h, FTRACE_ENTRY_PACKED(funcgraph_exit)); they are trace-clock
    times like the record's own, so a copy moved in time must move them as well.
    """
    out: dict[int, list[int]] = {}
    (count,) = struct.unpack_from(endian + "I", ftrace_events, 0)
    p = 4
    for _ in range(count):
        (n,) = struct.unpack_from(endian + "Q", ftrace_events, p)
        text = ftrace_events[p + 8 : p + 8 + n].decode("latin-1")
        p += 8 + n
        mid = re.search(r"^ID:\s*(\d+)", text, re.M)
        if not mid:
            continue
        offs = [
            int(m.group(2))
            for m in re.finditer(
                r"field:[^;]*\b(calltime|rettime);\s*offset:(\d+);\s*size:8;", text
            )
        ]
        if offs:
            out[int(mid.group(1))] = offs
    return out


@dataclass
class PageInfo:
    """Per-CPU result of walking the template pages once."""

    pages: np.ndarray  # (npages, sub_size) uint8
    first_ts: int
    last_ts: int
    events: int  # data records (trace-cmd report -R prints one line each)
    abs_pos: np.ndarray  # flat byte offsets (into pages) of each TIME_STAMP record
    abs_val: np.ndarray  # (k,) int64: its absolute time
    time_pos: np.ndarray  # flat byte offsets of absolute-time u64 payload fields


def walk_pages(
    raw: bytes,
    sub_size: int,
    endian: str,
    commit_size: int,
    data_off: int,
    time_fields: dict[int, list[int]],
) -> PageInfo:
    """Walk the records of each page once (Python, template-sized input only)."""
    npages = len(raw) // sub_size
    pages = np.frombuffer(raw[: npages * sub_size], dtype=np.uint8).reshape(npages, sub_size)
    u32 = endian + "I"
    u16 = endian + "H"
    cfmt = endian + ("Q" if commit_size == 8 else "I")
    first_ts, last_ts, events = -1, -1, 0
    abs_pos: list[int] = []
    abs_val: list[int] = []
    time_pos: list[int] = []
    big = endian == ">"
    for pi in range(npages):
        base = pi * sub_size
        (page_ts,) = struct.unpack_from(endian + "Q", raw, base)
        (commit,) = struct.unpack_from(cfmt, raw, base + 8)
        size = commit & COMMIT_SIZE_MASK
        p, end, ts = base + data_off, base + data_off + min(size, sub_size - data_off), page_ts
        while p + 4 <= end:
            (w,) = struct.unpack_from(u32, raw, p)
            if big:
                tl, delta = w >> 27, w & TS_MASK
            else:
                tl, delta = w & 31, w >> 5
            if tl == RB_PADDING:
                if delta == 0:
                    break
                (ln,) = struct.unpack_from(u32, raw, p + 4)
                p += 4 + ((ln + 3) & ~3)
                ts += delta
                continue
            if tl == RB_TIME_EXTEND:
                (a,) = struct.unpack_from(u32, raw, p + 4)
                ts += (a << TS_SHIFT) + delta
                p += 8
                continue
            if tl == RB_TIME_STAMP:
                (a,) = struct.unpack_from(u32, raw, p + 4)
                val = (a << TS_SHIFT) + delta
                # 59-bit stamps: take the top bits from the page time (kbuffer-parse.c)
                val |= page_ts & ~((1 << 59) - 1)
                ts = val
                abs_pos.append(p)
                abs_val.append(val)
                p += 8
                continue
            ts += delta
            if tl == 0:
                (ln,) = struct.unpack_from(u32, raw, p + 4)
                if ln == 0:
                    break
                payload, nxt = p + 8, p + 4 + ((ln + 3) & ~3)
            else:
                payload, nxt = p + 4, p + 4 + 4 * tl
            if time_fields and payload + 2 <= end:
                (etype,) = struct.unpack_from(u16, raw, payload)
                offs = time_fields.get(etype)
                if offs:
                    time_pos.extend(payload + o for o in offs if payload + o + 8 <= nxt)
            p = nxt
            events += 1
            if first_ts < 0:
                first_ts = ts
            last_ts = max(last_ts, ts)
    return PageInfo(
        pages,
        first_ts,
        last_ts,
        events,
        np.array(abs_pos, dtype=np.int64),
        np.array(abs_val, dtype=np.int64),
        np.array(time_pos, dtype=np.int64),
    )


_B8 = np.arange(8, dtype=np.int64)


def _add_u64_at(flat: np.ndarray, pos: np.ndarray, add: int, endian: str) -> None:
    """flat[pos:pos+8] (unaligned u64s) += add, vectorized."""
    if len(pos) == 0:
        return
    idx = pos[:, None] + _B8
    dt = np.dtype(endian + "u8")
    v = flat[idx].copy().view(dt)[:, 0] + np.uint64(add)
    flat[idx] = v.astype(dt).view(np.uint8).reshape(-1, 8)


def shifted_pages(info: PageInfo, shift: int, endian: str) -> np.ndarray:
    """A copy of the pages with every absolute time moved by ``shift`` ns."""
    out = info.pages.copy()
    if shift == 0:
        return out
    dt = np.dtype(endian + "u8")
    ts = out[:, 0:8].copy().view(dt)[:, 0]
    out[:, 0:8] = (ts + np.uint64(shift)).astype(dt).view(np.uint8).reshape(-1, 8)
    flat = out.reshape(-1)
    _add_u64_at(flat, info.time_pos, shift, endian)
    if len(info.abs_val):
        val = info.abs_val + shift
        delta = (val & TS_MASK).astype(np.uint64)
        hi = ((val >> TS_SHIFT) & 0xFFFFFFFF).astype(np.uint64)
        if endian == "<":
            word = (delta << np.uint64(5)) | np.uint64(RB_TIME_STAMP)
        else:
            word = (np.uint64(RB_TIME_STAMP) << np.uint64(27)) | delta
        w32 = np.dtype(endian + "u4")
        two = np.stack([word.astype(w32), hi.astype(w32)], axis=1).view(np.uint8).reshape(-1, 8)
        flat[info.abs_pos[:, None] + _B8] = two
    return out


# --------------------------------------------------------------------------------------- writing


class _Writer:
    def __init__(self, f, endian: str) -> None:  # type: ignore[no-untyped-def]
        self.f = f
        self.e = endian

    def pack(self, fmt: str, *v: int) -> bytes:
        return struct.pack(self.e + fmt, *v)

    def tell(self) -> int:
        return int(self.f.tell())

    def write(self, b: bytes) -> None:
        self.f.write(b)

    def align(self, n: int) -> None:
        pad = -self.tell() % n
        if pad:
            self.f.write(b"\0" * pad)


def _compress_block(codec: str, data: bytes) -> bytes:
    if codec == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(data)
    if codec == "zlib":
        return zlib.compress(data)
    raise GenError(codec)


@dataclass
class GenResult:
    path: str
    copies: int
    events: int  # data records written (trace-cmd report prints one line each)
    events_per_copy: int
    span_ns: int
    bytes: int
    cpus: dict[int, int]  # cpu → pages per copy


def generate(
    template: str,
    out: str,
    *,
    copies: int | None = None,
    events: int | None = None,
    fmt: str = "v7",
    gap_ns: int = 1_000_000,
) -> GenResult:
    """Write ``out`` with the template's pages repeated (``copies`` or at least ``events``)."""
    t = read_template(template)
    commit_size, data_off = _header_page_layout(t.meta[SEC_HEADER_INFO])
    tf = ftrace_time_fields(t.meta[SEC_FTRACE_EVENTS], t.endian)
    infos = {
        cpu: walk_pages(raw, t.sub_size, t.endian, commit_size, data_off, tf)
        for cpu, raw in sorted(t.cpu_data.items())
    }
    infos = {c: i for c, i in infos.items() if len(i.pages)}
    per_copy = sum(i.events for i in infos.values())
    if per_copy == 0:
        raise GenError(f"{template}: no events in the top buffer")
    if copies is None:
        copies = max(1, -(-(events or per_copy) // per_copy))
    t0 = min(i.first_ts for i in infos.values() if i.first_ts >= 0)
    t1 = max(i.last_ts for i in infos.values())
    span = (t1 - t0) + gap_ns
    if fmt == "v6":
        _write_v6(t, infos, out, copies, span)
    elif fmt in ("v7", "v7zstd", "v7zlib"):
        _write_v7(
            t, infos, out, copies, span, {"v7": "none", "v7zstd": "zstd", "v7zlib": "zlib"}[fmt]
        )
    else:
        raise GenError(f"unknown output format {fmt!r}")
    return GenResult(
        out,
        copies,
        per_copy * copies,
        per_copy,
        span,
        os.path.getsize(out),
        {c: len(i.pages) for c, i in infos.items()},
    )


def _cpu_copies(info: PageInfo, copies: int, span: int, endian: str):  # type: ignore[no-untyped-def]
    for k in range(copies):
        yield shifted_pages(info, k * span, endian)


def _write_v6(t: Template, infos: dict[int, PageInfo], out: str, copies: int, span: int) -> None:
    with open(out, "wb") as f:
        w = _Writer(f, t.endian)
        w.write(
            MAGIC
            + b"6\0"
            + bytes([0 if t.endian == "<" else 1, t.long_size])
            + w.pack("I", t.sub_size)
        )
        for sid in META_SECTIONS:
            w.write(t.meta[sid])
        ncpus = max(t.ncpus, max(infos) + 1)
        w.write(w.pack("I", ncpus))
        opts = list(t.options)
        if not any(o == OPT_TRACECLOCK for o, _ in opts):
            opts.append((OPT_TRACECLOCK, f"[{t.clock}]\n".encode()))
        w.write(b"options  \0")
        for oid, payload in opts:
            w.write(w.pack("HI", oid, len(payload)) + payload)
        w.write(w.pack("H", 0))
        w.write(b"flyrecord\0")
        table_at = w.tell()
        w.write(b"\0" * 16 * ncpus)
        clock = f"[{t.clock}]".encode()
        w.write(w.pack("Q", len(clock)) + clock)
        table = {}
        for cpu in range(ncpus):
            w.align(t.page_size)
            start = w.tell()
            if cpu in infos:
                for pages in _cpu_copies(infos[cpu], copies, span, t.endian):
                    w.write(pages.tobytes())
            table[cpu] = (start, w.tell() - start)
        f.seek(table_at)
        for cpu in range(ncpus):
            w.write(w.pack("QQ", *table[cpu]))


def _write_v7(
    t: Template, infos: dict[int, PageInfo], out: str, copies: int, span: int, codec: str
) -> None:
    compressed = codec != "none"
    with open(out, "wb") as f:
        w = _Writer(f, t.endian)
        cver = {"none": b"", "zstd": b"1.5.4", "zlib": zlib.ZLIB_VERSION.encode()}[codec]
        w.write(
            MAGIC
            + b"7\0"
            + bytes([0 if t.endian == "<" else 1, t.long_size])
            + w.pack("I", t.page_size)
        )
        w.write(codec.encode() + b"\0" + cver + b"\0")
        first_opt_field = w.tell()
        w.write(w.pack("Q", 0))

        def section(sid: int, body: bytes, compress: bool) -> int:
            at = w.tell()
            if compress:
                c = _compress_block(codec, body)
                body = w.pack("II", len(c), len(body)) + c
            w.write(w.pack("HHIQ", sid, 1 if compress else 0, 0xFFFFFFFF, len(body)) + body)
            return at

        ptr = {sid: section(sid, t.meta[sid], compressed) for sid in META_SECTIONS if sid in t.meta}

        def opt(oid: int, payload: bytes) -> bytes:
            return w.pack("HI", oid, len(payload)) + payload

        opts1 = b"".join(opt(sid, w.pack("Q", off)) for sid, off in ptr.items())
        opts1 += b"".join(opt(oid, p) for oid, p in t.options)
        opts1 += opt(OPT_CPUCOUNT, w.pack("I", max(t.ncpus, max(infos) + 1)))
        # DONE must point at the second options section, written after the data: patch it.
        opt1_at = w.tell()
        done1_body = opts1 + w.pack("HI", OPT_DONE, 8)
        w.write(w.pack("HHIQ", 0, 0, 0xFFFFFFFF, len(done1_body) + 8) + done1_body)
        done1_field = w.tell()
        w.write(w.pack("Q", 0))
        f.seek(first_opt_field)
        w.write(w.pack("Q", opt1_at))
        f.seek(0, os.SEEK_END)

        buf_at = w.tell()
        w.write(w.pack("HHIQ", OPT_BUFFER, 1 if compressed else 0, 0xFFFFFFFF, 0))
        table = []
        for cpu, info in infos.items():
            w.align(t.page_size)
            start = w.tell()
            if not compressed:
                for pages in _cpu_copies(info, copies, span, t.endian):
                    w.write(pages.tobytes())
            else:
                npages = len(info.pages) * copies
                nchunks = -(-npages // PAGES_IN_CHUNK)
                w.write(w.pack("I", nchunks))
                pend = b""
                for pages in _cpu_copies(info, copies, span, t.endian):
                    pend += pages.tobytes()
                    csz = PAGES_IN_CHUNK * t.sub_size
                    while len(pend) >= csz:
                        c = _compress_block(codec, pend[:csz])
                        w.write(w.pack("II", len(c), csz) + c)
                        pend = pend[csz:]
                if pend:
                    c = _compress_block(codec, pend)
                    w.write(w.pack("II", len(c), len(pend)) + c)
            table.append((cpu, start, w.tell() - start))
        end = w.tell()
        f.seek(buf_at + 8)
        w.write(w.pack("Q", end - buf_at - 16))
        f.seek(end)

        opt2_at = w.tell()
        bopt = (
            w.pack("Q", buf_at)
            + b"\0"
            + t.clock.encode()
            + b"\0"
            + w.pack("II", t.sub_size, len(table))
        )
        bopt += b"".join(w.pack("IQQ", c, s, n) for c, s, n in table)
        body = opt(OPT_BUFFER, bopt) + opt(OPT_DONE, w.pack("Q", 0))
        w.write(w.pack("HHIQ", 0, 0, 0xFFFFFFFF, len(body)) + body)
        f.seek(done1_field)
        w.write(w.pack("Q", opt2_at))


# ------------------------------------------------------------------------------------------- cli


def parse_count(s: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgG]?)", s.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad count {s!r}")
    mult = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("template", help="real trace.dat (v6/v7) whose pages are repeated")
    ap.add_argument("out")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--copies", type=int)
    g.add_argument("--events", type=parse_count, help="at least this many events (10M, 500k, …)")
    ap.add_argument("--format", default="v7", choices=("v7", "v7zstd", "v7zlib", "v6"))
    a = ap.parse_args(argv)
    try:
        r = generate(a.template, a.out, copies=a.copies, events=a.events, fmt=a.format)
    except (GenError, OSError, struct.error, ValueError) as exc:
        print(f"gen_tracedat: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{r.path}: {r.copies} copies x {r.events_per_copy} events = {r.events} events, {r.bytes / 1e6:.1f} MB, span {r.span_ns / 1e9:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
