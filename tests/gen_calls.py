"""Random well-nested call sequences and their rendering as event tables (tests of the rebuild).

``generate(rng, ...)`` simulates a few CPUs running a few tasks: tasks enter and leave
functions (from a small name pool, so recursion happens), get switched out and in again on any
CPU (migrations, ``sched_switch`` events), and interrupts (softirq, hardirq, NMI, nested) arrive
on top of whatever runs on a CPU.  Timestamps only move forward and may repeat.  The result
holds the *true* calls (what the rebuild must find) and the records a trace.dat would give:
each CPU's records in order, CPU after CPU.

``calls_sequences()`` is the hypothesis strategy drawing such a trace.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from fgraph.schema import EventKind, IrqCtx
from fgraph.table import EventTable, FieldTable, LostTable, StringPool, TraceMeta

FUNCS = ("f", "g", "h", "k", "m")
IRQ_FUNCS = {
    IrqCtx.SOFTIRQ: ("s1", "s2", "f"),
    IrqCtx.HARDIRQ: ("h1", "h2", "g"),
    IrqCtx.NMI: ("n1", "f"),
}


@dataclass
class GenCall:
    id: int
    pid: int
    func: str
    parent: int
    interrupted: int
    ctx: int
    depth: int
    kdepth: int
    ts_entry: int = -1
    ts_exit: int = -1
    cpu_entry: int = -1
    cpu_exit: int = -1
    entry_seq: int = -1
    exit_seq: int = -1


@dataclass
class GenTrace:
    calls: list[GenCall] = field(default_factory=list)
    # records in true time order: (seq, ts, cpu, pid, kind, func, depth, ctx, calltime, extra)
    records: list[dict] = field(default_factory=list)
    ncpu: int = 2
    switches: list[tuple[int, int, int, int, str, int]] = field(default_factory=list)  # row-free


class _Sim:
    def __init__(self, rng: random.Random, ncpu: int, ntasks: int, equal_ts: bool):
        self.rng = rng
        self.ncpu = ncpu
        self.clock = 1000
        self.equal_ts = equal_ts
        self.t = GenTrace(ncpu=ncpu)
        self.stacks: dict[int, list[int]] = {}  # task key -> open call ids (task level)
        self.pids = list(range(100, 100 + ntasks))
        self.cur: list[int] = [0] * ncpu  # pid running on each cpu (0 = idle)
        self.last_cpu: dict[int, int] = {}
        for p in self.pids:
            self.stacks[p] = []
        for c in range(ncpu):
            self.stacks[-(c + 2)] = []

    def key(self, pid: int, cpu: int) -> int:
        return pid if pid > 0 else -(cpu + 2)

    def tick(self, force: bool = False) -> int:
        step = (
            self.rng.choice((0, 1, 1, 2, 5))
            if self.equal_ts and not force
            else self.rng.randint(1, 5)
        )
        self.clock += step
        return self.clock

    def emit(
        self, cpu: int, pid: int, kind: int, func: str, depth: int, ctx: int, **extra: object
    ) -> None:
        rec = dict(
            seq=len(self.t.records),
            ts=self.clock,
            cpu=cpu,
            pid=pid,
            kind=kind,
            func=func,
            depth=depth,
            ctx=ctx,
        )
        rec.update(extra)
        self.t.records.append(rec)

    def enter(
        self,
        cpu: int,
        pid: int,
        stack: list[int],
        func: str,
        ctx: int,
        parent_override: int | None,
        interrupted: int,
        kbase: int,
    ) -> int:
        self.tick()
        parent = stack[-1] if stack else -1
        if parent_override is not None:
            parent = parent_override
        calls = self.t.calls
        depth = calls[parent].depth + 1 if parent >= 0 else 0
        kd = kbase + len(stack)
        c = GenCall(
            len(calls),
            pid,
            func,
            parent,
            interrupted,
            ctx,
            depth,
            kd,
            ts_entry=self.clock,
            cpu_entry=cpu,
            entry_seq=len(self.t.records),
        )
        calls.append(c)
        self.emit(cpu, pid, EventKind.FG_ENTRY, func, kd, ctx)
        stack.append(c.id)
        return c.id

    def leave(self, cpu: int, pid: int, stack: list[int]) -> None:
        self.tick()
        cid = stack.pop()
        c = self.t.calls[cid]
        c.ts_exit = self.clock
        c.cpu_exit = cpu
        c.exit_seq = len(self.t.records)
        self.emit(
            cpu,
            pid,
            EventKind.FG_EXIT,
            c.func,
            c.kdepth,
            c.ctx,
            calltime=c.ts_entry,
            rettime=c.ts_exit,
        )

    def interrupt(
        self, cpu: int, pid: int, ctx: int, outer: list[int], kbase: int, level: int
    ) -> None:
        """A whole interrupt run of context ctx on cpu (roots are their own trees)."""
        interrupted = outer[-1] if outer else -1
        kb = kbase + len(outer)
        for _ in range(self.rng.randint(1, 2)):  # one or two roots in this interrupt
            stack: list[int] = []
            self.enter(cpu, pid, stack, self.rng.choice(IRQ_FUNCS[ctx]), ctx, -1, interrupted, kb)
            steps = 0
            while stack and steps < 12:
                steps += 1
                r = self.rng.random()
                if r < 0.35 and len(stack) < 6:
                    self.enter(cpu, pid, stack, self.rng.choice(IRQ_FUNCS[ctx]), ctx, None, -1, kb)
                elif r < 0.45 and level < 2:
                    higher = [x for x in (IrqCtx.HARDIRQ, IrqCtx.NMI) if x > ctx]
                    if higher:
                        self.interrupt(cpu, pid, self.rng.choice(higher), stack, kb, level + 1)
                else:
                    self.leave(cpu, pid, stack)
            while stack:
                self.leave(cpu, pid, stack)

    def switch(self, cpu: int) -> None:
        running = set(self.cur)
        choices = [p for p in self.pids if p not in running] + [0]
        nxt = self.rng.choice(choices)
        prev = self.cur[cpu]
        if nxt == prev:
            return
        # a task that changes CPU must be seen later than its last record (the merge is by time)
        self.tick(force=True)
        state = self.rng.choice(("R", "S", "D", "R+"))
        self.emit(
            cpu,
            prev,
            EventKind.SCHED_SWITCH,
            "",
            -1,
            IrqCtx.TASK,
            prev_pid=prev,
            next_pid=nxt,
            prev_state=state,
        )
        self.cur[cpu] = nxt

    def run(self, steps: int, p_irq: float) -> GenTrace:
        for _ in range(steps):
            cpu = self.rng.randrange(self.ncpu)
            pid = self.cur[cpu]
            if self.rng.random() < 0.08:
                self.switch(cpu)
                continue
            stack = self.stacks[self.key(pid, cpu)]
            r = self.rng.random()
            if r < p_irq:
                self.interrupt(
                    cpu,
                    pid,
                    self.rng.choice((IrqCtx.SOFTIRQ, IrqCtx.HARDIRQ, IrqCtx.NMI)),
                    stack,
                    0,
                    0,
                )
            elif r < 0.55 and len(stack) < 8:
                self.enter(cpu, pid, stack, self.rng.choice(FUNCS), IrqCtx.TASK, None, -1, 0)
            elif stack:
                self.leave(cpu, pid, stack)
        # let every task finish its calls, each on a CPU of its own
        for key, stack in self.stacks.items():
            if not stack:
                continue
            if key < 0:
                cpu, pid = -key - 2, 0
            else:
                cpu, pid = self.rng.randrange(self.ncpu), key
                self.tick(force=True)
            while stack:
                self.leave(cpu, pid, stack)
        return self.t


def generate(
    seed: int,
    ncpu: int = 2,
    ntasks: int = 3,
    steps: int = 120,
    p_irq: float = 0.08,
    equal_ts: bool = True,
) -> GenTrace:
    return _Sim(random.Random(seed), ncpu, ntasks, equal_ts).run(steps, p_irq)


def to_events(gen: GenTrace, per_cpu: bool = True) -> tuple[EventTable, np.ndarray]:
    """Render as an EventTable in trace.dat order; returns (table, row of each record seq)."""
    recs = gen.records
    order = (
        sorted(range(len(recs)), key=lambda i: (recs[i]["cpu"], i))
        if per_cpu
        else list(range(len(recs)))
    )
    pool = StringPool()
    n = len(recs)
    cols = {
        "ts": np.array([recs[i]["ts"] for i in order], np.int64),
        "cpu": np.array([recs[i]["cpu"] for i in order], np.int16),
        "pid": np.array([recs[i]["pid"] for i in order], np.int32),
        "kind": np.array([recs[i]["kind"] for i in order], np.int8),
        "irqctx": np.array([recs[i]["ctx"] for i in order], np.int8),
        "depth": np.array([recs[i]["depth"] for i in order], np.int32),
    }
    kind_names = {
        EventKind.FG_ENTRY: "funcgraph_entry",
        EventKind.FG_EXIT: "funcgraph_exit",
        EventKind.SCHED_SWITCH: "sched_switch",
    }
    cols["event"] = np.array([pool.code(kind_names[recs[i]["kind"]]) for i in order], np.int32)
    cols["comm"] = np.array([pool.code(f"t{recs[i]['pid']}") for i in order], np.int32)
    cols["func"] = np.array(
        [pool.code(recs[i]["func"]) if recs[i]["func"] else -1 for i in order], np.int32
    )
    ct = np.array([recs[i].get("calltime", -1) for i in order], np.int64)
    rt = np.array([recs[i].get("rettime", -1) for i in order], np.int64)
    cols["calltime"] = ct
    cols["rettime"] = rt
    cols["duration"] = np.where(rt >= 0, rt - ct, -1)
    cols["pos"] = np.arange(n, dtype=np.int64)
    row_of_seq = np.empty(n, np.int64)
    row_of_seq[np.array(order, dtype=np.int64)] = np.arange(n)
    sw = [j for j, i in enumerate(order) if recs[i]["kind"] == EventKind.SCHED_SWITCH]
    fields = {}
    if sw:
        fields["sched_switch"] = FieldTable(
            np.array(sw, np.int64),
            {
                "prev_pid": np.array([recs[order[j]]["prev_pid"] for j in sw], np.int64),
                "next_pid": np.array([recs[order[j]]["next_pid"] for j in sw], np.int64),
                "prev_state": np.array(
                    [pool.code(recs[order[j]]["prev_state"]) for j in sw], np.int32
                ),
            },
            {"prev_state"},
        )
    meta = TraceMeta(path="<generated>", format="trace.dat", ncpus=gen.ncpu)
    ev = EventTable(cols, pool, fields=fields, lost=LostTable({}, pool), meta=meta)
    return ev, row_of_seq


def expected_offcpu(gen: GenTrace) -> dict[int, tuple[int, int]]:
    """Per true call id: (sleep, runnable) ns its task was switched out while it was open."""
    recs = gen.records
    intervals: dict[int, list[tuple[int, int, bool]]] = {}
    out_at: dict[int, tuple[int, bool]] = {}
    for r in recs:
        if r["kind"] != EventKind.SCHED_SWITCH:
            continue
        p, n = r["prev_pid"], r["next_pid"]
        if p > 0:
            out_at[p] = (r["ts"], r["prev_state"].startswith("R"))
        if n > 0 and n in out_at:
            t0, runnable = out_at.pop(n)
            intervals.setdefault(n, []).append((t0, r["ts"], runnable))
    end = max(r["ts"] for r in recs) if recs else 0
    for p, (t0, runnable) in out_at.items():
        intervals.setdefault(p, []).append((t0, end, runnable))
    res = {}
    for c in gen.calls:
        if c.pid <= 0 or c.ctx != IrqCtx.TASK:
            continue
        s = r_ = 0
        for a, b, runnable in intervals.get(c.pid, []):
            lo, hi = max(a, c.ts_entry), min(b, c.ts_exit)
            if hi > lo:
                if runnable:
                    r_ += hi - lo
                else:
                    s += hi - lo
        res[c.id] = (s, r_)
    return res


try:  # the strategy, when hypothesis is installed
    from hypothesis import strategies as st

    @st.composite
    def call_sequences(draw: st.DrawFn) -> GenTrace:  # type: ignore[misc]
        seed = draw(st.integers(0, 2**32 - 1))
        ncpu = draw(st.integers(1, 4))
        ntasks = draw(st.integers(1, 4))
        steps = draw(st.integers(0, 150))
        p_irq = draw(st.sampled_from((0.0, 0.05, 0.15)))
        equal = draw(st.booleans())
        return generate(seed, ncpu, ntasks, steps, p_irq, equal)

except ImportError:  # pragma: no cover
    pass
