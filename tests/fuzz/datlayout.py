"""Where the sizes and counts of a trace.dat are (for crafting damaged files in tests).

Not a reader: it walks the container of a *valid* little-endian file (docs/formats.md §1.1-1.4)
and returns (name, offset, width) of every header integer that tells a reader how much to
read or allocate, plus the offsets of the ring-buffer pages.  Tests overwrite those integers
with huge values and check that fgraph refuses cleanly, quickly and in small memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"\x17\x08\x44tracing"


@dataclass(frozen=True)
class Field:
    name: str
    offset: int
    width: int  # bytes: 2, 4 or 8


class _R:
    def __init__(self, d: bytes, p: int = 0) -> None:
        self.d, self.p = d, p

    def u(self, w: int) -> int:
        v = int.from_bytes(self.d[self.p : self.p + w], "little")
        self.p += w
        return v

    def skip_sized(self, w: int) -> None:
        """Read a w-byte size, then skip that many bytes."""
        n = self.u(w)
        self.p += n

    def cstr(self) -> bytes:
        e = self.d.index(b"\0", self.p)
        s = self.d[self.p : e]
        self.p = e + 1
        return s


def version(d: bytes) -> int:
    assert d.startswith(MAGIC)
    return int(d[10 : d.index(b"\0", 10)])


def _initial(d: bytes, out: list[Field]) -> _R:
    r = _R(d, 10)
    r.cstr()
    r.p += 2
    out.append(Field("page_size", r.p, 4))
    r.p += 4
    return r


def _meta_v6(r: _R, out: list[Field], prefix: str = "") -> None:
    """header_page … cmdlines, as laid out in v6 and inside v7's metadata sections."""
    for tag in (b"header_page\0", b"header_event\0"):
        r.p += len(tag)
        out.append(Field(prefix + tag[:-1].decode() + ".size", r.p, 8))
        r.skip_sized(8)


def v6_fields(d: bytes) -> list[Field]:
    out: list[Field] = []
    r = _initial(d, out)
    _meta_v6(r, out)
    out.append(Field("ftrace.count", r.p, 4))
    for i in range(r.u(4)):
        if i == 0:
            out.append(Field("ftrace[0].size", r.p, 8))
        r.skip_sized(8)
    out.append(Field("systems.count", r.p, 4))
    for s in range(r.u(4)):
        r.cstr()
        if s == 0:
            out.append(Field("system[0].count", r.p, 4))
        for e in range(r.u(4)):
            if s == 0 and e == 0:
                out.append(Field("system[0].event[0].size", r.p, 8))
            r.skip_sized(8)
    out.append(Field("kallsyms.size", r.p, 4))
    r.skip_sized(4)
    out.append(Field("printk.size", r.p, 4))
    r.skip_sized(4)
    out.append(Field("cmdlines.size", r.p, 8))
    r.skip_sized(8)
    out.append(Field("ncpus", r.p, 4))
    ncpus = r.u(4)
    tag = d[r.p : r.p + 10]
    r.p += 10
    if tag == b"options  \0":
        i = 0
        while r.u(2) != 0:
            out.append(Field(f"option[{i}].size", r.p, 4))
            r.skip_sized(4)
            i += 1
        r.p += 10
    for c in range(ncpus):
        out.append(Field(f"cpu{c}.offset", r.p, 8))
        out.append(Field(f"cpu{c}.size", r.p + 8, 8))
        r.p += 16
    return out


def v7_sections(d: bytes) -> list[tuple[int, int, int, int]]:
    """(offset, id, flags, size) of each section header, walked linearly as trace-cmd does."""
    r = _R(d, 10)
    r.cstr()
    r.p += 6
    r.cstr()
    r.cstr()
    r.p += 8
    out = []
    while r.p + 16 <= len(d):
        at = r.p
        sid, flags, _desc, size = struct.unpack_from("<HHIQ", d, at)
        out.append((at, sid, flags, size))
        r.p = at + 16 + size
    return out


def v7_fields(d: bytes) -> list[Field]:
    out: list[Field] = []
    r = _initial(d, out)
    r.cstr()
    r.cstr()
    out.append(Field("options_offset", r.p, 8))
    for at, sid, flags, size in v7_sections(d):
        out.append(Field(f"section{sid}@{at}.size", at + 8, 8))
        body = at + 16
        if flags & 1 and sid != 3:
            out.append(Field(f"section{sid}@{at}.block.csize", body, 4))
            out.append(Field(f"section{sid}@{at}.block.usize", body + 4, 4))
        if sid == 3 and flags & 1:
            # compressed per-CPU data: the first blob starts page-aligned after the header
            blob = (body + 4095) // 4096 * 4096
            out.append(Field("flyrecord.nchunks", blob, 4))
            out.append(Field("flyrecord.chunk0.csize", blob + 4, 4))
            out.append(Field("flyrecord.chunk0.usize", blob + 8, 4))
        if sid == 0 and not flags & 1:
            out.extend(_v7_options(d, body, at + 16 + size))
        if sid == 16 and not flags & 1:
            _meta_v6(_R(d, body), out, f"section16@{at}.")
    return out


def _v7_options(d: bytes, p: int, end: int) -> list[Field]:
    out = []
    i = 0
    while p + 6 <= end:
        oid, size = struct.unpack_from("<HI", d, p)
        out.append(Field(f"option{oid}[{i}].size", p + 2, 4))
        if oid == 3:  # BUFFER: offset, name, clock, page size, ncpus, (cpu, offset, size)…
            r = _R(d, p + 6 + 8)
            r.cstr()
            r.cstr()
            out.append(Field("buffer.page_size", r.p, 4))
            out.append(Field("buffer.ncpus", r.p + 4, 4))
            r.p += 8
            out.append(Field("buffer.cpu0.id", r.p, 4))
            out.append(Field("buffer.cpu0.offset", r.p + 4, 8))
            out.append(Field("buffer.cpu0.size", r.p + 12, 8))
        if oid == 8:  # CPUCOUNT: u32 number of CPUs
            out.append(Field("cpucount", p + 6, 4))
        if oid == 0:
            break
        p += 6 + size
        i += 1
    return out


def fields(d: bytes) -> list[Field]:
    return v6_fields(d) if version(d) == 6 else v7_fields(d)


def poke(d: bytes, f: Field, value: int) -> bytes:
    b = bytearray(d)
    b[f.offset : f.offset + f.width] = (value & ((1 << (8 * f.width)) - 1)).to_bytes(
        f.width, "little"
    )
    return bytes(b)
