"""The call columns' pages faulted in ahead of the stack machine (``Rebuilder.prefault``,
``stacks.prefault``: madvise MADV_POPULATE_WRITE) change no value: the calls are the same with
and without it, and the columns already written read the same before and after."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file
from test_stream_tracedat import assert_same_calls

from fgraph._ext import stacks
from fgraph.pipeline import load_windowed
from fgraph.reconstruct.calls import Rebuilder


@pytest.mark.parametrize("rel, window", [("vm61/system.dat", 3000), ("vm61/lost.dat", 2000)])
def test_calls_same_without_prefault(
    rel: str, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = corpus_file(rel)
    asked: list[int] = []
    real = Rebuilder.prefault

    def spy(self: Rebuilder, ahead: int) -> int:
        views = self.column_views()
        before = [v.copy() for v in views]
        got = real(self, ahead)
        assert got >= 0
        assert all(np.array_equal(a, b) for a, b in zip(before, views))
        asked.append(got)
        return got

    monkeypatch.setattr(Rebuilder, "prefault", spy)
    with_it = load_windowed(path, window, delay_prefix=window)
    assert len(asked) > 1
    monkeypatch.setattr(Rebuilder, "prefault", lambda self, ahead: 0)
    without = load_windowed(path, window, delay_prefix=window)
    assert_same_calls(with_it.call_table, without.call_table)


def test_prefault_bounds() -> None:
    r = Rebuilder(2, 0, 1 << 16)
    assert r.prefault(0) == 0
    assert r.prefault(-5) == 0
    # far past the reservation: only the reserved pages are asked for (0 where the kernel
    # cannot populate)
    got = r.prefault(1 << 40)
    assert 0 <= got <= (1 << 16) * 8 * 20
    r.finish()
    assert r.prefault(1 << 10) == 0
    with pytest.raises((TypeError, ValueError)):
        stacks.prefault(object(), 1)


def test_huge_ahead_keeps_prefault_on() -> None:
    # (ncalls + ahead overflowed int64: madvise was asked for ~2^63 bytes, refused it, and
    # populating stayed off for every machine of the process)
    r = Rebuilder(2, 0, 1 << 16)
    before = r.prefault(1 << 12)
    assert 0 <= r.prefault(2**63 - 1) <= (1 << 16) * 8 * 20
    fresh = Rebuilder(2, 0, 1 << 16)
    after = fresh.prefault(1 << 12)
    if before > 0:  # (a kernel without MADV_POPULATE_WRITE gives 0 throughout)
        assert after > 0
