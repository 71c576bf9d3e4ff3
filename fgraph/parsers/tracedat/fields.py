"""Vectorized field extraction: one numpy gather per (event type, field), never per record.

``mem`` is a uint8 array over the file (or the decompressed data); ``offs`` are payload
offsets of the records of one event type.  Integers are assembled from gathered bytes in the
file's endianness and sign-extended per the format's ``signed`` flag; strings become pool
codes after de-duplicating the raw byte strings.
"""

from __future__ import annotations

import weakref

import numpy as np

from ..._numpy import unique
from ...table import FieldTable, StringPool
from .eventformat import EventFormat, Field, flags_table


def gather_into(
    mem: np.ndarray,
    offs: np.ndarray,
    rows: np.ndarray | None,
    f: Field,
    big: bool,
    out: np.ndarray,
    lens: np.ndarray | None = None,
    signed: bool | None = None,
    null: int | None = None,
    indirect: bool = False,
) -> None:
    """``out[rows] = field f of each record`` in one C pass.

    Records too short for the field get ``null``, or stay untouched when it is None.  With
    ``indirect``, ``offs`` and ``lens`` are whole-table arrays indexed by ``rows``.
    """
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    ringbuf.gather(
        mem,
        np.ascontiguousarray(offs, dtype=np.int64),
        None if rows is None else np.ascontiguousarray(rows, dtype=np.int64),
        f.offset,
        f.size,
        int(f.signed if signed is None else signed),
        int(big),
        out,
        f.offset + f.size,
        None if lens is None else np.ascontiguousarray(lens, dtype=np.int32),
        null,
        indirect,
    )


def gather_many(
    mem: np.ndarray,
    offs: np.ndarray,
    rows: np.ndarray | None,
    lens: np.ndarray | None,
    big: bool,
    specs: list[tuple[Field, np.ndarray, bool, int | None]],
    indirect: bool = False,
) -> None:
    """Several ``gather_into`` calls over the same records in one C pass.

    ``specs``: (field, out, signed, null) per column.  One pass reads each record's offset
    and length once and its fields from the same cache lines (one pass per field cost ~0.1 s
    per 10M records each).
    """
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    ringbuf.gather_many(
        mem,
        np.ascontiguousarray(offs, dtype=np.int64),
        None if rows is None else np.ascontiguousarray(rows, dtype=np.int64),
        None if lens is None else np.ascontiguousarray(lens, dtype=np.int32),
        int(big),
        indirect,
        [(f.offset, f.size, int(sg), out, null) for f, out, sg, null in specs],
    )


def read_uint(mem: np.ndarray, offs: np.ndarray, size: int, big: bool) -> np.ndarray:
    """Unsigned integers of ``size`` bytes at ``offs`` (uint64)."""
    out = np.zeros(len(offs), dtype=np.uint64)
    if len(offs):
        gather_into(mem, offs, None, Field("", "", 0, size, False), big, out)
    return out


def read_int(mem: np.ndarray, offs: np.ndarray, size: int, signed: bool, big: bool) -> np.ndarray:
    """Integers as int64 (sign-extended when ``signed``; 8-byte unsigned values wrap)."""
    out = np.zeros(len(offs), dtype=np.int64)
    if len(offs):
        gather_into(mem, offs, None, Field("", "", 0, size, signed), big, out)
    return out


def field_int(
    mem: np.ndarray, offs: np.ndarray, lens: np.ndarray, f: Field, big: bool, null: int = -1
) -> np.ndarray:
    """A scalar field per record; ``null`` where the record is too short to hold it."""
    out = np.empty(len(offs), dtype=np.int64)
    if len(offs):
        gather_into(mem, offs, None, f, big, out, lens, null=null)
    return out


SMALL_RANGE = 1 << 23  # factorize: integers in [-1, SMALL_RANGE) come ascending


def factorize(
    values: np.ndarray, small_range: int = SMALL_RANGE, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, index of each value's distinct entry) in one C hash pass, no sort.

    The distinct values come in order of first appearance, except for small non-negative
    integers (event ids, pids: all in [-1, small_range) and more than 1024 values), which come
    ascending.  That order decides the order in which strings enter the pool, so it is kept as
    it was when the first case used pandas.factorize and the second a lookup table.  (pandas is
    not imported: it alone cost 0.4 s of start-up.)  With ``rows``, of ``values[rows]``
    without making that copy.
    """
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    v = np.asarray(values)
    if v.dtype.kind not in "iu":
        raise TypeError(f"factorize: integer values expected, not {v.dtype}")
    if rows is not None:
        uniq, codes = ringbuf.factorize(v, False, np.asarray(rows, np.int64))
        uniq = uniq.astype(v.dtype)
        if len(rows) > 1024 and len(uniq) and uniq.min() >= -1 and uniq.max() < small_range:
            perm = np.argsort(uniq)
            rank = np.empty(len(uniq), np.int64)
            rank[perm] = np.arange(len(uniq))
            uniq, codes = uniq[perm], rank[codes]
        return uniq.astype(v.dtype), codes
    if len(v) > 1024:
        lo, hi = int(v.min()), int(v.max())
        if lo >= -1 and hi < small_range:
            uniq, codes = ringbuf.factorize(v, True, None, lo, hi)  # (a direct table if small)
            return uniq.astype(v.dtype), codes
    uniq, codes = ringbuf.factorize(v, False)
    return uniq.astype(v.dtype), codes


# Rows up to which a string field's values are looked up one by one in a cache of the raw
# bytes met before (below, the sort and the per-value decode of np.unique's way cost ~85 us a
# call whatever the rows: a windowed read extracts the few scheduler events' comm fields of
# every window: 270 calls and 23 -> 11 ms on fsync_x50, in its decode thread)
SMALL_STRINGS = 4096
# per pool: raw bytes (NUL-padded as numpy's S dtype gives them) -> the pool's code (a pool
# never changes a code it gave)
_RAW_CODES: weakref.WeakKeyDictionary[StringPool, dict[bytes, int]] = weakref.WeakKeyDictionary()


def _strings_cached(as_s: np.ndarray, pool: StringPool) -> np.ndarray:
    """_strings_from_matrix for few rows: the same codes, and new strings enter the pool in
    the same order (np.unique's: the raw bytes sorted)."""
    cache = _RAW_CODES.get(pool)
    if cache is None:
        cache = _RAW_CODES[pool] = {}
    keys = as_s.tolist()  # (bytes without their trailing NULs, as np.unique's values)
    for k in sorted({k for k in keys if k not in cache}):
        cache[k] = pool.code(k.split(b"\x00", 1)[0].decode("utf-8", errors="replace"))
    return np.fromiter(map(cache.__getitem__, keys), np.int32, len(keys))


def _strings_from_matrix(raw: np.ndarray, pool: StringPool) -> np.ndarray:
    """Rows of a (n, width) uint8 matrix → codes of the C strings they hold (cut at the NUL)."""
    n, width = raw.shape
    if n == 0:
        return np.empty(0, np.int32)
    if width == 0:
        return np.full(n, pool.code(""), dtype=np.int32)
    as_s = np.ascontiguousarray(raw).view(f"S{width}").reshape(-1)
    if n <= SMALL_STRINGS:
        return _strings_cached(as_s, pool)
    uniq, inv = np.unique(as_s, return_inverse=True)  # fixed-width bytes: numpy sorts them fast
    codes = np.array(
        [
            pool.code(bytes(u).split(b"\x00", 1)[0].decode("utf-8", errors="replace"))
            for u in uniq.tolist()
        ],
        dtype=np.int32,
    )
    return codes[inv.reshape(-1)]


def _strings_var(
    mem: np.ndarray, start: np.ndarray, length: np.ndarray, pool: StringPool
) -> np.ndarray:
    """Variable-length strings (``start``, ``length`` per record) → codes, in width buckets."""
    n = len(start)
    out = np.full(n, -1, dtype=np.int32)
    if n == 0:
        return out
    length = np.clip(length, 0, None)
    # Bucket by rounded-up width so one long string does not widen every row.
    widths = np.maximum(8, 1 << np.ceil(np.log2(np.maximum(length, 1))).astype(np.int64))
    for w in unique(widths).tolist():
        sel = np.nonzero(widths == w)[0]
        idx = start[sel, None] + np.arange(w, dtype=np.int64)
        mask = np.arange(w)[None, :] < length[sel, None]
        idx = np.where(mask, np.clip(idx, 0, len(mem) - 1), 0)
        raw = np.where(mask, mem[idx], 0).astype(np.uint8)
        out[sel] = _strings_from_matrix(raw, pool)
    return out


def field_string(
    mem: np.ndarray, offs: np.ndarray, lens: np.ndarray, f: Field, big: bool, pool: StringPool
) -> np.ndarray:
    """A string field (char array, __data_loc/__rel_loc char[], char tail[]) as pool codes."""
    n = len(offs)
    if f.data_loc or f.rel_loc:
        if f.size == 4:
            loc = read_uint(mem, offs + f.offset, 4, big).astype(np.int64)
            off = loc & 0xFFFF
            ln = loc >> 16
        else:  # ancient 2-byte __data_loc: offset only, NUL-terminated
            off = read_uint(mem, offs + f.offset, 2, big).astype(np.int64)
            ln = np.clip(lens - off, 0, None)
        if f.rel_loc:
            off = off + f.offset + f.size
        ok = (lens >= f.offset + f.size) & (off + ln <= lens)
        out = np.full(n, -1, dtype=np.int32)
        out[ok] = _strings_var(mem, offs[ok] + off[ok], ln[ok], pool)
        return out
    if f.dynamic:
        return _strings_var(mem, offs + f.offset, lens - f.offset, pool)
    ok = lens >= f.offset + f.size
    out = np.full(n, -1, dtype=np.int32)
    sel = np.nonzero(ok)[0]
    idx = offs[sel, None] + f.offset + np.arange(f.size, dtype=np.int64)
    out[sel] = _strings_from_matrix(mem[idx], pool)
    return out


def extract_fields(
    fmt: EventFormat,
    mem: np.ndarray,
    rows: np.ndarray,
    offs: np.ndarray,
    lens: np.ndarray,
    big: bool,
    pool: StringPool,
    skip: tuple[str, ...] = (),
    printk: dict[int, str] | None = None,
) -> tuple[FieldTable, list[str]]:
    """The event's own fields as a FieldTable; also returns the names of fields not kept."""
    cols: dict[str, np.ndarray] = {}
    strs: set[str] = set()
    dropped: list[str] = []
    for f in fmt.fields:
        if f.name in skip:
            continue
        if f.is_string:
            cols[f.name] = field_string(mem, offs, lens, f, big, pool)
            strs.add(f.name)
        elif f.is_scalar:
            cols[f.name] = field_int(mem, offs, lens, f, big)
        else:
            dropped.append(f.name)  # numeric arrays, cpumasks, binary tails
    if fmt.name == "sched_switch" and "prev_state" in cols:
        table = flags_table(fmt.print_fmt, "prev_state")
        cols["prev_state"] = _render_flags(cols["prev_state"], table, pool)
        strs.add("prev_state")
    if printk is not None and fmt.system == "ftrace" and fmt.name in ("bprint", "bputs"):
        name = "fmt" if fmt.name == "bprint" else "str"
        if name in cols and name not in strs:
            cols[name] = _pointer_strings(cols[name], printk, pool)
            strs.add(name)
    return FieldTable(rows, cols, strs), dropped


def _render_flags(values: np.ndarray, table: object, pool: StringPool) -> np.ndarray:
    uniq, inv = factorize(values)
    codes = np.empty(len(uniq), dtype=np.int32)
    for k, v in enumerate(uniq.tolist()):  # per distinct value
        if table is None:
            codes[k] = pool.code(str(v))
        else:
            codes[k] = pool.code(table.render(int(v)))  # type: ignore[attr-defined]
    return codes[inv.reshape(-1)]


def _pointer_strings(values: np.ndarray, printk: dict[int, str], pool: StringPool) -> np.ndarray:
    uniq, inv = factorize(values)
    codes = np.empty(len(uniq), dtype=np.int32)
    for k, v in enumerate(uniq.tolist()):
        a = int(v) & 0xFFFFFFFFFFFFFFFF
        s = printk.get(a)
        codes[k] = pool.code(s if s is not None else f"0x{a:x}")
    return codes[inv.reshape(-1)]
