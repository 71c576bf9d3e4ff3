"""Merged timeline and per-task call trees.

``rebuild(events)`` runs the whole stage: merge order (:mod:`.timeline`), interrupt context of
each record (:mod:`.irq`), the per-task stack machine (:mod:`.calls`, C kernel
``fgraph/_ext/stacks.c``), off-CPU time (:mod:`.offcpu`) and the quality report
(:mod:`.quality`).
"""

from __future__ import annotations

from ..table import CallTable, EventTable
from .calls import Rebuilder, prepare, prepare_windows
from .quality import Quality
from .timeline import merge_order
from .window import WindowedRebuild

__all__ = [
    "Quality",
    "Rebuilder",
    "WindowedRebuild",
    "rebuild",
    "merge_order",
    "prepare",
    "prepare_windows",
]


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
    """Per-task call table and quality report of one event table (one window of
    :class:`~.window.WindowedRebuild`).

    >>> calls, quality = rebuild(fgraph.read_events("btrfs_read.dat"))   # doctest: +SKIP
    >>> quality.events_unaccounted
    0
    """
    rb = WindowedRebuild(_ncpu(events), events.meta, events.strings)
    rb.feed(events, keep_others=False)
    calls, quality, _ = rb.finish()
    return calls, quality
