"""Compact, stable text dump of an EventTable for the text readers' golden files."""

from __future__ import annotations

import numpy as np

from fgraph.table import EventTable

DUMP_COLS = (
    "pos", "ts", "cpu", "pid", "comm", "event", "kind", "flags", "preempt", "irqctx",
    "func", "module", "depth", "duration", "overrun", "retval", "eflags",
)  # fmt: skip


def dump_table(et: EventTable, nrows: int | None = None) -> str:
    m = et.meta
    out = [
        f"# format={m.format} detail={m.detail} lines={m.lines_total} unparsed={m.lines_unparsed}"
        f" ts_known={m.ts_known} ts_res={m.ts_resolution_ns} dur_res={m.duration_resolution_ns} ncpus={m.ncpus}",
        f"# rows={len(et)} events={sorted(et.events_per_type().items())}",
    ]
    for w in m.warnings:
        out.append(f"# warning: {w.what} (lost={w.lost})")
    for ln, text in m.unparsed_examples:
        out.append(f"# unparsed {ln}: {text}")
    for name in sorted(et.fields):
        ft = et.fields[name]
        cols = []
        for c in sorted(ft.columns):
            v = ft.columns[c][:3]
            if c in ft.string_cols:
                cols.append(f"{c}={[et.strings[int(x)] for x in v]}")
            else:
                cols.append(f"{c}={v.tolist()}")
        out.append(f"# fields {name} n={len(ft)} rows={ft.rows[:3].tolist()} " + " ".join(cols))
    lost = et.lost
    for i in range(min(len(lost), 5)):
        out.append("# lost " + " ".join(f"{c}={int(lost[c][i])}" for c in ("cpu", "row", "ts", "count", "pos")))
    out.append(",".join(DUMP_COLS))
    n = len(et) if nrows is None else min(nrows, len(et))
    strcols = {"comm", "event", "func", "module"}
    cols = {}
    for c in DUMP_COLS:
        arr = et[c][:n]
        if c in strcols:
            cols[c] = ["" if x < 0 else str(et.strings[int(x)]) for x in arr]
        else:
            cols[c] = [str(int(x)) for x in np.asarray(arr)]
    for i in range(n):
        out.append(",".join(cols[c][i] for c in DUMP_COLS))
    return "\n".join(out) + "\n"
