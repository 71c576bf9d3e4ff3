"""Reader of ``trace-cmd report`` output for function_graph traces.

Record lines (trace-cmd tracecmd/trace-read.c and libtraceevent event-parse.c)::

    <comm>-<pid> [<cpu>] [<lat flags>] <sec>.<usec|nsec>: <event>: <text>      default / 3.4 flags
    <comm>-<pid> <cpu><lat flags> <sec>.<usec>: <event>: <text>                 -l
    CPU:<n> [<count> EVENTS DROPPED] / CPU:<n> [EVENTS DROPPED]                  lost events

For ``funcgraph_entry``/``funcgraph_exit`` the text is trace-cmd's own graph line
(lib/trace-cmd/trace-ftrace.c: overhead mark, duration one column narrower than the kernel's,
``|  ``, indent, ``f();`` / ``f() {`` / ``}``, ``(ret=…)``); other events keep their text and
the fields the later stages need are parsed from it (sched_switch as printed by trace-cmd's
sched_switch plugin, ``prev:pid [prio] S ==> next:pid [prio]``).  ``-t`` (ns timestamps) is
read exactly.  ``-R`` raw funcgraph lines and ``-N`` print-fmt lines are not read (counted as
not understood).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa

from .._numpy import unique
from ..errors import TraceFormatError
from ..source import Source, release_pages
from ..table import EventTable, StringPool, TraceMeta
from . import _textlines as tl
from . import _textscan
from ._textlines import pc

RECORD_RX = (
    # with several buffers (trace-cmd report of `extract -a`) each line starts with the
    # instance name and ": " (trace-read.c), the top instance with as many spaces
    r"^(?:(?P<inst>[\w.-]+): )? *(?P<comm>.*?)-(?P<pid>\d+) +"
    r"(?:\[(?P<cpu>\d+)\](?: (?P<lat>[.a-zA-Z0-9]{4,8}))?|(?P<cpu2>\d+)(?P<lat2>[.a-zA-Z][.a-zA-Z0-9]{3,7}))"
    r" +(?P<ts_s>\d+)\.(?P<ts_f>\d+):(?: +\(\+[\d.]+\))? +(?P<event>\w+): *(?P<rest>.*)"
)
# trace-ftrace.c print_graph_duration()/print_graph_nested(): the duration field then "|  "
FGRAPH_RX = r"^(?:(?P<ovh>[+!#*@$]) +)?(?:(?P<dur>\d+(?:\.\d+)?) us *)?\|  (?P<ind> *)(?P<text>.*)"
IGNORED_RX = r"^(?:cpus=\d+|version = \d+|CPU \d+ is empty)?\s*$"

# the C scanner reads the funcgraph records (False: the regexes read every line; tests compare)
SCANNER = True


def _lengths(a: pa.Array) -> np.ndarray:
    """Byte lengths of strings (null: 0)."""
    n = pc.binary_length(a)
    return tl.np_of(pc.fill_null(n, tl.int_scalar(0, n.type)))


def _chunk(chunk: pa.Array) -> dict[str, Any]:
    m = pc.extract_regex(chunk, RECORD_RX)
    g = tl.group
    rec = tl.np_of(pc.is_valid(m))
    rest = g(m, "rest")
    fm = pc.extract_regex(rest, FGRAPH_RX)
    event = g(m, "event")
    is_fg = tl.fill_false(pc.starts_with(event, "funcgraph_"))
    is_fg |= tl.fill_false(pc.equal(event, tl.str_scalar("fgraph_retaddr_entry", event.type)))
    fg_ok = tl.np_of(pc.is_valid(fm))
    ignored = tl.fill_false(pc.match_substring_regex(chunk, IGNORED_RX))
    n = len(chunk)
    kind = np.full(
        n, tl.L_GRAPH, dtype=np.int8
    )  # non-records: the graph text regex sees "CPU:n [… DROPPED]"
    kind[rec & ~is_fg] = tl.L_EVENT
    kind[rec & is_fg & ~fg_ok] = tl.L_UNPARSED  # -R / -N forms of funcgraph records
    kind[~rec & ignored] = tl.L_IGNORED
    text = pc.if_else(
        tl.arr_of(rec & is_fg),
        g(fm, "text"),
        pc.if_else(tl.arr_of(rec), rest, pc.utf8_rtrim(chunk, "\r\n")),
    )
    cpu = tl.to_int(g(m, "cpu"))
    cpu2 = tl.to_int(g(m, "cpu2"))
    pid = tl.to_int(g(m, "pid"))
    # numbers too wide for their column (damaged text): the line is not understood
    wide = (np.maximum(cpu, cpu2) > 32767) | (pid > 2**31 - 1)
    kind[rec & wide] = tl.L_UNPARSED
    cpu = np.where(wide, -1, cpu)
    cpu2 = np.where(wide, -1, cpu2)
    pid = np.where(wide, -1, pid)
    lat = pc.if_else(tl.arr_of(tl.nonempty(g(m, "lat2"))), g(m, "lat2"), g(m, "lat"))
    dur, res = tl.duration_ns(g(fm, "dur"))
    ts = tl.frac_to_ns(g(m, "ts_s"), g(m, "ts_f"), 1_000_000_000)
    tsdigits = _lengths(g(m, "ts_f"))
    out = {
        "kind": kind,
        "ts": ts,
        "tsdigits": tsdigits.astype(np.int8),
        "cpu": np.where(cpu >= 0, cpu, cpu2).astype(np.int16),
        "pid": pid.astype(np.int32),
        "depth": (_lengths(g(fm, "ind")) // 2).astype(np.int32),
        "dur": np.where(rec & is_fg, dur, -1),
        "res": res,
    }
    return {
        "np": out,
        "comm": g(m, "comm"),
        "lat": lat,
        "text": text,
        "event": event,
        "inst": g(m, "inst"),
    }


def _regex_lines(arr: pa.Array) -> list[dict[str, Any]]:
    """The regex path over ``arr``, a chunk of lines at a time (on two threads)."""
    bounds = list(range(0, len(arr), tl.CHUNK_LINES)) or [0]
    slices = [arr.slice(b, min(tl.CHUNK_LINES, len(arr) - b)) for b in bounds]
    if len(slices) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as ex:
            return list(ex.map(_chunk, slices))
    return [_chunk(s) for s in slices]


def parse_report_text(
    source: Source | Any,
    pool: StringPool | None = None,
    carry: tl.TextCarry | None = None,
    meta: TraceMeta | None = None,
) -> EventTable:
    """Parse ``trace-cmd report`` text into an EventTable (rows in line order).

    The funcgraph records, nearly every line of a function_graph report, are read by the C
    scanner (fgraph/_ext/textscan.c ``scan_report_line``, which accepts a line only when it is
    sure to read it as the regexes do); the other lines by the regexes (a real capture's
    report, 200 MB: 7.0 s and 1.45 GB peak RSS with the regexes alone).

    With ``carry``, ``source`` is one piece of a longer report (:mod:`.text_windows`), as for
    :func:`~.ftrace_text.parse_ftrace_text`: ``pool`` and ``meta`` are shared with the other
    pieces', whose buffer instances ``meta.buffers`` names in order of first appearance, and
    what the meta and warnings are made of is counted in ``carry`` (:func:`report_facts`)."""
    name, mapped, data, replaced, arr, starts = tl.open_text(source)
    n = len(arr)
    pool = StringPool() if pool is None else pool
    cat = tl._concat_arrays
    fast: dict[str, Any] | None = None
    sub: np.ndarray | None = None
    if SCANNER and _textscan.AVAILABLE:
        fast = _textscan.scan_lines(data, starts, pool, report=True)
        sub = np.flatnonzero(~fast["ok"])
        parts = _regex_lines(pc.take(arr, tl.idx_of(sub)))
    else:
        parts = _regex_lines(arr)
    # everything the table needs is read from the input now (the lines not understood are
    # quoted from it again, a few): its mapped pages leave the resident set (a 1.2 GB report:
    # peak RSS 3.6 -> 2.4 GB)
    release_pages(mapped)  # (the input as mapped: data may be a cleaned copy of it)
    r = {k: np.concatenate([p["np"][k] for p in parts]) for k in parts[0]["np"]}
    flags, preempt, irq = tl.latency_flags(cat([p["lat"] for p in parts]))
    comm = tl.encode(cat([p["comm"] for p in parts]), pool, strip=True)
    event = tl.encode(cat([p["event"] for p in parts]), pool)
    inst = cat([p["inst"] for p in parts])
    pre = None
    if fast is None:
        cols = r
    else:
        assert sub is not None
        # the scanner's columns, the regexes' results on the lines it left to them
        cols = {"tsdigits": fast["tsdigits"], "dur": fast["dur"]}
        for k in ("kind", "ts", "cpu", "pid", "depth", "res"):
            cols[k] = fast[k]
        for k, a in cols.items():
            a[sub] = r[k]
        for a, v in ((fast["flags"], flags), (fast["preempt"], preempt), (fast["irqctx"], irq)):
            a[sub] = v
        flags, preempt, irq = fast["flags"], fast["preempt"], fast["irqctx"]
        fast["comm"][sub] = comm
        fast["event"][sub] = event
        comm, event = fast["comm"], fast["event"]
        pre = {"func": fast["func"], "module": fast["module"], "has_tail": fast["has_tail"]}
    meta = TraceMeta(path=name, format="trace-cmd-report") if meta is None else meta
    tl.not_utf8(meta, replaced, name, carry)
    cols.update(comm=comm, flags=flags, preempt=preempt, irqctx=irq)
    text = cat([p["text"] for p in parts])
    lines = tl.Lines.of(n, cols, text, event=event, extra={"raw": arr}, sub=sub, pre=pre)
    table = tl.build_event_table(
        lines, pool, meta, path=name, banners_fill=False, kernel_rule=False, carry=carry
    )
    nfast = int(n - len(sub)) if sub is not None else -1
    # buffer instances: top = 0, then in order of first appearance (the scanner reads no line
    # with an instance name); a piece adds the names the pieces before it did not meet
    if tl.nonempty(inst).any():
        icode = tl.encode(inst, pool)
        if sub is not None:
            full = np.full(n, -1, dtype=icode.dtype)
            full[sub] = icode
            icode = full
        names = [pool[int(c)] or "" for c in unique(icode[icode >= 0])]
        first = {nm: int(np.flatnonzero(icode == pool.lookup(nm))[0]) for nm in names}
        known = set(meta.buffers[1:])
        meta.buffers = meta.buffers + sorted(
            (nm for nm in names if nm not in known), key=first.__getitem__
        )
        lut = np.zeros(len(pool) + 1, dtype=np.int16)
        for j, nm in enumerate(meta.buffers[1:], 1):
            lut[pool.lookup(nm)] = j
        base = carry.line_base if carry is not None else 0
        table["buf"] = lut[icode[table["pos"] - 1 - base]]
    # (the "cpus=N" line trace-cmd prints first)
    first_piece = carry is None or carry.line_base == 0
    facts = report_facts(table, cols, flags, bytes(data[:4096]) if first_piece else b"")
    if carry is None:
        if nfast >= 0:
            meta.options["fast_path_lines"] = nfast
        finish_report_meta(meta, facts, name)
    else:
        carry.add_piece(n, nfast, facts, merge_report_facts)
    return table


def report_facts(
    table: EventTable, cols: dict[str, np.ndarray], flags: np.ndarray, head: bytes
) -> dict[str, Any]:
    """What a report's meta is made of (:func:`finish_report_meta`), for the whole text or one
    piece (:func:`merge_report_facts` joins pieces'; ``head``: the text's first bytes, or
    nothing for a piece that is not the first)."""
    kinds = table["kind"]
    cpu = table["cpu"]
    digits = cols["tsdigits"][cols["tsdigits"] > 0]
    mc = re.search(rb"^cpus=(\d+)", head, re.M)
    return {
        "rows": bool(len(table)),
        "other": bool((kinds > 0).any()),
        "fg": bool(((kinds == 1) | (kinds == 2)).any()),
        "ts_all": bool((table["ts"] >= 0).all()),
        "digits": int(digits.min()) if len(digits) else 0,  # 0: none
        "cpus": int(mc.group(1)) if mc else -1,
        "cpu_max": int(cpu.max()) if len(cpu) else -1,
        "latency": bool((flags >= 0).any()),
    }


def merge_report_facts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The facts of two consecutive pieces (``a`` first) as the facts of their text."""
    d = [x for x in (a["digits"], b["digits"]) if x > 0]
    return {
        "rows": a["rows"] or b["rows"],
        "other": a["other"] or b["other"],
        "fg": a["fg"] or b["fg"],
        "ts_all": a["ts_all"] and b["ts_all"],
        "digits": min(d) if d else 0,
        "cpus": a["cpus"],
        "cpu_max": max(a["cpu_max"], b["cpu_max"]),
        "latency": a["latency"] or b["latency"],
    }


def ts_resolution(digits: int) -> int:
    """The timestamps' resolution (ns) when their fraction has at most ``digits`` digits
    (0: no timestamp read; trace-cmd prints microseconds by default)."""
    return 10 ** max(0, 9 - digits) if digits > 0 else 1000


def finish_report_meta(meta: TraceMeta, facts: dict[str, Any], name: str) -> None:
    """The report's meta from its facts (raises TraceFormatError when it holds no record)."""
    if not facts["other"] and not facts["rows"]:
        raise TraceFormatError(
            f"no trace-cmd report records in {meta.lines_total} lines", path=name
        )
    if not facts["fg"]:
        meta.warn(
            "no funcgraph_entry/funcgraph_exit records (not a function_graph recording?)", name
        )
    meta.ts_known = facts["rows"] and facts["ts_all"]
    meta.ts_resolution_ns = ts_resolution(facts["digits"])
    cpu_max = facts["cpu_max"]
    meta.ncpus = facts["cpus"] if facts["cpus"] >= 0 else (cpu_max + 1 if cpu_max >= 0 else 0)
    have = ["latency"] if facts["latency"] else []
    if meta.ts_resolution_ns == 1:
        have.append("ns timestamps")
    meta.detail = ", ".join(have) if have else "default columns"
