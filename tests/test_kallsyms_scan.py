"""parse_kallsyms's C line scan (ringbuf.kallsyms_scan) against the numpy parse it replaced, on
real kallsyms and on random text with every kind of line it must skip."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

from fgraph._ext import ringbuf  # type: ignore[attr-defined]
from fgraph.parsers.tracedat.symbols import parse_kallsyms

_HEX = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(b"0123456789abcdef"):
    _HEX[_ch] = _i
for _i, _ch in enumerate(b"ABCDEF"):
    _HEX[_ch] = 10 + _i


def numpy_scan(raw: bytes, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The numpy version (session 5's parse_kallsyms), kept as the reference."""
    b = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(b == 10)
    start = np.concatenate([[0], nl + 1]).astype(np.int64)
    end = np.concatenate([nl, [len(b)]]).astype(np.int64)
    ok = end - start >= w + 4
    start, end = start[ok], end[ok]
    digits = _HEX[b[start[:, None] + np.arange(w)]]
    ok = (digits >= 0).all(axis=1) & (b[start + w] == 32) & (b[start + w + 2] == 32)
    typ = b[start + w + 1]
    name0 = b[np.minimum(start + w + 3, len(b) - 1)]
    ok &= (typ != ord("A")) & (typ != ord("a")) & (name0 != ord("$")) & (name0 > 32)
    digits, start, end = digits[ok], start[ok], end[ok]
    addr = np.zeros(len(start), dtype=np.uint64)
    for k in range(w):
        addr = (addr << np.uint64(4)) | digits[:, k].astype(np.uint64)
    return addr, start, end


def check(raw: bytes, w: int) -> None:
    got = ringbuf.kallsyms_scan(raw, w)
    want = numpy_scan(raw, w)
    for g, x in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, x)
        assert g.dtype == x.dtype


def random_text(rng: np.random.Generator, w: int, n: int) -> bytes:
    lines = []
    for _ in range(n):
        a = "".join(rng.choice(list("0123456789abcdefABCDEF"), size=w))
        typ = rng.choice(list("tTdDbBrRaAW"))
        name = rng.choice(["f", "$x", "vfs_read", " sp", "\tq", "x\t[mod]", ""])
        line = f"{a} {typ} {name}"
        k = int(rng.integers(0, 8))
        if k == 0:  # a bad digit
            line = line[:1] + "g" + line[2:]
        elif k == 1:  # cut short
            line = line[: int(rng.integers(0, len(line) + 1))]
        elif k == 2:  # a wrong separator
            line = line[:w] + "x" + line[w + 1 :]
        lines.append(line)
    text = "\n".join(lines)
    return (text + "\n" if rng.integers(0, 2) else text).encode()


@pytest.mark.parametrize("w", [1, 3, 8, 15, 16])
def test_random_lines_as_numpy(w: int) -> None:
    rng = np.random.default_rng(w)
    for n in (0, 1, 2, 7, 300):
        check(random_text(rng, w, n), w)
    for raw in (b"", b"\n", b"\n\n", b"0" * w + b" t f", b"0" * w + b" t f\n", b"0" * w + b" t"):
        check(raw, w)


def test_real_kallsyms_as_numpy() -> None:
    from fgraph.parsers import parse_windows
    from fgraph.source import open_source

    c = parse_windows(open_source(str(corpus_file("vm61/fsync.dat"))), 1 << 16).c
    raw = c.kallsyms.encode()
    w = raw.find(b" ")
    check(raw, w)
    s = parse_kallsyms(c.kallsyms)
    assert len(s) > 10_000


def test_bad_width_is_refused() -> None:
    for w in (0, 17, -1):
        with pytest.raises(ValueError, match="width"):
            ringbuf.kallsyms_scan(b"ffff t f\n", w)


def test_packed_names_are_the_lines_names() -> None:
    """parse_kallsyms keeps only each symbol's name and module, packed in address order
    (ringbuf.pack_spans): every entry reads as it does from its line of the whole text."""
    from fgraph.parsers import parse_windows
    from fgraph.source import open_source

    raw = parse_windows(open_source(str(corpus_file("vm61/fsync.dat"))), 1 << 16).c.kallsyms_raw
    w = raw.find(b" ")
    s = parse_kallsyms(raw)
    addr, start, end = numpy_scan(raw, w)
    rev = np.arange(len(addr))[::-1]
    order = rev[np.argsort(addr[rev], kind="stable")]
    assert (s.addrs == addr[order]).all()
    assert len(s.text) < len(raw) * 2 // 3
    for j in np.linspace(0, len(s) - 1, 500).astype(int).tolist() + [len(s) - 1]:
        line = raw[int(start[order[j]]) : int(end[order[j]])].decode()
        parts = line[w + 3 :].split(None, 1)
        mod = parts[1][1:].split("]", 1)[0].strip() if len(parts) > 1 else ""
        assert s.entry(j) == (parts[0], mod)
    assert any(s.entry(j)[1] for j in range(len(s)))  # (module symbols among them)


def test_pack_spans_refuses_spans_outside_the_buffer() -> None:
    two = np.array([0, 2], np.int64)
    assert ringbuf.pack_spans(b"abcdef", two, np.array([1, 4], np.int64)) == b"acd"
    assert ringbuf.pack_spans(b"", np.empty(0, np.int64), np.empty(0, np.int64)) == b""
    for st, en in (([0], [7]), ([-1], [2]), ([3], [2])):
        with pytest.raises(ValueError, match="outside"):
            ringbuf.pack_spans(b"abcdef", np.array(st, np.int64), np.array(en, np.int64))
    with pytest.raises(ValueError, match="length"):
        ringbuf.pack_spans(b"abcdef", two, np.array([1], np.int64))
