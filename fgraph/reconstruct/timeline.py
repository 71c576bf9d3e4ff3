"""Merge order: one time-ordered timeline from the parsers' event table.

A trace.dat gives each CPU's records in ring-buffer order, CPU after CPU; the timeline is the
stable sort of all records by timestamp (equal stamps keep the reader's order, so one CPU's
records never swap).  Text inputs are already one merged stream printed by the kernel or by
trace-cmd, and their derived timestamps (exit = entry + printed duration) need not be monotonic,
so their row order is kept as it is.
"""

from __future__ import annotations

import numpy as np

from ..schema import EventKind
from ..table import EventTable

TEXT_FORMATS = ("kernel-text", "trace-cmd-report")


def is_time_sorted_input(events: EventTable) -> bool:
    """True when the rows must be merged by timestamp (per-CPU streams)."""
    meta = events.meta
    return not (meta.format in TEXT_FORMATS or not meta.ts_known)


def merge_order(events: EventTable) -> np.ndarray:
    """Row indices of ``events`` in timeline order (a permutation)."""
    n = len(events)
    if not is_time_sorted_input(events):
        return np.arange(n, dtype=np.int64)
    ts = events["ts"]
    if n and (ts < 0).any():
        # records without a time keep their place after the previous timed record of the reader
        ts = np.maximum.accumulate(np.where(ts < 0, np.iinfo(np.int64).min, ts))
    return np.argsort(ts, kind="stable").astype(np.int64, copy=False)


def ranks(order: np.ndarray) -> np.ndarray:
    """Position of each row in the timeline (inverse of ``order``)."""
    r = np.empty(len(order), dtype=np.int64)
    r[order] = np.arange(len(order), dtype=np.int64)
    return r


def gap_times(events: EventTable) -> np.ndarray:
    """Time of each lost-event gap: its own ts, else the ts of the first record after it."""
    lost = events.lost
    ts = lost["ts"].copy()
    rows = lost["row"]
    ev_ts = events["ts"]
    fill = (ts < 0) & (rows >= 0) & (rows < len(events))
    ts[fill] = ev_ts[rows[fill]]
    return ts


# The funcgraph record kinds as plain ints, for comparisons with the int8 kind column: numpy 2
# takes an IntEnum member as a strong int64 scalar (only an exact int is a weak Python scalar,
# NEP 50), so comparing an int8 column with one first converts the whole column to int64: ~10x
# the comparison's time (~0.3 ms of each 2^16-record window's preparation, on the rebuild's
# thread).  The values, and so the results, are the same.
FG_ENTRY_CODE, FG_EXIT_CODE = int(EventKind.FG_ENTRY), int(EventKind.FG_EXIT)


def funcgraph_mask(events: EventTable) -> np.ndarray:
    kind = events["kind"]
    return (kind == FG_ENTRY_CODE) | (kind == FG_EXIT_CODE)
