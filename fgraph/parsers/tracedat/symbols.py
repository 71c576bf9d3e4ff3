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
    addrs: np.ndarray  # uint64, sorted
    names: list[str]
    modules: list[str]  # "" for the core kernel

    def __len__(self) -> int:
        return len(self.addrs)

    def resolve(self, addr: np.ndarray, pool: StringPool) -> tuple[np.ndarray, np.ndarray]:
        """(func codes, module codes) for each address, exactly as trace-cmd resolves them.

        libtraceevent (event-parse.c ``__find_func``) runs glibc ``bsearch`` with ``func_bcmp``
        over the symbols sorted by address: a probe matches on an equal address, or when the
        address lies between the probed symbol and the next one (past the last symbol only an
        exact match counts: the sentinel after it has address 0).  Which alias of a shared
        address wins depends on the probe path, so the probe sequence is replayed here, in
        lockstep for all distinct addresses.  Unresolved addresses print as hex; module is -1
        for core-kernel symbols.
        """
        addr = np.asarray(addr, dtype=np.uint64)
        uniq, inv = np.unique(addr, return_inverse=True)
        hit = _bsearch(self.addrs, uniq)
        fcodes = np.empty(len(uniq), dtype=np.int32)
        mcodes = np.full(len(uniq), -1, dtype=np.int32)
        for k in range(len(uniq)):  # per distinct address, not per event
            j = int(hit[k])
            if j >= 0:
                fcodes[k] = pool.code(self.names[j])
                if self.modules[j]:
                    mcodes[k] = pool.code(self.modules[j])
            else:
                fcodes[k] = pool.code(f"{int(uniq[k]):x}") if uniq[k] else -1
        return fcodes[inv.reshape(-1)], mcodes[inv.reshape(-1)]


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


_KSYM = re.compile(r"^([0-9a-fA-F]+)\s+(\S)\s+(\S+)(?:\s+\[([^\]]*)\])?", re.M)


def parse_kallsyms(text: str) -> Symbols:
    """Parse ``/proc/kallsyms`` text: ``addr type name[\\t[module]]``.

    Like libtraceevent's ``tep_parse_kallsyms``: absolute symbols (type A/a) and names starting
    with ``$`` (ARM mapping symbols) are skipped.  tep_register_function() prepends to a list,
    so the array it sorts holds the symbols in reverse file order; glibc's qsort (a merge sort)
    keeps that order among equal addresses.  Reproducing both makes alias choice identical.
    """
    addrs: list[int] = []
    names: list[str] = []
    mods: list[str] = []
    for m in _KSYM.finditer(text):
        t = m.group(2)
        name = m.group(3)
        if t in "Aa" or name.startswith("$"):
            continue
        addrs.append(int(m.group(1)[:16], 16))
        names.append(name)
        mods.append(m.group(4) or "")
    if not addrs:
        return Symbols(np.empty(0, np.uint64), [], [])
    a = np.array(addrs[::-1], dtype=np.uint64)
    names.reverse()
    mods.reverse()
    order = np.argsort(a, kind="stable")
    return Symbols(a[order], [names[k] for k in order], [mods[k] for k in order])


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


def comm_codes(pids: np.ndarray, cmdlines: dict[int, str], pool: StringPool) -> np.ndarray:
    """Comm code per pid as trace-cmd prints it: "<idle>" for 0, "<...>" when not saved."""
    uniq, inv = np.unique(pids, return_inverse=True)
    codes = np.empty(len(uniq), dtype=np.int32)
    for k, p in enumerate(uniq.tolist()):  # per distinct pid
        if p == 0:
            codes[k] = pool.code("<idle>")
        else:
            codes[k] = pool.code(cmdlines.get(p, "<...>"))
    return codes[inv].astype(np.int32)
