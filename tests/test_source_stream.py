"""Compressed and piped inputs read piece by piece (fgraph/source.py): the same bytes as a
plain file, spilled to a temporary file past SPILL_BYTES, and a damaged or cut compressed
input read up to the damage with a warning instead of refused."""

from __future__ import annotations

import gzip
import io
import lzma
import mmap
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zstandard

import fgraph.source as source
from fgraph.errors import FgraphError
from fgraph.parsers import parse
from fgraph.source import Source, open_source

ROOT = Path(__file__).resolve().parent.parent
DAT = ROOT / "fgraph" / "data" / "fsync.dat"  # bundled real trace.dat
TEXT = ROOT / "tests" / "fixtures" / "text" / "funcgraph_example.txt"

CODECS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


def _same_events(a, b) -> None:  # type: ignore[no-untyped-def]
    assert len(a) == len(b)
    for name, col in a.columns.items():
        np.testing.assert_array_equal(col, b.columns[name], err_msg=name)
    assert [a.strings[i] for i in range(len(a.strings))] == [
        b.strings[i] for i in range(len(b.strings))
    ]


@pytest.fixture
def small_spill(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spill after 100 kB, read 64 kB at a time: the temporary-file path on small inputs."""
    monkeypatch.setattr(source, "SPILL_BYTES", 100_000)
    monkeypatch.setattr(source, "PIECE", 1 << 16)


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("spill", [False, True])
def test_compressed_and_piped_inputs_read_as_the_plain_file(
    tmp_path: Path, codec: str, spill: bool, request: pytest.FixtureRequest
) -> None:
    if spill:
        request.getfixturevalue("small_spill")
    for plain in (DAT, TEXT):
        raw = plain.read_bytes()
        p = tmp_path / (plain.name + "." + codec)
        p.write_bytes(CODECS[codec](raw))
        for src in (open_source(p), open_source(io.BytesIO(p.read_bytes()))):
            assert src.compression == codec and not src.warnings
            assert isinstance(src.data, mmap.mmap) == spill
            assert bytes(src.data) == raw
        # and uncompressed from a stream (stdin): the same
        src = open_source(io.BytesIO(raw))
        assert src.compression == "none" and bytes(src.data) == raw
        assert isinstance(src.data, mmap.mmap) == spill
        _same_events(parse(open_source(p)), parse(open_source(plain)))


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("plain", [DAT, TEXT], ids=["trace.dat", "text"])
def test_a_cut_compressed_input_gives_what_decompressed(
    tmp_path: Path, codec: str, plain: Path, small_spill: None
) -> None:
    """A compressed file cut short (a copy taken while it was written): the bytes that
    decompress are read as the same plain file cut there, after a warning saying so."""
    raw = plain.read_bytes()
    packed = CODECS[codec](raw)
    p = tmp_path / ("cut." + codec)
    # (a zstd block is up to 128 kB of the text: cut inside the last ones)
    p.write_bytes(packed[: len(packed) * 9 // 10])
    src = open_source(p)
    n = len(src)
    assert 0 < n < len(raw)
    assert bytes(src.data) == raw[:n]
    (w,) = src.warnings
    assert "truncated" in w.what and f"read the {n} bytes" in w.what and w.where == str(p)
    cut = parse(open_source(p))
    assert cut.meta.warnings[0] == w  # first: it explains the others
    _same_events(cut, parse(Source(str(p), raw[:n])))


def test_damage_in_the_middle_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "FEED", 4096)
    raw = TEXT.read_bytes()
    packed = bytearray(gzip.compress(raw))
    at = len(packed) // 2
    packed[at : at + 64] = b"\xff" * 64  # (no valid deflate code)
    p = tmp_path / "damaged.gz"
    p.write_bytes(bytes(packed))
    src = open_source(p)
    (w,) = src.warnings
    m = re.match(r"damaged gzip data at or after compressed byte (\d+): ", w.what)
    assert m and 0 < int(m.group(1)) < len(packed)
    # what came before the damage is there (deflate may decode a little garbage before it
    # notices, or only its data check at the end does)
    assert len(src) > 1000 and bytes(src.data)[:1000] == raw[:1000]


def test_members_padding_and_trailing_garbage(tmp_path: Path) -> None:
    a, b = TEXT.read_bytes()[:5000], TEXT.read_bytes()[5000:]
    for codec, comp in CODECS.items():
        two = comp(a) + comp(b)
        assert bytes(open_source(two).data) == a + b  # `cat a.gz b.gz`
        src = open_source(two + bytes(16))  # zero padding after the last member
        assert bytes(src.data) == a + b and not src.warnings
        src = open_source(comp(a) + b"not compressed at all")
        assert bytes(src.data) == a
        (w,) = src.warnings
        assert w.what.startswith(f"damaged {codec} data at or after compressed byte {len(comp(a))}")


def test_nothing_decompressible_is_an_error(tmp_path: Path) -> None:
    for codec, magic in (
        ("gzip", source.GZIP_MAGIC),
        ("zstd", source.ZSTD_MAGIC),
        ("xz", source.XZ_MAGIC),
    ):
        p = tmp_path / f"junk.{codec}"
        p.write_bytes(magic + b"\x07" * 40)
        with pytest.raises(FgraphError, match=f"cannot decompress {codec} input"):
            open_source(p)


def test_a_cut_that_leaves_too_little_names_the_damage(tmp_path: Path) -> None:
    p = tmp_path / "tiny.gz"
    p.write_bytes(gzip.compress(TEXT.read_bytes())[:100])  # "Demonstrations of"
    with pytest.raises(FgraphError, match=r"not .*function_graph.*\(the input is damaged: gzip"):
        parse(open_source(p))


def test_a_named_pipe_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    raw = gzip.compress(TEXT.read_bytes())

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(raw)

    t = threading.Thread(target=feed)
    t.start()
    try:
        src = open_source(fifo)
    finally:
        t.join()
    assert src.compression == "gzip" and bytes(src.data) == TEXT.read_bytes()


def test_no_room_for_the_spill_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, small_spill: None
) -> None:
    def full(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(source.tempfile, "TemporaryFile", full)
    with pytest.raises(FgraphError, match="temporary file in .*No space left.*TMPDIR"):
        open_source(gzip.compress(DAT.read_bytes()))


def test_cli_reads_a_cut_trace_with_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "cut.dat.zst"
    packed = zstandard.ZstdCompressor().compress(DAT.read_bytes())
    p.write_bytes(packed[: len(packed) // 2])
    run = [sys.executable, "-m", "fgraph", "hist", str(p), "--func", "vfs_fsync_range"]
    r = subprocess.run(run, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "vfs_fsync_range:" in r.stdout
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"fgraph: warning: {p}: zstd input ends before its end-of-stream")
    r = subprocess.run([*run, "--strict"], capture_output=True, text=True)
    assert r.returncode == 3
    # and from stdin
    r = subprocess.run(
        [sys.executable, "-m", "fgraph", "stats", "-"], input=p.read_bytes(), capture_output=True
    )
    assert r.returncode == 0 and b"<stdin>: zstd input ends before" in r.stderr
