"""Hand-built events and calls shared by the export/trim/check tests (no parser, no rebuild)."""

from __future__ import annotations

import numpy as np

from fgraph.schema import EventKind as K
from fgraph.table import CallTable, EventTable, FieldTable, LostTable, StringPool, TraceMeta

T0 = 17_000_000_000


def small_trace() -> tuple[EventTable, CallTable]:
    """cat-10 on CPU 0: vfs_read { a(); <hardirq> __sysvec { b(); } ; switch out/in } and
    sh-20 on CPU 1: vfs_read { c(); } (a second, shorter root)."""
    pool = StringPool()
    e = [
        dict(ts=T0, cpu=0, pid=10, comm="cat", event="funcgraph_entry", kind=K.FG_ENTRY, func="vfs_read", depth=0, flags=0, preempt=0, irqctx=0),
        dict(ts=T0 + 1000, cpu=0, pid=10, comm="cat", event="funcgraph_entry", kind=K.FG_ENTRY, func="a", depth=1, flags=0, preempt=1, irqctx=0),
        dict(ts=T0 + 2500, cpu=0, pid=10, comm="cat", event="funcgraph_exit", kind=K.FG_EXIT, func="a", depth=1, flags=0, preempt=1, irqctx=0, duration=1500),
        dict(ts=T0 + 3000, cpu=0, pid=10, comm="cat", event="funcgraph_entry", kind=K.FG_ENTRY, func="__sysvec_apic_timer_interrupt", depth=1, flags=9, preempt=0x11, irqctx=2),
        dict(ts=T0 + 3100, cpu=0, pid=10, comm="cat", event="funcgraph_entry", kind=K.FG_ENTRY, func="b", depth=2, flags=9, preempt=0x11, irqctx=2),
        dict(ts=T0 + 3300, cpu=0, pid=10, comm="cat", event="funcgraph_exit", kind=K.FG_EXIT, func="b", depth=2, flags=9, preempt=0x11, irqctx=2, duration=200),
        dict(ts=T0 + 4000, cpu=0, pid=10, comm="cat", event="funcgraph_exit", kind=K.FG_EXIT, func="__sysvec_apic_timer_interrupt", depth=1, flags=9, preempt=0x11, irqctx=2, duration=1000),
        dict(ts=T0 + 5000, cpu=0, pid=10, comm="cat", event="sched_switch", kind=K.SCHED_SWITCH, flags=0, preempt=0, irqctx=0),
        dict(ts=T0 + 9000, cpu=0, pid=0, comm="<idle>", event="sched_switch", kind=K.SCHED_SWITCH, flags=0, preempt=0, irqctx=0),
        dict(ts=T0 + 20000, cpu=0, pid=10, comm="cat", event="funcgraph_exit", kind=K.FG_EXIT, func="vfs_read", depth=0, flags=0, preempt=0, irqctx=0, duration=20000),
        dict(ts=T0 + 30000, cpu=1, pid=20, comm="sh", event="funcgraph_entry", kind=K.FG_ENTRY, func="vfs_read", depth=0, flags=0, preempt=0, irqctx=0),
        dict(ts=T0 + 31000, cpu=1, pid=20, comm="sh", event="funcgraph_entry", kind=K.FG_ENTRY, func="c", depth=1, flags=0, preempt=0, irqctx=0),
        dict(ts=T0 + 31999, cpu=1, pid=20, comm="sh", event="funcgraph_exit", kind=K.FG_EXIT, func="c", depth=1, flags=0, preempt=0, irqctx=0, duration=999),
        dict(ts=T0 + 35000, cpu=1, pid=20, comm="sh", event="funcgraph_exit", kind=K.FG_EXIT, func="vfs_read", depth=0, flags=0, preempt=0, irqctx=0, duration=5000),
        dict(ts=T0 + 40000, cpu=1, pid=20, comm="sh", event="sched_switch", kind=K.SCHED_SWITCH, flags=0, preempt=0, irqctx=0),
    ]  # fmt: skip
    ev = EventTable.from_rows(e, pool)
    ev.meta = TraceMeta(format="trace.dat", ncpus=2, uname="6.1.0-test")
    sw = np.array([7, 8, 14])
    c = pool.code
    ev.fields["sched_switch"] = FieldTable(
        sw,
        {
            "prev_comm": np.array([c("cat"), c("swapper/0"), c("sh")], np.int32),
            "prev_pid": np.array([10, 0, 20]),
            "prev_prio": np.array([120, 120, 120]),
            "prev_state": np.array([c("D"), c("R"), c("S")], np.int32),
            "next_comm": np.array([c("swapper/0"), c("cat"), c("swapper/1")], np.int32),
            "next_pid": np.array([0, 10, 0]),
            "next_prio": np.array([120, 120, 120]),
        },
        {"prev_comm", "prev_state", "next_comm"},
    )
    ev.lost = LostTable.from_rows(
        [dict(cpu=1, row=14, ts=T0 + 39000, count=7, pos=123, source=0)], pool
    )
    common = dict(offcpu_sleep_ns=0, offcpu_runnable_ns=0)
    calls = [
        dict(call_id=0, root_id=0, pid=10, comm="cat", func="vfs_read", depth=0, kernel_depth=0, ts_entry=T0, ts_exit=T0 + 20000, duration=20000, self=17500, irq_ns=1000, ctx=0, cpu_entry=0, cpu_exit=0, entry_row=0, exit_row=9, **{**common, "offcpu_sleep_ns": 4000}),
        dict(call_id=1, parent_id=0, root_id=0, pid=10, comm="cat", func="a", depth=1, kernel_depth=1, ts_entry=T0 + 1000, ts_exit=T0 + 2500, duration=1500, self=1500, irq_ns=0, ctx=0, cpu_entry=0, cpu_exit=0, entry_row=1, exit_row=2, **common),
        dict(call_id=2, root_id=2, interrupted_id=0, pid=10, comm="cat", func="__sysvec_apic_timer_interrupt", depth=0, kernel_depth=1, ts_entry=T0 + 3000, ts_exit=T0 + 4000, duration=1000, self=800, irq_ns=0, ctx=2, cpu_entry=0, cpu_exit=0, entry_row=3, exit_row=6),
        dict(call_id=3, parent_id=2, root_id=2, pid=10, comm="cat", func="b", depth=1, kernel_depth=2, ts_entry=T0 + 3100, ts_exit=T0 + 3300, duration=200, self=200, irq_ns=0, ctx=2, cpu_entry=0, cpu_exit=0, entry_row=4, exit_row=5),
        dict(call_id=4, root_id=4, pid=20, comm="sh", func="vfs_read", depth=0, kernel_depth=0, ts_entry=T0 + 30000, ts_exit=T0 + 35000, duration=5000, self=4001, irq_ns=0, ctx=0, cpu_entry=1, cpu_exit=1, entry_row=10, exit_row=13, **common),
        dict(call_id=5, parent_id=4, root_id=4, pid=20, comm="sh", func="c", depth=1, kernel_depth=1, ts_entry=T0 + 31000, ts_exit=T0 + 31999, duration=999, self=999, irq_ns=0, ctx=0, cpu_entry=1, cpu_exit=1, entry_row=11, exit_row=12, **common),
    ]  # fmt: skip
    return ev, CallTable.from_rows(calls, pool)
