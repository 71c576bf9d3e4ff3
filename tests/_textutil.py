"""Helpers of the text readers' tests: golden dumps, per-CPU comparison of event tables."""

from __future__ import annotations

from typing import Any

import numpy as np

from fgraph.parsers import _textscan
from fgraph.table import EventTable, StringPool

ALIASES: set[tuple[str, str]] = set()  # symbol aliases seen by assert_same_graph (for reports)

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
        out.append(
            "# lost "
            + " ".join(f"{c}={int(lost[c][i])}" for c in ("cpu", "row", "ts", "count", "pos"))
        )
    out.append(",".join(DUMP_COLS))
    n = len(et) if nrows is None else min(nrows, len(et))
    strcols = {"comm", "event", "func", "module"}
    cells: dict[str, list[str]] = {}
    for c in DUMP_COLS:
        arr = et[c][:n]
        if c in strcols:
            cells[c] = ["" if x < 0 else str(et.strings[int(x)]) for x in arr]
        else:
            cells[c] = [str(int(x)) for x in np.asarray(arr)]
    for i in range(n):
        out.append(",".join(cells[c][i] for c in DUMP_COLS))
    return "\n".join(out) + "\n"


def _none(a: np.ndarray) -> np.ndarray:
    return np.array([v is None for v in a], dtype=bool)


def per_cpu_graph(et: EventTable) -> dict[int, dict[str, np.ndarray]]:
    """Each CPU's funcgraph rows in input order (that order is the ring buffer's per CPU)."""
    k = et["kind"]
    fg = (k == 1) | (k == 2)
    if "buf" in et.columns:
        fg &= et["buf"] == 0
    out = {}
    for c in np.unique(et["cpu"][fg]):
        sel = fg & (et["cpu"] == c)
        out[int(c)] = {
            "kind": et["kind"][sel],
            "func": et.strings.decode(et["func"][sel]),
            "module": et.strings.decode(et["module"][sel]),
            "depth": et["depth"][sel],
            "duration": et["duration"][sel],
            "ts": et["ts"][sel],
            "pid": et["pid"][sel],
            "eflags": et["eflags"][sel],
            "irqctx": et["irqctx"][sel],
        }
    return out


def duration_matches(printed: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """``printed`` (7 significant digits, truncated, in ns) agrees with a finer ``exact`` value."""
    res = np.ones_like(printed)
    res[printed >= 10_000_000] = 10  # ≥ 10 ms: "12345.67"
    res[printed >= 100_000_000] = 100
    res[printed >= 1_000_000_000] = 1000
    return (exact >= printed) & (exact < printed + res) | (printed == exact)


def assert_same_graph(
    text: EventTable,
    ref: EventTable,
    *,
    pid: bool = True,
    ts_tol: int | None = 1000,
    dur: str = "truncated",
    func_unknown_ok: bool = False,
    module: bool = True,
) -> None:
    """Per CPU, the same funcgraph records: kind, function, depth, duration, pid, ts.

    ``dur``: "truncated" when ``text`` prints at most 7 significant digits and ``ref`` is finer
    (trace.dat, or trace-cmd report's 3 decimals), "equal" when both print the same way,
    "close" when both are rounded/truncated differently (a few ns apart).
    ``ts_tol``: max |ts difference| in ns (µs text: truncated vs rounded), None = don't compare.
    ``module``: compare modules (trace-cmd report prints none: ``f [mod]()`` only in kernel text).
    """
    a, b = per_cpu_graph(text), per_cpu_graph(ref)
    assert sorted(a) == sorted(b), "different CPUs"
    for c in a:
        x, y = a[c], b[c]
        assert len(x["kind"]) == len(y["kind"]), (
            f"cpu {c}: {len(x['kind'])} vs {len(y['kind'])} records"
        )
        assert np.array_equal(x["kind"], y["kind"]), f"cpu {c}: entry/exit sequence differs"
        unknown = func_unknown_ok & (_none(x["func"]) | _none(y["func"]))
        ok = (x["func"] == y["func"]) | unknown
        # kallsyms aliases: two symbols at one address (io_schedule_timeout and the section
        # marker __sched_text_start, __do_sys_rt_sigreturn and __x64_sys_rt_sigreturn); the
        # kernel's %ps and trace-cmd's symbol lookup may pick different ones.  Allowed as long
        # as each name always maps to the same alias, for a handful of names.
        bad = np.flatnonzero(~ok)
        pairs = set(zip(x["func"][bad].tolist(), y["func"][bad].tolist()))
        firsts = [p[0] for p in pairs]
        assert len(pairs) <= 8 and len(firsts) == len(set(firsts)) and None not in firsts, (
            f"cpu {c}: functions differ at {bad[:5]}: {x['func'][bad[:5]]} vs {y['func'][bad[:5]]}"
        )
        ALIASES.update(pairs)
        okm = (x["module"] == y["module"]) | unknown
        assert okm.all() or not module, f"cpu {c}: modules differ"
        assert np.array_equal(x["depth"], y["depth"]), f"cpu {c}: depths differ"
        d = (x["kind"] == 2) & (x["duration"] >= 0)
        assert np.array_equal(d, (y["kind"] == 2) & (y["duration"] >= 0)) or dur == "missing"
        if dur == "truncated":
            ok = duration_matches(x["duration"][d], y["duration"][d])
        elif dur == "equal":
            ok = x["duration"][d] == y["duration"][d]
        else:
            ok = np.abs(x["duration"][d] - y["duration"][d]) <= 1000
        assert ok.all(), (
            f"cpu {c}: durations differ: {x['duration'][d][~ok][:5]} vs {y['duration'][d][~ok][:5]}"
        )
        if pid:
            # a CPU without any banner (and no proc column) has no pid in the text: -1
            known = x["pid"] >= 0
            bad = np.flatnonzero(known & (x["pid"] != y["pid"]))
            assert len(bad) == 0, (
                f"cpu {c}: pids differ at {bad[:5]}: {x['pid'][bad[:5]]} vs {y['pid'][bad[:5]]}"
            )
        if ts_tol is not None:
            t = (x["ts"] >= 0) & (y["ts"] >= 0)
            assert t.any()
            derived = ((x["eflags"] | y["eflags"]) & 0x08) != 0
            diff = np.abs(x["ts"] - y["ts"])
            # a derived exit time (entry ts + printed duration) adds the duration's truncation,
            # and the duration is rettime - calltime, not the distance of the two records'
            # timestamps (both clocks are read a little before the records are written, so on
            # this emulated machine 2-3% of leaves are a few µs off, and an interrupt in between
            # moves a record by more)
            lim = np.where(derived, ts_tol + 1000, ts_tol)
            off = t & (diff > lim)
            assert (off & derived).sum() <= max(5, derived.sum() // 20), (
                f"cpu {c}: derived ts differ"
            )
            bad = np.flatnonzero(off & ~derived)
            assert len(bad) == 0, (
                f"cpu {c}: ts differ at {bad[:5]}: {x['ts'][bad[:5]]} vs {y['ts'][bad[:5]]}"
            )


def assert_same_fields(fast: EventTable, slow: EventTable) -> None:
    """The per-event field tables of two reads are the same (strings compared decoded: the
    two reads may number their strings differently)."""
    for name in slow.fields:
        for col, v in slow.fields[name].columns.items():
            w = fast.fields[name].columns[col]
            if col in slow.fields[name].string_cols:
                assert list(slow.strings.decode(v)) == list(fast.strings.decode(w))
            else:
                assert np.array_equal(v, w)


def line_starts(data: bytes) -> np.ndarray:
    """Where each line of ``data`` starts (what the readers hand the C scanner)."""
    return np.array([0] + [i + 1 for i, b in enumerate(data[:-1]) if b == 10], dtype=np.int64)


def scan_text(lines: list[str], report: bool = False) -> tuple[bytes, StringPool, dict[str, Any]]:
    """The C scanner's columns for ``lines`` (kernel text, or ``report`` lines), as the
    readers call it: (the bytes scanned, the pool its codes name, the columns)."""
    data = ("\n".join(lines) + "\n").encode()
    pool = StringPool()
    return data, pool, _textscan.scan_lines(data, line_starts(data), pool, report=report)
