"""Chrome/Perfetto JSON trace (the "Trace Event Format") that ui.perfetto.dev opens.

* One complete slice (``"ph": "X"``) per call, on its task's track: process and thread are the
  task id (we do not know thread groups), named ``comm-pid``.
* Interrupt calls (ctx softirq/hardirq/nmi) go on their own tracks, one per CPU and context,
  under a pseudo process "interrupts" (their common_pid is only the task they interrupted; their
  ``args.interrupted`` says which call).
* Lost-event gaps are instant events (``"ph": "i"``) on a per-CPU "lost events" track.
* Metadata events (``"ph": "M"``) name processes and threads.
* With ``func`` only the subtrees of that function's outermost calls are written (the
  interrupts that arrived inside them included), as ``fgraph export --to folded --func`` folds
  them: a whole 10M-event capture makes ~1.5 GB of JSON, more than the viewer loads well.

Times are µs (the format's unit) with ns kept as three decimals.  Slices of one track nest like
the call table's parent/child calls because a child's [entry, exit] lies inside its parent's.
Rows are built column-wise with pyarrow and serialized by pandas' compiled JSON writer.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from .._numpy import unique
from ..analysis.calls import func_code
from ..analysis.tree import frame_parent, levels, outermost
from ..schema import CallFlag, IrqCtx
from ..table import CallTable, LostTable

# The call columns the Perfetto export reads: ``fgraph export --to perfetto`` builds only these
# (``load_windowed(columns=...)``); tests/test_export_folded_perfetto.py writes with only these.
COLUMNS = frozenset(
    {
        "call_id",
        "parent_id",
        "interrupted_id",
        "pid",
        "comm",
        "func",
        "cpu_entry",
        "ctx",
        "flags",
        "ts_entry",
        "ts_exit",
        "duration",
        "self",
    }
)

IRQ_PID = 0x7FFF0000  # pseudo process holding the interrupt tracks
LOST_PID = 0x7FFF0001  # pseudo process holding the lost-event markers
_CTX_NAME = {int(IrqCtx.SOFTIRQ): "softirq", int(IrqCtx.HARDIRQ): "hardirq", int(IrqCtx.NMI): "nmi"}


def irq_tid(cpu: np.ndarray, ctx: np.ndarray) -> np.ndarray:
    return IRQ_PID + 1 + np.clip(cpu.astype(np.int64), 0, None) * 4 + ctx.astype(np.int64)


# rows of the slice table turned into JSON at a time: the whole table at once held its text
# three times over (~9 GB at 5.9M calls of a real capture)
JSON_BATCH = 1 << 17


def _records_json(tbl: Any) -> Iterator[str]:
    """The slices' JSON objects, a batch of them (joined by ",\n") at a time."""
    import pandas as pd
    import pyarrow as pa

    for batch in tbl.to_batches(max_chunksize=JSON_BATCH):
        if batch.num_rows == 0:
            continue
        df = pa.Table.from_batches([batch]).to_pandas(types_mapper=pd.ArrowDtype)
        text = df.to_json(orient="records", lines=True, double_precision=3, force_ascii=False)
        # (one object per line: a newline inside a string is written escaped)
        yield text.rstrip("\n").replace("\n", ",\n")


def display_intervals(calls: CallTable, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, duration) in ns of each call at ``idx``: intervals that nest exactly like the
    call tree on each track, so a viewer draws the tree fgraph rebuilt.

    Slices span the call's records (``ts_entry`` .. ``ts_exit``; ``ts_entry + duration`` when
    the exit is missing), which follow the ring buffer's order.  Then, with loops over tree
    levels only:

    * parents are widened over children whose records came first (an interrupt arrived
      between a function's calltime and its entry record, and the rebuild put the
      interrupt's work inside the function);
    * top-down, each call is kept inside its caller, and siblings (roots: per track) follow
      one another: within a µs (text timestamps are cut to µs) the later one starts where the
      earlier ended; beyond it the next sibling's entry record proves the earlier had
      returned, so it ends there.

    The raw record time and the kernel's duration stay in the slice's args.
    """
    n = len(calls)
    t0 = calls["ts_entry"].astype(np.int64)
    t1 = calls["ts_exit"].astype(np.int64)
    d = calls["duration"].astype(np.int64)
    start = t0.copy()
    end = np.where(t1 >= 0, t1, np.where(d >= 0, t0 + d, t0))
    end = np.maximum(end, start)
    shown = np.zeros(n, dtype=bool)
    shown[idx] = True
    parent = calls["parent_id"].astype(np.int64)
    has_parent = shown & (parent >= 0) & shown[np.clip(parent, 0, None)]
    lvl = levels(np.where(has_parent, parent, -1))  # (levels of the shown forest)
    for level in range(int(lvl.max(initial=0)), 0, -1):  # deepest first
        ids = np.nonzero(has_parent & (lvl == level))[0]
        np.minimum.at(start, parent[ids], start[ids])
        np.maximum.at(end, parent[ids], end[ids])
    # Siblings come one after the other.  Text timestamps are cut to µs (and a leaf's end is
    # its entry time plus its duration), so
    # two siblings entered within one µs show the same start, and a call may end up to a µs
    # after its next sibling's printed entry.  Within that µs the order is the call order:
    # start the later sibling where the earlier ended (top level first; callees are kept
    # inside their caller).
    import pandas as pd

    ctx = calls["ctx"].astype(np.int64)
    # the track of a root: its task, or for an interrupt the (CPU, context) it ran in
    track = np.where(
        ctx > IrqCtx.TASK,
        (1 << 40) + np.clip(calls["cpu_entry"].astype(np.int64), 0, None) * 4 + ctx,
        calls["pid"].astype(np.int64),
    )
    tol = 1000
    for level in range(int(lvl.max(initial=0)) + 1):
        ids = idx[lvl[idx] == level]
        if level > 0:
            p = parent[ids]
            start[ids] = np.clip(start[ids], start[p], end[p])
            end[ids] = np.clip(end[ids], start[ids], end[p])
        grp = np.where(has_parent[ids], parent[ids], -1 - track[ids])
        o = np.lexsort((ids, grp))
        ids, grp = ids[o], grp[o]
        if len(ids) > 1:
            first = np.concatenate([[True], grp[1:] != grp[:-1]])
            run = pd.Series(end[ids]).groupby(np.cumsum(first)).cummax().to_numpy()
            prev_end = np.concatenate([[0], run[:-1]])
            push = ~first & (prev_end > start[ids]) & (prev_end - start[ids] <= tol)
            start[ids[push]] = prev_end[push]
            end[ids] = np.maximum(end[ids], start[ids])
            # Beyond that µs, the next sibling's entry record proves the call had returned
            # (its duration, taken from another clock read, says otherwise): end it there.
            same = ~first[1:]
            a, b = ids[:-1][same], ids[1:][same]
            cut = end[a] > start[b]
            end[a[cut]] = np.maximum(start[b[cut]], start[a[cut]])
            if level > 0:
                end[ids] = np.minimum(end[ids], end[parent[ids]])
                start[ids] = np.minimum(start[ids], end[ids])
    return start[idx], end[idx] - start[idx]


def subtrees(calls: CallTable, func: str) -> np.ndarray:
    """The calls of the subtrees of ``func``'s outermost calls, interrupts inside them
    included (a UsageError naming close matches when the trace has no call of it)."""
    return outermost(frame_parent(calls), calls["func"] == func_code(calls, func))[1]


def slices(calls: CallTable, keep: np.ndarray | None = None) -> Any:
    """pyarrow Table of the X events (one per call with a known entry time; of the ``keep``
    calls only, when given)."""
    import pyarrow as pa

    ok = calls["ts_entry"] >= 0
    if keep is not None:
        ok &= keep
    idx = np.nonzero(ok)[0]
    ctx = calls["ctx"][idx].astype(np.int64)
    is_irq = ctx > IrqCtx.TASK
    pid = calls["pid"][idx].astype(np.int64)
    cpu = calls["cpu_entry"][idx].astype(np.int64)
    tid = np.where(is_irq, irq_tid(cpu, ctx), pid)
    ppid = np.where(is_irq, IRQ_PID, pid)
    start, dur = display_intervals(calls, idx)
    kdur = calls["duration"][idx].astype(np.int64)
    cat = np.array(["task", "softirq", "hardirq", "nmi", "unknown"], dtype=object)[
        np.where(ctx < 0, 4, ctx)
    ]
    names = calls.strings.decode(calls["func"][idx])
    names = np.where(names == None, "[unknown]", names)  # noqa: E711
    args = pa.StructArray.from_arrays(
        [
            # -1 for "none" as in the call table (nulls would come out of pandas as floats).
            pa.array(calls["call_id"][idx].astype(np.int64)),
            pa.array(calls["parent_id"][idx].astype(np.int64)),
            pa.array(calls["interrupted_id"][idx].astype(np.int64)),
            pa.array(calls["self"][idx].astype(np.int64)),
            pa.array(kdur),
            pa.array(calls["ts_entry"][idx].astype(np.int64)),
            pa.array(calls["cpu_entry"][idx].astype(np.int64)),
            pa.array((calls["flags"][idx] & CallFlag.TRUNCATED) != 0),
            pa.array(calls["flags"][idx].astype(np.int64)),
        ],
        names=[
            "call_id",
            "parent_id",
            "interrupted",
            "self_ns",
            "duration_ns",
            "ts_entry_ns",
            "cpu",
            "truncated",
            "flags",
        ],
    )
    return pa.table(
        {
            "ph": pa.array(np.full(len(idx), "X", dtype=object), pa.string()),
            "name": pa.array(names, pa.string()),
            "cat": pa.array(cat, pa.string()),
            "ts": pa.array(start / 1000.0),
            "dur": pa.array(dur / 1000.0),
            "pid": pa.array(ppid),
            "tid": pa.array(tid),
            "args": args,
        }
    )


def _lost_events(lost: LostTable | None) -> list[str]:
    if lost is None or len(lost) == 0:
        return []
    out = []
    ts = lost["ts"]
    for i in np.nonzero(ts >= 0)[0].tolist():  # one per gap (a handful), not per event
        n = int(lost["count"][i])
        cpu = int(lost["cpu"][i])
        what = f"lost {n} events" if n >= 0 else "lost events"
        out.append(
            json.dumps(
                {
                    "ph": "i",
                    "s": "t",
                    "name": what,
                    "cat": "lost",
                    "ts": round(int(ts[i]) / 1000.0, 3),
                    "pid": LOST_PID,
                    "tid": LOST_PID + 1 + max(cpu, 0),
                    "args": {"cpu": cpu, "count": n},
                }
            )
        )
    return out


def _metadata(calls: CallTable, lost: LostTable | None) -> list[str]:
    meta: list[dict[str, Any]] = []
    task = calls["ctx"] <= IrqCtx.TASK
    pids, first = np.unique(calls["pid"][task], return_index=True)
    comms: Any = calls.strings.decode(calls["comm"][task][first]) if len(first) else []
    for pid, comm in zip(pids.tolist(), list(comms)):  # one per task
        label = f"{comm or '?'}-{pid}"
        meta.append(
            {"ph": "M", "name": "process_name", "pid": pid, "tid": pid, "args": {"name": label}}
        )
        meta.append(
            {"ph": "M", "name": "thread_name", "pid": pid, "tid": pid, "args": {"name": label}}
        )
    irq = ~task
    if irq.any():
        meta.append(
            {
                "ph": "M",
                "name": "process_name",
                "pid": IRQ_PID,
                "tid": IRQ_PID,
                "args": {"name": "interrupts"},
            }
        )
        pairs = np.unique(
            np.stack(
                [calls["cpu_entry"][irq].astype(np.int64), calls["ctx"][irq].astype(np.int64)], 1
            ),
            axis=0,
        )
        for cpu, ctx in pairs.tolist():  # one per (cpu, context)
            tid = int(irq_tid(np.array([cpu]), np.array([ctx]))[0])
            meta.append(
                {
                    "ph": "M",
                    "name": "thread_name",
                    "pid": IRQ_PID,
                    "tid": tid,
                    "args": {"name": f"{_CTX_NAME.get(ctx, 'irq')} CPU{cpu}"},
                }
            )
    if lost is not None and len(lost):
        meta.append(
            {
                "ph": "M",
                "name": "process_name",
                "pid": LOST_PID,
                "tid": LOST_PID,
                "args": {"name": "lost events"},
            }
        )
        for cpu in unique(lost["cpu"]).tolist():
            meta.append(
                {
                    "ph": "M",
                    "name": "thread_name",
                    "pid": LOST_PID,
                    "tid": LOST_PID + 1 + max(cpu, 0),
                    "args": {"name": f"CPU{cpu}"},
                }
            )
    return [json.dumps(m) for m in meta]


def write_perfetto(
    calls: CallTable,
    out: IO[str],
    *,
    lost: LostTable | None = None,
    title: str = "",
    keep: np.ndarray | None = None,
) -> None:
    """Write the JSON trace to ``out`` (a text stream); with ``keep`` (``subtrees``), those
    calls only."""
    out.write('{"displayTimeUnit":"ns",')
    if title:
        out.write(f'"otherData":{json.dumps({"source": title, "writer": "fgraph"})},')
    out.write('"traceEvents":[\n')
    first = True
    pieces = itertools.chain(
        _metadata(calls, lost), _records_json(slices(calls, keep)), _lost_events(lost)
    )
    for piece in pieces:  # (JSON objects, or batches of them)
        if not first:
            out.write(",\n")
        out.write(piece)
        first = False
    out.write("\n]}\n")
