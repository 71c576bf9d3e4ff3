"""Damaged text traces (issue 8): garbage lines, binary junk, CRLF, empty input, lines of
several CPUs out of order, truncation mid-line.  Everything is handled, counted and reported.

Seeds: tests/fuzz/seeds/ (600-line excerpts of the vm61 captures: kernel text with several
option sets, trace-cmd report text).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))

import fuzzlib  # noqa: E402

pytest.importorskip("fgraph.parsers.ftrace_text")
pytest.importorskip("fgraph.parsers.report_text")

from fgraph.errors import FgraphError, TraceFormatError  # noqa: E402
from fgraph.pipeline import read_events  # noqa: E402
from fgraph.table import EventTable  # noqa: E402

KERNEL = ["btrfs.txt", "btrfs.abstime_proc_tail.txt", "btrfs.latency.txt", "lost_pipe.txt"]
REPORT = ["btrfs.report.txt", "lost.report.txt"]
ALL = KERNEL + REPORT
COLS = ("ts", "cpu", "pid", "kind", "func", "depth", "duration", "irqctx")


def _seed(name: str) -> bytes:
    return (fuzzlib.SEEDS / name).read_bytes()


def _same_events(a: EventTable, b: EventTable, what: str) -> None:
    assert len(a) == len(b), f"{what}: {len(a)} != {len(b)} events"
    for c in COLS:
        if c == "func":
            assert list(a.strings.decode(a[c])) == list(b.strings.decode(b[c])), f"{what}: func"
        else:
            assert np.array_equal(a[c], b[c]), f"{what}: column {c} differs"


def _rebuild_ok(t: EventTable) -> tuple[object, object]:
    rec = pytest.importorskip("fgraph.reconstruct")
    calls, q = rec.rebuild(t)
    assert q.events_unaccounted == 0
    calls.validate()
    return calls, q


def _insert(data: bytes, at: int, new: list[bytes]) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[:at] + new + lines[at:])


GARBAGE = [
    b"garbage here\n",
    b"this is not a trace line at all: 12.34 us | {\n",
    b"\x01\x02binary\x7f\x1b[0m\n",
    b"  0)   1.234 us    |  " + b"x" * 5000 + b"\n",
]


@pytest.mark.parametrize("seed", ALL)
def test_garbage_lines_are_counted_with_their_line_numbers(seed: str) -> None:
    data = _seed(seed)
    base = read_events(data)
    at = [150, 300, 301]
    out = data
    for k, a in enumerate(at):  # insert at increasing positions: line numbers shift by k
        out = _insert(out, a + k, [GARBAGE[k % len(GARBAGE)]])
    t = read_events(out)
    assert t.meta.lines_unparsed == base.meta.lines_unparsed + len(at)
    numbers = {n for n, _ in t.meta.unparsed_examples}
    assert {a + k + 1 for k, a in enumerate(at)} <= numbers  # 1-based line numbers
    assert any("not understood" in str(w) or "unparsed" in str(w) for w in t.meta.warnings)
    # the records around the garbage are read as before
    assert len(t) == len(base)
    for c in ("cpu", "pid", "kind", "depth", "duration"):
        assert np.array_equal(t[c], base[c]), c
    _rebuild_ok(t)


@pytest.mark.parametrize("seed", ALL)
def test_every_kind_of_garbage_line_is_counted(seed: str) -> None:
    data = _seed(seed)
    base = read_events(data)
    out = _insert(data, 200, GARBAGE)
    t = read_events(out)
    assert t.meta.lines_unparsed == base.meta.lines_unparsed + len(GARBAGE)
    assert len(t) == len(base)


@pytest.mark.parametrize("seed", ALL)
def test_crlf_line_ends_give_the_same_events(seed: str) -> None:
    data = _seed(seed)
    base = read_events(data)
    t = read_events(data.replace(b"\n", b"\r\n"))
    _same_events(base, t, "crlf")
    assert t.meta.lines_unparsed == base.meta.lines_unparsed
    # a lone CR at the very end, and a file without a final newline
    t2 = read_events(data.rstrip(b"\n") + b"\r")
    assert abs(len(t2) - len(base)) <= 2


@pytest.mark.parametrize("seed", ALL)
def test_printable_binary_junk_in_the_middle_is_counted(seed: str) -> None:
    """A block of junk (NUL bytes and control characters, valid UTF-8) after the header."""
    data = _seed(seed)
    base = read_events(data)
    rng = np.random.default_rng(3)
    junk = bytes(rng.integers(0, 0x7F, 3000, dtype=np.uint8).tolist())
    lines = data.splitlines(keepends=True)
    out = b"".join(lines[:250]) + junk + b"\n" + b"".join(lines[250:])
    t = read_events(out)
    assert t.meta.lines_unparsed > base.meta.lines_unparsed
    assert len(t) >= len(base) - 4  # at most the record the junk's last line ran into
    _rebuild_ok(t)


# Found by the fuzzing (ArrowInvalid on non-UTF-8 bytes), fixed by the text readers.


@pytest.mark.parametrize("seed", ["btrfs.txt", "btrfs.report.txt"])
def test_non_utf8_bytes_are_counted_not_fatal(seed: str) -> None:
    data = _seed(seed)
    base = read_events(data)
    t = read_events(_insert(data, 100, [b"\xff\xfe\xfd junk\n", b"  0)  caf\xc3\n"]))
    assert t.meta.lines_unparsed == base.meta.lines_unparsed + 2
    assert len(t) == len(base)


def test_non_utf8_reproducer_file_is_refused_or_read() -> None:
    p = fuzzlib.CRASHES / "text-invalid-utf8.txt"
    try:
        read_events(p)
    except FgraphError:
        pass
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"crash: {type(exc).__name__}: {exc}")


# Found by the fuzzing (ArrowInvalid on numbers wider than int64), fixed by the text readers.


@pytest.mark.parametrize(
    "line",
    [
        b" 0) ! 99999999999999999999999.123 us |  }\n",
        b" 0)   1.234 us    |  f();\n",  # control: an ordinary leaf
        b" 0) ! 4294967296.000 us |  }\n",  # 49 days: fits int64 ns
        b"CPU:0 [LOST 99999999999999999999999 EVENTS]\n",
        b"CPU:0 [LOST 18446744073709551615 EVENTS]\n",
        b"CPU:0 [LOST 9223372036854775807 EVENTS]\n",
    ],
)
def test_absurd_numbers_are_counted_or_clamped_not_fatal(line: bytes) -> None:
    data = _seed("btrfs.txt")
    t = read_events(_insert(data, 100, [line]))
    _rebuild_ok(t)


def test_empty_inputs_are_one_clean_error(tmp_path: Path) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(TraceFormatError, match="empty"):
        read_events(p)
    with pytest.raises(TraceFormatError, match="empty"):
        read_events(b"")


@pytest.mark.parametrize(
    "text",
    [
        b"\n\n\n",
        b"   \r\n\t\n",
        b"# tracer: function_graph\n#\n",
        b"# tracer: function_graph\n#\n# CPU  DURATION                  FUNCTION CALLS\n"
        b"# |     |   |                     |   |   |   |\n",
        b"cpus=2\n",
    ],
)
def test_inputs_without_records_are_refused_or_empty(text: bytes) -> None:
    try:
        t = read_events(text)
    except FgraphError as exc:
        assert "\n" not in str(exc).strip()
        return
    assert len(t) == 0
    calls, q = _rebuild_ok(t)
    assert len(calls) == 0  # type: ignore[arg-type]


def _cpu_of(line: bytes) -> int | None:
    m = (
        re.match(rb"^\s*CPU:(\d+)\s", line)
        or re.match(rb"^\s*\S.*?\[(\d+)\]\s", line)
        or re.match(rb"^\s*(?:\d+\.\d+\s+\|\s+)?(\d+)\)", line)
    )
    return int(m.group(1)) if m else None


def _calls_key(t: EventTable) -> Counter[tuple[object, ...]]:
    calls, _ = _rebuild_ok(t)
    c = calls  # type: ignore[assignment]
    par = c["parent_id"]  # type: ignore[index]
    pf = np.where(par >= 0, c["func"][np.clip(par, 0, None)], -1)  # type: ignore[index]
    dec = c.strings.decode  # type: ignore[attr-defined]
    return Counter(
        zip(
            c["pid"].tolist(),  # type: ignore[index]
            dec(c["func"]).tolist(),  # type: ignore[index]
            c["ts_entry"].tolist(),  # type: ignore[index]
            c["duration"].tolist(),  # type: ignore[index]
            c["depth"].tolist(),  # type: ignore[index]
            dec(pf).tolist(),
            c["flags"].tolist(),  # type: ignore[index]
        )
    )


@pytest.mark.parametrize(
    "seed", ["btrfs.report.txt", "lost.report.txt", "btrfs.abstime_proc_tail.txt"]
)
def test_cpus_lines_out_of_order_give_the_same_calls(seed: str) -> None:
    """All of CPU 0's lines, then all of CPU 1's (each CPU in order), as a per-CPU capture
    concatenated: with timestamps in the text the rebuild merges them back."""
    data = _seed(seed)
    lines = data.splitlines(keepends=True)
    cpus = [_cpu_of(ln) for ln in lines]
    assert len({c for c in cpus if c is not None}) >= 2
    head = [ln for ln, c in zip(lines, cpus) if c is None]
    body = [
        ln
        for c0 in sorted({c for c in cpus if c is not None})
        for ln, c in zip(lines, cpus)
        if c == c0
    ]
    a = _calls_key(read_events(data))
    b = _calls_key(read_events(b"".join(head + body)))
    assert a == b, f"{len(a - b)} calls differ"


@pytest.mark.parametrize("seed", ALL)
def test_text_cut_anywhere_keeps_the_lines_before_the_cut(seed: str) -> None:
    data = _seed(seed)
    full = read_events(data)
    rng = np.random.default_rng(5)
    first = data.index(b"\n", data.index(b"(") if b"(" in data else 0)
    for cut in sorted(set(rng.integers(first, len(data), 25).tolist())):
        part = data[:cut]
        complete = part.count(b"\n")  # lines 1..complete are whole
        try:
            t = read_events(part)
        except FgraphError:
            continue  # a cut before the first record line may leave nothing recognizable
        keep_full = full["pos"] <= complete
        keep_t = t["pos"] <= complete
        assert np.array_equal(full["pos"][keep_full], t["pos"][keep_t]), f"cut {cut}"
        assert np.array_equal(full["kind"][keep_full], t["kind"][keep_t]), f"cut {cut}"
        _rebuild_ok(t)


def test_one_line_megabytes_long_is_counted() -> None:
    data = _seed("btrfs.txt")
    base = read_events(data)
    t = read_events(_insert(data, 100, [b"x" * 3_000_000 + b"\n"]))
    assert t.meta.lines_unparsed == base.meta.lines_unparsed + 1
    assert len(t) == len(base)
