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
import os
import struct
import subprocess
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import zstandard
from conftest import FIXTURES, corpus_file, tracecmd
from test_stream_edges import assert_same

from fgraph.parsers.tracedat.ringbuffer import load_blobs, load_lazy
from fgraph.parsers.tracedat.stream import TraceDatStream, open_stream
from fgraph.pipeline import load
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


def _keep(monkeypatch: pytest.MonkeyPatch, keep: int | None) -> None:
    """load_lazy keeps ``keep`` bytes of what it decompressed (None: its default)."""
    from fgraph.parsers.tracedat import ringbuffer

    if keep is not None:
        monkeypatch.setattr(ringbuffer, "KEEP_BYTES", keep)


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
@pytest.mark.parametrize("rel, window", [(LOST, 7), (LOST, 1000), (SMP4, 1000)])
@pytest.mark.parametrize("keep", [None, 0, 200_000])
def test_windowed_read_is_the_whole_read(
    files: dict[tuple[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    rel: str,
    codec: str,
    window: int,
    keep: int | None,
) -> None:
    """The same read whether the first pass's chunks are all kept (the default on these
    files), none are, or only the first of every CPU's (all decompressed again later)."""
    path = files[(rel, codec)]
    assert load(path).meta.compression == codec
    _keep(monkeypatch, keep)
    assert_same(path, window, prefix=window == 1000)


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_chunks_are_dropped_once_read(
    files: dict[tuple[str, str], Path], monkeypatch: pytest.MonkeyPatch, codec: str
) -> None:
    """Only the chunks around the current window are kept: at most a few per CPU after each
    window, none at the end; with nothing kept of the first pass (but the first 8 bytes of
    each page) each chunk is decompressed again when a later window walks it."""
    _keep(monkeypatch, 0)
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


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_the_first_pass_keeps_what_the_windows_read_first(
    files: dict[tuple[str, str], Path], monkeypatch: pytest.MonkeyPatch, codec: str
) -> None:
    """load_lazy leaves the chunks it decompressed in place, up to KEEP_BYTES: all of them
    when they fit, which the windows then read without decompressing them again (but the
    context pages a walk reads before its range, dropped by the window before) and drop as
    they pass them; else the first chunks of every CPU, the same share of each."""
    path = files[(SMP4, codec)]
    st = open_stream(open_source(path), 1000)
    store = st.store
    assert store is not None
    nchunks = len(store.ustart)
    assert store.resident_chunks == nchunks and store.decompressed == 0
    resident = []
    for _ in st.windows():
        resident.append(store.resident_chunks)
    assert resident[-1] == 0 and resident == sorted(resident, reverse=True)
    assert store.decompressed < nchunks // 4
    # a third of the bytes: the first third (or a little less: whole chunks) of every blob
    _keep(monkeypatch, int(store.uend[-1]) // 3)
    st = open_stream(open_source(path), 1000)
    store = st.store
    assert store is not None
    for cur in st.cursors:
        b = cur.blob
        mine = (store.ustart >= b.start) & (store.ustart < b.start + b.length)
        kept = store.resident[mine]
        n = int(kept.sum())
        assert kept[:n].all() and not kept[n:].any()  # its first chunks
        assert int(store.usize[mine][:n].sum()) <= b.length // 3
        # (a third of a blob of 6 chunks or more holds one)
        assert n > 0 or mine.sum() < 6
    assert 0 < store.resident_chunks < nchunks // 2
    assert_same(path, 1000)


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


def _fake_file(sizes: list[int], codec: str = "zlib") -> tuple[Any, bytes, bytes]:
    """A container stub and data holding one CPU blob of 4096-byte pages (random bytes, each
    page stamped with its index) cut into chunks of ``sizes`` bytes: not whole pages, so page
    heads and memory pages straddle chunks.  Returns (container, file bytes, plain data)."""
    rng = np.random.default_rng(7)
    total = sum(sizes)
    plain = bytearray(rng.integers(0, 256, total, dtype=np.uint8).tobytes())
    for p in range(0, total - 7, 4096):
        struct.pack_into("<Q", plain, p, 1000 + p // 4096)
    out = bytearray(b"\0" * 64)  # (where headers would be)
    off = len(out)
    out += struct.pack("<I", len(sizes))
    at = 0
    for n in sizes:
        piece = bytes(plain[at : at + n])
        z = zlib.compress(piece) if codec == "zlib" else zstandard.ZstdCompressor().compress(piece)
        out += struct.pack("<II", len(z), n) + z
        at += n
    cb = SimpleNamespace(cpu=0, offset=off, size=len(out) - off)
    c = SimpleNamespace(
        compression=codec,
        endian="<",
        path="fake.dat",
        buffers=[SimpleNamespace(name="", latency_text=None, cpus=[cb])],
    )
    return c, bytes(out), bytes(plain)


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_pieces_cut_where_a_chunk_starts_a_page(
    codec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob scanned in pieces (as small as they go, on two threads) is the blob scanned
    whole: the pieces are cut only where a chunk starts on a page, whatever the chunk sizes."""
    from fgraph.parsers.tracedat import ringbuffer

    for sizes in (
        [4100, 3, 6997, 4093, 13482, 2900, 2, 1, 3, 9000],
        [4096] * 9,
        [8192, 5, 4091, 4096, 7, 3],
    ):
        c, data, _plain = _fake_file(sizes, codec)
        whole = load_lazy(c, data, lambda bi: 4096, keep=20000)
        monkeypatch.setattr(ringbuffer, "PIECE_BYTES", 1)
        monkeypatch.setattr(ringbuffer, "PARALLEL_SCAN_BYTES", 0)
        cut = load_lazy(c, data, lambda bi: 4096, keep=20000)
        monkeypatch.undo()
        assert [h.tobytes() for h in cut[2]] == [h.tobytes() for h in whole[2]]
        assert cut[0].resident.tolist() == whole[0].resident.tolist()
        assert cut[0].ustart.tolist() == whole[0].ustart.tolist()
        assert bytes(cut[0].mem) == bytes(whole[0].mem)
    # where the cuts fall: page-aligned chunk starts only
    chunks = [(0, 0, n) for n in (4100, 3, 6997, 4093, 13482)]
    assert ringbuffer._pieces(chunks, 4096, 1) == [(0, 5, 0, 28675)]  # (no chunk starts a page)
    chunks = [(0, 0, n) for n in (4096, 5, 4091, 100)]
    assert ringbuffer._pieces(chunks, 4096, 1) == [
        (0, 1, 0, 4096),
        (1, 3, 4096, 4096),
        (3, 4, 8192, 100),
    ]
    assert ringbuffer._pieces([(0, 0, 4096)] * 4, 4096, 8192) == [
        (0, 2, 0, 8192),
        (2, 4, 8192, 8192),
    ]


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_chunks_that_are_not_whole_pages(codec: str) -> None:
    """The store gives the bytes of load_blobs' bytearray however the chunks cut the pages
    (a page head across two chunks, a chunk of 3 bytes, memory pages shared by chunks), and
    dropping a chunk keeps its neighbours' bytes."""
    sizes = [4100, 3, 6997, 4093, 13482, 2900, 2, 1, 3, 9000]
    c, data, plain = _fake_file(sizes, codec)
    mem, blobs = load_blobs(c, data)
    assert bytes(mem) == plain and not blobs[0].problems
    # every chunk left in place by the first pass: the same bytes
    store, lazy, heads = load_lazy(c, data, lambda bi: 4096)
    assert store.resident_chunks == len(sizes)
    assert np.frombuffer(store.mem, np.uint8)[: len(plain)].tobytes() == plain
    # the first chunks that fit wholly in 12000 bytes
    store, lazy, heads = load_lazy(c, data, lambda bi: 4096, keep=12000)
    assert store.resident.tolist() == [True] * 3 + [False] * (len(sizes) - 3)
    store.ensure(0, len(plain))
    assert np.frombuffer(store.mem, np.uint8)[: len(plain)].tobytes() == plain
    # the page heads are the same however many chunks are kept, a head across the last kept
    # chunk and the first other one included (the kept ones' heads are read from the store)
    npages = len(plain) // 4096
    want = list(range(1000, 1000 + npages))
    c2, data2, plain2 = _fake_file([3 * 4096 + 2, 2 * 4096 - 2, 5, 9000, 4096], codec)
    # kept: less than a head, and the next chunk too
    c3, data3, plain3 = _fake_file([3, 2, 4100, 9000, 4096], codec)
    for cc, dd, pp, keep in (
        [(c, data, plain, k) for k in (0, 4100, 12000, 1 << 30)]
        + [(c2, data2, plain2, k) for k in (0, 3 * 4096 + 2, 5 * 4096 + 5, 1 << 30)]
        + [(c3, data3, plain3, k) for k in (3, 5, 4105)]
    ):
        _, _, hh = load_lazy(cc, dd, lambda bi: 4096, keep=keep)
        n = len(pp) // 4096
        assert hh[0].copy().view("<u8").ravel().tolist() == list(range(1000, 1000 + n)), keep
    # nothing kept: decompressed again as asked for (below)
    store, lazy, heads = load_lazy(c, data, lambda bi: 4096, keep=0)
    assert [(b.start, b.length) for b in lazy] == [(b.start, b.length) for b in blobs]
    assert store.resident_chunks == 0
    assert heads[0].copy().view("<u8").ravel().tolist() == want
    view = np.frombuffer(store.mem, np.uint8)
    ends = np.cumsum(sizes)
    for lo, hi in ((0, 10), (4090, 4110), (4103, 11100), (20000, 40000), (0, len(plain))):
        store.ensure(lo, hi)
        assert view[lo:hi].tobytes() == plain[lo:hi]
        # drop every chunk wholly inside [lo, hi) but the first and last it touches
        store.release(lo + 1, hi - 1)
        store.ensure(lo, hi)
        assert view[lo:hi].tobytes() == plain[lo:hi]
    store.release_all()
    assert store.resident_chunks == 0
    # a chunk dropped between two resident ones: their bytes stay (shared memory pages)
    store.ensure(0, len(plain))
    k = 4  # the 13482-byte chunk
    store.release(int(ends[k - 1]), int(ends[k]))
    assert store.resident_chunks == len(sizes) - 1
    for j in (k - 1, k + 1):
        a, z = int(ends[j - 1]), int(ends[j])
        assert view[a:z].tobytes() == plain[a:z]
    store.ensure(0, len(plain))
    assert view[: len(plain)].tobytes() == plain


def _scan(path: Path, parallel: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    from fgraph.parsers.tracedat import ringbuffer
    from fgraph.parsers.tracedat.header import read_container

    monkeypatch.setattr(ringbuffer, "PARALLEL_SCAN_BYTES", 0 if parallel else 1 << 62)
    # (in two threads, each blob in pieces of 12 KB or so: several pieces per CPU)
    monkeypatch.setattr(ringbuffer, "PIECE_BYTES", 3 * 4096 if parallel else 1 << 62)
    data = path.read_bytes()
    c = read_container(data, str(path))
    store, blobs, heads = load_lazy(c, data, lambda bi: 4096)
    return (
        [(b.buf_index, b.cpu, b.start, b.length, b.problems, b.file_offset) for b in blobs],
        [(b.chunk_ustart.tolist(), b.chunk_fileoff.tolist()) for b in blobs],
        [h.tobytes() for h in heads],
        (store.ustart.tolist(), store.usize.tolist(), store.fo.tolist(), store.csize.tolist()),
        store.resident.tolist(),
    )


def _damaged(path: Path, how: str, tmp_path: Path) -> Path:
    """The file ``path`` as it is ("whole"), with its chunk 3 garbled, or truncated at 60% of
    its CPU data."""
    if how == "whole":
        return path
    data = bytearray(path.read_bytes())
    st = open_stream(open_source(path))
    assert st.store is not None
    if how == "garbled":
        fo = int(st.store.fo[3])
        data[fo : fo + 16] = b"\xff" * 16
    else:
        start = min(cur.blob.file_offset for cur in st.cursors)
        data = data[: start + int((len(data) - start) * 0.6)]
    del st
    out = tmp_path / f"{how}.{path.name}"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("how", ["whole", "garbled", "truncated"])
def test_blobs_scanned_in_two_threads_are_scanned_as_in_one(
    files: dict[tuple[str, str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    """load_lazy's scan of the blobs in two threads and in pieces (forced on these small
    files) lays out the same blobs, chunks, page heads, problems and kept chunks as the scan
    of each blob whole in one, and the windowed read after it is the whole read: on 2 and 4
    CPUs, an unreadable chunk (in a CPU's third piece or so), a truncated file."""
    for rel, codec in ((LOST, "zstd"), (LOST, "zlib"), (SMP4, "zstd")):
        path = _damaged(files[(rel, codec)], how, tmp_path)
        one = _scan(path, False, monkeypatch)
        two = _scan(path, True, monkeypatch)
        assert one == two
        if how != "whole":
            assert any(p for b in two[0] for p in b[4])  # the loss was said
        # every chunk kept (a truncated file's chunk tables end at the cut), or none when an
        # unreadable chunk cut a CPU's data short (the blobs after it moved)
        assert all(two[4]) if how != "garbled" else not any(two[4])
        assert_same(path, 1000)  # (with the scan in two threads: still patched)


def _first_pass(c: Any, data: bytes, keep: int, n: int) -> tuple:
    """load_lazy's blobs, heads, kept chunks and store bytes, then the store's first ``n``
    bytes once all of them were asked for."""
    store, blobs, heads = load_lazy(c, data, lambda bi: 4096, keep=keep)
    first = (
        [(b.start, b.length, b.problems) for b in blobs],
        [h.tobytes() for h in heads],
        store.resident.tolist(),
        bytes(store.mem),
    )
    store.ensure(1, n - 1)
    return first, bytes(store.mem)[:n]


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_the_c_loop_reads_as_python_does(
    files: dict[tuple[str, str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    codec: str,
) -> None:
    """The first pass and the store's decompression in one C loop (fgraph/_ext/inflate.c)
    give what the chunk-at-a-time Python path gives (``FGRAPH_PY_INFLATE``): the same blobs,
    chunks, page heads, kept chunks and bytes, with chunks that are not whole pages (heads
    across two or three chunks) and whatever is kept, and on a real file whole, with an
    unreadable chunk and truncated; a chunk that no longer decompresses stops ``ensure``
    with the Python path's error, the chunks before it in place."""
    from fgraph.errors import TraceParseError
    from fgraph.parsers.tracedat import ringbuffer

    # (the codec libraries are on every machine fgraph is tested on: the C loop is what runs)
    assert ringbuffer.c_codec(SimpleNamespace(compression=codec))

    def both(fn: Any, *args: Any) -> tuple[Any, Any]:
        monkeypatch.setenv("FGRAPH_PY_INFLATE", "1")
        py = fn(*args)
        monkeypatch.delenv("FGRAPH_PY_INFLATE")
        return py, fn(*args)

    for sizes in (
        [4100, 3, 6997, 4093, 13482, 2900, 2, 1, 3, 9000],
        [3, 2, 4100, 9000, 4096],
        [3 * 4096 + 2, 2 * 4096 - 2, 5, 9000, 4096],
        [4096] * 9,
    ):
        c, data, plain = _fake_file(sizes, codec)
        for keep in (0, 3, 5, 4100, 4105, 12290, 1 << 30):
            py, cc = both(_first_pass, c, data, keep, len(plain))
            assert py == cc, (sizes, keep)
            assert cc[1] == plain
    for rel, how in ((LOST, "whole"), (LOST, "garbled"), (LOST, "truncated"), (SMP4, "whole")):
        path = _damaged(files[(rel, codec)], how, tmp_path)
        py, cc = both(_scan, path, True, monkeypatch)
        assert py == cc, (rel, how)
    # a chunk that no longer decompresses (the file changed under the reader)
    c, data, plain = _fake_file([4096] * 9, codec)
    raw = bytearray(data)
    store, _, _ = load_lazy(c, raw, lambda bi: 4096, keep=0)
    k = 4
    fo = int(store.fo[k])
    raw[fo : fo + 8] = b"\xff" * 8
    with pytest.raises(TraceParseError, match="decompress"):
        store.ensure(0, len(plain))
    assert store.resident.tolist() == [True] * k + [False] * (9 - k)
    assert bytes(store.mem)[: k * 4096] == plain[: k * 4096]


def test_record_positions_per_page_are_per_record() -> None:
    """``stream._record_pos``: a record's chunk found per page when each page lies in one
    chunk, per record when a page straddles two (the same as ``Blob.file_pos``)."""
    from fgraph.parsers.tracedat.ringbuffer import Blob
    from fgraph.parsers.tracedat.stream import _record_pos

    def blob(ustart: list[int]) -> Blob:
        b = Blob(0, 0, 0, 3 * 4096, compressed=True)
        b.chunk_ustart = np.array(ustart, np.int64)
        b.chunk_fileoff = np.array([100 * (i + 1) for i in range(len(ustart))], np.int64)
        return b

    starts = np.array([0, 4096, 8192], np.int64)
    w = {"hdr": np.array([10, 8200, 9000], np.int64), "nrec": np.array([1, 0, 2], np.int32)}
    whole = blob([0, 8192])  # chunks of whole pages
    assert _record_pos(whole, w, starts, 4096).tolist() == [100, 200, 200]
    cut = blob([0, 5000])  # the second page runs into the second chunk
    w = {"hdr": np.array([10, 4100, 5100], np.int64), "nrec": np.array([1, 2, 0], np.int32)}
    got = _record_pos(cut, w, starts, 4096)
    assert got.tolist() == cut.file_pos(w["hdr"]).tolist() == [100, 100, 200]


@pytest.mark.parametrize("cut", [None, 0.5])
def test_chunk_headers_read_with_pread_are_read_through_the_mapping(
    files: dict[tuple[str, str], Path], tmp_path: Path, cut: float | None
) -> None:
    """The chunk tables of a mapped file, read with pread (``_file_of``), are those read through
    the mapping (or from bytes), problems included, whole and cut short."""
    from fgraph.parsers.tracedat import ringbuffer
    from fgraph.parsers.tracedat.header import read_container

    path = files[(LOST, "zstd")]
    if cut is not None:  # (inside the CPU data, as test_a_truncated_file cuts)
        data = path.read_bytes()
        st = open_stream(open_source(path))
        start = min(cur.blob.file_offset for cur in st.cursors)
        del st
        path = tmp_path / "cut.dat"
        path.write_bytes(data[: start + int((len(data) - start) * cut)])
    src = open_source(path)
    c = read_container(src.data, str(path))
    fd = ringbuffer._file_of(src.data, c.path)
    assert fd is not None
    os.close(fd)
    mapped = ringbuffer._plans(c, src.data)
    plain = ringbuffer._plans(c, path.read_bytes())  # (bytes: no descriptor)
    assert ringbuffer._file_of(path.read_bytes(), c.path) is None
    assert [(p[0], p[2], p[3]) for p in mapped[0]] == [(p[0], p[2], p[3]) for p in plain[0]]
    assert mapped[1] == plain[1] and len(mapped[0]) >= 1
    if cut is not None:
        assert any(p[3] for p in mapped[0])  # a chunk table cut short, said the same way
