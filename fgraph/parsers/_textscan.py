"""Wrapper of the C line scanner of the kernel text reader (fgraph/_ext/textscan.c).

The scanner reads the common lines (prologue columns, then ``f();`` / ``f() {`` / ``}`` /
``} /* f */`` / ``/* event comment */``; blank and banner dash lines) in one pass and leaves
every other line (status 0) to the regex path of :mod:`.ftrace_text`.  Its reading of the prologue follows ``PROLOGUE_RX`` group by group, so
what it accepts is read exactly as the regexes read it; ``tests/test_text_corpus.py`` checks
that the two paths give the same table.

Names come back as small per-call tables of distinct byte strings; they are decoded and put
into the :class:`~fgraph.table.StringPool` once per distinct name.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..table import StringPool
from . import _textlines as tl

_c: Any
try:
    from .._ext import textscan as _c
except ImportError:  # pragma: no cover - extension not built: the numpy fast path is used
    _c = None

AVAILABLE = _c is not None

# status bits set by the scanner
ST_OK, ST_PROC, ST_LAT, ST_DUR, ST_TAIL = 0x01, 0x02, 0x04, 0x08, 0x10

_COLS = (
    ("status", np.uint8),
    ("kind", np.int8),
    ("ts", np.int64),
    ("cpu", np.int16),
    ("pid", np.int32),
    ("comm", np.int32),
    ("lat", np.int32),
    ("depth", np.int32),
    ("dur", np.int64),
    ("res", np.int16),  # 1, 10, 100 or 1000 ns (narrow: fresh memory costs, see _textlines)
    ("func", np.int32),
    ("module", np.int32),
)

# and of trace-cmd report lines (scan_lines(report=True))
_REPORT_COLS = (("event", np.int32), ("tsdig", np.int8))

MIN_SPLIT_LINES = 1 << 16


def _codes(local: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Local ids (-1: none) → values of ``table`` (its last element is the 'none' value, which
    index -1 reaches directly)."""
    return table.take(local)


def scan_lines(
    data: Any, starts: np.ndarray, pool: StringPool, workers: int = 2, report: bool = False
) -> dict[str, Any]:
    """Per-line columns of the lines the scanner reads (``ok``); other rows hold -1 (kind
    ``L_UNPARSED``, flags False), what the regex path's results then overwrite.  ``report``:
    the lines are ``trace-cmd report`` text (its funcgraph records are read; every other line
    is left to the regexes), with two more columns: ``event`` (pool codes) and ``tsdigits``.

    ``starts`` are the line starts of ``data`` (each line runs to the next start).  The lines
    are cut into ``workers`` ranges scanned on threads (the C loop releases the GIL); each
    range interns its own names, mapped into ``pool`` afterwards in range order.
    """
    if _c is None:
        raise RuntimeError("fgraph._ext.textscan is not built")
    n = len(starts)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    cols = _COLS + _REPORT_COLS if report else _COLS
    out = {name: np.empty(n, dtype=dt) for name, dt in cols}
    arrays = tuple(out[name] for name, _ in cols)
    parts = max(1, min(workers, n // MIN_SPLIT_LINES))
    bounds = [n * k // parts for k in range(parts + 1)]
    jobs = list(zip(bounds[:-1], bounds[1:]))

    def run(job: tuple[int, int]) -> tuple[list[bytes], list[bytes], np.ndarray]:
        return _c.scan(data, starts, job[0], job[1], arrays)  # type: ignore[no-any-return]

    if len(jobs) > 1:
        with ThreadPoolExecutor(len(jobs)) as ex:
            tables = list(ex.map(run, jobs))
    else:
        tables = [run(j) for j in jobs]
    status = out["status"]
    ok = (status & ST_OK) != 0
    comm = out["comm"]
    func = out["func"]
    module = out["module"]
    lat = out["lat"]
    # every line lies in one of the ranges, so these are filled below
    flags = np.empty(n, dtype=np.int16)
    preempt = np.empty(n, dtype=np.int16)
    irq = np.empty(n, dtype=np.int8)
    for (i0, i1), (names, lats, _cm) in zip(jobs, tables):
        # names: one pool code per distinct name, in order of first appearance (lines the
        # scanner left to the regexes hold -1 everywhere)
        codes = np.array([pool.code(v.decode("ascii")) for v in names] + [-1], dtype=np.int32)
        for col in (comm, func, module, *((out["event"],) if report else ())):
            _c.remap(col, i0, i1, codes)
        # latency columns: decoded per distinct value; lines without them get what the regex
        # path gives for an empty column
        la = tl.str_array([v.decode("ascii") for v in lats] + [""])
        vf, vp, vi = tl.latency_flags(la)
        lr = lat[i0:i1]
        flags[i0:i1] = _codes(lr, vf)
        preempt[i0:i1] = _codes(lr, vp)
        irq[i0:i1] = _codes(lr, vi)
    # comment lines ("/* sched_switch: … */", trace_printk): kind L_EVENT; their text as
    # (line, start, end) byte spans, in line order
    cm = np.concatenate([t[2] for t in tables]) if tables else np.zeros((0, 3), dtype=np.int64)
    extra = {"event": out["event"], "tsdigits": out["tsdig"]} if report else {}
    return {
        **extra,
        "comments": cm,
        "prefilled": True,  # rows not ok already hold -1 (kind L_UNPARSED, flags False)
        "ok": ok,
        "kind": out["kind"],
        "ts": out["ts"],
        "cpu": out["cpu"],
        "pid": out["pid"],
        "comm": comm,
        "flags": flags,
        "preempt": preempt,
        "irqctx": irq,
        "depth": out["depth"],
        "dur": out["dur"],
        "res": out["res"],
        "func": func,
        "module": module,
        "has_tail": (status & ST_TAIL) != 0,
        "has_proc": (status & ST_PROC) != 0,
        "has_lat": (status & ST_LAT) != 0,
        "has_dur": (status & ST_DUR) != 0,
    }
