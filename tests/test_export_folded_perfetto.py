"""Folded stacks and the Perfetto/Chrome JSON export."""

from __future__ import annotations

import io
import json
from collections import defaultdict

import numpy as np
import pytest
from _export_cases import small_trace
from click.testing import CliRunner
from conftest import corpus_file

import fgraph
from fgraph.cli import cli
from fgraph.errors import EXIT_BAD_INPUT
from fgraph.export.folded import fold
from fgraph.export.perfetto import IRQ_PID, LOST_PID, write_perfetto
from fgraph.schema import IrqCtx


def _lines(f) -> dict[str, int]:
    s = io.StringIO()
    f.write(s)
    out = {}
    for ln in s.getvalue().splitlines():
        path, w = ln.rsplit(" ", 1)
        out[path] = int(w)
    return out


def test_folded_self_weights_add_up():
    _, calls = small_trace()
    f = fold(calls)
    assert f.roots == 2 and f.traced_ns == 25_000
    assert int(f.weights_ns.sum()) == 25_000
    got = _lines(f)
    # vfs_read self (17.5 us over two roots: 17500 + 4001) and interrupt folded under its call
    assert "vfs_read;[hardirq];__sysvec_apic_timer_interrupt" in f.paths
    assert "vfs_read;a" in got and "vfs_read;c" in got
    assert sum(got.values()) == 25  # µs, cumulative rounding: no drift


def test_folded_func_min_total():
    _, calls = small_trace()
    f = fold(calls, "__sysvec_apic_timer_interrupt")
    assert f.traced_ns == 1000 and int(f.weights_ns.sum()) == 1000
    assert f.paths == ["__sysvec_apic_timer_interrupt", "__sysvec_apic_timer_interrupt;b"]
    f = fold(calls, min_ns=1200)  # b (200ns) and c (999ns) fold into their callers
    paths = [p for p in f.paths]
    assert not any(p.endswith(";b") or p.endswith(";c") for p in paths)
    assert int(f.weights_ns.sum()) == 25_000  # time conserved
    t = fold(calls, weight="total")
    w = dict(zip(t.paths, t.weights_ns.tolist()))
    assert w["vfs_read"] == 25_000 and w["vfs_read;a"] == 1500
    with pytest.raises(fgraph.FgraphError):
        fold(calls, "nope")


def _perfetto(calls, lost=None) -> dict:
    s = io.StringIO()
    write_perfetto(calls, s, lost=lost, title="t")
    return json.loads(s.getvalue())


def check_nesting(doc: dict, calls) -> tuple[int, int]:
    """(slices, calls whose enclosing slice on their track is not their caller).

    Slices are stacked per track as a viewer does (by start, longer first); each call with a
    caller must sit directly inside its caller's slice."""
    xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    tracks = defaultdict(list)
    for e in xs:
        tracks[(e["pid"], e["tid"])].append(e)
    parent = calls["parent_id"]
    bad = 0
    for evs in tracks.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"], e["args"]["call_id"]))
        stack: list[dict] = []
        for e in evs:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] < e["ts"] + e["dur"] - 1e-6:
                stack.pop()
            cid = e["args"]["call_id"]
            if parent[cid] >= 0 and not (stack and stack[-1]["args"]["call_id"] == parent[cid]):
                bad += 1
            stack.append(e)
    return len(xs), bad


def test_perfetto_tracks_and_markers():
    ev, calls = small_trace()
    doc = _perfetto(calls, ev.lost)
    evs = doc["traceEvents"]
    xs = [e for e in evs if e["ph"] == "X"]
    assert len(xs) == len(calls)
    irq = [e for e in xs if e["cat"] == "hardirq"]
    assert {e["pid"] for e in irq} == {IRQ_PID} and len(irq) == 2
    assert {e["tid"] for e in xs if e["cat"] == "task"} == {10, 20}
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in evs
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    assert names[(10, 10)] == "cat-10" and "hardirq CPU0" in names.values()
    (lost,) = [e for e in evs if e["ph"] == "i"]
    assert lost["pid"] == LOST_PID and lost["args"]["count"] == 7
    assert xs[0]["ts"] == pytest.approx(17_000_000.0) and xs[0]["dur"] == pytest.approx(20.0)
    assert check_nesting(doc, calls) == (len(calls), 0)


@pytest.mark.corpus
@pytest.mark.parametrize(
    "rel",
    [
        "vm61/btrfs_read.dat",
        "vm61/system.dat",
        "vm61/fsync.dat",
        "vm61/btrfs_read.abstime_proc_tail.txt",
    ],
)
def test_real_folded_and_perfetto(tmp_path, rel):
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    src = corpus_file(rel)
    t = fgraph.load(src)
    calls = t.call_table
    # folded: weights add up to the traced time of the kept calls (µs, rounded once)
    if rel.endswith("btrfs_read.dat"):  # (the text has the same calls)
        r = CliRunner().invoke(
            cli,
            [
                "export",
                str(src),
                "--to",
                "folded",
                "--func",
                "vfs_read",
                "-o",
                str(tmp_path / "f.txt"),
            ],
        )
        assert r.exit_code == 0, r.output
        total = sum(
            int(ln.rsplit(" ", 1)[1]) for ln in (tmp_path / "f.txt").read_text().splitlines()
        )
        f = fold(calls, "vfs_read")
        code = calls.strings.lookup("vfs_read")
        x = calls["func"] == code
        assert f.traced_ns == int(
            np.clip(calls["duration"][x], 0, None).sum()
        )  # no nested vfs_read here
        assert abs(total - f.traced_ns / 1000) <= 1
        assert all(p.startswith("vfs_read") for p in f.paths)
    # the weights of the whole trace add up too: traced time of the roots, plus the negative
    # self times (children longer than their parent in the kernel's durations) shown as 0
    f = fold(calls)
    if not (calls["self"] == -1).any():
        assert int(f.weights_ns.sum()) == f.traced_ns + f.clipped_ns
    # perfetto: valid JSON, one slice per timed call, nests like the call table
    r = CliRunner().invoke(
        cli, ["export", str(src), "--to", "perfetto", "-o", str(tmp_path / "p.json")]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "p.json").read_text())
    n, bad = check_nesting(doc, calls)
    assert n == int((calls["ts_entry"] >= 0).sum())
    assert bad == 0
    assert any(e.get("cat") in ("hardirq", "softirq") for e in doc["traceEvents"] if e["ph"] == "X")
    assert int((calls["ctx"] > IrqCtx.TASK).sum()) > 0


def test_outermost_is_the_level_walk() -> None:
    """tree.outermost (shared by folded, trim and perfetto; a C pass, or pointer jumping) gives
    the roots and kept rows of the level-by-level walks the three exports had: a candidate
    with no candidate above it, and every row at or under a candidate."""
    from fgraph.analysis.tree import outermost

    rng = np.random.default_rng(5)
    for n in (0, 1, 40, 3000):
        fp = np.array(
            [-1 if i == 0 or rng.random() < 0.05 else rng.integers(0, i) for i in range(n)],
            np.int64,
        )
        cand = rng.random(n) < 0.1
        inside = np.zeros(n, bool)  # some ancestor is a candidate (parents come first)
        for i in range(n):
            if fp[i] >= 0:
                inside[i] = inside[fp[i]] | cand[fp[i]]
        roots, kept = outermost(fp, cand)  # (parents first: the C pass)
        assert roots.tolist() == (cand & ~inside).tolist()
        assert kept.tolist() == (cand | inside).tolist()
        # the same forest with its rows shuffled, some parents after their children: the
        # pointer-jumping walk
        perm = rng.permutation(n)  # new row of each old row
        fp2 = np.full(n, -1, np.int64)
        fp2[perm] = np.where(fp >= 0, perm[np.clip(fp, 0, None)], -1)
        cand2 = np.zeros(n, bool)
        cand2[perm] = cand
        roots2, kept2 = outermost(fp2, cand2)
        assert roots2[perm].tolist() == roots.tolist()
        assert kept2[perm].tolist() == kept.tolist()


def test_perfetto_func_keeps_the_subtrees(tmp_path) -> None:
    """export --to perfetto --func X: the slices of X's subtrees only (the interrupts inside
    them too), drawn as in the whole export; a name the trace lacks is a usage error, and no
    output file is made."""
    src = corpus_file("vm61/fsync.dat")
    calls = fgraph.load(src).call_table
    out = tmp_path / "p.json"
    args = ["export", str(src), "--to", "perfetto", "-o", str(out)]
    r = CliRunner().invoke(cli, [*args, "--func", "vfs_fsync_range"])
    assert r.exit_code == 0, r.output
    part = [e for e in json.loads(out.read_text())["traceEvents"] if e["ph"] == "X"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    whole = {
        e["args"]["call_id"]: e
        for e in json.loads(out.read_text())["traceEvents"]
        if e["ph"] == "X"
    }
    ids = np.array([e["args"]["call_id"] for e in part])
    x = calls.strings.lookup("vfs_fsync_range")
    # every call under a vfs_fsync_range, and nothing else
    under = np.zeros(len(calls), bool)
    under[calls["func"] == x] = True
    fp = calls["parent_id"].astype(np.int64)
    irq = (fp < 0) & (calls["interrupted_id"] >= 0) & (calls["ctx"] > IrqCtx.TASK)
    fp = np.where(irq, calls["interrupted_id"], fp)
    for i in range(len(calls)):  # (parents come first)
        if fp[i] >= 0 and under[fp[i]]:
            under[i] = True
    want = np.flatnonzero(under & (calls["ts_entry"] >= 0))
    assert sorted(ids.tolist()) == want.tolist() and len(ids) < len(whole)
    assert any(e["cat"] == "hardirq" for e in part)
    assert all(e == whole[e["args"]["call_id"]] for e in part)
    out.unlink()
    r = CliRunner().invoke(cli, [*args, "--func", "vfs_fsync_rang"])
    assert r.exit_code == EXIT_BAD_INPUT and "did you mean vfs_fsync_range" in r.output
    assert not out.exists()


def test_levels_by_pointer_jumping_are_the_levels() -> None:
    """tree.levels: hops to the root by pointer jumping (parents before children, as in a
    rebuilt table) equal the level-by-level walk it replaced, and a parent after its child
    still gets that walk."""
    from fgraph.analysis.tree import levels

    def walk(fp: np.ndarray) -> np.ndarray:
        lvl = np.zeros(len(fp), np.int64)
        for i in range(len(fp)):
            lvl[i] = 0 if fp[i] < 0 else lvl[fp[i]] + 1
        return lvl

    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 50, 3000):
        fp = np.array(
            [-1 if i == 0 or rng.random() < 0.05 else rng.integers(0, i) for i in range(n)],
            np.int64,
        )
        assert levels(fp).tolist() == walk(fp).tolist()
    late = np.array([-1, 2, 0], np.int64)  # call 1's parent comes after it
    assert levels(late).tolist() == [0, 2, 1]


def test_frame_names_per_function_and_context() -> None:
    """The frame names made per (function, context) pair are the names made per call: the
    function, ``[unknown]`` for none, and the context in front of an interrupt root that is
    not an output root."""
    from fgraph.export.folded import _CTX_FRAME, _frame_names

    _, calls = small_trace()
    calls = calls.take(np.arange(len(calls)))
    calls["func"][0] = -1
    root = np.zeros(len(calls), bool)
    uniq, code = _frame_names(calls, root)
    names = calls.strings.decode(calls["func"]).astype(object)
    names[names == None] = "[unknown]"  # noqa: E711
    irq = (calls["parent_id"] < 0) & (calls["ctx"] > IrqCtx.TASK)
    for ctx, label in _CTX_FRAME.items():
        m = irq & (calls["ctx"] == ctx)
        names[m] = [f"{label};{s}" for s in names[m]]
    assert uniq == sorted(set(names.tolist()))
    assert [uniq[c] for c in code.tolist()] == names.tolist()


def test_perfetto_json_written_in_batches_is_the_same(monkeypatch) -> None:
    """The slices turned into JSON a batch at a time (7 rows here) give the file made in one
    piece: the same bytes, still one JSON document."""
    from fgraph.export import perfetto

    calls = fgraph.load(str(corpus_file("vm61/lost.dat"))).call_table
    whole = io.StringIO()
    monkeypatch.setattr(perfetto, "JSON_BATCH", 1 << 40)
    perfetto.write_perfetto(calls, whole, title="t")
    monkeypatch.setattr(perfetto, "JSON_BATCH", 7)
    batched = io.StringIO()
    perfetto.write_perfetto(calls, batched, title="t")
    assert batched.getvalue() == whole.getvalue()
    assert len(json.loads(whole.getvalue())["traceEvents"]) > len(calls)


@pytest.mark.parametrize(
    "rel,func",
    [("vm61/fsync.dat", None), ("vm61/system.dat", None), ("vm61/btrfs_read.txt", "vfs_read")],
)
def test_folding_reads_only_its_columns(rel, func):
    """``export --to folded`` builds only :data:`fgraph.export.folded.COLUMNS`: the same
    folded stacks, self or total weights, as from the whole call table."""
    import io

    from fgraph.export.folded import COLUMNS, fold
    from fgraph.pipeline import load, load_windowed

    path = corpus_file(rel)
    whole = load(path).call_table
    part = load_windowed(path, columns=COLUMNS).call_table
    assert set(part.columns) == set(COLUMNS)
    for weight in ("self", "total"):
        a, b = io.StringIO(), io.StringIO()
        fold(whole, func, weight=weight).write(a)
        fold(part, func, weight=weight).write(b)
        assert a.getvalue() == b.getvalue() and len(a.getvalue()) > 100


@pytest.mark.parametrize(
    "rel,func", [("vm61/system.dat", None), ("vm61/btrfs_read.dat", "vfs_read")]
)
def test_perfetto_reads_only_its_columns(rel, func):
    """``export --to perfetto`` builds only :data:`fgraph.export.perfetto.COLUMNS`: the same
    JSON as from the whole call table."""
    from fgraph.export.perfetto import COLUMNS, subtrees, write_perfetto
    from fgraph.pipeline import load, load_windowed

    path = corpus_file(rel)
    out = []
    for trace in (load(path), load_windowed(path, columns=COLUMNS)):
        calls = trace.call_table
        keep = subtrees(calls, func) if func else None
        buf = io.StringIO()
        write_perfetto(calls, buf, lost=trace.event_table.lost, title="t", keep=keep)
        out.append(buf.getvalue())
    assert out[0] == out[1] and len(out[0]) > 1000
