"""Mutation fuzzing of fgraph's readers and rebuild: seeds, mutators, a worker pool.

A *case* is (seed file, master seed, case index).  Its input is the seed's bytes after one to
three mutations drawn from ``random.Random(f"{master}:{seed}:{index}")``, so any case is rebuilt
exactly from its three coordinates (``python tests/fuzz/run_long.py --replay SEED:INDEX``).

Each case runs in a long-lived worker subprocess (``tests/fuzz/worker.py``), one input at a time.
The parent waits for the answer with a timeout: a case that does not answer in time is a *hang*
(the worker is killed and replaced, which also catches loops inside C extensions, where
``signal.alarm`` would never fire); a worker that dies (segfault, abort) is a *crash*.  Workers
run under an address-space limit, so a header count that makes fgraph allocate gigabytes shows up
as a MemoryError (a *crash*) instead of swapping the machine.

Outcomes: ``ok`` (a result, accounting holds), ``error`` (an FgraphError: fine), ``crash`` (any
other exception or a dead worker), ``hang``, ``unaccounted`` (rebuild Quality
events_unaccounted != 0), ``invalid`` (a returned table breaks the schema).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import re
import select
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
CRASHES = HERE / "crashes"
KNOWN = HERE / "known_crashes.txt"
WORKER = HERE / "worker.py"
ROOT = HERE.parent.parent
CORPUS = Path(os.environ.get("FGRAPH_CORPUS", ROOT.parent / "shared" / "corpus"))

TRACE_DAT_MAGIC = b"\x17\x08\x44tracing"
BAD = ("crash", "hang", "unaccounted", "invalid")


# --------------------------------------------------------------------------------------------
# seeds


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    kind: str  # "dat" or "text"
    module: str  # the fgraph reader module the seed needs


def _text_module(data: bytes) -> str:
    """Which text reader a seed needs (detection itself is fgraph's job; this only gates)."""
    head = data[:4096]
    if re.search(rb"^cpus=\d+", head, re.M) or re.search(
        rb"^\s*\S.*-\d+\s+\[\d+\]\s+\S*\s*\d+\.\d+:\s+\w+:", head, re.M
    ):
        return "fgraph.parsers.report_text"
    return "fgraph.parsers.ftrace_text"


def seed_files(extra_corpus: bool = False) -> list[Path]:
    files = sorted(p for p in SEEDS.iterdir() if p.is_file() and not p.name.startswith("."))
    if extra_corpus:
        # public samples that may not be committed: used when the corpus is there
        for rel in ("public/FuncGraph/ftrace.txt", "public/perf-tools/funcgraph_example.txt"):
            p = CORPUS / rel
            if p.exists():
                files.append(p)
    return files


def load_seeds(extra_corpus: bool = False) -> list[Seed]:
    out = []
    for p in seed_files(extra_corpus):
        data = p.read_bytes()
        if data.startswith(TRACE_DAT_MAGIC):
            out.append(Seed(p.name, data, "dat", "fgraph.parsers.tracedat"))
        else:
            out.append(Seed(p.name, data, "text", _text_module(data)))
    return out


def available(seed: Seed) -> bool:
    """True when the reader the seed needs exists in this tree (stages land one by one)."""
    try:
        return importlib.util.find_spec(seed.module) is not None
    except ModuleNotFoundError:
        return False


# --------------------------------------------------------------------------------------------
# structure of the inputs (heuristics for mutating, not parsers)


def dat_pages(data: bytes, page_size: int = 4096) -> list[int]:
    """Offsets of what look like ring-buffer pages (uncompressed trace.dat data).

    CPU data start page-aligned in v6 and v7 (docs/formats.md §1.2, §1.3), and each page starts
    with a u64 timestamp and a commit word whose low bits are at most page_size - 16.  A
    plausible timestamp (within 2^40 ns of the median) weeds out metadata.
    """
    cands = []
    for off in range(page_size, len(data) - 16, page_size):
        ts, commit = struct.unpack_from("<QQ", data, off)
        size = commit & ((1 << 27) - 1)
        if ts and 0 < size <= page_size - 16 and commit >> 32 == 0:
            cands.append((off, ts))
    if not cands:
        return []
    tss = sorted(t for _, t in cands)
    med = tss[len(tss) // 2]
    return [o for o, t in cands if abs(t - med) < (1 << 40)]


def text_lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


# --------------------------------------------------------------------------------------------
# mutators: each takes (rng, data, seed kind) and returns new bytes and a short description

Mutator = Callable[[random.Random, bytes], tuple[bytes, str]]

HUGE = (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFFFFFFFFFF, 1 << 40, 0x10000, 0)


def m_bitflip(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    if not d:
        return d, "bitflip(empty)"
    b = bytearray(d)
    n = rng.choice((1, 1, 2, 4, 8, 32))
    for _ in range(n):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b), f"bitflip x{n}"


def m_truncate(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    cut = rng.randrange(len(d) + 1) if rng.random() < 0.7 else rng.randrange(min(len(d), 600) + 1)
    return d[:cut], f"truncate@{cut}"


def m_junk(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    n = rng.choice((1, 7, 64, 700, 5000))
    junk = rng.randbytes(n)
    at = rng.randrange(len(d) + 1)
    if rng.random() < 0.5:
        return d[:at] + junk + d[at:], f"insert junk {n}@{at}"
    return d[:at] + junk + d[at + n :], f"overwrite junk {n}@{at}"


def m_delete(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    if not d:
        return d, "delete(empty)"
    at = rng.randrange(len(d))
    n = rng.choice((1, 3, 100, 4096))
    return d[:at] + d[at + n :], f"delete {n}@{at}"


def m_empty(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    return b"", "empty"


def m_header_int(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    """A size or count in the first KiB (metadata) set to a huge or zero value."""
    if len(d) < 24:
        return m_bitflip(rng, d)
    lim = min(len(d) - 8, 4096 if rng.random() < 0.5 else len(d) - 8)
    at = rng.randrange(10, max(11, lim))
    v = rng.choice(HUGE)
    w = rng.choice((4, 8))
    b = bytearray(d)
    b[at : at + w] = (v & ((1 << (8 * w)) - 1)).to_bytes(w, "little")
    return bytes(b[: len(d)]), f"u{8 * w}@{at}={v:#x}"


def _pages_or(rng: random.Random, d: bytes) -> list[int]:
    return dat_pages(d)


def m_page_dup(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    pages = _pages_or(rng, d)
    if not pages:
        return m_bitflip(rng, d)
    src, dst = rng.choice(pages), rng.choice(pages)
    b = bytearray(d)
    b[dst : dst + 4096] = d[src : src + 4096]
    return bytes(b), f"page dup {src:#x}->{dst:#x}"


def m_page_swap(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    pages = _pages_or(rng, d)
    if len(pages) < 2:
        return m_bitflip(rng, d)
    a, c = rng.sample(pages, 2)
    b = bytearray(d)
    b[a : a + 4096], b[c : c + 4096] = d[c : c + 4096], d[a : a + 4096]
    return bytes(b), f"page swap {a:#x}<->{c:#x}"


def m_page_commit(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    """Bad commit size: beyond the page, zero, or with stray flag bits."""
    pages = _pages_or(rng, d)
    if not pages:
        return m_header_int(rng, d)
    p = rng.choice(pages)
    v = rng.choice((0, 4081, 4095, 4096, 65536, 0xFFFFFFFF, (1 << 31) | 5000, (1 << 30) | 4080))
    b = bytearray(d)
    b[p + 8 : p + 16] = struct.pack("<Q", v)
    return bytes(b), f"page {p:#x} commit={v:#x}"


def m_page_typelen(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    """An event header inside a page: type_len forced to 0/29/30/31 or a huge array length."""
    pages = _pages_or(rng, d)
    if not pages:
        return m_bitflip(rng, d)
    p = rng.choice(pages)
    at = p + 16 + 4 * rng.randrange(64)
    if at + 8 > len(d):
        return m_bitflip(rng, d)
    (hdr,) = struct.unpack_from("<I", d, at)
    tl = rng.choice((0, 29, 30, 31, 28, 1))
    new = (hdr & ~0x1F) | tl
    b = bytearray(d)
    struct.pack_into("<I", b, at, new)
    if tl == 0 and rng.random() < 0.7:  # type_len 0: the next u32 is the length
        struct.pack_into("<I", b, at + 4, rng.choice((0, 3, 4093, 0xFFFFFFFF, 1 << 20)))
    return bytes(b), f"page {p:#x} type_len={tl}@{at:#x}"


def m_page_ts_back(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    """A page whose timestamp goes backwards (or jumps far ahead)."""
    pages = _pages_or(rng, d)
    if not pages:
        return m_bitflip(rng, d)
    p = rng.choice(pages)
    (ts,) = struct.unpack_from("<Q", d, p)
    new = rng.choice((0, 1, ts // 2, max(ts - 10**9, 0), ts + (1 << 50), (1 << 64) - 1))
    b = bytearray(d)
    new &= (1 << 64) - 1
    struct.pack_into("<Q", b, p, new)
    return bytes(b), f"page {p:#x} ts={new:#x}"


def m_line_dup(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    lines = text_lines(d)
    if not lines:
        return m_junk(rng, d)
    i = rng.randrange(len(lines))
    n = rng.choice((1, 1, 5, 50))
    lines[i:i] = lines[i : i + n]
    return b"".join(lines), f"dup lines {i}+{n}"


def m_line_swap(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    lines = text_lines(d)
    if len(lines) < 2:
        return m_junk(rng, d)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines), f"swap lines {i},{j}"


def m_line_shuffle(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    """A block of lines out of order (CPUs' lines interleaved wrongly, trace_pipe races)."""
    lines = text_lines(d)
    if len(lines) < 3:
        return m_junk(rng, d)
    i = rng.randrange(len(lines))
    n = rng.choice((3, 10, 100))
    block = lines[i : i + n]
    rng.shuffle(block)
    lines[i : i + n] = block
    return b"".join(lines), f"shuffle lines {i}+{n}"


def m_line_delete(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    lines = text_lines(d)
    if not lines:
        return m_junk(rng, d)
    i = rng.randrange(len(lines))
    n = rng.choice((1, 1, 10, 200))
    del lines[i : i + n]
    return b"".join(lines), f"delete lines {i}+{n}"


GARBAGE_LINES = (
    b"garbage here\n",
    b"  0)               |  \n",
    b" 1) ! 999999999.999 us |  }\n",
    b"  0)   1.234 us    |  " + b"x" * 5000 + b"();\n",
    b"CPU:1 [LOST 18446744073709551615 EVENTS]\n",
    b"CPU:99999999999 [LOST 3 EVENTS]\n",
    b" ------------------------------------------\n",
    b" 0)    <idle>-0    =>   bash-1234  \n",
    b" 0)  ==========> |\n",
    b" 0)  <========== |\n",
    b"            bash-1   [000] 99999999999999999999.999999: funcgraph_entry: | f() {\n",
    b"            bash-1   [999999] 1.000000: funcgraph_exit: ! 1.0 us | }\n",
    b" 0) | /* sched_switch: prev_comm=a prev_pid=x prev_prio=120 prev_state=S ==> */\n",
    b"\x00\x01\x02\xff\xfe\n",
    b"\xe2\x82\n",
    b"}\n",
    b" 0) } /* \n",
    b"\r\n",
    b"# tracer: function_graph\n",
)


def m_line_garbage(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    lines = text_lines(d)
    i = rng.randrange(len(lines) + 1)
    g = rng.choice(GARBAGE_LINES) if rng.random() < 0.8 else rng.randbytes(rng.randrange(1, 200))
    lines[i:i] = [g]
    return b"".join(lines), f"garbage line @{i}"


def m_crlf(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    return d.replace(b"\n", b"\r\n"), "crlf"


def m_cut_line(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    """Truncated in the middle of a line (copy-paste, full disk)."""
    lines = text_lines(d)
    if not lines:
        return d, "cut(empty)"
    i = rng.randrange(len(lines))
    ln = lines[i]
    return b"".join(lines[:i]) + ln[: rng.randrange(len(ln) + 1)], f"cut line {i}"


def m_digits(rng: random.Random, d: bytes) -> tuple[bytes, str]:
    """A number in the text replaced by an absurd one (huge, negative, many digits)."""
    spans = [m.span() for m in re.finditer(rb"\d+", d[:200000])]
    if not spans:
        return m_junk(rng, d)
    a, b = rng.choice(spans)
    v = rng.choice((b"0", b"-1", b"99999999999999999999999", b"4294967296", b"1e308", b"nan"))
    return d[:a] + v + d[b:], f"digits@{a}={v.decode()}"


COMMON: tuple[tuple[Mutator, int], ...] = (
    (m_bitflip, 6),
    (m_truncate, 5),
    (m_junk, 3),
    (m_delete, 2),
    (m_empty, 1),
)
DAT: tuple[tuple[Mutator, int], ...] = COMMON + (
    (m_header_int, 5),
    (m_page_dup, 3),
    (m_page_swap, 3),
    (m_page_commit, 4),
    (m_page_typelen, 4),
    (m_page_ts_back, 3),
)
TEXT: tuple[tuple[Mutator, int], ...] = COMMON + (
    (m_line_dup, 3),
    (m_line_swap, 3),
    (m_line_shuffle, 3),
    (m_line_delete, 2),
    (m_line_garbage, 5),
    (m_crlf, 2),
    (m_cut_line, 2),
    (m_digits, 3),
)


def mutate(seed: Seed, master: int, index: int) -> tuple[bytes, list[str]]:
    """The input of case ``index`` (deterministic in (master, seed.name, index))."""
    rng = random.Random(f"{master}:{seed.name}:{index}")
    table = DAT if seed.kind == "dat" else TEXT
    fns = [f for f, _ in table]
    weights = [w for _, w in table]
    data = seed.data
    steps = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        fn = rng.choices(fns, weights)[0]
        data, what = fn(rng, data)
        steps.append(what)
        if not data:
            break
    return data, steps


# --------------------------------------------------------------------------------------------
# running cases


@dataclass
class Result:
    seed: str
    index: int
    steps: list[str]
    status: str
    detail: str = ""
    signature: str = ""
    seconds: float = 0.0
    digest: str = ""


class Worker:
    """One worker subprocess; answers one JSON line per input path."""

    def __init__(self, mem_limit_mb: int) -> None:
        env = dict(os.environ, FGRAPH_FUZZ_MEM_MB=str(mem_limit_mb), PYTHONHASHSEED="0")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(ROOT),
        )
        self.buf = b""
        ready = self._readline(60.0)  # imports numpy/pandas once
        if ready is None or json.loads(ready).get("status") != "ready":
            raise RuntimeError(f"fuzz worker did not start: {ready!r}")

    def _readline(self, timeout: float) -> bytes | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""  # worker died
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def run(self, path: Path, timeout: float) -> dict[str, Any] | None:
        """The worker's answer, {"status": "died"} if it died, None on timeout."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(str(path).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"status": "crash", "detail": "worker died", "signature": "worker died"}
        line = self._readline(timeout)
        if line is None:
            return None
        if line == b"":
            rc = self.proc.wait()
            return {
                "status": "crash",
                "detail": f"worker died with exit status {rc}",
                "signature": f"worker died rc={rc}",
            }
        out: dict[str, Any] = json.loads(line)
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stopped_early: bool = False

    def add(self, r: Result) -> None:
        self.results.append(r)
        self.counts[r.status] = self.counts.get(r.status, 0) + 1

    def bad(self) -> list[Result]:
        return [r for r in self.results if r.status in BAD]

    def line(self) -> str:
        c = self.counts
        parts = [f"cases {len(self.results)}"] + [f"{k} {c.get(k, 0)}" for k in ("ok", "error")]
        parts += [f"{k} {c.get(k, 0)}" for k in BAD]
        return ", ".join(parts) + (" (stopped at the time budget)" if self.stopped_early else "")


def cases(seeds: list[Seed], master: int, n: int) -> Iterator[tuple[Seed, int]]:
    """n cases spread round-robin over the seeds."""
    for i in range(n):
        yield seeds[i % len(seeds)], i // len(seeds)


def run_cases(
    todo: Iterable[tuple[Seed, int]],
    master: int,
    workdir: Path,
    *,
    jobs: int = 2,
    timeout: float = 10.0,
    budget: float | None = None,
    mem_limit_mb: int = 2048,
    on_result: Callable[[Result, bytes], None] | None = None,
    cli_every: int = 0,
) -> Summary:
    """Run cases on ``jobs`` workers; stop starting new ones after ``budget`` seconds.

    ``cli_every``: every n-th case (by case index) whose input reads also goes through the CLI
    commands (info, stats, events, calls, hist, slowest, export, trim, check)."""
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    summary = Summary()
    todo_it = iter(todo)
    workers: list[Worker | None] = [None] * jobs
    # one case in flight per worker: (seed, index, steps, data, path, t0)
    inflight: list[tuple[Seed, int, list[str], bytes, Path, float] | None] = [None] * jobs

    def submit(k: int) -> bool:
        if budget is not None and time.monotonic() - start > budget:
            summary.stopped_early = True
            return False
        nxt = next(todo_it, None)
        if nxt is None:
            return False
        seed, idx = nxt
        data, steps = mutate(seed, master, idx)
        ext = ".dat" if seed.kind == "dat" else ".txt"
        path = workdir / f"case{k}{ext}"
        path.write_bytes(data)
        w = workers[k]
        if w is None or not w.alive():
            w = workers[k] = Worker(mem_limit_mb)
        assert w.proc.stdin is not None
        mode = b"\tcli" if cli_every and idx % cli_every == 0 else b""
        w.proc.stdin.write(str(path).encode() + mode + b"\n")
        w.proc.stdin.flush()
        inflight[k] = (seed, idx, steps, data, path, time.monotonic())
        return True

    try:
        for k in range(jobs):
            submit(k)
        while any(inflight):
            fds = {}
            for k, w in enumerate(workers):
                if inflight[k] is not None and w is not None:
                    assert w.proc.stdout is not None
                    fds[w.proc.stdout.fileno()] = k
            now = time.monotonic()
            wait = min(
                max(0.0, inflight[k][5] + timeout - now)  # type: ignore[index]
                for k in fds.values()
            )
            ready_ks = [k for k in fds.values() if b"\n" in workers[k].buf]  # type: ignore[union-attr]
            if not ready_ks:
                r, _, _ = select.select(list(fds), [], [], wait)
                ready_ks = [fds[fd] for fd in r]
            done: list[tuple[int, dict[str, str] | None]] = []
            for k in ready_ks:
                w = workers[k]
                assert w is not None
                line = w._readline(0.0)
                if line == b"":
                    rc = w.proc.wait()
                    done.append(
                        (
                            k,
                            {
                                "status": "crash",
                                "detail": f"worker died (exit status {rc})",
                                "signature": f"worker died rc={rc}",
                            },
                        )
                    )
                elif line is not None:
                    done.append((k, json.loads(line)))
            now = time.monotonic()
            for k in list(fds.values()):
                fl = inflight[k]
                if fl is not None and k not in [d[0] for d in done] and now - fl[5] > timeout:
                    done.append((k, None))
            for k, ans in done:
                fl = inflight[k]
                assert fl is not None
                seed, idx, steps, data, path, t0 = fl
                if ans is None:
                    workers[k].kill()  # type: ignore[union-attr]
                    workers[k] = None
                    ans = {
                        "status": "hang",
                        "detail": f"no answer in {timeout:.0f} s",
                        "signature": f"hang {seed.kind}",
                    }
                elif ans["status"] == "crash" and "worker died" in ans.get("detail", ""):
                    workers[k] = None
                res = Result(
                    seed.name,
                    idx,
                    steps,
                    ans["status"],
                    ans.get("detail", ""),
                    ans.get("signature", ""),
                    time.monotonic() - t0,
                    hashlib.sha1(data).hexdigest()[:10],
                )
                summary.add(res)
                if on_result is not None:
                    on_result(res, data)
                inflight[k] = None
                submit(k)
    finally:
        for w in workers:
            if w is not None:
                w.kill()
    return summary


def known_signatures() -> list[str]:
    if not KNOWN.exists():
        return []
    return [
        ln.split("#", 1)[0].strip()
        for ln in KNOWN.read_text().splitlines()
        if ln.split("#", 1)[0].strip()
    ]


def is_known(r: Result, known: list[str]) -> bool:
    return any(k and k in r.signature for k in known)


def save_crash(r: Result, data: bytes, master: int) -> Path:
    """Store a failing input and what happened under tests/fuzz/crashes/."""
    CRASHES.mkdir(exist_ok=True)
    stem = f"{r.status}-{r.seed}-{r.digest}"
    p = CRASHES / (stem + ".bin")
    p.write_bytes(data)
    (CRASHES / (stem + ".txt")).write_text(
        f"seed file: {r.seed}\nreplay: --master {master} --replay {r.seed}:{r.index}\n"
        f"mutations: {'; '.join(r.steps)}\nstatus: {r.status}\nsignature: {r.signature}\n\n"
        f"{r.detail}\n"
    )
    return p
