"""Bounds-checked reading of trace.dat integers, strings and compressed blocks.

Every read names the file and the byte offset when it runs off the end, so a truncated or
garbled header becomes one :class:`~fgraph.errors.TraceParseError` instead of an
``IndexError`` or ``struct.error`` deep inside the reader.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from ...errors import TraceFormatError, TraceParseError


class Cursor:
    """A read position in a buffer with the file's endianness.

    ``base`` is the file offset of ``buf[0]`` (decompressed sections are read from their own
    buffer; error offsets still point at the section in the file).
    """

    def __init__(
        self,
        buf: Any,
        pos: int,
        big_endian: bool,
        path: str,
        base: int = 0,
        what: str = "",
        end: int | None = None,
    ) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else min(end, len(buf))
        self.e = ">" if big_endian else "<"
        self.path = path
        self.base = base
        self.what = what

    def fail(self, msg: str, at: int | None = None) -> TraceParseError:
        where = f" in {self.what}" if self.what else ""
        off = self.base + (self.pos if at is None else at)
        return TraceParseError(f"{msg}{where}", path=self.path, offset=off)

    def need(self, n: int, what: str) -> int:
        if n < 0 or self.pos + n > self.end:
            raise self.fail(
                f"truncated: {what} needs {n} bytes, {max(self.end - self.pos, 0)} left"
            )
        p = self.pos
        self.pos += n
        return p

    def _unpack(self, fmt: str, n: int, what: str) -> int:
        p = self.need(n, what)
        return int(struct.unpack_from(self.e + fmt, self.buf, p)[0])

    def u8(self, what: str = "u8") -> int:
        return self._unpack("B", 1, what)

    def u16(self, what: str = "u16") -> int:
        return self._unpack("H", 2, what)

    def u32(self, what: str = "u32") -> int:
        return self._unpack("I", 4, what)

    def u64(self, what: str = "u64") -> int:
        return self._unpack("Q", 8, what)

    def bytes(self, n: int, what: str = "bytes") -> bytes:
        p = self.need(n, what)
        return bytes(self.buf[p : p + n])

    def cstr(self, what: str = "string", limit: int = 1 << 20) -> str:
        """A NUL-terminated string (the NUL is consumed)."""
        stop = min(self.end, self.pos + limit)
        i = self.pos
        # find() on mmap/bytes is C-speed; memoryview has no find, so fall back to bytes().
        if hasattr(self.buf, "find"):
            i = self.buf.find(b"\x00", self.pos, stop)
        else:
            chunk = bytes(self.buf[self.pos : stop])
            j = chunk.find(b"\x00")
            i = -1 if j < 0 else self.pos + j
        if i < 0:
            raise self.fail(f"unterminated {what}")
        s = bytes(self.buf[self.pos : i]).decode("utf-8", errors="replace")
        self.pos = i + 1
        return s

    def sized_span(self, size_bytes: int, what: str) -> tuple[Any, int, int]:
        """A u32/u64 size and the bytes after it, not read: (buffer, offset, size), the
        cursor moved past them (a big section read only when asked for: ``Container``)."""
        n = self.u64(what + " size") if size_bytes == 8 else self.u32(what + " size")
        if n > self.end - self.pos:
            raise self.fail(f"{what} size {n} exceeds the {self.end - self.pos} bytes left")
        return self.buf, self.need(n, what), n

    def sized_text(self, size_bytes: int, what: str) -> str:
        """A u32/u64 size followed by that many bytes of text."""
        buf, at, n = self.sized_span(size_bytes, what)
        return bytes(buf[at : at + n]).decode("utf-8", errors="replace")


CODECS = ("zlib", "zstd")


def decompress(
    codec: str, data: bytes | memoryview, usize: int, path: str, offset: int, what: str
) -> bytes:
    """Decompress one trace-cmd block or chunk (zlib stream or zstd frame without content size)."""
    try:
        if codec == "zlib":
            out = zlib.decompress(data)
        elif codec == "zstd":
            import zstandard

            # trace-cmd writes frames without a content size (ZSTD_c_contentSizeFlag=0,
            # lib/trace-cmd/trace-compress-zstd.c), so give the size from the block header.
            out = zstandard.ZstdDecompressor().decompress(
                bytes(data), max_output_size=max(usize, 1)
            )
        else:
            raise TraceFormatError(f"unsupported compression {codec!r}", path=path, offset=offset)
    except TraceFormatError:
        raise
    except Exception as exc:  # zlib.error, zstandard.ZstdError
        raise TraceParseError(
            f"cannot decompress {what} ({codec}): {exc}", path=path, offset=offset
        ) from None
    if len(out) != usize:
        raise TraceParseError(
            f"{what} decompressed to {len(out)} bytes, header says {usize}",
            path=path,
            offset=offset,
        )
    return out
