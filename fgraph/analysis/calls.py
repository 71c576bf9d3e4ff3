"""Getting a CallTable out of what the user handed in, and selecting the calls of X.

Analyses accept a :class:`fgraph.Trace`, a :class:`CallTable`, or a list of either (several
inputs aggregated into one table whose ``trace`` column says which input a call came from).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from dataclasses import dataclass
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


def concat_calls(tables: Sequence[CallTable], *, consume: bool = False) -> CallTable:
    """One call table from several traces: ids shifted, pools merged, ``trace`` = input index.

    ``consume``: each input column is dropped from its table once copied (reading it then
    raises ColumnNotLoaded), so the inputs and the result are not all in memory at once (four
    89 MB traces through ``fgraph hist``: 923 -> 607 MB peak RSS)."""
    if len(tables) == 1:
        return tables[0]
    pool = StringPool()
    # (tables built with some columns left out give a table of the columns they all have)
    omit = set().union(*(t.omitted for t in tables)) - {"trace"}
    present = [c for c in CallTable.COLUMNS if c.name not in omit]
    lens = [len(t) for t in tables]
    mappings = [t.strings.remap_into(pool) for t in tables]
    out: dict[str, np.ndarray] = {}
    for c in present:
        col = np.empty(sum(lens), dtype=c.dtype)
        base = 0
        for i, t in enumerate(tables):
            n = lens[i]
            part = col[base : base + n]
            if c.name == "trace":
                part[:] = i
            else:
                arr = t[c.name]
                if c.string:
                    arr = remap_codes(arr, mappings[i])
                elif c.name in ("call_id", "root_id"):
                    arr = arr + base
                elif c.name in ("parent_id", "interrupted_id"):
                    arr = np.where(arr >= 0, arr + base, -1)
                part[:] = arr
                del arr
            if consume and c.name in t.columns:
                del t.columns[c.name]
                t.omitted = t.omitted | {c.name}
            base += n
        out[c.name] = col
    table = CallTable(out, pool, omit=omit)
    table.calls_let_go = sum(t.calls_let_go for t in tables)
    table.funcs_let_go = frozenset().union(*(t.funcs_let_go for t in tables))
    return table


@dataclass
class Aggregated:
    """Several traces as one: their calls in one table (``trace`` = input index) and their
    names, for the analyses that take a trace (:func:`aggregate`)."""

    call_table: CallTable
    names: list[str]


def aggregate(traces: Sequence[Any], *, consume: bool = False) -> Aggregated:
    """``traces`` (fgraph.Trace objects) as one; ``consume``: see :func:`concat_calls` (the
    traces give up their call tables)."""
    names = [str(t.name) for t in traces if getattr(t, "name", None)]
    return Aggregated(concat_calls([as_calls(t) for t in traces], consume=consume), names)


def func_code(calls: CallTable, func: str) -> int:
    """String code of ``func``; a UsageError naming close matches when the trace lacks it."""
    code = calls.strings.lookup(func)
    if code >= 0 and (calls["func"] == code).any():
        return code
    present = unique(calls["func"])
    names = [calls.strings[int(c)] for c in present if c >= 0]
    names += sorted(calls.funcs_let_go - set(names))  # (the trace had them too)
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
