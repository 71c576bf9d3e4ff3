"""String fields of few rows (``fields._strings_cached``, a cache of the raw bytes met before)
give the codes np.unique's way gives, and new strings enter the pool in the same order: the
pool's order decides the codes every later table holds."""

from __future__ import annotations

import numpy as np
import pytest

from fgraph.parsers.tracedat import fields
from fgraph.table import StringPool


def _matrix(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    # few distinct values, with embedded and trailing NULs, bytes that are not UTF-8 and
    # values equal up to their first NUL
    base = [b"", b"bash", b"kworker/0:1", b"a\x00junk", b"a\x00other", b"\xff\xfe", b"zz\x00"]
    vals = [bytes(rng.integers(0, 256, size=int(rng.integers(0, width + 1)), dtype=np.uint8))]
    vals += [b[:width] for b in base]
    pick = rng.integers(0, len(vals), size=n)
    out = np.zeros((n, width), np.uint8)
    for i, k in enumerate(pick.tolist()):
        v = vals[k]
        out[i, : len(v)] = np.frombuffer(v, np.uint8)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_cached_same_codes_and_pool_order(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 20))
    batches = [_matrix(rng, int(rng.integers(0, 60)), width) for _ in range(4)]
    got, ref = StringPool(["x", "bash"]), StringPool(["x", "bash"])
    for m in batches:  # several calls: the cache carries over from one to the next
        a = fields._strings_from_matrix(m, got)
        monkeypatch.setattr(fields, "SMALL_STRINGS", -1)  # np.unique's way
        b = fields._strings_from_matrix(m, ref)
        monkeypatch.setattr(fields, "SMALL_STRINGS", 4096)
        assert a.dtype == b.dtype == np.int32
        assert np.array_equal(a, b)
        assert got.values == ref.values


def test_cache_is_per_pool() -> None:
    m = np.zeros((3, 4), np.uint8)
    m[0, :2] = np.frombuffer(b"ab", np.uint8)
    p1, p2 = StringPool(["q"]), StringPool()
    c1 = fields._strings_from_matrix(m, p1)
    c2 = fields._strings_from_matrix(m, p2)
    assert p1.decode(c1).tolist() == p2.decode(c2).tolist() == ["ab", "", ""]
    # (new strings enter each pool in sorted order: "" before "ab")
    assert c1.tolist() == [2, 1, 1] and c2.tolist() == [1, 0, 0]
