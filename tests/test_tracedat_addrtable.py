"""Symbols.resolve_into's persistent address table gives what resolve gives, names entering
the pool in the same order, window after window; ringbuf.walk's record hint changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from fgraph.parsers.tracedat.symbols import parse_kallsyms
from fgraph.table import StringPool

KALLSYMS = "\n".join(
    [
        "ffffffff81000000 T _stext",
        "ffffffff81000100 T alpha",
        "ffffffff81000100 t alpha_alias",
        "ffffffff81000200 T beta\t[modb]",
        "ffffffff81000300 T gamma",
        "0000000000001000 T small_one",
        "0000000000002000 T small_two\t[mods]",
        "0000000000003000 T small_three",
    ]
)


def _windows(addrs: list[int], nwin: int, size: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.choice(np.array(addrs, np.uint64), size) for _ in range(nwin)]


@pytest.mark.parametrize("small", [False, True])
@pytest.mark.parametrize("size", [50, 3000])
def test_resolve_into_matches_resolve(small: bool, size: int) -> None:
    syms = parse_kallsyms(KALLSYMS)
    big = [0xFFFFFFFF81000100, 0xFFFFFFFF81000250, 0xFFFFFFFF81000300, 0xFFFFFFFF90000000, 0]
    low = [0x1000, 0x2100, 0x3000, 0x500, 0]
    wins = _windows(low if small else big, 4, size, 7)
    # later windows meet addresses the first did not
    wins[2] = np.concatenate(
        [wins[2], np.array([0x3008 if small else 0xFFFFFFFF81000008], np.uint64)]
    )
    p1, p2 = StringPool(), StringPool()
    for w in wins:
        rows = np.arange(0, len(w), 2, dtype=np.int64)
        f1, m1 = syms.resolve(w, p1, rows)
        f2 = np.full(len(w), -7, np.int32)
        m2 = np.full(len(w), -7, np.int32)
        syms.resolve_into(w, p2, rows, f2, m2)
        assert (f2[rows] == f1).all() and (m2[rows] == m1).all()
        assert (f2[1::2] == -7).all()
        assert [p1[i] for i in range(len(p1))] == [p2[i] for i in range(len(p2))]
    assert len(p1) > 3


@pytest.mark.parametrize("hint", [0, 1, 5000, 10**6])
def test_walk_hint_gives_the_same_records(hint: int) -> None:
    """ringbuf.walk with a record hint (short, about right, far too long) walks as without."""
    from conftest import corpus_file

    from fgraph.parsers.tracedat.ringbuffer import walk
    from fgraph.parsers.tracedat.stream import open_stream
    from fgraph.source import open_source

    st = open_stream(open_source(corpus_file("vm61/btrfs_read.v6.dat")))
    for cur in st.cursors:
        args = (st.mem_obj, cur.blob, cur.page_size, st.data_start, st.long_size, False)
        ref = walk(*args)
        got = walk(*args, hint=hint)
        assert ref.keys() == got.keys()
        for k in ref:
            assert np.array_equal(ref[k], got[k]), k
