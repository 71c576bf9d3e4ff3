"""Merged timeline and per-task call trees.

``rebuild(events)`` runs the whole stage: merge order (:mod:`.timeline`), interrupt context of
each record (:mod:`.irq`), the per-task stack machine (:mod:`.calls`, C kernel
``fgraph/_ext/stacks.c``), off-CPU time (:mod:`.offcpu`) and the quality report
(:mod:`.quality`).
"""

from __future__ import annotations

from ..table import CallTable, EventTable
from .calls import Rebuilder, build_table, depth_check, prepare, prepare_windows
from .offcpu import offcpu
from .quality import Quality, assess
from .timeline import merge_order

__all__ = ["Quality", "Rebuilder", "rebuild", "merge_order", "prepare", "prepare_windows"]


def _ncpu(events: EventTable) -> int:
    """CPU slots of the machine: the CPUs that have records or gaps.  Not the header's CPU
    count: a slot without records is never touched, and a damaged count (2^31) would allocate
    gigabytes of per-CPU state."""
    cpus = [
        int(events["cpu"].max(initial=-1)),
        int(events.lost["cpu"].max(initial=-1)),
    ]
    return max(cpus) + 1


def rebuild(events: EventTable) -> tuple[CallTable, Quality]:
    """Per-task call table and quality report of one event table.

    >>> calls, quality = rebuild(fgraph.read_events("btrfs_read.dat"))   # doctest: +SKIP
    >>> quality.events_unaccounted
    0
    """
    order = merge_order(events)
    tol = events.meta.ts_resolution_ns if events.meta.ts_resolution_ns > 1 else 0
    r = Rebuilder(_ncpu(events), tol)
    # fed in windows of the timeline: the machine input exists one window at a time
    for inp in prepare_windows(events, order):
        r.feed(inp)
    del inp
    raw = r.finish()
    counters = raw.pop("counters")
    calls = build_table(events, raw, order)
    depth = depth_check(calls)
    offcpu(events, calls)
    quality = assess(events, calls, counters, depth)
    return calls, quality
