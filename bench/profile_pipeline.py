"""Where time and memory go, stage by stage: open → parse → rebuild → hist (issue 7).

For one input, runs each stage of the pipeline in this process and prints per stage: wall
time, CPU time, the process's RSS after the stage, the peak RSS so far (``ru_maxrss``), and the
size of what the stage produced (its numpy columns).  With ``--cprofile N`` each stage also
prints its N most expensive functions (cumulative), to point optimizations at the right code.
Stages whose module has not landed yet are reported as missing.

    python bench/profile_pipeline.py bench/out/fsync_x50.v7.dat --func vfs_write [--cprofile 15]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def nbytes(obj: Any) -> int:
    """Bytes held in numpy arrays by a table (columns, field tables, lost table)."""
    total = 0
    cols = getattr(obj, "columns", None)
    if isinstance(cols, dict):
        total += sum(a.nbytes for a in cols.values() if isinstance(a, np.ndarray))
    for ft in getattr(obj, "fields", {}).values():
        total += ft.rows.nbytes + sum(a.nbytes for a in ft.columns.values())
    lost = getattr(obj, "lost", None)
    if lost is not None and lost is not obj:
        total += nbytes(lost)
    return total


class Profiler:
    def __init__(self, top: int) -> None:
        self.top = top
        self.rows: list[tuple[str, float, float, float, float, float, int, str]] = []

    def stage(self, name: str, fn: Callable[[], Any]) -> Any:
        gc.collect()
        prof = cProfile.Profile() if self.top else None
        t0, c0 = time.perf_counter(), time.process_time()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        if prof:
            prof.enable()
        out = fn()
        if prof:
            prof.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        sys_s, faults = ru1.ru_stime - ru0.ru_stime, ru1.ru_minflt - ru0.ru_minflt
        size = nbytes(out[0] if isinstance(out, tuple) else out)
        mb = f"{size / 2**20:.0f} MB" if size else ""
        self.rows.append((name, wall, cpu, sys_s, rss_mb(), peak_mb(), faults, mb))
        print(
            f"  {name}: {wall:.2f} s wall, {cpu:.2f} s cpu, rss {rss_mb():.0f} MB, peak {peak_mb():.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        if prof:
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(self.top)
            print(f"\n--- cProfile {name} (top {self.top} cumulative) ---")
            lines = s.getvalue().splitlines()
            start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls")), 0)
            print("\n".join(lines[start : start + self.top + 1]))
        return out

    def report(self, size: int, events: int | None) -> None:
        print(
            "\n| stage | wall s | cpu s | of which sys s | RSS after MB | peak RSS MB | minor faults | output |"
            f"  (input {size / 1e6:.0f} MB" + (f", {events} events)" if events else ")")
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, wall, cpu, sys_s, rss, peak, faults, out in self.rows:
            print(
                f"| {name} | {wall:.2f} | {cpu:.2f} | {sys_s:.2f} | {rss:.0f} | {peak:.0f} | {faults} | {out} |"
            )
        tot = sum(r[1] for r in self.rows)
        print(
            f"| total | {tot:.2f} | {sum(r[2] for r in self.rows):.2f} | {sum(r[3] for r in self.rows):.2f} | "
            f"| {peak_mb():.0f} ({peak_mb() * 2**20 / size:.2f}x input) | {sum(r[6] for r in self.rows)} | |"
        )
        if events:
            print(f"\nend to end in-process: {events / tot / 1e6:.2f} M events/s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path")
    ap.add_argument("--func", default="vfs_write")
    ap.add_argument("--threshold", default="1ms")
    ap.add_argument(
        "--cprofile",
        type=int,
        default=0,
        metavar="N",
        help="print the top N functions of each stage",
    )
    ap.add_argument(
        "--windowed",
        action="store_true",
        help="the CLI's path: read and rebuild window by window (fgraph.load_windowed), one stage",
    )
    a = ap.parse_args(argv)
    p = Profiler(a.cprofile)
    print(
        f"profiling {a.path} (python {sys.version.split()[0]}, start rss {rss_mb():.0f} MB)",
        file=sys.stderr,
    )
    from fgraph.parsers import parse
    from fgraph.source import open_source

    if a.windowed:
        from fgraph.analysis.hist import hist
        from fgraph.pipeline import load_windowed

        size = os.path.getsize(a.path)
        t = p.stage("windowed read + rebuild", lambda: load_windowed(a.path))
        p.stage("hist", lambda: hist(t, a.func, threshold=a.threshold).to_dict())
        p.report(size, t.quality.events_in)
        return 0
    src = p.stage("open", lambda: open_source(a.path))
    events = p.stage("parse", lambda: parse(src))
    nev = len(events)
    try:
        from fgraph.reconstruct import rebuild
    except ImportError:
        print("rebuild: fgraph.reconstruct.rebuild not available yet", file=sys.stderr)
        p.report(len(src), nev)
        return 0
    calls, _quality = p.stage("rebuild", lambda: rebuild(events))
    try:
        from fgraph.analysis.hist import hist
    except ImportError:
        print("hist: not available yet", file=sys.stderr)
        p.report(len(src), nev)
        return 0
    p.stage("hist", lambda: hist(calls, a.func, threshold=a.threshold).to_dict())
    p.report(len(src), nev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
