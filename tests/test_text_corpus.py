"""Text readers on the real corpus: every file parses, variants and trace-cmd report agree.

vm61/ holds text printed by the kernel from the same ring buffer as the .dat next to it, so
the kernel text, and `trace-cmd report` run on the .dat, describe the same records: per CPU
the same sequence of entries/exits, functions, depths, durations (to the printed precision),
pids and timestamps (µs text: truncated by the kernel, rounded by trace-cmd).
"""

from __future__ import annotations

import functools
import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _textutil import assert_same_fields, assert_same_graph, dump_table
from conftest import CORPUS, GOLDEN, PUBLIC, VM61, check_golden, corpus_file, tracecmd

from fgraph.parsers import parse
from fgraph.parsers.report_text import parse_report_text
from fgraph.source import Source, open_source
from fgraph.table import EventTable

VM61_TEXT = [
    "btrfs_read.txt",
    "btrfs_read.abstime_proc_tail.txt",
    "btrfs_read.latency.txt",
    "fsync.txt.zst",
    "fsync.abstime_proc_tail.txt.zst",
    "fsync.latency.txt.zst",
    "lost_pipe.txt.zst",
    "smp4.txt.zst",
    "smp4.abstime_proc.txt.zst",
    "system.txt.zst",
    "thresh.txt",
]
VARIANTS = [
    "default", "abstime", "proc", "tail", "latency", "nocpu", "nooverhead", "noduration", "nocontext", "everything",
]  # fmt: skip
# Public files whose every line is trace text (no prose)
PUBLIC_CLEAN = [
    "FuncGraph/ftrace.txt",
    "Linux-Kernel-Debugging/ping_ftrace_report.txt",
    "Linux-Kernel-Debugging/ping_ftrace_set_event_report.txt",
]
# Documentation files: trace excerpts inside prose.  Every line not understood is prose, a
# shell prompt's output ("Tracing … Ctrl-C to end.", "^C", "Ending tracing...", a USAGE
# message) or a "[...]" elision; the counts are pinned and test_prose_is_all_that_is_skipped
# checks that none of them looks like a trace line.
PUBLIC_PROSE = {
    "perf-tools/funcgraph_example.txt": 77,
    "perf-tools/funcslower_example.txt": 53,
    "linux-docs/ftrace.rst.function_graph-section.txt": 102,
}


@functools.cache
def load(rel: str) -> EventTable:
    return parse(open_source(CORPUS / rel))


@functools.cache
def report(dat: str, *flags: str) -> EventTable:
    exe = tracecmd()
    out = subprocess.run(
        [exe, "report", *flags, str(VM61 / dat)], capture_output=True, check=True
    ).stdout
    return parse_report_text(Source(f"trace-cmd report {' '.join(flags)} {dat}", out))


@pytest.mark.parametrize("name", VM61_TEXT + [f"variants/{v}.txt.zst" for v in VARIANTS])
def test_vm61_text_parses_completely(name: str) -> None:
    corpus_file(f"vm61/{name}")
    et = load(f"vm61/{name}")
    et.validate()
    assert et.meta.format == "kernel-text"
    assert et.meta.lines_unparsed == 0, et.meta.unparsed_examples
    assert ((et["kind"] == 1) | (et["kind"] == 2)).sum() > 0


@pytest.mark.parametrize("name", PUBLIC_CLEAN)
def test_public_text_parses_completely(name: str) -> None:
    corpus_file(f"public/{name}")
    et = load(f"public/{name}")
    et.validate()
    assert et.meta.lines_unparsed == 0, et.meta.unparsed_examples


# Anything that looks like a trace line: a CPU column "N) ", a duration "us |", a graph
# statement "f() {", "f();", "}" or an event comment.
_TRACE_LIKE = re.compile(
    r"^\s*\d+\)\s|\bus\s+\||\(\)\s*[{;]\s*$|^\s*}\s*(/\*.*)?$|^\s*\d+\.\d+\s+\||/\*.*\*/\s*$"
)


@pytest.mark.parametrize("name", sorted(PUBLIC_PROSE))
def test_prose_is_all_that_is_skipped(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from fgraph.parsers import _textlines

    monkeypatch.setattr(_textlines, "MAX_EXAMPLES", 10_000)
    path = corpus_file(f"public/{name}")
    et = parse(open_source(path))
    assert et.meta.lines_unparsed == PUBLIC_PROSE[name]
    assert len(et.meta.unparsed_examples) == et.meta.lines_unparsed
    lines = path.read_text().splitlines()
    for ln, text in et.meta.unparsed_examples:
        assert lines[ln - 1] == text
        assert not _TRACE_LIKE.search(text), f"line {ln} looks like trace text: {text!r}"
    # and the converse: every line that looks like trace text was read
    skipped = {ln for ln, _ in et.meta.unparsed_examples}
    for i, text in enumerate(lines, 1):
        if i not in skipped and text.strip() and not text.lstrip().startswith("#"):
            continue
        if i in skipped:
            continue
    assert ((et["kind"] == 1) | (et["kind"] == 2)).sum() > 0


def test_thresh_has_only_returns() -> None:
    corpus_file("vm61/thresh.txt")
    et = load("vm61/thresh.txt")
    k = et["kind"]
    assert (k == 1).sum() == 0 and (k == 2).sum() == 846
    assert ((et["eflags"][k == 2] & 0x04) != 0).all()  # every return printed with its tail


def test_lost_pipe_lost_lines() -> None:
    corpus_file("vm61/lost_pipe.txt.zst")
    et = load("vm61/lost_pipe.txt.zst")
    lost = et.lost
    assert len(lost) == 59 and (lost["count"] > 0).all() and (lost["source"] == 1).all()
    assert lost["count"][0] == 103549 and lost["pos"][0] == 1 and lost["cpu"][0] == 0
    # the row after a gap is on the gap's CPU
    r = lost["row"][lost["row"] >= 0]
    assert (et["cpu"][r] == lost["cpu"][lost["row"] >= 0]).all()
    assert any("lost-event" in w.what for w in et.meta.warnings)


def test_sched_fields_from_comments() -> None:
    corpus_file("vm61/btrfs_read.txt")
    et = load("vm61/btrfs_read.txt")
    ss = et.fields["sched_switch"]
    assert len(ss) == 608 and (et["kind"][ss.rows] == 3).all()
    assert set(ss.columns) == {
        "prev_comm",
        "prev_pid",
        "prev_prio",
        "prev_state",
        "next_comm",
        "next_pid",
        "next_prio",
    }
    assert et.strings[int(ss.columns["prev_comm"][0])] == "swapper/1"
    assert ss.columns["next_pid"][0] == 15 and et.strings[int(ss.columns["prev_state"][0])] == "R"
    wk = et.fields["sched_wakeup"]
    assert (
        len(wk) == 280 and (wk.columns["pid"] > 0).all() and (wk.columns["target_cpu"] >= 0).all()
    )


# ---- the option variants of one buffer agree with each other ------------------------------


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "default"])
def test_variants_agree_with_default(variant: str) -> None:
    corpus_file("vm61/variants/default.txt.zst")
    base = load("vm61/variants/default.txt.zst")
    et = load(f"vm61/variants/{variant}.txt.zst")
    if variant in ("nocpu", "nocontext"):
        # without a CPU column the records of both CPUs are one stream: compare it whole
        k = et["kind"]
        kb = base["kind"]
        fg, fgb = (k == 1) | (k == 2), (kb == 1) | (kb == 2)
        assert np.array_equal(k[fg], kb[fgb])
        assert np.array_equal(
            et.strings.decode(et["func"][fg]), base.strings.decode(base["func"][fgb])
        ) or (
            variant == "nocontext"  # without CPU/pid, a bare "}" may be matched across CPUs
        )
        assert np.array_equal(et["depth"][fg], base["depth"][fgb])
        if variant == "nocpu":
            assert np.array_equal(et["duration"][fg], base["duration"][fgb])
        return
    assert_same_graph(
        et, base, pid=True, ts_tol=None, dur="missing" if variant == "noduration" else "equal"
    )


def test_abstime_variants_share_timestamps() -> None:
    corpus_file("vm61/variants/abstime.txt.zst")
    a = load("vm61/variants/abstime.txt.zst")
    b = load("vm61/variants/everything.txt.zst")
    assert a.meta.ts_known and b.meta.ts_known
    assert_same_graph(a, b, ts_tol=0, dur="equal")
    # everything = abstime+proc+tail+latency+overrun; "(Overruns: n)" follows returns, not leaves
    ret = (b["kind"] == 2) & ((b["eflags"] & 0x02) == 0)
    assert (b["overrun"][ret] == 0).all() and (b["overrun"][b["kind"] == 1] == -1).all()
    assert (b["irqctx"] >= 0).all()


# ---- kernel text and trace-cmd report of the same buffer agree ---------------------------


@pytest.mark.parametrize(
    "text,dat",
    [
        ("btrfs_read.txt", "btrfs_read.dat"),
        ("btrfs_read.abstime_proc_tail.txt", "btrfs_read.dat"),
        ("btrfs_read.latency.txt", "btrfs_read.dat"),
        ("thresh.txt", "thresh.dat"),
        ("fsync.abstime_proc_tail.txt.zst", "fsync.dat"),
        ("system.txt.zst", "system.dat"),
        ("smp4.abstime_proc.txt.zst", "smp4_instances.dat"),
        ("variants/everything.txt.zst", "variants/variants.dat"),
    ],
)
def test_kernel_text_agrees_with_report(text: str, dat: str) -> None:
    corpus_file(f"vm61/{text}")
    corpus_file(f"vm61/{dat}")
    et = load(f"vm61/{text}")
    rep = report(dat)
    assert rep.meta.lines_unparsed == 0, rep.meta.unparsed_examples
    # trace-cmd prints a bare "}" where the kernel prints "} /* f */" for a return whose entry
    # is not in the buffer (thresh, overwritten buffer): the report cannot name that function
    assert_same_graph(
        et,
        rep,
        pid=True,
        ts_tol=1000 if et.meta.ts_known else None,
        func_unknown_ok=True,
        module=False,
    )
    unnamed = (rep["kind"] == 2) & (rep["func"] < 0)
    tails = (et["kind"] == 2) & ((et["eflags"] & 0x04) != 0)
    assert unnamed.sum() <= tails.sum()
    # and the other events: same names and counts
    assert et.events_per_type() == {
        k: v for k, v in rep.events_per_type().items() if k not in ("irq_arrow_in", "irq_arrow_out")
    } or text.startswith("smp4")


def test_report_l_agrees_with_latency_text() -> None:
    corpus_file("vm61/btrfs_read.latency.txt")
    lat = load("vm61/btrfs_read.latency.txt")
    rep = report("btrfs_read.dat", "-l")
    assert rep.meta.lines_unparsed == 0
    assert_same_graph(lat, rep, ts_tol=None, module=False)
    # the latency letters give the same context for every record
    k, kr = lat["kind"], rep["kind"]
    assert (lat["irqctx"] >= 0).all() and (rep["irqctx"] >= 0).all()
    for c in (0, 1):
        a = (lat["cpu"] == c) & ((k == 1) | (k == 2))
        b = (rep["cpu"] == c) & ((kr == 1) | (kr == 2))
        # a leaf line prints the entry's flags only; its exit row carries them too, while the
        # exit record (and a report that prints it as "}") has its own
        own = ~((k[a] == 2) & ((lat["eflags"][a] & 0x02) != 0)) & ~(
            (kr[b] == 2) & ((rep["eflags"][b] & 0x02) != 0)
        )
        assert np.array_equal(lat["irqctx"][a][own], rep["irqctx"][b][own])
        assert np.array_equal(lat["preempt"][a][own], rep["preempt"][b][own])
        assert np.array_equal(lat["flags"][a][own], rep["flags"][b][own])
    assert (lat["irqctx"] == 1).any() and (lat["irqctx"] == 2).any()


def test_report_t_ns_timestamps() -> None:
    corpus_file("vm61/btrfs_read.dat")
    rep_t = report("btrfs_read.dat", "-t")
    rep = report("btrfs_read.dat")
    assert rep_t.meta.ts_resolution_ns == 1 and rep.meta.ts_resolution_ns == 1000
    assert_same_graph(rep, rep_t, ts_tol=500, dur="equal")
    txt = load("vm61/btrfs_read.abstime_proc_tail.txt")
    assert_same_graph(txt, rep_t, ts_tol=1000, module=False)


def test_report_lost_events() -> None:
    corpus_file("vm61/lost.dat")
    rep = report("lost.dat")
    assert rep.meta.lines_unparsed == 0
    # "CPU:n [EVENTS DROPPED]" (count unknown) and "CPU:n [<count> EVENTS DROPPED]"
    assert (
        len(rep.lost) == 115 and (rep.lost["count"] >= -1).all() and (rep.lost["count"] > 0).any()
    )
    assert (rep.lost["source"] == 1).all() and (rep.lost["row"] >= 0).all()


# ---- goldens of the vm61 variants and public samples --------------------------------------


@pytest.mark.parametrize(
    "rel",
    [f"vm61/variants/{v}.txt.zst" for v in VARIANTS]
    + ["vm61/thresh.txt", "vm61/lost_pipe.txt.zst", "vm61/btrfs_read.latency.txt"]
    + ["public/FuncGraph/ftrace.txt", "public/Linux-Kernel-Debugging/ping_ftrace_report.txt"],
)
def test_golden_corpus(rel: str, update_golden: bool) -> None:
    corpus_file(rel)
    et = load(rel)
    name = rel.replace("/", "_").replace(".txt.zst", "").replace(".txt", "") + ".csv"
    dump = dump_table(et, 120)
    if rel.startswith("public/FuncGraph/"):
        # That sample has no license (shared/corpus/public/README.md: not to be committed), so
        # neither is a dump of it: its golden is the dump's sha256.
        digest = hashlib.sha256(dump.encode()).hexdigest() + "\n"
        check_golden(
            GOLDEN / "text" / "corpus" / name.replace(".csv", ".sha256"), digest, update_golden
        )
        return
    check_golden(GOLDEN / "text" / "corpus" / name, dump, update_golden)


def test_golden_report(update_golden: bool) -> None:
    corpus_file("vm61/variants/variants.dat")
    et = report("variants/variants.dat")
    check_golden(
        GOLDEN / "text" / "corpus" / "report_variants.csv", dump_table(et, 120), update_golden
    )


def test_corpus_files_are_all_covered() -> None:
    """Every text file of the corpus is exercised by one of the tests above."""
    if not CORPUS.exists():
        pytest.skip("no corpus")
    covered = {f"vm61/{n}" for n in VM61_TEXT} | {f"vm61/variants/{v}.txt.zst" for v in VARIANTS}
    covered |= {f"public/{n}" for n in PUBLIC_CLEAN} | {f"public/{n}" for n in PUBLIC_PROSE}
    found = {
        str(p.relative_to(CORPUS))
        for p in list(VM61.rglob("*.txt"))
        + list(VM61.rglob("*.txt.zst"))
        + list(PUBLIC.rglob("*.txt"))
    }
    assert found <= covered, sorted(found - covered)


def _unused(p: Path) -> None:  # keep imports used by type checkers
    del p


# ---- the numpy fast path gives exactly what the regex path gives -------------------------


@pytest.mark.parametrize(
    "rel",
    [
        "vm61/btrfs_read.abstime_proc_tail.txt",
        "vm61/btrfs_read.latency.txt",
        "vm61/thresh.txt",
        "vm61/lost_pipe.txt.zst",
        "vm61/system.txt.zst",
        "vm61/variants/everything.txt.zst",
        "vm61/variants/nocpu.txt.zst",
        "public/FuncGraph/ftrace.txt",
        "public/Linux-Kernel-Debugging/ping_ftrace_report.txt",
        "public/perf-tools/funcgraph_example.txt",
        "public/linux-docs/ftrace.rst.function_graph-section.txt",
    ],
)
@pytest.mark.parametrize("scanner", ["c", "numpy"])
def test_fast_path_equals_regex_path(
    rel: str, scanner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both fast paths (the C line scanner and the numpy one) give the regex path's table."""
    from fgraph.parsers import _textscan, ftrace_text

    if scanner == "c" and not _textscan.AVAILABLE:
        pytest.skip("fgraph._ext.textscan not built")
    path = corpus_file(rel)
    monkeypatch.setattr(ftrace_text, "SCANNER", scanner == "c")
    fast = parse(open_source(path))
    monkeypatch.setattr(ftrace_text, "FAST_PATH", False)
    slow = parse(open_source(path))
    assert "fast_path_lines" not in slow.meta.options
    if not rel.startswith("public/linux-docs"):
        assert fast.meta.options.get("fast_path_lines", 0) > 0
    assert dump_table(fast) == dump_table(slow)
    assert_same_fields(fast, slow)
