"""``fgraph slowest``: each slow call as a complete function_graph-style tree.

    1000.000010   0)   2000.000 us |    A() {

Columns as in the kernel's function_graph output with the abstime option: entry time (s),
CPU, duration, then the call indented two spaces per level.  Unlike the kernel (which prints
the duration on the closing brace) the duration is on the opening line, so a tree reads top
down; ``}`` lines carry the ``/* func */`` tail.  Interrupts are marked ``==========>`` (as
the kernel marks interrupt entry), off-CPU time spent directly in a call is noted at its end.
"""

from __future__ import annotations

from typing import IO

from ..analysis.slowest import SlowCall, SlowestResult, TreeLine
from ..schema import IrqCtx
from ..units import format_ns, format_ts
from ._fmt import plural

_CTX = {IrqCtx.SOFTIRQ: "softirq", IrqCtx.HARDIRQ: "hardirq", IrqCtx.NMI: "nmi"}


def _kdur(ns: int) -> str:
    return f"{ns / 1000:10.3f} us" if ns >= 0 else f"{'?':>10}   "


def _notes(ln: TreeLine) -> str:
    notes = []
    if ln.offcpu_sleep_ns > 0:
        notes.append(f"off-cpu sleep {format_ns(ln.offcpu_sleep_ns)}")
    if ln.offcpu_runnable_ns > 0:
        notes.append(f"off-cpu runnable {format_ns(ln.offcpu_runnable_ns)}")
    if ln.flags:
        notes.append(",".join(ln.flags))
    return f"  [{'; '.join(notes)}]" if notes else ""


def _collapsed(min_ns: int, depth: int) -> str:
    """What the collapsed calls are: "under 10 us" (and "or deeper than 3 levels")."""
    deeper = f" or deeper than {plural(depth, 'level')}" if depth >= 0 else ""
    return f"under {format_ns(min_ns)}{deeper}"


def write_tree(s: SlowCall, out: IO[str], min_ns: int, depth: int = -1) -> None:
    if s.cpu_entry < 0 or s.cpu_exit in (s.cpu_entry, -1):
        cpus = f"cpu {max(s.cpu_entry, s.cpu_exit)}"
    else:
        cpus = f"cpus {s.cpu_entry}->{s.cpu_exit}"
    out.write(
        f"#{s.rank} {s.func}  {format_ns(s.duration_ns)}  pid {s.pid} {s.comm}  {cpus}"
        f"  {format_ts(s.ts_entry_ns)} -> {format_ts(s.ts_exit_ns)}\n"
    )
    extra = []
    if s.flags:
        extra.append("repairs: " + ",".join(s.flags))
    if s.irq_ns:
        extra.append(f"interrupts {format_ns(s.irq_ns)}")
    if s.offcpu_sleep_ns >= 0:
        extra.append(
            f"off-cpu sleep {format_ns(s.offcpu_sleep_ns)}, runnable {format_ns(s.offcpu_runnable_ns)}"
        )
    extra.append(f"{plural(s.tree_calls, 'call')} inside")
    if s.collapsed_calls:
        extra.append(
            f"{s.collapsed_calls} of them {_collapsed(min_ns, depth)} collapsed ({format_ns(s.collapsed_ns)})"
        )
    out.write("   " + "; ".join(extra) + "\n")
    lines = s.lines
    blank = " " * len(f"{format_ts(0):>14} {0:>3}) {_kdur(0)} ")
    stack: list[TreeLine] = []
    for i, ln in enumerate(lines):
        while stack and stack[-1].depth >= ln.depth:
            o = stack.pop()
            out.write(f"{blank}|{'  ' * (o.depth + 1)}}} /* {o.func} */\n")
        ind = "  " * (ln.depth + 1)
        if ln.call_id < 0:
            out.write(
                f"{blank}|{ind}... {plural(ln.collapsed_calls, 'call')} {_collapsed(min_ns, depth)}:"
                f" {format_ns(ln.duration_ns)}{_notes(ln)}\n"
            )
            continue
        opens = i + 1 < len(lines) and lines[i + 1].depth > ln.depth
        arrow = ""
        if ln.interrupt:
            arrow = f"==========> ({_CTX.get(IrqCtx(ln.ctx), 'interrupt') if ln.ctx in IrqCtx._value2member_map_ else 'interrupt'}) "
        body = f"{ln.func}() {{" if opens else f"{ln.func}();"
        out.write(
            f"{format_ts(ln.ts_entry_ns):>14} {ln.cpu:>3}) {_kdur(ln.duration_ns)} |{ind}{arrow}{body}{_notes(ln)}\n"
        )
        if opens:
            stack.append(ln)
    while stack:
        o = stack.pop()
        out.write(f"{blank}|{'  ' * (o.depth + 1)}}} /* {o.func} */\n")


def write_slowest(res: SlowestResult, out: IO[str]) -> None:
    flt = f" [{res.filters}]" if res.filters else ""
    out.write(
        f"The {plural(len(res.slowest), 'slowest call')} of {res.func} among {res.calls} complete calls{flt}"
        f" (calls {_collapsed(res.min_ns, res.depth)} collapsed)\n"
    )
    if res.truncated_calls:
        out.write(
            f"  ({plural(res.truncated_calls, 'truncated call')} without an exit not ranked)\n"
        )
    for s in res.slowest:
        out.write("\n")
        write_tree(s, out, res.min_ns, res.depth)
