"""``trace_printk()`` messages: format the binary arguments of ``bprint`` records.

A ``bprint`` record holds a pointer to its format string (resolved through the file's
printk_formats) and the arguments packed by the kernel's ``vbin_printf()``
(lib/vsprintf.c): every numeric argument 4-byte aligned, sized by its conversion (``ll`` → 8,
``l``/``z``/pointers → kernel long, otherwise 4), ``%s`` strings copied inline with their NUL.
libtraceevent's ``make_bprint_args()`` (src/event-parse.c) decodes them the same way.

Records are grouped by their raw bytes (format pointer + arguments) and each distinct group is
formatted once, so a trace full of identical trace_printk()s costs one format per distinct
message, not one per record.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from ...table import StringPool
from .symbols import Symbols

_CONV = re.compile(
    r"%(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?(?P<len>hh|h|ll|l|z|L|j|t)?(?P<conv>[diouxXcspP%])"
)


def format_bprint(fmt: str, args: bytes, long_size: int, big: bool, syms: Symbols | None) -> str:
    """The message of one bprint record (``fmt`` with ``args`` decoded as vbin_printf packs them)."""
    e = ">" if big else "<"
    out: list[str] = []
    pos = 0
    last = 0

    def take(size: int) -> int:
        nonlocal pos
        pos = (pos + 3) & ~3
        if pos + size > len(args):
            raise ValueError("arguments end early")
        v = int.from_bytes(args[pos : pos + size], "big" if big else "little")
        pos += size
        return v

    for m in _CONV.finditer(fmt):
        out.append(fmt[last : m.start()])
        last = m.end()
        conv = m.group("conv")
        if conv == "%":
            out.append("%")
            continue
        try:
            width = m.group("width")
            if width == "*":
                width = str(
                    struct.unpack(e + "i", take(4).to_bytes(4, "big" if big else "little"))[0]
                )
            prec = m.group("prec")
            if prec == "*":
                prec = str(take(4))
            spec = "%" + m.group("flags") + (width or "") + (f".{prec}" if prec is not None else "")
            ln = m.group("len") or ""
            if conv == "s":
                end = args.find(b"\x00", pos)
                end = len(args) if end < 0 else end
                s = args[pos:end].decode("utf-8", errors="replace")
                pos = end + 1
                out.append((spec + "s") % s)
                continue
            if conv in "pP":
                v = take(long_size)
                # %ps/%pS/%pf/%pF… : the letters after 'p' pick a symbol printer
                ext = re.match(r"[a-zA-Z]*", fmt[last:]).group(0)  # type: ignore[union-attr]
                last += len(ext)
                if ext[:1] in ("s", "S", "f", "F") and syms is not None and len(syms):
                    from .symbols import _bsearch

                    j = int(_bsearch(syms.addrs, np.array([v], dtype=np.uint64))[0])
                    if j >= 0:
                        name, _ = syms.entry(j)
                        off = v - int(syms.addrs[j])
                        out.append(name + (f"+0x{off:x}" if ext[:1] in ("S", "F") and off else ""))
                        continue
                out.append(f"0x{v:x}")
                continue
            size = 8 if ln in ("ll", "L", "j") else long_size if ln in ("l", "z", "t") else 4
            v = take(size)
            if conv in "di":
                if v >= 1 << (8 * size - 1):
                    v -= 1 << (8 * size)
                out.append((spec + "d") % v)
            elif conv == "u":
                out.append((spec + "d") % v)
            elif conv == "c":
                out.append((spec + "c") % chr(v & 0xFF))
            else:
                out.append((spec + conv) % v)
        except (ValueError, TypeError, OverflowError):
            out.append(m.group(0))  # arguments shorter than the format says: keep it raw
    out.append(fmt[last:])
    return "".join(out)


def bprint_messages(
    mem: np.ndarray,
    offs: np.ndarray,
    lens: np.ndarray,
    fmt_off: int,
    fmt_size: int,
    buf_off: int,
    printk: dict[int, str],
    long_size: int,
    big: bool,
    syms: Symbols | None,
    pool: StringPool,
) -> np.ndarray:
    """Codes of the formatted messages of bprint records (one format per distinct record)."""
    n = len(offs)
    out = np.full(n, -1, dtype=np.int32)
    if n == 0:
        return out
    width = int(np.max(lens)) - fmt_off
    if width <= 0:
        return out
    idx = offs[:, None] + fmt_off + np.arange(width, dtype=np.int64)
    valid = np.arange(width)[None, :] < (lens - fmt_off)[:, None]
    raw = np.where(valid, mem[np.where(valid, idx, 0)], 0).astype(np.uint8)
    keys = np.ascontiguousarray(raw).view(f"V{width}").reshape(-1)
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    codes = np.empty(len(uniq), dtype=np.int32)
    for k in range(len(uniq)):  # per distinct message
        i = int(first[k])
        rec = raw[i, : int(lens[i]) - fmt_off].tobytes()
        ptr = int.from_bytes(rec[:fmt_size], "big" if big else "little")
        fmt = printk.get(ptr)
        if fmt is None:
            codes[k] = pool.code(f"0x{ptr:x}")
            continue
        codes[k] = pool.code(format_bprint(fmt, rec[buf_off - fmt_off :], long_size, big, syms))
    out[:] = codes[inv.reshape(-1)]
    return out
