"""Open an input (path or ``-`` for stdin), undo gzip/zstd/xz, and say what it is.

Parsers get a :class:`Source`: the input's bytes as a read-only buffer (an ``mmap`` for plain
files, so a multi-GB trace.dat is not copied into memory) plus its name for messages.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import lzma
import mmap
import os
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

from .errors import FgraphError, TraceFormatError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
TRACE_DAT_MAGIC = b"\x17\x08\x44tracing"


@dataclass
class Source:
    name: str
    data: bytes | memoryview | mmap.mmap
    compression: str = "none"  # around the whole input: none, gzip, zstd, xz

    def __len__(self) -> int:
        return len(self.data)

    def head(self, n: int = 4096) -> bytes:
        return bytes(self.data[:n])


def release_pages(data: Any) -> None:
    """Give back the resident pages of a mapped input: a read mapping's touched pages count in
    the resident set, and a reader that has what it needs from them should not hold them
    (touched again, they are read back from the page cache).  Not a mapping: nothing to do."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):  # (closed, or no such advice here)
            data.madvise(mmap.MADV_DONTNEED)


def _read_all(stream: BinaryIO) -> bytes:
    return stream.read()


def _decompress(name: str, raw: bytes | mmap.mmap, kind: str) -> bytes:
    try:
        if kind == "gzip":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:  # type: ignore[arg-type]
                return f.read()
        if kind == "xz":
            return lzma.decompress(raw)
        if kind == "zstd":
            import zstandard

            out = io.BytesIO()
            dctx = zstandard.ZstdDecompressor()
            with dctx.stream_reader(io.BytesIO(raw), read_across_frames=True) as r:  # type: ignore[arg-type]
                while True:
                    chunk = r.read(1 << 24)
                    if not chunk:
                        break
                    out.write(chunk)
            return out.getvalue()
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise FgraphError(f"cannot decompress {kind} input: {exc}", path=name) from None
    except Exception as exc:  # zstandard.ZstdError has no common base we can import lazily
        raise FgraphError(f"cannot decompress {kind} input: {exc}", path=name) from None
    raise AssertionError(kind)


def compression_of(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return "none"


def open_source(path: str | os.PathLike[str] | BinaryIO | bytes) -> Source:
    """Open ``path`` (``"-"`` = stdin, a binary stream, or bytes) and undo outer compression."""
    if isinstance(path, (bytes, bytearray)):
        name, raw = "<bytes>", bytes(path)
    elif hasattr(path, "read"):
        name = getattr(path, "name", "<stream>")
        raw = _read_all(path)  # type: ignore[arg-type]
    elif str(path) == "-":
        name, raw = "<stdin>", _read_all(sys.stdin.buffer)
    else:
        name = os.fspath(path)  # type: ignore[arg-type]
        try:
            f = open(name, "rb")  # noqa: SIM115 (closed below, after mmap)
        except FileNotFoundError:
            raise FgraphError("no such file", path=name) from None
        except IsADirectoryError:
            raise FgraphError("is a directory (give a trace file)", path=name) from None
        except OSError as exc:
            raise FgraphError(f"cannot open: {exc.strerror}", path=name) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise TraceFormatError("empty file", path=name)
            raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[assignment]
    if len(raw) == 0:
        raise TraceFormatError("empty input", path=name)
    kind = compression_of(bytes(raw[:8]))
    if kind != "none":
        data = _decompress(name, raw, kind)
        if not data:
            raise TraceFormatError(f"empty input after {kind} decompression", path=name)
        return Source(name, data, kind)
    return Source(name, raw, "none")
