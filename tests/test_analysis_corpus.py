"""hist / slowest / diff on the real vm61 captures: golden outputs and a trace-cmd cross-check.

The cross-check does not trust fgraph's reader or tree: it takes X's durations from
`trace-cmd report -R` (funcgraph_exit lines, rettime - calltime) and compares them with the
calls fgraph counts as complete.
"""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import GOLDEN, VM61, check_golden, corpus_file, tracecmd

from fgraph.cli import cli

pytest.importorskip("fgraph.reconstruct", reason="needs the rebuild")
pytestmark = pytest.mark.corpus

G = GOLDEN / "analysis"


def run(monkeypatch, *args: str) -> str:
    monkeypatch.chdir(VM61)  # relative names keep machine paths out of the goldens
    monkeypatch.setenv("FGRAPH_NO_PROGRESS", "1")
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


CASES = {
    "btrfs_read.hist.vfs_read": ("hist", "btrfs_read.dat", "--func", "vfs_read", "-q"),
    "btrfs_read.hist.vfs_read.compare": (
        "hist", "btrfs_read.dat", "--func", "vfs_read", "--threshold", "p90", "--compare", "fast", "-q",
    ),
    "btrfs_read.top": ("hist", "btrfs_read.dat", "--top", "5", "-q"),
    "btrfs_read.slowest.vfs_read": ("slowest", "btrfs_read.dat", "--func", "vfs_read", "-n", "2", "--min", "50us", "-q"),
    "fsync.hist.vfs_fsync_range.depth2": ("hist", "fsync.dat", "--func", "vfs_fsync_range", "--depth", "2", "-q"),
    "fsync.hist.vfs_fsync_range.all": (
        "hist", "fsync.dat", "--func", "vfs_fsync_range", "--all", "--limit", "15", "-q",
    ),
    "fsync.slowest.vfs_fsync_range": (
        "slowest", "fsync.dat", "--func", "vfs_fsync_range", "-n", "1", "--min", "2ms", "-q",
    ),
    "diff.fsync.text_vs_dat": (
        "diff", "fsync.abstime_proc_tail.txt.zst", "fsync.dat", "--func", "vfs_fsync_range", "--depth", "2", "-q",
    ),
    "diff.vfs_read.btrfs_read_vs_smp4": (
        "diff", "btrfs_read.dat", "smp4_instances.dat", "--func", "vfs_read", "--threshold", "p90", "-q",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_golden(name, as_json, monkeypatch, update_golden):
    args = CASES[name]
    for a in args:
        if a.endswith((".dat", ".zst")):
            corpus_file(f"vm61/{a}")
    out = run(monkeypatch, *args, *(["--json"] if as_json else []))
    if as_json:
        data = json.loads(out)
        if "breakdown" in data and data["breakdown"]:
            assert sum(r["share"] for r in data["breakdown"]) == pytest.approx(1.0, abs=1e-9)
            assert sum(r["total_ns"] for r in data["breakdown"]) == data["breakdown_total_ns"]
    check_golden(G / f"{name}.{'json' if as_json else 'txt'}", out, update_golden)


_EXIT = re.compile(r"funcgraph_exit:\s+func=(\S+) .*calltime=([0-9a-f]+) rettime=([0-9a-f]+)")


def tracecmd_durations(path: str, func: str) -> np.ndarray:
    out = subprocess.run(
        [tracecmd(), "report", "-R", path], capture_output=True, text=True, check=True
    ).stdout
    d = [int(m[3], 16) - int(m[2], 16) for m in _EXIT.finditer(out) if m[1] == func]
    return np.sort(np.array(d, dtype=np.int64))


@pytest.mark.tracecmd
@pytest.mark.parametrize(
    ("rel", "func", "threshold"),
    [
        ("vm61/btrfs_read.dat", "vfs_read", 1_000_000),
        ("vm61/fsync.dat", "vfs_fsync_range", 40_000_000),
        ("vm61/thresh.dat", "x64_sys_call", 1_000_000),  # exits only: entries rebuilt
        ("vm61/system.dat", "schedule", 1_000_000),  # overwrite buffer: opens mid-call
    ],
)
def test_slow_calls_match_tracecmd_report(rel, func, threshold):
    import fgraph
    from fgraph.analysis.calls import complete_mask

    path = corpus_file(rel)
    ref = tracecmd_durations(str(path), func)
    trace = fgraph.load(path)
    res = fgraph.hist(trace, func, threshold=threshold)
    ref_slow = ref[ref >= threshold]
    assert res.calls == len(ref)
    assert res.slow_calls == len(ref_slow) > 0
    assert res.slow.total_ns == int(ref_slow.sum())
    assert res.latency.max_ns == int(ref[-1])
    k = max(1, int(np.ceil(0.99 * len(ref))))
    assert res.latency.p99_ns == int(ref[k - 1])
    ct = trace.call_table
    mine = ct["duration"][(ct["func"] == ct.strings.lookup(func)) & complete_mask(ct)]
    assert np.array_equal(np.sort(mine), ref)
    assert sum(r.share for r in res.breakdown.rows) == pytest.approx(1.0, abs=1e-9)
    assert sum(r.total_ns for r in res.breakdown.rows) == res.slow.total_ns


@pytest.mark.parametrize(
    "rel",
    [
        "vm61/btrfs_read.txt",
        "vm61/btrfs_read.latency.txt",
        "vm61/btrfs_read.abstime_proc_tail.txt",
        "vm61/btrfs_read.v6.dat",
    ],
)
def test_every_format_gives_the_same_hist(rel):
    import fgraph

    ref = fgraph.hist(fgraph.load(corpus_file("vm61/btrfs_read.dat")), "vfs_read").to_dict()
    got = fgraph.hist(fgraph.load(corpus_file(rel)), "vfs_read").to_dict()
    for k in ("calls", "slow_calls", "truncated_calls"):
        assert got[k] == ref[k]
    for k in ("p50_ns", "p90_ns", "p99_ns", "max_ns"):
        assert abs(got[k] - ref[k]) <= 1000  # text prints durations to 0.1 us at most
    assert [r["name"] for r in got["breakdown"]][:3] == [r["name"] for r in ref["breakdown"]][:3]


_EXIT_D = re.compile(
    r"^\s*\S+-(\d+)\s+\[\d+\].*funcgraph_exit:\s+func=(\S+) depth=(\d+) .*calltime=([0-9a-f]+) rettime=([0-9a-f]+)",
    re.M,
)


@pytest.mark.tracecmd
@pytest.mark.parametrize(
    ("rel", "func"), [("vm61/btrfs_read.dat", "vfs_read"), ("vm61/fsync.dat", "vfs_fsync_range")]
)
def test_child_rows_match_tracecmd_report(rel, func):
    """Direct-children rows equal the exits one level below X, same task, inside X's time
    (from `trace-cmd report -R`: the kernel's depth field and calltime/rettime, no fgraph tree)."""
    import fgraph

    path = corpus_file(rel)
    out = subprocess.run(
        [tracecmd(), "report", "-R", str(path)], capture_output=True, text=True, check=True
    ).stdout
    ex = [(int(m[1]), m[2], int(m[3]), int(m[4], 16), int(m[5], 16)) for m in _EXIT_D.finditer(out)]
    by_task: dict[int, list[tuple[str, int, int, int]]] = {}
    for pid, f, d, c, r in ex:
        by_task.setdefault(pid, []).append((f, d, c, r))
    want: dict[str, int] = {}
    for pid, f, d, c, r in ex:
        if f != func:
            continue
        for g, d2, c2, r2 in by_task[pid]:
            if d2 == d + 1 and c <= c2 and r2 <= r:
                want[g] = want.get(g, 0) + (r2 - c2)
    res = fgraph.hist(fgraph.load(path), func, threshold=0)
    got = {r.name: r.total_ns for r in res.breakdown.rows if not r.name.startswith("[")}
    assert got == want
