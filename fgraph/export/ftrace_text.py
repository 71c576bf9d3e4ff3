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
from typing import IO

import numpy as np

from ..schema import (
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

ENTRY, EXIT, COMMENT, LEAF = 0, 1, 2, 3
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
    """Overhead mark + duration field, 17 columns with the trailing ``"|  "``.

    kernel/trace/trace_functions_graph.c ``print_graph_duration`` / ``trace_print_graph_duration``:
    integer µs, then while it has fewer than 7 digits ``.`` + the ns remainder cut to keep 7
    digits, ``" us "``, padding to 8; marks from ``trace_find_mark`` (strict ``>``).
    """
    ns = np.clip(ns.astype(np.int64), 0, None)
    us = ns // 1000
    rem = ns % 1000
    us_s = us.astype(str)
    ln = np.char.str_len(us_s)
    rem3 = np.char.zfill(rem.astype(str), 3)
    frac = np.full(len(ns), "", dtype="<U5")
    for n_digits, keep in ((1, 3), (2, 3), (3, 3), (4, 3), (5, 2), (6, 1)):
        m = ln == n_digits
        if m.any():
            frac[m] = np.char.add(".", np.char.ljust(rem3[m], 3).astype(f"<U{keep}"))
    num = np.char.add(us_s, frac)
    field = np.char.ljust(np.char.add(num, " us "), 12)  # number+spaces = 8, " us " = 4
    mark = np.full(len(ns), " ", dtype="<U1")
    for limit, ch in (
        (10_000, "+"),
        (100_000, "!"),
        (1_000_000, "#"),
        (10_000_000, "*"),
        (100_000_000, "@"),
        (1_000_000_000, "$"),
    ):
        mark[ns > limit] = ch
    return np.char.add(np.char.add(np.char.add(mark, " "), field), "|  ")


def format_abstime(ts: np.ndarray) -> np.ndarray:
    """``"%5lu.%06lu |  "`` (print_graph_abs_time: µs truncated)."""
    ts = np.clip(ts.astype(np.int64), 0, None)
    sec = np.char.rjust((ts // 1_000_000_000).astype(str), 5)
    usec = np.char.zfill(((ts % 1_000_000_000) // 1000).astype(str), 6)
    return np.char.add(np.char.add(np.char.add(sec, "."), usec), " |  ")


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
    for name in np.unique(names).tolist():  # one step per event type
        m = names == name
        r = rows[m]

        def f(field: str, r: np.ndarray = r, name: str = name) -> np.ndarray | None:
            return _field(events, name, field, r)

        text: np.ndarray | None = None
        if name == "sched_switch":
            parts = [
                f(k)
                for k in (
                    "prev_comm",
                    "prev_pid",
                    "prev_prio",
                    "prev_state",
                    "next_comm",
                    "next_pid",
                    "next_prio",
                )
            ]
            if all(p is not None for p in parts):
                pc, pp, ppr, ps, nc, npid, npr = (p.astype(str) for p in parts)  # type: ignore[union-attr]
                text = _join(
                    ["sched_switch: prev_comm=", pc, " prev_pid=", pp, " prev_prio=", ppr, " prev_state=", ps,
                     " ==> next_comm=", nc, " next_pid=", npid, " next_prio=", npr]
                )  # fmt: skip
        elif name in ("sched_wakeup", "sched_wakeup_new", "sched_waking"):
            parts = [f(k) for k in ("comm", "pid", "prio", "target_cpu")]
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
    from .folded import frame_parent

    n = len(calls)
    fp = frame_parent(calls)
    sel = np.zeros(n, dtype=bool)
    sel[ids] = True
    fps = fp[ids]
    has = (fps >= 0) & sel[np.clip(fps, 0, None)]
    depth = np.zeros(n, dtype=np.int64)
    for _ in range(len(ids) + 1):  # converges after (tree depth) rounds
        new = np.where(has, depth[np.clip(fps, 0, None)] + 1, 0)
        if np.array_equal(new, depth[ids]):
            break
        depth[ids] = new
    return depth[ids]


def write_function_graph(
    events: EventTable,
    calls: CallTable,
    call_ids: np.ndarray,
    event_rows: np.ndarray,
    out: IO[str],
    *,
    order: np.ndarray | None = None,
) -> WriteStats:
    """Write the calls ``call_ids`` and the non-graph events at ``event_rows`` as kernel text.

    ``order`` is the event table's row order in time (default: text row order, or a stable
    sort by ts for a trace.dat); records follow it, so each CPU's lines keep the order the
    kernel saw them in.  Truncated calls print no return (the reader sees them unclosed, as
    in the input); calls whose entry was rebuilt print only their ``} /* f */``.
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
    cpu = np.where(cpu < 0, 0, cpu)
    key = key_of(row, ts)
    o = np.lexsort((call, typ == EXIT, key))  # entry before exit at the same slot
    typ, call, row, ts, cpu, pid, comm, rdepth = (
        a[o] for a in (typ, call, row, ts, cpu, pid, comm, rdepth)
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
    typ, call, row, ts, cpu, pid, comm, rdepth = (
        a[keep] for a in (typ, call, row, ts, cpu, pid, comm, rdepth)
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
        is_graph = t_sorted != COMMENT
        idx = np.where(is_graph, np.arange(nrec), -1)
        last = np.maximum.accumulate(idx)
        # previous graph record (strictly before) within the same CPU
        prev_last = np.concatenate([[-1], last[:-1]])
        start = np.searchsorted(c_sorted, c_sorted, side="left")
        valid = prev_last >= start
        cur_sorted = np.where(valid, a_sorted[np.clip(prev_last, 0, None)], -1)
        cur[by_cpu] = cur_sorted
        # banners: pid differs from the previous record of the same CPU
        prev_same = np.concatenate([[False], c_sorted[1:] == c_sorted[:-1]])
        p_sorted = pid[by_cpu]
        ban_sorted = prev_same & np.concatenate([[False], p_sorted[1:] != p_sorted[:-1]])
        banner = np.zeros(nrec, dtype=bool)
        banner[by_cpu] = ban_sorted
        prev_pid = np.full(nrec, -1, dtype=np.int64)
        prev_pid[by_cpu] = np.concatenate([[-1], p_sorted[:-1]])
        prev_comm = np.full(nrec, -1, dtype=np.int64)
        prev_comm[by_cpu] = np.concatenate([[-1], comm[by_cpu][:-1]])
    else:
        banner = np.zeros(0, dtype=bool)
        prev_pid = prev_comm = np.zeros(0, dtype=np.int64)
    indent_depth = np.where(typ == COMMENT, cur + 1, rdepth)

    # ---- columns
    ncpus = max(int(meta.ncpus or 0), int(cpu.max(initial=0)) + 1)
    cpu_w = len(str(max(ncpus - 1, 0)))
    cpu_col = np.char.add(np.char.add(" ", np.char.rjust(cpu.astype(str), cpu_w)), ") ")
    abstime = bool(meta.ts_known) and bool((ts >= 0).all())
    # proc: one string per distinct (comm, pid)
    tasks, tinv = (
        np.unique(np.stack([comm, pid], 1), axis=0, return_inverse=True)
        if nrec
        else (np.empty((0, 2), np.int64), np.empty(0, np.int64))
    )
    tinv = tinv.reshape(-1)
    proc_lut = np.array(
        [proc_field(calls.strings[int(c)], int(p)) for c, p in tasks.tolist()] or [""], dtype=object
    )
    proc = proc_lut[tinv].astype(str) if nrec else np.empty(0, dtype=str)
    # latency flags: one string per distinct (flags, preempt, ctx)
    src_row = np.where(row >= 0, row, nev)
    ev_flags = np.concatenate([events["flags"], [-1]]).astype(np.int64)[src_row]
    ev_pre = np.concatenate([events["preempt"], [-1]]).astype(np.int64)[src_row]
    ev_ctx = np.concatenate([events["irqctx"], [-1]]).astype(np.int64)[src_row]
    call_ctx = np.where(
        call >= 0, calls["ctx"][np.clip(call, 0, None)].astype(np.int64) if len(calls) else -1, -1
    )
    ctx = np.where(call >= 0, call_ctx, ev_ctx)
    combos, cinv = (
        np.unique(np.stack([ev_flags, ev_pre, ctx], 1), axis=0, return_inverse=True)
        if nrec
        else (np.empty((0, 3), np.int64), np.empty(0, np.int64))
    )
    cinv = cinv.reshape(-1)
    lat_lut = np.array(
        [" " + lat_flags(f, p, c) + " | " for f, p, c in combos.tolist()] or [""], dtype=object
    )
    lat = lat_lut[cinv].astype(str) if nrec else np.empty(0, dtype=str)

    # duration column
    cc = np.clip(call, 0, None)
    dur = calls["duration"][cc] if len(calls) else np.zeros(nrec, np.int64)
    with_dur = (typ == EXIT) | (typ == LEAF)
    dcol = np.full(nrec, _FILLER, dtype=object)
    if with_dur.any():
        dcol[with_dur] = format_durations(dur[with_dur])
    dcol = dcol.astype(str)

    # function text
    fname = calls.strings.decode(calls["func"][cc]) if len(calls) else np.full(nrec, None, object)
    fname = np.where(fname == None, "0x0", fname).astype(object)  # noqa: E711
    mod = calls.strings.decode(calls["module"][cc]) if len(calls) else np.full(nrec, None, object)
    has_mod = (mod != None) & (call >= 0)  # noqa: E711
    shown = fname.copy()
    if has_mod.any():
        shown[has_mod] = np.char.add(
            np.char.add(fname[has_mod].astype(str), " ["),
            np.char.add(mod[has_mod].astype(str), "]"),
        ).astype(object)
    hasret = (calls["flags"][cc] & CallFlag.HAS_RETVAL) != 0 if len(calls) else np.zeros(nrec, bool)
    text = np.full(nrec, "", dtype=object)
    m = typ == ENTRY
    text[m] = np.char.add(shown[m].astype(str), "() {")
    m = typ == LEAF
    text[m] = np.char.add(shown[m].astype(str), "();")
    mr = m & hasret
    if mr.any():
        text[mr] = _join(
            [text[mr].astype(str), " /* = ", _retval_text(calls["retval"][cc[mr]]), " */"]
        )
    m = typ == EXIT
    tail = fname[m].astype(str)
    mr_e = hasret[m]
    if mr_e.any():
        tail = tail.copy()
        tail[mr_e] = _join([tail[mr_e], " = ", _retval_text(calls["retval"][cc[m][mr_e]])])
    text[m] = _join(["} /* ", tail, " */"]) if m.any() else text[m]
    m = typ == COMMENT
    if m.any():
        text[m] = _join(["/* ", comment_texts(events, row[m]), " */"])
    indent = np.char.multiply(" ", np.clip(indent_depth, 0, None) * 2)  # type: ignore[arg-type]

    body = _join([cpu_col, proc, " | ", lat, dcol, indent, text.astype(str)])
    if abstime:
        body = np.char.add(format_abstime(ts), body)
    if banner.any():
        bi = np.nonzero(banner)[0]
        prev_proc = np.array(
            [
                proc_field(calls.strings[int(c)] if c >= 0 else None, int(p))
                for c, p in zip(prev_comm[bi].tolist(), prev_pid[bi].tolist())
            ],
            dtype=object,
        ).astype(str)
        bl = _join(
            [
                _BANNER_RULE + "\n",
                cpu_col[bi],
                prev_proc,
                " => ",
                proc[bi],
                "\n" + _BANNER_RULE + "\n\n",
            ]
        )
        body = body.astype(object)
        body[bi] = np.char.add(bl, body[bi].astype(str)).astype(object)
    out.write(header(meta.uname, ncpus, nrec, abstime))
    if nrec:
        out.write("\n".join(body.astype(str).tolist()))
        out.write("\n")
    return WriteStats(
        lines=nrec,
        entries=int((typ == ENTRY).sum()),
        exits=int((typ == EXIT).sum()),
        leaves=int((typ == LEAF).sum()),
        comments=int((typ == COMMENT).sum()),
    )
