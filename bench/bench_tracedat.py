"""trace.dat decoding speed: fgraph's reader vs ``trace-cmd report FILE > /dev/null``.

Both run as child processes on the same file in the same run; the figure that matters is the
ratio (the machine may be shared and loaded).  Inputs are built from real vm61 pages with
bench/gen_tracedat.py (times shifted per copy) and cached in bench/out/.

    python bench/bench_tracedat.py                      # 5M events, v7 uncompressed and zstd
    python bench/bench_tracedat.py --events 10M --format v7zstd --repeat 3
    python bench/bench_tracedat.py --file some.dat

Printed per input: events, fgraph wall/CPU seconds and events/s, trace-cmd wall/CPU seconds
and events/s, and the speed ratio (trace-cmd time / fgraph time, wall and CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

CORPUS = Path(os.environ.get("FGRAPH_CORPUS", ROOT.parent / "shared" / "corpus"))
TEMPLATE = CORPUS / "vm61" / "fsync.dat"
OUT = HERE / "out"

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from fgraph.source import open_source
from fgraph.parsers.tracedat import parse_tracedat
import pandas  # imported lazily by the reader; count it as start-up
t1 = time.perf_counter(); c1 = time.process_time()
table = parse_tracedat(open_source(sys.argv[1]))
print(json.dumps({"events": len(table), "import": t1 - t0, "wall": time.perf_counter() - t1,
                  "cpu": time.process_time() - c1}))
"""


def _input(events: int, fmt: str) -> Path:
    import gen_tracedat

    OUT.mkdir(exist_ok=True)
    path = OUT / f"tracedat_bench_{events}.{fmt}.dat"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path
    if not TEMPLATE.exists():
        sys.exit(f"template {TEMPLATE} missing (set FGRAPH_CORPUS or pass --file)")
    r = gen_tracedat.generate(str(TEMPLATE), str(path), events=events, fmt=fmt)
    meta.write_text(json.dumps({"events": r.events, "copies": r.copies, "bytes": r.bytes}))
    return path


def _run_child(argv: list[str], stdout: int | None) -> tuple[float, float, bytes]:
    """(wall, child CPU seconds, stdout) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(
        argv,
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout or b""


def measure(path: Path, repeat: int) -> dict[str, float]:
    tc = shutil.which("trace-cmd")
    best: dict[str, float] = {}
    for _ in range(repeat):
        wall, cpu, out = _run_child([sys.executable, "-c", _CHILD, str(path)], None)
        inner = json.loads(out.decode().strip().splitlines()[-1])
        if "fg_wall" not in best or wall < best["fg_wall"]:
            best.update(
                fg_wall=wall,
                fg_cpu=cpu,
                fg_parse=inner["wall"],
                fg_parse_cpu=inner["cpu"],
                fg_import=inner["import"],
                events=inner["events"],
            )
        if tc:
            with open(os.devnull, "wb") as null:
                twall, tcpu, _ = _run_child([tc, "report", str(path)], null.fileno())
            if "tc_wall" not in best or twall < best["tc_wall"]:
                best.update(tc_wall=twall, tc_cpu=tcpu)
    return best


def report(path: Path, r: dict[str, float]) -> None:
    n = r["events"]
    size = path.stat().st_size / 1e6
    print(f"{path.name}: {n:,} events, {size:.0f} MB")
    print(
        f"  fgraph    wall {r['fg_wall']:7.2f} s  cpu {r['fg_cpu']:7.2f} s  {n / r['fg_wall'] / 1e6:6.2f} M events/s (wall)"
        f"  {n / r['fg_cpu'] / 1e6:6.2f} M events/s (cpu)\n"
        f"            decode only: wall {r['fg_parse']:.2f} s  cpu {r['fg_parse_cpu']:.2f} s  "
        f"{n / r['fg_parse'] / 1e6:6.2f} M events/s (wall); start-up+imports {r['fg_import']:.2f} s"
    )
    if "tc_wall" in r:
        print(
            f"  trace-cmd wall {r['tc_wall']:7.2f} s  cpu {r['tc_cpu']:7.2f} s  {n / r['tc_wall'] / 1e6:6.2f} M events/s (wall)"
            f"  {n / r['tc_cpu'] / 1e6:6.2f} M events/s (cpu)"
        )
        print(
            f"  ratio (trace-cmd / fgraph): wall {r['tc_wall'] / r['fg_wall']:.1f}x  cpu {r['tc_cpu'] / r['fg_cpu']:.1f}x"
        )
    else:
        print("  trace-cmd not installed: no baseline")


def _count(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", type=Path, help="measure this trace.dat instead of a generated one")
    ap.add_argument(
        "--events", type=_count, default=5_000_000, help="size of the generated input (5M)"
    )
    ap.add_argument(
        "--format",
        action="append",
        choices=("v7", "v7zstd", "v7zlib", "v6"),
        help="generated layout(s)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs")
    a = ap.parse_args(argv)
    paths = [a.file] if a.file else [_input(a.events, f) for f in (a.format or ["v7", "v7zstd"])]
    for p in paths:
        report(p, measure(p, a.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
