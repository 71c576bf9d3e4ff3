"""trace-cmd ``trace.dat`` reader (file versions 6 and 7; zlib, zstd or uncompressed).

``parse_tracedat(source)`` decodes every record of every CPU of every buffer instance into an
:class:`~fgraph.table.EventTable`, matching ``trace-cmd report -t -R`` record for record
(timestamps in ns, cpu, pid, fields, funcgraph symbol names).  Records are emitted buffer
after buffer, CPU after CPU, each CPU in ring-buffer order; the time merge is the rebuild's job.

Pipeline (each step vectorized or in C):

1. ``header``: initial header, v6 sequential layout or v7 sections/options chain → metadata.
2. ``eventformat``: every format file → field offsets/sizes (``header_page`` → kernel long size).
3. ``ringbuffer``: per CPU blob, decompress chunks, walk pages in C (``fgraph/_ext/ringbuf.c``).
4. ``fields``: common fields, funcgraph columns and per-event field tables by numpy gathers.
5. ``symbols``: kallsyms / cmdlines lookups per distinct address / pid.

``pos`` is the file offset of each record's event header for uncompressed data; for
compressed data it is the file offset of the chunk (10 pages) holding the record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..._ext import ringbuf  # type: ignore[attr-defined]
from ...errors import FgraphError, TraceFormatError, TraceParseError
from ...schema import EVENT_COLUMNS, EventFlag, LostSource, irqctx_from_flags, kind_of
from ...source import Source
from ...table import EventTable, FieldTable, LostTable, StringPool, TraceMeta
from . import options as O
from .bprint import bprint_messages
from .eventformat import EventFormat, FormatError, FormatIndex, parse_header_page
from .fields import extract_fields, factorize, gather_many
from .header import Container, read_container
from .ringbuffer import PAGE_STATUS, Blob, count, drop_disordered_pages, load_blobs, walk
from .symbols import comm_codes, parse_cmdlines, parse_kallsyms, parse_printk

__all__ = ["parse_tracedat", "read_container"]

FG_ENTRY_NAMES = ("funcgraph_entry", "fgraph_retaddr_entry")
FG_EXIT_NAME = "funcgraph_exit"
_FG_STANDARD = ("func", "depth", "overrun", "calltime", "rettime", "retval")
# funcgraph columns with sentinel -1 that records of other types must get
_FG_FILLED = ("func", "module", "depth", "calltime", "rettime", "overrun")


def parse_tracedat(source: Source) -> EventTable:
    """Decode a trace.dat (see module doc).  Raises TraceFormatError/TraceParseError."""
    with decode_errors(source.name):
        return _parse(source)


@contextlib.contextmanager
def decode_errors(path: str) -> Iterator[None]:
    """Turn what a decoding slip raises (IndexError, ValueError, …) into a TraceParseError
    naming the file: defensive, these must never leak to the user."""
    try:
        yield
    except FgraphError:
        raise
    except (IndexError, ValueError, OverflowError, MemoryError) as exc:
        raise TraceParseError(
            f"cannot decode trace.dat: {type(exc).__name__}: {exc}", path=path
        ) from exc


def _parse(source: Source) -> EventTable:
    path = source.name
    data = source.data
    c = read_container(data, path)
    meta = _meta(c)
    for what, off in c.problems:
        meta.warn(what, where=f"{path} at byte {off:#x}")

    if all(b.latency_text is not None for b in c.buffers):
        return _latency(c, meta, source)
    long_size, data_start = ring_layout(c, meta)

    formats = _formats(c, meta)
    pool = StringPool()
    mem_obj, blobs = load_blobs(c, data)
    mem = np.frombuffer(mem_obj, dtype=np.uint8) if len(mem_obj) else np.zeros(0, np.uint8)

    lost_rows: list[dict[str, Any]] = []
    sizes: list[int] = []
    for blob in blobs:
        page_size = blob_page_size(c, blob, data_start)
        sizes.append(count(mem_obj, blob, page_size, data_start, long_size, c.big_endian))
    # One set of record arrays for all CPUs, walked into in place: no per-CPU arrays and no
    # concatenation (a count pass first; the walk itself is the cheap part).
    total = sum(sizes)
    rec: dict[str, np.ndarray] = {
        "hdr": np.empty(total, np.int64),
        "data": np.empty(total, np.int64),
        "len": np.empty(total, np.int32),
        "ts": np.empty(total, np.uint64),
        "cpu": np.empty(total, np.int16),
        "buf": np.empty(total, np.int16),
    }
    compressed = any(b.compressed or b.start != b.file_offset for b in blobs)
    pos = np.empty(total, np.int64) if compressed else rec["hdr"]
    base = 0
    for blob in blobs:
        for what, off, lost in blob.problems:
            meta.warn(what, where=f"{path} at byte {off:#x}", lost=lost)
        page_size = blob_page_size(c, blob, data_start)
        w = walk(mem_obj, blob, page_size, data_start, long_size, c.big_endian, rec, base)
        nwalk = len(w["data"])
        drop_disordered_pages(w)
        n = len(w["data"])
        if n != nwalk:  # garbled pages dropped: close the gap (later blobs start after it)
            for k in ("hdr", "data", "len", "ts"):
                rec[k][base : base + n] = w[k]
        starts = blob.start + np.arange(len(w["first"]), dtype=np.int64) * page_size
        w["bad_at"] = np.where(w["bad_at"] == -2, starts, w["bad_at"])
        if compressed:
            pos[base : base + n] = blob.file_pos(rec["hdr"][base : base + n])
        rec["cpu"][base : base + n] = blob.cpu
        rec["buf"][base : base + n] = blob.buf_index
        _page_events(blob, w, base, n, page_size, lost_rows, meta, c)
        base += n
    if base != total:
        rec = {k: v[:base] for k, v in rec.items()}
        pos = pos[:base]
    rec["pos"] = pos
    del rec["hdr"]
    table = _decode(c, meta, formats, mem, rec, pool)
    table.lost = _lost_table(lost_rows, rec, table, pool)
    # Kernel-flagged lost events are data (table.lost, LostSource.PAGE), not warnings: the
    # robustness tests expect an intact file to read without warnings.
    return table


# ---------------------------------------------------------------------------------------------


def ring_layout(c: Container, meta: TraceMeta) -> tuple[int, int]:
    """(kernel long size, data offset in a page) from ``header_page``; sets meta.long_size."""
    path = c.path
    if not c.header_page.strip():
        # header_page of size 0: pre-2.6.31 ring buffer (2-bit type); see docs/formats.md §2.3.
        raise TraceFormatError(
            "pre-2.6.31 ring-buffer format (empty header_page) is not supported", path=path
        )
    try:
        long_size, data_start, _ = parse_header_page(c.header_page)
    except FormatError as exc:
        raise TraceParseError(f"header_page: {exc}", path=path) from None
    if long_size not in (4, 8):
        raise TraceFormatError(
            f"header_page commit size {long_size} (kernel long) is not 4 or 8", path=path
        )
    meta.long_size = long_size
    return long_size, data_start


def blob_page_size(c: Container, blob: Blob, data_start: int) -> int:
    """The sub-buffer size of a blob's buffer instance, checked against the data offset."""
    page_size = c.buffers[blob.buf_index].page_size or c.page_size
    if data_start >= page_size:
        raise TraceFormatError(
            f"header_page data offset {data_start} >= sub-buffer size {page_size}", path=c.path
        )
    return page_size


def _meta(c: Container) -> TraceMeta:
    comp = c.compression if c.version == 7 else "none"
    meta = TraceMeta(
        path=c.path,
        format="trace.dat",
        detail=f"version {c.version}" + (f", {comp}" if c.version == 7 else ""),
        version=c.version,
        compression=comp,
        clock=c.clock,
        ncpus=c.ncpus,
        uname=c.opts.uname,
        page_size=c.page_size,
        long_size=c.writer_long_size,
        big_endian=c.big_endian,
        ts_known=True,
        buffers=[b.name for b in c.buffers],
    )
    opts = dict(c.opts.decoded)
    opts["BUFFER"] = [
        {
            "name": b.name,
            "clock": b.clock,
            "page_size": b.page_size,
            "cpus": [cb.cpu for cb in b.cpus],
            "latency": b.latency_text is not None,
        }
        for b in c.buffers
    ]
    if c.compression_version:
        opts["compression_version"] = c.compression_version
    if c.opts.unknown:
        opts["unknown_ids"] = sorted(set(c.opts.unknown))
    meta.options = opts
    for bname, texts in c.opts.cpustat.items():
        per: dict[int, dict[str, str]] = {}
        for t in texts:
            cpu, stats = O.parse_cpustat(t)
            if cpu is not None:
                per[cpu] = stats
        meta.cpustat[bname] = per
    if c.clock and c.clock not in O.NS_CLOCKS and c.opts.tsc2nsec is None:
        meta.warn(f"trace clock {c.clock!r} is not in nanoseconds; ts holds raw clock units")
    if "TIME_SHIFT" in c.opts.decoded:
        meta.warn("guest TIME_SHIFT option present: host-synchronised timestamps are not applied")
    return meta


def _formats(c: Container, meta: TraceMeta) -> FormatIndex:
    return FormatIndex([("ftrace", t) for t in c.ftrace_formats] + list(c.event_formats))


def _page_events(
    blob: Blob,
    w: dict[str, np.ndarray],
    base: int,
    n: int,
    page_size: int,
    lost_rows: list[dict[str, Any]],
    meta: TraceMeta,
    c: Container,
) -> None:
    """Lost-event rows from page flags, and DAMAGE rows + warnings for garbled pages."""
    first, nrec, missed, status = w["first"], w["nrec"], w["missed"], w["status"]
    page_off = blob.start + np.arange(len(first), dtype=np.int64) * page_size
    for p in np.nonzero(missed != 0)[0].tolist():  # per flagged page
        row = int(first[p])
        lost_rows.append(
            {
                "cpu": blob.cpu,
                "row": base + row if row < n else -1,
                "count": int(missed[p]),
                "pos": int(blob.file_pos(page_off[p : p + 1])[0]),
                "source": LostSource.PAGE,
                "buf": blob.buf_index,
            }
        )
    bad = np.nonzero(status != 0)[0]
    if len(bad):
        bname = c.buffers[blob.buf_index].name
        kinds: dict[int, int] = {}
        for p in bad.tolist():  # per damaged page
            st = int(status[p])
            kinds[st] = kinds.get(st, 0) + 1
            row = int(first[p] + nrec[p])
            at = int(w["bad_at"][p])
            lost_rows.append(
                {
                    "cpu": blob.cpu,
                    "row": base + row if row < n else -1,
                    "count": -1,
                    "pos": int(blob.file_pos(np.array([at]))[0]),
                    "source": LostSource.DAMAGE,
                    "buf": blob.buf_index,
                }
            )
        first_at = int(blob.file_pos(np.array([int(w["bad_at"][bad[0]])]))[0])
        desc = "; ".join(f"{k} page(s): {PAGE_STATUS.get(s, s)}" for s, k in sorted(kinds.items()))
        meta.warn(
            f"buffer {bname!r} CPU {blob.cpu}: {len(bad)} damaged page(s) skipped in part or whole ({desc})",
            where=f"{c.path} at byte {first_at:#x}",
        )


def _timestamps(raw: np.ndarray, c: Container) -> np.ndarray:
    """trace-input.c timestamp_calc(): TSC2NSEC (mul_u64_u32_shr), then + DATE/OFFSET."""
    conv = c.opts.tsc2nsec
    if (conv is None or not conv.mult) and not c.opts.ts_offset:
        return raw.view(np.int64)
    ts = raw.astype(np.uint64, copy=True)
    if conv is not None and conv.mult:
        # trace-input.c keeps mult in an ``int`` (struct tsc2nsec) and passes it to
        # mul_u64_u32_shr(u64 a, u64 mul, …): a mult >= 2^31 is sign-extended.  Do the same,
        # so the timestamps are the ones trace-cmd prints.
        m = conv.mult & 0xFFFFFFFF
        mult = np.uint64((m - (1 << 32)) & 0xFFFFFFFFFFFFFFFF if m >= 1 << 31 else m)
        shift = np.uint64(conv.shift)
        al = ts & np.uint64(0xFFFFFFFF)
        ah = ts >> np.uint64(32)
        with np.errstate(over="ignore"):
            out = (al * mult) >> shift
            if conv.shift <= 32:
                out = out + np.where(
                    ah != 0, (ah * mult) << np.uint64(32 - conv.shift), np.uint64(0)
                )
        ts = out
    if c.opts.ts_offset:
        with np.errstate(over="ignore"):
            ts = ts + np.uint64(c.opts.ts_offset & 0xFFFFFFFFFFFFFFFF)
    return ts.view(np.int64)


def _once(c: Container, name: str, parse: Any) -> Any:
    """``parse(c.<name>)``, parsed once per file (a windowed read decodes many windows)."""
    cache: dict[str, Any] = c.__dict__.setdefault("_parsed", {})
    if name not in cache:
        cache[name] = parse(getattr(c, name))
    return cache[name]


def _decode(
    c: Container,
    meta: TraceMeta,
    formats: FormatIndex,
    mem: np.ndarray,
    rec: dict[str, np.ndarray],
    pool: StringPool,
) -> EventTable:
    n = len(rec["data"])
    big = c.big_endian
    cols: dict[str, np.ndarray] = {}
    whole = {
        "ts",
        "cpu",
        "buf",
        "pos",
        "irqctx",
        "comm",
        "event",
        "kind",
        "duration",
    }  # assigned below
    # Columns whose sentinel is 0 come zeroed from calloc (no fill pass over the memory); the
    # others start uninitialized and every row is written exactly once below: by a gather
    # (which writes the sentinel itself for records too short for the field) or, for rows of
    # event types that lack the field, by a fill of just those rows.  Filling whole columns
    # with sentinels and then overwriting them cost 2.5 s per 10M records (bench/RESULTS.md).
    for col in EVENT_COLUMNS:
        if col.name not in whole:
            if not col.null:
                cols[col.name] = np.zeros(n, dtype=col.dtype)
            else:
                cols[col.name] = np.empty(n, dtype=col.dtype)
    cols["ts"] = _timestamps(rec["ts"], c)
    cols["cpu"] = rec["cpu"]
    cols["buf"] = rec["buf"]
    cols["pos"] = rec["pos"]
    offs = rec["data"]
    lens = rec["len"]

    # Common fields: every format repeats them; take the first format's layout.
    common = formats.common()
    ct = common.get("common_type")
    if ct is None:
        if n:
            raise TraceParseError("event formats lack common_type", path=c.path)
        etype = np.empty(0, np.int32)
    else:
        etype = np.empty(n, dtype=np.int32)  # common_type is an unsigned short
    specs: list[tuple[Any, np.ndarray, bool, int | None]] = []
    if ct is not None:
        specs.append((ct, etype, False, -1))
    for name, colname in (
        ("common_flags", "flags"),
        ("common_preempt_count", "preempt"),
        ("common_pid", "pid"),
    ):
        f = common.get(name)
        if f is not None and n:
            specs.append((f, cols[colname], f.signed if name == "common_pid" else False, -1))
        else:
            cols[colname].fill(-1)
    if n:
        gather_many(mem, offs, None, lens, big, specs)
    cols["irqctx"] = irqctx_from_flags(cols["flags"])
    cmdlines = _once(c, "cmdlines", parse_cmdlines)
    cols["comm"] = comm_codes(cols["pid"], cmdlines, pool) if n else np.empty(0, np.int32)

    fields: dict[str, FieldTable] = {}
    ids, inv = factorize(etype)
    del etype
    # Rows of each type as slices of one counting-sorted array (no mask per type).
    order, starts = ringbuf.group_rows(inv, len(ids))
    del inv  # event/kind are filled per group below: one n-sized array fewer while decoding
    # Rows whose funcgraph columns (sentinel -1) no gather writes: filled after the loop.
    unfilled: dict[str, list[np.ndarray]] = {c: [] for c in _FG_FILLED}
    fg_groups: list[int] = []
    ev_code = np.full(len(ids), -1, dtype=np.int32)
    kind_code = np.zeros(len(ids), dtype=np.int8)
    syms = None
    printk = None
    unknown = 0
    dropped_any: dict[str, list[str]] = {}
    for k, eid in enumerate(ids.tolist()):  # per event type
        rows = order[starts[k] : starts[k + 1]]
        fmt = formats.get(int(eid))
        is_fg = (
            fmt is not None
            and fmt.system == "ftrace"
            and fmt.name in FG_ENTRY_NAMES + (FG_EXIT_NAME,)
        )
        if not is_fg:
            for cn in _FG_FILLED:
                unfilled[cn].append(rows)
        if fmt is None:
            unknown += len(rows)
            ev_code[k] = pool.code(f"unknown_{eid}")
            continue
        ev_code[k] = pool.code(fmt.name)
        kind_code[k] = int(kind_of(fmt.name))
        if is_fg:
            ln = lens[rows]
            fmt = _fix_packed(fmt, ln, meta)
            _funcgraph(fmt, mem, rows, offs, lens, ln, big, cols, unfilled)
            fg_groups.append(k)
            extra = [f for f in fmt.fields if f.name not in _FG_STANDARD]
            if extra:
                o = offs[rows]
                ft, dropped = extract_fields(fmt, mem, rows, o, ln, big, pool, skip=_FG_STANDARD)
                if ft.columns:
                    fields[fmt.name] = ft
            continue
        o, ln = offs[rows], lens[rows]
        if printk is None and fmt.system == "ftrace" and fmt.name in ("bprint", "bputs"):
            printk = _once(c, "printk", parse_printk)
        ln64 = ln.astype(np.int64)
        ft, dropped = extract_fields(fmt, mem, rows, o, ln64, big, pool, printk=printk)
        if fmt.system == "ftrace" and fmt.name in ("print", "bprint", "bputs"):
            if syms is None:
                syms = _once(c, "kallsyms", parse_kallsyms)
            _print_message(fmt, ft, mem, o, ln64, big, meta.long_size, printk or {}, syms, pool)
            dropped = [d for d in dropped if d != "buf"]
        key = fmt.name if fmt.name not in fields else f"{fmt.system}:{fmt.name}"
        fields[key] = ft
        if dropped:
            dropped_any[fmt.name] = dropped
    # The record offsets/lengths are done with (the caller keeps no other use for them).
    del offs, lens
    rec.pop("data")
    rec.pop("len")
    for cname, parts in unfilled.items():
        for r in parts:  # per event type without the field
            cols[cname][r] = -1
    ev_col = np.empty(n, dtype=np.int32)
    kind_col = np.empty(n, dtype=np.int8)
    for k in range(len(ids)):  # per event type
        r = order[starts[k] : starts[k + 1]]
        ev_col[r] = ev_code[k]
        kind_col[r] = kind_code[k]
    cols["event"] = ev_col
    cols["kind"] = kind_col
    if fg_groups:
        # duration = rettime - calltime wherever both were read (exits), in one C pass
        cols["duration"] = ringbuf.duration(cols["calltime"], cols["rettime"])
    else:
        cols["duration"] = np.full(n, -1, dtype=np.int64)
    if fg_groups:
        # funcgraph rows in type order (as a view when the types' groups are adjacent)
        if fg_groups == list(range(fg_groups[0], fg_groups[-1] + 1)):
            rows = order[starts[fg_groups[0]] : starts[fg_groups[-1] + 1]]
        else:
            rows = np.concatenate([order[starts[k] : starts[k + 1]] for k in fg_groups])
        if syms is None:
            syms = _once(c, "kallsyms", parse_kallsyms)
        if len(syms) == 0:
            meta.warn("the file has no kallsyms: funcgraph functions are shown as addresses")
        syms.resolve_into(cols["addr"], pool, rows, cols["func"], cols["module"])
    if formats.unreadable:
        meta.warn(
            f"{formats.unreadable} event format(s) could not be parsed; records of those ids are kept as unknown_<id>"
        )
    if unknown:
        meta.warn(
            f"{unknown} record(s) with an event id that has no format (kept as unknown_<id>)",
            lost=0,
        )
    if dropped_any:
        meta.options["fields_not_decoded"] = dropped_any
    meta.ncpus = max(meta.ncpus, int(cols["cpu"].max()) + 1 if n else 0)
    return EventTable(cols, pool, fields=fields, meta=meta)


def _print_message(
    fmt: EventFormat,
    ft: FieldTable,
    mem: np.ndarray,
    o: np.ndarray,
    ln: np.ndarray,
    big: bool,
    long_size: int,
    printk: dict[int, str],
    syms: Any,
    pool: StringPool,
) -> None:
    """trace_printk messages as a ``buf`` string column (print: the text; bprint: the format
    applied to its binary arguments; bputs: the string), without the trailing newline, as the
    text readers store them."""
    if fmt.name == "bprint":
        ff, bf = fmt.get("fmt"), fmt.get("buf")
        if ff is None or bf is None:
            return
        codes = bprint_messages(
            mem, o, ln, ff.offset, ff.size, bf.offset, printk, long_size, big, syms, pool
        )
    elif fmt.name == "bputs":
        if "str" not in ft.columns or "str" not in ft.string_cols:
            return
        codes = ft.columns["str"]
    else:
        if "buf" not in ft.columns or "buf" not in ft.string_cols:
            return
        codes = ft.columns["buf"]
    uniq, inv = factorize(codes)
    stripped = np.array(
        [pool.code((pool[int(u)] or "").rstrip("\n")) if u >= 0 else -1 for u in uniq.tolist()],
        dtype=np.int32,
    )
    ft.columns["buf"] = stripped[inv] if len(uniq) else codes
    ft.string_cols.add("buf")


def _fix_packed(fmt: EventFormat, lens: np.ndarray, meta: TraceMeta) -> EventFormat:
    """The 32-bit funcgraph_exit format bug (≈5.6 until the Feb 2026 "tracing: Fix ftrace event
    field alignments" fix): the format claims 8-byte aligned calltime/rettime offsets that lie
    past the end of the packed record.  When a field does not fit, recompute offsets as packed
    (docs/formats.md §3.3)."""
    if not len(lens):
        return fmt
    rec = int(np.min(lens))
    if fmt.min_size <= rec:
        return fmt
    fields = sorted(fmt.fields, key=lambda f: f.offset)
    pos = max((f.offset + f.size for f in fmt.common), default=8)
    new = []
    from dataclasses import replace

    for f in fields:
        new.append(replace(f, offset=pos))
        pos += f.size
    if pos > rec + 3:
        return fmt  # packing does not explain it either; keep the format (short fields → null)
    meta.warn(
        f"{fmt.name}: format offsets exceed the {rec}-byte records; using packed offsets (32-bit format bug)"
    )
    return replace(fmt, fields=new)


def _funcgraph(
    fmt: EventFormat,
    mem: np.ndarray,
    rows: np.ndarray,
    offs: np.ndarray,
    lens: np.ndarray,
    ln: np.ndarray,
    big: bool,
    cols: dict[str, np.ndarray],
    unfilled: dict[str, list[np.ndarray]],
) -> None:
    """Funcgraph columns of one record type (``offs``/``lens``: whole table, read at ``rows``);
    ``ln`` is ``lens[rows]``.  addr and retval (sentinel 0) are pre-zeroed; the -1 columns
    this type has no field for are left to the caller's fill (``unfilled``)."""
    specs: list[tuple[Any, np.ndarray, bool, int | None]] = []
    f = fmt.get("func")
    if f is not None and f.is_scalar:
        specs.append((f, cols["addr"], False, None))
    for name in ("depth", "calltime", "rettime", "overrun"):
        fld = fmt.get(name)
        if fld is not None and fld.is_scalar:
            specs.append((fld, cols[name], fld.signed, -1))
        else:
            unfilled[name].append(rows)
    rv = fmt.get("retval") if fmt.name == FG_EXIT_NAME else None
    if rv is not None and rv.is_scalar:
        specs.append((rv, cols["retval"], rv.signed, None))
    gather_many(mem, offs, rows, lens, big, specs, indirect=True)
    if rv is not None and rv.is_scalar:
        ok = ln >= rv.offset + rv.size
        # eflags is still all zero here (the reader sets no other flag), so a plain store
        # does what |= would, without the read-modify-write of a fancy |=.
        if ok.all():
            cols["eflags"][rows] = np.uint8(EventFlag.HAS_RETVAL)
        else:
            cols["eflags"][rows[ok]] |= np.uint8(EventFlag.HAS_RETVAL)


def _lost_table(
    lost_rows: list[dict[str, Any]], rec: dict[str, np.ndarray], table: EventTable, pool: StringPool
) -> LostTable:
    if not lost_rows:
        return LostTable({}, pool)
    row = np.array([r["row"] for r in lost_rows], dtype=np.int64)
    ts = np.where(
        row >= 0, table["ts"][np.clip(row, 0, max(len(table) - 1, 0))] if len(table) else -1, -1
    )
    return LostTable(
        {
            "cpu": np.array([r["cpu"] for r in lost_rows], dtype=np.int16),
            "row": row,
            "ts": ts,
            "count": np.array([r["count"] for r in lost_rows], dtype=np.int64),
            "pos": np.array([r["pos"] for r in lost_rows], dtype=np.int64),
            "source": np.array([int(r["source"]) for r in lost_rows], dtype=np.int8),
        },
        pool,
    )


def _latency(c: Container, meta: TraceMeta, source: Source) -> EventTable:
    """A "latency" trace.dat holds the kernel's text output: hand it to the text reader."""
    text = c.buffers[0].latency_text or ""
    try:
        from ..ftrace_text import parse_ftrace_text
    except ImportError:
        raise TraceFormatError(
            "latency-format trace.dat (kernel text inside) needs the text reader", path=c.path
        ) from None
    table = parse_ftrace_text(Source(source.name, text.encode()))
    meta.detail += ", latency text"
    tm = table.meta
    meta.ts_known = tm.ts_known
    meta.ts_resolution_ns = tm.ts_resolution_ns
    meta.duration_resolution_ns = tm.duration_resolution_ns
    meta.lines_total, meta.lines_unparsed = tm.lines_total, tm.lines_unparsed
    meta.unparsed_examples = tm.unparsed_examples
    meta.warnings.extend(tm.warnings)
    table.meta = meta
    return table
