"""A function_graph text *writer*: calls (and the events inside them) → the kernel's text.

The output is what the kernel prints with the options ``funcgraph-abstime``, ``funcgraph-proc``,
``funcgraph-tail`` and ``latency-format`` on (formats.md §4), so fgraph's own text reader (and
a human) reads it like any captured ``trace`` file:

* abstime ``"%5lu.%06lu |  "`` (µs, truncated: ``print_graph_abs_time``), CPU ``" %*d) "``,
  proc ``comm[:7]-pid`` centred in 14 columns (``print_graph_proc``), latency flags
  (``trace_print_lat_fmt``: irqs-off, need-resched, hardirq/softirq, preempt and
  migrate-disable depth) so interrupt context survives the round trip;
* durations with overhead marks exactly as ``trace_print_graph_duration`` (7 significant
  digits, 17-column field), the filler for nested entries and comments;
* ``f();`` leaves when the next record *of the same CPU* is the call's own exit (the kernel's
  ``get_return_for_leaf`` look-ahead), ``f() {`` … ``} /* f */`` otherwise;
* other events as ``/* name: fields */`` comments, indented one level below the innermost
  open call of the CPU (``print_graph_comment``); context-switch banners when the task on a CPU
  changes (``verif_pid``).

Everything is vectorized over the output records (numpy string operations, loops only over
event types, distinct tasks and distinct flag values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from .._numpy import unique
from ..schema import (
    SCHED_SWITCH_FIELDS,
    SCHED_WAKEUP_FIELDS,
    TRACE_FLAG_BH_OFF,
    TRACE_FLAG_HARDIRQ,
    TRACE_FLAG_IRQS_NOSUPPORT,
    TRACE_FLAG_IRQS_OFF,
    TRACE_FLAG_NEED_RESCHED,
    TRACE_FLAG_NMI,
    TRACE_FLAG_PREEMPT_RESCHED,
    TRACE_FLAG_SOFTIRQ,
    CallFlag,
    EventKind,
    IrqCtx,
)
from ..table import CallTable, EventTable

ENTRY, EXIT, COMMENT, LEAF, LOST = 0, 1, 2, 3, 4
_FILLER = "              |  "  # nested entries and comments: no duration (print_graph_duration)
_BANNER_RULE = " ------------------------------------------"
# kernel/softirq.c softirq_to_name[]
SOFTIRQ_NAMES = (
    "HI",
    "TIMER",
    "NET_TX",
    "NET_RX",
    "BLOCK",
    "IRQ_POLL",
    "TASKLET",
    "SCHED",
    "HRTIMER",
    "RCU",
)


# ------------------------------------------------------------------------ column formats


def format_durations(ns: np.ndarray) -> np.ndarray:
    """Overhead mark + duration field, 17 columns with the trailing ``"|  "`` (numpy strings;
    the writer uses :func:`durations_column`, the same format as an Arrow array)."""
    return np.array(durations_column(np.asarray(ns)).to_pylist(), dtype=str)


def format_abstime(ts: np.ndarray) -> np.ndarray:
    """``"%5lu.%06lu |  "`` (numpy strings; see :func:`abstime_column`)."""
    return np.array(abstime_column(np.asarray(ts)).to_pylist(), dtype=str)


def _pa_str(values: np.ndarray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pa.array(values), pa.string())


def durations_column(ns: np.ndarray) -> Any:
    """Overhead mark + duration field, 17 columns with the trailing ``"|  "``.

    kernel/trace/trace_functions_graph.c ``print_graph_duration`` / ``trace_print_graph_duration``:
    integer µs, then while it has fewer than 7 digits ``.`` + the ns remainder cut to keep 7
    digits, ``" us "``, padding to 8; marks from ``trace_find_mark`` (strict ``>``).  A pyarrow
    string array built with compiled string kernels.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    ns = np.clip(ns.astype(np.int64), 0, None)
    us_s = _pa_str(ns // 1000)
    rem3 = pc.utf8_lpad(_pa_str(ns % 1000), width=3, padding="0")
    ln = np.asarray(pc.utf8_length(us_s).to_numpy(zero_copy_only=False))
    keep = np.clip(7 - ln, 0, 3)  # fraction digits kept: 3 up to 4 integer digits, then 2, 1, 0
    frac = pc.if_else(
        pa.array(keep == 3),
        pc.binary_join_element_wise(".", rem3, ""),
        pc.if_else(
            pa.array(keep == 2),
            pc.binary_join_element_wise(".", pc.utf8_slice_codeunits(rem3, 0, 2), ""),
            pc.if_else(
                pa.array(keep == 1),
                pc.binary_join_element_wise(".", pc.utf8_slice_codeunits(rem3, 0, 1), ""),
                "",
            ),
        ),
    )
    field = pc.utf8_rpad(pc.binary_join_element_wise(us_s, frac, " us ", ""), width=12, padding=" ")
    limits = np.array([10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000])
    marks = pa.array(["  ", "+ ", "! ", "# ", "* ", "@ ", "$ "])
    mark = marks.take(pa.array(np.searchsorted(limits, ns, side="left")))  # strict ">" thresholds
    return pc.binary_join_element_wise(mark, field, "|  ", "")


def abstime_column(ts: np.ndarray) -> Any:
    """``"%5lu.%06lu |  "`` (print_graph_abs_time: seconds, µs truncated), a pyarrow array."""
    import pyarrow.compute as pc

    ts = np.clip(ts.astype(np.int64), 0, None)
    sec = pc.utf8_lpad(_pa_str(ts // 1_000_000_000), width=5, padding=" ")
    usec = pc.utf8_lpad(_pa_str((ts % 1_000_000_000) // 1000), width=6, padding="0")
    return pc.binary_join_element_wise(sec, ".", usec, " |  ", "")


def _s32(v: int) -> int:
    return v - (1 << 32) if v >= (1 << 31) else v


def proc_field(comm: str | None, pid: int) -> str:
    """``print_graph_proc``: comm cut to 7 chars + ``-pid`` centred in 14 columns."""
    s = f"{(comm if comm is not None else '<...>')[:7]}-{pid}"
    if len(s) >= 14:
        return s
    left = (14 - len(s)) // 2
    return " " * left + s + " " * (14 - len(s) - left)


def lat_flags(flags: int, preempt: int, ctx: int) -> str:
    """The 5 latency-format characters (kernel/trace/trace_output.c ``trace_print_lat_fmt``)."""
    if flags >= 0:
        if flags & TRACE_FLAG_IRQS_OFF and flags & TRACE_FLAG_BH_OFF:
            c1 = "D"
        elif flags & TRACE_FLAG_IRQS_OFF:
            c1 = "d"
        elif flags & TRACE_FLAG_BH_OFF:
            c1 = "b"
        elif flags & TRACE_FLAG_IRQS_NOSUPPORT:
            c1 = "X"
        else:
            c1 = "."
        nr, pr = flags & TRACE_FLAG_NEED_RESCHED, flags & TRACE_FLAG_PREEMPT_RESCHED
        c2 = "N" if nr and pr else "n" if nr else "p" if pr else "."
        nmi, hard, soft = (
            flags & TRACE_FLAG_NMI,
            flags & TRACE_FLAG_HARDIRQ,
            flags & TRACE_FLAG_SOFTIRQ,
        )
        c3 = (
            "Z"
            if nmi and hard
            else "z"
            if nmi
            else "H"
            if hard and soft
            else "h"
            if hard
            else "s"
            if soft
            else "."
        )
    else:
        c1 = c2 = "."
        c3 = {int(IrqCtx.NMI): "z", int(IrqCtx.HARDIRQ): "h", int(IrqCtx.SOFTIRQ): "s"}.get(
            int(ctx), "."
        )
    if preempt >= 0:
        c4 = f"{preempt & 0xF:x}" if preempt & 0xF else "."
        c5 = f"{(preempt >> 4) & 0xF:x}" if (preempt >> 4) & 0xF else "."
    else:
        c4 = c5 = "."
    return c1 + c2 + c3 + c4 + c5


def _retval_text(v: np.ndarray) -> np.ndarray:
    """funcgraph-retval "smart" format: error codes (-1…-4095) signed, else ``0x%lx``."""
    v = v.astype(np.int64)
    err = (v < 0) & (v >= -4095)
    hexs = np.char.add("0x", np.char.mod("%x", v.astype(np.uint64)))  # type: ignore[arg-type]
    return np.where(err, v.astype(str), hexs)


# --------------------------------------------------------------------- comment texts


def _field(events: EventTable, event: str, name: str, rows: np.ndarray) -> np.ndarray | None:
    """Values of one field at event-table ``rows`` (decoded strings as str), or None."""
    ft = events.fields.get(event)
    if ft is None or name not in ft.columns:
        return None
    pos = np.full(len(events) + 1, -1, dtype=np.int64)
    pos[ft.rows] = np.arange(len(ft.rows))
    at = pos[rows]
    col = ft.columns[name]
    if name in ft.string_cols:
        vals = events.strings.decode(np.where(at >= 0, col[np.clip(at, 0, None)], -1))
        return np.where(vals == None, "", vals).astype(str)  # noqa: E711
    return np.where(at >= 0, col[np.clip(at, 0, None)], 0).astype(np.int64)


def comment_texts(events: EventTable, rows: np.ndarray) -> np.ndarray:
    """The kernel's text of each event at ``rows`` (the part inside ``/* … */``)."""
    out = np.full(len(rows), "", dtype=object)
    names = events.strings.decode(events["event"][rows])
    names = np.where(names == None, "unknown", names).astype(str)  # noqa: E711
    for name in unique(names).tolist():  # one step per event type
        m = names == name
        r = rows[m]

        def f(field: str, r: np.ndarray = r, name: str = name) -> np.ndarray | None:
            return _field(events, name, field, r)

        text: np.ndarray | None = None
        if name == "sched_switch":
            parts = [f(k) for k in SCHED_SWITCH_FIELDS]
            if all(p is not None for p in parts):
                pc, pp, ppr, ps, nc, npid, npr = (p.astype(str) for p in parts)  # type: ignore[union-attr]
                text = _join(
                    ["sched_switch: prev_comm=", pc, " prev_pid=", pp, " prev_prio=", ppr, " prev_state=", ps,
                     " ==> next_comm=", nc, " next_pid=", npid, " next_prio=", npr]
                )  # fmt: skip
        elif name in ("sched_wakeup", "sched_wakeup_new", "sched_waking"):
            parts = [f(k) for k in SCHED_WAKEUP_FIELDS]
            if all(p is not None for p in parts):
                c, p, pr, tc = (x for x in parts if x is not None)
                tcs = np.char.zfill(tc.astype(str), 3)
                text = _join(
                    [
                        name + ": comm=",
                        c.astype(str),
                        " pid=",
                        p.astype(str),
                        " prio=",
                        pr.astype(str),
                        " target_cpu=",
                        tcs,
                    ]
                )  # type: ignore[union-attr]
        elif name == "sched_migrate_task":
            parts = [f(k) for k in ("comm", "pid", "prio", "orig_cpu", "dest_cpu")]
            if all(p is not None for p in parts):
                c, p, pr, oc, dc = (x.astype(str) for x in parts)  # type: ignore[union-attr]
                text = _join(
                    [
                        name + ": comm=",
                        c,
                        " pid=",
                        p,
                        " prio=",
                        pr,
                        " orig_cpu=",
                        oc,
                        " dest_cpu=",
                        dc,
                    ]
                )
        elif name == "irq_handler_entry":
            irq, nm = f("irq"), f("name")
            if irq is not None and nm is not None:
                text = _join([name + ": irq=", irq.astype(str), " name=", nm.astype(str)])
        elif name == "irq_handler_exit":
            irq, ret = f("irq"), f("ret")
            if irq is not None and ret is not None:
                rs = (
                    ret.astype(str)
                    if ret.dtype.kind in "UO"
                    else np.where(ret != 0, "handled", "unhandled")
                )
                text = _join([name + ": irq=", irq.astype(str), " ret=", rs])
        elif name in ("softirq_entry", "softirq_exit", "softirq_raise"):
            vec = f("vec")
            if vec is not None:
                lut = np.array(list(SOFTIRQ_NAMES) + ["?"], dtype=object)
                act = lut[
                    np.where((vec >= 0) & (vec < len(SOFTIRQ_NAMES)), vec, len(SOFTIRQ_NAMES))
                ].astype(str)
                text = _join([name + ": vec=", vec.astype(str), " [action=", act, "]"])
        if text is None:
            text = _generic(events, name, r)
        out[m] = text
    return out.astype(str) if len(out) else np.empty(0, dtype=str)


def _join(parts: list[object]) -> np.ndarray:
    acc: np.ndarray | None = None
    for p in parts:
        arr = np.asarray(p, dtype=str) if not isinstance(p, str) else p
        acc = np.char.add(acc, arr) if acc is not None else np.asarray(arr, dtype=str)  # type: ignore[arg-type]
    assert acc is not None
    return acc


def _generic(events: EventTable, name: str, rows: np.ndarray) -> np.ndarray:
    """``name: k=v k=v`` from the field table; trace_printk messages as the bare message."""
    ft = events.fields.get(name)
    kind = events["kind"][rows[0]] if len(rows) else EventKind.OTHER
    if ft is None or not ft.columns:
        return np.full(
            len(rows), name + ":" if kind != EventKind.PRINT else name, dtype=object
        ).astype(str)
    if kind == EventKind.PRINT:
        for k in ("buf", "str", "msg", "message", "text"):
            v = _field(events, name, k, rows)
            if v is not None:
                return np.char.rstrip(v.astype(str), "\n")
    parts: list[object] = [name + ":"]
    for k in ft.columns:
        v = _field(events, name, k, rows)
        if v is not None:
            parts += [f" {k}=", v.astype(str)]
    return _join(parts)


# ------------------------------------------------------------------------------ writer


@dataclass
class WriteStats:
    lines: int = 0
    entries: int = 0
    exits: int = 0
    leaves: int = 0
    comments: int = 0
    lost: int = 0


def header(meta_uname: str, ncpus: int, nrecords: int, abstime: bool) -> str:
    """The kernel's header for latency-format + abstime + proc (trace_functions_graph.c
    ``__print_graph_headers_flags``, trace.c ``print_trace_header``)."""
    lines = [
        "# tracer: function_graph",
        "#",
        f"# function_graph latency trace v1.1.5 on {meta_uname or 'unknown'}",
        "# --------------------------------------------------------------------",
        f"# latency: 0 us, #{nrecords}/{nrecords}, CPU#0 | (M:desktop VP:0, KP:0, SP:0 HP:0 #P:{ncpus})",
        "#    -----------------",
        "#    | task: -0 (uid:0 nice:0 policy:0 rt_prio:0)",
        "#    -----------------",
        "#",
    ]
    pad = " " * (17 if abstime else 0)
    lines += [
        f"#{pad}                      _-----=> irqs-off        ",
        f"#{pad}                     / _----=> need-resched    ",
        f"#{pad}                    | / _---=> hardirq/softirq ",
        f"#{pad}                    || / _--=> preempt-depth   ",
        f"#{pad}                    ||| /                      ",
    ]
    if abstime:
        lines.append(
            "#     TIME        CPU  TASK/PID       ||||     DURATION                  FUNCTION CALLS"
        )
        lines.append(
            "#      |          |     |    |        ||||      |   |                     |   |   |   |"
        )
    else:
        lines.append("# CPU  TASK/PID       ||||     DURATION                  FUNCTION CALLS")
        lines.append("# |     |    |        ||||      |   |                     |   |   |   |")
    return "\n".join(lines) + "\n"


def frame_depths(calls: CallTable, ids: np.ndarray) -> np.ndarray:
    """Printed depth of each selected call: 0 for a selected call whose frame parent is not
    selected, parent + 1 otherwise; an interrupt root sits one below the call it interrupted,
    as the kernel's depth counter continues through interrupts (formats.md §4.3 "IRQ depth")."""
    from .._numpy import positions
    from ..analysis.tree import frame_parent, levels

    ids = np.asarray(ids, dtype=np.int64)
    fp = frame_parent({k: calls[k][ids] for k in ("parent_id", "interrupted_id", "ctx")})
    # (levels of the selected forest alone, each call's frame parent as its place among the
    # selected (``ids`` ascending, parents before children as in the table); a selected call
    # whose frame parent is not selected is a root of it)
    return levels(positions(ids, fp))


def write_function_graph(
    events: EventTable,
    calls: CallTable,
    call_ids: np.ndarray,
    event_rows: np.ndarray,
    out: IO[str],
    *,
    order: np.ndarray | None = None,
    lost_rows: np.ndarray | None = None,
) -> WriteStats:
    """Write the calls ``call_ids`` and the non-graph events at ``event_rows`` as kernel text.

    ``order`` is the event table's row order in time (default: text row order, or a stable
    sort by ts for a trace.dat); records follow it, so each CPU's lines keep the order the
    kernel saw them in.  Truncated calls print no return (the reader sees them unclosed, as
    in the input); calls whose entry was rebuilt print only their ``} /* f */``.
    ``lost_rows`` (rows of ``events.lost``) print as ``CPU:n [LOST m EVENTS]`` before the
    first record after the gap (kernel/trace/trace.c ``print_trace_line``).
    """
    from .tables import event_time_order

    meta = events.meta
    ids = np.sort(np.asarray(call_ids, dtype=np.int64))
    erows = np.sort(np.asarray(event_rows, dtype=np.int64))
    nev = len(events)
    if order is None:
        order = event_time_order(events)
    rank = np.full(nev + 1, -1.0)
    rank[order] = np.arange(len(order), dtype=np.float64)
    ts_in_order = (
        np.maximum.accumulate(events["ts"][order]) if len(order) else np.empty(0, np.int64)
    )

    def key_of(rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
        k = rank[np.where(rows >= 0, rows, nev)]
        miss = k < 0
        if miss.any():  # synthesized record: slot it in by time
            k[miss] = np.searchsorted(ts_in_order, ts[miss], side="right") - 0.5
        return k

    cf = calls["flags"][ids]
    has_entry = (cf & CallFlag.SYNTH_ENTRY) == 0
    has_exit = (cf & CallFlag.TRUNCATED) == 0
    depth = frame_depths(calls, ids)
    ent = ids[has_entry]
    ext = ids[has_exit]
    sel_pos = np.full(len(calls), -1, dtype=np.int64)
    sel_pos[ids] = np.arange(len(ids))

    # Records: entries, exits, comments.
    typ: np.ndarray = np.concatenate(
        [np.full(len(ent), ENTRY), np.full(len(ext), EXIT), np.full(len(erows), COMMENT)]
    ).astype(np.int8)
    call: np.ndarray = np.concatenate([ent, ext, np.full(len(erows), -1)]).astype(np.int64)
    row: np.ndarray = np.concatenate(
        [calls["entry_row"][ent], calls["exit_row"][ext], erows]
    ).astype(np.int64)
    ts: np.ndarray = np.concatenate(
        [calls["ts_entry"][ent], calls["ts_exit"][ext], events["ts"][erows]]
    ).astype(np.int64)
    cpu: np.ndarray = np.concatenate(
        [calls["cpu_entry"][ent], calls["cpu_exit"][ext], events["cpu"][erows]]
    ).astype(np.int64)
    pid: np.ndarray = np.concatenate(
        [calls["pid"][ent], calls["pid"][ext], events["pid"][erows]]
    ).astype(np.int64)
    comm: np.ndarray = np.concatenate(
        [calls["comm"][ent], calls["comm"][ext], events["comm"][erows]]
    ).astype(np.int64)
    rdepth: np.ndarray = np.concatenate(
        [depth[sel_pos[ent]], depth[sel_pos[ext]], np.zeros(len(erows), np.int64)]
    )
    key = key_of(row, ts)
    lrows = np.sort(np.asarray(lost_rows if lost_rows is not None else [], dtype=np.int64))
    lcount = np.zeros(0, dtype=np.int64)
    if len(lrows):
        lost = events.lost
        lr = lost["row"][lrows].astype(np.int64)
        lts = lost["ts"][lrows].astype(np.int64)
        # before the first record after the gap (-1: the gap is at the end)
        lkey = np.where(lr >= 0, key_of(lr, lts) - 0.75, float(nev + 1))
        lcount = lost["count"][lrows].astype(np.int64)
        n0 = len(typ)
        typ = np.concatenate([typ, np.full(len(lrows), LOST, np.int8)])
        call = np.concatenate([call, np.full(len(lrows), -1)])
        row = np.concatenate([row, np.full(len(lrows), -1)])
        ts = np.concatenate([ts, lts])
        cpu = np.concatenate([cpu, lost["cpu"][lrows].astype(np.int64)])
        pid = np.concatenate([pid, np.full(len(lrows), -2)])
        comm = np.concatenate([comm, np.full(len(lrows), -1)])
        rdepth = np.concatenate([rdepth, np.zeros(len(lrows), np.int64)])
        key = np.concatenate([key, lkey])
        lidx = np.full(len(typ), -1, dtype=np.int64)
        lidx[n0:] = np.arange(len(lrows))
    else:
        lidx = np.full(len(typ), -1, dtype=np.int64)
    cpu = np.where(cpu < 0, 0, cpu)
    o = np.lexsort((call, typ == EXIT, key))  # entry before exit at the same slot
    typ, call, row, ts, cpu, pid, comm, rdepth, lidx = (
        a[o] for a in (typ, call, row, ts, cpu, pid, comm, rdepth, lidx)
    )
    nrec = len(typ)

    # Per-CPU sequence: the kernel decides leaves and banners per CPU buffer.
    by_cpu = np.lexsort((np.arange(nrec), cpu))
    same_cpu_next = np.zeros(nrec, dtype=bool)
    nxt = np.full(nrec, -1, dtype=np.int64)
    if nrec > 1:
        a, b = by_cpu[:-1], by_cpu[1:]
        same = cpu[a] == cpu[b]
        nxt[a[same]] = b[same]
        same_cpu_next[a[same]] = True
    nx = np.clip(nxt, 0, None)
    leaf = (typ == ENTRY) & same_cpu_next & (typ[nx] == EXIT) & (call[nx] == call)
    drop = np.zeros(nrec, dtype=bool)
    drop[nxt[leaf]] = True
    typ = typ.copy()
    typ[leaf] = LEAF
    # A leaf prints at its entry with the exit's duration and flags of the entry record.
    keep = ~drop
    typ, call, row, ts, cpu, pid, comm, rdepth, lidx = (
        a[keep] for a in (typ, call, row, ts, cpu, pid, comm, rdepth, lidx)
    )
    nrec = len(typ)

    # Comment indent: one level below the CPU's innermost open call (print_graph_comment uses
    # cpu_data->depth: set to d by a nested entry, d-1 by a leaf or a return; -1 at start).
    by_cpu = np.lexsort((np.arange(nrec), cpu))
    after = np.where(typ == ENTRY, rdepth, rdepth - 1)
    cur = np.full(nrec, -1, dtype=np.int64)
    if nrec:
        c_sorted = cpu[by_cpu]
        t_sorted = typ[by_cpu]
        a_sorted = after[by_cpu]
        is_graph = (t_sorted != COMMENT) & (t_sorted != LOST)
        idx = np.where(is_graph, np.arange(nrec), -1)
        last = np.maximum.accumulate(idx)
        # previous graph record (strictly before) within the same CPU
        prev_last = np.concatenate([[-1], last[:-1]])
        start = np.searchsorted(c_sorted, c_sorted, side="left")
        valid = prev_last >= start
        cur_sorted = np.where(valid, a_sorted[np.clip(prev_last, 0, None)], -1)
        cur[by_cpu] = cur_sorted
        # banners: pid differs from the previous line of the same CPU (lost-event lines
        # belong to no task)
        bc = by_cpu[typ[by_cpu] != LOST]
        c_b = cpu[bc]
        p_sorted = pid[bc]
        prev_same = np.concatenate([[False], c_b[1:] == c_b[:-1]])
        ban_sorted = prev_same & np.concatenate([[False], p_sorted[1:] != p_sorted[:-1]])
        banner = np.zeros(nrec, dtype=bool)
        banner[bc] = ban_sorted
        prev_pid = np.full(nrec, -1, dtype=np.int64)
        prev_pid[bc] = np.concatenate([[-1], p_sorted[:-1]])
        prev_comm = np.full(nrec, -1, dtype=np.int64)
        prev_comm[bc] = np.concatenate([[-1], comm[bc][:-1]])
    else:
        banner = np.zeros(0, dtype=bool)
        prev_pid = prev_comm = np.zeros(0, dtype=np.int64)
    indent_depth = np.where((typ == COMMENT) | (typ == LOST), cur + 1, rdepth)

    # ---- columns (pyarrow string kernels; lookup tables per task, flag set and function)
    import pyarrow as pa
    import pyarrow.compute as pc

    ncpus = max(int(meta.ncpus or 0), int(cpu.max(initial=0)) + 1)
    cpu_w = len(str(max(ncpus - 1, 0)))
    abstime = bool(meta.ts_known) and bool(((ts >= 0) | (typ == LOST)).all())
    cpu_col = pc.binary_join_element_wise(
        " ", pc.utf8_lpad(_pa_str(cpu), width=cpu_w, padding=" "), ") ", ""
    )
    # proc: one string per distinct (comm, pid)
    tkey = (comm + 1) * (1 << 32) + (pid & 0xFFFFFFFF)
    tasks, tinv = np.unique(tkey, return_inverse=True)
    proc_lut = pa.array(
        [proc_field(calls.strings[int(k >> 32) - 1] if (k >> 32) > 0 else None, _s32(k & 0xFFFFFFFF)) for k in tasks.tolist()],
        pa.string(),
    )  # fmt: skip
    proc = proc_lut.take(pa.array(tinv.reshape(-1)))
    # latency flags: one string per distinct (flags, preempt, ctx)
    src_row = np.where(row >= 0, row, nev)
    ev_flags = np.concatenate([events["flags"], [-1]]).astype(np.int64)[src_row]
    ev_pre = np.concatenate([events["preempt"], [-1]]).astype(np.int64)[src_row]
    ev_ctx = np.concatenate([events["irqctx"], [-1]]).astype(np.int64)[src_row]
    cc = np.clip(call, 0, None)
    call_ctx = calls["ctx"][cc].astype(np.int64) if len(calls) else np.full(nrec, -1, np.int64)
    ctx = np.where(call >= 0, call_ctx, ev_ctx)
    lkey = ((ev_flags + 1) << 24) | ((ev_pre + 1) << 8) | (ctx + 1)
    combos, cinv = np.unique(lkey, return_inverse=True)
    lat_lut = pa.array(
        [
            " " + lat_flags((k >> 24) - 1, ((k >> 8) & 0xFFFF) - 1, (k & 0xFF) - 1) + " | "
            for k in combos.tolist()
        ],
        pa.string(),
    )
    lat = lat_lut.take(pa.array(cinv.reshape(-1)))

    # duration column
    dur = calls["duration"][cc] if len(calls) else np.zeros(nrec, np.int64)
    with_dur = (typ == EXIT) | (typ == LEAF)
    dcol = pc.if_else(pa.array(with_dur), durations_column(np.where(with_dur, dur, 0)), _FILLER)

    # function text: lookup tables by function code for "f() {", "f();", "} /* f */", then
    # the few lines that carry a return value or a comment appended as their own entries.
    npool = len(calls.strings)
    names = np.array(calls.strings.values + ["0x0"], dtype=object)
    fcode = (
        np.where(calls["func"][cc] >= 0, calls["func"][cc], npool)
        if len(calls)
        else np.full(nrec, npool)
    )
    mcode = calls["module"][cc] if len(calls) else np.full(nrec, -1)
    name_pa = pa.array(names.tolist(), pa.string())
    shown_lut = name_pa
    has_mod = (mcode >= 0) & (call >= 0)
    hasret = (
        ((calls["flags"][cc] & CallFlag.HAS_RETVAL) != 0) & (call >= 0)
        if len(calls)
        else np.zeros(nrec, bool)
    )
    special = has_mod | hasret | (typ == COMMENT)
    lut_parts = [
        pc.binary_join_element_wise(shown_lut, "() {", ""),
        pc.binary_join_element_wise(shown_lut, "();", ""),
        pc.binary_join_element_wise("} /* ", name_pa, " */", ""),
    ]
    base = np.select([typ == ENTRY, typ == LEAF, typ == EXIT], [0, 1, 2], 0) * len(names) + fcode
    text_idx = np.where(special, -1, base)
    si = np.nonzero(special)[0]
    if len(si):
        st = typ[si]
        extra = np.full(len(si), "", dtype=object)
        fn = names[fcode[si]].astype(str)
        md = calls.strings.decode(mcode[si]) if len(calls) else np.full(len(si), None, object)
        shown = np.where(
            mcode[si] < 0, fn, np.char.add(np.char.add(fn, " ["), np.char.add(md.astype(str), "]"))
        )
        rv = (
            _retval_text(calls["retval"][cc[si]]) if len(calls) else np.full(len(si), "", dtype=str)
        )
        hr = hasret[si]
        m = st == ENTRY
        extra[m] = np.char.add(shown[m], "() {")
        m = st == LEAF
        extra[m] = np.char.add(shown[m], "();")
        m2 = m & hr
        extra[m2] = _join([extra[m2].astype(str), " /* = ", rv[m2], " */"])
        m = st == EXIT
        extra[m] = _join(["} /* ", fn[m], " */"])
        m2 = m & hr
        extra[m2] = _join(["} /* ", fn[m2], " = ", rv[m2], " */"])
        m = st == COMMENT
        if m.any():
            extra[m] = _join(["/* ", comment_texts(events, row[si[m]]), " */"])
        text_idx[si] = 3 * len(names) + np.arange(len(si))
        lut_parts.append(pa.array(extra.tolist(), pa.string()))
    text = pa.concat_arrays(lut_parts).take(pa.array(text_idx))
    maxd = int(indent_depth.max(initial=0))
    indent_lut = pa.array([" " * (2 * d) for d in range(max(maxd, 0) + 1)], pa.string())
    indent = indent_lut.take(pa.array(np.clip(indent_depth, 0, None)))

    pieces = [cpu_col, proc, " | ", lat, dcol, indent, text, "\n"]
    if abstime:
        pieces.insert(0, abstime_column(ts))
    if banner.any():
        bi = np.nonzero(banner)[0]
        prev_proc = [
            proc_field(calls.strings[int(c)] if c >= 0 else None, int(p))
            for c, p in zip(prev_comm[bi].tolist(), prev_pid[bi].tolist())
        ]  # one per context switch
        cpu_txt = cpu_col.take(pa.array(bi)).to_pylist()
        proc_txt = proc.take(pa.array(bi)).to_pylist()
        banners = [
            f"{_BANNER_RULE}\n{c}{a} => {b}\n{_BANNER_RULE}\n\n"
            for c, a, b in zip(cpu_txt, prev_proc, proc_txt)
        ]
        bidx = np.zeros(nrec, dtype=np.int64)
        bidx[bi] = np.arange(1, len(bi) + 1)
        pieces.insert(0, pa.array([""] + banners, pa.string()).take(pa.array(bidx)))
    is_lost = typ == LOST
    lost_lines = None
    if is_lost.any():
        li = np.nonzero(is_lost)[0]
        texts = [
            f"CPU:{c} [LOST {n} EVENTS]\n" if n >= 0 else f"CPU:{c} [LOST EVENTS]\n"
            for c, n in zip(cpu[li].tolist(), lcount[lidx[li]].tolist())
        ]  # one per gap
        lix = np.zeros(nrec, dtype=np.int64)
        lix[li] = np.arange(1, len(li) + 1)
        lost_lines = pa.array([""] + texts, pa.string()).take(pa.array(lix))
    out.write(header(meta.uname, ncpus, nrec, abstime))
    step = 1 << 20  # lines per piece: keeps each piece's string data far below 2 GiB
    for lo in range(0, nrec, step):
        part = [
            p.slice(lo, step) if isinstance(p, (pa.Array, pa.ChunkedArray)) else p for p in pieces
        ]
        lines = pc.binary_join_element_wise(*part, "")
        if lost_lines is not None:
            lines = pc.if_else(pa.array(is_lost[lo : lo + step]), lost_lines.slice(lo, step), lines)
        # The array's data buffer is every line back to back: write it in one piece.
        offs = np.frombuffer(
            lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
        )
        data = lines.buffers()[2]
        out.write(data.to_pybytes()[int(offs[0]) : int(offs[-1])].decode("utf-8"))
    return WriteStats(
        lines=nrec,
        entries=int((typ == ENTRY).sum()),
        exits=int((typ == EXIT).sum()),
        leaves=int((typ == LEAF).sum()),
        comments=int((typ == COMMENT).sum()),
        lost=int((typ == LOST).sum()),
    )
