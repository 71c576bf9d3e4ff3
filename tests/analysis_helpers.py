"""Hand-built call tables for the analysis tests (no parser or rebuild needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fgraph.schema import CallFlag, IrqCtx
from fgraph.table import CallTable


def build_calls(spec: list[dict[str, Any]]) -> CallTable:
    """Rows in entry order; each dict: func, parent (index or -1), ts, dur, and optionally
    irq, flags, pid, comm, cpu, interrupted, sleep, runq, ctx.  depth, root_id and self are
    derived the way the rebuild defines them (self = duration - children - irq)."""
    n = len(spec)
    dur = np.array([s.get("dur", -1) for s in spec], dtype=np.int64)
    parent = np.array([s.get("parent", -1) for s in spec], dtype=np.int64)
    irq = np.array([s.get("irq", 0) for s in spec], dtype=np.int64)
    kids = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    root = np.arange(n)
    for i in range(n):
        p = parent[i]
        if p >= 0:
            kids[p] += max(dur[i], 0)
            depth[i] = depth[p] + 1
            root[i] = root[p]
    rows = []
    for i, s in enumerate(spec):
        flags = int(s.get("flags", 0))
        ts = int(s.get("ts", i * 10))
        rows.append(
            {
                "call_id": i,
                "parent_id": int(parent[i]),
                "root_id": int(root[i]),
                "interrupted_id": int(s.get("interrupted", -1)),
                "pid": int(s.get("pid", 100)),
                "comm": s.get("comm", "cat"),
                "func": s["func"],
                "depth": int(depth[i]),
                "ts_entry": ts,
                "ts_exit": ts + int(dur[i]) if dur[i] >= 0 else -1,
                "duration": int(dur[i]),
                "self": int(dur[i] - kids[i] - irq[i]) if dur[i] >= 0 else -1,
                "irq_ns": int(irq[i]),
                "offcpu_sleep_ns": int(s.get("sleep", -1)),
                "offcpu_runnable_ns": int(s.get("runq", -1)),
                "cpu_entry": int(s.get("cpu", 0)),
                "cpu_exit": int(s.get("cpu", 0)),
                "ctx": int(s.get("ctx", IrqCtx.TASK)),
                "flags": flags,
            }
        )
    t = CallTable.from_rows(rows)
    t.validate()
    return t


MS = 1_000_000
US = 1_000


def sample_calls(sched: bool = False) -> CallTable:
    """Two slow and one fast vfs_read, one truncated, an interrupt inside the first."""
    s = (lambda v: v) if sched else (lambda v: -1)
    spec: list[dict[str, Any]] = [
        # 0: slow call, 3 ms: A 2 ms (C 1.5 ms inside), B 0.5 ms, irq 0.1 ms, self 0.4 ms
        {
            "func": "vfs_read",
            "ts": 1_000 * MS,
            "dur": 3 * MS,
            "irq": 100 * US,
            "sleep": s(1 * MS),
            "runq": s(200 * US),
        },
        {
            "func": "A",
            "parent": 0,
            "ts": 1_000 * MS + 10 * US,
            "dur": 2 * MS,
            "sleep": s(1 * MS),
            "runq": s(0),
        },
        {
            "func": "C",
            "parent": 1,
            "ts": 1_000 * MS + 20 * US,
            "dur": 1500 * US,
            "sleep": s(1 * MS),
            "runq": s(0),
        },
        {
            "func": "B",
            "parent": 0,
            "ts": 1_002 * MS + 100 * US,
            "dur": 500 * US,
            "sleep": s(0),
            "runq": s(0),
        },
        # 4: interrupt that arrived while vfs_read itself was innermost
        {
            "func": "irq_handler",
            "ts": 1_002 * MS + 700 * US,
            "dur": 100 * US,
            "interrupted": 0,
            "ctx": IrqCtx.HARDIRQ,
            "sleep": s(0),
            "runq": s(0),
        },
        # 5: fast call, 100 us: A 50 us
        {
            "func": "vfs_read",
            "ts": 1_010 * MS,
            "dur": 100 * US,
            "sleep": s(0),
            "runq": s(0),
            "pid": 200,
            "cpu": 1,
        },
        {
            "func": "A",
            "parent": 5,
            "ts": 1_010 * MS + 10 * US,
            "dur": 50 * US,
            "sleep": s(0),
            "runq": s(0),
            "pid": 200,
            "cpu": 1,
        },
        # 7: slow call, 2 ms: A 1 ms, B 0.5 ms, self 0.5 ms
        {"func": "vfs_read", "ts": 1_020 * MS, "dur": 2 * MS, "sleep": s(0), "runq": s(0)},
        {
            "func": "A",
            "parent": 7,
            "ts": 1_020 * MS + 10 * US,
            "dur": 1 * MS,
            "sleep": s(0),
            "runq": s(0),
        },
        {
            "func": "B",
            "parent": 7,
            "ts": 1_021 * MS + 100 * US,
            "dur": 500 * US,
            "sleep": s(0),
            "runq": s(0),
        },
        # 10: truncated (no exit seen): a lower bound
        {
            "func": "vfs_read",
            "ts": 1_030 * MS,
            "dur": 5 * MS,
            "flags": CallFlag.TRUNCATED,
            "sleep": s(0),
            "runq": s(0),
        },
    ]
    return build_calls(spec)
