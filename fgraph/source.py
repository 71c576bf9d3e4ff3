"""Open an input (path or ``-`` for stdin), undo gzip/zstd/xz, and say what it is.

Parsers get a :class:`Source`: the input's bytes as a read-only buffer (an ``mmap`` for plain
files, so a multi-GB trace.dat is not copied into memory) plus its name for messages.

A compressed input or a pipe has no file to map.  It is decompressed (or read) piece by piece,
kept in memory up to :data:`SPILL_BYTES` and past that written to an unlinked temporary file
(``$TMPDIR``) that is then mapped like a plain file: the page cache holds the input, not the
process, and the readers give its pages back as they go (a 203 MB text as ``.zst`` or on stdin
read at 740 MB peak RSS when it was held in memory, 539 MB as a plain file).

A compressed input that is damaged or cut short still gives what decompressed before the damage,
with a warning that says where it stopped and how many compressed bytes were not read
(:attr:`Source.warnings`, passed on to the trace's warnings by the parsers); only an input of
which nothing decompresses is an error.
"""

from __future__ import annotations

import contextlib
import io
import lzma
import mmap
import os
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .errors import FgraphError, TraceFormatError, TraceWarning

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
TRACE_DAT_MAGIC = b"\x17\x08\x44tracing"

# Decompressed (or piped) bytes kept in memory; more goes to a temporary file.  Small inputs
# (tests, the bundled traces) never touch the disk.
SPILL_BYTES = 32 << 20
PIECE = 1 << 20  # compressed (or piped) bytes read at a time
WRITE = 1 << 16  # bytes written to the temporary file at a time (_Collect._spill)
# Compressed bytes given to the decompressor at a time: the output of a call that fails on
# damage is lost with it (and gzip's data check fails only at the end of its member)
FEED = 1 << 16


@dataclass
class Source:
    name: str
    data: bytes | memoryview | mmap.mmap
    compression: str = "none"  # around the whole input: none, gzip, zstd, xz
    # what was lost undoing the compression (a damaged or truncated input)
    warnings: list[TraceWarning] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.data)

    def head(self, n: int = 4096) -> bytes:
        return bytes(self.data[:n])


def release_pages(data: Any, lo: int = 0, hi: int | None = None) -> None:
    """Give back the resident pages of a mapped input (of its bytes ``lo:hi``, the pages they
    are in; default all): a read mapping's touched pages count in the resident set, and a
    reader that has what it needs from them should not hold them (touched again, they are read
    back from the page cache).  Not a mapping: nothing to do."""
    if not isinstance(data, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
        return
    # (closed, or no such advice here)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        a = max(lo, 0) // mmap.PAGESIZE * mmap.PAGESIZE
        z = len(data) if hi is None else min(hi, len(data))
        if z > a:
            data.madvise(mmap.MADV_DONTNEED, a, z - a)


class _Collect:
    """Where an input read piece by piece goes: memory up to :data:`SPILL_BYTES`, then an
    unlinked temporary file, mapped read-only once complete."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.parts: list[bytes] = []
        self.size = 0
        self.file: Any = None

    def write(self, b: bytes) -> None:
        if not b:
            return
        try:
            if self.file is None and self.size + len(b) > SPILL_BYTES:
                # (buffering=0: the pieces are large, written as they are)
                self.file = tempfile.TemporaryFile(prefix="fgraph-", buffering=0)  # noqa: SIM115
                for p in self.parts:
                    self._spill(p)
                self.parts = []
            if self.file is None:
                self.parts.append(b)
            else:
                self._spill(b)
        except OSError as exc:
            self.close()
            raise FgraphError(
                f"cannot write the input to a temporary file in {tempfile.gettempdir()}: "
                f"{exc.strerror or exc} (set TMPDIR to a directory with room for it)",
                path=self.name,
            ) from None
        self.size += len(b)

    def _spill(self, b: bytes) -> None:
        # In WRITE-byte writes: the page cache keeps what one write() brings as one folio
        # (ext4's large folios), and a read fault then maps the whole folio.  Written 1 MB at a
        # time, the mapped file stayed ~15 MB more resident under the read's peak (a 173 MB
        # trace.dat on stdin: 266 MB peak RSS, 247 MB in 64 kB writes, 248 MB read from its
        # own file).
        v = memoryview(b)
        for at in range(0, len(v), WRITE):
            self.file.write(v[at : at + WRITE])

    def result(self) -> bytes | mmap.mmap:
        if self.file is None:
            data, self.parts = b"".join(self.parts), []
            return data
        try:
            return mmap.mmap(self.file.fileno(), 0, access=mmap.ACCESS_READ)
        finally:  # (the mapping keeps the file; its space is freed when the mapping goes)
            self.close()
            # the pieces read and decompressed on the way were freed into the heap, which the
            # CLI does not trim by itself (fgraph._malloc): 40-45 MB of a piped 89 MB
            # trace.dat's peak RSS stayed there
            from ._malloc import release_free_memory

            release_free_memory()

    def close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None


def _pieces(stream: BinaryIO, first: bytes = b"") -> Iterator[bytes]:
    if first:
        yield first
    while True:
        b = stream.read(PIECE)
        if not b:
            return
        yield b


def _decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "xz":
        return lzma.LZMADecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _decode_errors() -> tuple[type[BaseException], ...]:
    errs: tuple[type[BaseException], ...] = (zlib.error, lzma.LZMAError, EOFError, ValueError)
    with contextlib.suppress(ImportError):
        import zstandard

        errs += (zstandard.ZstdError,)
    return errs


def _inflate(name: str, kind: str, pieces: Iterator[bytes], out: _Collect) -> list[TraceWarning]:
    """Decompress ``pieces`` (a gzip/xz/zstd input: several members or frames one after the
    other, as ``cat a.gz b.gz`` makes, and zero padding after them are allowed) into ``out``.
    Damage or a cut stops it: what decompressed before stays, and the warning returned says
    where it stopped and how many compressed bytes were not read.  Nothing decompressed at all
    is an error."""
    errors = _decode_errors()
    d = _decompressor(kind)
    fed = 0  # compressed bytes the decompressors have taken
    started = False  # the current member has had input
    problem: str | None = None
    unread = 0
    for piece in pieces:
        if problem is not None:  # (counted, not decompressed)
            unread += len(piece)
            continue
        view = memoryview(piece)
        at = 0
        while at < len(view):
            if d.eof:
                if not bytes(view[at:]).strip(b"\0"):  # padding after the last member
                    fed += len(view) - at
                    at = len(view)
                    break
                d, started = _decompressor(kind), False
            data = view[at : at + FEED]
            try:
                o = d.decompress(data)
            except errors as exc:
                problem = f"damaged {kind} data at or after compressed byte {fed}: {exc}"
                unread += len(view) - at
                break
            started = True
            out.write(o)
            # (a member's end leaves the rest of the slice in unused_data: the next member's)
            took = len(data) - len(d.unused_data) if d.eof else len(data)
            fed += took
            at += took
    if problem is None and started and not d.eof:
        # (zlib keeps output back until it has more input: what it has)
        if kind == "gzip":
            with contextlib.suppress(*errors):
                out.write(d.flush())
        problem = (
            f"{kind} input ends before its end-of-stream mark (truncated) after {fed} "
            "compressed bytes"
        )
    if problem is None:
        return []
    if out.size == 0:
        out.close()
        raise FgraphError(f"cannot decompress {kind} input: {problem}", path=name)
    what = f"{problem}; read the {out.size} bytes decompressed before it" + (
        f", {unread} compressed bytes after it not read" if unread else ""
    )
    return [TraceWarning(what, name, -1)]


def compression_of(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return "none"


def _first_bytes(stream: BinaryIO) -> bytes:
    """The stream's first piece, at least the 8 bytes the compression magics need unless it
    ends before (a pipe may return less per read)."""
    b = stream.read(PIECE) or b""
    while 0 < len(b) < 8:
        more = stream.read(PIECE)
        if not more:
            break
        b += more
    return b


def _from_stream(name: str, stream: BinaryIO, first: bytes | None = None) -> Source:
    """A stream read to its end (stdin, a pipe, a compressed file): decompressed when it is
    compressed, held as :class:`_Collect` holds it."""
    head = _first_bytes(stream) if first is None else first
    if not head:
        raise TraceFormatError("empty input", path=name)
    kind = compression_of(head[:8])
    out = _Collect(name)
    try:
        if kind == "none":
            for p in _pieces(stream, head):
                out.write(p)
            warnings: list[TraceWarning] = []
        else:
            warnings = _inflate(name, kind, _pieces(stream, head), out)
    except OSError as exc:
        out.close()
        raise FgraphError(f"cannot read: {exc.strerror or exc}", path=name) from None
    except BaseException:
        out.close()
        raise
    if out.size == 0:
        out.close()
        raise TraceFormatError(f"empty input after {kind} decompression", path=name)
    return Source(name, out.result(), kind, warnings)


def open_source(path: str | os.PathLike[str] | BinaryIO | bytes) -> Source:
    """Open ``path`` (``"-"`` = stdin, a binary stream, or bytes) and undo outer compression."""
    if isinstance(path, (bytes, bytearray)):
        name, raw = "<bytes>", bytes(path)
        if not raw:
            raise TraceFormatError("empty input", path=name)
        if compression_of(raw[:8]) == "none":
            return Source(name, raw, "none")
        return _from_stream(name, io.BytesIO(raw))
    if hasattr(path, "read"):
        return _from_stream(getattr(path, "name", "<stream>"), path)  # type: ignore[arg-type]
    if str(path) == "-":
        return _from_stream("<stdin>", sys.stdin.buffer)
    name = os.fspath(path)  # type: ignore[arg-type]
    try:
        f = open(name, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise FgraphError("no such file", path=name) from None
    except IsADirectoryError:
        raise FgraphError("is a directory (give a trace file)", path=name) from None
    except OSError as exc:
        raise FgraphError(f"cannot open: {exc.strerror}", path=name) from None
    with f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            # a named pipe or a device (``fgraph hist <(zcat trace.gz)``): nothing to map
            return _from_stream(name, f)
        if st.st_size == 0:
            raise TraceFormatError("empty file", path=name)
        head = f.read(8)
        if compression_of(head) != "none":
            # read as a stream (its pages are not mapped: the decompressed bytes are the input)
            return _from_stream(name, f, head + (f.read(PIECE) or b""))
        return Source(name, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), "none")


def peek(path: str, n: int) -> bytes:
    """The first ``n`` bytes of a file with its outer compression undone (fewer when it is
    shorter or damaged): what it is, without reading it."""
    with open(path, "rb") as f:
        head = f.read(max(n, 8))
        kind = compression_of(head)
        if kind == "none":
            return head[:n]
        f.seek(0)
        out = b""
        d = _decompressor(kind)
        with contextlib.suppress(*_decode_errors()):
            while len(out) < n and not d.eof:
                b = f.read(4096)
                if not b:
                    break
                out += d.decompress(b)
        return out[:n]
