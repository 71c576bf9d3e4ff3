"""``irq.contexts_and_mask``'s fused C pass (``stacks.first_contexts``) against the numpy
passes it replaced: the same contexts, bits, funcgraph mask and carried interval levels, on real
traces with and without recorded contexts, one window or many."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

from fgraph._ext import stacks
from fgraph.pipeline import load
from fgraph.reconstruct import irq
from fgraph.reconstruct.timeline import FG_ENTRY_CODE, FG_EXIT_CODE, funcgraph_mask
from fgraph.table import EventTable


def _reference(events: EventTable, order: np.ndarray, carry: dict | None) -> tuple:
    """The numpy passes of irq.event_contexts before the C pass (session 7's code)."""
    ctx = events["irqctx"].astype(np.int8, copy=True)
    bits = np.zeros(len(events), dtype=np.int8)
    kind = events["kind"]
    hard = irq._name_codes(events.strings, irq.HARDIRQ_ROOTS, irq.HARDIRQ_PREFIXES)
    late = irq._named(events["func"], len(events.strings), hard)
    late &= kind == FG_EXIT_CODE
    late &= ctx >= 0
    late &= ctx < irq._HARDIRQ
    ctx[late] = irq._HARDIRQ
    bits[late] |= irq.EB_BYNAME
    unknown = ctx < 0
    if not unknown.any() and carry is None:
        return ctx, bits, funcgraph_mask(events)
    cpu = events["cpu"]
    for ctx_val, k_open, k_close in irq._MARKERS:
        opens = kind == k_open
        closes = kind == k_close
        lv = None if carry is None else carry.setdefault(int(k_open), {})
        if not opens.any() and not (lv and closes.any()):
            continue
        ins = irq._inside(order, cpu, opens, closes, lv) & unknown
        ctx[ins] = np.maximum(ctx[ins], ctx_val)
    unknown = ctx < 0
    fg_unknown = unknown & funcgraph_mask(events)
    if fg_unknown.any():
        func = events["func"]
        roots = irq._named(func, len(events.strings), hard) & fg_unknown
        ctx[roots] = irq._HARDIRQ
        bits[roots] |= irq.EB_BYNAME
        runners = irq._named(
            func, len(events.strings), irq._name_codes(events.strings, irq.SOFTIRQ_RUNNERS)
        )
        runners &= fg_unknown
        bits[runners & (kind == FG_ENTRY_CODE)] |= irq.EB_CONTAINER
    return ctx, bits, funcgraph_mask(events)


@pytest.mark.parametrize(
    "rel",
    [
        "vm61/btrfs_read.txt",  # text: contexts unknown, interrupts found by name
        "vm61/btrfs_read.dat",  # trace.dat: contexts from the flags
        "vm61/system.dat",
        "vm61/variants/nocontext.txt.zst",
    ],
)
def test_fused_pass_matches_the_numpy_passes(rel: str) -> None:
    events = load(str(corpus_file(rel))).event_table
    n = len(events)
    order = np.argsort(events["ts"], kind="stable")
    # whole, without and with a carry, and cut into windows with one carry across them
    for carry in (None, {}):
        want = _reference(events, order, None if carry is None else {})
        got = irq.contexts_and_mask(events, order, carry)
        for w, g in zip(want, got):
            assert w.dtype == g.dtype and np.array_equal(w, g)
    step = max(n // 7, 1)
    carry_ref: dict = {}
    carry_new: dict = {}
    for lo in range(0, n, step):
        rows = order[lo : lo + step]
        win = events.take(rows)
        worder = np.arange(len(win), dtype=np.int64)
        want = _reference(win, worder, carry_ref)
        got = irq.contexts_and_mask(win, worder, carry_new)
        for w, g in zip(want, got):
            assert np.array_equal(w, g)
        assert carry_ref == carry_new


def test_first_contexts_on_made_rows() -> None:
    """Every case of the pass in a few rows: a named exit below hardirq raised (with its bit),
    a named entry, an unknown or hardirq context and an unnamed exit left alone; the kinds
    met, and which rows' contexts are unknown."""
    irqctx = np.array([0, 1, 0, -1, 2, 0, 0, 3], np.int8)
    kind = np.array([2, 2, 1, 2, 2, 2, 3, 70], np.int8)
    func = np.array([5, 5, 5, 5, 5, 4, -1, 9], np.int32)
    named = np.zeros(7, bool)
    named[5] = True
    ctx, bits, fg, kinds, unknown, fg_unknown = stacks.first_contexts(irqctx, kind, func, named)
    assert ctx.tolist() == [2, 2, 0, -1, 2, 0, 0, 3]
    assert bits.tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert fg.tolist() == [True] * 6 + [False, False]
    assert kinds == (1 << 1) | (1 << 2) | (1 << 3) | (1 << 63)
    assert unknown and fg_unknown
    ctx, _, _, kinds, unknown, fg_unknown = stacks.first_contexts(
        irqctx[:3], kind[:3], func[:3], named
    )
    assert not unknown and not fg_unknown and kinds == 0b110
    with pytest.raises(ValueError):
        stacks.first_contexts(irqctx, kind[:3], func, named)


def test_levels_from_the_markers_alone_match_every_row() -> None:
    """``_carry_levels`` (a window whose every context is known: the marker rows alone) ends
    each CPU at the level ``_inside``'s pass over every row does: closes without opens, CPUs
    without markers, levels carried in, any timeline order."""
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(0, 60))
        cpu = rng.integers(0, 3, n).astype(np.int16)
        r = rng.random(n)
        opens = r < 0.15
        closes = (r >= 0.15) & (r < 0.35)
        order = rng.permutation(n).astype(np.int64)
        start = {int(c): int(rng.integers(0, 3)) for c in range(4) if rng.random() < 0.5}
        want, got = dict(start), dict(start)
        irq._inside(order, cpu, opens, closes, want)
        irq._carry_levels(order, cpu, opens, closes, got)
        assert want == got, trial


def test_an_interval_open_through_a_window_without_markers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Rows of a window with no marker, on a CPU whose interval (``==========>``) an earlier
    window opened, are inside it: such a window was once skipped, and its rows left in task
    context (a text read in pieces, where an interrupt or an arrow whose close was lost spans
    a piece, differed from the text read whole)."""
    from fgraph.pipeline import load_windowed
    from fgraph.schema import IrqCtx

    text = (
        "# tracer: function_graph\n#\n"
        " 0)               |  a() {\n"
        " 0)  ==========> |\n"
        " 0)               |    h() {\n"
        " 0)   0.500 us    |      x();\n"
        " 0)   0.500 us    |      y();\n"
        " 0)   0.500 us    |      z();\n"
        " 0)   2.000 us    |    }\n"
        " 0)  <========== |\n"
        " 0)   5.000 us    |  }\n"
    )
    p = tmp_path / "arrows.txt"
    p.write_text(text)
    ref = load(p).call_table
    funcs = list(ref.strings.decode(ref["func"]))
    ctx = dict(zip(funcs, ref["ctx"].tolist()))
    assert ctx["h"] == ctx["x"] == ctx["z"] == IrqCtx.HARDIRQ and ctx["a"] == IrqCtx.TASK
    for window in (1, 2, 3):
        got = load_windowed(p, window, delay_prefix=window).call_table
        assert list(got.strings.decode(got["func"])) == funcs
        assert (got["ctx"] == ref["ctx"]).all(), window
        assert (got["parent_id"] == ref["parent_id"]).all(), window
