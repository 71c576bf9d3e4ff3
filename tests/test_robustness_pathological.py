"""Pathological but valid traces (issue 8): correct results, no recursion limit, linear time.

Event tables are built directly as numpy columns (no parser involved), as a trace.dat reader
would give them: funcgraph_entry/funcgraph_exit records with ts, cpu, pid, comm, func, depth.
Linearity is checked by comparing a 1x and a 4x size of the same shape, loosely (a quadratic
stage would be 16x; the bound is 8x), with the best of a few runs, never absolute times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

rec = pytest.importorskip("fgraph.reconstruct")

from fgraph.schema import CallFlag, EventKind  # noqa: E402
from fgraph.table import CallTable, EventTable, StringPool, TraceMeta  # noqa: E402

ENTRY, EXIT = int(EventKind.FG_ENTRY), int(EventKind.FG_EXIT)


def events(
    kind: np.ndarray,
    func: list[str] | np.ndarray,
    ts: np.ndarray,
    *,
    pid: np.ndarray | int = 100,
    cpu: np.ndarray | int = 0,
    comm: list[str] | np.ndarray | str = "task",
    depth: np.ndarray | None = None,
    ncpus: int = 1,
    func_names: list[str] | None = None,
) -> EventTable:
    """A funcgraph event table from columns.  ``func`` holds names, or int codes: code c is
    ``func_names[c - 2]`` (the pool starts with the two event names)."""
    n = len(kind)
    pool = StringPool(["funcgraph_entry", "funcgraph_exit", *(func_names or [])])
    if isinstance(func, np.ndarray) and func.dtype.kind in "iu":
        fcodes = func.astype(np.int32)
    else:
        fcodes = pool.codes(func)
    if isinstance(comm, str):
        ccodes = np.full(n, pool.code(comm), np.int32)
    else:
        ccodes = pool.codes(comm)
    kind = np.asarray(kind, np.int8)
    if depth is None:
        step = np.where(kind == ENTRY, 1, -1)
        depth = np.cumsum(step) - (kind == ENTRY)  # per whole table: fine for one task
    cols = {
        "ts": np.asarray(ts, np.int64),
        "cpu": np.broadcast_to(np.asarray(cpu, np.int16), (n,)).copy(),
        "pid": np.broadcast_to(np.asarray(pid, np.int32), (n,)).copy(),
        "comm": ccodes,
        "event": np.where(kind == ENTRY, 0, 1).astype(np.int32),
        "kind": kind,
        "flags": np.zeros(n, np.int16),
        "preempt": np.zeros(n, np.int16),
        "irqctx": np.zeros(n, np.int8),
        "func": fcodes,
        "depth": np.asarray(depth, np.int32),
        "pos": np.arange(n, dtype=np.int64),
    }
    meta = TraceMeta(path="<synthetic>", format="trace.dat", ncpus=ncpus)
    t = EventTable(cols, pool, meta=meta)
    t.validate()
    return t


def rebuild(t: EventTable) -> tuple[CallTable, object]:
    calls, q = rec.rebuild(t)
    calls.validate()
    assert q.events_unaccounted == 0  # type: ignore[attr-defined]
    return calls, q


def names(calls: CallTable, col: str = "func") -> list[str | None]:
    return list(calls.strings.decode(calls[col]))


def nested(depth: int, funcs: list[str] | None = None, t0: int = 1000) -> EventTable:
    """One task: f0 { f1 { … f(depth-1) { } … } }, 1 ns between records."""
    funcs = funcs or [f"f{i}" for i in range(depth)]
    kind = np.concatenate([np.full(depth, ENTRY), np.full(depth, EXIT)])
    fn = funcs + funcs[::-1]
    return events(kind, fn, t0 + np.arange(2 * depth))


# --- stacks thousands deep ------------------------------------------------------------------


@pytest.mark.parametrize("same_name", [False, True], ids=["distinct", "recursion"])
def test_stack_thousands_deep(same_name: bool) -> None:
    d = 20_000
    t = nested(d, ["recurse"] * d if same_name else None)
    calls, q = rebuild(t)
    assert len(calls) == d
    assert calls["depth"].max() == d - 1
    assert np.array_equal(calls["parent_id"], np.arange(-1, d - 1))
    assert np.array_equal(calls["root_id"], np.zeros(d))
    # f_i entered at 1000+i, left at 1000+2d-1-i
    assert np.array_equal(calls["duration"], 2 * d - 1 - 2 * np.arange(d))
    assert np.array_equal(calls["self"], np.full(d, 2) - (np.arange(d) == d - 1))
    assert (calls["flags"] & int(CallFlag.TRUNCATED | CallFlag.SYNTH_ENTRY) == 0).all()
    assert q.unclosed_entries == 0 and q.orphan_exits == 0  # type: ignore[attr-defined]


def _deep_text(depth: int) -> str:
    """Kernel function_graph text of one task `depth` calls deep (CPU + duration columns)."""
    out = [
        "# tracer: function_graph\n#\n# CPU  DURATION                  FUNCTION CALLS\n",
        "# |     |   |                     |   |   |   |\n",
    ]
    for i in range(depth):
        out.append(f" 0)               |  {'  ' * i}f{i}() {{\n")
    out.append(f" 0)   0.100 us    |  {'  ' * depth}leaf();\n")
    for i in reversed(range(depth)):
        dur = (depth - i) * 0.2 + 0.1
        out.append(f" 0)   {dur:7.3f} us |  {'  ' * i}}}\n")
    return "".join(out)


def test_deep_text_trace_through_every_command(tmp_path: Path) -> None:
    """1,200 nested calls (deeper than Python's recursion limit) through the parser, the rebuild,
    the analyses and the renderers/exporters, via the CLI."""
    pytest.importorskip("fgraph.parsers.ftrace_text")
    depth = 1200
    p = tmp_path / "deep.txt"
    p.write_text(_deep_text(depth))
    from fgraph.pipeline import load

    tr = load(p)
    calls = tr.call_table
    assert len(calls) == depth + 1
    assert calls["depth"].max() == depth
    assert tr.quality.events_unaccounted == 0
    runs = [
        ["calls", str(p), "--format", "csv", "-o", str(tmp_path / "c.csv")],
        ["hist", str(p), "--func", "f0"],
        ["slowest", str(p), "--func", "f0"],
        ["export", str(p), "--to", "folded", "-o", str(tmp_path / "f.folded")],
        ["export", str(p), "--to", "perfetto", "-o", str(tmp_path / "p.json")],
        ["trim", str(p), "--func", "f0", "-o", str(tmp_path / "trim.txt")],
    ]
    from click.testing import CliRunner

    from fgraph.cli import cli

    failures = []
    for args in runs:
        r = CliRunner().invoke(cli, args)
        if r.exit_code == 2 and "No such" in r.output:
            continue  # a command or an option not built yet
        if r.exit_code != 0 or r.exception is not None and not isinstance(r.exception, SystemExit):
            failures.append(
                f"fgraph {args[0]}: exit {r.exit_code}: {r.exception!r} {r.output[-600:]}"
            )
    assert not failures, "\n".join(failures)


# --- millions of unclosed entries --------------------------------------------------------------


def test_a_million_unclosed_entries_one_deep_stack() -> None:
    n = 1_000_000
    pool_funcs = np.arange(n) % 50 + 2  # codes of f0..f49 after the two event names
    t = events(
        np.full(n, ENTRY),
        pool_funcs,
        np.arange(n),
        depth=np.arange(n),
        func_names=[f"f{i}" for i in range(50)],
    )
    calls, q = rebuild(t)
    assert len(calls) == n
    assert ((calls["flags"] & int(CallFlag.TRUNCATED)) != 0).all()
    assert q.unclosed_entries == n  # type: ignore[attr-defined]
    assert calls["depth"].max() == n - 1


def test_a_million_unclosed_entries_many_tasks() -> None:
    n = 1_000_000
    pid = np.arange(n) % 200_000 + 1  # 200k tasks, 5 open entries each
    t = events(np.full(n, ENTRY), ["f"] * n, np.arange(n), pid=pid, depth=np.arange(n) // 200_000)
    calls, q = rebuild(t)
    assert len(calls) == n
    assert q.unclosed_entries == n  # type: ignore[attr-defined]
    assert calls["depth"].max() == 4
    assert q.tasks >= 200_000  # type: ignore[attr-defined]


# --- one task with all events -------------------------------------------------------------------


def _balanced(ncalls: int, seed: int = 1) -> EventTable:
    """One task, one CPU: ncalls calls in random well-nested trees up to 30 deep."""
    rng = np.random.default_rng(seed)
    kinds = np.empty(2 * ncalls, np.int8)
    funcs = np.empty(2 * ncalls, np.int32)
    stack: list[int] = []
    opened = 0
    fn = rng.integers(0, 40, 2 * ncalls)
    coin = rng.random(2 * ncalls)
    for i in range(2 * ncalls):  # test-data generation, not fgraph code
        if opened < ncalls and (not stack or (len(stack) < 30 and coin[i] < 0.55)):
            stack.append(int(fn[i]))
            kinds[i], funcs[i] = ENTRY, fn[i]
            opened += 1
        else:
            kinds[i], funcs[i] = EXIT, stack.pop()
    return events(
        kinds, funcs + 2, np.arange(2 * ncalls) * 10, func_names=[f"f{i}" for i in range(40)]
    )


def test_one_task_with_all_events() -> None:
    n = 300_000
    calls, q = rebuild(_balanced(n))
    assert len(calls) == n
    assert (
        calls["flags"] & int(CallFlag.TRUNCATED | CallFlag.SYNTH_ENTRY | CallFlag.CLOSED_BY_OUTER)
        == 0
    ).all()
    assert (calls["duration"] > 0).all()
    assert (calls["self"] >= 0).all()
    assert q.tasks == 1  # type: ignore[attr-defined]


# --- pid reuse, zero-length calls, equal timestamps --------------------------------------------


def test_pid_reused_by_a_new_task_keeps_comms_apart() -> None:
    """Task 'old' (pid 100) dies inside do_exit (which never returns); a new task 'new' gets pid
    100 and runs vfs_read { f }.  The new task's calls carry its comm and are not children of the
    dead task's open do_exit."""
    kind = [ENTRY, ENTRY, EXIT, ENTRY, ENTRY, EXIT, EXIT]
    func = ["do_exit", "exit_mm", "exit_mm", "vfs_read", "f", "f", "vfs_read"]
    comm = ["old", "old", "old", "new", "new", "new", "new"]
    t = events(
        np.array(kind),
        func,
        np.array([10, 11, 12, 1000, 1001, 1002, 1003]),
        comm=comm,
        depth=np.array([0, 1, 1, 0, 1, 1, 0]),
    )
    calls, q = rebuild(t)
    got = {(f, c) for f, c in zip(names(calls), names(calls, "comm"))}
    assert got == {("do_exit", "old"), ("exit_mm", "old"), ("vfs_read", "new"), ("f", "new")}
    fn = names(calls)
    vfs = fn.index("vfs_read")
    assert calls["parent_id"][vfs] == -1, "vfs_read of the new task became a child of do_exit"
    assert calls["duration"][vfs] == 3


def test_pid_reused_after_a_zombie_switch_out() -> None:
    """trace.dat case (one comm per pid from cmdlines): the dying task's last sched_switch has
    prev_state Z; records of the pid after it belong to a new task with a fresh stack."""
    from fgraph.table import FieldTable

    fg = "funcgraph"
    rows = [
        dict(
            ts=10,
            cpu=0,
            pid=100,
            comm="x",
            event=fg + "_entry",
            kind=EventKind.FG_ENTRY,
            func="do_exit",
            depth=0,
        ),
        dict(ts=20, cpu=0, pid=100, comm="x", event="sched_switch", kind=EventKind.SCHED_SWITCH),
        dict(
            ts=1000,
            cpu=0,
            pid=100,
            comm="x",
            event=fg + "_entry",
            kind=EventKind.FG_ENTRY,
            func="vfs_read",
            depth=0,
        ),
        dict(
            ts=1003,
            cpu=0,
            pid=100,
            comm="x",
            event=fg + "_exit",
            kind=EventKind.FG_EXIT,
            func="vfs_read",
            depth=0,
            duration=3,
        ),
    ]
    t = EventTable.from_rows(rows)
    t.meta.format, t.meta.ncpus = "trace.dat", 1
    pool = t.strings
    t.fields["sched_switch"] = FieldTable(
        np.array([1]),
        {
            "prev_pid": np.array([100]),
            "prev_state": np.array([pool.code("Z")], dtype=np.int32),
            "next_pid": np.array([0]),
        },
        {"prev_state"},
    )
    calls, q = rebuild(t)
    fn = names(calls)
    vfs = fn.index("vfs_read")
    assert calls["parent_id"][vfs] == -1, "vfs_read of the new task became a child of do_exit"
    assert calls["flags"][fn.index("do_exit")] & CallFlag.TRUNCATED
    assert q.to_dict()["events_unaccounted"] == 0


def test_pid_reused_after_clean_exit() -> None:
    kind = [ENTRY, EXIT, ENTRY, EXIT]
    t = events(
        np.array(kind),
        ["a", "a", "a", "a"],
        np.array([1, 5, 100, 107]),
        comm=["old", "old", "new", "new"],
        depth=np.zeros(4),
    )
    calls, _ = rebuild(t)
    assert names(calls, "comm") == ["old", "new"]
    assert calls["duration"].tolist() == [4, 7]


def test_zero_length_calls() -> None:
    # a { b { } c { } } with every record at the same ns as the previous or one later
    kind = np.array([ENTRY, ENTRY, EXIT, ENTRY, EXIT, EXIT])
    t = events(
        kind,
        ["a", "b", "b", "c", "c", "a"],
        np.array([5, 5, 5, 6, 6, 6]),
        depth=np.array([0, 1, 1, 1, 1, 0]),
    )
    calls, q = rebuild(t)
    assert names(calls) == ["a", "b", "c"]
    assert calls["duration"].tolist() == [1, 0, 0]
    assert calls["self"].tolist() == [1, 0, 0]
    assert calls["parent_id"].tolist() == [-1, 0, 0]


def test_equal_timestamps_everywhere() -> None:
    """Every record at the same ns, two tasks on two CPUs, in trace.dat order (CPU after CPU):
    nesting comes from the record order, per task."""
    k0 = [ENTRY, ENTRY, EXIT, ENTRY, EXIT, EXIT]
    f0 = ["a", "b", "b", "c", "c", "a"]
    kind = np.array(k0 + k0)
    t = events(
        kind,
        f0 + ["x", "y", "y", "z", "z", "x"],
        np.full(12, 777),
        pid=np.array([1] * 6 + [2] * 6),
        cpu=np.array([0] * 6 + [1] * 6),
        depth=np.array([0, 1, 1, 1, 1, 0] * 2),
        ncpus=2,
    )
    calls, q = rebuild(t)
    by = {
        (int(p), f): (int(par), int(d))
        for p, f, par, d in zip(calls["pid"], names(calls), calls["parent_id"], calls["duration"])
    }
    fn = names(calls)
    assert by[(1, "a")] == (-1, 0) and by[(2, "x")] == (-1, 0)
    assert fn[by[(1, "b")][0]] == "a" and fn[by[(1, "c")][0]] == "a"
    assert fn[by[(2, "y")][0]] == "x" and fn[by[(2, "z")][0]] == "x"
    assert (calls["flags"] & int(CallFlag.TRUNCATED | CallFlag.SYNTH_ENTRY) == 0).all()


# --- linear time ---------------------------------------------------------------------------------


def _best(fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _ratio(make: Callable[[int], EventTable], n: int) -> float:
    small, big = make(n), make(4 * n)
    rec.rebuild(small)  # warm-up (imports, first allocation)
    return _best(lambda: rec.rebuild(big)) / max(_best(lambda: rec.rebuild(small)), 1e-4)


def _orphans_under_deep_stack(n: int) -> EventTable:
    """n open entries of 'a', then n exits of functions that are not on the stack: a machine
    that searches the whole stack for each exit's function is quadratic here."""
    kind = np.concatenate([np.full(n, ENTRY), np.full(n, EXIT)])
    func = np.concatenate([np.full(n, 2), 3 + np.arange(n) % 1000])
    return events(
        kind,
        func,
        np.arange(2 * n),
        depth=np.concatenate([np.arange(n), np.full(n, n)]),
        func_names=["a"] + [f"g{i}" for i in range(1000)],
    )


def _close_by_outer(n: int) -> EventTable:
    """Repeatedly: 50 nested entries, then the exit of the outermost (frames above it closed)."""
    reps = n // 51
    kind = np.tile(np.concatenate([np.full(50, ENTRY), [EXIT]]), reps)
    func = np.tile(np.concatenate([2 + np.arange(50), [2]]), reps)
    return events(
        kind,
        func,
        np.arange(len(kind)),
        depth=np.tile(np.concatenate([np.arange(50), [0]]), reps),
        func_names=[f"f{i}" for i in range(50)],
    )


# Linear shapes measure ~5x for 4x the events at these sizes (allocation and cache effects on
# top of 4x); a quadratic stage measures 16x or more.
BOUND = 10.0


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda n: nested(n // 2), id="deep-stack"),
        pytest.param(_balanced, id="one-task"),
        pytest.param(_close_by_outer, id="closed-by-outer"),
    ],
)
def test_rebuild_time_grows_linearly(shape: Callable[[int], EventTable]) -> None:
    r = _ratio(shape, 100_000)
    assert r < BOUND, f"4x the events took {r:.1f}x the time (linear: ~4-5x, quadratic: 16x)"


def test_rebuild_time_grows_linearly_with_orphan_exits_under_a_deep_stack() -> None:
    """Found quadratic by this test (each exit searched the whole stack); fixed in e5d6d93."""
    r = _ratio(_orphans_under_deep_stack, 5_000)
    assert r < BOUND, f"4x the events took {r:.1f}x the time (linear: ~4-5x, quadratic: 16x)"
