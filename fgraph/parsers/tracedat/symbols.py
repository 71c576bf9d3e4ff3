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
        """(func codes, module codes) for each address.

        Like libtraceevent's ``tep_find_function`` (event-parse.c ``func_bcmp``): an address
        belongs to the symbol at or below it, up to the next symbol's address; past the last
        symbol only an exact match counts.  Unresolved addresses get their hex text, as
        trace-cmd prints them; module is -1 for core-kernel symbols.
        """
        addr = np.asarray(addr, dtype=np.uint64)
        uniq, inv = np.unique(addr, return_inverse=True)
        fcodes = np.empty(len(uniq), dtype=np.int32)
        mcodes = np.full(len(uniq), -1, dtype=np.int32)
        if len(self.addrs):
            i = np.searchsorted(self.addrs, uniq, side="right") - 1
            found = i >= 0
            last = i == len(self.addrs) - 1
            found &= ~(last & (uniq != self.addrs[np.clip(i, 0, None)]))
        else:
            i = np.full(len(uniq), -1)
            found = np.zeros(len(uniq), dtype=bool)
        for k in range(len(uniq)):  # per distinct address, not per event
            if found[k]:
                j = int(i[k])
                fcodes[k] = pool.code(self.names[j])
                if self.modules[j]:
                    mcodes[k] = pool.code(self.modules[j])
            else:
                fcodes[k] = pool.code(f"0x{int(uniq[k]):x}") if uniq[k] else -1
        return fcodes[inv], mcodes[inv]


_KSYM = re.compile(r"^([0-9a-fA-F]+)\s+(\S)\s+(\S+)(?:\s+\[([^\]]*)\])?", re.M)


def parse_kallsyms(text: str) -> Symbols:
    """Parse ``/proc/kallsyms`` text: ``addr type name [module]``.

    Skips absolute symbols (type A/a) and names starting with ``$`` as libtraceevent's
    ``tep_parse_kallsyms`` does.  Duplicate addresses keep the first name in file order.
    """
    addrs: list[int] = []
    names: list[str] = []
    mods: list[str] = []
    for m in _KSYM.finditer(text):
        t = m.group(2)
        name = m.group(3)
        if t in "Aa" or name.startswith("$"):
            continue
        addrs.append(int(m.group(1), 16))
        names.append(name)
        mods.append(m.group(4) or "")
    if not addrs:
        return Symbols(np.empty(0, np.uint64), [], [])
    a = np.array(addrs, dtype=np.uint64)
    order = np.argsort(a, kind="stable")
    a = a[order]
    # Keep the first symbol of each address (aliases such as __SCT__ / __x64_sys_ pairs).
    keep = np.ones(len(a), dtype=bool)
    keep[1:] = a[1:] != a[:-1]
    order = order[keep]
    return Symbols(a[keep], [names[k] for k in order], [mods[k] for k in order])


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
