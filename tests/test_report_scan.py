"""The C scanner of ``trace-cmd report`` lines (fgraph/_ext/textscan.c ``scan_report_line``)
reads exactly what the regex path reads: odd lines built here and real reports (trace-cmd
report of the corpus, with -l and -t, and the hand-made fixtures) give the same table
either way; what the scanner is not sure of it must leave to the regexes."""

from __future__ import annotations

import itertools
import subprocess

import numpy as np
import pytest
from _textutil import assert_same_fields, dump_table, scan_text
from conftest import FIXTURES, corpus_file, tracecmd

from fgraph.parsers import _textscan, report_text
from fgraph.source import Source
from fgraph.table import EventTable

pytestmark = pytest.mark.skipif(not _textscan.AVAILABLE, reason="textscan not built")

COMMS = [
    "sh-111", "a-1-23", "Web Content-77", "x-5 y-6", "kworker/0:1-23", "<idle>-0", "-5", "--5",
    "x-", "x-5a", "\xfc-5", "x-1234567890", "x-0012", "x -5", "x- 5", "x|y-5", "x\ty-5",
    "rcu_sched-14", "trace-cmd-1234", "abcdefghijklmnop-99",
]  # fmt: skip
CPUS = [
    "[000]", "[001]", "[40000]", "[123456]", "[32767]", "[]", "[0a]", "[000] ",
    # report -l: the latency columns glued to the CPU
    "0d..2", "1...1.", "0d..2.abc", "0d..2.ab", "0d..", "12d.h2.", "40000d..2", "123456d..2",
    "0.....", "0D..Z", "0d-.2", "0 d..2",
]  # fmt: skip
LATS = ["", " d..2", " dNs1.", " ....", " d..", " d..2.ab", " d..2.abc", " d..2.abcd", " d-.2"]
TSS = [
    "9.776902", "1234567890.000001", "39.123456789", "39.1234567890", "12345678901.5", "9.",
    ".5", "9.776902 (+0.000012)", "9:776902",
]  # fmt: skip
EVENTS = ["funcgraph_entry", "funcgraph_exit", "fgraph_retaddr_entry", "funcgraph_entryx"]
RESTS = [
    "|  f() {", "1.048 us   |  f();", "1.048 us   |      }", "+ 29.425 us   |  }",
    "! 123.456 us |  }", "|  } /* f */", "1.0 us |  } /* f [mod] */", "|  f [mod]() {",
    "12.345 us |  f [mod]();", "|  f();", "2.0 us |  f() {", "|  }", "|", "|  ", "|   ",
    "1.048 us |", "1.048us |  }", "1.0.0 us |  }", "1.2345 us |  }", "9999999999999 us |  }",
    "x 1.0 us |  }", "+1.0 us |  }", "+  1.0 us |  }", "1.048 us   |  f(); (ret=0x0)",
    "|  f(a=1) {", "|  ==========>", "|  /* hi */", "|  f();\r", "|  \xe4();", "| f() {",
    "|  f() { /* <-g+0x1/0x2 */", "|  f.isra.0() {", "|  } /* f = -22 */",
]  # fmt: skip


def _line(
    comm: str = "sh-111",
    cpu: str = "[000]",
    lat: str = "",
    ts: str = "9.776902",
    event: str = "funcgraph_entry",
    rest: str = "|  f() {",
    pad: int = 16,
) -> str:
    return f"{comm:>{pad}}   {cpu}{lat} {ts:>12}: {event}:{' ' * 8}{rest}"


def _text() -> str:
    out = ["cpus=2"]
    for k in range(12):  # ordinary lines
        out.append(_line(rest="|  g() {"))
        out.append(_line(rest=f"1.0{k} us   |    h();"))
        out.append(_line(event="funcgraph_exit", rest="5.5 us   |  }"))
    for v in COMMS:
        out.append(_line(comm=v))
    for v in CPUS:
        out.append(_line(cpu=v))
    for v in LATS:
        out.append(_line(lat=v))
    for v in TSS:
        out.append(_line(ts=v))
    for v, r in itertools.product(EVENTS, RESTS):
        out.append(_line(event=v, rest=r))
    for pad in (0, 1, 20):
        out.append(_line(pad=pad))
    base = _line(rest="1.048 us   |    f();")
    for k in range(0, len(base), 3):  # columns cut or glued
        out.append(base[:k])
        out.append(base[:k] + base[k + 1 :])
        out.append(base[:k] + " " + base[k:])
    # other records, instances, lost events, the -l form, a line that only looks like one
    out += [
        "          <idle>-0     [001] d.h1.   17.856928: softirq_entry:        vec=1 [action=TIMER]",
        "              sh-107   [000]    17.863299: sched_switch:         sh:107 [120] S ==> "
        "swapper/0:0 [120]",
        "CPU:0 [EVENTS DROPPED]",
        "CPU:1 [12 EVENTS DROPPED]",
        "inst0:       sh-111   [000]     9.776903: funcgraph_entry:                   |  f() {",
        "inst0: sh-111 [000] 9.776903: funcgraph_exit: 1.0 us |  }",
        "    bash-1181    0d.h2.  1464.179964: funcgraph_entry:                   |  do_IRQ() {",
        "x: y-1 [000] 1.0: funcgraph_entry: |  f() {",
        "x:y-1 [000] 1.0: funcgraph_entry: |  f() {",
        "",
        "  ",
    ]
    return "\r\n".join(out[:30]) + "\n" + "\n".join(out[30:]) + "\n"


def _parse(data: bytes, scanner: bool, monkeypatch: pytest.MonkeyPatch) -> EventTable:
    monkeypatch.setattr(report_text, "SCANNER", scanner)
    return report_text.parse_report_text(Source("<report>", data))


def _assert_same(data: bytes, monkeypatch: pytest.MonkeyPatch) -> EventTable:
    fast = _parse(data, True, monkeypatch)
    slow = _parse(data, False, monkeypatch)
    assert "fast_path_lines" not in slow.meta.options
    assert dump_table(fast) == dump_table(slow)
    assert len(fast.lost) == len(slow.lost)
    for c in fast.lost.columns:
        assert np.array_equal(fast.lost[c], slow.lost[c])
    assert_same_fields(fast, slow)
    if "buf" in slow.columns:
        assert np.array_equal(fast["buf"], slow["buf"])
    return fast


def test_scanner_equals_regex_path_on_odd_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(_text().encode("utf-8"), monkeypatch)


def test_scanner_reads_the_records_it_knows() -> None:
    """Direct look at the scanner's columns: funcgraph records read, the rest left."""
    lines = [
        "              sh-111   [000]     9.776902: funcgraph_entry:                   |  f() {",
        "     Web Content-77    [001] d..2. 9.776903123: funcgraph_exit:       + 29.425 us   |"
        "    } /* f [btrfs] */",
        "              sh-111   [000]     9.776904: funcgraph_entry:        0.899 us   |    g();",
        "              sh-111   [000]     9.776905: sched_switch:         sh:111 [120] S ==> x:0",
        "inst0:       sh-111   [000]     9.776906: funcgraph_entry:                   |  f() {",
    ]
    _data, pool, r = scan_text(lines, report=True)
    assert r["ok"].tolist() == [True, True, True, False, False]
    assert r["kind"][:3].tolist() == [1, 2, 3]
    assert r["ts"][:3].tolist() == [9776902000, 9776903123, 9776904000]
    assert r["tsdigits"][:3].tolist() == [6, 9, 6]
    assert r["cpu"][:3].tolist() == [0, 1, 0] and r["pid"][:3].tolist() == [111, 77, 111]
    assert [pool[int(c)] for c in r["comm"][:3]] == ["sh", "Web Content", "sh"]
    assert [pool[int(c)] for c in r["event"][:3]] == ["funcgraph_entry", "funcgraph_exit"] + [
        "funcgraph_entry"
    ]
    assert [pool[int(c)] for c in r["func"][:3]] == ["f", "f", "g"]
    assert pool[int(r["module"][1])] == "btrfs" and r["has_tail"][:3].tolist() == [0, 1, 0]
    assert r["dur"][:3].tolist() == [-1, 29425, 899] and r["depth"][:3].tolist() == [0, 1, 1]
    assert r["flags"][:3].tolist()[0] == -1 and r["flags"][1] >= 0


@pytest.mark.corpus
@pytest.mark.parametrize(
    "dat, flags, reads",
    [
        ("btrfs_read.dat", (), True),
        ("btrfs_read.dat", ("-l",), True),
        ("btrfs_read.dat", ("-t",), True),
        ("lost.dat", ("-t", "-l"), True),
        ("btrfs_read.dat", ("-O", "fgraph:tailprint"), True),  # "} /* f */" exits
        ("btrfs_read.dat", ("--cpu", "1"), True),
        ("fsync.dat", (), True),
        ("lost.dat", (), True),
        ("system.dat", (), True),
        ("thresh.dat", (), True),
        ("smp4_instances.dat", (), True),
        # what the scanner leaves to the regexes: a depth after the graph text, "(+delta)"
        ("btrfs_read.dat", ("-O", "fgraph:depth"), False),
        ("btrfs_read.dat", ("--ts-diff",), False),
    ],
)
def test_scanner_equals_regex_path_on_trace_cmd_reports(
    dat: str, flags: tuple[str, ...], reads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trace-cmd report of the corpus (Debian's trace-cmd 3.1), with its options: the same
    table, and the scanner reads the funcgraph records of the usual forms."""
    out = subprocess.run(
        [tracecmd(), "report", *flags, str(corpus_file(f"vm61/{dat}"))],
        capture_output=True,
        check=True,
    ).stdout
    fast = _assert_same(out, monkeypatch)
    nrec = out.count(b"funcgraph_")  # funcgraph record lines (and few others)
    assert nrec > 100 and len(fast) > 100
    if reads:
        assert fast.meta.options["fast_path_lines"] >= 0.9 * nrec


@pytest.mark.parametrize(
    "path",
    [
        "hand_report.txt",
        "hand_report_l.txt",
    ],
)
def test_scanner_equals_regex_path_on_samples(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand-made report fixtures (event records, lost events, return values, -l)."""
    _assert_same((FIXTURES / "text" / path).read_bytes(), monkeypatch)
