"""The C line scanner of the kernel text reader (fgraph/_ext/textscan.c) reads exactly what
the regex path reads: odd lines of every column layout, built here, give the same table
either way (what the scanner is not sure of it must leave to the regexes)."""

from __future__ import annotations

import itertools

import pytest
from _textutil import dump_table, scan_text

from fgraph.parsers import _textscan, ftrace_text
from fgraph.source import Source
from fgraph.table import EventTable

pytestmark = pytest.mark.skipif(not _textscan.AVAILABLE, reason="textscan not built")

GRAPH_TEXTS = [
    "f();", "f() {", "}", "} /* f */", "} /* f [mod] */", "f [mod]();", "f [mod]() {",
    "} /* f = -22 */", "} /* f ret=0x0 */", "f(); /* = 0 */", "f();  ", "}  ", "f=1();",
    "} /* f=1 */", "} /* f*g */", "f [a]b]();", "f [a b]();", "f []();", "f[mod]();",
    "0xffffffff81000000();", "f.isra.0() {", "} /* f.isra.0 */", "f.cold();",
    "/* sched_switch: prev_comm=a prev_pid=1 prev_prio=120 prev_state=S ==> next_comm=b"
    " next_pid=2 next_prio=120 */", "/* hello */", "==========>", "<==========",
    "f(a=1, b=2);", "f() { /* <-caller+0x6c/0xb0 */", "f\t();", "f();\r", "}\r", "\xe4();",
    "-f();", "#f();", "f ();", "} /* f */ extra", "} /*  */", "} /* f [m] */  ", "}}",
    "f();;", "f() {}", "f()", "f", "", "} /* a */ */", "f$x@y:z+1~%&!?#();", "_();",
    "f(); (ret=0)", "} (ret=5)", "f() { (3)",
    # comments (the scanner reads printable ones without a duration)
    "/*  */", "/* a */ */", "/* a */  ", "/* a\t*/", "/* a\tb */", "/* \xe9 */", "/* a */x",
    "/*a */", "/* a*/", "/* */", "/**/", "/* a */\r", "/* /* a */ */",
    "/* sched_wakeup: comm=x pid=1 prio=120 target_cpu=001 */", "/* my_event: a=1 */",
]  # fmt: skip
DURS = ["1.042", "22.502", "1234567", "0.1", "12.", ".5", "1.2345", "1.2.3", "9999999999999", ""]
MARKS = [" ", "+", "!", "#", "*", "@", "$", "x"]
COMMS = [
    "dd-244", "a-1-23", "Web Content-77", "#x-5", "x\ty-5", "kworker/0:1-23", "-5", "--5",
    "x-", "x-5a", "\xfc-5", "<idle>-0", "x-1234567890", "x-0012", "x -5", "x- 5", "x|y-5",
]  # fmt: skip
LATS = ["d..1.", "dNs1", "d.h1.", "X", "dnH2..", "d..1.ab", "....", "D.Z.f", "d .1."]
TSS = ["39.633602", "1234567890.000001", "39.1234567", "39.12345", "0.000000", "12345678901.5"]
CPUS = ["1", "0", "40000", "123456", "32767", "007"]


def _dur(mark: str, d: str) -> str:
    num = f"{d} us" if d else ""
    return f"{mark} {num:<12}|  "


def _line(
    cols: tuple[bool, bool, bool, bool],
    text: str,
    depth: int = 2,
    ts: str = "39.633602",
    cpu: str = "1",
    comm: str = "dd-244",
    lat: str = "d..1.",
    mark: str = " ",
    dur: str = "1.042",
) -> str:
    abst, c, proc, la = cols
    s = ""
    if abst:
        s += f"{ts:>12} |  "
    if c:
        s += f" {cpu:>3}) "
    if proc:
        s += f"{comm:^14} | "
    if la:
        s += f" {lat} | "
    return s + _dur(mark, dur) + "  " * depth + text


def _text(cols: tuple[bool, bool, bool, bool]) -> str:
    out = ["# tracer: function_graph", "#", ""]
    # ordinary lines first: the reader takes its fast path only when it sees many of them
    for k in range(12):
        out.append(_line(cols, "g() {", 1, dur=""))
        out.append(_line(cols, "h();", 2, dur="1.0" + str(k)))
        out.append(_line(cols, "}", 1, dur="5.5", mark="+"))
    for t in GRAPH_TEXTS:
        for d in ("", "1.042"):
            out.append(_line(cols, t, dur=d))
    for d, m in itertools.product(DURS, MARKS):
        out.append(_line(cols, "f();", dur=d, mark=m))
        out.append(_line(cols, "}", dur=d, mark=m))
    for v in COMMS:
        out.append(_line(cols, "f();", comm=v))
    for v in LATS:
        out.append(_line(cols, "f();", lat=v))
    for v in TSS:
        out.append(_line(cols, "f();", ts=v))
    for v in CPUS:
        out.append(_line(cols, "f();", cpu=v))
    for depth in (0, 1, 3, 30):
        out.append(_line(cols, "f();", depth=depth))
        out.append(_line(cols, "f() {", depth=depth, dur=""))
        out.append(_line(cols, "} /* f */", depth=depth))
    # columns cut or glued: a bar without its blanks, a missing space, a line cut short
    base = _line(cols, "f();")
    for k in range(0, len(base), 3):
        out.append(base[:k])
        out.append(base[:k] + base[k + 1 :])
        out.append(base[:k] + " " + base[k:])
        out.append(base[:k] + "|" + base[k:])
    out.append(" " * 20)
    # blank and banner dash lines (the scanner marks them ignored itself) and near misses
    dash = "-" * 42
    for v in (" " + dash, dash, "-" * 19, "   " + "-" * 20 + "  ", dash + "x", dash + "\t",
              dash + " -", "\t", " \t \r", "", "  \x0b", "\x0c", " " + dash + "\r"):  # fmt: skip
        out.append(v)
    out.append("#" + base)
    out.append(_line(cols, "f();", mark="#", dur="") + "  ")
    return "\r\n".join(out[:40]) + "\n" + "\n".join(out[40:]) + "\n"


def _parse(data: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> EventTable:
    monkeypatch.setattr(ftrace_text, "FAST_PATH", fast)
    monkeypatch.setattr(ftrace_text, "SCANNER", True)
    return ftrace_text.parse_ftrace_text(Source("<t>", data))


@pytest.mark.parametrize("cols", list(itertools.product([False, True], repeat=4)))
def test_scanner_equals_regex_path(
    cols: tuple[bool, bool, bool, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _text(cols).encode("utf-8")
    fast = _parse(data, True, monkeypatch)
    slow = _parse(data, False, monkeypatch)
    assert fast.meta.options.get("fast_path_lines", 0) > 36
    assert dump_table(fast) == dump_table(slow)


def test_scanner_status_of_known_lines() -> None:
    """Direct look at the scanner's columns for a few lines of the default 6.x layout."""
    lines = [
        "   39.633602 |   1)     dd-244     | + 22.502 us   |            } /* f [btrfs] */",
        "   39.633603 |   1)     dd-244     |   1.042 us    |            _raw_spin_lock();",
        "   39.633605 |   1)     dd-244     |               |          g() {",
        "   39.633605 |   1)     dd-244     |               |          /* hello */",
    ]
    data, pool, r = scan_text(lines)
    assert r["ok"].tolist() == [True, True, True, True]
    assert r["kind"].tolist() == [2, 3, 1, 4]  # the comment is an event line
    ((line, s, e),) = r["comments"].tolist()
    assert line == 3 and data[s:e] == b"hello"
    assert r["ts"][:3].tolist() == [39633602000, 39633603000, 39633605000]
    assert r["cpu"][:3].tolist() == [1, 1, 1]
    assert r["pid"][:3].tolist() == [244] * 3
    assert [pool[int(c)] for c in r["comm"][:3]] == ["dd"] * 3
    assert [pool[int(c)] for c in r["func"][:3]] == ["f", "_raw_spin_lock", "g"]
    assert pool[int(r["module"][0])] == "btrfs" and r["module"][1] == -1
    assert r["dur"][:3].tolist() == [22502, 1042, -1]
    assert r["res"][:2].tolist() == [1, 1]
    assert r["depth"][:3].tolist() == [5, 5, 4]
    assert r["has_tail"][:3].tolist() == [True, False, False]
