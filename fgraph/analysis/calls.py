"""Getting a CallTable out of what the user handed in, and selecting the calls of X.

Analyses accept a :class:`fgraph.Trace`, a :class:`CallTable`, or a list of either (several
inputs aggregated into one table whose ``trace`` column says which input a call came from).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._numpy import unique
from ..errors import UsageError
from ..schema import CallFlag
from ..table import CallTable, StringPool, remap_codes


def as_calls(obj: Any) -> CallTable:
    """CallTable of a Trace / CallTable / sequence of them (aggregated)."""
    if isinstance(obj, CallTable):
        return obj
    if hasattr(obj, "call_table"):
        return obj.call_table  # type: ignore[no-any-return]
    if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
        return concat_calls([as_calls(o) for o in obj])
    raise TypeError(f"expected a fgraph.Trace or CallTable, not {type(obj).__name__}")


def concat_calls(tables: Sequence[CallTable]) -> CallTable:
    """One call table from several traces: ids shifted, pools merged, ``trace`` = input index."""
    if len(tables) == 1:
        return tables[0]
    pool = StringPool()
    # (tables built with some columns left out give a table of the columns they all have)
    omit = set().union(*(t.omitted for t in tables)) - {"trace"}
    present = [c for c in CallTable.COLUMNS if c.name not in omit]
    parts: dict[str, list[np.ndarray]] = {c.name: [] for c in present}
    base = 0
    for i, t in enumerate(tables):
        mapping = t.strings.remap_into(pool)
        for c in present:
            if c.name == "trace":
                parts["trace"].append(np.full(len(t), i, dtype=c.dtype))
                continue
            arr = t[c.name]
            if c.string:
                arr = remap_codes(arr, mapping)
            elif c.name in ("call_id", "root_id"):
                arr = arr + base
            elif c.name in ("parent_id", "interrupted_id"):
                arr = np.where(arr >= 0, arr + base, -1)
            parts[c.name].append(arr)
        base += len(t)
    return CallTable({k: np.concatenate(v) for k, v in parts.items()}, pool, omit=omit)


def func_code(calls: CallTable, func: str) -> int:
    """String code of ``func``; a UsageError naming close matches when the trace lacks it."""
    code = calls.strings.lookup(func)
    if code >= 0 and (calls["func"] == code).any():
        return code
    present = unique(calls["func"])
    names = [calls.strings[int(c)] for c in present if c >= 0]
    close = difflib.get_close_matches(func, [n for n in names if n], n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"no call of {func!r} in the trace ({len(names)} functions traced){hint}")


def complete_mask(calls: CallTable) -> np.ndarray:
    """Calls whose duration is exact: exit seen (entry seen or rebuilt), not TRUNCATED."""
    return ((calls["flags"] & CallFlag.TRUNCATED) == 0) & (calls["duration"] >= 0)


def truncated_mask(calls: CallTable) -> np.ndarray:
    return (calls["flags"] & CallFlag.TRUNCATED) != 0


def flag_names(flags: int) -> list[str]:
    """Names of the repair flags set in one call's ``flags`` (for output; a new list)."""
    return list(_flag_names(int(flags)))


@functools.lru_cache(maxsize=1024)
def _flag_names(flags: int) -> tuple[str, ...]:
    # (per value: a tree of slowest makes a line per call, and the enum operations per
    # call were ~20 us of each line)
    return tuple(
        str(f.name).lower() for f in CallFlag if f and flags & f and f not in (CallFlag.HAS_RETVAL,)
    )
