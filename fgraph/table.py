"""Columnar containers: the event table, the lost-event table, the call table.

A table is a dict of equally long numpy arrays (columns from :mod:`fgraph.schema`) plus a
:class:`StringPool` for the string-coded columns.  Tables convert to Arrow and pandas with
real nulls in place of sentinels.  ``from_rows`` builds small tables by hand, so tests of
later stages never need a parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import schema
from ._numpy import positions
from .errors import TraceWarning
from .schema import Column


class StringPool:
    """Interned strings; columns hold ``int32`` codes into :attr:`values` (-1 = none)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}
        for v in values:
            self.code(v)

    def code(self, s: str) -> int:
        c = self._index.get(s)
        if c is None:
            c = len(self.values)
            self.values.append(s)
            self._index[s] = c
        return c

    def codes(self, strings: Iterable[str]) -> np.ndarray:
        return np.fromiter((self.code(s) for s in strings), dtype=np.int32)

    def lookup(self, s: str) -> int:
        """Code of ``s`` or -1 if the pool does not hold it."""
        return self._index.get(s, -1)

    def __getitem__(self, code: int) -> str | None:
        return None if code < 0 else self.values[code]

    def __len__(self) -> int:
        return len(self.values)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Object array of strings (None for -1).  For output only, never on hot paths."""
        arr = np.array(self.values + [None], dtype=object)
        return arr[np.where(codes < 0, len(self.values), codes)]

    def remap_into(self, other: StringPool) -> np.ndarray:
        """Array mapping this pool's codes to codes in ``other`` (adding missing strings)."""
        return np.array([other.code(s) for s in self.values] or [0], dtype=np.int32)[
            : len(self.values)
        ]


def _field_part(ft: FieldTable, mapping: np.ndarray, k: str, dt: Any, string: bool) -> np.ndarray:
    """Field ``k`` of one table being joined (codes remapped); -1 where it has none."""
    if k not in ft.columns:
        return np.full(len(ft.rows), -1, dt)
    return remap_codes(ft.columns[k], mapping) if string else ft.columns[k]


def remap_codes(codes: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    if len(mapping) == 0:
        return codes.copy()
    out = mapping[np.clip(codes, 0, None)]
    out[codes < 0] = -1
    return out.astype(np.int32, copy=False)


@dataclass
class FieldTable:
    """Extra fields of one event type: ``rows`` into the event table plus named columns.

    String fields are int32 codes into the owning table's pool; their names are in
    ``string_cols``.
    """

    rows: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    string_cols: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class TraceMeta:
    """What the input is and what happened while reading it."""

    path: str = "<input>"
    format: str = ""  # "trace.dat", "kernel-text", "trace-cmd-report"
    detail: str = ""  # e.g. "version 7, zstd", "abstime+proc columns"
    version: int | None = None
    compression: str = "none"  # trace.dat data compression
    input_compression: str = "none"  # gzip/zstd/xz around the whole input
    clock: str = ""
    ncpus: int = 0
    uname: str = ""
    page_size: int = 0
    long_size: int = 0
    big_endian: bool = False
    ts_known: bool = True  # False: text without a time column (order by row, not ts)
    # the comm column is a function of the pid (trace.dat: the file's one saved_cmdlines
    # table), so no pid shows two comms; the rebuild then skips looking for one
    comm_by_pid: bool = False
    ts_resolution_ns: int = 1  # 1000 for µs text timestamps
    duration_resolution_ns: int = 1  # 1 for binary; 1 for text ("12.345 us" is ns) unless wider
    buffers: list[str] = field(default_factory=lambda: [""])
    options: dict[str, Any] = field(default_factory=dict)
    cpustat: dict[str, dict[int, dict[str, str]]] = field(
        default_factory=dict
    )  # buffer → cpu → stats
    warnings: list[TraceWarning] = field(default_factory=list)
    lines_total: int = 0
    lines_unparsed: int = 0
    unparsed_examples: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)
    bytes_total: int = 0

    def warn(self, what: str, where: str = "", lost: int = -1) -> None:
        self.warnings.append(TraceWarning(what, where, lost))


class ColumnNotLoaded(KeyError):
    """A column the table was built without (``omit``): the caller asked for a projection that
    does not cover what it reads.  A bug in the caller, not bad input."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"call column {name!r} was not loaded (load_windowed(columns=...) left it out)"
        )


class _Columns:
    """Shared behaviour of the column-dict tables."""

    COLUMNS: tuple[Column, ...] = ()

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        strings: StringPool | None = None,
        *,
        omit: Iterable[str] = (),
    ) -> None:
        self.strings = strings if strings is not None else StringPool()
        # columns left out on purpose (a command that never reads them; see
        # ``fgraph.load_windowed(columns=...)``): reading one raises ColumnNotLoaded
        self.omitted = frozenset(omit) - set(columns)
        n = None
        cols: dict[str, np.ndarray] = {}
        for c in self.COLUMNS:
            if c.name in self.omitted:
                continue
            if c.name in columns:
                arr = np.asarray(columns[c.name], dtype=c.dtype)
            else:
                arr = None
            cols[c.name] = arr  # type: ignore[assignment]
            if arr is not None:
                if n is None:
                    n = len(arr)
                elif len(arr) != n:
                    raise ValueError(f"column {c.name} has {len(arr)} rows, expected {n}")
        n = n or 0
        # the row count of a table all of whose columns were left out (``omit``): a
        # ``load_windowed(columns=frozenset())`` still rebuilt its calls
        self._rows = n
        for c in self.COLUMNS:
            if c.name in cols and cols[c.name] is None:
                cols[c.name] = np.full(n, c.null if c.null is not None else 0, dtype=c.dtype)
        self.columns = cols

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else self._rows

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            if name in self.omitted:
                raise ColumnNotLoaded(name) from None
            raise

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        self.columns[name] = value

    def validate(self) -> None:
        """Check names, dtypes and lengths against the schema (raises AssertionError)."""
        n = len(self)
        for c in self.COLUMNS:
            if c.name in self.omitted:
                continue
            arr = self.columns.get(c.name)
            assert arr is not None, f"missing column {c.name}"
            assert arr.dtype == c.dtype, f"{c.name}: dtype {arr.dtype} != {c.dtype}"
            assert arr.ndim == 1 and len(arr) == n, f"{c.name}: bad shape {arr.shape}"
            if c.string and n:
                assert arr.max(initial=-1) < len(self.strings), f"{c.name}: code out of pool"

    def take(self, index: np.ndarray) -> Any:
        """New table with the rows at ``index`` (bool mask or int indices); same pool."""
        t = type(self)(
            {k: v[index] for k, v in self.columns.items()}, self.strings, omit=self.omitted
        )
        if not self.columns:
            index = np.asarray(index)
            t._rows = int(np.count_nonzero(index)) if index.dtype == bool else len(index)
        return t

    def to_arrow(self) -> Any:
        import pyarrow as pa

        if self.omitted:
            raise ColumnNotLoaded(sorted(self.omitted)[0])

        arrays = []
        names = []
        pool = pa.array(self.strings.values, type=pa.string())
        for c in self.COLUMNS:
            arr = self.columns[c.name]
            if c.string:
                mask = arr < 0
                idx = pa.array(np.where(mask, 0, arr), mask=mask, type=pa.int32())
                arrays.append(pa.DictionaryArray.from_arrays(idx, pool))
            elif c.null is not None:
                arrays.append(pa.array(arr, mask=(arr == c.null)))
            else:
                arrays.append(pa.array(arr))
            names.append(c.name)
        return pa.Table.from_arrays(arrays, names=names)

    def to_pandas(self) -> Any:
        """DataFrame backed by Arrow (nullable ints, categorical strings)."""
        import pandas as pd

        return self.to_arrow().to_pandas(types_mapper=pd.ArrowDtype)

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]], strings: StringPool | None = None) -> Any:
        """Build a table from dicts; string columns take Python strings.  For tests."""
        pool = strings if strings is not None else StringPool()
        n = len(rows)
        cols = schema.empty_columns(cls.COLUMNS, n)
        for i, r in enumerate(rows):
            for k, v in r.items():
                c = {c.name: c for c in cls.COLUMNS}.get(k)
                if c is None:
                    raise KeyError(f"unknown column {k!r}")
                if c.string:
                    cols[k][i] = -1 if v is None else pool.code(v)
                else:
                    cols[k][i] = c.null if v is None else v
        return cls(cols, pool)


class LostTable(_Columns):
    COLUMNS = schema.LOST_COLUMNS


class EventTable(_Columns):
    """The parsers' output: one row per record, in the input's order.

    trace.dat parsers emit each CPU's records in ring-buffer order (CPU after CPU); text
    parsers emit lines in file order.  :func:`fgraph.reconstruct.timeline.merge` produces the
    time order.
    """

    COLUMNS = schema.EVENT_COLUMNS

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        strings: StringPool | None = None,
        *,
        fields: dict[str, FieldTable] | None = None,
        lost: LostTable | None = None,
        meta: TraceMeta | None = None,
    ) -> None:
        super().__init__(columns, strings)
        self.fields: dict[str, FieldTable] = fields or {}
        self.lost: LostTable = lost if lost is not None else LostTable({}, self.strings)
        self.meta: TraceMeta = meta if meta is not None else TraceMeta()

    def take(self, index: np.ndarray) -> EventTable:
        """Rows at ``index``; field and lost tables are re-pointed (rows dropped → dropped)."""
        n = len(self)
        idx = np.arange(n)[index] if np.asarray(index).dtype == bool else np.asarray(index)
        if len(idx) < n // 8 and (
            len(idx) < 1 or (idx[0] >= 0 and bool((idx[1:] > idx[:-1]).all()))
        ):
            # few rows, ascending (the windowed rebuild keeps a window's few other events,
            # window after window): their new places by a search among them, not through a
            # table as long as this one
            def newpos_of(rows: np.ndarray) -> np.ndarray:
                return positions(idx, np.asarray(rows, dtype=np.int64))
        else:
            newpos = np.full(n + 1, -1, dtype=np.int64)
            newpos[idx] = np.arange(len(idx))

            def newpos_of(rows: np.ndarray) -> np.ndarray:
                return newpos[rows]

        fields = {}
        for name, ft in self.fields.items():
            r = newpos_of(ft.rows)
            keep = r >= 0
            fields[name] = FieldTable(
                r[keep], {k: v[keep] for k, v in ft.columns.items()}, set(ft.string_cols)
            )
        lost_rows = self.lost["row"]
        lost = LostTable(dict(self.lost.columns), self.strings)
        lost["row"] = np.where(lost_rows >= 0, newpos_of(np.clip(lost_rows, 0, None)), -1)
        return EventTable(
            {k: v[idx] for k, v in self.columns.items()},
            self.strings,
            fields=fields,
            lost=lost,
            meta=self.meta,
        )

    def row_range(self, lo: int, hi: int, last: bool = False) -> EventTable:
        """Rows ``lo:hi`` as views of this table's columns (no copy); the field rows among
        them and the lost rows before them, re-pointed.  ``last``: also the lost rows that
        name no row (the gaps after every record), as -1."""
        fields = {}
        for name, ft in self.fields.items():
            sel = np.flatnonzero((ft.rows >= lo) & (ft.rows < hi))
            fields[name] = FieldTable(
                ft.rows[sel] - lo, {k: v[sel] for k, v in ft.columns.items()}, set(ft.string_cols)
            )
        r = self.lost["row"]
        inside = (r >= lo) & (r < hi)
        keep = inside | ((r < 0) | (r >= len(self))) if last else inside
        lost = self.lost.take(np.flatnonzero(keep))
        lost["row"] = np.where(inside[keep], r[keep] - lo, -1)
        return EventTable(
            {k: v[lo:hi] for k, v in self.columns.items()},
            self.strings,
            fields=fields,
            lost=lost,
            meta=self.meta,
        )

    def field(self, event: str, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of one extra field; empty arrays when absent."""
        ft = self.fields.get(event)
        if ft is None or name not in ft.columns:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return ft.rows, ft.columns[name]

    def events_per_type(self) -> dict[str, int]:
        codes, counts = np.unique(self.columns["event"], return_counts=True)
        return {str(self.strings[int(c)]): int(n) for c, n in zip(codes, counts)}

    @classmethod
    def concat(cls, tables: Sequence[EventTable], meta: TraceMeta | None = None) -> EventTable:
        """One table from several (chunks of one trace, or buffer instances); pools merged."""
        if len(tables) == 1:
            return tables[0]
        # windows of one trace share one pool: keep it, no remapping
        shared = bool(tables) and all(t.strings is tables[0].strings for t in tables)
        pool = (
            tables[0].strings
            if shared
            else StringPool(tables[0].strings.values)
            if tables
            else StringPool()
        )
        cols: dict[str, list[np.ndarray]] = {c.name: [] for c in cls.COLUMNS}
        fields: dict[str, list[tuple[FieldTable, np.ndarray, int]]] = {}
        lost_parts = []
        base = 0
        for t in tables:
            mapping = np.empty(0, np.int32) if shared else t.strings.remap_into(pool)
            for c in cls.COLUMNS:
                arr = t.columns[c.name]
                cols[c.name].append(remap_codes(arr, mapping) if c.string else arr)
            for name, ft in t.fields.items():
                fields.setdefault(name, []).append((ft, mapping, base))
            lt = t.lost
            if len(lt):
                lc = dict(lt.columns)
                lc["row"] = np.where(lc["row"] >= 0, lc["row"] + base, -1)
                lost_parts.append(lc)
            base += len(t)
        out_fields: dict[str, FieldTable] = {}
        for name, parts in fields.items():
            # (the tables may not all have every field: a text's pieces have the fields their
            # lines printed; a row without one holds -1, as a reader leaves it)
            dtypes = {k: v.dtype for ft, _, _ in parts for k, v in ft.columns.items()}
            scols = {k for ft, _, _ in parts for k in ft.string_cols}
            out_fields[name] = FieldTable(
                np.concatenate([ft.rows + b for ft, _, b in parts]),
                {
                    k: np.concatenate([_field_part(ft, m, k, dt, k in scols) for ft, m, _ in parts])
                    for k, dt in dtypes.items()
                },
                scols,
            )
        lost = LostTable(
            {k: np.concatenate([p[k] for p in lost_parts]) for k in lost_parts[0]}
            if lost_parts
            else {},
            pool,
        )
        return cls(
            {
                k: np.concatenate(v) if v else np.empty(0, schema.EVENT[k].dtype)
                for k, v in cols.items()
            },
            pool,
            fields=out_fields,
            lost=lost,
            meta=meta if meta is not None else (tables[0].meta if tables else TraceMeta()),
        )


class CallTable(_Columns):
    """The rebuild's output: one row per call, ordered by entry; ``call_id`` == row number."""

    COLUMNS = schema.CALL_COLUMNS
    # the calls the rebuild let go (``load_windowed(trees_of=...)``: only the trees one
    # function's calls are in were kept): how many, and their functions
    calls_let_go: int = 0
    funcs_let_go: frozenset[str] = frozenset()

    def children_index(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR adjacency (offsets, child ids) of the parent→children relation."""
        parent = self.columns["parent_id"]
        n = len(parent)
        has = parent >= 0
        order = np.argsort(parent[has], kind="stable")
        kids = np.nonzero(has)[0][order]
        counts = np.bincount(parent[has], minlength=n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return offsets, kids


def decode_column(table: _Columns, name: str) -> np.ndarray:
    """Strings of a string-coded column (object array).  Output paths only."""
    return table.strings.decode(table.columns[name])
