"""Session 4's review of the call-table build in C (branch finish-speed): what it found.

Each test pins one bug found in the new stacks passes (fgraph/_ext/stacks.c: overfull, members,
times, trees, entry_key, tie_order, moves, renumber, remap, invert, call_flags) or in
calls.py's build_table around them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fgraph._ext import stacks
from fgraph.reconstruct.calls import _entry_order
from fgraph.schema import CallFlag


def _survives(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter: a segfault there is a failed test, not a dead
    test run."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "call",
    [
        "stacks.remap(np.arange(2, dtype=np.int64), z)",
        "stacks.renumber(z, np.zeros(1, np.int64), np.zeros(1, np.int64))",
        "stacks.entry_key(z, np.zeros(1, np.uint16))",
        "stacks.trees(z, None, None, 1)",
        "stacks.trees(z, None, None, 1, None, np.zeros(0, np.int64), np.zeros(0, np.int64))",
    ],
)
def test_zero_dim_array_is_a_type_error_not_a_crash(call: str) -> None:
    # The in-place passes read an array's length (PyArray_DIM(a, 0)) before checking that it
    # is one-dimensional: a 0-d array has no dimensions (NULL), so the read crashed the
    # interpreter instead of raising.
    r = _survives(
        f"""
        import numpy as np
        from fgraph._ext import stacks
        z = np.array(5, np.int64)
        try:
            {call}
        except (TypeError, ValueError) as e:
            print("raised", type(e).__name__)
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "raised" in r.stdout


def _times_args() -> tuple[np.ndarray, ...]:
    parent = np.array([-1, 0, 1], np.int64)
    interrupted = np.full(3, -1, np.int64)
    duration = np.array([10, 5, 2], np.int64)
    ts = np.zeros(3, np.int64)
    return parent, interrupted, duration, ts, ts.copy(), np.zeros(3, np.uint16)


@pytest.mark.parametrize("alias", ["self=duration", "irq=duration", "irq=view of self", "self=ts"])
def test_times_refuses_outputs_that_share_memory_with_inputs(alias: str) -> None:
    # stacks.times writes self/irq_ns into the caller's arrays (memset to 0 first): given
    # the duration (or a view of the other output) it zeroed the durations it then read and
    # returned garbage, silently.  It must refuse instead.
    parent, interrupted, duration, t0, t1, flags = _times_args()
    spare = np.zeros(6, np.int64)
    self_out, irq_out = {
        "self=duration": (duration, None),
        "irq=duration": (None, duration),
        "irq=view of self": (spare[:3], spare[:3][::1].view()),
        "self=ts": (t0, None),
    }[alias]
    with pytest.raises(ValueError, match="shares memory"):
        stacks.times(parent, interrupted, duration, t0, t1, flags, self_out, irq_out)


def test_times_with_spare_outputs_matches_fresh_ones() -> None:
    parent, interrupted, duration, t0, t1, flags = _times_args()
    ref = stacks.times(parent, interrupted, duration.copy(), t0, t1, flags)
    s, i = np.full(3, 7, np.int64), np.full(3, 7, np.int64)
    out = stacks.times(parent, interrupted, duration.copy(), t0, t1, flags, s, i)
    assert out[0] is s and out[1] is i
    assert (s == ref[0]).all() and (i == ref[1]).all()
    assert s.tolist() == [5, 3, 2]


def _synth_chain(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the machine makes of a trace that starts inside k nested calls (a leaf, then the
    exits of its k callers, innermost first): row 0 the leaf, row j the synthesized entry of
    the j-th caller out, which adopted row j - 1; every synthesized entry takes the place of
    the first call it adopted, so all k + 1 calls share one place."""
    n = k + 1
    parent = np.append(np.arange(1, n), -1).astype(np.int64)
    order = np.zeros(n, np.int64)
    flags = np.full(n, np.uint16(CallFlag.SYNTH_ENTRY), np.uint16)
    flags[0] = 0
    return order, parent, flags


def test_entry_order_of_a_deep_chain_at_one_place_resolves_depths() -> None:
    # tie_order walked up from every call of a run that shares a place: along one chain of k
    # synthesized entries that is k^2/2 steps (40,000 deep: 1.5 s, e948f19's lexsort 0.01 s;
    # 160,000 deep ~25 s).  It gives up past a budget of steps, and _entry_order resolves
    # every depth instead (the old lexsort): the same order, parents first.
    order, parent, flags = _synth_chain(3000)
    key = order.copy()
    assert stacks.entry_key(key, flags)
    perm = np.argsort(key, kind="stable")
    assert stacks.tie_order(perm, key, parent) is None
    n = len(order)
    depth0, _ = stacks.resolve(parent, False)
    ref = np.lexsort((np.arange(n), (flags & CallFlag.SYNTH_ENTRY) == 0, depth0, order))
    perm, moved, src = _entry_order(order.copy(), parent, flags)
    assert (perm == ref).all()
    assert (perm == np.arange(n)[::-1]).all()  # the outermost caller first, the leaf last
    assert (moved == np.flatnonzero(ref != np.arange(n))).all() and (src == ref[moved]).all()


def test_short_runs_still_sorted_by_tie_order() -> None:
    # a few shallow runs stay within the budget: tie_order sorts them itself
    order, parent, flags = _synth_chain(5)
    key = order.copy()
    assert stacks.entry_key(key, flags)
    perm = np.argsort(key, kind="stable")
    moved, src = stacks.tie_order(perm, key, parent)
    assert perm.tolist() == [5, 4, 3, 2, 1, 0]
    assert moved.tolist() == [0, 1, 2, 3, 4, 5] and src.tolist() == [5, 4, 3, 2, 1, 0]


def test_trees_renumbers_interrupted_without_ctx() -> None:
    # With (moved, src) trees renumbers the call ids of parent and interrupted as it reads
    # them; interrupted was only read (and so renumbered) when ctx was given too: without
    # ctx, parent's ids became the new rows and interrupted's stayed the old ones, silently.
    parent = np.array([-1, 0, -1, 2], np.int64)
    interrupted = np.array([-1, -1, 1, -1], np.int64)
    moved, src = np.array([0, 1], np.int64), np.array([1, 0], np.int64)  # rows 0 and 1 swap
    want_p, want_i = parent.copy(), interrupted.copy()
    stacks.renumber(want_p, moved, src)
    stacks.renumber(want_i, moved, src)
    for ctx in (np.zeros(4, np.int8), None):
        p, i = parent.copy(), interrupted.copy()
        stacks.trees(p, ctx, None, 1, i, moved, src)
        assert p.tolist() == want_p.tolist() and i.tolist() == want_i.tolist(), ctx


def test_entry_moves_gives_up_on_a_deep_chain_like_tie_order() -> None:
    # entry_moves walks the depths of the rows that share a place as tie_order does, with the
    # same budget: on a deep chain it returns None (the caller resolves every depth), on a short
    # one it orders the run itself, parents first
    order, parent, flags = _synth_chain(3000)
    key = order.copy()
    assert stacks.entry_key(key, flags)
    assert stacks.entry_moves(key, parent, len(key)) is None
    order, parent, flags = _synth_chain(5)
    key = order.copy()
    assert stacks.entry_key(key, flags)
    moved, src = stacks.entry_moves(key, parent, len(key))
    assert moved.tolist() == [0, 1, 2, 3, 4, 5] and src.tolist() == [5, 4, 3, 2, 1, 0]


def test_interrupt_name_codes_follow_a_growing_pool() -> None:
    # the codes are remembered per pool and only the strings added since are scanned: a name
    # added after the first lookup (the decode thread grows the pool between windows) is found
    from fgraph.reconstruct.irq import HARDIRQ_PREFIXES, HARDIRQ_ROOTS, _name_codes
    from fgraph.table import StringPool

    pool = StringPool(["vfs_read", "do_IRQ"])
    assert _name_codes(pool, HARDIRQ_ROOTS, HARDIRQ_PREFIXES).tolist() == [1]
    pool.code("ksys_write")
    pool.code("__sysvec_apic_timer_interrupt")
    assert _name_codes(pool, HARDIRQ_ROOTS, HARDIRQ_PREFIXES).tolist() == [1, 3]
    # another name set of the same pool has its own scan
    assert _name_codes(pool, frozenset({"vfs_read"})).tolist() == [0]
    # and another pool its own codes
    assert _name_codes(StringPool(["__sysvec_x"]), HARDIRQ_ROOTS, HARDIRQ_PREFIXES).tolist() == [0]


def test_an_implausible_cpu_id_in_a_v7_buffer_option_is_skipped_with_a_warning() -> None:
    # fuzz case btrfs.v7.dat:345 (--master 19): bit flips made a CPU id of 268435457; the
    # windowed rebuild sized its per-CPU state by it and died with MemoryError
    import fgraph

    path = Path(__file__).parent / "fuzz" / "crashes" / "crash-btrfs.v7.dat-703be05194.bin"
    t = fgraph.load_windowed(path, 997, delay_prefix=997)
    assert t.stats["events_unaccounted"] == 0
    msgs = [w.what for w in t.warnings]
    assert any("CPU id 268435457 is implausible" in m and "skipped" in m for m in msgs)
