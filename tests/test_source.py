"""Input opening: compression detection, stdin, clear errors."""

from __future__ import annotations

import gzip
import lzma
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from fgraph.errors import FgraphError, TraceFormatError
from fgraph.parsers import KERNEL_TEXT, REPORT_TEXT, TRACE_DAT, detect_format
from fgraph.source import open_source

TEXT = b"# tracer: function_graph\n#\n 0)   0.198 us    |  foo();\n"


@pytest.mark.parametrize(
    "wrap,kind",
    [
        (lambda b: b, "none"),
        (gzip.compress, "gzip"),
        (lzma.compress, "xz"),
        (lambda b: zstandard.ZstdCompressor().compress(b), "zstd"),
    ],
)
def test_outer_compression_is_undone(tmp_path: Path, wrap, kind) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "t.txt"
    p.write_bytes(wrap(TEXT))
    src = open_source(p)
    assert src.compression == kind
    assert bytes(src.data) == TEXT


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(FgraphError, match="no such file"):
        open_source(tmp_path / "nope.dat")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(TraceFormatError, match="empty"):
        open_source(tmp_path / "empty")
    with pytest.raises(FgraphError, match="directory"):
        open_source(tmp_path)


def test_bad_compressed_input(tmp_path: Path) -> None:
    p = tmp_path / "bad.gz"
    p.write_bytes(gzip.compress(TEXT)[:10])  # the header, nothing after it
    with pytest.raises(FgraphError, match="decompress"):
        open_source(p)


def test_detect_format() -> None:
    assert detect_format(b"\x17\x08\x44tracing6\x00") == TRACE_DAT
    assert detect_format(TEXT) == KERNEL_TEXT
    assert (
        detect_format(b"cpus=2\n  sh-107 [000] 17.863299: funcgraph_entry: |  vfs_read() {\n")
        == REPORT_TEXT
    )
    with pytest.raises(TraceFormatError, match="not function_graph"):
        detect_format(b"# tracer: nop\n#\n")
    with pytest.raises(TraceFormatError):
        detect_format(b"hello world\nthis is not a trace\n")
    with pytest.raises(TraceFormatError):
        detect_format(b"\x00\x01\x02binary junk")


def test_stdin_dash_reads_stdin() -> None:
    code = "from fgraph.source import open_source; s = open_source('-'); print(s.name, len(s))"
    out = subprocess.run(
        [sys.executable, "-c", code], input=gzip.compress(TEXT), capture_output=True, check=True
    )
    assert out.stdout.decode().split() == ["<stdin>", str(len(TEXT))]
