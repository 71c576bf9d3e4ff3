"""Interrupt context of every function_graph record, from every signal the input has.

Order of trust, per record:

1. ``irqctx`` decoded by the parser from ``common_flags`` (trace.dat) or the latency-format
   flags column (text): the kernel's own word (``tracing_gen_ctx`` in kernel/trace/trace.c).
2. Interval signals on the record's CPU: between ``==========>`` and ``<==========`` (the kernel
   marks functions of the ``__irqentry_text`` section, trace_functions_graph.c
   ``print_graph_irq``) and between ``irq_handler_entry``/``exit`` is hardirq; between
   ``softirq_entry``/``exit`` is softirq.
3. Function names (text without flags or arrows): entries of the functions that start an
   interrupt on the kernel (``HARDIRQ_ROOTS``) open a hardirq level, and the children of the
   function that runs pending softirqs (``SOFTIRQ_RUNNERS``) run in softirq context.  Calls in
   such levels carry ``CallFlag.CTX_BY_NAME``.

The names were derived from the data: on the Debian 6.1 x86-64 kernel of the vm61 corpus the
interrupt entry code (``sysvec_*``, ``common_interrupt``: ``noinstr``) is not traced, and the
roots of the hardirq runs in system.dat / btrfs_read.dat are ``__sysvec_*``,
``__common_interrupt``, ``irq_exit_rcu`` and ``tick_irq_enter`` (called by the untraced part of
``irq_enter_rcu`` after the hardirq count was raised), while softirq handlers run as children of
``handle_softirqs`` (``__do_softirq`` before 6.8).  The ``smp_*_interrupt``/``do_IRQ`` names are
the classic x86 entry points of older kernels (arch/x86/kernel/apic, irq.c), ``gic_handle_irq``
and ``handle_domain_irq`` the arm64 ones.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .._ext import stacks
from .._numpy import unique
from ..schema import EventKind, IrqCtx
from ..table import EventTable
from .timeline import FG_ENTRY_CODE

EB_BYNAME = 0x01
EB_CONTAINER = 0x02

HARDIRQ_ROOTS: frozenset[str] = frozenset(
    {
        # vm61 (6.1 x86-64): roots of hardirq runs in system.dat / btrfs_read.dat
        "__common_interrupt",
        "irq_exit_rcu",
        "tick_irq_enter",
        # classic x86 entry points (before the idtentry rework, ~5.8)
        "do_IRQ",
        "smp_apic_timer_interrupt",
        "smp_call_function_interrupt",
        "smp_call_function_single_interrupt",
        "smp_reschedule_interrupt",
        "smp_irq_work_interrupt",
        "smp_error_interrupt",
        "smp_spurious_interrupt",
        "smp_thermal_interrupt",
        "smp_threshold_interrupt",
        "smp_x86_platform_ipi",
        "uv_bau_message_interrupt",
        # arm / arm64
        "gic_handle_irq",
        "handle_domain_irq",
        "handle_IPI",
        "do_interrupt_handler",
    }
)
HARDIRQ_PREFIXES: tuple[str, ...] = ("__sysvec_",)
SOFTIRQ_RUNNERS: frozenset[str] = frozenset({"handle_softirqs", "__do_softirq"})


# The codes as plain ints for the column comparisons (see timeline.FG_ENTRY_CODE)
_HARDIRQ = int(IrqCtx.HARDIRQ)
# (the context each pair of interval markers sets, its open and its close kind)
_MARKERS: tuple[tuple[int, int, int], ...] = tuple(
    (int(c), int(o), int(x))
    for c, o, x in (
        (IrqCtx.SOFTIRQ, EventKind.SOFTIRQ_ENTRY, EventKind.SOFTIRQ_EXIT),
        (IrqCtx.HARDIRQ, EventKind.IRQ_ENTRY, EventKind.IRQ_EXIT),
        (IrqCtx.HARDIRQ, EventKind.IRQ_ARROW_IN, EventKind.IRQ_ARROW_OUT),
    )
)

# Per string pool and name set: (strings scanned, their codes that match).  A pool only grows
# (StringPool.code appends), and a windowed read asks once a window: only the strings added
# since are scanned (the whole pool every window was ~0.06 s of the rebuild's thread at 10M
# records).  Weak keys: a pool's entry goes with it.
_SCANNED: weakref.WeakKeyDictionary[Any, dict[Any, tuple[int, list[int]]]] = (
    weakref.WeakKeyDictionary()
)


def _name_codes(
    strings: object, names: frozenset[str], prefixes: tuple[str, ...] = ()
) -> np.ndarray:
    values: list[str] = strings.values  # type: ignore[attr-defined]
    try:
        per_pool = _SCANNED.setdefault(strings, {})
    except TypeError:  # (not weakly referenceable: scanned whole)
        per_pool = {}
    done, codes = per_pool.get((names, prefixes), (0, []))
    n = len(values)  # (the decode thread may append meanwhile: the rest is scanned next time)
    if done < n:
        codes = codes + [
            i
            for i in range(done, n)
            if values[i] in names or (prefixes and values[i].startswith(prefixes))
        ]
        per_pool[(names, prefixes)] = (n, codes)
    return np.array(codes, dtype=np.int32)


def _name_table(nstrings: int, codes: np.ndarray) -> np.ndarray:
    """A bool per string code: whether it is one of ``codes`` (and a last one, False, that code
    -1 reads).  The table also covers ``codes``: the windows share one pool, which the decode
    thread grows meanwhile, so a name's code may be past the ``nstrings`` taken before it (no
    record of these events has it)."""
    nstrings = max(nstrings, int(codes.max(initial=-1)) + 1)
    t = np.zeros(nstrings + 1, dtype=bool)
    t[codes] = True
    return t


def _named(func: np.ndarray, nstrings: int, codes: np.ndarray) -> np.ndarray:
    """np.isin(func, codes) by a table over the string codes (func -1 reads its last, False)."""
    # (take: the same lookup as t[func], negative codes included, at a third of its time on
    # a window's 2^16 records)
    return _name_table(nstrings, codes).take(func)


def _inside(
    order: np.ndarray,
    cpu: np.ndarray,
    opens: np.ndarray,
    closes: np.ndarray,
    levels: dict[int, int] | None = None,
) -> np.ndarray:
    """Per row: is it between an open and a close marker on its CPU (timeline order)?

    The nesting level is a running sum reflected at 0, so a close without open (the trace began
    inside the interval) does not poison the rest of the CPU.  ``levels`` carries each CPU's
    level from the previous timeline window to the next (updated in place).
    """
    n = len(order)
    inside = np.zeros(n, dtype=bool)
    delta_rows = opens.astype(np.int64) - closes.astype(np.int64)
    cpus = unique(cpu[opens | closes])
    if levels:
        cpus = unique(
            np.concatenate([cpus, np.array([c for c, v in levels.items() if v > 0], cpu.dtype)])
        )
    for c in cpus:  # per CPU
        rows = order[cpu[order] == c]
        l0 = levels.get(int(c), 0) if levels is not None else 0
        s = np.cumsum(delta_rows[rows]) + l0
        # reflected at 0 from the starting level: level = s - min(0, min of s so far)
        level = s - np.minimum.accumulate(np.minimum(s, 0))
        inside[rows] = level > 0
        if levels is not None:
            levels[int(c)] = int(level[-1]) if len(level) else l0
    return inside


def _carry_levels(
    order: np.ndarray,
    cpu: np.ndarray,
    opens: np.ndarray,
    closes: np.ndarray,
    levels: dict[int, int],
) -> None:
    """:func:`_inside`'s ``levels`` update alone, for a window whose every row has its context
    already (no row needs to know whether it is inside): the level each CPU ends the window
    at, from its marker rows alone.  Between two markers the running sum does not move, and
    the levels carried are never negative, so the marker rows' sums end at the level (and
    reach the lowest point) that the sums over every row did (``tests/test_irq_first_pass.py``).
    (``_inside`` over every row of a window with a few markers made ~6 ms of passes, on the
    rebuild's thread: ~0.65 s of a real 11.8M-record capture's 2.4 s, bench/RESULTS.md,
    session 10.)"""
    marks = opens | closes
    rows = order[np.flatnonzero(marks[order])]  # the markers, in timeline order
    delta = opens[rows].astype(np.int64) - closes[rows].astype(np.int64)
    where = cpu[rows]
    for c in unique(where):
        l0 = levels.get(int(c), 0)
        s = np.cumsum(delta[where == c]) + l0
        levels[int(c)] = int(s[-1] - min(int(s.min()), 0))


def event_contexts(
    events: EventTable, order: np.ndarray, carry: dict[int, dict[int, int]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ctx int8, bits int8) per event row; ctx -1 where nothing tells.  ``carry`` keeps the
    interval levels per marker kind and CPU between timeline windows."""
    ctx, bits, _ = contexts_and_mask(events, order, carry)
    return ctx, bits


def contexts_and_mask(
    events: EventTable, order: np.ndarray, carry: dict[int, dict[int, int]] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`event_contexts` and :func:`~.timeline.funcgraph_mask`, from one pass."""
    kind = events["kind"]
    hard = _name_codes(events.strings, HARDIRQ_ROOTS, HARDIRQ_PREFIXES)
    # The exit of an interrupt entry function may be written after the kernel lowered the
    # hardirq count (irq_exit_rcu: kernel/softirq.c __irq_exit_rcu drops HARDIRQ_OFFSET before
    # its last traced callee returns), so its flags say "task".  That matters only for an exit
    # without entry, which must open the interrupt level the entry would have opened.
    # (One C pass makes ctx and bits with those exits, the funcgraph mask, the kinds met and
    # whether any context is unknown: as numpy passes, ~0.4 ms of each 2^16-record window
    # on the rebuild's thread.)
    hard_named = _name_table(len(events.strings), hard)
    ctx, bits, fg, kinds, unknown_any, fg_unknown_any = stacks.first_contexts(
        events["irqctx"], kind, events["func"], hard_named
    )
    if not unknown_any and carry is None:
        return ctx, bits, fg
    # (with a carry the levels are followed even where every record's context is known: a
    # later window may need them)
    cpu = events["cpu"]
    unknown = None
    for ctx_val, k_open, k_close in _MARKERS:
        lv = None if carry is None else carry.setdefault(int(k_open), {})
        # (a window with no open marker still has rows inside an interval an earlier window
        # opened on their CPU: an interrupt longer than a window, or one whose close was lost)
        if not (kinds >> k_open) & 1 and not (lv and any(v > 0 for v in lv.values())):
            continue
        opens = kind == k_open
        closes = kind == k_close
        if not unknown_any:
            # (every row's context is known, a trace.dat's always: only the levels go on)
            assert lv is not None
            _carry_levels(order, cpu, opens, closes, lv)
            continue
        if unknown is None:
            unknown = ctx < 0
        ins = _inside(order, cpu, opens, closes, lv) & unknown
        ctx[ins] = np.maximum(ctx[ins], ctx_val)
    if unknown is not None:  # (markers set some contexts)
        fg_unknown_any = bool((fg & (ctx < 0)).any())
    if fg_unknown_any:
        fg_unknown = fg & (ctx < 0)
        func = events["func"]
        # exits too: an orphan "} /* __sysvec_apic_timer_interrupt */" (trace opened inside
        # the interrupt, or tracing_thresh) must open the level its entry would have opened
        roots = hard_named.take(func) & fg_unknown
        ctx[roots] = _HARDIRQ
        bits[roots] |= EB_BYNAME
        runners = _named(func, len(events.strings), _name_codes(events.strings, SOFTIRQ_RUNNERS))
        runners &= fg_unknown
        bits[runners & (kind == FG_ENTRY_CODE)] |= EB_CONTAINER
    return ctx, bits, fg
