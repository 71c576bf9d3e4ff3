"""Unit tests of the trace.dat reader's pieces: format files, flags tables, options, symbols,
bprint formatting, field gathers."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from fgraph.parsers.tracedat.bprint import format_bprint
from fgraph.parsers.tracedat.eventformat import (
    FormatError,
    FormatIndex,
    flags_table,
    parse_format,
    parse_header_page,
)
from fgraph.parsers.tracedat.fields import field_string, read_int, read_uint
from fgraph.parsers.tracedat.options import _int_auto, parse_cpustat, selected_clock
from fgraph.parsers.tracedat.symbols import parse_cmdlines, parse_kallsyms, parse_printk
from fgraph.table import StringPool

OLD_EXIT = """name: funcgraph_exit
ID: 9
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long func;\toffset:8;\tsize:8;\tsigned:0;
\tfield:unsigned long long calltime;\toffset:24;\tsize:8;\tsigned:0;
\tfield:unsigned long long rettime;\toffset:32;\tsize:8;\tsigned:0;
\tfield:unsigned long overrun;\toffset:16;\tsize:8;
\tfield:int depth;\toffset:40;\tsize:4;signed:1;

print fmt: "<-- %lx (%d) (start: %llx  end: %llx) over: %d", REC->func, REC->depth, REC->calltime, REC->rettime, REC->depth
"""


def test_format_out_of_order_missing_signed_and_untabbed() -> None:
    f = parse_format(OLD_EXIT, "ftrace")
    assert f.name == "funcgraph_exit" and f.id == 9 and f.system == "ftrace"
    assert [x.name for x in f.fields] == ["func", "calltime", "rettime", "overrun", "depth"]
    assert f.get("overrun").offset == 16 and f.get("overrun").size == 8
    assert f.get("overrun").signed is False  # no signed: → from the type
    assert f.get("depth").signed is True and f.get("depth").offset == 40
    assert f.get("common_pid").signed and f.min_size == 44


def test_format_arrays_data_loc_rel_loc_tails() -> None:
    text = (
        "name: x\nID: 7\nformat:\n"
        "\tfield:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:1;\n"
        "\tfield:__data_loc char[] name;\toffset:24;\tsize:4;\tsigned:1;\n"
        "\tfield:__rel_loc char[] rel;\toffset:28;\tsize:4;\tsigned:1;\n"
        "\tfield:unsigned long caller[8];\toffset:32;\tsize:64;\tsigned:0;\n"
        "\tfield:__data_loc unsigned long[] mask;\toffset:96;\tsize:4;\tsigned:0;\n"
        "\tfield:char buf[];\toffset:100;\tsize:0;\tsigned:1;\n"
    )
    f = parse_format(text)
    comm, name, rel, caller, mask, buf = f.fields
    assert comm.is_string and comm.array == "[TASK_COMM_LEN]"
    assert name.data_loc and name.is_string and rel.rel_loc and rel.is_string
    assert not caller.is_string and not caller.is_scalar
    assert mask.data_loc and not mask.is_string
    assert buf.dynamic and buf.is_string


def test_format_errors_and_lazy_index() -> None:
    with pytest.raises(FormatError):
        parse_format("no name here")
    idx = FormatIndex([("ftrace", OLD_EXIT), ("sys", "garbage without id")])
    assert idx.unreadable == 1 and 9 in idx and idx.get(9).name == "funcgraph_exit"
    assert idx.get(12345) is None
    assert "common_type" in idx.common()


def test_header_page_long_size() -> None:
    hp32 = (
        "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
        "\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
        "\tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;\n"
    )
    assert parse_header_page(hp32) == (4, 12, 4084)
    with pytest.raises(FormatError):
        parse_header_page("")


def test_flags_table_old_style() -> None:
    fmt = (
        '"prev_state=%s%s", REC->prev_state & (1024-1) ? __print_flags(REC->prev_state & (1024-1), "|", '
        '{ 1, "S"} , { 2, "D" }, { 4, "T" }, { 8, "t" }, { 16, "Z" }, { 32, "X" }, { 64, "x" }, { 128, "K" }, '
        '{ 256, "W" }, { 512, "P" }) : "R", REC->prev_state & 1024 ? "+" : ""'
    )
    t = flags_table(fmt, "prev_state")
    assert t is not None and t.mask == 1023 and t.plus_mask == 1024
    assert [t.render(v) for v in (0, 1, 3, 1024, 1026, 2048 + 1)] == [
        "R",
        "S",
        "S|D",
        "R+",
        "D+",
        "S",
    ]
    assert t.render(0x400 | 0x200 | 0x4000) == "P+"
    assert flags_table(fmt, "other") is None


def test_options_helpers() -> None:
    assert (
        _int_auto("0x10") == 16
        and _int_auto("010") == 8
        and _int_auto("-5") == -5
        and _int_auto("12abc") == 12
    )
    cpu, stats = parse_cpustat("CPU: 3\nentries: 1\noverrun: 7\ndropped events: 2\n")
    assert cpu == 3 and stats["overrun"] == "7" and stats["dropped events"] == "2"
    assert (
        selected_clock("local [global] counter") == "global"
        and selected_clock("[x86-tsc]\n") == "x86-tsc"
    )


def test_kallsyms_aliases_modules_and_skips() -> None:
    text = (
        "ffffffff81000000 T _stext\n"
        "ffffffff81000000 T startup_64\n"
        "0000000000001000 A absolute_thing\n"
        "ffffffff81000100 t $x\n"
        "ffffffff81000100 t real_b\t[mymod]\n"
        "ffffffff81000200 T last\n"
    )
    s = parse_kallsyms(text)
    assert len(s) == 4
    pool = StringPool()
    addrs = np.array(
        [0xFFFFFFFF81000000, 0xFFFFFFFF81000150, 0xFFFFFFFF81000200, 0xFFFFFFFF81000201, 5],
        dtype=np.uint64,
    )
    f, m = s.resolve(addrs, pool)
    names = [pool[int(x)] for x in f]
    assert names[1] == "real_b" and pool[int(m[1])] == "mymod"
    assert names[0] in ("_stext", "startup_64")
    assert names[2] == "last" and names[3] == "ffffffff81000201" and names[4] == "5"


def test_cmdlines_printk() -> None:
    assert parse_cmdlines("1 init\n42 kworker/0:1 extra\nbad\n") == {
        1: "init",
        42: "kworker/0:1 extra",
    }
    assert parse_printk('0xffff0000 : "hello %d\\n"\n') == {0xFFFF0000: "hello %d\n"}


def test_format_bprint() -> None:
    args = (
        struct.pack("<i", -3)
        + struct.pack("<I", 255)
        + b"abc\x00"
        + struct.pack("<Q", 1 << 40)
        + struct.pack("<I", 65)
    )
    s = format_bprint("a=%d b=%#x s=%s ll=%llu c=%c %%", args, 8, False, None)
    assert s == f"a=-3 b=0xff s=abc ll={1 << 40} c=A %"
    assert format_bprint(
        "%5d|%-4u|%08lx", struct.pack("<ii", 7, 9) + struct.pack("<Q", 0xAB), 8, False, None
    ) == ("    7|9   |000000ab")
    assert format_bprint("short %d %d", struct.pack("<i", 1), 8, False, None) == "short 1 %d"
    assert format_bprint("%pS", struct.pack(">I", 0x1234), 4, True, None) == "0x1234"


def test_gathers_big_endian_and_strings() -> None:
    mem = np.frombuffer(bytes(range(32)) + b"hello\x00\x00\x00" + b"xy\x00", dtype=np.uint8)
    offs = np.array([0, 4], dtype=np.int64)
    assert read_uint(mem, offs, 4, True).tolist() == [0x00010203, 0x04050607]
    assert read_int(mem, np.array([0]), 2, True, False).tolist() == [0x0100]
    neg = np.frombuffer(b"\xff\xfe", dtype=np.uint8)
    assert read_int(neg, np.array([0]), 2, True, True).tolist() == [-2]
    pool = StringPool()
    from fgraph.parsers.tracedat.eventformat import Field

    # a __data_loc at offset 0 of a record starting at 24: (len 3 << 16) | offset 8 → "xy"
    rec = bytearray(mem.tobytes())
    struct.pack_into("<I", rec, 24, (3 << 16) | 16)
    m2 = np.frombuffer(bytes(rec), dtype=np.uint8)
    dl = Field("name", "__data_loc char[]", 0, 4, True, "[]", data_loc=True)
    codes = field_string(m2, np.array([24]), np.array([19]), dl, False, pool)
    assert pool[int(codes[0])] == "xy"
    rl = Field("name", "__rel_loc char[]", 0, 4, True, "[]", rel_loc=True)
    struct.pack_into("<I", rec, 24, (3 << 16) | 12)  # relative to the end of the field (24 + 4)
    codes = field_string(
        np.frombuffer(bytes(rec), dtype=np.uint8), np.array([24]), np.array([19]), rl, False, pool
    )
    assert pool[int(codes[0])] == "xy"
    arr = Field("comm", "char", 0, 8, True, "[8]")
    codes = field_string(mem, np.array([32]), np.array([8]), arr, False, pool)
    assert pool[int(codes[0])] == "hello"
