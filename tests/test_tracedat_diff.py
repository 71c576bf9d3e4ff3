"""Differential tests: fgraph's trace.dat reader against ``trace-cmd report -t -R``.

For every trace.dat of the corpus and of tests/fixtures: the same records per (buffer, CPU) in
the same ring-buffer order, equal ns timestamps, pid, comm, event name, every decoded field
(raw values as trace-cmd prints them with -R), funcgraph function names, and the same
lost-event markers.  The time order across CPUs then follows (a stable sort by ts).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, FIXTURES, GOLDEN, tracecmd

from fgraph.parsers.tracedat import parse_tracedat
from fgraph.parsers.tracedat.eventformat import flags_table, parse_format
from fgraph.parsers.tracedat.header import read_container
from fgraph.schema import LostSource
from fgraph.source import open_source

pytestmark = [pytest.mark.tracecmd]

CORPUS_DATS = [
    "vm61/btrfs_read.dat",
    "vm61/btrfs_read.v6.dat",
    "vm61/btrfs_read.v7none.dat",
    "vm61/fsync.dat",
    "vm61/lost.dat",
    "vm61/smp4_instances.dat",
    "vm61/system.dat",
    "vm61/thresh.dat",
    "vm61/variants/variants.dat",
    "public/LanGraph/trace.dat",
    "public/hebel23-driver/trace.dat",
    "public/trappy/trace.dat",
    "public/trappy/trace_idle.dat",
]

_LINE = re.compile(
    r"^(?:(?P<buf>\S+): )?\s*(?P<comm>.*)-(?P<pid>-?\d+)\s+\[(?P<cpu>\d+)\]\s+(?P<ts>\d+(?:\.\d+)?): (?P<event>[\w:.-]+):\s?(?P<rest>.*)$"
)
_DROP = re.compile(r"^(?:(?P<buf>\S+): )?\s*CPU:(?P<cpu>\d+) \[(?:(?P<n>\d+) )?EVENTS DROPPED\]")


def report_text(path: Path) -> str:
    """``trace-cmd report -t -R`` of ``path``; a stored golden output when there is one.

    Debian's trace-cmd is built without zlib, so the zlib fixture's report was produced once
    with a zlib-enabled build of trace-cmd 3.1.6 and stored in tests/golden/.
    """
    golden = GOLDEN / f"{path.stem}.report.txt"
    if path.parent == FIXTURES and golden.exists():
        return golden.read_text()
    return subprocess.run(
        [tracecmd(), "report", "-t", "-R", str(path)], capture_output=True, check=True
    ).stdout.decode("utf-8", errors="replace")


def report(path: Path, tries: int = 4) -> tuple[dict, dict]:
    """Records per (buffer name, cpu) and dropped-event markers per (buffer, cpu).

    trace-cmd 3.1.6 still garbles a line now and then under the conftest wrapper (its read of
    uninitialized memory, ``conftest.tracecmd``: a fresh-clone CI run printed
    ``<idle>-0 [003]7615709442088: bprint: ...`` for public/trappy/trace.dat, which the next
    six runs printed right): a report with a line that does not parse is asked for again, up
    to ``tries`` times.  fgraph's side is deterministic, so this retries only the oracle."""
    for _attempt in range(tries - 1):
        with contextlib.suppress(AssertionError):
            return _report_once(path)
    return _report_once(path)


def _report_once(path: Path) -> tuple[dict, dict]:
    out = report_text(path)
    recs: dict[tuple[str, int], list[tuple]] = defaultdict(list)
    drops: dict[tuple[str, int], list[int]] = defaultdict(list)
    for line in out.splitlines():
        if line.startswith("cpus=") or not line.strip():
            continue
        m = _DROP.match(line)
        if m:
            key = (m["buf"] or "", int(m["cpu"]))
            drops[key].append(len(recs[key]))
            continue
        m = _LINE.match(line)
        assert m, f"unparsed report line: {line!r}"
        ts = m["ts"]
        t = int(ts.replace(".", "")) if "." in ts else int(ts)
        recs[(m["buf"] or "", int(m["cpu"]))].append(
            (t, int(m["pid"]), m["comm"].strip(), m["event"], m["rest"].strip())
        )
    return recs, drops


def _int_matches(text: str, value: int, size: int = 8) -> bool:
    """trace-cmd -R prints ints in decimal, %03d, 0x-hex or bare hex (u64 calltime)."""
    text = text.strip()
    mask = (1 << (8 * size)) - 1
    cands = []
    with contextlib.suppress(ValueError):
        cands.append(int(text, 0) if text.startswith(("0x", "-0x")) else int(text, 10))
    with contextlib.suppress(ValueError):
        cands.append(int(text, 16))
    return any((c & mask) == (value & mask) for c in cands)


def _split_fields(rest: str, names: list[str]) -> dict[str, str] | None:
    pat = "^" + " ".join(re.escape(n) + "=(.*?)" for n in names) + "$"
    m = re.match(pat, rest)
    if m is None:
        return None
    return dict(zip(names, m.groups()))


def compare(path: Path) -> dict[str, int]:
    table = parse_tracedat(open_source(path))
    recs, drops = report(path)
    cont = read_container(open_source(path).data, str(path))
    formats = {}
    for system, text in [("ftrace", t) for t in cont.ftrace_formats] + cont.event_formats:
        f = parse_format(text, system)
        formats.setdefault(f.name, f)
    pool = table.strings
    names = table.meta.buffers
    ts = table["ts"]
    cpu = table["cpu"]
    buf = table["buf"]
    pid = table["pid"]
    comm = pool.decode(table["comm"])
    event = pool.decode(table["event"])
    func = pool.decode(table["func"])
    # row → (event name, field name) → value, for the non-funcgraph field tables
    field_vals: dict[str, dict[str, np.ndarray]] = {}
    row_in_ft: dict[str, np.ndarray] = {}
    for ev, ft in table.fields.items():
        pos = np.full(len(table), -1, dtype=np.int64)
        pos[ft.rows] = np.arange(len(ft.rows))
        row_in_ft[ev] = pos
        field_vals[ev] = {
            k: (pool.decode(v) if k in ft.string_cols else v) for k, v in ft.columns.items()
        }
    stats = {"records": 0, "fields": 0, "funcs": 0, "lost": 0}
    keys = (
        set(recs) | {(names[b], c) for b, c in zip(*np.unique(np.stack([buf, cpu]), axis=1))}
        if len(table)
        else set(recs)
    )
    for key in sorted(keys):
        bname, c = key
        bi = names.index(bname)
        rows = np.nonzero((buf == bi) & (cpu == c))[0]
        theirs = recs.get(key, [])
        assert len(rows) == len(theirs), (
            f"{path.name} {key}: {len(rows)} records, trace-cmd has {len(theirs)}"
        )
        stats["records"] += len(rows)
        ours_ts = ts[rows]
        their_ts = np.array([r[0] for r in theirs], dtype=np.uint64).view(np.int64)
        bad = np.nonzero(ours_ts != their_ts)[0]
        assert not len(bad), (
            f"{path.name} {key} record {bad[0]}: ts {ours_ts[bad[0]]} != {their_ts[bad[0]]}"
        )
        their_pid = np.array([r[1] for r in theirs], dtype=np.int64)
        assert np.array_equal(pid[rows], their_pid), f"{path.name} {key}: pids differ"
        their_ev = np.array([r[3] for r in theirs], dtype=object)
        their_comm = np.array([r[2] for r in theirs], dtype=object)
        bad = np.nonzero(event[rows] != their_ev)[0]
        assert not len(bad), (
            f"{path.name} {key} #{bad[0]}: event {event[rows][bad[0]]} != {their_ev[bad[0]]}"
        )
        bad = np.nonzero(comm[rows] != their_comm)[0]
        assert not len(bad), (
            f"{path.name} {key} #{bad[0]}: comm {comm[rows][bad[0]]!r} != {their_comm[bad[0]]!r}"
        )
        # funcgraph records, vectorized: "func=NAME depth=N [overrun=N calltime=HEX rettime=HEX]"
        fg = np.nonzero(
            np.isin(their_ev, ["funcgraph_entry", "funcgraph_exit", "fgraph_retaddr_entry"])
        )[0]
        if len(fg):
            toks = [dict(x.split("=", 1) for x in theirs[i][4].split(" ")) for i in fg.tolist()]
            # -R prints an unresolved address as 0x…; the graph view (and fgraph) as bare hex
            their_func = np.array([t["func"].removeprefix("0x") for t in toks], dtype=object)
            bad = np.nonzero(func[rows[fg]] != their_func)[0]
            assert not len(bad), (
                f"{path.name} {key} #{fg[bad[0]]}: func {func[rows[fg[bad[0]]]]} != {their_func[bad[0]]}"
            )
            depth = np.array([int(t["depth"]) for t in toks], dtype=np.int64)
            assert np.array_equal(table["depth"][rows[fg]], depth), (
                f"{path.name} {key}: depths differ"
            )
            ex = np.array(["calltime" in t for t in toks])
            if ex.any():
                sel = rows[fg[ex]]
                tk = [t for t, e in zip(toks, ex.tolist()) if e]
                for name, base in (("overrun", 10), ("calltime", 16), ("rettime", 16)):
                    theirs_v = np.array([int(t[name], base) for t in tk], dtype=np.uint64).view(
                        np.int64
                    )
                    assert np.array_equal(table[name][sel], theirs_v), (
                        f"{path.name} {key}: {name} differs"
                    )
            rv = np.array(["retval" in t for t in toks])
            if rv.any():
                theirs_rv = np.array(
                    [int(t["retval"], 0) for t, e in zip(toks, rv.tolist()) if e], dtype=np.uint64
                )
                assert np.array_equal(table["retval"][rows[fg[rv]]], theirs_rv.view(np.int64)), (
                    f"{path.name}: retval"
                )
                assert (table["eflags"][rows[fg[rv]]] & 1).all()
            stats["funcs"] += len(fg)
        for k, (r, (_, _, _, tev, rest)) in enumerate(zip(rows.tolist(), theirs)):
            if tev in ("funcgraph_entry", "funcgraph_exit", "fgraph_retaddr_entry"):
                continue
            fmt = formats[tev]
            fnames = [f.name for f in fmt.fields]
            parsed = _split_fields(rest, fnames) if fnames else {}
            if parsed is None:
                continue  # a value containing " name=": skip this record's fields
            vals = field_vals.get(tev)
            if vals is None:
                continue
            i = row_in_ft[tev][r]
            assert i >= 0
            for fname, text in parsed.items():
                if fname not in vals:
                    continue  # numeric arrays are not decoded
                v = vals[fname][i]
                f = fmt.get(fname)
                if tev in ("bprint", "bputs") and fname in ("fmt", "str", "buf"):
                    continue  # formatted by us (test_bprint_messages_match_trace_cmd); -R prints raw
                if fname == "prev_state" and tev == "sched_switch":
                    raw = int(text, 0) if text.startswith("0x") else int(text)
                    want = flags_table(fmt.print_fmt, "prev_state").render(raw)
                    assert v == want, f"{path.name} {key} #{k}: prev_state {v} != {want} ({text})"
                elif isinstance(v, str) or v is None:
                    if f is not None and (f.data_loc or f.dynamic) and text.startswith("ARRAY["):
                        continue
                    assert (v or "").rstrip() == text.rstrip(), (
                        f"{path.name} {key} #{k}: {tev}.{fname} {v!r} != {text!r}"
                    )
                elif fname == "ip" and not text.startswith("0x"):
                    continue  # a resolved symbol name (print/bprint ip); kept as an address
                else:
                    assert _int_matches(text, int(v), f.size), (
                        f"{path.name} {key} #{k}: {tev}.{fname} {v} != {text}"
                    )
                stats["fields"] += 1
        # lost events: trace-cmd marks the first record of a page with the missed flag
        lost = table.lost
        lrows = lost["row"][(lost["cpu"] == c) & (lost["source"] == LostSource.PAGE)]
        lrows = lrows[np.isin(lrows, rows) | (lrows < 0)]
        ours_at = sorted(int(np.searchsorted(rows, x)) if x >= 0 else len(rows) for x in lrows)
        theirs_at = drops.get(key, [])
        # kbuffer reports a page's loss only if its first entry is a data event (a leading
        # TIME_EXTEND hides it, kbuffer_missed_events); so theirs ⊆ ours.
        assert set(theirs_at) <= set(ours_at), (
            f"{path.name} {key}: dropped markers {theirs_at} vs {ours_at}"
        )
        stats["lost"] += len(ours_at)
    # time order across CPUs (stable sort by ts) holds the same timestamps as trace-cmd's merge
    all_theirs = np.sort(
        np.array([r[0] for v in recs.values() for r in v], dtype=np.uint64).view(np.int64)
    )
    assert np.array_equal(np.sort(ts, kind="stable"), all_theirs)
    table.validate()
    return stats


@pytest.mark.corpus
@pytest.mark.parametrize("rel", CORPUS_DATS)
def test_matches_trace_cmd_report(rel: str) -> None:
    p = CORPUS / rel
    if not p.exists():
        pytest.skip(f"corpus file {rel} not present")
    stats = compare(p)
    assert stats["records"] > 0


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.dat")) or ["<none>"])
def test_fixture_matches_trace_cmd_report(name: str) -> None:
    p = FIXTURES / name
    if not p.exists():
        pytest.skip("no .dat fixtures")
    stats = compare(p)
    assert stats["records"] > 0


CONVERSIONS = [
    # (corpus file, trace-cmd convert arguments): instances in v6 and uncompressed v7, 32-bit
    # and old event layouts in v7+zstd.
    ("vm61/smp4_instances.dat", ["--file-version", "6"]),
    ("vm61/smp4_instances.dat", ["--compression", "none"]),
    ("public/hebel23-driver/trace.dat", ["--file-version", "7", "--compression", "zstd"]),
    ("public/trappy/trace.dat", ["--file-version", "7", "--compression", "zstd"]),
]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "args"), CONVERSIONS, ids=[f"{r}:{'-'.join(a)}" for r, a in CONVERSIONS]
)
def test_converted_matches_trace_cmd_report(rel: str, args: list[str], tmp_path: Path) -> None:
    src = CORPUS / rel
    if not src.exists():
        pytest.skip(f"corpus file {rel} not present")
    out = tmp_path / "converted.dat"
    subprocess.run(
        [tracecmd(), "convert", "-i", str(src), "-o", str(out), *args],
        capture_output=True,
        check=True,
    )
    stats = compare(out)
    assert stats["records"] > 0
    want_version = 6 if "6" in args else 7
    assert parse_tracedat(open_source(out)).meta.version == want_version


@pytest.mark.corpus
def test_bprint_messages_match_trace_cmd() -> None:
    """trace_printk (bprint) messages formatted from printk_formats + binary args, as report prints them."""
    p = CORPUS / "public/trappy/trace.dat"
    if not p.exists():
        pytest.skip("trappy sample not present")
    table = parse_tracedat(open_source(p))
    rows, codes = table.field("bprint", "buf")
    ours = {
        (int(table["cpu"][r]), int(table["ts"][r])): table.strings[int(c)]
        for r, c in zip(rows, codes)
    }
    # (trace-cmd garbles a bprint line's timestamp now and then: asked again, see report())
    for _attempt in range(4):
        out = subprocess.run(
            [tracecmd(), "report", "-t", str(p)], capture_output=True, check=True
        ).stdout.decode()
        theirs = {}
        for line in out.splitlines():
            m = _LINE.match(line)
            if m and m["event"] == "bprint":
                # "<ip or symbol>: <message>"
                theirs[(int(m["cpu"]), int(m["ts"].replace(".", "")))] = (
                    m["rest"].strip().split(": ", 1)[1]
                )
        if ours == theirs:
            break
    assert len(ours) == len(theirs) > 100
    assert ours == theirs
