"""Write an EventTable or CallTable as an aligned text table, csv, jsonl or Parquet.

Two shapes of output:

* **display** (table, csv, jsonl): one row per record/call with strings decoded, unknown
  values (the schema's sentinels) as empty cells / JSON null, times in ns, ``ctx``/``irqctx``
  as words (task, softirq, hardirq, nmi), call ``flags`` as CallFlag names joined by ``|``
  (empty when none), ``addr`` as hex.
* **parquet**: the documented schema itself (:meth:`fgraph.table._Columns.to_arrow`: every
  column of :mod:`fgraph.schema`, real nulls, strings as dictionary columns), so pandas,
  DuckDB and Spark read it as is.

Everything is built column by column with numpy/pyarrow (loops over columns or distinct
values only, never over rows); csv goes through ``pyarrow.csv``.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

import numpy as np

from ..schema import CallFlag, Column, EventFlag, EventKind, IrqCtx
from ..table import CallTable, EventTable, _Columns

FORMATS = ("table", "csv", "jsonl", "parquet")

# Display columns, in order.  Event columns beyond the required set are kept because they
# say where a value came from (pos) and in which context it ran (irqctx).
EVENT_DISPLAY = (
    "ts", "cpu", "pid", "comm", "event", "kind", "irqctx", "addr", "func", "module", "depth",
    "calltime", "rettime", "duration", "overrun", "retval", "flags", "preempt", "eflags", "pos",
)  # fmt: skip
CALL_DISPLAY = (
    "call_id", "parent_id", "root_id", "interrupted_id", "pid", "comm", "func", "module", "depth",
    "kernel_depth", "ts_entry", "ts_exit", "duration", "self", "irq_ns", "offcpu_sleep_ns",
    "offcpu_runnable_ns", "waker_pid", "cpu_entry", "cpu_exit", "ctx", "flags", "retval", "trace",
)  # fmt: skip

CTX_WORDS = {int(c): c.name.lower() for c in IrqCtx if c >= 0}


def ctx_words(values: np.ndarray) -> np.ndarray:
    """IrqCtx ints → object array of words (None for unknown)."""
    lut = np.array([None, "task", "softirq", "hardirq", "nmi"], dtype=object)
    v = values.astype(np.int64)
    ok = (v >= -1) & (v <= 3)
    out = np.full(len(v), None, dtype=object)
    out[ok] = lut[v[ok] + 1]
    return out


def flag_names(values: np.ndarray, enum_cls: Any) -> np.ndarray:
    """Bit-flag ints → ``A|B`` strings (empty string for 0); one Python step per distinct value."""
    uniq, inv = np.unique(values.astype(np.int64), return_inverse=True)
    names = []
    for u in uniq.tolist():
        parts = [m.name for m in enum_cls if m.value and (u & m.value) == m.value and m.name]
        rest = u & ~sum(m.value for m in enum_cls)
        if rest:
            parts.append(hex(rest))
        names.append("|".join(p for p in parts if p))
    return np.array(names, dtype=object)[inv] if len(values) else np.empty(0, dtype=object)


def _hex(values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), None, dtype=object)
    nz = values != 0
    if nz.any():
        out[nz] = np.char.add("0x", np.char.lower(np.char.mod("%x", values[nz])))  # type: ignore[arg-type]
    return out


def _column_array(table: _Columns, col: Column) -> Any:
    """One display column as a pyarrow array (nulls for sentinels, strings decoded)."""
    import pyarrow as pa

    arr = table.columns[col.name]
    if col.string:
        pool = pa.array(table.strings.values, type=pa.string())
        mask = arr < 0
        idx = pa.array(np.where(mask, 0, arr), mask=mask, type=pa.int32())
        return pa.DictionaryArray.from_arrays(idx, pool).cast(pa.string())
    if col.null is not None:
        return pa.array(arr, mask=(arr == col.null))
    return pa.array(arr)


def event_display(events: EventTable, order: np.ndarray | None = None) -> Any:
    """pyarrow Table of the events' display columns, rows in ``order`` (default: as stored)."""
    import pyarrow as pa

    t = events if order is None else events.take(order)
    cols = {c.name: c for c in t.COLUMNS}
    arrays = {}
    for name in EVENT_DISPLAY:
        c = cols[name]
        if name == "kind":
            lut = np.array([k.name.lower() for k in EventKind], dtype=object)
            arrays[name] = pa.array(lut[t[name].astype(np.int64)], type=pa.string())
        elif name == "irqctx":
            arrays[name] = pa.array(ctx_words(t[name]), type=pa.string())
        elif name == "addr":
            arrays[name] = pa.array(_hex(t[name]), type=pa.string())
        elif name == "eflags":
            arrays[name] = pa.array(flag_names(t[name], EventFlag), type=pa.string())
        elif name == "retval":
            ok = (t["eflags"] & EventFlag.HAS_RETVAL) != 0
            arrays[name] = pa.array(t[name], mask=~ok)
        else:
            arrays[name] = _column_array(t, c)
    return pa.table(arrays)


def call_display(calls: CallTable) -> Any:
    """pyarrow Table of the calls' display columns (one row per call, call_id order)."""
    import pyarrow as pa

    cols = {c.name: c for c in calls.COLUMNS}
    arrays = {}
    for name in CALL_DISPLAY:
        if name == "ctx":
            arrays[name] = pa.array(ctx_words(calls[name]), type=pa.string())
        elif name == "flags":
            arrays[name] = pa.array(flag_names(calls[name], CallFlag), type=pa.string())
        elif name == "retval":
            ok = (calls["flags"] & CallFlag.HAS_RETVAL) != 0
            arrays[name] = pa.array(calls[name], mask=~ok)
        else:
            arrays[name] = _column_array(calls, cols[name])
    return pa.table(arrays)


# ---------------------------------------------------------------------------------- writers


def _text_column(arr: Any) -> Any:
    """A pyarrow column as strings ('' for null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    return pc.fill_null(arr, "")


def write_text_table(
    tbl: Any,
    out: IO[bytes],
    *,
    chunk: int = 262144,
    widths: list[int] | None = None,
    header: bool = True,
) -> list[int]:
    """Aligned columns for a terminal: numbers right-aligned, strings left-aligned.

    Padding and joining run in pyarrow's string kernels; each chunk's lines are written
    straight from the joined array's data buffer.  ``widths``: at least these (the columns of
    earlier rows, :func:`write_windows`); returns the widths used.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = tbl.column_names
    cols = []
    right = []
    for name in names:
        col = tbl.column(name).combine_chunks()
        cols.append(_text_column(col))
        right.append(not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)))
    widths = _grow_widths(cols, names, widths)
    if header:
        head = "  ".join(n.rjust(w) if r else n.ljust(w) for n, w, r in zip(names, widths, right))
        out.write((head.rstrip() + "\n").encode())
    n = tbl.num_rows
    for start in range(0, n, chunk):
        parts = []
        for k, (txt, w, r) in enumerate(zip(cols, widths, right)):
            part = txt.slice(start, chunk)
            last = k == len(cols) - 1
            if r:
                part = pc.utf8_lpad(part, width=w, padding=" ")
            elif not last:  # no trailing blanks after the last column
                part = pc.utf8_rpad(part, width=w, padding=" ")
            parts.append(part)
            parts.append("\n" if last else "  ")
        lines = pc.binary_join_element_wise(*parts, "")
        offs = np.frombuffer(
            lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
        )
        out.write(lines.buffers()[2].to_pybytes()[int(offs[0]) : int(offs[-1])])
    return widths


def write_csv(tbl: Any, out: IO[bytes]) -> None:
    import pyarrow.csv as pacsv

    # quoting_style "needed" keeps numbers bare and quotes only strings that need it.
    opts = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    pacsv.write_csv(tbl, out, write_options=opts)


def write_jsonl(tbl: Any, out: IO[bytes], *, chunk: int = 262144) -> None:
    # pandas' JSON writer is compiled: one object per line, nulls as null, ints stay ints.
    for start in range(0, max(tbl.num_rows, 1), chunk):
        part = tbl.slice(start, chunk)
        if part.num_rows == 0:
            break
        import pandas as pd

        # Arrow-backed dtypes keep nullable ints as ints (numpy dtypes would turn them into floats).
        df = part.to_pandas(types_mapper=pd.ArrowDtype)
        text = df.to_json(orient="records", lines=True, force_ascii=False)
        if text and not text.endswith("\n"):
            text += "\n"
        out.write(text.encode())


# Rows displayed at a time: the display columns (decoded strings, words, hex) of a whole big
# table were several times its size (`fgraph calls` on an 89 MB trace.dat: 1.03 GB as a text
# table, bench/RESULTS.md session 15).
DISPLAY_ROWS = 1 << 17


def _display_parts(table: EventTable | CallTable, order: np.ndarray | None) -> Iterator[Any]:
    """The display table of ``table``'s rows (in ``order``), DISPLAY_ROWS at a time (one
    empty part for an empty table)."""
    n = len(table)
    for lo in range(0, max(n, 1), DISPLAY_ROWS):
        hi = min(lo + DISPLAY_ROWS, n)
        idx = order[lo:hi] if order is not None else np.arange(lo, hi)
        if isinstance(table, EventTable):
            # (the display reads no field or lost row: not re-pointed for every part)
            part = EventTable({k: v[idx] for k, v in table.columns.items()}, table.strings)
            yield event_display(part)
        else:
            yield call_display(table.take(idx))


def _write_parts(parts: Iterable[Any], fmt: str, out: IO[bytes], widths: Any = None) -> Any:
    """Write display parts as one output.  A text table's columns are at least ``widths``
    wide (:func:`write` gives the widest value of every part), and as wide as the parts so far
    need.  Returns the last widths."""
    writer: Any = None
    schema: Any = None
    header = True
    for disp in parts:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            if writer is None:
                opts = pacsv.WriteOptions(include_header=True, quoting_style="needed")
                schema = disp.schema
                writer = pacsv.CSVWriter(out, schema, write_options=opts)
            writer.write_table(disp.cast(schema) if disp.schema != schema else disp)
        elif fmt == "jsonl":
            write_jsonl(disp, out)
        else:
            widths = write_text_table(disp, out, widths=widths, header=header)
            header = False
    if writer is not None:
        writer.close()
    return widths


def _text_width(txt: Any) -> int:
    """The longest value of a text column (0 when empty)."""
    import pyarrow.compute as pc

    return int(pc.max(pc.utf8_length(txt)).as_py() or 0) if len(txt) else 0


def _grow_widths(texts: Sequence[Any], names: Sequence[str], widths: Any) -> list[int]:
    """Column widths for the text columns ``texts``: at least ``widths`` (None: the names')."""
    out = list(widths) if widths is not None else [len(n) for n in names]
    return [max(w, _text_width(t)) for w, t in zip(out, texts)]


def _widths(parts: Iterable[Any]) -> list[int] | None:
    """The text table's column widths over all the parts (a first pass, nothing written).  An
    integer column's widest value is its least or its greatest: only those two are printed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    widths: list[int] | None = None
    for disp in parts:
        names = disp.column_names
        if widths is None:
            widths = [len(n) for n in names]
        for k, n in enumerate(names):
            col = disp.column(n).combine_chunks()
            if pa.types.is_integer(col.type):
                mm = pc.min_max(col)
                ends = [v for v in (mm["min"].as_py(), mm["max"].as_py()) if v is not None]
                w = max((len(str(v)) for v in ends), default=0)
            else:
                w = _text_width(_text_column(col))
            widths[k] = max(widths[k], w)
    return widths


def _parquet_tables(tables: Iterable[Any], sink: Callable[[], Any]) -> int:
    """Tables of one schema (their documented schema, ``to_arrow``) written as one Parquet
    file, each as it comes (one row group each, or more for a big one: the same file as
    ``pq.write_table`` for a single table).  ``sink()`` opens the output, once the first table
    is in.  Parquet needs a seekable sink for its footer only through pyarrow's own file
    objects; a BytesIO round-trip keeps stdout (a pipe) working.  Returns the rows written
    (-1: no table came)."""
    import pyarrow.parquet as pq

    rows = -1
    writer: Any = None
    schema: Any = None
    buf: io.BytesIO | None = None
    out: Any = None
    for t in tables:
        rows = max(rows, 0) + len(t)
        at = t.to_arrow()
        if writer is None:
            out = sink()
            buf = None if hasattr(out, "seekable") and out.seekable() else io.BytesIO()
            schema = at.schema
            writer = pq.ParquetWriter(out if buf is None else buf, schema)
        writer.write_table(at.cast(schema) if at.schema != schema else at)
        del at
    if writer is not None:
        writer.close()
        if buf is not None:
            out.write(buf.getvalue())
    return rows


def write(
    table: EventTable | CallTable, fmt: str, out: IO[bytes], *, order: np.ndarray | None = None
) -> None:
    """Write ``table`` in ``fmt`` (one of FORMATS) to the binary stream ``out``.  The display
    formats are made DISPLAY_ROWS rows at a time; a text table in two passes (its column
    widths first), so its columns are as wide as the whole table needs."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "parquet":
        _parquet_tables([table if order is None else table.take(order)], lambda: out)
        return
    widths = _widths(_display_parts(table, order)) if fmt == "table" else None
    _write_parts(_display_parts(table, order), fmt, out, widths)


def write_windows(windows: Iterable[EventTable], fmt: str, out: Any) -> int:
    """Write consecutive event tables (an input's windows, each in time order) as one output
    in ``fmt``, a window at a time: what :func:`write` writes of them joined, without ever
    holding them all (``fgraph events`` on a trace.dat).  ``out``: a binary stream, or a
    function that opens it, called once the first window is in (an unreadable input leaves no
    output file).  A text table's columns are as wide as the windows so far need: a later
    window with a wider value widens the columns from there on.  Returns the rows written."""
    state: dict[str, Any] = {"rows": 0, "sink": None}

    def opened() -> Any:
        if state["sink"] is None:
            state["sink"] = out() if callable(out) else out
        return state["sink"]

    if fmt == "parquet":
        state["rows"] = max(_parquet_tables(windows, opened), 0)
    elif fmt == "table":
        # (each window's widths first, as :func:`write` does for a whole table: an input of one
        # window, a text or a small trace.dat, prints as it always did)
        widths: list[int] | None = None
        for t in windows:
            sink = opened()
            state["rows"] += len(t)
            w = _widths(_display_parts(t, None)) or []
            header = widths is None
            widths = w if widths is None else [max(a, b) for a, b in zip(widths, w)]
            for disp in _display_parts(t, None):
                widths = write_text_table(disp, sink, widths=widths, header=header)
                header = False
    else:

        def parts() -> Iterator[Any]:
            for t in windows:
                opened()
                state["rows"] += len(t)
                yield from _display_parts(t, None)

        # (the first part is taken before the writer starts: the sink opens with it)
        first = parts()
        head = next(first, None)
        if head is not None:
            _write_parts(itertools.chain([head], first), fmt, opened())
    if state["sink"] is None:  # no window at all: an empty table's output
        empty = EventTable({c.name: np.empty(0, c.dtype) for c in EventTable.COLUMNS})
        write(empty, fmt, opened())
    return int(state["rows"])


def event_time_order(events: EventTable) -> np.ndarray:
    """Row order of the events in time.

    A trace.dat gives each CPU's records one CPU after another, so they need a merge; text is
    already one merged stream in the kernel's order (its derived timestamps are not monotonic,
    so it keeps row order).  The rebuild's timeline module owns the merge when present.
    """
    n = len(events)
    if events.meta.format != "trace.dat":
        return np.arange(n)
    try:
        from ..reconstruct import timeline

        for name in ("merge_order", "time_order", "order"):
            fn = getattr(timeline, name, None)
            if callable(fn):
                return np.asarray(fn(events))
    except ImportError:
        pass
    return np.argsort(events["ts"], kind="stable")


def partition_names(paths: Sequence[str]) -> list[str]:
    """The ``trace`` partition value of each input: its file name, or where two inputs share
    one (``hostA/trace.dat``, ``hostB/trace.dat``) the path below their common directory;
    the same path twice gets ``#2``, ``#3`` (a partition must not overwrite another)."""
    names = [os.path.basename(p) or p for p in paths]
    if len(set(names)) < len(names):
        absolute = [os.path.abspath(p) for p in paths]
        common = os.path.commonpath(absolute) if len(set(absolute)) > 1 else ""
        names = [os.path.relpath(a, common) if common else os.path.basename(a) for a in absolute]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def write_partitioned_parquet(
    calls_by_trace: Iterable[tuple[str, CallTable]], root: str | os.PathLike[str]
) -> list[str]:
    """A hive-partitioned Parquet dataset ``root/trace=<name>/part-0.parquet`` (one per input,
    written as ``calls_by_trace`` yields it).

    Each part carries the documented call schema; the partition column ``trace`` is the input's
    name (the ``trace`` index column of the schema is dropped in favour of it).  Two names that
    would make the same directory get ``_2``, ``_3``: no part overwrites another.
    """
    import pyarrow.parquet as pq

    os.makedirs(root, exist_ok=True)
    written = []
    dirs: set[str] = set()
    for name, calls in calls_by_trace:
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name) or "trace"
        k, base = 1, safe
        while safe in dirs:
            k += 1
            safe = f"{base}_{k}"
        dirs.add(safe)
        d = os.path.join(os.fspath(root), f"trace={safe}")
        os.makedirs(d, exist_ok=True)
        tbl = calls.to_arrow().drop_columns(["trace"])
        p = os.path.join(d, "part-0.parquet")
        pq.write_table(tbl, p)
        written.append(p)
    return written
