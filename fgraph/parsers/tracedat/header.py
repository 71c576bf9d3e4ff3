"""The trace.dat container: initial header, v6 sequential layout, v7 sections and options chain.

Produces a :class:`Container` holding the metadata texts (header_page, event formats,
kallsyms, printk formats, cmdlines), the decoded options and, per buffer instance, where each
CPU's ring-buffer data lies in the file.  Decoding the data itself is ``ringbuffer``'s job.

Layouts follow trace-cmd's ``Documentation/trace-cmd/trace-cmd.dat.v6.5.txt`` / ``v7.5.txt``
and ``lib/trace-cmd/trace-input.c`` (``tracecmd_read_headers``, ``handle_options``,
``handle_buffer_option``, ``read_cpu_data``); see also docs/formats.md §1.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from ...errors import TraceFormatError, TraceParseError
from ...source import TRACE_DAT_MAGIC
from . import options as O
from ._structs import Cursor, decompress


@dataclass
class CpuBlob:
    cpu: int
    offset: int  # file offset of the CPU's data (chunk table when compressed)
    size: int  # bytes on disk


@dataclass
class Buffer:
    name: str  # "" = top instance
    clock: str = ""
    page_size: int = 0
    cpus: list[CpuBlob] = field(default_factory=list)
    latency_text: str | None = None  # a "latency" (ASCII) buffer instead of ring-buffer pages


@dataclass
class Container:
    path: str
    size: int
    version: int
    big_endian: bool
    writer_long_size: int
    page_size: int
    compression: str = "none"
    compression_version: str = ""
    header_page: str = ""
    header_event: str = ""
    ftrace_formats: list[str] = field(default_factory=list)
    event_formats: list[tuple[str, str]] = field(default_factory=list)  # (system, format text)
    # the kallsyms text as (buffer, offset, size), read when first asked for (4 MB on a
    # Debian kernel: copying and decoding it took ~30 ms of the time to the first window,
    # where the symbols are parsed in a thread of their own: TraceDatStream.warm)
    kallsyms_span: tuple[Any, int, int] | None = None
    printk: str = ""
    cmdlines: str = ""
    ncpus: int = 0
    opts: O.Options = field(default_factory=O.Options)
    buffers: list[Buffer] = field(default_factory=list)
    clock: str = ""
    problems: list[tuple[str, int]] = field(
        default_factory=list
    )  # (what, offset): survivable damage

    @property
    def kallsyms_raw(self) -> bytes:
        """The kallsyms text as the file has it."""
        span = self.kallsyms_span
        if span is None:
            return b""
        buf, at, n = span
        # (a mapped file's pages mapped in one call first: the copy's page faults one page at
        # a time took twice as long, 18 against 9 ms for the 4 MB of a Debian kernel's)
        from .ringbuffer import populate_file_pages

        populate_file_pages(buf, at, at + n)
        return bytes(buf[at : at + n])

    @property
    def kallsyms(self) -> str:
        return self.kallsyms_raw.decode("utf-8", errors="replace")

    @property
    def endian(self) -> str:
        return ">" if self.big_endian else "<"


def read_container(data: Any, path: str) -> Container:
    """Parse everything but the ring-buffer pages."""
    size = len(data)
    head = bytes(data[:10])
    if head[:3] != TRACE_DAT_MAGIC[:3] or head[3:10] != b"tracing":
        raise TraceFormatError(
            f"bad magic {head[:10]!r} (not a trace-cmd trace.dat)", path=path, offset=0
        )
    cur = Cursor(data, 10, False, path, what="initial header")
    vstr = cur.cstr("version string", limit=16)
    if not vstr.isdigit():
        raise TraceFormatError(f"unreadable version string {vstr!r}", path=path, offset=10)
    version = int(vstr)
    if version not in (6, 7):
        raise TraceFormatError(
            f"unsupported trace.dat version {version} (fgraph reads 6 and 7)", path=path, offset=10
        )
    endian_byte = cur.u8("endianness")
    if endian_byte not in (0, 1):
        raise TraceFormatError(f"bad endianness byte {endian_byte}", path=path, offset=cur.pos - 1)
    big = endian_byte == 1
    cur.e = ">" if big else "<"
    long_size = cur.u8("long size")
    page_size = cur.u32("page size")
    if page_size == 0 or page_size > (1 << 24) or page_size % 8:
        raise TraceFormatError(f"implausible page size {page_size}", path=path, offset=cur.pos - 4)
    c = Container(path, size, version, big, long_size, page_size)
    if version == 6:
        _read_v6(c, cur)
    else:
        _read_v7(c, cur)
    return c


# ---------------------------------------------------------------------------------------------
# metadata pieces (same layout in v6 and in v7 sections)


def _read_header_info(c: Container, cur: Cursor) -> None:
    tag = cur.bytes(12, "header_page tag")
    if tag != b"header_page\x00":
        raise cur.fail(f"expected 'header_page', found {tag!r}", cur.pos - 12)
    c.header_page = cur.sized_text(8, "header_page")
    tag = cur.bytes(13, "header_event tag")
    if tag != b"header_event\x00":
        raise cur.fail(f"expected 'header_event', found {tag!r}", cur.pos - 13)
    c.header_event = cur.sized_text(8, "header_event")


# The largest CPU id read: the CPU columns are int16 (fgraph/schema.py), and kernels have at
# most a few thousand (x86's CONFIG_NR_CPUS stops at 8192)
MAX_CPU_ID = 0x7FFF


def _check_count(cur: Cursor, n: int, min_each: int, what: str) -> None:
    if n * min_each > cur.end - cur.pos:
        raise cur.fail(f"{what} count {n} cannot fit in the {cur.end - cur.pos} bytes left")


def _read_ftrace_events(c: Container, cur: Cursor) -> None:
    n = cur.u32("ftrace event count")
    _check_count(cur, n, 8, "ftrace event")
    c.ftrace_formats = [cur.sized_text(8, "ftrace event format") for _ in range(n)]


def _read_event_formats(c: Container, cur: Cursor) -> None:
    nsys = cur.u32("event system count")
    _check_count(cur, nsys, 5, "event system")
    for _ in range(nsys):
        system = cur.cstr("event system name")
        n = cur.u32("event count")
        _check_count(cur, n, 8, "event format")
        for _ in range(n):
            c.event_formats.append((system, cur.sized_text(8, "event format")))


# ---------------------------------------------------------------------------------------------
# version 6


def _read_v6(c: Container, cur: Cursor) -> None:
    cur.what = "v6 header"
    _read_header_info(c, cur)
    _read_ftrace_events(c, cur)
    _read_event_formats(c, cur)
    c.kallsyms_span = cur.sized_span(4, "kallsyms")
    c.printk = cur.sized_text(4, "printk formats")
    c.cmdlines = cur.sized_text(8, "cmdlines")
    c.ncpus = cur.u32("cpu count")
    if c.ncpus > 65536:
        raise cur.fail(f"implausible cpu count {c.ncpus}", cur.pos - 4)
    tag = cur.bytes(10, "data tag")
    buffer_opts: list[O.RawOption] = []
    if tag == b"options  \x00":
        cpustat_buf = [""]
        while True:
            oid = cur.u16("option id")
            if oid == O.DONE:  # v6: a bare u16 0 ends the list
                break
            osize = cur.u32("option size")
            p = cur.pos
            raw = O.RawOption(oid, cur.bytes(osize, f"option {oid} payload"), p)
            c.opts.raw.append(raw)
            if oid == O.BUFFER:
                buffer_opts.append(raw)
            O.decode_option(raw, c.endian, c.opts, cpustat_buf)
        tag = cur.bytes(10, "data tag")
    if c.opts.cpucount:
        c.ncpus = c.opts.cpucount
    top = Buffer("", page_size=c.page_size)
    c.buffers.append(top)
    if tag == b"latency  \x00":
        top.latency_text = bytes(cur.buf[cur.pos :]).decode("utf-8", errors="replace")
        return
    if tag != b"flyrecord\x00":
        raise cur.fail(f"expected 'flyrecord' or 'latency', found {tag!r}", cur.pos - 10)
    _read_flyrecord_table(c, cur, top)
    for raw in buffer_opts:
        bc = Cursor(raw.data, 0, c.big_endian, c.path, base=raw.offset, what="BUFFER option")
        off = bc.u64("instance offset")
        name = bc.cstr("instance name")
        buf = Buffer(name, page_size=c.page_size)
        ic = Cursor(cur.buf, off, c.big_endian, c.path, what=f"instance {name!r}")
        if off + 10 > c.size:
            raise TraceParseError(
                f"instance {name!r} offset {off} beyond the file", path=c.path, offset=raw.offset
            )
        t = ic.bytes(10, "instance tag")
        if t == b"latency  \x00":
            buf.latency_text = bytes(cur.buf[ic.pos :]).decode("utf-8", errors="replace")
        elif t != b"flyrecord\x00":
            raise ic.fail(f"expected 'flyrecord' for instance {name!r}, found {t!r}", off)
        else:
            _read_flyrecord_table(c, ic, buf)
        c.buffers.append(buf)


def _read_flyrecord_table(c: Container, cur: Cursor, buf: Buffer) -> None:
    _check_count(cur, c.ncpus, 16, "cpu table")
    for cpu in range(c.ncpus):
        at = cur.pos
        off = cur.u64("cpu data offset")
        size = cur.u64("cpu data size")
        if size and off + size > c.size:
            # trace-input.c read_cpu_data() refuses such a file; we keep what is there.
            c.problems.append(
                (f"CPU {cpu} data ({size} bytes at {off}) runs past the end of the file", at)
            )
        buf.cpus.append(CpuBlob(cpu, off, size))
    # The clock string after the table: trace-cmd reads it only when a TRACECLOCK option was
    # seen (trace-input.c init_data_v6), but newer writers add it anyway; probe it.
    clock = ""
    if cur.end - cur.pos >= 8:
        save = cur.pos
        n = cur.u64("clock size")
        if 0 < n <= 4096 and n <= cur.end - cur.pos:
            text = cur.bytes(n, "clock").split(b"\x00", 1)[0].decode("utf-8", errors="replace")
            if "[" in text or c.opts.has_traceclock:
                clock = O.selected_clock(text)
        if not clock:
            cur.pos = save
    if not clock and c.opts.traceclock_text:
        clock = O.selected_clock(c.opts.traceclock_text)
    buf.clock = clock or "local"
    if buf.name == "":
        c.clock = buf.clock


# ---------------------------------------------------------------------------------------------
# version 7


_SECTION_HDR = 16


def _section(c: Container, offset: int, want: int | None, what: str) -> tuple[int, Cursor]:
    """Read a section header at ``offset``; return (id, cursor over the (decompressed) payload)."""
    if offset < 0 or offset + _SECTION_HDR > c.size:
        raise TraceParseError(
            f"{what} section offset {offset} is beyond the file ({c.size} bytes)",
            path=c.path,
            offset=offset,
        )
    data = c._data  # type: ignore[attr-defined]
    hc = Cursor(data, offset, c.big_endian, c.path, what=f"{what} section header")
    sid = hc.u16("section id")
    flags = hc.u16("section flags")
    hc.u32("section description")
    size = hc.u64("section size")
    if want is not None and sid != want:
        raise hc.fail(f"expected section id {want}, found {sid}", offset)
    start = hc.pos
    if size > c.size - start:
        raise hc.fail(f"{what} section size {size} runs past the end of the file", offset)
    if flags & 1 and c.compression != "none":
        bc = Cursor(data, start, c.big_endian, c.path, what=f"{what} block")
        csize = bc.u32("compressed size")
        usize = bc.u32("uncompressed size")
        if csize > size - 8:
            raise bc.fail(f"compressed block size {csize} exceeds the section ({size})", start)
        if usize > 64 * max(csize, 1) + (1 << 20):
            raise bc.fail(
                f"implausible uncompressed size {usize} for {csize} compressed bytes", start
            )
        raw = (
            memoryview(data)[bc.pos : bc.pos + csize]
            if not isinstance(data, bytes)
            else data[bc.pos : bc.pos + csize]
        )
        out = decompress(c.compression, raw, usize, c.path, start, f"{what} section")
        return sid, Cursor(out, 0, c.big_endian, c.path, base=start, what=f"{what} section")
    return sid, Cursor(data, start, c.big_endian, c.path, what=f"{what} section", end=start + size)


def _read_v7(c: Container, cur: Cursor) -> None:
    c._data = cur.buf  # type: ignore[attr-defined]
    cur.what = "v7 header"
    c.compression = cur.cstr("compression name", limit=64) or "none"
    c.compression_version = cur.cstr("compression version", limit=64)
    if c.compression not in ("none",) + tuple(_codecs()):
        raise TraceFormatError(
            f"unsupported compression {c.compression!r}", path=c.path, offset=cur.pos
        )
    first = cur.u64("first options offset")
    sections_start = cur.pos
    # Follow the options chain (DONE payload = next section offset, 0 = last).
    seen: set[int] = set()
    nxt = first
    cpustat_buf = [""]
    buffer_opts: list[O.RawOption] = []
    section_offsets: dict[int, tuple[int, int]] = {}
    while nxt:
        if nxt in seen:
            c.problems.append(("options chain loops", nxt))
            break
        seen.add(nxt)
        try:
            _, oc = _section(c, nxt, O.DONE, "options")
        except TraceParseError as exc:
            if not seen - {nxt}:
                raise
            # A damaged later options section: keep what the earlier ones said.
            c.problems.append((f"options section unreadable: {exc.message}", nxt))
            break
        nxt = 0
        while True:
            oid = oc.u16("option id")
            osize = oc.u32("option size")
            p = oc.base + oc.pos
            payload = oc.bytes(osize, f"option {oid} payload")
            if oid == O.DONE:
                nxt = (
                    int.from_bytes(payload[:8], "big" if c.big_endian else "little")
                    if osize >= 8
                    else 0
                )
                break
            raw = O.RawOption(oid, payload, p)
            c.opts.raw.append(raw)
            if oid in (O.BUFFER, O.BUFFER_TEXT):
                buffer_opts.append(raw)
            elif oid in O.SECTION_OPTIONS and osize >= 8:
                section_offsets[oid] = (
                    int.from_bytes(payload[:8], "big" if c.big_endian else "little"),
                    p,
                )
            O.decode_option(raw, c.endian, c.opts, cpustat_buf)
    for oid, reader in (
        (O.HEADER_INFO, _read_header_info),
        (O.FTRACE_EVENTS, _read_ftrace_events),
        (O.EVENT_FORMATS, _read_event_formats),
    ):
        if oid not in section_offsets:
            raise TraceParseError(f"no {O.NAMES[oid]} section option", path=c.path, offset=first)
        off, _ = section_offsets[oid]
        if oid == O.HEADER_INFO:
            _, sc = _section(c, off, oid, O.NAMES[oid].lower())
            reader(c, sc)  # the page layout: nothing can be decoded without it
            continue
        try:
            _, sc = _section(c, off, oid, O.NAMES[oid].lower())
            reader(c, sc)
        except TraceParseError as exc:
            # Records whose format is lost are still counted (as unknown_<id> events).
            c.problems.append(
                (
                    f"{O.NAMES[oid].lower()} unreadable ({exc.message}); events of those formats are kept as unknown_<id>",
                    off,
                )
            )
    for oid, attr, width in (
        (O.KALLSYMS, "kallsyms", 4),
        (O.PRINTK, "printk", 4),
        (O.CMDLINES, "cmdlines", 8),
    ):
        if oid in section_offsets:
            off, _ = section_offsets[oid]
            try:
                _, sc = _section(c, off, oid, attr)
                if oid == O.KALLSYMS:
                    c.kallsyms_span = sc.sized_span(width, attr)
                else:
                    setattr(c, attr, sc.sized_text(width, attr))
            except TraceParseError as exc:
                # Symbols and comms are conveniences: lose them, keep the events.
                c.problems.append(
                    (f"{attr} unreadable ({exc.message}); names will be missing", off)
                )
    c.ncpus = c.opts.cpucount or 0
    broken = [off for what, off in c.problems if what.startswith("options section unreadable")]
    # trace-cmd writes the BUFFER option (per-CPU offsets and sizes) in an options section
    # *after* the data (trace-output.c tracecmd_write_cpu_data → append options), so a file cut
    # inside its data does not say where each CPU's pages are: find them ourselves.
    if (
        broken
        and not any(r.id == O.BUFFER for r in buffer_opts)
        and not _recover_buffers(c, cur.buf, sections_start, broken[0])
    ):
        raise TraceParseError(
            "truncated or damaged: the options section after the data (with the BUFFER "
            "option locating each CPU's pages) is missing and no data section was found",
            path=c.path,
            offset=broken[0],
        )
    for raw in buffer_opts:
        bc = Cursor(
            raw.data, 0, c.big_endian, c.path, base=raw.offset, what=f"{O.NAMES[raw.id]} option"
        )
        off = bc.u64("buffer section offset")
        name = bc.cstr("buffer name")
        clock = bc.cstr("buffer clock")
        buf = Buffer(name, clock=clock, page_size=c.page_size)
        if raw.id == O.BUFFER_TEXT:
            _, sc = _section(c, off, None, f"latency buffer {name!r}")
            buf.latency_text = _read_latency_section(c, sc)
        else:
            buf.page_size = bc.u32("buffer page size")
            if buf.page_size == 0 or buf.page_size > (1 << 24):
                raise bc.fail(f"implausible sub-buffer size {buf.page_size}", bc.pos - 4)
            n = bc.u32("buffer cpu count")
            _check_count(bc, n, 20, "buffer cpu")
            for _ in range(n):
                cpu = bc.u32("cpu id")
                doff = bc.u64("cpu data offset")
                dsize = bc.u64("cpu data size")
                if cpu > MAX_CPU_ID:
                    # a damaged option: no kernel has that many CPUs, the CPU columns cannot
                    # hold the id, and the rebuild would size its per-CPU state by it
                    c.problems.append(
                        (
                            f"buffer {name!r}: CPU id {cpu} is implausible (damaged option): "
                            f"its data ({dsize} bytes) is skipped",
                            doff,
                        )
                    )
                    continue
                if dsize and doff + dsize > c.size:
                    c.problems.append(
                        (
                            f"buffer {name!r} CPU {cpu} data ({dsize} bytes at {doff}) runs past the end of the file",
                            doff,
                        )
                    )
                buf.cpus.append(CpuBlob(cpu, doff, dsize))
            c.ncpus = max(c.ncpus, max((b.cpu + 1 for b in buf.cpus), default=0))
        if name == "":
            c.buffers.insert(0, buf)
        else:
            c.buffers.append(buf)
    if not c.buffers or c.buffers[0].name != "":
        # A file with instances only: keep index 0 for the (empty) top buffer.
        c.buffers.insert(0, Buffer("", clock="", page_size=c.page_size))
    c.clock = c.buffers[0].clock or (
        O.selected_clock(c.opts.traceclock_text) if c.opts.traceclock_text else "local"
    )


def _recover_buffers(c: Container, data: Any, start: int, where: int) -> bool:
    """Locate CPU data without the BUFFER option (file cut inside or after its data).

    Sections are walked linearly from the first one, as trace-cmd itself does to find the
    STRINGS sections.  In a BUFFER (flyrecord, id 3) section each CPU's data starts page-aligned,
    CPU after CPU (trace-output.c).  Compressed data is a self-delimiting chunk list per CPU;
    uncompressed data is split where a page's time stamp goes back (the next CPU starts).  CPU
    ids are assumed to be 0, 1, … in order (the writer skips CPUs without data, which would shift
    them): said in a warning.
    """
    e = c.endian
    found = []
    p = start
    while p + 16 <= c.size:
        sid, _flags, _desc, size = struct.unpack_from(e + "HHIQ", data, p)
        if sid == O.BUFFER:
            found.append(p)
        if sid > 64 or size > c.size:
            break
        p += 16 + size
    for k, sec in enumerate(found):
        ps = c.page_size
        a = (sec + 16 + ps - 1) // ps * ps
        buf = Buffer("" if k == 0 else f"instance{k}", clock=c.clock, page_size=ps)
        if c.compression != "none":
            cpu = 0
            while a + 4 <= c.size:
                (n,) = struct.unpack_from(e + "I", data, a)
                if n == 0 or n > (c.size - a) // 8 + 1:
                    break
                q = a + 4
                for _ in range(n):
                    if q + 8 > c.size:
                        break
                    cs, _us = struct.unpack_from(e + "II", data, q)
                    q += 8 + cs
                buf.cpus.append(CpuBlob(cpu, a, min(q, c.size) - a - 4))
                cpu += 1
                a = (q + ps - 1) // ps * ps
        elif a < c.size:
            npages = (c.size - a + ps - 1) // ps
            stamps = [
                struct.unpack_from(e + "Q", data, a + i * ps)[0] if a + i * ps + 8 <= c.size else 0
                for i in range(npages)
            ]
            cuts = [0] + [i for i in range(1, npages) if stamps[i] < stamps[i - 1]] + [npages]
            for cpu, (b0, b1) in enumerate(zip(cuts, cuts[1:])):
                off = a + b0 * ps
                buf.cpus.append(CpuBlob(cpu, off, min((b1 - b0) * ps, c.size - off)))
        c.buffers.append(buf)  # possibly without data: the file ends where its data begins
        if buf.cpus:
            how = "chunk lists" if c.compression != "none" else "page time stamps going back"
            c.problems.append(
                (
                    "the BUFFER option is missing (file cut inside or after its data): "
                    f"{len(buf.cpus)} CPU data block(s) found from {how}; CPU ids assumed 0..{len(buf.cpus) - 1}",
                    where,
                )
            )
        else:
            c.problems.append(("the file ends before any CPU data of its BUFFER section", where))
    return bool(c.buffers)


def _read_latency_section(c: Container, sc: Cursor) -> str:
    if c.compression != "none":
        # Latency text of a compressed file is chunked like CPU data (trace-output.c).
        parts = []
        n = sc.u32("chunk count")
        for _ in range(n):
            cs = sc.u32("chunk size")
            us = sc.u32("chunk data size")
            p = sc.pos
            parts.append(
                decompress(
                    c.compression, sc.bytes(cs, "chunk"), us, c.path, sc.base + p, "latency chunk"
                )
            )
        return b"".join(parts).decode("utf-8", errors="replace")
    return bytes(sc.buf[sc.pos : sc.end]).decode("utf-8", errors="replace")


def _codecs() -> list[str]:
    return ["zlib", "zstd"]
