"""The benchmark inputs are what they claim to be, and bench/run works (issue 7).

The generators repeat real ring-buffer pages / text lines with shifted times; trace-cmd (the
oracle) must read the generated trace.dat and print every copy's records, identical to the
template's apart from the time shift.  ``bench/run --quick`` must run end to end.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, VM61, corpus_file, tracecmd

sys.path.insert(0, str(ROOT / "bench"))

import gen_text  # noqa: E402
import gen_tracedat  # noqa: E402

# trace-cmd report -R: "comm-pid [cpu] secs.usecs: event: raw fields"
_RAW = re.compile(r"^\s*(.+?)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(\S+):\s*(.*)$")


def _report_raw(path: Path) -> list[tuple[int, int, str, str]]:
    """(cpu, ts µs, event, fields) of every record, as trace-cmd report -R prints them."""
    out = subprocess.run(
        [tracecmd(), "report", "-R", str(path)], capture_output=True, text=True, check=True
    )
    recs = []
    for ln in out.stdout.splitlines():
        m = _RAW.match(ln)
        if m:
            recs.append(
                (
                    int(m.group(2)),
                    int(m.group(3)) * 10**6 + int(m.group(4)),
                    m.group(5),
                    m.group(1) + " " + m.group(6),
                )
            )
    return recs


@pytest.mark.tracecmd
@pytest.mark.parametrize("fmt", ["v7", "v7zstd", "v6"])
def test_generated_tracedat_is_read_by_tracecmd(tmp_path: Path, fmt: str) -> None:
    template = corpus_file("vm61/btrfs_read.dat")
    out = tmp_path / f"gen.{fmt}.dat"
    r = gen_tracedat.generate(str(template), str(out), copies=3, fmt=fmt)
    base = _report_raw(template)
    gen = _report_raw(out)
    assert r.events_per_copy == len(base)  # the page walk counts what trace-cmd prints
    assert len(gen) == r.events == 3 * len(base)

    # Per CPU, copy k is the template's record sequence with every time moved by k*span:
    # the record time (page header / TIME_STAMP) and funcgraph_exit's calltime/rettime fields.
    def per_cpu(recs):  # type: ignore[no-untyped-def]
        d = defaultdict(list)
        for cpu, ts, ev, fields in recs:
            d[cpu].append((ts, ev, fields))
        return d

    b, g = per_cpu(base), per_cpu(gen)
    assert set(b) == set(g)
    span_us = r.span_ns / 1000
    for cpu in b:
        n = len(b[cpu])
        assert len(g[cpu]) == 3 * n
        for k in range(3):
            part = g[cpu][k * n : (k + 1) * n]
            assert [e for _, e, _ in part] == [e for _, e, _ in b[cpu]]
            dts = np.array([t for t, _, _ in part]) - np.array([t for t, _, _ in b[cpu]])
            assert np.all(np.abs(dts - k * span_us) <= 1)  # µs rounding of the printed time
            for (_, ev, f_gen), (_, _, f_base) in zip(part[:50], b[cpu][:50]):
                if ev == "funcgraph_exit":
                    ct_g = int(re.search(r"calltime=(\w+)", f_gen).group(1), 16)  # type: ignore[union-attr]
                    ct_b = int(re.search(r"calltime=(\w+)", f_base).group(1), 16)  # type: ignore[union-attr]
                    assert ct_g - ct_b == k * r.span_ns
                else:
                    assert f_gen == f_base


def _page(records: list[bytes], page_ts: int, sub_size: int = 4096) -> bytes:
    data = b"".join(records)
    page = struct.pack("<QQ", page_ts, len(data)) + data
    return page + b"\0" * (sub_size - len(page))


def test_time_stamp_records_are_shifted() -> None:
    """type_len 31 (absolute 59-bit stamp) must move with the copy; deltas must not."""
    big_ts = (3 << 27) + 12345  # needs both halves of the stamp

    def data(delta: int) -> bytes:  # an 8-byte payload data record (type_len 2)
        return struct.pack("<I", (delta << 5) | 2) + struct.pack("<HBBi", 7, 0, 0, 1)

    def stamp(ts: int) -> bytes:
        return struct.pack("<II", ((ts & gen_tracedat.TS_MASK) << 5) | 31, ts >> 27)

    raw = _page([data(0), stamp(big_ts), data(5), data(7)], page_ts=1000)
    info = gen_tracedat.walk_pages(raw, 4096, "<", 8, 16, {})
    assert info.events == 3 and info.first_ts == 1000 and info.last_ts == big_ts + 12
    assert list(info.abs_val) == [big_ts]
    shift = (5 << 27) + 999
    moved = gen_tracedat.shifted_pages(info, shift, "<").tobytes()
    again = gen_tracedat.walk_pages(moved, 4096, "<", 8, 16, {})
    assert (again.first_ts, again.last_ts, again.events) == (1000 + shift, big_ts + 12 + shift, 3)
    assert list(again.abs_val) == [big_ts + shift]


def test_generated_text_shifts_abstime(tmp_path: Path) -> None:
    template = corpus_file("vm61/btrfs_read.abstime_proc_tail.txt")
    out = tmp_path / "big.txt"
    r = gen_text.generate(str(template), str(out), copies=3)
    assert r.abstime
    src = template.read_text().splitlines()
    gen = out.read_text().splitlines()
    header = [ln for ln in src if ln.startswith("#")]
    body = src[len(header) :]
    assert len(gen) == r.lines == len(header) + 3 * len(body)
    assert gen[: len(header)] == header
    tre = re.compile(r"^( *)(\d+)\.(\d{6}) \|(.*)$")
    for k in range(3):
        part = gen[len(header) + k * len(body) : len(header) + (k + 1) * len(body)]
        for a, b in zip(body, part):
            ma, mb = tre.match(a), tre.match(b)
            if ma is None:
                assert a == b
                continue
            assert mb is not None and ma.group(4) == mb.group(4)
            ta = int(ma.group(2)) * 10**6 + int(ma.group(3))
            tb = int(mb.group(2)) * 10**6 + int(mb.group(3))
            assert tb - ta == k * r.span_us


def test_bench_run_quick() -> None:
    corpus_file("vm61/fsync.dat")
    assert VM61.exists()
    p = subprocess.run(
        [str(ROOT / "bench" / "run"), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert p.returncode == 0, p.stderr
    for target in (
        "P1 trace.dat hist",
        "P1 trace.dat hist (zstd)",
        "P2 text end to end",
        "P3 peak RSS / size",
        "P3 stdin / gzip",
        "cold fgraph --help",
    ):
        assert f"| {target} |" in p.stdout
    assert "trace-cmd report" in p.stdout and "python re loop" in p.stdout


@pytest.mark.tracecmd
@pytest.mark.parametrize(
    "rel", ["vm61/btrfs_read.v6.dat", "vm61/btrfs_read.v7none.dat", "vm61/lost.dat"]
)
def test_generator_templates(tmp_path: Path, rel: str) -> None:
    """v6 and uncompressed templates read too; pages with lost-event flags keep them per copy."""
    template = corpus_file(rel)
    out = tmp_path / "gen.dat"
    r = gen_tracedat.generate(str(template), str(out), copies=2, fmt="v7zstd")

    def report(p: Path) -> tuple[int, int]:
        txt = subprocess.run(
            [tracecmd(), "report", "-R", str(p)], capture_output=True, text=True, check=True
        ).stdout
        return sum(1 for ln in txt.splitlines() if _RAW.match(ln)), txt.count("EVENTS DROPPED]")

    (n0, lost0), (n1, lost1) = report(template), report(out)
    assert r.events_per_copy == n0 and n1 == 2 * n0
    assert lost1 == 2 * lost0
    if rel.startswith("vm61/lost"):
        assert lost0 > 0
