"""Reader of the kernel's function_graph text (``/sys/kernel/tracing/trace``, ``trace_pipe``).

One RE2 regex cuts each line into the optional prologue columns, in the kernel's order
(kernel/trace/trace_functions_graph.c print_graph_prologue() and print_graph_duration())::

    [abstime " |  "][cpu ") "][comm-pid " | "][lat flags " | "][overhead+duration "|  "][indent][text]

Every column is optional *per line*, so files that switch options half-way (perf-tools example
files hold several traces with different columns, separated by prose) need no dialect
detection.  The graph text is then classified by :mod:`._textlines`.  Lines starting with ``#``
(the header) and blank lines are skipped; anything else that is not understood is counted in
``meta.lines_unparsed`` with examples.

Speed: the common lines (prologue columns, then ``f();`` / ``f() {`` / ``}`` / ``} /* f */``,
event comments ``/* … */``, blank and banner dash lines) are read by the C scanner of
:mod:`._textscan` (fgraph/_ext/textscan.c; without it, when the first lines show a duration
column, by the numpy path of :mod:`._textfast`), which follows ``PROLOGUE_RX`` group by group
and leaves every line it is not sure of to the regexes; only those lines go through them.  All
paths give the same table (tests/test_text_scan.py, tests/test_text_corpus.py).  The text path
imports neither pandas nor pyarrow.compute (see :mod:`._textlines`).  On the 200 MB capture of
``bench/run --only P2`` the whole ``fgraph hist`` (parse 0.45-0.5 s of it) runs at about 2x a
Python ``re`` loop that only matches each line.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import TraceFormatError
from ..source import Source, release_pages
from ..table import EventTable, StringPool, TraceMeta
from . import _textfast, _textscan
from . import _textlines as tl
from ._textlines import pc

PROLOGUE_RX = (
    r"^(?: *(?P<abs_s>\d+)\.(?P<abs_f>\d+) \|  )?"  # funcgraph-abstime "%5lu.%06lu |  "
    r"(?: *(?P<cpu>\d+)\) )?"  # funcgraph-cpu " %*d) "
    r"(?: *(?P<comm>[^ |][^|]*?)-(?P<pid>\d+) *\| )?"  # funcgraph-proc, centred in 14 columns
    r"(?: (?P<lat>[.a-zA-Z0-9]{4,6}) \| )?"  # latency-format flags
    # overhead mark + duration (7 significant digits) or the 14-space filler, then "|  "
    r"(?:(?:(?P<ovh>[+!#*@$])| ) (?: *(?P<dur>\d+(?:\.\d+)?) us *| +)\|  )?"
    r"(?P<ind> *)(?P<text>.*)"
)


def _prologue(chunk: pa.Array) -> dict[str, Any]:
    m = pc.extract_regex(chunk, PROLOGUE_RX)
    g = tl.group
    # header / blank lines
    stripped = pc.utf8_trim_whitespace(chunk)
    slen = pc.binary_length(stripped)
    blank = tl.np_of(pc.equal(slen, tl.int_scalar(0, slen.type)))
    hdr = tl.np_of(pc.starts_with(stripped, "#"))
    kind = np.full(len(chunk), tl.L_GRAPH, dtype=np.int8)
    dur, res = tl.duration_ns(g(m, "dur"))
    cpu = tl.to_int(g(m, "cpu"))
    pid = tl.to_int(g(m, "pid"))
    # numbers too wide for their column (damaged text): the line is not understood
    ts = tl.frac_to_ns(g(m, "abs_s"), g(m, "abs_f"), 1_000_000_000)
    kind[
        (tl.nonempty(g(m, "dur")) & (dur < 0))
        | (tl.nonempty(g(m, "abs_s")) & (ts < 0))
        | (cpu > 32767)
        | (pid > 2**31 - 1)
    ] = tl.L_UNPARSED
    # "# 1022.641 us |  }" is a return with the '#' (>1 ms) mark when the CPU column is off
    kind[blank | (hdr & (dur < 0))] = tl.L_IGNORED
    out = {
        "kind": kind,
        "ts": ts,
        "cpu": np.where(cpu > 32767, -1, cpu).astype(np.int16),
        "pid": np.where(pid > 2**31 - 1, -1, pid).astype(np.int32),
        "depth": (tl.np_of(pc.binary_length(g(m, "ind"))) // 2).astype(np.int32),
        "dur": dur,
        "res": res,
        "has_proc": tl.nonempty(g(m, "pid")),
        "has_lat": tl.nonempty(g(m, "lat")),
        "has_dur": tl.nonempty(g(m, "dur")),
    }
    return {"np": out, "comm": g(m, "comm"), "lat": g(m, "lat"), "text": g(m, "text")}


def _regex_lines(arr: pa.Array) -> dict[str, Any]:
    """The regex path over ``arr`` (chunks on two threads)."""
    bounds = list(range(0, len(arr), tl.CHUNK_LINES)) or [0]
    slices = [arr.slice(b, min(tl.CHUNK_LINES, len(arr) - b)) for b in bounds]
    if len(slices) > 1:
        with ThreadPoolExecutor(2) as ex:
            parts = list(ex.map(_prologue, slices))
    else:
        parts = [_prologue(s) for s in slices]
    out: dict[str, Any] = {k: np.concatenate([p["np"][k] for p in parts]) for k in parts[0]["np"]}
    for k in ("comm", "lat", "text"):
        out[k] = tl._concat_arrays([p[k] for p in parts])
    return out


SAMPLE_LINES = 4000
FAST_PATH = True  # tests switch it off to check that both paths give the same table
SCANNER = True  # the C scanner (else the numpy fast path); tests compare all three


def _dialect(arr: pa.Array) -> _textfast.Dialect | None:
    """The column set of most graph lines with a duration column in the first lines, if any."""
    r = _regex_lines(arr.slice(0, min(SAMPLE_LINES, len(arr))))
    sel = r["has_dur"] & (r["kind"] == tl.L_GRAPH)
    if sel.sum() < 8:
        return None
    key = (
        (r["ts"][sel] >= 0).astype(np.int64) * 8
        + r["has_proc"][sel] * 4
        + r["has_lat"][sel] * 2
        + (r["cpu"][sel] >= 0)
    )
    best = int(np.bincount(key).argmax())
    return _textfast.Dialect(
        abstime=bool(best & 8), proc=bool(best & 4), lat=bool(best & 2), cpu=bool(best & 1)
    )


def parse_ftrace_text(
    source: Source | Any,
    pool: StringPool | None = None,
    carry: tl.TextCarry | None = None,
    meta: TraceMeta | None = None,
) -> EventTable:
    """Parse kernel function_graph text into an EventTable (rows in line order).  With
    ``carry``, ``source`` is one piece of a longer text (:mod:`.text_windows`): the table
    shares ``pool`` and ``meta`` with the other pieces', and what its meta and warnings are
    made of is counted in ``carry``, for the reader to say once at the end."""
    name, mapped, data, replaced, arr, starts = tl.open_text(source)
    n = len(arr)
    pool = StringPool() if pool is None else pool
    # The C scanner checks every line against the regex's own shape, so it needs no dialect;
    # the numpy fast path cuts columns at fixed places and needs the column set first.
    c_scan = FAST_PATH and SCANNER and _textscan.AVAILABLE
    dialect = _dialect(arr) if FAST_PATH and not c_scan else None
    cols: dict[str, np.ndarray]
    cmt_lines: np.ndarray | None = None
    cmt_text: pa.Array | None = None
    if c_scan or dialect is not None:
        if c_scan:
            fast = _textscan.scan_lines(data, starts, pool)
        else:
            assert dialect is not None
            ends = np.append(starts[1:], len(data))
            fast = _textfast.fast_lines_parallel(data, starts, ends, dialect, pool)
        ok = fast["ok"]
        sub = np.flatnonzero(~ok)
        r = _regex_lines(pc.take(arr, tl.idx_of(sub)))
        pf = bool(fast.get("prefilled"))

        def masked(k: str, fill: int, dtype: Any) -> np.ndarray:
            # the scanner's arrays already hold the fill value on the lines it left out
            if pf:
                return np.asarray(fast[k], dtype=dtype)
            return np.where(ok, fast[k], fill).astype(dtype)

        cols = {}
        for k in ("ts", "cpu", "pid", "depth"):
            cols[k] = masked(k, -1, fast[k].dtype)
            cols[k][sub] = r[k]
        cols["dur"] = masked("dur", -1, np.int64)
        cols["dur"][sub] = r["dur"]
        cols["res"] = masked("res", -1, fast["res"].dtype)
        cols["res"][sub] = r["res"]
        cols["kind"] = masked("kind", tl.L_UNPARSED, np.int8)
        cols["kind"][sub] = r["kind"]
        comm = masked("comm", -1, np.int32)
        comm[sub] = tl.encode(r["comm"], pool, strip=True)
        flags = masked("flags", -1, np.int16)
        preempt = masked("preempt", -1, np.int16)
        irq = masked("irqctx", -1, np.int8)
        f2, p2, i2 = tl.latency_flags(r["lat"])
        flags[sub], preempt[sub], irq[sub] = f2, p2, i2
        if "has_proc" in fast:
            for k in ("has_proc", "has_lat", "has_dur"):
                cols[k] = fast[k] & ok
                cols[k][sub] = r[k]
        else:
            assert dialect is not None  # the numpy fast path's results
            for k in ("has_proc", "has_lat", "has_dur"):
                cols[k] = np.zeros(n, dtype=bool)
                cols[k][sub] = r[k]
            cols["has_proc"][ok] = dialect.proc
            cols["has_lat"][ok] = dialect.lat
            cols["has_dur"][ok] = True
        pre = {
            "func": masked("func", -1, np.int32),
            "module": masked("module", -1, np.int32),
            "has_tail": fast["has_tail"] & ok,
        }
        text = r["text"]
        cm = fast.get("comments")
        if cm is not None and len(cm):
            cmt_lines, cmt_text = cm[:, 0], tl.spans_array(data, cm[:, 1], cm[:, 2])
    else:
        r = _regex_lines(arr)
        cols = {k: v for k, v in r.items() if isinstance(v, np.ndarray)}
        comm = tl.encode(r["comm"], pool, strip=True)
        flags, preempt, irq = tl.latency_flags(r["lat"])
        sub, pre, text = None, None, r["text"]
    # everything the table needs is read from the input now (the lines not understood are
    # quoted from it again, a few): its mapped pages leave the resident set (fsync text of
    # 203 MB: peak RSS 735 -> 551 MB)
    release_pages(mapped)  # (the input as mapped: data may be a cleaned copy of it)
    meta = TraceMeta(path=name, format="kernel-text") if meta is None else meta
    tl.not_utf8(meta, replaced, name, carry)
    cols.update(comm=comm, flags=flags, preempt=preempt, irqctx=irq)
    lines = tl.Lines.of(
        n,
        cols,
        text,
        extra={"raw": arr},
        sub=sub,
        pre=pre,
        cmt_lines=cmt_lines,
        cmt_text=cmt_text,
    )
    table = tl.build_event_table(lines, pool, meta, path=name, carry=carry)
    nfast = int(n - len(sub if sub is not None else [])) if c_scan or dialect is not None else -1
    facts = text_facts(table, cols)
    if carry is None:
        finish_meta(meta, facts, name)
        if nfast >= 0:
            meta.options["fast_path_lines"] = nfast
    else:
        carry.add_piece(n, nfast, facts, merge_facts)
    return table


def text_facts(table: EventTable, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    """What the text's meta is made of (:func:`finish_meta`), for one table or one piece
    (:func:`merge_facts` joins pieces')."""
    kinds = table["kind"]
    fg = (kinds == 1) | (kinds == 2)
    ts = table["ts"]
    cpu = table["cpu"]
    # funcgraph-tail: (nearly) every return has its "/* f */"; a few automatic tails do not count
    ret = (kinds == 2) & ((table["eflags"] & 0x02) == 0)
    return {
        "fg": bool(fg.any()),
        "other": bool((kinds > 0).any()),
        "fg_no_ts": bool((fg & (ts < 0)).any()),
        "ts": bool((ts >= 0).any()),
        "cpu_max": int(cpu.max()) if len(cpu) else -1,
        "proc": bool(cols["has_proc"].any()),
        "latency": bool(cols["has_lat"].any()),
        "duration": bool(cols["has_dur"].any()),
        "ret": int(ret.sum()),
        "tail": int(((table["eflags"][ret] & 0x04) != 0).sum()),
        "overrun": bool((table["overrun"] >= 0).any()),
    }


def merge_facts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (
            max(a[k], b[k])
            if k == "cpu_max"
            else a[k] + b[k]
            if k in ("ret", "tail")
            else a[k] or b[k]
        )
        for k in a
    }


def finish_meta(meta: TraceMeta, facts: dict[str, Any], name: str) -> None:
    if not facts["fg"] and not facts["other"]:
        raise TraceFormatError(
            f"not function_graph text: none of {meta.lines_total} lines is a function_graph line",
            path=name,
        )
    meta.ts_known = bool(facts["fg"] and not facts["fg_no_ts"])
    if not meta.ts_known and facts["ts"]:
        meta.warn("only part of the text has an abstime column; order by row, not ts", name)
    meta.ts_resolution_ns = tl.KERNEL_TS_NS
    meta.ncpus = facts["cpu_max"] + 1 if facts["cpu_max"] >= 0 else 0
    have = [
        k
        for k, on in (
            ("abstime", facts["ts"]),
            ("cpu", facts["cpu_max"] >= 0),
            ("proc", facts["proc"]),
            ("latency", facts["latency"]),
            ("duration", facts["duration"]),
            ("tail", facts["ret"] > 0 and facts["tail"] / facts["ret"] > 0.9),
            ("overrun", facts["overrun"]),
        )
        if on
    ]
    meta.detail = "+".join(have) + " columns" if have else "no context columns"
    meta.options["text_columns"] = have
