"""Build a large kernel function_graph text trace by repeating a real one.

The template's body (everything after the ``#`` header) is written ``copies`` times.  When the
text has the ``funcgraph-abstime`` column (``   39.608329 |   0) ...``), copy ``k`` has that
time moved by ``k * span`` (the template's time range plus a gap), printed the way the kernel
prints it (kernel/trace/trace_functions_graph.c, print_graph_abs_time: ``%5lu.%06lu``), so the
result reads as one long capture.  Without a time column the body is repeated verbatim.

The template may be zstd/gzip/xz compressed.  Usage::

    python bench/gen_text.py TEMPLATE.txt[.zst] OUT.txt --mb 200
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import os
import re
import sys
from dataclasses import dataclass

# "   39.608329 | " at the start of a line: the abstime column (µs resolution)
_ABSTIME = re.compile(rb"^( *)(\d+)\.(\d{6})( \|)", re.M)


def read_text(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw).read()
    if raw.startswith(b"\x1f\x8b"):
        return gzip.decompress(raw)
    if raw.startswith(b"\xfd7zXZ\x00"):
        return lzma.decompress(raw)
    return raw


def split_header(text: bytes) -> tuple[bytes, bytes]:
    """(leading '#' comment lines, body)."""
    pos = 0
    while pos < len(text) and text.startswith(b"#", pos):
        nl = text.find(b"\n", pos)
        if nl < 0:
            return text, b""
        pos = nl + 1
    return text[:pos], text[pos:]


@dataclass
class TextResult:
    path: str
    copies: int
    bytes: int
    lines: int
    lines_per_copy: int
    span_us: int
    abstime: bool


class _Body:
    """The template body cut at each abstime field, ready to be re-printed with a shift."""

    def __init__(self, body: bytes) -> None:
        self.pieces: list[bytes] = []  # text between time fields (len = ntimes + 1)
        self.us: list[int] = []  # each time in µs
        self.widths: list[int] = []  # leading spaces + seconds digits (kept right-aligned)
        last = 0
        for m in _ABSTIME.finditer(body):
            self.pieces.append(body[last : m.start()])
            self.us.append(int(m.group(2)) * 1_000_000 + int(m.group(3)))
            self.widths.append(len(m.group(1)) + len(m.group(2)))
            last = m.end(3)
        self.pieces.append(body[last:])
        self.body = body

    def render(self, shift_us: int) -> bytes:
        if not self.us or shift_us == 0:
            return self.body
        out = [self.pieces[0]]
        for t, w, piece in zip(self.us, self.widths, self.pieces[1:]):
            s, us = divmod(t + shift_us, 1_000_000)
            out.append(b"%*d.%06d" % (w, s, us))
            out.append(piece)
        return b"".join(out)


def generate(
    template: str, out: str, *, copies: int | None = None, mb: float | None = None
) -> TextResult:
    text = read_text(template)
    header, body = split_header(text)
    if not body.endswith(b"\n"):
        body += b"\n"
    b = _Body(body)
    if copies is None:
        copies = max(1, -(-int((mb or 0) * 1e6) // len(body)))
    span = (max(b.us) - min(b.us) + 1000) if b.us else 0
    total = len(header)
    with open(out, "wb") as f:
        f.write(header)
        for k in range(copies):
            chunk = b.render(k * span)
            f.write(chunk)
            total += len(chunk)
    nlines = body.count(b"\n")
    return TextResult(
        out,
        copies,
        os.path.getsize(out),
        header.count(b"\n") + nlines * copies,
        nlines,
        span,
        bool(b.us),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("template", help="real function_graph text (may be .zst/.gz/.xz)")
    ap.add_argument("out")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--copies", type=int)
    g.add_argument("--mb", type=float, help="at least this many MB (10^6 bytes)")
    a = ap.parse_args(argv)
    try:
        r = generate(a.template, a.out, copies=a.copies, mb=a.mb)
    except (OSError, ValueError) as exc:
        print(f"gen_text: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{r.path}: {r.copies} copies x {r.lines_per_copy} lines, {r.bytes / 1e6:.1f} MB"
        + (f", span {r.span_us / 1e6:.3f} s" if r.abstime else ", no time column (verbatim copies)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
