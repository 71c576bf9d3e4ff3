"""numpy helpers for the steps every read takes, where numpy's own function costs more than the
work.

``np.unique(a)`` (no index or count outputs) asks ``np.ma.is_masked(a)`` since numpy 2.3, which
imports ``numpy.ma`` on its first call: 7-13 ms of every run, paid on whichever thread calls it
first (the decode thread's first window, while the rebuild waits for it).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def unique(a: Any) -> np.ndarray:
    """The sorted distinct values of ``a`` (flattened), as ``np.unique(a)`` gives them, for the
    integer, float and string arrays fgraph passes (NaNs, which fgraph's columns do not hold,
    would each stay distinct: numpy's ``equal_nan=False``)."""
    s = np.sort(np.asarray(a), axis=None)
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def positions(sorted_values: np.ndarray, values: Any) -> np.ndarray:
    """Where each of ``values`` is in ``sorted_values`` (ascending, distinct): its index, or -1
    where it is not there."""
    values = np.asarray(values)
    at = np.searchsorted(sorted_values, values)
    hit = at < len(sorted_values)
    hit[hit] = sorted_values[at[hit]] == values[hit]
    return np.where(hit, at, -1)
