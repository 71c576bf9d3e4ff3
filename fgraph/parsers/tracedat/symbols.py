"""The file's kallsyms (function names, module symbols), saved cmdlines and printk formats.

Lookups are vectorized: addresses are resolved with ``np.searchsorted`` over the sorted symbol
addresses, once per *distinct* address, and the names become codes in the table's pool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...table import StringPool


@dataclass
class Symbols:
    """Symbols sorted as libtraceevent sorts them; names are decoded only when resolved."""

    addrs: np.ndarray  # uint64, sorted
    text: bytes  # each symbol's name and module (``name[\t[module]]``), in ``addrs`` order
    name_start: np.ndarray  # offset of each symbol's name in ``text``
    line_end: np.ndarray  # end of each symbol's name and module in ``text``

    def __len__(self) -> int:
        return len(self.addrs)

    def entry(self, j: int) -> tuple[str, str]:
        """(name, module) of symbol ``j`` (module "" for the core kernel)."""
        line = self.text[int(self.name_start[j]) : int(self.line_end[j])].decode(
            "utf-8", errors="replace"
        )
        parts = line.split(None, 1)
        name = parts[0] if parts else ""
        mod = ""
        if len(parts) > 1 and parts[1].startswith("["):
            mod = parts[1][1:].split("]", 1)[0].strip()
        return name, mod

    def resolve(
        self, addr: np.ndarray, pool: StringPool, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(func codes, module codes) for each address (of ``addr[rows]`` when given), exactly
        as trace-cmd resolves them.

        libtraceevent (event-parse.c ``__find_func``) runs glibc ``bsearch`` with ``func_bcmp``
        over the symbols sorted by address: a probe matches on an equal address, or when the
        address lies between the probed symbol and the next one (past the last symbol only an
        exact match counts: the sentinel after it has address 0).  Which alias of a shared
        address wins depends on the probe path, so the probe sequence is replayed here, in
        lockstep for all distinct addresses.  Unresolved addresses print as hex; module is -1
        for core-kernel symbols.
        """
        fcodes, mcodes, inv = self._resolve_distinct(addr, pool, rows)
        return fcodes[inv], mcodes[inv]

    def resolve_into(
        self,
        addr: np.ndarray,
        pool: StringPool,
        rows: np.ndarray,
        func_out: np.ndarray,
        mod_out: np.ndarray,
    ) -> None:
        """``func_out[rows], mod_out[rows] = resolve(addr, pool, rows)`` without temporaries.

        Each address is resolved once per pool: its codes go into a table kept with the
        symbols (a windowed read meets the same addresses in every window), and a window
        only looks its addresses up (one C pass), resolving the ones not met before.  The
        pool meets new names in the order ``resolve`` would: the addresses' first appearance,
        or ascending when ``factorize`` sorts them (many rows, all addresses small)."""
        from ..._ext import ringbuf  # type: ignore[attr-defined]
        from .fields import SMALL_RANGE

        addr = np.asarray(addr, dtype=np.uint64)
        rows = np.asarray(rows, dtype=np.int64)
        tab = self._addr_table(pool)
        args = (addr, rows, func_out, mod_out)
        miss, amax = ringbuf.addr_codes(tab.keys, tab.slot, tab.func, tab.mod, *args)
        if not len(miss):
            return
        if len(rows) > 1024 and amax < SMALL_RANGE:
            miss = np.sort(miss)
        fcodes, mcodes = self._codes_distinct(miss, pool)
        tab.add(miss, fcodes, mcodes)
        # every address is in the table now
        ringbuf.addr_codes(tab.keys, tab.slot, tab.func, tab.mod, *args)

    def _resolve_distinct(
        self, addr: np.ndarray, pool: StringPool, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(func code, module code) per distinct address, and each address's distinct index."""
        from .fields import factorize

        addr = np.asarray(addr, dtype=np.uint64)
        uniq, inv = factorize(addr, rows=rows)
        fcodes, mcodes = self._codes_distinct(uniq.astype(np.uint64), pool)
        return fcodes, mcodes, inv.reshape(-1)

    def _codes_distinct(self, uniq: np.ndarray, pool: StringPool) -> tuple[np.ndarray, np.ndarray]:
        """(func code, module code) of distinct addresses (uint64), names entering the pool
        in their order."""
        hit = _bsearch(self.addrs, uniq)
        cf, cm = self._codes_in(pool)
        found = hit >= 0
        hj = np.where(found, hit, 0)
        fcodes = np.where(found, cf[hj], -1).astype(np.int32)
        mcodes = np.where(found, cm[hj], -1).astype(np.int32)
        # names are decoded once per symbol and pool: a windowed read meets the same symbols in
        # every window (their codes are kept in cf/cm, -2 = not decoded yet)
        for k in np.flatnonzero(~found | (fcodes == -2)).tolist():
            j = int(hit[k])
            if j >= 0:
                name, mod = self.entry(j)
                fcodes[k] = cf[j] = pool.code(name)
                mcodes[k] = cm[j] = pool.code(mod) if mod else -1
            else:
                fcodes[k] = pool.code(f"{int(uniq[k]):x}") if uniq[k] else -1
        return fcodes, mcodes

    def _addr_table(self, pool: StringPool) -> _AddrTable:
        """The address table of ``pool`` (resolve_into)."""
        tab = self.__dict__.get("_addr_tab")
        if tab is None or tab.pool is not pool:
            tab = _AddrTable(pool)
            self.__dict__["_addr_tab"] = tab
        return tab

    def _codes_in(self, pool: StringPool) -> tuple[np.ndarray, np.ndarray]:
        """Per symbol: its name's and module's codes in ``pool`` (-2: not decoded yet)."""
        cache = self.__dict__.get("_codes")
        if cache is None or cache[0] is not pool:
            n = len(self.addrs) + 1  # (a spare slot: a file without symbols reads slot 0)
            cache = (pool, np.full(n, -2, np.int32), np.full(n, -2, np.int32))
            self.__dict__["_codes"] = cache
        return cache[1], cache[2]


class _AddrTable:
    """Addresses already resolved for one pool and their codes: open addressing in numpy
    arrays, probed and filled by ``ringbuf.addr_codes``/``addr_insert``; at most half full."""

    def __init__(self, pool: StringPool) -> None:
        self.pool = pool
        self.addrs = np.empty(0, np.uint64)  # per entry
        self.func = np.empty(0, np.int32)
        self.mod = np.empty(0, np.int32)
        self.keys = np.zeros(1024, np.uint64)  # per slot
        self.slot = np.full(1024, -1, np.int64)

    def add(self, addrs: np.ndarray, func: np.ndarray, mod: np.ndarray) -> None:
        from ..._ext import ringbuf  # type: ignore[attr-defined]

        first = len(self.addrs)
        total = first + len(addrs)
        if 2 * total > len(self.keys):
            cap = len(self.keys)
            while 2 * total > cap:
                cap *= 2
            cap *= 2  # room for later windows' new addresses
            self.keys = np.zeros(cap, np.uint64)
            self.slot = np.full(cap, -1, np.int64)
            ringbuf.addr_insert(self.keys, self.slot, self.addrs, 0)
        ringbuf.addr_insert(self.keys, self.slot, addrs, first)
        self.addrs = np.concatenate([self.addrs, addrs])
        self.func = np.concatenate([self.func, func.astype(np.int32)])
        self.mod = np.concatenate([self.mod, mod.astype(np.int32)])


def _bsearch(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """glibc bsearch(3) with libtraceevent's func_bcmp, for many keys at once (-1 = not found)."""
    n = len(table)
    found = np.full(len(keys), -1, dtype=np.int64)
    if n == 0 or len(keys) == 0:
        return found
    ext = np.concatenate([table, np.zeros(1, np.uint64)])  # the sentinel record (addr 0)
    lo = np.zeros(len(keys), dtype=np.int64)
    hi = np.full(len(keys), n, dtype=np.int64)
    active = np.ones(len(keys), dtype=bool)
    while active.any():
        mid = (lo + hi) // 2
        midc = np.minimum(mid, n - 1)
        a = ext[midc]
        nxt = ext[midc + 1]
        eq = active & ((keys == a) | ((keys > a) & (keys < nxt)))
        found[eq] = midc[eq]
        less = active & ~eq & (keys < a)
        more = active & ~eq & ~(keys < a)
        hi = np.where(less, mid, hi)
        lo = np.where(more, mid + 1, lo)
        active = active & ~eq & (lo < hi)
    return found


def parse_kallsyms(text: str | bytes) -> Symbols:
    """Parse ``/proc/kallsyms`` text (``addr type name[\\t[module]]``): the lines in one C pass.

    Like libtraceevent's ``tep_parse_kallsyms``: absolute symbols (type A/a) and names starting
    with ``$`` (ARM mapping symbols) are skipped.  tep_register_function() prepends to a list,
    so the array it sorts holds the symbols in reverse file order; glibc's qsort (a merge sort)
    keeps that order among equal addresses.  Reproducing both makes alias choice identical.
    Lines that do not parse are skipped.
    """
    from ..._ext import ringbuf  # type: ignore[attr-defined]

    raw = text.encode("utf-8", errors="replace") if isinstance(text, str) else bytes(text)
    empty = Symbols(np.empty(0, np.uint64), b"", np.empty(0, np.int64), np.empty(0, np.int64))
    if not raw:
        return empty
    # /proc/kallsyms prints every address with the same width (%px: 16 or 8 hex digits).
    first_space = raw.find(b" ")
    w = first_space if first_space > 0 else 0
    if not 1 <= w <= 16:
        return empty
    # the lines that parse, in file order (one C pass; ringbuf.c kallsyms_scan)
    addr, start, end = ringbuf.kallsyms_scan(raw, w)
    rev = np.arange(len(addr))[::-1]
    order = rev[np.argsort(addr[rev], kind="stable")]
    # Only the names (and modules) are kept, packed in the sorted order: the symbols live as
    # long as the read, and the whole text's addresses and types, with 64-bit offsets into it,
    # were ~3 MB of a small read's peak (a Debian 6.1 kernel: 3.9 MB of text and 2.2 MB of
    # offsets, now 2.1 MB of names and 0.4 MB of offsets).
    start, end = start[order] + (w + 3), end[order]
    names = ringbuf.pack_spans(raw, start, end)
    off = np.zeros(len(order) + 1, np.int64 if len(names) >= 1 << 31 else np.int32)
    np.cumsum(end - start, out=off[1:])
    return Symbols(addr[order], names, off[:-1], off[1:])


def parse_cmdlines(text: str) -> dict[int, str]:
    """``saved_cmdlines`` text (``pid comm`` lines) → {pid: comm}."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        pid, _, comm = line.strip().partition(" ")
        if pid.lstrip("-").isdigit():
            out[int(pid)] = comm.strip()
    return out


_PRINTK = re.compile(r'^\s*(0x[0-9a-fA-F]+)\s*:\s*"(.*)"\s*$', re.M)


def parse_printk(text: str) -> dict[int, str]:
    """``printk_formats`` text (``0xaddr : "fmt"``) → {addr: format with C escapes undone}."""
    out: dict[int, str] = {}
    for m in _PRINTK.finditer(text):
        s = m.group(2)
        s = s.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"').replace("\\\\", "\\")
        out[int(m.group(1), 16)] = s
    return out


def comm_table(
    pids: np.ndarray, cmdlines: dict[int, str], pool: StringPool, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Comm code per pid as trace-cmd prints it ("<idle>" for 0, "<...>" when not saved), into
    ``out`` when given: (the distinct pids, their codes, the codes per pid)."""
    from ..._ext import ringbuf  # type: ignore[attr-defined]
    from .fields import factorize

    uniq, inv = factorize(pids)
    codes = np.empty(len(uniq), dtype=np.int32)
    for k, p in enumerate(uniq.tolist()):  # per distinct pid
        if p == 0:
            codes[k] = pool.code("<idle>")
        else:
            codes[k] = pool.code(cmdlines.get(p, "<...>"))
    if out is None:
        out = np.empty(len(inv), dtype=np.int32)
    ringbuf.map_into(codes, inv, None, out)
    return uniq, codes, out
