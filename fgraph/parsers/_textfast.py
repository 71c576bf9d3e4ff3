"""Fast path of the kernel text reader: the common lines, read with numpy over the raw bytes.

Used when the C scanner (:mod:`._textscan`, fgraph/_ext/textscan.c) is not built; the C
scanner follows the regex more strictly (it checks every blank the regex requires), and the
corpus tests check that both give the regex path's table.

Within one trace the prologue columns have fixed shapes (kernel/trace/trace_functions_graph.c:
``print_graph_abs_time()`` ``"%5lu.%06lu |  "``, ``print_graph_cpu()`` ``" %*d) "``,
``print_graph_proc()``, ``print_graph_lat_fmt()``, ``print_graph_duration()`` 17 columns
ending in ``"|  "``).  Once the dialect (which columns are on) is known from a sample, every
line is located by its ``|`` bars (one ``np.flatnonzero`` over the buffer and a
``searchsorted``), and the fields are cut with fixed-width 2-D gathers:

* duration: the 17-column field before the graph text (mark, number, ``us``, ``|  ``);
* abstime: the 6 µs digits and the seconds before the first bar;
* CPU: the digits before ``)``;
* proc and latency columns: few distinct values, decoded once per distinct value;
* graph text: ``f();`` / ``f() {`` / ``}`` / ``} /* f */`` after the indent.

A line that does not have exactly this shape (comments, banners, arrows, retval comments,
args, lost-event lines, prose, the old 16-column duration quirk, …) is left to the regex
path (:mod:`.ftrace_text`), so the fast path never guesses: it only takes lines it can
verify byte by byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..table import StringPool
from . import _textlines as tl
from ._textlines import pc

SP, BAR, LPAR, RPAR, DOT = 32, 124, 40, 41, 46


@dataclass(frozen=True)
class Dialect:
    abstime: bool
    proc: bool
    lat: bool
    cpu: bool

    @property
    def bars(self) -> int:
        return int(self.abstime) + int(self.proc) + int(self.lat) + 1


def gather(buf: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """(n, width) bytes at ``pos + 0..width-1`` (rows reaching outside the buffer: zeros).

    Indexes a sliding-window view of the buffer by row, so no (n, width) index array is built.
    """
    nb = len(buf)
    if nb < width:
        buf = np.concatenate([buf, np.zeros(width - nb, dtype=np.uint8)])
        nb = width
    win = np.lib.stride_tricks.sliding_window_view(buf, width)
    inside = (pos >= 0) & (pos <= nb - width)
    out = win[np.where(inside, pos, 0)]
    if not inside.all():
        out[~inside] = 0
    return out


def right_digits(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value of the run of digits ending at the last column (right-aligned) and its length.

    Horner's scheme column by column (a non-digit restarts the number), so only 1-D
    operations on the n rows.
    """
    val = np.zeros(len(chars), dtype=np.int64)
    run = np.zeros(len(chars), dtype=np.int64)
    for j in range(chars.shape[1]):
        d = chars[:, j].astype(np.int64) - 48
        isd = (d >= 0) & (d <= 9)
        val = np.where(isd, val * 10 + d, 0)
        run = np.where(isd, run + 1, 0)
    return val, run


def spans_to_codes(
    buf_data: Any, starts: np.ndarray, ends: np.ndarray, line_starts: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes of the byte spans [starts, ends) (one per line) and the distinct strings.

    Zero-copy: the spans and the gaps between them are consecutive elements of one Arrow binary
    array over the input buffer (offsets start0, end0, start1, end1, …, which only needs each
    span to lie inside its own line); Arrow then copies out the even elements and hashes them.
    Rows whose ``starts`` is negative get the empty span at their line start.
    """
    n = len(starts)
    use = starts >= 0
    s0 = np.where(use, starts, line_starts)
    e0 = np.where(use, ends, line_starts)
    offs = np.empty(2 * n + 1, dtype=np.int64)
    offs[0 : 2 * n : 2] = s0
    offs[1 : 2 * n : 2] = e0
    offs[2 * n] = len(buf_data)
    arr = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), 2 * n, [None, pa.py_buffer(offs), pa.py_buffer(buf_data)]
    )
    spans = pc.take(arr, tl.idx_of(np.arange(0, 2 * n, 2)))
    d = pc.dictionary_encode(spans)
    values = [v.decode("utf-8", "replace") for v in d.dictionary.to_pylist()]
    return np.asarray(tl.np_of(d.indices), dtype=np.int64), values


def count_spaces(buf: np.ndarray, pos: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Number of spaces starting at ``pos`` (not beyond ``limit``), in blocks of 32 bytes."""
    out = np.zeros(len(pos), dtype=np.int64)
    active = np.arange(len(pos))
    while len(active):
        p = pos[active] + out[active]
        blk = gather(buf, p, 32)
        nonsp = blk != SP
        first = np.where(nonsp.any(axis=1), nonsp.argmax(axis=1), 32)
        out[active] += first
        more = (first == 32) & (pos[active] + out[active] < limit[active])
        active = active[more]
    return np.minimum(out, limit - pos)


def fast_lines(
    data: Any, starts: np.ndarray, ends: np.ndarray, d: Dialect, pool: StringPool
) -> dict[str, np.ndarray]:
    """Per-line results for the lines of dialect ``d`` the fast path can verify (``ok``)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n = len(starts)
    # line end without "\n" / "\r\n"
    le = ends.copy()
    has_nl = (le > starts) & (buf[np.clip(le - 1, 0, None)] == 10)
    le[has_nl] -= 1
    has_cr = (le > starts) & (buf[np.clip(le - 1, 0, None)] == 13)
    le[has_cr] -= 1

    lo, hi = (int(starts[0]), int(ends[-1])) if n else (0, 0)
    bars = np.flatnonzero(buf[lo:hi] == BAR) + lo
    fb = np.searchsorted(bars, starts)
    k = d.bars
    last = fb + k - 1
    ok = last < len(bars)
    lastc = np.clip(last, 0, max(len(bars) - 1, 0))
    pdur = bars[lastc] if len(bars) else np.zeros(n, dtype=np.int64)
    ok &= pdur < le
    # the bars before it must be in this line too, and the next bar (if any) after the text start
    t0 = pdur + 3
    ok &= t0 <= le
    # one window per line: the 17-column duration field, then the indent (up to 47 spaces)
    F = gather(buf, pdur - 14, 64)
    f = F[:, :17]  # mark, ' ', number/filler … '|', ' ', ' '
    ok &= (f[:, 15] == SP) & (f[:, 16] == SP) & (f[:, 1] == SP)
    mark = f[:, 0]
    ok &= np.isin(mark, np.frombuffer(b" +!#*@$", dtype=np.uint8))
    num = f[:, 2:10]
    filler = (f[:, 2:14] == SP).all(axis=1) & (mark == SP)
    # number: digits and at most one dot from column 2, then " us", then spaces up to the bar
    isnum = ((num >= 48) & (num <= 57)) | (num == DOT)
    notnum = ~isnum
    nlen = np.where(notnum.any(axis=1), notnum.argmax(axis=1), 8)
    col17 = np.arange(17)[None, :]
    after = np.take_along_axis(f, np.minimum(2 + nlen, 14)[:, None] + np.arange(3)[None, :], axis=1)
    has_num = (
        (nlen > 0) & (after[:, 0] == SP) & (after[:, 1] == ord("u")) & (after[:, 2] == ord("s"))
    )
    # everything between "us" and the bar (columns 5+nlen .. 13) is space
    between = (col17 >= (5 + nlen)[:, None]) & (col17 <= 13)
    has_num &= ((f == SP) | ~between).all(axis=1)
    ok &= filler | has_num
    # the number itself: decoded once per distinct text (a trace has few distinct durations)
    codes, values = spans_to_codes(
        data, np.where(ok & has_num, pdur - 12, -1), pdur - 12 + nlen, starts
    )
    vns = np.full(len(values) + 1, -1, dtype=np.int64)
    vres = np.full(len(values) + 1, -1, dtype=np.int64)
    for i, v in enumerate(values):  # per distinct duration
        ip, dot, fp = v.partition(".")
        if ip.isdigit() and (not dot or (fp.isdigit() and len(fp) <= 3)):
            vres[i] = 10 ** (3 - len(fp))
            vns[i] = int(ip + fp) * vres[i]
    dur = np.where(has_num, vns[codes], -1)
    res = np.where(has_num, vres[codes], -1)
    ok &= ~has_num | (dur >= 0)
    # indent: spaces after "|  " (deeper than 47 columns: counted further in blocks)
    nonsp = F[:, 17:] != SP
    ind = np.where(nonsp.any(axis=1), nonsp.argmax(axis=1), 47).astype(np.int64)
    deep = np.flatnonzero(ind == 47)
    if len(deep):
        ind[deep] = 47 + count_spaces(buf, t0[deep] + 47, np.maximum(le[deep], t0[deep] + 47))
    ind = np.minimum(ind, np.maximum(le - t0, 0))

    # ---- abstime "%5lu.%06lu |  " before the first bar
    ts = np.full(n, -1, dtype=np.int64)
    colstart = starts.copy()
    if d.abstime:
        b1 = bars[np.clip(fb, 0, len(bars) - 1)]
        a = gather(buf, b1 - 20, 22)  # ... secs . 6 digits ' ' '|' ' ' ' '
        ok &= (a[:, 19] == SP) & (a[:, 12] == DOT) & (a[:, 21] == SP)
        adig = (a >= 48) & (a <= 57)
        ok &= adig[:, 13:19].all(axis=1) & adig[:, 11]
        us = np.zeros(n, dtype=np.int64)
        for j in range(13, 19):
            us = us * 10 + (a[:, j].astype(np.int64) - 48)
        # seconds: the run of digits before the dot, once per distinct value
        nsec = np.logical_and.accumulate(adig[:, 11::-1], axis=1).sum(axis=1)
        codes, values = spans_to_codes(data, np.where(ok, b1 - 8 - nsec, -1), b1 - 8, starts)
        vsec = np.array(
            [int(v) if v.isdigit() and len(v) <= 9 else -1 for v in values] + [-1], dtype=np.int64
        )
        sec = vsec[codes]
        ok &= sec >= 0
        ts = np.where(ok, sec * 1_000_000_000 + us * 1000, -1)
        colstart = b1 + 3
    # ---- CPU " %*d) "
    cpu = np.full(n, -1, dtype=np.int64)
    if d.cpu:
        c = gather(buf, colstart, 8)
        isr = c == RPAR
        rp = np.where(isr.any(axis=1), isr.argmax(axis=1), -1)
        ok &= rp >= 1
        codes, values = spans_to_codes(data, np.where(ok, colstart, -1), colstart + rp, starts)
        vcpu = np.array(
            [int(v) if v.strip().isdigit() else -1 for v in values] + [-1], dtype=np.int64
        )
        cpu = vcpu[codes]
        ok &= (cpu >= 0) & (cpu <= 32767)  # int16 column; wider is damage: left to the regex path
        colstart = colstart + rp + 1
    # ---- proc and latency fields: between the remaining bars, decoded per distinct value
    pid = np.full(n, -1, dtype=np.int32)
    comm = np.full(n, -1, dtype=np.int32)
    flags = np.full(n, -1, dtype=np.int16)
    preempt = np.full(n, -1, dtype=np.int16)
    irq = np.full(n, -1, dtype=np.int8)
    nb = int(d.abstime)
    if d.proc:
        pb = bars[np.clip(fb + nb, 0, len(bars) - 1)]
        codes, values = spans_to_codes(data, np.where(ok, colstart, -1), pb, starts)
        vpid = np.full(len(values) + 1, -1, dtype=np.int32)
        vcomm = np.full(len(values) + 1, -1, dtype=np.int32)
        vok = np.zeros(len(values) + 1, dtype=bool)
        for i, v in enumerate(values):  # per distinct "comm-pid" field
            s = v.strip()
            cm, sep, p = s.rpartition("-")
            if sep and p.isdigit() and len(p) <= 9 and cm:
                vpid[i], vcomm[i], vok[i] = int(p), pool.code(cm), True
        pid, comm = vpid[codes], vcomm[codes]
        ok &= vok[codes]
        colstart = pb + 1
        nb += 1
    if d.lat:
        lb = bars[np.clip(fb + nb, 0, len(bars) - 1)]
        codes, values = spans_to_codes(data, np.where(ok, colstart, -1), lb, starts)
        lat = pa.array([v.strip() for v in values] + [""], type=pa.large_string())
        vf, vp, vi = tl.latency_flags(lat)
        good = np.array(
            [4 <= len(v.strip()) <= 6 and " " not in v.strip() for v in values] + [False]
        )
        flags, preempt, irq = vf[codes], vp[codes], vi[codes]
        ok &= good[codes]
        colstart = lb + 1
    # the dur field must start right where the previous column ended (nothing unexpected between)
    gap = (pdur - 14) - colstart
    ok &= (gap >= 0) & (gap <= 2)

    # ---- indent and graph text
    tx = t0 + ind
    ok &= tx < le
    depth = (ind // 2).astype(np.int32)
    c0 = buf[np.clip(tx, 0, len(buf) - 1)]
    kind = np.full(n, tl.L_UNPARSED, dtype=np.int8)
    func = np.full(n, -1, dtype=np.int32)
    module = np.full(n, -1, dtype=np.int32)
    has_tail = np.zeros(n, dtype=bool)
    tlen = le - tx
    # "}" alone, or "} /* name */"
    close = ok & (c0 == ord("}"))
    bare = close & (tlen == 1)
    h = gather(buf, tx, 5)
    e = gather(buf, le - 3, 3)
    tailed = close & (tlen > 8) & (h[:, 1:5] == np.frombuffer(b" /* ", np.uint8)).all(axis=1)
    tailed &= (e == np.frombuffer(b" */", np.uint8)).all(axis=1)
    # function lines: name up to '(' then "();" or "() {" and the end of the line
    lpar = np.flatnonzero(buf[lo:hi] == LPAR) + lo
    pi = np.searchsorted(lpar, tx)
    pp = lpar[np.clip(pi, 0, max(len(lpar) - 1, 0))] if len(lpar) else np.full(n, -1)
    fnl = (
        ok
        & (c0 != ord("}"))
        & (c0 != ord("/"))
        & (c0 != ord("="))
        & (c0 != ord("<"))
        & (pi < len(lpar))
    )
    fnl &= (pp > tx) & (pp < le)
    q = gather(buf, pp + 1, 3)
    leaf = fnl & (q[:, 0] == RPAR) & (q[:, 1] == ord(";")) & (pp + 3 == le)
    nested = fnl & (q[:, 0] == RPAR) & (q[:, 1] == SP) & (q[:, 2] == ord("{")) & (pp + 4 == le)
    # names: decode distinct names once; "f [mod]" gives module; a space anywhere else → regex
    named = leaf | nested | tailed
    nstart = np.where(tailed, tx + 5, tx)
    nend = np.where(tailed, le - 3, pp)
    codes, values = spans_to_codes(data, np.where(named, nstart, -1), nend, starts)
    vf = np.full(len(values) + 1, -1, dtype=np.int32)
    vm = np.full(len(values) + 1, -1, dtype=np.int32)
    vok = np.zeros(len(values) + 1, dtype=bool)
    for i, v in enumerate(values):  # per distinct function name
        name, _, rest = v.partition(" ")
        if not name or "(" in name or ")" in name:
            continue
        if rest:
            if not (rest.startswith("[") and rest.endswith("]") and " " not in rest):
                continue  # "f = -22", "f ret=0x0": retval syntax, leave it to the regexes
            vm[i] = pool.code(rest[1:-1])
        vf[i] = pool.code(name)
        vok[i] = True
    named &= vok[codes]
    func = np.where(named, vf[codes], -1).astype(np.int32)
    module = np.where(named, vm[codes], -1).astype(np.int32)
    kind[leaf & named] = tl.L_LEAF
    kind[nested & named] = tl.L_ENTRY
    kind[tailed & named] = tl.L_EXIT
    kind[bare] = tl.L_EXIT
    has_tail = tailed & named
    good = ok & (kind != tl.L_UNPARSED)
    # a nested entry or bare "}" prints the filler, a leaf or a return the duration
    good &= np.where(
        (kind == tl.L_ENTRY),
        filler,
        np.where((kind == tl.L_LEAF) | (kind == tl.L_EXIT), has_num | (kind == tl.L_EXIT), True),
    )
    return {
        "ok": good,
        "kind": kind,
        "ts": ts,
        "cpu": cpu.astype(np.int16),
        "pid": pid,
        "comm": comm,
        "flags": flags,
        "preempt": preempt,
        "irqctx": irq,
        "depth": depth,
        "dur": dur,
        "res": res,
        "func": func,
        "module": module,
        "has_tail": has_tail,
    }


FAST_CHUNK_LINES = 1 << 18


def fast_lines_parallel(
    data: Any, starts: np.ndarray, ends: np.ndarray, d: Dialect, pool: StringPool, workers: int = 2
) -> dict[str, np.ndarray]:
    """:func:`fast_lines` over chunks of lines on a thread pool (numpy and Arrow release the GIL).

    Each chunk codes its strings into its own pool; the codes are remapped into ``pool``
    afterwards in chunk order, so the result does not depend on thread timing.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..table import remap_codes

    n = len(starts)
    bounds = list(range(0, n, FAST_CHUNK_LINES)) or [0]
    jobs = [(b, min(b + FAST_CHUNK_LINES, n)) for b in bounds]

    def run(job: tuple[int, int]) -> tuple[dict[str, np.ndarray], StringPool]:
        local = StringPool()
        return fast_lines(data, starts[job[0] : job[1]], ends[job[0] : job[1]], d, local), local

    if len(jobs) > 1 and workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            parts = list(ex.map(run, jobs))
    else:
        parts = [run(j) for j in jobs]
    out: dict[str, list[np.ndarray]] = {k: [] for k in parts[0][0]}
    for res, local in parts:
        mapping = local.remap_into(pool)
        for k, v in res.items():
            out[k].append(remap_codes(v, mapping) if k in ("comm", "func", "module") else v)
    return {k: np.concatenate(v) for k, v in out.items()}
