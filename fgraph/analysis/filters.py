"""Which calls an analysis looks at: --pid/--comm/--cpu/--since/--until as a row mask.

Filters select *calls of interest* (the calls of X in ``hist``), never parts of a tree: a
selected call keeps all its descendants and interrupts, so its breakdown stays complete.

``filters`` may be ``fgraph.cli._options.Filters``, a mapping with the same keys, or None;
any object with ``pids``, ``comms``, ``cpus``, ``since``, ``until`` attributes works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import UsageError
from ..table import CallTable
from ..units import parse_time

_KEYS = ("pids", "comms", "cpus", "since", "until")


def _get(filters: Any, key: str) -> Any:
    if filters is None:
        return None
    if isinstance(filters, Mapping):
        return filters.get(key)
    return getattr(filters, key, None)


def is_empty(filters: Any) -> bool:
    return all(not _get(filters, k) for k in _KEYS)


def describe(filters: Any) -> str:
    """Short human text of the active filters ("pid 1234, cpu 0"), empty when none."""
    parts = []
    for key, label in (("pids", "pid"), ("comms", "comm"), ("cpus", "cpu")):
        vals = _get(filters, key)
        if vals:
            parts.append(f"{label} {','.join(str(v) for v in vals)}")
    for key in ("since", "until"):
        v = _get(filters, key)
        if v:
            parts.append(f"{key} {v}")
    return ", ".join(parts)


def filter_mask(calls: CallTable, filters: Any) -> np.ndarray:
    """Bool mask over the call rows that pass every given filter (all True when none)."""
    return _mask(calls, filters, None)


def filter_ids(calls: CallTable, filters: Any, ids: np.ndarray) -> np.ndarray:
    """The call ids among ``ids`` that pass every filter (work proportional to ``ids``)."""
    ids = np.asarray(ids, dtype=np.int64)
    if filters is None or is_empty(filters):
        return ids
    return ids[_mask(calls, filters, ids)]


def _mask(calls: CallTable, filters: Any, ids: np.ndarray | None) -> np.ndarray:
    def col(name: str) -> np.ndarray:
        a = calls[name]
        return a if ids is None else a[ids]

    n = len(calls) if ids is None else len(ids)
    mask = np.ones(n, dtype=bool)
    if filters is None:
        return mask
    pids = _get(filters, "pids")
    if pids:
        mask &= np.isin(col("pid"), np.asarray(list(pids), dtype=np.int64))
    comms = _get(filters, "comms")
    if comms:
        codes = [calls.strings.lookup(c) for c in comms]
        codes = [c for c in codes if c >= 0]
        mask &= np.isin(col("comm"), np.asarray(codes, dtype=np.int64))
    cpus = _get(filters, "cpus")
    if cpus:
        mask &= np.isin(col("cpu_entry"), np.asarray(list(cpus), dtype=np.int64))
    since = parse_time(_get(filters, "since"), what="--since time")
    until = parse_time(_get(filters, "until"), what="--until time")
    if since is not None and until is not None and until <= since:
        raise UsageError(
            f"--until ({_get(filters, 'until')}) must be after --since ({_get(filters, 'since')})"
        )
    if since is not None or until is not None:
        all_ts = calls["ts_entry"]
        if len(all_ts) and (all_ts < 0).all():
            raise UsageError("--since/--until need timestamps, and this input has none")
        ts = col("ts_entry")
        if since is not None:
            mask &= ts >= since
        if until is not None:
            mask &= (ts >= 0) & (ts < until)
    return mask
