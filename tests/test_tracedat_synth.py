"""Synthetic trace.dat files: every page/event encoding, both endiannesses, 32- and 64-bit.

A small v6 writer (below) builds files whose ground truth is known: each ring-buffer event
type (type_len 1..28, 0, 29 padding/discarded, 30 time extend, 31 absolute stamp with the
59-bit MSB fix), lost-event flags with and without a stored count, DATE/OFFSET options,
__data_loc strings, ``char buf[]`` tails, out-of-order field lists and the 32-bit
funcgraph_exit offset bug.  fgraph's reader must reproduce the ground truth and, where
trace-cmd is installed, agree with ``trace-cmd report`` (the same differential comparison as
the corpus tests).
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from fgraph.parsers.tracedat import parse_tracedat
from fgraph.schema import EventFlag, EventKind, LostSource
from fgraph.source import Source

COMMON = (
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
)

HEADER_EVENT = (
    "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n"
    "\tarray       :   32 bits\n\n\tpadding     : type == 29\n\ttime_extend : type == 30\n"
    "\ttime_stamp : type == 31\n\tdata max type_len  == 28\n"
)

SCHED_SWITCH_FMT = (
    'print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", '
    "REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | "
    "0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state "
    "& ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) "
    '<< 1) - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, '
    '{ 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", REC->prev_state & '
    "(((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) "
    '<< 1) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio\n'
)

PAGE = 4096
TS_MASK = (1 << 27) - 1


def _field(decl: str, off: int, size: int, signed: int) -> str:
    return f"\tfield:{decl};\toffset:{off};\tsize:{size};\tsigned:{signed};\n"


@dataclass
class Layout:
    long: int  # kernel long size
    big: bool
    exit_bug: bool = False  # 32-bit: format claims 8-aligned calltime/rettime
    retval: bool = False  # 6.5+ CONFIG_FUNCTION_GRAPH_RETVAL exit layout + fgraph_retaddr_entry

    @property
    def e(self) -> str:
        return ">" if self.big else "<"

    def formats(self) -> tuple[list[str], list[tuple[str, list[str]]]]:
        L = self.long
        entry = (
            "name: funcgraph_entry\nID: 11\nformat:\n"
            + COMMON
            + _field("unsigned long func", 8, L, 0)
            + _field("int depth", 8 + L, 4, 1)
            + '\nprint fmt: "--> %ps (%d)", (void *)REC->func, REC->depth\n'
        )
        offs = self.exit_offsets()
        if self.exit_bug:
            offs = {"func": 8, "depth": 12, "overrun": 16, "calltime": 24, "rettime": 32}
        exit_ = (
            "name: funcgraph_exit\nID: 10\nformat:\n"
            + COMMON
            + _field("unsigned long func", offs["func"], L, 0)
            + _field("unsigned long long calltime", offs["calltime"], 8, 0)
            + _field("unsigned long long rettime", offs["rettime"], 8, 0)
            + _field("unsigned int overrun", offs["overrun"], 4, 0)
            + _field("int depth", offs["depth"], 4, 1)
            + (_field("unsigned long retval", offs["retval"], 8, 0) if self.retval else "")
            + '\nprint fmt: "<-- %ps (%d) (start: %llx  end: %llx) over: %d", (void *)REC->func, REC->depth, '
            "REC->calltime, REC->rettime, REC->depth\n"
        )
        print_ = (
            "name: print\nID: 5\nformat:\n"
            + COMMON
            + _field("unsigned long ip", 8, L, 0)
            + _field("char buf[]", 8 + L, 0, 0)
            + '\nprint fmt: "%ps: %s", (void *)REC->ip, REC->buf\n'
        )
        sw = (
            "name: sched_switch\nID: 300\nformat:\n"
            + COMMON
            + _field("char prev_comm[16]", 8, 16, 0)
            + _field("pid_t prev_pid", 24, 4, 1)
            + _field("int prev_prio", 28, 4, 1)
            + _field("long prev_state", 32, L, 1)
            + _field("char next_comm[16]", 32 + L, 16, 0)
            + _field("pid_t next_pid", 48 + L, 4, 1)
            + _field("int next_prio", 52 + L, 4, 1)
            + "\n"
            + SCHED_SWITCH_FMT
        )
        irq = (
            "name: irq_handler_entry\nID: 200\nformat:\n"
            + COMMON
            + _field("int irq", 8, 4, 1)
            + _field("__data_loc char[] name", 12, 4, 1)
            + '\nprint fmt: "irq=%d name=%s", REC->irq, __get_str(name)\n'
        )
        ftrace = [exit_, entry, print_]
        if self.retval:
            ftrace.append(
                "name: fgraph_retaddr_entry\nID: 12\nformat:\n"
                + COMMON
                + _field("unsigned long func", 8, 8, 0)
                + _field("int depth", 16, 4, 1)
                + _field("unsigned long retaddr", 20, 8, 0)
                + '\nprint fmt: "--> %ps (%d) <- %ps", (void *)REC->func, REC->depth, (void *)REC->retaddr\n'
            )
        return ftrace, [("sched", [sw]), ("irq", [irq])]

    def exit_offsets(self) -> dict[str, int]:
        if self.retval:
            return {
                "func": 8,
                "retval": 16,
                "depth": 24,
                "overrun": 28,
                "calltime": 32,
                "rettime": 40,
                "size": 48,
            }
        if self.long == 8:
            return {
                "func": 8,
                "depth": 16,
                "overrun": 20,
                "calltime": 24,
                "rettime": 32,
                "size": 40,
            }
        return {"func": 8, "depth": 12, "overrun": 16, "calltime": 20, "rettime": 28, "size": 36}


@dataclass
class Rec:
    kind: str
    ts: int
    pid: int
    fields: dict
    flags: int = 0
    preempt: int = 0


@dataclass
class PageBuilder:
    lay: Layout
    ts0: int
    body: bytearray = field(default_factory=bytearray)
    now: int = 0
    missed: int = 0  # 0 none, -1 flag only, n stored

    def __post_init__(self) -> None:
        self.now = self.ts0

    def word(self, type_len: int, delta: int) -> bytes:
        v = (type_len << 27) | delta if self.lay.big else (delta << 5) | type_len
        return struct.pack(self.lay.e + "I", v)

    def data(self, payload: bytes, delta: int, force_long: bool = False) -> None:
        n = (len(payload) + 3) // 4 * 4
        payload = payload + b"\x00" * (n - len(payload))
        if n <= 112 and not force_long:
            self.body += self.word(n // 4, delta) + payload
        else:
            self.body += self.word(0, delta) + struct.pack(self.lay.e + "I", n + 4) + payload
        self.now += delta

    def extend(self, delta: int) -> None:
        self.body += self.word(30, delta & TS_MASK) + struct.pack(self.lay.e + "I", delta >> 27)
        self.now += delta

    def stamp(self, ts: int) -> None:
        # 59-bit absolute stamp; the reader restores the top 5 bits from the running time
        low = ts & ((1 << 59) - 1)
        self.body += self.word(31, low & TS_MASK) + struct.pack(self.lay.e + "I", low >> 27)
        self.now = low | (self.now & (0xF8 << 56))

    def discarded(self, delta: int, length: int) -> None:
        self.body += (
            self.word(29, delta) + struct.pack(self.lay.e + "I", length) + b"\x00" * (length - 4)
        )
        self.now += delta

    def page(self) -> bytes:
        L, e = self.lay.long, self.lay.e
        commit = len(self.body)
        if self.missed:
            commit |= 1 << 31
            if self.missed > 0:
                commit |= 1 << 30
        hdr = struct.pack(e + "Q", self.ts0) + struct.pack(e + ("Q" if L == 8 else "I"), commit)
        tail = b""
        if self.missed > 0:
            tail = struct.pack(e + ("Q" if L == 8 else "I"), self.missed)
        out = hdr + bytes(self.body) + tail
        assert len(out) <= PAGE
        return out + b"\x00" * (PAGE - len(out))


KSYMS = {
    8: [
        (0xFFFFFFFF81000000, "T", "func_a", ""),
        (0xFFFFFFFF81000100, "t", "func_b", "mymod"),
        (0xFFFFFFFF81000200, "T", "func_c", ""),
    ],
    4: [
        (0xC0000000, "T", "func_a", ""),
        (0xC0000100, "t", "func_b", "mymod"),
        (0xC0000200, "T", "func_c", ""),
    ],
}


def payload(lay: Layout, eid: int, pid: int, flags: int, preempt: int, body: bytes) -> bytes:
    return struct.pack(lay.e + "HBBi", eid, flags, preempt, pid) + body


def build(
    lay: Layout, date_us: int = 0, offset_ns: int = 0, tsc: tuple[int, int] | None = None
) -> tuple[bytes, list[tuple[int, Rec]], list[tuple[int, int, int]]]:
    """A 2-CPU v6 file; returns (bytes, [(cpu, Rec)] in ring order, [(cpu, page index, missed)])."""
    e, L = lay.e, lay.long
    syms = KSYMS[L]
    recs: list[tuple[int, Rec]] = []
    lost: list[tuple[int, int, int]] = []
    xo = lay.exit_offsets()

    def fg_entry(
        pb: PageBuilder, cpu: int, delta: int, addr: int, depth: int, pid: int = 100, flags: int = 0
    ) -> None:
        body = struct.pack(e + ("Q" if L == 8 else "I"), addr) + struct.pack(e + "i", depth)
        if L == 8:
            body += b"\x00" * 4  # unpacked entry (record 24)
        pb.data(payload(lay, 11, pid, flags, 1, body), delta)
        recs.append(
            (cpu, Rec("funcgraph_entry", pb.now, pid, {"func": addr, "depth": depth}, flags, 1))
        )

    def fg_exit(
        pb: PageBuilder,
        cpu: int,
        delta: int,
        addr: int,
        depth: int,
        ct: int,
        rt: int,
        pid: int = 100,
        long_form: bool = False,
    ) -> None:
        b = bytearray(xo["size"] - 8)
        struct.pack_into(e + ("Q" if L == 8 else "I"), b, xo["func"] - 8, addr)
        struct.pack_into(e + "i", b, xo["depth"] - 8, depth)
        struct.pack_into(e + "I", b, xo["overrun"] - 8, 7)
        struct.pack_into(e + "Q", b, xo["calltime"] - 8, ct)
        struct.pack_into(e + "Q", b, xo["rettime"] - 8, rt)
        if "retval" in xo:
            struct.pack_into(e + "q", b, xo["retval"] - 8, -22)
        pb.data(payload(lay, 10, pid, 0x08, 0, bytes(b)), delta, force_long=long_form)
        recs.append(
            (
                cpu,
                Rec(
                    "funcgraph_exit",
                    pb.now,
                    pid,
                    {"func": addr, "depth": depth, "calltime": ct, "rettime": rt, "overrun": 7},
                    0x08,
                    0,
                ),
            )
        )

    def switch(pb: PageBuilder, cpu: int, delta: int, state: int) -> None:
        body = b"prevtask".ljust(16, b"\x00") + struct.pack(e + "ii", 100, 120)
        body += struct.pack(e + ("q" if L == 8 else "i"), state)
        body += b"nexttask".ljust(16, b"\x00") + struct.pack(e + "ii", 200, 120)
        pb.data(payload(lay, 300, 100, 0, 0, body), delta)
        recs.append(
            (
                cpu,
                Rec(
                    "sched_switch",
                    pb.now,
                    100,
                    {"prev_state": state, "prev_comm": "prevtask", "next_pid": 200},
                    0,
                    0,
                ),
            )
        )

    def irq(pb: PageBuilder, cpu: int, delta: int, name: bytes) -> None:
        s = name + b"\x00"
        body = struct.pack(e + "iI", 9, (len(s) << 16) | 16) + s
        pb.data(payload(lay, 200, 0, 0x09, 0, body), delta)
        recs.append(
            (cpu, Rec("irq_handler_entry", pb.now, 0, {"irq": 9, "name": name.decode()}, 0x09, 0))
        )

    def printk(pb: PageBuilder, cpu: int, delta: int, msg: bytes) -> None:
        body = struct.pack(e + ("Q" if L == 8 else "I"), syms[0][0]) + msg + b"\x00"
        pb.data(payload(lay, 5, 100, 0, 0, body), delta, force_long=len(body) > 100)
        recs.append((cpu, Rec("print", pb.now, 100, {"buf": msg.decode()}, 0, 0)))

    base = (0x1F << 59) if L == 8 else 1_000_000_000  # 64-bit: exercise the MSB fix
    cpus: dict[int, list[bytes]] = {0: [], 1: []}
    # CPU 0, page 0: every encoding
    pb = PageBuilder(lay, base + 5_000)
    pb.extend(0)  # leading zero TIME_EXTEND, as real pages have
    fg_entry(pb, 0, 10, syms[0][0], 0)
    fg_entry(pb, 0, 20, syms[1][0] + 0x10, 1)  # inside func_b (module symbol)
    pb.discarded(3, 24)  # discarded event: its delta still counts (kbuffer)
    fg_exit(pb, 0, 5, syms[1][0] + 0x10, 1, 100, 200)
    pb.extend(1 << 30)  # large gap via TIME_EXTEND
    fg_exit(pb, 0, 7, syms[0][0], 0, 50, 400, long_form=True)  # type_len 0 encoding
    pb.stamp(base + (3 << 40))  # absolute stamp (59 bits + restored MSBs)
    switch(pb, 0, 0, 0x100 | 0x1)
    switch(pb, 0, 9, 0)
    irq(pb, 0, 11, b"virtio0-req.0")
    printk(pb, 0, 13, b"hello from a synthetic trace with a long message " * 3)
    fg_entry(pb, 0, 2, 0x1234, 3)  # unresolved address
    cpus[0].append(pb.page())
    # CPU 0, page 1: lost events with a stored count
    pb = PageBuilder(lay, base + (4 << 40))
    pb.missed = 42
    fg_entry(pb, 0, 1, syms[2][0], 0, pid=300)
    switch(pb, 0, 1, 0x80)
    cpus[0].append(pb.page())
    lost.append((0, 1, 42))
    # CPU 1, page 0: plain; page 1: lost without a count
    pb = PageBuilder(lay, base + 6_000)
    fg_entry(pb, 1, 0, syms[0][0], 0, pid=400, flags=0x10)
    fg_exit(pb, 1, 100, syms[0][0], 0, 6_000, 6_100, pid=400)
    if lay.retval:
        body = struct.pack(e + "QiQ", syms[2][0], 5, syms[0][0] + 0x40)
        pb.data(payload(lay, 12, 400, 0, 0, body), 50)
        recs.append(
            (1, Rec("fgraph_retaddr_entry", pb.now, 400, {"func": syms[2][0], "depth": 5}, 0, 0))
        )
    cpus[1].append(pb.page())
    pb = PageBuilder(lay, base + 9_000)
    pb.missed = -1
    irq(pb, 1, 4, b"eth0")
    cpus[1].append(pb.page())
    lost.append((1, 1, -1))

    ftrace, systems = lay.formats()
    out = bytearray(b"\x17\x08\x44tracing6\x00")
    out += bytes([1 if lay.big else 0, L]) + struct.pack(e + "I", PAGE)
    data_size = PAGE - 8 - L
    hp = (
        "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
        f"\tfield: local_t commit;\toffset:8;\tsize:{L};\tsigned:1;\n"
        "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
        f"\tfield: char data;\toffset:{8 + L};\tsize:{data_size};\tsigned:1;\n"
    ).encode()
    out += b"header_page\x00" + struct.pack(e + "Q", len(hp)) + hp
    he = HEADER_EVENT.encode()
    out += b"header_event\x00" + struct.pack(e + "Q", len(he)) + he
    out += struct.pack(e + "I", len(ftrace))
    for t in ftrace:
        out += struct.pack(e + "Q", len(t)) + t.encode()
    out += struct.pack(e + "I", len(systems))
    for sysname, texts in systems:
        out += sysname.encode() + b"\x00" + struct.pack(e + "I", len(texts))
        for t in texts:
            out += struct.pack(e + "Q", len(t)) + t.encode()
    width = 16 if L == 8 else 8
    ks = "".join(
        f"{a:0{width}x} {t} {n}" + (f"\t[{m}]" if m else "") + "\n" for a, t, n, m in syms
    ).encode()
    out += struct.pack(e + "I", len(ks)) + ks
    out += struct.pack(e + "I", 0)  # printk formats
    cl = b"100 synthproc\n300 otherproc\n"
    out += struct.pack(e + "Q", len(cl)) + cl
    out += struct.pack(e + "I", 2)
    out += b"options  \x00"

    def opt(oid: int, data: bytes) -> None:
        nonlocal out
        out += struct.pack(e + "HI", oid, len(data)) + data

    opt(5, b"Linux synth 6.1.0-test x86_64\x00")
    opt(4, b"local global counter [x86-tsc]\x00" if tsc else b"[local] global counter\x00")
    if tsc:
        opt(14, struct.pack(e + "IIQ", tsc[0], tsc[1], 0))
    if date_us:
        opt(1, f"0x{date_us:x}\x00".encode())
    if offset_ns:
        opt(7, f"{offset_ns}\x00".encode())
    opt(2, b"CPU: 0\nentries: 0\noverrun: 5\ndropped events: 0\n\x00")
    opt(99, b"an unknown option is skipped by size")
    out += struct.pack(e + "H", 0)
    out += b"flyrecord\x00"
    table_at = len(out)
    out += b"\x00" * 32
    clock = b"local global counter [x86-tsc]\n" if tsc else b"[local] global counter\n"
    out += struct.pack(e + "Q", len(clock)) + clock
    for cpu in (0, 1):
        out += b"\x00" * ((-len(out)) % PAGE)
        struct.pack_into(e + "QQ", out, table_at + 16 * cpu, len(out), PAGE * len(cpus[cpu]))
        for p in cpus[cpu]:
            out += p
    return bytes(out), recs, lost


LAYOUTS = {
    "le64": Layout(8, False),
    "be64": Layout(8, True),
    "le32": Layout(4, False),
    "be32": Layout(4, True),
    "le64retval": Layout(8, False, retval=True),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_ground_truth(name: str) -> None:
    lay = LAYOUTS[name]
    data, recs, lost = build(lay, date_us=0x10, offset_ns=5)
    t = parse_tracedat(Source(f"{name}.dat", data))
    t.validate()
    assert t.meta.big_endian == lay.big and t.meta.long_size == lay.long
    assert t.meta.clock == "local" and t.meta.uname.startswith("Linux synth")
    assert t.meta.cpustat[""][0]["overrun"] == "5"
    assert len(t) == len(recs)
    ev = t.strings.decode(t["event"])
    func = t.strings.decode(t["func"])
    mod = t.strings.decode(t["module"])
    offset = 0x10 * 1000 + 5
    for i, (cpu, r) in enumerate(recs):
        assert t["cpu"][i] == cpu and ev[i] == r.kind, i
        assert t["ts"][i] == ((r.ts + offset) & ((1 << 64) - 1)) - (
            (1 << 64) if (r.ts + offset) >= (1 << 63) else 0
        ), (i, r)
        assert t["pid"][i] == r.pid and t["flags"][i] == r.flags and t["preempt"][i] == r.preempt
        if r.kind.startswith("funcgraph") or r.kind == "fgraph_retaddr_entry":
            assert t["addr"][i] == r.fields["func"]
            assert t["depth"][i] == r.fields["depth"]
            a = r.fields["func"]
            want = {0: "func_a", 0x10: "func_b", 0x200: "func_c"}.get(
                a - KSYMS[lay.long][0][0], f"{a:x}"
            )
            if a - KSYMS[lay.long][0][0] == 0x110:
                want = "func_b"
            assert func[i] == want, (i, func[i], want)
            if want == "func_b":
                assert mod[i] == "mymod"
        if r.kind == "funcgraph_exit":
            for k in ("calltime", "rettime", "overrun"):
                assert t[k][i] == r.fields[k]
            assert t["duration"][i] == r.fields["rettime"] - r.fields["calltime"]
            assert t["kind"][i] == EventKind.FG_EXIT
            assert bool(t["eflags"][i] & EventFlag.HAS_RETVAL) == lay.retval
            if lay.retval:
                assert t["retval"][i] == -22
    ss_rows, states = t.field("sched_switch", "prev_state")
    assert [t.strings[int(c)] for c in states] == ["S+", "R", "I"]
    _, comms = t.field("sched_switch", "prev_comm")
    assert {t.strings[int(c)] for c in comms} == {"prevtask"}
    _, names = t.field("irq_handler_entry", "name")
    assert [t.strings[int(c)] for c in names] == ["virtio0-req.0", "eth0"]
    _, bufs = t.field("print", "buf")
    assert t.strings[int(bufs[0])].startswith("hello from a synthetic")
    assert t.strings.decode(t["comm"])[0] == "synthproc"
    page = t.lost["source"] == LostSource.PAGE
    assert sorted(zip(t.lost["cpu"][page].tolist(), t.lost["count"][page].tolist())) == [
        (0, 42),
        (1, -1),
    ]
    if lay.retval:
        rows, ra = t.field("fgraph_retaddr_entry", "retaddr")
        assert len(rows) == 1 and int(ra[0]) & ((1 << 64) - 1) == KSYMS[8][0][0] + 0x40
        assert t["kind"][rows[0]] == EventKind.FG_ENTRY


def test_exit_offset_bug_on_32bit() -> None:
    lay = Layout(4, False, exit_bug=True)
    data, recs, _ = build(lay)
    t = parse_tracedat(Source("bug.dat", data))
    ex = [i for i, (_, r) in enumerate(recs) if r.kind == "funcgraph_exit"]
    for i in ex:
        assert t["calltime"][i] == recs[i][1].fields["calltime"]
        assert t["rettime"][i] == recs[i][1].fields["rettime"]
    assert any("packed offsets" in w.what for w in t.meta.warnings)


@pytest.mark.tracecmd
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_synthetic_matches_trace_cmd(name: str, tmp_path: Path) -> None:
    if shutil.which("trace-cmd") is None:
        pytest.skip("trace-cmd not installed")
    from test_tracedat_diff import compare

    data, recs, _ = build(LAYOUTS[name], date_us=0x10, offset_ns=5)
    p = tmp_path / f"synth_{name}.dat"
    p.write_bytes(data)
    stats = compare(p)
    assert stats["records"] == len(recs)
    assert stats["lost"] == 2


def test_timestamps_are_int64_views() -> None:
    data, recs, _ = build(LAYOUTS["le32"])
    t = parse_tracedat(Source("x.dat", data))
    assert t["ts"].dtype == np.int64 and (np.diff(t["ts"][t["cpu"] == 0]) >= 0).all()


def _mul_u64_u32_shr(a: int, mul: int, shift: int) -> int:
    """trace-input.c mul_u64_u32_shr(), with C's 64-bit wrap-around and its int mult."""
    m = (1 << 64) - 1
    if mul >= 1 << 31:
        mul = (mul - (1 << 32)) & m
    al, ah = a & 0xFFFFFFFF, a >> 32
    ret = ((al * mul) & m) >> shift
    if ah:
        ret = (ret + (((ah * mul) & m) << (32 - shift))) & m
    return ret


@pytest.mark.parametrize(
    ("name", "mult"), [("le64", 1_234_567_891), ("be32", 3_000_000_123), ("le32", 2_000_000_000)]
)
def test_tsc2nsec(name: str, mult: int, tmp_path: Path) -> None:
    lay = LAYOUTS[name]
    shift = 31
    data, recs, _ = build(lay, offset_ns=7, tsc=(mult, shift))
    t = parse_tracedat(Source("tsc.dat", data))
    assert t.meta.clock == "x86-tsc" and t.meta.options["TSC2NSEC"]["mult"] == mult
    want = [(_mul_u64_u32_shr(r.ts, mult, shift) + 7) & ((1 << 64) - 1) for _, r in recs]
    assert t["ts"].view(np.uint64).tolist() == want
    assert not any("not in nanoseconds" in w.what for w in t.meta.warnings)
    if shutil.which("trace-cmd"):
        from test_tracedat_diff import compare

        p = tmp_path / f"tsc_{name}.dat"
        p.write_bytes(data)
        assert compare(p)["records"] == len(recs)


def test_latency_trace_dat_goes_to_the_text_reader() -> None:
    """A v6 'latency' file carries the kernel's text output instead of ring-buffer pages."""
    pytest.importorskip("fgraph.parsers.ftrace_text")
    data, _, _ = build(LAYOUTS["le64"])
    text = (
        b"# tracer: function_graph\n#\n# CPU  DURATION                  FUNCTION CALLS\n"
        b"# |     |   |                     |   |   |   |\n"
        b" 0)               |  vfs_read() {\n 0)   0.500 us    |    rw_verify_area();\n 0)   2.000 us    |  }\n"
    )
    lat = data[: data.index(b"flyrecord\x00")] + b"latency  \x00" + text
    t = parse_tracedat(Source("lat.dat", lat))
    assert t.meta.format == "trace.dat" and "latency" in t.meta.detail and t.meta.version == 6
    assert {"funcgraph_entry", "funcgraph_exit"} <= set(t.events_per_type())
