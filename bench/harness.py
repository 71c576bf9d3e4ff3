"""The benchmark harness behind ``bench/run`` and ``python -m bench`` (issue 7).

For each target it prints the measured figure, the baseline measured in the same run on the
same input, and the ratio:

* P1  ``fgraph hist FILE --func X`` on a >= 10M-event trace.dat vs ``trace-cmd report FILE``
      (goal: >= 10x faster); P1zstd the same pages written as trace-cmd writes a trace.dat by
      default (v7, zstd chunks);
* P2  kernel function_graph text end to end (parse, rebuild, hist) in MB/s vs a plain Python
      ``re`` loop that only matches each line (goal: >= 100 MB/s and >= 2x);
* P3  peak RSS / trace.dat size (goal: <= 1.5) and time at 1x/2x/4x/8x sizes (goal: linear);
      pipe: the 4x trace.dat on stdin and gzip'd (no file to map: read into a temporary
      file), held to the same goal;
* cold start: ``fgraph --help`` (< 0.5 s) and a small trace answered (< 1 s), interpreter
  start included;
* report (only with ``--only report``): ``trace-cmd report`` text of a generated trace.dat,
  end to end as P2, against the same kind of ``re`` loop (informative: P2's goal is for kernel
  text);
* big (only with ``--only big``): ``fgraph hist`` on a ``--big-gb`` (default 4 GB) trace.dat,
  its peak RSS against the file and the machine's memory ("a 4 GB trace.dat completes on a
  24 GB machine"); generating the input takes ~1 min and 4 GB of disk.

Every figure comes from a child process: wall time from ``time.perf_counter`` around it, peak
RSS from ``os.wait4``'s rusage of that child alone.  Inputs are generated from real vm61 pages
into ``bench/out/`` (git-ignored) and reused while their parameters are unchanged.
``--quick`` runs a small version in a few seconds (used by tests/test_bench_harness.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gen_text  # noqa: E402
import gen_tracedat  # noqa: E402

CORPUS = Path(os.environ.get("FGRAPH_CORPUS", ROOT.parent / "shared" / "corpus"))
VM61 = CORPUS / "vm61"

# Templates: the biggest real captures with deep vfs_write/vfs_fsync_range graphs.
DAT_TEMPLATE = VM61 / "fsync.dat"
TEXT_TEMPLATE = VM61 / "fsync.abstime_proc_tail.txt.zst"
FUNC = "vfs_write"
SMALL_DAT = VM61 / "btrfs_read.dat"
SMALL_FUNC = "vfs_read"

# The naive baseline of P2: one regular expression that recognizes a function_graph line with
# abstime and proc columns, applied line by line (what a quick script would do).
NAIVE_RE = (
    rb"^\s*(\d+\.\d+) \|\s+(\d+)\)\s+(.*?)-(\d+)\s+\|\s*([+!#*@$])?\s*(?:(\d+\.\d+) us)?\s*\|"
    rb"\s(\s*)(\S.*?)(?:\(\)\s*(\{|;))?\s*$"
)
# and of the report row: one expression for a trace-cmd report record line
# ("comm-pid [cpu] sec.usec: event: text", then the graph text of a funcgraph record)
NAIVE_REPORT_RE = (
    rb"^\s*(.*?)-(\d+)\s+\[(\d+)\]\s+(\d+\.\d+):\s+(\w+):\s+([+!#*@$])?\s*(?:(\d+\.\d+) us)?"
    rb"\s*\|\s(\s*)(\S.*?)(?:\(\)\s*(\{|;))?\s*$"
)

NAIVE_SCRIPT = f"""
import re, sys
pat = re.compile({NAIVE_RE!r} if len(sys.argv) < 3 else {NAIVE_REPORT_RE!r})
n = m = 0
with open(sys.argv[1], 'rb') as f:
    for line in f:
        n += 1
        if pat.match(line):
            m += 1
print(n, m)
"""


@dataclass
class Run:
    """One child process: what ran, how long, how much memory, and whether it worked."""

    cmd: list[str]
    wall_s: float
    maxrss_kb: int
    rc: int
    cpu_s: float = 0.0  # user + system time of the child (less sensitive to a busy machine)
    stdout: str = ""
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class Row:
    target: str
    figure: str
    baseline: str
    ratio: str
    goal: str
    verdict: str  # "pass", "FAIL", "n/a (...)"
    data: dict = field(default_factory=dict)


# Runs each measured command from a fresh small process.  A child's ru_maxrss counts the RSS
# high-water mark of the memory it was forked with: at exec the kernel keeps the old mm's
# hiwater_rss in the process's maxrss (fs/exec.c exec_mmap, setmax_mm_hiwater_rss), and a
# fork or vfork child starts with its parent's.  Run straight from this process, every child
# would report at least this process's own peak: after it had generated the benchmark files
# (numpy, ~140 MB), a small `fgraph hist` read 142 MB instead of 52 MB and the P3 1x row
# 143 MB instead of ~100 MB.  The launcher, a new interpreter of ~10 MB, forks the command,
# times it and reports the command's own rusage.
_LAUNCHER = """
import json, os, subprocess, sys, time
cmd, out, err = json.loads(sys.argv[1])
with open(out or os.devnull, "wb") as so, open(err, "wb") as se:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=so, stderr=se)
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
print(json.dumps([wall, ru.ru_maxrss, os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime]))
"""


def run_child(cmd: list[str], *, stdout_to_null: bool = False) -> Run:
    """Run ``cmd``; wall time and the child's own peak RSS (os.wait4 on it alone, not
    RUSAGE_CHILDREN, in a small launcher process: ``_LAUNCHER``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = "" if stdout_to_null else os.path.join(tmp, "out")
        err = os.path.join(tmp, "err")
        job = json.dumps([cmd, out, err])
        res = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, job], capture_output=True, text=True, check=False
        )
        if res.returncode != 0:  # (the command could not be started: say why)
            return Run(cmd, 0.0, 0, 127, 0.0, "", res.stderr.strip()[-400:])
        wall, maxrss, rc, cpu = json.loads(res.stdout)
        text = Path(out).read_bytes() if out else b""
        errs = Path(err).read_bytes()
    return Run(
        cmd,
        wall,
        int(maxrss),
        rc,
        cpu,
        text.decode(errors="replace")[-2000:],
        errs.decode(errors="replace").strip()[-400:],
    )


def fgraph_cmd() -> list[str]:
    """The ``fgraph`` console script installed beside this interpreter; else the one on PATH;
    else ``python -m fgraph``.  Beside the interpreter first: on PATH, a version manager's shim
    may come first (pyenv's is a bash script that runs ``pyenv exec``: ~50 ms of every run
    on the benchmark VM, none of it fgraph's)."""
    here = Path(sys.executable).parent / "fgraph"
    if here.is_file() and os.access(here, os.X_OK):
        return [str(here)]
    exe = shutil.which("fgraph")
    return [exe] if exe else [sys.executable, "-m", "fgraph"]


def compile_bytecode() -> str:
    """fgraph's modules compiled to bytecode once, as ``pip install`` does for an installed
    package.  An editable install writes its bytecode at the first import, unless the
    environment says PYTHONDONTWRITEBYTECODE (this sandbox does): then every measured run
    compiled fgraph's ~40 modules again (~60-100 ms of each run's startup).  What the header
    says about it."""
    import compileall

    spec = importlib.util.find_spec("fgraph")
    if spec is None or not spec.submodule_search_locations:
        return "fgraph not importable here: bytecode not compiled"
    where = list(spec.submodule_search_locations)[0]
    ok = compileall.compile_dir(where, quiet=1)
    env = (
        " (PYTHONDONTWRITEBYTECODE is set here)"
        if os.environ.get("PYTHONDONTWRITEBYTECODE")
        else ""
    )
    return (
        f"fgraph bytecode compiled in {where}{env}" if ok else "fgraph bytecode: compileall failed"
    )


def best_of(n: int, cmd: list[str], **kw) -> Run:  # type: ignore[no-untyped-def]
    runs = [run_child(cmd, **kw) for _ in range(max(1, n))]
    ok = [r for r in runs if r.ok]
    return min(ok, key=lambda r: r.wall_s) if ok else runs[-1]


def _fail_reason(r: Run) -> str:
    last = r.stderr_tail.splitlines()[-1] if r.stderr_tail else f"exit {r.rc}"
    return f"n/a (fgraph failed: {last[:120]})"


# ------------------------------------------------------------------------------------ inputs


def dat_input(copies: int, fmt: str = "v7") -> tuple[Path, int]:
    """bench/out/fsync_x<copies>.<fmt>.dat, generated once; (path, number of records)."""
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    path = out / f"{DAT_TEMPLATE.stem}_x{copies}.{fmt}.dat"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, int(json.loads(meta.read_text())["events"])
    # write under a private name and rename: a concurrent run (another test session) never
    # sees a half-written file
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    r = gen_tracedat.generate(str(DAT_TEMPLATE), str(tmp), copies=copies, fmt=fmt)
    os.replace(tmp, path)
    _write_meta(meta, {"events": r.events, "copies": r.copies, "bytes": r.bytes})
    return path, r.events


def text_input(copies: int) -> tuple[Path, int]:
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    path = out / f"{TEXT_TEMPLATE.name.split('.')[0]}_x{copies}.txt"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, int(json.loads(meta.read_text())["lines"])
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    r = gen_text.generate(str(TEXT_TEMPLATE), str(tmp), copies=copies)
    os.replace(tmp, path)
    _write_meta(meta, {"lines": r.lines, "copies": r.copies, "bytes": r.bytes})
    return path, r.lines


def _write_meta(meta: Path, d: dict) -> None:
    tmp = meta.with_name(f"{meta.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(d))
    os.replace(tmp, meta)


def copies_for_events(n: int) -> int:
    per = 203_653  # records in one copy of fsync.dat (both CPUs); exact count comes from the generator
    return max(1, -(-n // per))


# ----------------------------------------------------------------------------------- targets


def file_events(path: Path) -> int:
    """Records in a trace.dat, as ``fgraph stats`` counts them (not timed)."""
    r = subprocess.run(
        [*fgraph_cmd(), "stats", str(path), "--json", "-q"], capture_output=True, check=True
    )
    return int(json.loads(r.stdout)["events_in"])


def p1(
    copies: int, repeat: int, given: Path | None = None, func: str = FUNC, fmt: str = "v7"
) -> Row:
    """P1 on the generated trace of ``copies`` copies (``fmt``: gen_tracedat's; v7zstd is the
    trace.dat as trace-cmd writes it by default), or on the ``given`` trace.dat (a real
    capture: ``--p1-file``)."""
    path, nev = (given, file_events(given)) if given is not None else dat_input(copies, fmt)
    target = "P1 trace.dat hist" + (" (zstd)" if given is None and fmt == "v7zstd" else "")
    tc = shutil.which("trace-cmd")
    base = run_child([tc, "report", str(path)], stdout_to_null=True) if tc else None
    fg = best_of(repeat, [*fgraph_cmd(), "hist", str(path), "--func", func], stdout_to_null=True)
    data = {"file": str(path), "events": nev, "bytes": path.stat().st_size, "fgraph": asdict(fg)}
    base_s = (
        f"trace-cmd report {base.wall_s:.2f} s, cpu {base.cpu_s:.2f} s ({nev / base.wall_s / 1e6:.2f} M ev/s)"
        if base
        else "no trace-cmd"
    )
    if base:
        data["tracecmd"] = asdict(base)
    if not fg.ok:
        return Row(target, "-", base_s, "-", ">= 10x", _fail_reason(fg), data)
    ratio = base.wall_s / fg.wall_s if base else float("nan")
    cratio = base.cpu_s / fg.cpu_s if base and fg.cpu_s else float("nan")
    return Row(
        target,
        f"{fg.wall_s:.2f} s, cpu {fg.cpu_s:.2f} s, {nev / fg.wall_s / 1e6:.2f} M ev/s "
        f"({'' if given is None else path.name + ': '}{nev / 1e6:.1f} M events, "
        f"{path.stat().st_size / 1e6:.0f} MB), RSS {fg.maxrss_kb / 1024:.0f} MB",
        base_s,
        f"{ratio:.2f}x (cpu {cratio:.2f}x)",
        ">= 10x",
        "pass" if ratio >= 10 else "FAIL",
        data,
    )


def p2(copies: int, repeat: int) -> Row:
    path, _lines = text_input(copies)
    return _text_row("P2 text end to end", path, [], ">= 100 MB/s, >= 2x", "FAIL", repeat)


def _text_row(target: str, path: Path, naive: list[str], goal: str, short: str, repeat: int) -> Row:
    """``fgraph hist`` on a text input in MB/s against the ``re`` loop (``naive``: its extra
    arguments) in the same run; ``short``: the verdict below P2's goal (>= 100 MB/s, >= 2x)."""
    size = path.stat().st_size
    base = run_child([sys.executable, "-c", NAIVE_SCRIPT, str(path), *naive])
    fg = best_of(repeat, [*fgraph_cmd(), "hist", str(path), "--func", FUNC], stdout_to_null=True)
    mb = size / 1e6
    base_s = f"python re loop {mb / base.wall_s:.0f} MB/s, cpu {base.cpu_s:.2f} s" + (
        "" if base.ok else " (failed)"
    )
    try:
        lines, matched = (int(x) for x in base.stdout.split())
        base_s += f" ({matched}/{lines} lines matched)"
    except ValueError:
        lines = matched = -1
    data = {
        "file": str(path),
        "bytes": size,
        "fgraph": asdict(fg),
        "naive": asdict(base),
        "naive_matched": matched,
    }
    if not fg.ok:
        return Row(target, "-", base_s, "-", goal, _fail_reason(fg), data)
    ratio = base.wall_s / fg.wall_s
    cratio = base.cpu_s / fg.cpu_s if fg.cpu_s else float("nan")
    rate = mb / fg.wall_s
    return Row(
        target,
        f"{rate:.0f} MB/s ({mb:.0f} MB in {fg.wall_s:.2f} s, cpu {fg.cpu_s:.2f} s), RSS {fg.maxrss_kb / 1024:.0f} MB",
        base_s,
        f"{ratio:.2f}x (cpu {cratio:.2f}x)",
        goal,
        "pass" if rate >= 100 and ratio >= 2 else short,
        data,
    )


def report_input(copies: int, tc: str) -> Path:
    """bench/out/fsync_x<copies>.report.txt: ``trace-cmd report`` of the generated trace.dat,
    made once."""
    dat, _ = dat_input(copies)
    path = dat.with_name(f"{DAT_TEMPLATE.stem}_x{copies}.report.txt")
    if not path.exists():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            subprocess.run([tc, "report", str(dat)], stdout=out, check=True)
        os.replace(tmp, path)
    return path


def report_row(copies: int, repeat: int) -> Row:
    """``trace-cmd report`` text end to end (no goal of its own; P2's measure and baseline)."""
    tc = shutil.which("trace-cmd")
    if not tc:
        return Row("report text end to end", "-", "-", "-", "(informative)", "n/a (no trace-cmd)")
    path = report_input(copies, tc)
    return _text_row(
        "report text end to end", path, ["report"], "(P2's, informative)", "below P2's", repeat
    )


def p3(base_copies: int, factors: tuple[int, ...]) -> list[Row]:
    rows = []
    runs = {}
    # (the interpreter, numpy and fgraph's modules before any trace: the part of a small
    # file's peak that does not grow with it, shown beside the verdict, which stays on the
    # whole peak)
    start = run_child([*fgraph_cmd(), "--help"], stdout_to_null=True)
    start_kb = start.maxrss_kb if start.ok else 0
    for f in factors:
        path, nev = dat_input(base_copies * f)
        r = run_child([*fgraph_cmd(), "hist", str(path), "--func", FUNC], stdout_to_null=True)
        runs[f] = (path, nev, r)
    ok = {f: v for f, v in runs.items() if v[2].ok}
    data = {
        str(f): {"file": str(p), "events": n, "bytes": p.stat().st_size, "run": asdict(r)}
        for f, (p, n, r) in runs.items()
    }
    if not ok:
        r = next(iter(runs.values()))[2]
        return [Row("P3 peak RSS / size", "-", "-", "-", "<= 1.5x", _fail_reason(r), data)]
    worst = max(v[2].maxrss_kb * 1024 / v[0].stat().st_size for v in ok.values())
    net = max((v[2].maxrss_kb - start_kb) * 1024 / v[0].stat().st_size for v in ok.values())
    per = "; ".join(
        f"{f}x {p.stat().st_size / 1e6:.0f} MB: {r.maxrss_kb / 1024:.0f} MB RSS ({r.maxrss_kb * 1024 / p.stat().st_size:.2f}x)"
        for f, (p, n, r) in ok.items()
    )
    rows.append(
        Row(
            "P3 peak RSS / size",
            f"worst {worst:.2f}x ({net:.2f}x above the {start_kb / 1024:.0f} MB of `fgraph --help`)",
            per,
            f"{worst:.2f}x",
            "<= 1.5x",
            "pass" if worst <= 1.5 else "FAIL",
            data,
        )
    )
    f0 = min(ok)
    t0 = ok[f0][2].wall_s / ok[f0][1]
    times = "; ".join(
        f"{f}x {r.wall_s:.2f} s ({r.wall_s / n * 1e9:.0f} ns/ev, cpu {r.cpu_s / n * 1e9:.0f} ns/ev)"
        for f, (p, n, r) in ok.items()
    )
    fmax = max(ok)
    lin = (ok[fmax][2].wall_s / ok[fmax][1]) / t0 if len(ok) > 1 else 1.0
    c0 = ok[f0][2].cpu_s / ok[f0][1]
    clin = (ok[fmax][2].cpu_s / ok[fmax][1]) / c0 if len(ok) > 1 and c0 else 1.0
    rows.append(
        Row(
            "P3 linear time",
            f"{fmax}x/{f0}x time per event = {lin:.2f} (cpu {clin:.2f})",
            times,
            f"{lin:.2f}",
            "~1.0 (<= 1.25)",
            # wall time swings with other load on the machine: judge by the worse of wall and cpu
            "pass" if max(lin, clin) <= 1.25 else "FAIL",
            {},
        )
    )
    return rows


def piped(base_copies: int, factor: int) -> Row:
    """P3 on the inputs that have no file to map: the same trace.dat (P3's ``factor``x size) on
    stdin and gzip'd.  Both are read piece by piece into a temporary file that is mapped
    (fgraph/source.py), so their peak RSS is held to P3's goal as the plain file's is."""
    import gzip
    import shlex

    path, nev = dat_input(base_copies * factor)
    gz = path.with_name(path.name + ".gz")
    if not gz.exists():
        tmp = gz.with_name(f"{gz.name}.{os.getpid()}.tmp")
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        os.replace(tmp, gz)
    size = path.stat().st_size
    hist = [*fgraph_cmd(), "hist"]
    tail = ["--func", FUNC]
    cmds = {
        "file": [*hist, str(path), *tail],
        "stdin": ["sh", "-c", f"exec {shlex.join([*hist, '-', *tail])} < {shlex.quote(str(path))}"],
        "gzip": [*hist, str(gz), *tail],
    }
    runs = {k: run_child(c, stdout_to_null=True) for k, c in cmds.items()}
    data = {
        "file": str(path),
        "events": nev,
        "bytes": size,
        **{k: asdict(r) for k, r in runs.items()},
    }
    bad = [r for r in runs.values() if not r.ok]
    if bad:
        return Row("P3 stdin / gzip", "-", "-", "-", "<= 1.5x", _fail_reason(bad[0]), data)
    x = {k: r.maxrss_kb * 1024 / size for k, r in runs.items()}
    return Row(
        "P3 stdin / gzip",
        f"{size / 1e6:.0f} MB trace.dat on stdin: RSS {runs['stdin'].maxrss_kb / 1024:.0f} MB "
        f"({x['stdin']:.2f}x, {runs['stdin'].wall_s:.2f} s); gzip'd "
        f"({gz.stat().st_size / 1e6:.0f} MB): {runs['gzip'].maxrss_kb / 1024:.0f} MB "
        f"({x['gzip']:.2f}x, {runs['gzip'].wall_s:.2f} s)",
        f"the file itself: {runs['file'].maxrss_kb / 1024:.0f} MB ({x['file']:.2f}x, "
        f"{runs['file'].wall_s:.2f} s)",
        f"{max(x['stdin'], x['gzip']):.2f}x",
        "<= 1.5x",
        "pass" if max(x["stdin"], x["gzip"]) <= 1.5 else "FAIL",
        data,
    )


def big(gb: float) -> Row:
    """P3's "a 4 GB trace.dat completes on a 24 GB machine": one `fgraph hist` run, its peak
    RSS against the file and the machine's memory."""
    per = 7_009_914  # bytes of one copy of fsync.dat's pages (4030 MB / 575 copies)
    copies = max(1, round(gb * 1e9 / per))
    path, nev = dat_input(copies)
    size = path.stat().st_size
    r = run_child([*fgraph_cmd(), "hist", str(path), "--func", FUNC], stdout_to_null=True)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    data = {"file": str(path), "events": nev, "bytes": size, "run": asdict(r), "ram": mem}
    if not r.ok:
        return Row("P3 big trace.dat", "-", "-", "-", "completes", _fail_reason(r), data)
    rss = r.maxrss_kb * 1024
    return Row(
        "P3 big trace.dat",
        f"{size / 1e9:.2f} GB, {nev / 1e6:.0f} M events: {r.wall_s:.0f} s (cpu {r.cpu_s:.0f} s), RSS {rss / 1e9:.1f} GB",
        f"machine RAM {mem / 1e9:.1f} GB",
        f"{rss / size:.2f}x file",
        "completes in RAM",
        "pass" if rss < mem else "FAIL",
        data,
    )


def cold(repeat: int) -> list[Row]:
    rows = []
    py = run_child([sys.executable, "-c", "pass"])
    h = best_of(repeat, [*fgraph_cmd(), "--help"], stdout_to_null=True)
    base_s = f"python -c pass {py.wall_s:.3f} s"
    if h.ok:
        rows.append(
            Row(
                "cold fgraph --help",
                f"{h.wall_s:.3f} s (cpu {h.cpu_s:.3f} s)",
                base_s,
                f"{h.wall_s / py.wall_s:.1f}x python",
                "< 0.5 s",
                "pass" if h.wall_s < 0.5 else "FAIL",
                {"run": asdict(h)},
            )
        )
    else:
        rows.append(Row("cold fgraph --help", "-", base_s, "-", "< 0.5 s", _fail_reason(h), {}))
    if not SMALL_DAT.exists():
        rows.append(Row("cold small trace", "-", "-", "-", "< 1 s", "n/a (corpus missing)", {}))
        return rows
    s = best_of(
        repeat, [*fgraph_cmd(), "hist", str(SMALL_DAT), "--func", SMALL_FUNC], stdout_to_null=True
    )
    tc = shutil.which("trace-cmd")
    b = run_child([tc, "report", str(SMALL_DAT)], stdout_to_null=True) if tc else None
    base_s = f"trace-cmd report {b.wall_s:.3f} s" if b else "-"
    if s.ok:
        rows.append(
            Row(
                "cold small trace",
                f"{s.wall_s:.3f} s, cpu {s.cpu_s:.3f} s (hist {SMALL_DAT.name}), RSS {s.maxrss_kb // 1024} MB",
                base_s,
                f"{b.wall_s / s.wall_s:.1f}x" if b else "-",
                "< 1 s",
                "pass" if s.wall_s < 1 else "FAIL",
                {"run": asdict(s)},
            )
        )
    else:
        rows.append(Row("cold small trace", "-", base_s, "-", "< 1 s", _fail_reason(s), {}))
    return rows


# ------------------------------------------------------------------------------------ report


def machine() -> str:
    cpu = ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    tc = (
        subprocess.run(["trace-cmd", "--version"], capture_output=True, text=True)
        .stdout.strip()
        .splitlines()
        if shutil.which("trace-cmd")
        else []
    )
    tcv = next((ln.strip() for ln in tc if "version" in ln), "no trace-cmd")
    return f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {mem}, Python {platform.python_version()}, {tcv}"


def print_table(rows: list[Row]) -> None:
    head = ("target", "measured", "baseline (same run)", "ratio", "goal", "verdict")
    cells = [head] + [(r.target, r.figure, r.baseline, r.ratio, r.goal, r.verdict) for r in rows]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for c in cells[1:]:
        print("| " + " | ".join(c) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description="fgraph benchmarks (issue 7)")
    ap.add_argument(
        "--quick", action="store_true", help="small inputs, one run each (a few seconds)"
    )
    ap.add_argument(
        "--events", type=gen_tracedat.parse_count, default=10_000_000, help="P1 size (default 10M)"
    )
    ap.add_argument(
        "--p1-file",
        type=Path,
        help="run P1 on this trace.dat instead of the generated one (e.g. a real capture)",
    )
    ap.add_argument("--p1-func", default=FUNC, help=f"P1's function (default {FUNC})")
    ap.add_argument("--text-mb", type=float, default=200.0, help="P2 text size in MB (default 200)")
    ap.add_argument(
        "--only",
        default="P1,P1zstd,P2,P3,pipe,cold",
        help="comma-separated subset of P1,P1zstd,P2,P3,pipe,cold,report,big (P1zstd: P1's "
        "trace written as trace-cmd writes it by default, zstd; pipe: P3's 4x trace.dat on "
        "stdin and gzip'd; report: trace-cmd report text of a "
        "--text-mb trace.dat, big: a --big-gb trace.dat; neither is run by default)",
    )
    ap.add_argument("--big-gb", type=float, default=4.0, help="size of the 'big' input (GB)")
    ap.add_argument(
        "--repeat", type=int, default=2, help="runs of each fgraph command (best counts)"
    )
    ap.add_argument("--json", help="also write all measurements to this file")
    a = ap.parse_args(argv)
    if not DAT_TEMPLATE.exists() or not TEXT_TEMPLATE.exists():
        print(f"bench: corpus not found at {VM61} (set FGRAPH_CORPUS)", file=sys.stderr)
        return 2
    only = {s.strip().lower() for s in a.only.split(",")}
    factors: tuple[int, ...]
    if a.quick:
        p1_copies, text_copies, p3_base, factors, repeat = 1, 1, 1, (1, 2), 1
        report_copies = 1
    else:
        p1_copies = copies_for_events(a.events)
        per_text = 14.5e6  # bytes of one copy of the text template
        text_copies = max(1, round(a.text_mb * 1e6 / per_text))
        # (trace-cmd report of one copy of the trace.dat template: 16.8 MB of text)
        report_copies = max(1, round(a.text_mb * 1e6 / 16.8e6))
        p3_base = max(1, p1_copies // 8)
        factors, repeat = (1, 2, 4, 8), a.repeat
    print(f"# fgraph benchmarks, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"# {machine()}")
    print(
        f"# load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine skews wall times; cpu times and same-run ratios less so)"
    )
    print(f"# {compile_bytecode()}")
    print(f"# fgraph: {' '.join(fgraph_cmd())}; inputs in {HERE / 'out'}\n", flush=True)
    rows: list[Row] = []
    steps = [
        ("p1", lambda: [p1(p1_copies, repeat, a.p1_file, a.p1_func)]),
        ("p1zstd", lambda: [p1(p1_copies, repeat, None, a.p1_func, "v7zstd")]),
        ("p2", lambda: [p2(text_copies, repeat)]),
        ("p3", lambda: p3(p3_base, factors)),
        ("pipe", lambda: [piped(p3_base, factors[-2] if len(factors) > 1 else factors[0])]),
        ("cold", lambda: cold(1 if a.quick else 3)),
        ("report", lambda: [report_row(report_copies, repeat)]),
        ("big", lambda: [big(a.big_gb)]),
    ]
    for key, step in steps:
        if key in only:
            t0 = time.perf_counter()
            got = step()
            rows.extend(got)
            for r in got:
                print(
                    f"bench: {r.target}: {r.figure} | {r.baseline} | {r.verdict} ({time.perf_counter() - t0:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    print_table(rows)
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                    "rows": [asdict(r) for r in rows],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
