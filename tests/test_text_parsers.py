"""Text readers on small fixtures: every line kind, column variant and report form."""

from __future__ import annotations

import gzip
import io
import lzma
import subprocess
import sys

import numpy as np
import pytest
from _textutil import dump_table
from conftest import FIXTURES, GOLDEN, check_golden

from fgraph.errors import TraceFormatError
from fgraph.parsers import KERNEL_TEXT, REPORT_TEXT, detect_format, parse
from fgraph.parsers.ftrace_text import parse_ftrace_text
from fgraph.parsers.report_text import parse_report_text
from fgraph.schema import EventFlag, EventKind, IrqCtx
from fgraph.source import Source, open_source
from fgraph.table import EventTable

TEXT = FIXTURES / "text"


def kparse(text: str) -> EventTable:
    return parse_ftrace_text(Source("<t>", text.encode()))


def rows(et, col):  # type: ignore[no-untyped-def]
    return et.strings.decode(et[col]).tolist()


def fg(et):  # type: ignore[no-untyped-def]
    k = et["kind"]
    return et.take((k == EventKind.FG_ENTRY) | (k == EventKind.FG_EXIT))


# ---- kernel text line kinds ------------------------------------------------------------------


def test_leaf_nested_and_bare_close() -> None:
    et = kparse(
        " 0)               |  vfs_read() {\n"
        " 0)   0.198 us    |    rw_verify_area();\n"
        " 0) + 11.719 us   |  }\n"
    )
    assert et["kind"].tolist() == [1, 1, 2, 2]
    assert rows(et, "func") == ["vfs_read", "rw_verify_area", "rw_verify_area", "vfs_read"]
    assert et["depth"].tolist() == [0, 1, 1, 0]
    assert et["duration"].tolist() == [-1, -1, 198, 11719]
    assert et["pos"].tolist() == [1, 2, 2, 3]
    ef = et["eflags"]
    assert ef[1] & EventFlag.TEXT_LEAF and ef[2] & EventFlag.TEXT_LEAF
    assert ef[3] & EventFlag.FUNC_FROM_DEPTH and not ef[3] & EventFlag.TEXT_TAIL
    assert not et.meta.ts_known and (et["ts"] == -1).all()
    assert et.meta.lines_unparsed == 0
    et.validate()


def test_bare_close_follows_the_kernels_per_cpu_rule() -> None:
    # The kernel prints a bare "}" only when the newest nested entry at that depth on that CPU
    # is the same function (enter_funcs[] in trace_functions_graph.c), even after other returns
    et = kparse(" 0)               |  a() {\n 0)   1.000 us    |  }\n 0)   2.000 us    |  }\n")
    assert rows(et, "func") == ["a", "a", "a"]
    # ... and a leaf at that depth clears it
    et = kparse(" 0)               |  a() {\n 0)   1.000 us    |  b();\n 0)   2.000 us    |  }\n")
    assert rows(et, "func") == ["a", "b", "b", None]


def test_report_bare_close_needs_an_open_entry_in_its_task() -> None:
    rec = "              sh-107   [000]    17.8632{:02d}: "
    text = (
        "cpus=1\n"
        + rec.format(1)
        + "funcgraph_entry:                   |  a() {\n"
        + "              ls-108   [000]    17.863202: funcgraph_entry:                   |  c() {\n"
        + rec.format(3)
        + "funcgraph_exit:         1.000 us   |  }\n"
        + rec.format(4)
        + "funcgraph_exit:         2.000 us   |  }\n"
        + "              ls-108   [000]    17.863205: funcgraph_exit:         2.000 us   |  }\n"
    )
    et = parse_report_text(Source("<t>", text.encode()))
    assert rows(et, "func") == ["a", "c", "a", None, "c"]


def test_abstime_proc_tail_leaf_exit_time_is_derived() -> None:
    et = kparse(
        "   17.863298 |   0)     sh-107     |               |  vfs_read() {\n"
        "   17.863436 |   0)     sh-107     |   2.244 us    |    rw_verify_area();\n"
        "   17.877755 |   0)     sh-107     | @ 14563.22 us |  } /* vfs_read */\n"
    )
    assert et["ts"].tolist() == [17863298000, 17863436000, 17863438244, 17877755000]
    assert et["pid"].tolist() == [107] * 4 and rows(et, "comm") == ["sh"] * 4
    assert et["eflags"][2] & EventFlag.TS_DERIVED
    assert et["eflags"][3] & EventFlag.TEXT_TAIL
    assert et["duration"][3] == 14563220
    assert et.meta.ts_known and et.meta.ts_resolution_ns == 1000
    assert et.meta.duration_resolution_ns == 10  # "14563.22" has 7 significant digits


def test_latency_flags_give_flags_preempt_and_irqctx() -> None:
    et = kparse(
        " 1)  dNs1. |   1.000 us    |  a();\n"
        " 1)  d.h2. |   1.000 us    |  b();\n"
        " 1)  ..Z.. |   1.000 us    |  c();\n"
        " 0)  ...1 |   1.000 us    |  d();\n"  # 4-letter flags (5.10)
    )
    assert et["irqctx"][::2].tolist() == [IrqCtx.SOFTIRQ, IrqCtx.HARDIRQ, IrqCtx.NMI, IrqCtx.TASK]
    assert et["flags"][0] == 0x01 | 0x04 | 0x20 | 0x10
    assert et["preempt"][::2].tolist() == [1, 2, 0, 1]


def test_no_latency_flags_means_unknown_context() -> None:
    et = kparse(" 0)   1.000 us    |  a();\n")
    assert (et["irqctx"] == -1).all() and (et["flags"] == -1).all()


def test_hand_irq_retval_fixture() -> None:
    et = parse(open_source(TEXT / "hand_irq_retval.txt"))
    assert et.meta.lines_unparsed == 0
    k = et["kind"].tolist()
    assert k.count(EventKind.IRQ_ARROW_IN) == 1 and k.count(EventKind.IRQ_ARROW_OUT) == 1
    funcs = rows(et, "func")
    mods = rows(et, "module")
    i = funcs.index("kill_moretime")
    assert mods[i] == "proc" and mods[funcs.index("test_proc_show")] == "proc"
    assert "0xffffffffc0a01234" in funcs and "update_rq_clock.part.77" in funcs
    assert "rcu_rdp_cpu_online.isra.0" in funcs
    # retvals: "/* = 0x0 */" on a leaf, "} /* f = -22 */", hex kept unsigned
    ex = (et["kind"] == EventKind.FG_EXIT) & ((et["eflags"] & EventFlag.HAS_RETVAL) != 0)
    got = dict(zip(et.strings.decode(et["func"][ex]).tolist(), et["retval"][ex].tolist()))
    assert got == {
        "kill_moretime": 0,
        "smp_apic_timer_interrupt": 0,
        "delay_tsc": -22,
        "update_rq_clock.part.77": 0xFFFFFFEA,
    }
    # overrun line belongs to the return above it
    j = np.flatnonzero(
        (et["kind"] == EventKind.FG_EXIT) & (et.strings.decode(et["func"]) == "delay_tsc")
    )[0]
    assert et["overrun"][j] == 3
    # '#'-marked return (>1 ms) and the 7-digit "$" duration
    assert 1_500_000 in et["duration"].tolist() and 3_594_274_000 in et["duration"].tolist()
    # lost lines → lost table (source TEXT) pointing at the next row of that CPU
    lost = et.lost
    assert lost["count"].tolist() == [42, -1] and lost["cpu"].tolist() == [1, 0]
    assert lost["pos"].tolist() == [19, 21] and (lost["source"] == 1).all()
    assert et["cpu"][lost["row"][1]] == 0
    assert any("lost-event" in w.what for w in et.meta.warnings)
    # trace_printk comment → PRINT with its text, sched_switch with fields (comm with a space)
    p = np.flatnonzero(et["kind"] == EventKind.PRINT)
    assert len(p) == 1 and et.strings[int(et.fields["print"].columns["buf"][0])] == "I'm a comment!"
    ss = et.fields["sched_switch"]
    assert et.strings[int(ss.columns["next_comm"][0])] == "Web Content"
    assert (
        ss.columns["prev_pid"].tolist() == [23]
        and et.strings[int(ss.columns["prev_state"][0])] == "I"
    )


def test_retaddr_args_fixture() -> None:
    et = parse(open_source(TEXT / "hand_retaddr_args.txt"))
    assert et.meta.lines_unparsed == 0
    assert rows(fg(et), "func")[:3] == ["pick_next_task", "pick_task_fair", "pick_task_fair"]
    ex = (et["kind"] == EventKind.FG_EXIT) & ((et["eflags"] & EventFlag.HAS_RETVAL) != 0)
    got = dict(zip(et.strings.decode(et["func"][ex]).tolist(), et["retval"][ex].tolist()))
    assert got["pick_task_fair"] == 0 and got["set_cpus"] == -22
    assert got["pick_next_task"] == np.int64(np.uint64(0xFFFF888007949BC0).astype(np.int64))
    # "ret=true" (BTF-typed printing) is kept as not-a-number; "<-caller" alone has no retval
    assert "rcu_lockdep_current_cpu_online" not in got and "do_nothing" not in got


def test_pipe_banners_give_pid_and_comm() -> None:
    et = parse(open_source(TEXT / "hand_pipe_banners.txt"))
    assert et.meta.lines_unparsed == 0
    by_func = dict(zip(rows(et, "func"), zip(et["pid"].tolist(), rows(et, "comm"))))
    # before a CPU's first banner: the banner's left-hand task
    assert by_func["first_on_cpu0"] == (107, "sh")
    assert by_func["vfs_read"] == (302, "cat")
    assert by_func["idle_func"] == (0, "<idle>")
    assert by_func["worker_func"] == (1635, "kworke")


def test_nocontext_and_noduration_lines() -> None:
    et = kparse("mutex_unlock();\n  kmem_cache_alloc() {\n    __cond_resched();\n  }\n")
    assert rows(et, "func") == ["mutex_unlock"] * 2 + ["kmem_cache_alloc"] + [
        "__cond_resched"
    ] * 2 + ["kmem_cache_alloc"]
    assert et["depth"].tolist() == [0, 0, 1, 2, 2, 1]
    assert (et["duration"] == -1).all() and (et["cpu"] == -1).all()
    et = kparse(" 1)       alloc_empty_file() {\n 1)         __cond_resched();\n 1)       }\n")
    assert et["depth"].tolist() == [3, 4, 4, 3] and (et["cpu"] == 1).all()


def test_nocpu_hash_marked_return_is_not_a_header() -> None:
    et = kparse("              |  a() {\n# 1022.641 us |  }\n")
    assert et["duration"].tolist() == [-1, 1022641]


def test_thresh_returns_only() -> None:
    et = kparse(" 0) ! 232.914 us  |            } /* free_swap_cache */\n")
    assert et["kind"].tolist() == [2] and rows(et, "func") == ["free_swap_cache"]
    assert et["depth"].tolist() == [5] and et["eflags"][0] & EventFlag.TEXT_TAIL


def test_comment_events_irq_softirq_wakeup_fields() -> None:
    et = kparse(
        " 1)               |  /* softirq_entry: vec=1 [action=TIMER] */\n"
        " 1)               |  /* sched_wakeup: comm=rcu_preempt pid=15 prio=120 target_cpu=001 */\n"
        " 1)               |  /* irq_handler_entry: irq=4 name=ttyS0 */\n"
        " 1)               |  /* irq_handler_exit: irq=4 ret=handled */\n"
        " 1)               |  /* sched_migrate_task: comm=rcu_preempt pid=15 prio=120 orig_cpu=1 dest_cpu=0 */\n"
        " 1)               |  /* block_rq_issue: 254,0 RA 262144 () 26624 + 512 [cat] */\n"
    )
    assert et["kind"].tolist() == [7, 4, 5, 6, 12, 0]
    assert rows(et, "event")[-1] == "block_rq_issue"
    assert et.fields["softirq_entry"].columns["vec"].tolist() == [1]
    w = et.fields["sched_wakeup"].columns
    assert (w["pid"].tolist(), w["prio"].tolist(), w["target_cpu"].tolist()) == ([15], [120], [1])
    assert et.fields["irq_handler_exit"].columns["ret"].tolist() == [1]
    assert et.strings[int(et.fields["irq_handler_entry"].columns["name"][0])] == "ttyS0"
    assert et.fields["sched_migrate_task"].columns["dest_cpu"].tolist() == [0]


def test_unparsed_lines_are_counted_with_examples() -> None:
    et = kparse(" 0)   1.000 us    |  a();\nthis is prose\n 0)   1.000 us    |  b();\n")
    assert et.meta.lines_unparsed == 1 and et.meta.unparsed_examples == [(2, "this is prose")]
    assert any("not understood" in w.what for w in et.meta.warnings)


def test_not_function_graph_is_refused() -> None:
    with pytest.raises(TraceFormatError):
        parse(open_source(TEXT / "not_graph.txt"))
    with pytest.raises(TraceFormatError):
        kparse("hello\nworld\n")
    with pytest.raises(TraceFormatError):
        parse_report_text(Source("<t>", b"hello\n"))


def test_detect_format() -> None:
    assert detect_format((TEXT / "hand_pipe_banners.txt").read_bytes()) == KERNEL_TEXT
    assert detect_format((TEXT / "hand_irq_retval.txt").read_bytes()) == KERNEL_TEXT
    assert detect_format((TEXT / "hand_report.txt").read_bytes()) == REPORT_TEXT
    assert detect_format((TEXT / "hand_report_l.txt").read_bytes()) == REPORT_TEXT


# ---- trace-cmd report ------------------------------------------------------------------------


def test_report_fixture() -> None:
    et = parse(open_source(TEXT / "hand_report.txt"))
    assert et.meta.format == "trace-cmd-report" and et.meta.lines_unparsed == 0
    assert et.meta.ncpus == 2
    f = fg(et)
    assert rows(f, "func") == [
        "vfs_read",
        "rw_verify_area",
        "rw_verify_area",
        "vfs_read",
        "mutex_unlock",
        "mutex_unlock",
    ]
    assert f["ts"][2] == 17863436000 + 2244 and f["eflags"][2] & EventFlag.TS_DERIVED
    assert f["retval"][3] == -4 and f["eflags"][3] & EventFlag.HAS_RETVAL
    assert f["retval"][2] == 0 and f["eflags"][2] & EventFlag.HAS_RETVAL
    assert rows(f, "comm")[-1] == "kworker/u4:2-events" and f["pid"][-1] == 55
    assert f["irqctx"][0] == IrqCtx.TASK and f["preempt"][1] == 1
    assert et.lost["count"].tolist() == [-1, 12] and et.lost["cpu"].tolist() == [0, 1]
    ss = et.fields["sched_switch"].columns
    assert et.strings[int(ss["prev_comm"][0])] == "swapper/1" and ss["next_pid"].tolist() == [15]
    assert et.strings[int(ss["prev_state"][0])] == "R"
    assert et.fields["sched_wakeup"].columns["target_cpu"].tolist() == [1]


def test_report_l_and_ns_timestamps() -> None:
    et = parse(open_source(TEXT / "hand_report_l.txt"))
    assert et.meta.lines_unparsed == 0 and et.meta.ts_resolution_ns == 1
    assert et["cpu"].tolist() == [0, 0, 0, 0, 1]
    assert et["ts"][:2].tolist() == [1464179964000, 1464179966123]
    assert et["irqctx"].tolist() == [2, 2, 2, 2, 1]
    assert rows(et, "func")[:4] == ["do_IRQ", "irq_enter", "irq_enter", "do_IRQ"]


# ---- input handling --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_compressed_input(kind: str) -> None:
    raw = (TEXT / "hand_irq_retval.txt").read_bytes()
    if kind == "gzip":
        data = gzip.compress(raw)
    elif kind == "xz":
        data = lzma.compress(raw)
    else:
        zstandard = pytest.importorskip("zstandard")
        data = zstandard.ZstdCompressor().compress(raw)
    et = parse(open_source(io.BytesIO(data)))
    ref = parse(open_source(raw))
    assert et["func"].tolist() == ref["func"].tolist() and len(et) == len(ref) > 0


def test_stdin_input() -> None:
    code = (
        "from fgraph.pipeline import read_events; et = read_events('-'); "
        "print(len(et), et.meta.format, et.meta.path)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=(TEXT / "hand_report.txt").read_bytes(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert out.split() == ["9", "trace-cmd-report", "<stdin>"]


def test_no_trailing_newline_and_crlf() -> None:
    et = kparse(" 0)   1.000 us    |  a();\r\n 0)   2.000 us    |  b();")
    assert rows(et, "func") == ["a", "a", "b", "b"] and et.meta.lines_unparsed == 0


# ---- golden dumps of the hand-made and committed public fixtures -----------------------------

GOLDEN_FIXTURES = [
    "hand_irq_retval.txt",
    "hand_retaddr_args.txt",
    "hand_pipe_banners.txt",
    "hand_report.txt",
    "hand_report_l.txt",
    "funcgraph_example.txt",
    "funcslower_example.txt",
    "ping_ftrace_set_event_report.txt",
    "ftrace.rst.function_graph-section.txt",
]


@pytest.mark.parametrize("name", GOLDEN_FIXTURES)
def test_golden_fixture(name: str, update_golden: bool) -> None:
    et = parse(open_source(TEXT / name))
    et.validate()
    check_golden(
        GOLDEN / "text" / (name.rsplit(".", 1)[0] + ".csv"), dump_table(et, 150), update_golden
    )


# ---- damaged input -------------------------------------------------------------------------


def test_invalid_utf8_is_read_with_a_warning() -> None:
    et = kparse(" 0)   1.000 us    |  f\u00e9oo();\n")  # valid UTF-8 is kept as is
    assert et.meta.lines_unparsed == 0 and rows(et, "func")[0] == "f\u00e9oo"
    raw = b" 0)   1.000 us    |  f\xffoo();\n 0)   2.000 us    |  g();\n"
    et = parse_ftrace_text(Source("<t>", raw))
    assert rows(et, "func") == ["f?oo", "f?oo", "g", "g"]
    assert any("UTF-8" in w.what for w in et.meta.warnings)


def test_randomly_damaged_text_never_crashes() -> None:
    import random

    from fgraph.errors import FgraphError

    rng = random.Random(7)
    kernel = (TEXT / "hand_irq_retval.txt").read_bytes() * 20
    report = (TEXT / "hand_report.txt").read_bytes() * 20
    for i in range(60):
        src = kernel if i % 2 else report
        b = bytearray(src)
        for _ in range(rng.choice([3, 30, 300])):
            b[rng.randrange(len(b))] = rng.randrange(256)
        for fn in (parse_ftrace_text, parse_report_text):
            try:
                et = fn(Source("<damaged>", bytes(b)))
            except FgraphError:
                continue
            et.validate()
            assert et.meta.lines_total == bytes(b).count(b"\n") + (not bytes(b).endswith(b"\n"))
