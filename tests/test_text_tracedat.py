"""The text readers and the trace.dat reader agree on the same ring buffer (vm61 corpus).

For every vm61 text file and the .dat of the same buffer: per CPU, the same sequence of
function entries and exits (a text leaf gives both), the same functions, depths, durations
(to the printed precision: 7 significant digits, truncated), and pids and timestamps where
the text has them.  `trace-cmd report` of the .dat is compared the same way, and the other
events (sched_switch, …) have the same counts and fields.
"""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest
from _textutil import assert_same_graph
from conftest import VM61, corpus_file, tracecmd

from fgraph.parsers import parse
from fgraph.parsers.report_text import parse_report_text
from fgraph.source import Source, open_source
from fgraph.table import EventTable

pytest.importorskip("fgraph.parsers.tracedat")

PAIRS = [
    ("btrfs_read.txt", "btrfs_read.dat"),
    ("btrfs_read.abstime_proc_tail.txt", "btrfs_read.dat"),
    ("btrfs_read.latency.txt", "btrfs_read.dat"),
    ("fsync.txt.zst", "fsync.dat"),
    ("fsync.abstime_proc_tail.txt.zst", "fsync.dat"),
    ("fsync.latency.txt.zst", "fsync.dat"),
    ("system.txt.zst", "system.dat"),
    ("thresh.txt", "thresh.dat"),
    ("smp4.txt.zst", "smp4_instances.dat"),
    ("smp4.abstime_proc.txt.zst", "smp4_instances.dat"),
    ("variants/default.txt.zst", "variants/variants.dat"),
    ("variants/abstime.txt.zst", "variants/variants.dat"),
    ("variants/proc.txt.zst", "variants/variants.dat"),
    ("variants/tail.txt.zst", "variants/variants.dat"),
    ("variants/latency.txt.zst", "variants/variants.dat"),
    ("variants/nooverhead.txt.zst", "variants/variants.dat"),
    ("variants/noduration.txt.zst", "variants/variants.dat"),
    ("variants/everything.txt.zst", "variants/variants.dat"),
]


@functools.cache
def load(rel: str) -> EventTable:
    return parse(open_source(VM61 / rel))


@functools.cache
def report(dat: str, *flags: str) -> EventTable:
    out = subprocess.run(
        [tracecmd(), "report", *flags, str(VM61 / dat)], capture_output=True, check=True
    ).stdout
    return parse_report_text(Source(f"trace-cmd report {dat}", out))


def _top(et: EventTable) -> EventTable:
    return et.take(et["buf"] == 0)


@pytest.mark.parametrize("text,dat", PAIRS)
def test_kernel_text_agrees_with_tracedat(text: str, dat: str) -> None:
    corpus_file(f"vm61/{text}")
    corpus_file(f"vm61/{dat}")
    et = load(text)
    ref = load(dat)
    assert ref.meta.format == "trace.dat"
    assert_same_graph(
        et,
        ref,
        pid=True,
        ts_tol=1000 if et.meta.ts_known else None,
        dur="missing" if "noduration" in text else "truncated",
    )
    # the same other events, with the same counts (smp4's text is the top buffer only)
    top = _top(ref)
    assert et.events_per_type() == top.events_per_type()
    # sched_switch fields the rebuild reads are the same (prev_state letters may differ:
    # trace.dat has the raw state bits, the text the kernel's letters)
    if "sched_switch" in et.fields:
        a, b = et.fields["sched_switch"], top.fields["sched_switch"]
        for col in ("prev_pid", "next_pid", "prev_prio", "next_prio"):
            assert np.array_equal(np.sort(a.columns[col]), np.sort(b.columns[col])), col


@pytest.mark.parametrize(
    "dat", ["btrfs_read.dat", "thresh.dat", "system.dat", "variants/variants.dat"]
)
def test_report_agrees_with_tracedat(dat: str) -> None:
    corpus_file(f"vm61/{dat}")
    rep = report(dat)
    ref = load(dat)
    # trace-cmd prints 3 decimals of µs and no module; a return without an entry is a bare "}"
    assert_same_graph(rep, ref, ts_tol=500, func_unknown_ok=True, module=False)
    assert rep.events_per_type() == ref.events_per_type()


def test_report_t_is_exact() -> None:
    corpus_file("vm61/btrfs_read.dat")
    rep = report("btrfs_read.dat", "-t")
    ref = load("btrfs_read.dat")
    assert_same_graph(rep, ref, ts_tol=0, dur="equal", func_unknown_ok=True, module=False)


def test_latency_text_context_matches_common_flags() -> None:
    corpus_file("vm61/btrfs_read.latency.txt")
    et = load("btrfs_read.latency.txt")
    ref = load("btrfs_read.dat")
    for c in (0, 1):
        a = (et["cpu"] == c) & (et["kind"] == 1)
        b = (ref["cpu"] == c) & (ref["kind"] == 1)
        assert np.array_equal(et["irqctx"][a], ref["irqctx"][b])
        assert np.array_equal(et["preempt"][a], ref["preempt"][b])
