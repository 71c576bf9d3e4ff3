"""calls.depth_check's C pass (stacks.depth_marks: issue 7, the finish's speed) against the
numpy steps it replaced, on random tables and the corpus: the flags it marks and the counts by
cause."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

from fgraph.pipeline import load_windowed
from fgraph.reconstruct.calls import REPAIR_FLAGS, depth_check
from fgraph.schema import CallFlag, IrqCtx

NAMES = ("ancestors_not_traced", "repair", "entry_in_flight", "exit_in_flight", "interrupt")


def _reference(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, int]]:
    """The numpy depth check (before stacks.depth_marks): (marked flags, counts by cause)."""
    kd, parent, interrupted = cols["kernel_depth"], cols["parent_id"], cols["interrupted_id"]
    flags, ctx = cols["flags"], cols["ctx"]
    out_flags = flags.copy()
    causes = dict.fromkeys(NAMES, 0)
    nbad = 0
    has_parent = parent >= 0
    is_irq_root = ~has_parent & (interrupted >= 0)
    task_root = ~has_parent & ~is_irq_root
    # kernel depth of the parent, else of the interrupted call (a -1 reads the last row; those
    # rows are task roots, set below)
    ek = kd[np.where(has_parent, parent, interrupted)]
    expected = np.where(ek >= 0, ek + 1, -1).astype(np.int64, copy=False)
    expected[task_root] = 0
    bad = (kd >= 0) & (expected >= 0) & (kd != expected)
    out_flags[bad] |= np.uint16(CallFlag.DEPTH_MISMATCH)
    repaired = (flags & REPAIR_FLAGS) != 0
    prep = has_parent & ((flags[parent] & REPAIR_FLAGS) != 0)
    plain = bad & ~repaired & ~prep & ~task_root
    entry_in_flight = plain & (kd == expected + 1)
    exit_in_flight = plain & (kd == expected - 1)
    in_flight = entry_in_flight | exit_in_flight
    causes["ancestors_not_traced"] += int((bad & task_root & ~repaired).sum())
    causes["repair"] += int((bad & (repaired | prep)).sum())
    causes["entry_in_flight"] += int(entry_in_flight.sum())
    causes["exit_in_flight"] += int(exit_in_flight.sum())
    causes["interrupt"] += int((plain & ~in_flight & (ctx != IrqCtx.TASK)).sum())
    nbad += int(bad.sum())
    causes["other"] = nbad - sum(causes.values())
    return out_flags, causes


class _Table(dict):  # type: ignore[type-arg]
    """What depth_check reads of a CallTable: its columns by name."""


def _random(seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parent = np.full(n, -1, np.int64)
    has = rng.random(n) < 0.7
    parent[has] = rng.integers(0, n, int(has.sum()))
    interrupted = np.full(n, -1, np.int64)
    irq = (parent < 0) & (rng.random(n) < 0.5)
    interrupted[irq] = rng.integers(0, n, int(irq.sum()))
    kd = rng.integers(-1, 5, n).astype(np.int32)
    bits = np.array([0, 0, 0, 0, *(int(f) for f in CallFlag)], np.uint16)
    flags = rng.choice(bits, n) | rng.choice(bits, n)
    ctx = rng.integers(-1, 4, n).astype(np.int8)
    return dict(kernel_depth=kd, parent_id=parent, interrupted_id=interrupted, flags=flags, ctx=ctx)


@pytest.mark.parametrize("seed", range(8))
def test_depth_marks_is_the_numpy_check(seed: int) -> None:
    cols = _random(seed, 5000)
    want_flags, want = _reference(cols)
    t = _Table(cols)
    got = depth_check(t)  # type: ignore[arg-type]
    assert got == want and list(got) == list(want)  # (the same keys, in the same order)
    assert np.array_equal(t["flags"], want_flags)
    assert sum(want.values()) > 0


def test_depth_marks_leaves_a_shared_flags_column_alone() -> None:
    cols = _random(1, 300)
    base = cols["flags"].copy()
    cols["flags"] = base[:]  # (a view: the check marks a copy)
    t = _Table(cols)
    want_flags, want = _reference(cols)
    assert depth_check(t) == want  # type: ignore[arg-type]
    assert np.array_equal(t["flags"], want_flags)
    assert t["flags"] is not cols["flags"] and np.array_equal(cols["flags"], base)


def test_depth_marks_refuses_an_id_past_the_table() -> None:
    cols = _random(2, 50)
    cols["parent_id"][7] = 50
    with pytest.raises(IndexError):
        depth_check(_Table(cols))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["system.dat", "btrfs_read.dat", "lost.dat"])
def test_corpus_depth_check_agrees_with_the_reference(name: str) -> None:
    calls = load_windowed(corpus_file(f"vm61/{name}")).call_table
    cols = {
        k: np.array(calls[k])
        for k in ("kernel_depth", "parent_id", "interrupted_id", "flags", "ctx")
    }
    # (the rebuild's marks taken off: the check marks them again)
    cols["flags"] &= np.uint16(~CallFlag.DEPTH_MISMATCH & 0xFFFF)
    want_flags, want = _reference(cols)
    t = _Table(cols)
    assert depth_check(t) == want  # type: ignore[arg-type]
    assert np.array_equal(t["flags"], want_flags)
    assert np.array_equal(want_flags, calls["flags"])
