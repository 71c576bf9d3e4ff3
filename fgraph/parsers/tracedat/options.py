"""trace.dat options: ids, payload decoding, and what they mean for the reader.

Ids and payloads follow trace-cmd's ``lib/trace-cmd/include/private/trace-cmd-private.h``
(``enum tracecmd_option``) and the writers in ``lib/trace-cmd/trace-output.c``; the reader
semantics follow ``handle_options()`` in ``lib/trace-cmd/trace-input.c``.  Unknown ids are kept
raw (the caller skips them by size).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

DONE = 0
DATE = 1
CPUSTAT = 2
BUFFER = 3
TRACECLOCK = 4
UNAME = 5
HOOK = 6
OFFSET = 7
CPUCOUNT = 8
VERSION = 9
PROCMAPS = 10
TRACEID = 11
TIME_SHIFT = 12
GUEST = 13
TSC2NSEC = 14
STRINGS = 15
HEADER_INFO = 16
FTRACE_EVENTS = 17
EVENT_FORMATS = 18
KALLSYMS = 19
PRINTK = 20
CMDLINES = 21
BUFFER_TEXT = 22
BTF_FILE = 23
LAST_BOOT_INFO = 24
MODULES_FILE = 25

NAMES = {
    DONE: "DONE",
    DATE: "DATE",
    CPUSTAT: "CPUSTAT",
    BUFFER: "BUFFER",
    TRACECLOCK: "TRACECLOCK",
    UNAME: "UNAME",
    HOOK: "HOOK",
    OFFSET: "OFFSET",
    CPUCOUNT: "CPUCOUNT",
    VERSION: "VERSION",
    PROCMAPS: "PROCMAPS",
    TRACEID: "TRACEID",
    TIME_SHIFT: "TIME_SHIFT",
    GUEST: "GUEST",
    TSC2NSEC: "TSC2NSEC",
    STRINGS: "STRINGS",
    HEADER_INFO: "HEADER_INFO",
    FTRACE_EVENTS: "FTRACE_EVENTS",
    EVENT_FORMATS: "EVENT_FORMATS",
    KALLSYMS: "KALLSYMS",
    PRINTK: "PRINTK",
    CMDLINES: "CMDLINES",
    BUFFER_TEXT: "BUFFER_TEXT",
    BTF_FILE: "BTF_FILE",
    LAST_BOOT_INFO: "LAST_BOOT_INFO",
    MODULES_FILE: "MODULES_FILE",
}

# Options whose payload is a section offset (v7 metadata pointers).
SECTION_OPTIONS = (
    HEADER_INFO,
    FTRACE_EVENTS,
    EVENT_FORMATS,
    KALLSYMS,
    PRINTK,
    CMDLINES,
    BTF_FILE,
    MODULES_FILE,
)
STRING_OPTIONS = (DATE, CPUSTAT, TRACECLOCK, UNAME, HOOK, OFFSET, VERSION, PROCMAPS, LAST_BOOT_INFO)

# Clocks whose values are nanoseconds (trace-cmd's tracecmd_is_ns_clock / is_timestamp_in_us).
NS_CLOCKS = {"local", "global", "uptime", "perf", "mono", "mono_raw", "boot", "tai", "tsc2nsec"}


@dataclass
class RawOption:
    id: int
    data: bytes
    offset: int  # file offset of the payload (or of the section holding it)


@dataclass
class TscConv:
    mult: int
    shift: int
    offset: int


@dataclass
class Options:
    """Decoded options of a file, in file order."""

    raw: list[RawOption] = field(default_factory=list)
    decoded: dict[str, Any] = field(default_factory=dict)
    ts_offset: int = 0  # DATE*1000 + OFFSET, added after TSC2NSEC (trace-input.c timestamp_calc)
    tsc2nsec: TscConv | None = None
    cpucount: int | None = None
    has_traceclock: bool = False
    traceclock_text: str = ""
    uname: str = ""
    # CPUSTAT texts per buffer name ("" = top), as the writer grouped them.
    cpustat: dict[str, list[str]] = field(default_factory=dict)
    unknown: list[int] = field(default_factory=list)


def _cstr(data: bytes) -> str:
    return data.split(b"\x00", 1)[0].decode("utf-8", errors="replace")


def _int_auto(s: str) -> int:
    """strtoll(s, NULL, 0): base from the prefix, garbage after the number ignored."""
    s = s.strip()
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    base, digits = 10, s
    if s[:2].lower() == "0x":
        base, digits = 16, s[2:]
    elif s.startswith("0") and len(s) > 1:
        base, digits = 8, s[1:]
    valid = "0123456789abcdef"[:base]
    n = 0
    for ch in digits.lower():
        if ch not in valid:
            break
        n = n * base + valid.index(ch)
    return -n if neg else n


def decode_option(opt: RawOption, e: str, opts: Options, cpustat_buffer: list[str]) -> None:
    """Decode one option into ``opts`` (unknown ids are recorded, not fatal)."""
    oid, data = opt.id, opt.data
    name = NAMES.get(oid)
    if name is None:
        opts.unknown.append(oid)
        return
    value: Any
    if oid == CPUSTAT:
        text = _cstr(data)
        # trace-cmd writes "\nBuffer: <name>\n\n" before an instance's per-CPU stats
        # (tracecmd/trace-record.c, record_stats / add_buffer_stat).
        stripped = text.strip()
        if stripped.startswith("Buffer:") and "CPU:" not in stripped:
            cpustat_buffer[0] = stripped[len("Buffer:") :].strip()
            return
        opts.cpustat.setdefault(cpustat_buffer[0], []).append(text)
        opts.decoded.setdefault("CPUSTAT", []).append(text)
        return
    if oid in STRING_OPTIONS:
        value = _cstr(data)
        if oid == DATE:
            # trace-input.c handle_options(): DATE is µs, converted to ns.
            opts.ts_offset += _int_auto(value) * 1000
        elif oid == OFFSET:
            opts.ts_offset += _int_auto(value)
        elif oid == TRACECLOCK:
            opts.has_traceclock = True
            opts.traceclock_text = value
        elif oid == UNAME:
            opts.uname = value
    elif oid == CPUCOUNT and len(data) >= 4:
        value = struct.unpack_from(e + "I", data)[0]
        opts.cpucount = value
    elif oid == TRACEID and len(data) >= 8:
        value = struct.unpack_from(e + "Q", data)[0]
    elif oid == TSC2NSEC and len(data) >= 16:
        mult, shift, off = struct.unpack_from(e + "IIQ", data)
        opts.tsc2nsec = TscConv(mult, shift, off)
        value = {"mult": mult, "shift": shift, "offset": off}
    elif oid == GUEST:
        value = _decode_guest(data, e)
    elif oid in SECTION_OPTIONS and len(data) >= 8:
        value = struct.unpack_from(e + "Q", data)[0]
    elif oid in (BUFFER, BUFFER_TEXT):
        return  # decoded by the header reader (it needs the file layout)
    else:
        value = {"size": len(data)}  # TIME_SHIFT and friends: kept as raw size
    if name in opts.decoded and oid not in SECTION_OPTIONS:
        prev = opts.decoded[name]
        opts.decoded[name] = (prev if isinstance(prev, list) else [prev]) + [value]
    else:
        opts.decoded[name] = value


def _decode_guest(data: bytes, e: str) -> dict[str, Any]:
    name = _cstr(data)
    p = len(name) + 1
    out: dict[str, Any] = {"name": name}
    if p + 12 <= len(data):
        tid, ncpu = struct.unpack_from(e + "QI", data, p)
        out.update(trace_id=tid, vcpus=ncpu)
    return out


def parse_cpustat(text: str) -> tuple[int | None, dict[str, str]]:
    """'CPU: 0\\nentries: 12\\n…' → (cpu, {key: value})."""
    stats: dict[str, str] = {}
    cpu = None
    for line in text.splitlines():
        if ":" not in line:
            continue
        k, v = line.split(":", 1)
        k, v = k.strip(), v.strip()
        if k == "CPU":
            try:
                cpu = int(v)
            except ValueError:
                cpu = None
        elif k:
            stats[k] = v
    return cpu, stats


def selected_clock(text: str) -> str:
    """The bracketed word of a trace_clock text ('local [global] …' → 'global')."""
    i = text.find("[")
    j = text.find("]", i + 1)
    if i >= 0 and j > i:
        return text[i + 1 : j].strip()
    return text.strip().split()[0] if text.strip() else ""
