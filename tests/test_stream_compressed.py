"""The windowed read of compressed (v7 zstd and zlib) trace.dat files (issue 7, P3): the CPU
data's chunks (``u32 csize, u32 usize, bytes``, trace-cmd lib/trace-cmd/trace-output.c) are
decompressed as the windows need them and dropped once the windows have passed them
(``ChunkStore``), and the read is still the whole read: calls, quality report, warnings and
lost-event rows, with windows small enough that chunks are dropped and decompressed again,
for a truncated file and for unreadable chunks.

The zstd files are written by ``trace-cmd convert``; the zlib ones by
tests/fixtures/make_zlib_v7.py (Debian's trace-cmd writes no zlib).
"""

from __future__ import annotations

import importlib.util
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, corpus_file, tracecmd
from test_stream_edges import assert_same

from fgraph.load import load
from fgraph.parsers.tracedat.stream import TraceDatStream, open_stream
from fgraph.source import open_source

pytestmark = pytest.mark.corpus

LOST = "vm61/lost.dat"  # 2 CPUs, 115 gaps from page flags
SMP4 = "vm61/smp4_instances.dat"  # 4 CPUs and a buffer instance


def _zlib(src: Path, dst: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_zlib_v7", FIXTURES / "make_zlib_v7.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    dst.write_bytes(mod.convert(src.read_bytes()))
    return dst


def _zstd(src: Path, dst: Path) -> Path:
    subprocess.run(
        [tracecmd(), "convert", "-i", str(src), "-o", str(dst)]
        + ["--file-version", "7", "--compression", "zstd"],
        check=True,
        capture_output=True,
    )
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    d = tmp_path_factory.mktemp("compressed")
    out = {}
    for rel in (LOST, SMP4):
        name = Path(rel).stem
        out[(rel, "zstd")] = _zstd(corpus_file(rel), d / f"{name}.zstd.dat")
        out[(rel, "zlib")] = _zlib(corpus_file(rel), d / f"{name}.zlib.dat")
    return out


def _windows(path: Path, window: int) -> tuple[TraceDatStream, list[int]]:
    """Read every window; the resident chunks after each."""
    st = open_stream(open_source(path), window)
    assert st.store is not None
    resident = []
    for _ in st.windows():
        resident.append(st.store.resident_chunks)
    return st, resident


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
@pytest.mark.parametrize("rel, window", [(LOST, 7), (LOST, 1000), (SMP4, 1000)])
def test_windowed_read_is_the_whole_read(
    files: dict[tuple[str, str], Path], rel: str, codec: str, window: int
) -> None:
    path = files[(rel, codec)]
    assert load(path).meta.compression == codec
    assert_same(path, window, prefix=window == 1000)


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_chunks_are_dropped_once_read(files: dict[tuple[str, str], Path], codec: str) -> None:
    """Only the chunks around the current window are kept: at most a few per CPU after each
    window, none at the end; each chunk is decompressed again when a later window walks it
    (the first 8 bytes of each page, taken up front, are all that is kept of the first pass)."""
    st, resident = _windows(files[(SMP4, codec)], 1000)
    store = st.store
    assert store is not None
    nchunks = len(store.ustart)
    assert len(resident) > 20 and nchunks > 50
    assert resident[-1] == 0
    assert max(resident) <= 3 * len(st.cursors) < nchunks // 2
    assert store.decompressed >= nchunks  # every chunk was needed once by the windows
    # a dropped chunk's memory went back to the kernel (a private anonymous page reads as
    # zeros again), although it held ring-buffer pages (their time stamps are not zero)
    mem = np.frombuffer(store.mem, np.uint8)
    a, z = int(store.ustart[1]), int(store.ustart[1] + store.usize[1])
    assert not mem[a:z].any()


def test_the_read_does_not_rely_on_what_is_kept(
    files: dict[tuple[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every chunk dropped after every window (the held-back records' too): what the next
    window reads is decompressed again, and the read is the same."""

    def drop_everything(self: TraceDatStream) -> None:
        assert self.store is not None
        self.store.release_all()

    monkeypatch.setattr(TraceDatStream, "_release", drop_everything)
    for codec in ("zstd", "zlib"):
        assert_same(files[(LOST, codec)], 300)


@pytest.mark.parametrize("frac", [0.4, 0.9])
def test_a_truncated_file(files: dict[tuple[str, str], Path], tmp_path: Path, frac: float) -> None:
    """Cut inside the CPU data: the chunks before the cut are read, the same loss reported."""
    src = files[(LOST, "zstd")]
    data = src.read_bytes()
    st = open_stream(open_source(src))
    start = min(cur.blob.file_offset for cur in st.cursors)
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: start + int((len(data) - start) * frac)])
    ref = load(cut)
    assert any("runs past the data" in w.what or "truncated" in w.what for w in ref.warnings)
    assert_same(cut, 7)
    assert_same(cut, 1000)


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
@pytest.mark.parametrize("how", ["garbled", "size"])
def test_an_unreadable_chunk(
    files: dict[tuple[str, str], Path], tmp_path: Path, codec: str, how: str
) -> None:
    """A chunk that does not decompress (garbled bytes, or a size its header does not say)
    loses it and the rest of its CPU's data, with the whole read's warning."""
    src = files[(LOST, codec)]
    st = open_stream(open_source(src))
    assert st.store is not None
    k = 3  # a chunk of CPU 0, neither its first nor its last
    assert int(st.store.ustart[k]) < st.cursors[0].blob.start + st.cursors[0].blob.length
    fo = int(st.store.fo[k])
    data = bytearray(src.read_bytes())
    if how == "garbled":
        data[fo : fo + 16] = b"\xff" * 16
    else:
        (us,) = struct.unpack_from("<I", data, fo - 4)
        struct.pack_into("<I", data, fo - 4, us + 4096)
    bad = tmp_path / "bad.dat"
    bad.write_bytes(bytes(data))
    ref = load(bad)
    assert [w.what for w in ref.warnings if "unreadable" in w.what]
    assert_same(bad, 7)
    assert_same(bad, 1000)
