"""Columns and dtypes of every fgraph table, written down once.

All tables are columnar: one numpy array per column, all of the same length.  Strings
(comm, function, module and event names) are stored as ``int32`` codes into the table's
string pool (:class:`fgraph.table.StringPool`), like an Arrow dictionary array.

Unknown values use a *sentinel* per column (``null``): -1 for counts, times, cpus and pids,
0 for addresses.  ``to_arrow()`` / ``to_pandas()`` turn sentinels into real nulls, and the
csv writers print them as empty cells.

Tables
------
``EVENT_COLUMNS``  one row per trace record (the parsers' output, :class:`EventTable`)
``LOST_COLUMNS``   one row per lost-event gap (page flags, text ``[LOST …]`` lines)
``CALL_COLUMNS``   one row per rebuilt call (the reconstruct stage's output, :class:`CallTable`)

Extra fields of non-funcgraph events (sched_switch, irq_handler_entry, …) live in per-event
*field tables* (``EventTable.fields[name]``): a ``row`` column pointing into the event table
plus one column per field, named as in the kernel's event format.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Column:
    name: str
    dtype: np.dtype
    null: int | None  # sentinel for "unknown"; None = never unknown
    string: bool  # True: int32 code into the string pool
    doc: str


def _col(name: str, dtype: str, null: int | None, doc: str, string: bool = False) -> Column:
    return Column(name, np.dtype(dtype), null, string, doc)


class EventKind(enum.IntEnum):
    """What a record is, as far as the later stages care (``kind`` column)."""

    OTHER = 0  # any event the rebuild does not interpret (kept with its fields)
    FG_ENTRY = 1  # funcgraph_entry / fgraph_retaddr_entry
    FG_EXIT = 2  # funcgraph_exit
    SCHED_SWITCH = 3
    SCHED_WAKEUP = 4  # sched_wakeup, sched_wakeup_new, sched_waking
    IRQ_ENTRY = 5  # irq_handler_entry
    IRQ_EXIT = 6  # irq_handler_exit
    SOFTIRQ_ENTRY = 7
    SOFTIRQ_EXIT = 8
    IRQ_ARROW_IN = 9  # text: "==========>" (kernel marks an __irqentry_text function)
    IRQ_ARROW_OUT = 10  # text: "<=========="
    PRINT = 11  # trace_printk (print/bprint/bputs) or an unparsed text comment
    SCHED_MIGRATE = 12  # sched_migrate_task


# The records of the function_graph itself (its entries, exits and the text's interrupt
# arrows), as against the other events a trace holds (scheduler, irq, printk, ...)
GRAPH_KINDS = (
    EventKind.FG_ENTRY,
    EventKind.FG_EXIT,
    EventKind.IRQ_ARROW_IN,
    EventKind.IRQ_ARROW_OUT,
)


class IrqCtx(enum.IntEnum):
    """Execution context of a record or call (``irqctx`` / ``ctx`` columns)."""

    UNKNOWN = -1
    TASK = 0
    SOFTIRQ = 1
    HARDIRQ = 2
    NMI = 3


# common_flags bits (kernel include/linux/trace_events.h, enum trace_flag_type; libtraceevent
# event-parse.h).  Kept raw in the ``flags`` column; ``irqctx`` is derived from them.
TRACE_FLAG_IRQS_OFF = 0x01
TRACE_FLAG_IRQS_NOSUPPORT = 0x02
TRACE_FLAG_NEED_RESCHED = 0x04
TRACE_FLAG_HARDIRQ = 0x08
TRACE_FLAG_SOFTIRQ = 0x10
TRACE_FLAG_PREEMPT_RESCHED = 0x20
TRACE_FLAG_NMI = 0x40
TRACE_FLAG_BH_OFF = 0x80


class EventFlag(enum.IntFlag):
    """Per-record bits (``eflags`` column): where a value came from."""

    NONE = 0
    HAS_RETVAL = 0x01  # retval column is valid
    TEXT_LEAF = 0x02  # entry+exit synthesized from one text leaf line "f();"
    TEXT_TAIL = 0x04  # exit printed as "} /* f */" (kernel had no matching entry, or option)
    TS_DERIVED = 0x08  # ts computed (e.g. exit ts = entry ts + duration), not read
    FUNC_FROM_DEPTH = 0x10  # text "}" without tail: func inferred from the open "{" at that indent
    IRQ_BY_NAME = 0x20  # irqctx guessed from an interrupt entry function name (text, no flags)


EVENT_COLUMNS: tuple[Column, ...] = (
    _col(
        "ts",
        "int64",
        -1,
        "timestamp in ns (trace clock plus file offsets); -1 when the input has none",
    ),
    _col("cpu", "int16", -1, "CPU the record was written on"),
    _col("pid", "int32", -1, "common_pid (task id); 0 is the idle task"),
    _col(
        "comm",
        "int32",
        -1,
        "task name (from cmdlines, the proc column, banners or the report prefix)",
        string=True,
    ),
    _col(
        "event",
        "int32",
        -1,
        "event name as in the format file (funcgraph_entry, sched_switch, …)",
        string=True,
    ),
    _col("kind", "int8", None, "EventKind"),
    _col("flags", "int16", -1, "raw common_flags (TRACE_FLAG_* bits); -1 unknown"),
    _col(
        "preempt",
        "int16",
        -1,
        "raw common_preempt_count (low nibble preempt depth, high migrate-disable)",
    ),
    _col("irqctx", "int8", -1, "IrqCtx decoded from common_flags / latency flags; -1 unknown"),
    _col("buf", "int16", None, "buffer instance index into TraceMeta.buffers (0 = top instance)"),
    _col("addr", "uint64", 0, "funcgraph: function address; 0 unknown (text)"),
    _col(
        "func",
        "int32",
        -1,
        "funcgraph: bare symbol name as trace-cmd report prints it",
        string=True,
    ),
    _col("module", "int32", -1, "funcgraph: module of the symbol ([btrfs] → btrfs)", string=True),
    _col("depth", "int32", -1, "funcgraph: the kernel's depth field, or the text indent / 2"),
    _col("calltime", "int64", -1, "funcgraph_exit: calltime field (ns)"),
    _col("rettime", "int64", -1, "funcgraph_exit: rettime field (ns)"),
    _col(
        "duration", "int64", -1, "funcgraph_exit: rettime - calltime, or the printed duration (ns)"
    ),
    _col("overrun", "int64", -1, "funcgraph_exit: overrun field"),
    _col("retval", "int64", 0, "funcgraph_exit: return value (valid when eflags has HAS_RETVAL)"),
    _col("eflags", "uint8", None, "EventFlag bits"),
    _col(
        "pos",
        "int64",
        -1,
        "where the record is: byte offset in the file (trace.dat) or line number (text, 1-based)",
    ),
)


class LostSource(enum.IntEnum):
    PAGE = 0  # RB_MISSED_EVENTS flag on a ring-buffer page
    TEXT = 1  # "CPU:n [LOST m EVENTS]" / "[EVENTS DROPPED]" line
    DAMAGE = 2  # fgraph skipped damaged data (garbled page, truncation)


LOST_COLUMNS: tuple[Column, ...] = (
    _col("cpu", "int16", -1, "CPU whose events were lost"),
    _col("row", "int64", -1, "event-table row of the first record after the gap (-1: at the end)"),
    _col("ts", "int64", -1, "timestamp of the first record after the gap"),
    _col("count", "int64", -1, "number of events lost; -1 unknown"),
    _col("pos", "int64", -1, "byte offset or line number of the gap"),
    _col("source", "int8", None, "LostSource"),
)


class CallFlag(enum.IntFlag):
    """Repairs and properties of a rebuilt call (``flags`` column)."""

    NONE = 0
    SYNTH_ENTRY = 0x001  # exit without entry: entry rebuilt from calltime or duration
    TRUNCATED = 0x002  # entry without exit: closed at end of trace / gap; duration is a lower bound
    LOST_GAP = 0x004  # the call spans a lost-event gap on one of its CPUs
    DEPTH_MISMATCH = 0x008  # rebuilt depth differs from the kernel's depth
    CLOSED_BY_OUTER = (
        0x010  # closed because an exit of an outer frame arrived (its own exit missing)
    )
    HAS_RETVAL = 0x020  # retval column valid
    CTX_BY_NAME = 0x040  # interrupt context guessed from the interrupt entry function's name
    NO_TIME = 0x080  # input has no timestamps: ts_entry/ts_exit unknown, duration from the text
    MIGRATED = 0x100  # cpu_exit != cpu_entry


CALL_COLUMNS: tuple[Column, ...] = (
    _col(
        "call_id", "int64", None, "row number; calls are ordered by entry (parents before children)"
    ),
    _col("parent_id", "int64", -1, "caller's call_id in the same context; -1 for a root"),
    _col("root_id", "int64", None, "call_id of the root of this call's tree"),
    _col(
        "interrupted_id",
        "int64",
        -1,
        "interrupt roots: the task call that was running when it arrived",
    ),
    _col("pid", "int32", -1, "task id"),
    _col("comm", "int32", -1, "task name", string=True),
    _col("func", "int32", -1, "function name", string=True),
    _col("module", "int32", -1, "module name", string=True),
    _col("depth", "int32", None, "rebuilt depth (0 = root of its context)"),
    _col("kernel_depth", "int32", -1, "the kernel's depth field (or text indent)"),
    _col("ts_entry", "int64", -1, "entry timestamp (ns)"),
    _col("ts_exit", "int64", -1, "exit timestamp (ns); for truncated calls the time it was closed"),
    _col(
        "duration",
        "int64",
        -1,
        "ts_exit - ts_entry or the exit's duration; lower bound if TRUNCATED",
    ),
    _col("self", "int64", -1, "duration minus children's durations minus irq_ns"),
    _col(
        "irq_ns", "int64", None, "interrupt time spent while this call was the innermost open call"
    ),
    _col(
        "offcpu_sleep_ns",
        "int64",
        -1,
        "time the task was switched out (not runnable) while open; -1 no sched data",
    ),
    _col(
        "offcpu_runnable_ns",
        "int64",
        -1,
        "time the task was switched out while runnable (preempted)",
    ),
    _col("waker_pid", "int32", -1, "pid that last woke the task while this call was open"),
    _col("cpu_entry", "int16", -1, "CPU of the entry"),
    _col("cpu_exit", "int16", -1, "CPU of the exit"),
    _col("ctx", "int8", None, "IrqCtx of the call"),
    _col("flags", "uint16", None, "CallFlag bits"),
    _col("retval", "int64", 0, "return value (valid with HAS_RETVAL)"),
    _col("entry_row", "int64", -1, "event-table row of the entry (-1 synthesized)"),
    _col("exit_row", "int64", -1, "event-table row of the exit (-1 truncated)"),
    _col("trace", "int16", None, "index of the input trace (several files aggregated)"),
)


def columns_by_name(cols: tuple[Column, ...]) -> dict[str, Column]:
    return {c.name: c for c in cols}


EVENT = columns_by_name(EVENT_COLUMNS)
LOST = columns_by_name(LOST_COLUMNS)
CALL = columns_by_name(CALL_COLUMNS)


def empty_columns(cols: tuple[Column, ...], n: int) -> dict[str, np.ndarray]:
    """Arrays of length ``n`` filled with each column's sentinel (or 0)."""
    out: dict[str, np.ndarray] = {}
    for c in cols:
        fill = c.null if c.null is not None else 0
        out[c.name] = np.full(n, fill, dtype=c.dtype)
    return out


# Canonical extra fields the rebuild reads from field tables (kernel field names).  Both readers
# must produce them with these names and types:
#   sched_switch:  prev_comm (str), prev_pid (int), prev_prio (int), prev_state (str, the kernel's
#                  letters as printed in text: "R", "R+", "S", "D", "I", …), next_comm (str),
#                  next_pid (int), next_prio (int)
#   sched_wakeup / sched_wakeup_new / sched_waking:  comm (str), pid (int), prio (int),
#                  target_cpu (int)
#   sched_migrate_task: comm, pid, prio, orig_cpu, dest_cpu
#   irq_handler_entry: irq (int), name (str);  irq_handler_exit: irq, ret
#   softirq_entry / softirq_exit / softirq_raise: vec (int)
SCHED_SWITCH_FIELDS = (
    "prev_comm",
    "prev_pid",
    "prev_prio",
    "prev_state",
    "next_comm",
    "next_pid",
    "next_prio",
)
SCHED_WAKEUP_FIELDS = ("comm", "pid", "prio", "target_cpu")

EVENT_KIND_BY_NAME: dict[str, EventKind] = {
    "funcgraph_entry": EventKind.FG_ENTRY,
    "fgraph_retaddr_entry": EventKind.FG_ENTRY,
    "funcgraph_exit": EventKind.FG_EXIT,
    "sched_switch": EventKind.SCHED_SWITCH,
    "sched_wakeup": EventKind.SCHED_WAKEUP,
    "sched_wakeup_new": EventKind.SCHED_WAKEUP,
    "sched_waking": EventKind.SCHED_WAKEUP,
    "sched_migrate_task": EventKind.SCHED_MIGRATE,
    "irq_handler_entry": EventKind.IRQ_ENTRY,
    "irq_handler_exit": EventKind.IRQ_EXIT,
    "softirq_entry": EventKind.SOFTIRQ_ENTRY,
    "softirq_exit": EventKind.SOFTIRQ_EXIT,
    "print": EventKind.PRINT,
    "bprint": EventKind.PRINT,
    "bputs": EventKind.PRINT,
}


def kind_of(event_name: str) -> EventKind:
    return EVENT_KIND_BY_NAME.get(event_name, EventKind.OTHER)


def irqctx_from_flags(flags: np.ndarray) -> np.ndarray:
    """Vectorized common_flags → IrqCtx (NMI beats hardirq beats softirq), -1 where flags < 0."""
    f = flags.astype(np.int16, copy=False)
    out = np.zeros(f.shape, dtype=np.int8)
    out[(f & TRACE_FLAG_SOFTIRQ) != 0] = IrqCtx.SOFTIRQ
    out[(f & TRACE_FLAG_HARDIRQ) != 0] = IrqCtx.HARDIRQ
    out[(f & TRACE_FLAG_NMI) != 0] = IrqCtx.NMI
    out[f < 0] = IrqCtx.UNKNOWN
    return out


def markdown() -> str:
    """The schema as Markdown (docs/schema.md is generated from this; a test keeps them equal)."""
    out = [
        "# fgraph table schema",
        "",
        "Generated from `fgraph/schema.py` by `python -m fgraph.schema > docs/schema.md`.",
        "",
        "String columns are dictionary-encoded (Arrow `dictionary<int32, string>`, pandas",
        "categorical-like); integer columns use the Arrow types below. In Parquet/Arrow/pandas",
        "output, unknown values are nulls; inside fgraph they are the sentinel shown.",
        "",
    ]
    tables = (
        (
            "Call table (`fgraph calls`, `fgraph export --to parquet|csv`, `Trace.calls`)",
            CALL_COLUMNS,
        ),
        ("Event table (`fgraph events`, `Trace.events`)", EVENT_COLUMNS),
        ("Lost-event table (`EventTable.lost`)", LOST_COLUMNS),
    )
    for title, cols in tables:
        out += [f"## {title}", "", "| column | type | unknown | meaning |", "|---|---|---|---|"]
        for c in cols:
            typ = "string" if c.string else str(c.dtype)
            null = "null" if c.string else ("never" if c.null is None else f"{c.null} → null")
            out.append(f"| `{c.name}` | {typ} | {null} | {c.doc} |")
        out.append("")
    out += ["## Enumerations", ""]
    for enum_cls in (EventKind, IrqCtx, EventFlag, CallFlag, LostSource):
        members = ", ".join(
            f"`{m.name}`={int(m.value):#x}"
            if issubclass(enum_cls, enum.IntFlag)
            else f"`{m.name}`={int(m.value)}"
            for m in enum_cls
        )
        out.append(f"* **{enum_cls.__name__}**: {members}")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
