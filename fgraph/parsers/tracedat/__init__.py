"""trace-cmd ``trace.dat`` reader (file versions 6 and 7; zlib, zstd or uncompressed).

``parse_tracedat(source)`` decodes every record of every CPU of every buffer instance into an
:class:`~fgraph.table.EventTable`, matching ``trace-cmd report -t -R`` record for record
(timestamps in ns, cpu, pid, fields, funcgraph symbol names).  Records are emitted buffer
after buffer, CPU after CPU, each CPU in ring-buffer order; the time merge is the rebuild's job.

Pipeline (each step vectorized or in C):

1. ``header``: initial header, v6 sequential layout or v7 sections/options chain → metadata.
2. ``eventformat``: every format file → field offsets/sizes (``header_page`` → kernel long size).
3. ``ringbuffer``: per CPU blob, decompress chunks, walk pages in C (``fgraph/_ext/ringbuf.c``).
4. ``_decode``: common fields, comm, event codes and funcgraph columns in C passes over the
   records (``ringbuf.assemble`` / ``fg_fill``); per-event field tables by gathers
   (``fields``).
5. ``symbols``: kallsyms / cmdlines lookups per distinct address / pid.

``pos`` is the file offset of each record's event header for uncompressed data; for
compressed data it is the file offset of the chunk (10 pages) holding the record.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from ..._ext import ringbuf  # type: ignore[attr-defined]
from ...errors import FgraphError, TraceFormatError, TraceParseError
from ...schema import EVENT_COLUMNS, EventFlag, LostSource, kind_of
from ...source import Source
from ...table import EventTable, FieldTable, LostTable, StringPool, TraceMeta
from . import options as O
from .bprint import bprint_messages
from .eventformat import EventFormat, FormatError, FormatIndex, parse_header_page
from .fields import extract_fields, factorize
from .header import Container, read_container
from .ringbuffer import PAGE_STATUS, Blob, count, drop_disordered_pages, load_blobs, walk
from .symbols import comm_table, parse_cmdlines, parse_kallsyms, parse_printk

__all__ = ["parse_tracedat", "read_container"]

FG_ENTRY_NAMES = ("funcgraph_entry", "fgraph_retaddr_entry")
FG_EXIT_NAME = "funcgraph_exit"
_FG_STANDARD = ("func", "depth", "overrun", "calltime", "rettime", "retval")


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
    }
    compressed = any(b.compressed or b.start != b.file_offset for b in blobs)
    pos = np.empty(total, np.int64) if compressed else rec["hdr"]
    base = 0
    spans: list[tuple[Blob, int, int]] = []  # each blob's rows
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
        spans.append((blob, base, n))
        _page_events(blob, w, base, n, page_size, lost_rows, meta, c)
        base += n
    if base != total:
        rec = {k: v[:base] for k, v in rec.items()}
        pos = pos[:base]
    rec["pos"] = pos
    del rec["hdr"]
    pieces: list[Piece] = [
        (
            rec["data"][b : b + n],
            rec["len"][b : b + n],
            rec["ts"][b : b + n],
            pos[b : b + n],
            blob.cpu,
            blob.buf_index,
            0,
        )
        for blob, b, n in spans
    ]
    # decoded in place of the walk's arrays (ts and pos become the table's columns)
    table = _decode(c, meta, formats, mem, pieces, pool, into=rec)
    del pieces, rec
    table.lost = _lost_table(lost_rows, table)
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
        comm_by_pid=True,
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
    """``parse(c.<name>)``, parsed once per file (a windowed read decodes many windows), by
    whichever thread asks first (``TraceDatStream.warm``: the consumer's, while the decode
    thread walks the first window); a second asker meanwhile waits for it."""
    cache: dict[str, Any] = c.__dict__.setdefault("_parsed", {})
    if name not in cache:
        with c.__dict__.setdefault("_parsing", threading.Lock()):
            if name not in cache:
                # (the raw form when the container has one: the kallsyms' bytes, not
                # decoded to text only for the parse to encode them again)
                raw = getattr(c, name + "_raw", None)
                cache[name] = parse(getattr(c, name) if raw is None else raw)
    return cache[name]


# A window's records as pieces: (data, len, ts, pos, cpu, buf, first row id) per run of records
# of one CPU blob (ringbuf.assemble)
Piece = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int, int]

# per funcgraph field of ringbuf.fg_fill's layout: (present, offset, size, signed)
_FG_LAYOUT = ("func", "depth", "calltime", "rettime", "overrun", "retval")


def _decode(
    c: Container,
    meta: TraceMeta,
    formats: FormatIndex,
    mem: np.ndarray,
    pieces: list[Piece],
    pool: StringPool,
    ids: np.ndarray | None = None,
    into: dict[str, np.ndarray] | None = None,
    alloc: Callable[[str, int, np.dtype], np.ndarray] | None = None,
    sparse_funcgraph: bool = False,
    skip: frozenset[str] = frozenset(),
) -> EventTable:
    """The event table of the records of ``pieces``, piece after piece (``ids``: filled with
    each row's id, the piece's first id counted up).  ``into`` (``data``, ``len``, ``ts``,
    ``pos`` arrays that the pieces are consecutive slices of, from row 0) lets the rows be
    decoded in place of the walk's arrays (the whole-file read) instead of into new ones.
    ``alloc(name, n, dtype)`` makes the arrays instead of ``np.empty``: the columns by their
    names, the decode's scratch arrays (record offsets, lengths and types, dropped at the end)
    by names with a leading blank (the windowed read uses a window's arrays again).
    ``sparse_funcgraph``: the funcgraph rows' ``flags``, ``preempt``, ``event``, ``overrun`` and
    ``pos`` may be left unwritten (hold anything): for the windowed read, whose rebuild reads
    none of them and keeps only the other rows as the trace's events (~1.7 ns a record less in
    ``assemble``, 4 of its ~25 stores; ~3 ns more without the copies of pos and the record
    offsets and lengths).  With it, ``skip`` (``module``, ``retval``): those funcgraph columns
    may be left unwritten too (the call columns the windowed read's caller does not build:
    ``fgraph hist``'s; 12 of the ~110 bytes a record ``assemble`` writes).

    C passes over the records (ringbuf.c ``assemble`` and ``fg_fill``) write every column of
    every row: ``assemble`` the record columns and common fields, counting the event ids, and,
    from what the windows before met (``_TypeCache``, ``_CommCache``, the symbols' address
    table), the comm codes, the event and kind codes and the funcgraph columns (the
    sentinels for other records) with the exit durations and the functions' codes.  What it
    could not write from them (a type, pid or address not met before, a type whose layout
    differs in this window) is made again below as it always was: ``fg_fill`` once the
    window's own types are known, ``comm_table``, ``resolve_into``; so the caches only save
    work, never decide a value.  Records of other event types are decoded per type below
    (few).  (With a numpy or C pass per step and column, per-type row groups and indirect
    gathers, the whole windowed read of fsync_x48 took ~100 ns of CPU per record; now ~80.)"""
    from .fields import SMALL_RANGE

    n = sum(len(p[0]) for p in pieces)
    big = c.big_endian
    cols: dict[str, np.ndarray] = {}
    # every row of every column is written exactly once below (no fill passes: filling whole
    # columns with sentinels and then overwriting them cost 2.5 s per 10M records)
    empty = alloc or (lambda _name, size, dtype: np.empty(size, dtype))
    for col in EVENT_COLUMNS:
        cols[col.name] = empty(col.name, n, col.dtype)
    if into is not None:
        raw_ts, offs, lens = into["ts"], into["data"], into["len"]
        cols["pos"] = into["pos"]
    else:
        # (the raw times in the ts column's memory when it is not new: _timestamps returns
        # them as they are when there is nothing to convert)
        raw_ts = (
            empty("ts", n, np.dtype(np.uint64)) if alloc is None else cols["ts"].view(np.uint64)
        )
        offs = empty(" offs", n, np.dtype(np.int64))
        lens = empty(" lens", n, np.dtype(np.int32))

    # Common fields: every format repeats them; take the first format's layout.
    common = formats.common()
    ct = common.get("common_type")
    if ct is None and n:
        raise TraceParseError("event formats lack common_type", path=c.path)
    etype = empty(" etype", n, np.dtype(np.int32))  # common_type is an unsigned short
    specs: list[tuple[int, int, int] | None] = []
    for name in ("common_type", "common_flags", "common_preempt_count", "common_pid"):
        f = common.get(name)
        specs.append(
            None if f is None else (f.offset, f.size, int(f.signed and name == "common_pid"))
        )
    fg_out = tuple(cols[k] for k in _FG_OUT)
    # The event types of the windows before (their codes and funcgraph layouts): the first
    # pass writes the funcgraph columns of their records too, and the second is only needed
    # when this window's types are not those (checked below).
    cache = _TypeCache.of(c, pool)
    syms = None
    fused = None
    if cache.has_fg:
        syms = _once(c, "kallsyms", parse_kallsyms)
        tab = syms._addr_table(pool)
        fused = (
            cache.tslot,
            cache.ev,
            cache.kind,
            cache.layout,
            tab.keys,
            tab.slot,
            tab.func,
            tab.mod,
            fg_out,
            int(EventFlag.HAS_RETVAL),
        )
    elif len(cache.ev):
        fused = (cache.tslot, cache.ev, cache.kind, cache.layout, *_NO_ADDRS, fg_out, 0)
    cmdlines = _once(c, "cmdlines", parse_cmdlines)
    # and the comm column, from the comm codes of the pids met before
    pids = _CommCache.of(c, pool)
    wide = False
    slow = missed = new_pids = True
    partial = False
    seen = np.empty(0, np.int32)
    cnt = minlen = np.empty(0, np.int64)
    # the rows not decoded as a funcgraph type of the cache (the few other events, whose
    # rows the per-type steps below look for among these, not among all)
    others = empty(" others", n, np.dtype(np.int64))
    nothers = n
    if n:
        seen, cnt, minlen, wide, slow, missed, new_pids, partial, nothers = ringbuf.assemble(
            mem,
            pieces,
            specs,
            int(big),
            raw_ts,
            cols["pos"],
            cols["cpu"],
            cols["buf"],
            ids,
            offs,
            lens,
            etype,
            cols["flags"],
            cols["preempt"],
            cols["pid"],
            cols["irqctx"],
            fused,
            (pids.table, cols["comm"]),
            _sparse_bits(sparse_funcgraph, skip),
            others,
        )
    cols["ts"] = _timestamps(raw_ts, c)
    if n and new_pids:
        # a pid not met before: the window's comm codes as they always were made (the pool
        # meets new names in the window's pid order), kept for the next windows
        pids.add(*comm_table(cols["pid"], cmdlines, pool, cols["comm"])[:2])

    # The event ids in factorize's order (ascending when many rows, else as first met)
    inv: np.ndarray | None = None
    if wide:  # an id beyond an unsigned short (a format's wider common_type)
        ids_, inv = factorize(etype)
        cnt = np.bincount(inv, minlength=len(ids_))
        minlen = np.full(len(ids_), np.iinfo(np.int64).max, np.int64)
        np.minimum.at(minlen, inv, lens)
    else:
        if n > 1024 and len(seen) and int(seen.max()) < SMALL_RANGE:
            perm = np.argsort(seen)
            seen, cnt, minlen = seen[perm], cnt[perm], minlen[perm]
        ids_ = seen
    # (the types whose rows assemble decoded as funcgraph records are not all among others)
    decoded = frozenset(cache.decoded(ids_).tolist()) if fused is not None else frozenset()
    rows_of = _TypeRows(etype, ids_, inv, others[:nothers], decoded)

    fields: dict[str, FieldTable] = {}
    fg_groups: list[int] = []
    ev_code = np.full(len(ids_), -1, dtype=np.int32)
    kind_code = np.zeros(len(ids_), dtype=np.int8)
    layout = np.zeros((len(ids_), 1 + 4 * len(_FG_LAYOUT)), np.int64)
    printk = None
    unknown = 0
    dropped_any: dict[str, list[str]] = {}
    for k, eid in enumerate(ids_.tolist()):  # per event type
        fmt = formats.get(int(eid))
        is_fg = (
            fmt is not None
            and fmt.system == "ftrace"
            and fmt.name in FG_ENTRY_NAMES + (FG_EXIT_NAME,)
        )
        if fmt is None:
            unknown += int(cnt[k])
            ev_code[k] = pool.code(f"unknown_{eid}")
            continue
        ev_code[k] = pool.code(fmt.name)
        kind_code[k] = int(kind_of(fmt.name))
        if is_fg:
            fmt = _fix_packed(fmt, int(minlen[k]), meta)
            layout[k] = _fg_layout(fmt)
            fg_groups.append(k)
            extra = [f for f in fmt.fields if f.name not in _FG_STANDARD]
            if extra:
                if partial:
                    partial = _fill_records(pieces, offs, lens)
                rows = rows_of(k)
                ft, dropped = extract_fields(
                    fmt, mem, rows, offs[rows], lens[rows], big, pool, skip=_FG_STANDARD
                )
                if ft.columns:
                    fields[fmt.name] = ft
            continue
        rows = rows_of(k)
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
    if not n or wide or slow or not cache.same(ids_, ev_code, kind_code, layout):
        # (a type of this window is new, or its format's layout is not the one the first pass
        # used: the funcgraph records of a 32-bit format bug window, _fix_packed)
        if fg_groups:
            if syms is None:
                syms = _once(c, "kallsyms", parse_kallsyms)
            tab = syms._addr_table(pool)
            addrs = (tab.keys, tab.slot, tab.func, tab.mod)
        else:
            addrs = _NO_ADDRS
        if inv is not None:
            rslot, tslot = inv.astype(np.int32), None
        else:
            rslot = etype
            tslot = np.full(65537, -1, np.int32)
            tslot[ids_.astype(np.int64) + 1] = np.arange(len(ids_), dtype=np.int32)
        missed = False
        if partial:
            partial = _fill_records(pieces, offs, lens)
        if n:
            missed = ringbuf.fg_fill(
                mem,
                int(big),
                rslot,
                offs,
                lens,
                tslot,
                ev_code,
                kind_code,
                layout,
                *addrs,
                *fg_out,
                int(EventFlag.HAS_RETVAL),
            )
        del rslot
    if not wide:
        cache.update(ids_, ev_code, kind_code, layout)
    # The record offsets/lengths are done with (the caller keeps no other use for them).
    del offs, lens, etype
    if fg_groups:
        if syms is None:
            syms = _once(c, "kallsyms", parse_kallsyms)
        if len(syms) == 0:
            meta.warn("the file has no kallsyms: funcgraph functions are shown as addresses")
        if missed:
            # addresses not met before: resolved (and added to the table) in the order of
            # the funcgraph rows by type, as they always were (the pool's order)
            rows = np.concatenate([rows_of(k) for k in fg_groups])
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
    ncpu = max((int(p[4]) + 1 for p in pieces if len(p[0])), default=0)
    meta.ncpus = max(meta.ncpus, ncpu)
    return EventTable(cols, pool, fields=fields, meta=meta)


def _sparse_bits(sparse: bool, skip: frozenset[str]) -> int:
    """ringbuf.assemble's ``sparse`` bits (ringbuf.c SPARSE_*)."""
    if not sparse:
        return 0
    return 1 | (2 if "module" in skip else 0) | (4 if "retval" in skip else 0)


def _fill_records(pieces: list[Piece], offs: np.ndarray, lens: np.ndarray) -> bool:
    """Copy the pieces' record offsets and lengths into ``offs`` and ``lens`` whole, where the
    sparse ``assemble`` left the funcgraph records' out (a later step reads them after all: a
    window with a type its cache does not know, a funcgraph format with fields of its own).
    Returns False: nothing is left out any more."""
    r = 0
    for p in pieces:
        m = len(p[0])
        offs[r : r + m] = p[0]
        lens[r : r + m] = p[1]
        r += m
    return False


# fg_fill's outputs, in its order
_FG_OUT = (
    "event",
    "kind",
    "addr",
    "func",
    "module",
    "depth",
    "calltime",
    "rettime",
    "overrun",
    "retval",
    "eflags",
    "duration",
)
# an empty address table (no funcgraph types)
_NO_ADDRS = (
    np.zeros(2, np.uint64),
    np.full(2, -1, np.int64),
    np.empty(0, np.int32),
    np.empty(0, np.int32),
)


_Cache = TypeVar("_Cache")


def _kept_on(
    c: Container, attr: str, pool: StringPool, make: Callable[[StringPool], _Cache]
) -> _Cache:
    """The cache of kind ``make`` kept on container ``c`` for string pool ``pool`` (a new one
    when the container is read into another pool: the cached codes are that pool's)."""
    cache = c.__dict__.get(attr)
    if cache is None or cache.pool is not pool:
        cache = c.__dict__[attr] = make(pool)
    return cache  # type: ignore[no-any-return]


class _TypeCache:
    """Per event id met so far (of one container and pool): the event and kind codes and the
    funcgraph layout (``_fg_layout``) its last window used, for ``ringbuf.assemble``'s
    funcgraph columns.  What the first pass wrote from it stands only when the window's own
    types get the same (``same``): a window read with a stale entry is filled again by
    ``fg_fill``, so the cache never decides a value."""

    def __init__(self, pool: StringPool) -> None:
        self.pool = pool
        self.tslot = np.full(65537, -1, np.int32)  # per id + 1: its row, -1 none
        self.ev = np.empty(0, np.int32)
        self.kind = np.empty(0, np.int8)
        self.layout = np.empty((0, 1 + 4 * len(_FG_LAYOUT)), np.int64)
        self.has_fg = False

    def decoded(self, ids: np.ndarray) -> np.ndarray:
        """Of the event ``ids``, those whose records ``assemble`` decodes as funcgraph records
        from this cache (its layout row's first value not 0: ringbuf.c fg_record)."""
        sl = self.tslot[ids.astype(np.int64) + 1].astype(np.int64)
        ok = (sl >= 0) & (sl < len(self.layout))
        fg = np.zeros(len(ids), dtype=bool)
        fg[ok] = self.layout[sl[ok], 0] != 0
        return ids[fg]

    @classmethod
    def of(cls, c: Container, pool: StringPool) -> _TypeCache:
        return _kept_on(c, "_type_cache", pool, cls)

    def same(self, ids: np.ndarray, ev: np.ndarray, kind: np.ndarray, layout: np.ndarray) -> bool:
        sl = self.tslot[ids.astype(np.int64) + 1]
        if (sl < 0).any():
            return False
        return (
            bool((self.ev[sl] == ev).all())
            and bool((self.kind[sl] == kind).all())
            and bool((self.layout[sl] == layout).all())
        )

    def update(self, ids: np.ndarray, ev: np.ndarray, kind: np.ndarray, layout: np.ndarray) -> None:
        s = ids.astype(np.int64) + 1
        sl = self.tslot[s]
        old = sl >= 0
        self.ev[sl[old]], self.kind[sl[old]], self.layout[sl[old]] = ev[old], kind[old], layout[old]
        new = ~old
        if new.any():
            self.tslot[s[new]] = len(self.ev) + np.arange(int(new.sum()), dtype=np.int32)
            self.ev = np.concatenate([self.ev, ev[new]])
            self.kind = np.concatenate([self.kind, kind[new]])
            self.layout = np.concatenate([self.layout, layout[new]])
        self.has_fg = bool(self.layout[:, 0].any())


class _CommCache:
    """The comm codes of the pids met so far (of one container and pool), for
    ``ringbuf.assemble``: code + 2 per pid + 1 (0: not met), grown to the largest pid met."""

    # pids from here on (pid_max can be 2^22) are left to comm_table: the table stays <= 4 MB
    LIMIT = 1 << 20

    def __init__(self, pool: StringPool) -> None:
        self.pool = pool
        self.table = np.zeros(1024, np.int32)

    @classmethod
    def of(cls, c: Container, pool: StringPool) -> _CommCache:
        return _kept_on(c, "_comm_cache", pool, cls)

    def add(self, pids: np.ndarray, codes: np.ndarray) -> None:
        at = pids.astype(np.int64) + 1
        ok = (at >= 0) & (at < self.LIMIT)
        at, codes = at[ok], codes[ok]
        if not len(at):
            return
        top = int(at.max()) + 1
        if top > len(self.table):
            size = len(self.table)
            while size < top:
                size *= 2
            grown = np.zeros(size, np.int32)
            grown[: len(self.table)] = self.table
            self.table = grown
        self.table[at] = codes + 2


class _TypeRows:
    """The rows of each event type (ascending), made when a type's are asked for: one
    comparison pass per type for the few types that need rows (the records of other event
    types, usually a handful of scheduler events among the funcgraph records), a counting sort
    of all rows once more than a few are asked for or the ids are factorize codes (``inv``)."""

    FEW = 3

    def __init__(
        self,
        etype: np.ndarray,
        ids: np.ndarray,
        inv: np.ndarray | None,
        others: np.ndarray | None = None,
        decoded: frozenset[int] = frozenset(),
    ) -> None:
        self.etype, self.ids, self.inv = etype, ids, inv
        self.asked = 0
        self.groups: tuple[np.ndarray, np.ndarray] | None = None
        # ``others``: ascending rows that hold every row of each type not in ``decoded``
        # (assemble's: the rows it did not decode as a funcgraph type of its cache)
        self.others, self.decoded = others, decoded

    def __call__(self, k: int) -> np.ndarray:
        if self.inv is None and self.others is not None and int(self.ids[k]) not in self.decoded:
            o = self.others
            return o[self.etype[o] == self.ids[k]]
        self.asked += 1
        if self.groups is None and (self.inv is not None or self.asked > self.FEW):
            codes = self.inv
            if codes is None:
                tslot = np.full(65537, -1, np.int64)
                tslot[self.ids.astype(np.int64) + 1] = np.arange(len(self.ids))
                codes = tslot[self.etype.astype(np.int64) + 1]
            self.groups = ringbuf.group_rows(codes, len(self.ids))
        if self.groups is not None:
            order, starts = self.groups
            return order[starts[k] : starts[k + 1]]  # type: ignore[no-any-return]
        return np.flatnonzero(self.etype == self.ids[k])


def _fg_layout(fmt: EventFormat) -> list[int]:
    """ringbuf.fg_fill's layout row of a funcgraph format: the bytes from the record's start
    that its fields span when each is read as 8 bytes (at least 8), then per field of
    ``_FG_LAYOUT`` (present, offset, size, signed), as ``_funcgraph`` gathered them."""
    out = [8]
    for name in _FG_LAYOUT:
        f = fmt.get(name) if name != "retval" or fmt.name == FG_EXIT_NAME else None
        if f is None or not f.is_scalar:
            out += [0, 0, 0, 0]
        else:
            # (func is an address: read unsigned into the uint64 addr column)
            out += [1, f.offset, f.size, int(f.signed and name != "func")]
            out[0] = max(out[0], f.offset + 8)
    return out


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


def _fix_packed(fmt: EventFormat, rec: int, meta: TraceMeta) -> EventFormat:
    """The 32-bit funcgraph_exit format bug (≈5.6 until the Feb 2026 "tracing: Fix ftrace event
    field alignments" fix): the format claims 8-byte aligned calltime/rettime offsets that lie
    past the end of the packed record.  When a field does not fit, recompute offsets as packed
    (docs/formats.md §3.3).  ``rec``: the shortest record of the type."""
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


def _lost_table(lost_rows: list[dict[str, Any]], table: EventTable) -> LostTable:
    pool = table.strings
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
