"""Damaged trace.dat files: one FgraphError naming file and offset, or a partial table + warning.

Never another exception; every event before the damage is kept; skipped data is counted
(LostTable rows with source=DAMAGE and meta warnings).
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, FIXTURES

from fgraph.errors import FgraphError, TraceFormatError, TraceParseError
from fgraph.parsers import parse
from fgraph.parsers.tracedat import parse_tracedat
from fgraph.schema import LostSource
from fgraph.source import Source

ZLIB_FIXTURE = FIXTURES / "tracedat_zlib_v7.dat"
NAME = "damaged.dat"


def _parse(data: bytes):
    return parse_tracedat(Source(NAME, data))


def _full(path: Path):
    data = path.read_bytes()
    return data, _parse(data)


def _corpus(rel: str) -> Path:
    p = CORPUS / rel
    if not p.exists():
        pytest.skip(f"corpus file {rel} not present")
    return p


def _per_cpu(table) -> dict[tuple[int, int], np.ndarray]:
    out = {}
    for b, c in set(zip(table["buf"].tolist(), table["cpu"].tolist())):
        rows = np.nonzero((table["buf"] == b) & (table["cpu"] == c))[0]
        out[(b, c)] = rows
    return out


def _assert_prefix(part, full) -> None:
    """Each CPU's records in ``part`` are the first records of that CPU in ``full``."""
    fr = _per_cpu(full)
    for key, rows in _per_cpu(part).items():
        frows = fr[key][: len(rows)]
        assert len(rows) <= len(fr[key])
        assert np.array_equal(part["ts"][rows], full["ts"][frows]), key
        assert np.array_equal(part["pid"][rows], full["pid"][frows]), key
        assert np.array_equal(part["pos"][rows], full["pos"][frows]), key


def test_bad_magic() -> None:
    data = ZLIB_FIXTURE.read_bytes()
    with pytest.raises(TraceFormatError) as ei:
        _parse(b"\x17\x08\x45" + data[3:])
    assert ei.value.path == NAME and ei.value.offset == 0
    assert NAME in str(ei.value) and "magic" in str(ei.value)
    with pytest.raises(FgraphError):
        parse(Source(NAME, b"\x17\x08\x44trazing" + data[10:]))


def test_unknown_version() -> None:
    data = ZLIB_FIXTURE.read_bytes()
    with pytest.raises(TraceFormatError) as ei:
        _parse(data[:10] + b"8" + data[11:])
    assert ei.value.offset == 10 and "version 8" in ei.value.message


def test_bad_endianness_and_page_size() -> None:
    data = bytearray(ZLIB_FIXTURE.read_bytes())
    bad = bytes(data[:12]) + b"\x07" + bytes(data[13:])
    with pytest.raises(TraceFormatError):
        _parse(bad)
    bad2 = bytearray(data)
    struct.pack_into("<I", bad2, 14, 0)
    with pytest.raises(TraceFormatError) as ei:
        _parse(bytes(bad2))
    assert ei.value.offset == 14


def _truncations(data: bytes, data_start: int) -> list[int]:
    head = [3, 10, 11, 13, 20, 40, 100, 300, 1000, 5000]
    meta = np.linspace(5000, data_start, 12).astype(int).tolist()
    body = np.linspace(data_start, len(data) - 1, 25).astype(int).tolist()
    return sorted({x for x in head + meta + body if 0 < x < len(data)})


def _check_truncations(data: bytes, full, data_start: int) -> tuple[int, int]:
    errors = partial = 0
    for cut in _truncations(data, data_start):
        try:
            t = _parse(data[:cut])
        except FgraphError as exc:
            assert exc.path == NAME, exc
            assert exc.offset is not None and 0 <= exc.offset <= len(data), exc
            errors += 1
            continue
        partial += 1
        t.validate()
        _assert_prefix(t, full)
        if len(t) < len(full):
            assert t.meta.warnings, f"cut at {cut}: events lost without a warning"
    return errors, partial


def _first_data_offset(table) -> int:
    return int(table["pos"].min())


def test_truncation_zlib_v7() -> None:
    data, full = _full(ZLIB_FIXTURE)
    errors, partial = _check_truncations(data, full, _first_data_offset(full))
    assert errors and partial


def test_truncation_v6() -> None:
    data, full = _full(_corpus("vm61/btrfs_read.v6.dat"))
    errors, partial = _check_truncations(data, full, _first_data_offset(full))
    assert errors and partial


def test_truncation_v7_inside_data_recovers_the_cpu_blocks() -> None:
    # v7 keeps the per-CPU data locations in an options section written after the data; the
    # reader finds the blocks itself (page-aligned, split where page time stamps go back).
    data, full = _full(_corpus("vm61/btrfs_read.v7none.dat"))
    start = _first_data_offset(full)
    for cut in (start + 5 * 4096 + 1000, len(data) - 3 * 4096 - 100):
        t = _parse(data[:cut])
        _assert_prefix(t, full)
        complete = full["pos"] + 64 <= cut // 4096 * 4096  # records on pages wholly before the cut
        assert len(t) >= complete.sum()
        assert any("BUFFER option is missing" in w.what for w in t.meta.warnings)


def test_truncation_v7_compressed_recovers_chunks() -> None:
    data, full = _full(ZLIB_FIXTURE)
    cpu1 = full["pos"][full["cpu"] == 1]
    cut = int(cpu1[len(cpu1) // 2]) + 20  # inside a chunk of CPU 1
    t = _parse(data[:cut])
    _assert_prefix(t, full)
    assert (t["cpu"] == 0).sum() == (full["cpu"] == 0).sum()
    assert (t["cpu"] == 1).sum() < len(cpu1)
    assert any("BUFFER option is missing" in w.what for w in t.meta.warnings)


def test_truncation_v6_keeps_every_complete_page() -> None:
    data, full = _full(_corpus("vm61/btrfs_read.v6.dat"))
    start = _first_data_offset(full)
    cut = start + 5 * 4096 + 1000  # inside CPU 0's sixth page
    t = _parse(data[:cut])
    _assert_prefix(t, full)
    cpu0 = full["pos"][(full["cpu"] == 0)]
    lens = np.diff(np.append(cpu0, cpu0[-1] + 8))
    # every record that lies wholly before the cut is kept
    assert (t["cpu"] == 0).sum() == ((cpu0 + lens <= cut) | (cpu0 < start + 5 * 4096)).sum() or (
        (t["cpu"] == 0).sum() >= (cpu0 < start + 5 * 4096).sum()
    )
    assert (t["cpu"] == 1).sum() == 0
    assert any("truncated" in w.what for w in t.meta.warnings)
    assert t.meta.warnings[0].where.startswith(NAME)


def _page_of(table, cpu: int, k: int) -> int:
    pos = np.sort(table["pos"][table["cpu"] == cpu])
    return int(pos[k] // 4096 * 4096)


def test_garbled_page_commit() -> None:
    data, full = _full(_corpus("vm61/btrfs_read.v7none.dat"))
    page = _page_of(full, 0, 300)
    bad = bytearray(data)
    struct.pack_into("<Q", bad, page + 8, 0x7FFFFFF)  # commit far larger than the page
    t = _parse(bytes(bad))
    t.validate()
    in_page = (full["pos"] >= page) & (full["pos"] < page + 4096)
    assert len(t) == len(full) - in_page.sum()
    assert np.array_equal(t["ts"], full["ts"][~in_page])
    dmg = t.lost["source"] == LostSource.DAMAGE
    assert dmg.sum() == 1 and t.lost["pos"][dmg][0] == page + 8
    assert any("damaged page" in w.what and f"{page + 8:#x}" in w.where for w in t.meta.warnings)


def test_garbled_event_length_keeps_events_before_it() -> None:
    data, full = _full(_corpus("vm61/btrfs_read.v7none.dat"))
    rows = np.nonzero(full["cpu"] == 1)[0]
    victim = rows[200]
    hdr = int(full["pos"][victim])
    page = hdr // 4096 * 4096
    bad = bytearray(data)
    # type_len 0 with an impossible length word
    struct.pack_into("<II", bad, hdr, 0, 3)
    t = _parse(bytes(bad))
    in_page = (full["pos"] >= page) & (full["pos"] < page + 4096)
    lost_here = in_page & (full["pos"] >= hdr)
    assert len(t) == len(full) - lost_here.sum()
    keep = ~lost_here
    assert np.array_equal(t["pos"], full["pos"][keep])
    dmg = t.lost["source"] == LostSource.DAMAGE
    assert dmg.sum() == 1 and t.lost["pos"][dmg][0] == hdr
    assert t.lost["row"][dmg][0] == int(np.searchsorted(np.nonzero(keep)[0], victim))


def test_corrupt_compressed_chunk() -> None:
    data, full = _full(ZLIB_FIXTURE)
    # find CPU 0's first chunk through the pos of its first record
    pos0 = int(full["pos"][full["cpu"] == 0][0])
    bad = bytearray(data)
    bad[pos0 + 8 : pos0 + 40] = b"\xff" * 32  # destroy the zlib stream of that chunk
    t = _parse(bytes(bad))
    assert (t["cpu"] == 0).sum() == 0
    assert (t["cpu"] == 1).sum() == (full["cpu"] == 1).sum()
    assert any("unreadable" in w.what for w in t.meta.warnings)


def test_metadata_block_damage_is_an_error_with_offset() -> None:
    data = bytearray(ZLIB_FIXTURE.read_bytes())
    # the first section (HEADER_INFO) follows the initial header
    i = data.index(b"zlib\x00") + 5
    i = data.index(b"\x00", i) + 1 + 8
    data[i + 24 : i + 40] = b"\x00" * 16
    with pytest.raises(TraceParseError) as ei:
        _parse(bytes(data))
    assert ei.value.offset is not None and ei.value.path == NAME


@pytest.mark.parametrize("seed", range(6))
def test_random_header_bytes_never_crash(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = bytearray(ZLIB_FIXTURE.read_bytes())
    for _ in range(40):
        k = int(rng.integers(10, 600))
        data2 = bytearray(data)
        data2[k] = int(rng.integers(0, 256))
        with contextlib.suppress(FgraphError):
            _parse(bytes(data2)).validate()


def test_zlib_roundtrip_of_fixture_is_valid_zlib() -> None:
    # sanity of the fixture itself: its first data chunk is a zlib stream
    data, full = _full(ZLIB_FIXTURE)
    pos0 = int(full["pos"][0])
    cs, us = struct.unpack_from("<II", data, pos0)
    assert len(zlib.decompress(data[pos0 + 8 : pos0 + 8 + cs])) == us


def test_lost_event_formats_keep_the_records() -> None:
    data, full = _full(ZLIB_FIXTURE)
    cont_off = data.index(b"zlib\x00") + 5
    cont_off = data.index(b"\x00", cont_off) + 1 + 8
    # walk the sections to the EVENT_FORMATS one (id 18) and break its zlib stream
    p = cont_off
    while True:
        sid, flags, _, size = struct.unpack_from("<HHIQ", data, p)
        if sid == 18:
            break
        p += 16 + size
    bad = bytearray(data)
    bad[p + 16 + 8 : p + 16 + 40] = b"\x00" * 32
    t = _parse(bytes(bad))
    assert len(t) == len(full)  # every record kept: funcgraph ones decoded (ftrace formats survive)
    assert any("event_formats unreadable" in w.what for w in t.meta.warnings)
    fg = t["kind"] > 0
    assert np.array_equal(t["ts"], full["ts"]) and fg.sum() == (full["kind"] > 0).sum()


def test_page_with_time_going_back_is_skipped() -> None:
    data, full = _full(_corpus("vm61/btrfs_read.v7none.dat"))
    page = _page_of(full, 0, 300)
    bad = bytearray(data)
    (ts,) = struct.unpack_from("<Q", data, page)
    struct.pack_into("<Q", bad, page, ts - 5_000_000_000)
    t = _parse(bytes(bad))
    in_page = (full["pos"] >= page) & (full["pos"] < page + 4096)
    assert np.array_equal(t["pos"], full["pos"][~in_page])
    dmg = t.lost["source"] == LostSource.DAMAGE
    assert dmg.sum() == 1 and t.lost["pos"][dmg][0] == page
    assert any("out of order" in w.what for w in t.meta.warnings)
