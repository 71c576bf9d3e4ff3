"""Time the analyses (hist variants, top functions, slowest, diff) on one big call table.

    python bench/bench_hist.py bench/out/fsync_x48.v7.dat [--func X] [--cache DIR] [--repeat N]

Loading a 10M-event trace takes ~20-45 s and ~3 GB, so ``--cache DIR`` saves the call table's
columns as .npy files the first time and reads them back afterwards (delete DIR when the trace
or the rebuild changes).  Prints one line per variant: best wall time of ``--repeat`` runs, and
the number of calls of X, so before/after runs of the same tree can be compared.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fgraph.table import CallTable  # noqa: E402


def load_calls(path: str, cache: str | None) -> CallTable:
    if cache and os.path.exists(os.path.join(cache, "strings.pkl")):
        cols = {c.name: np.load(os.path.join(cache, c.name + ".npy")) for c in CallTable.COLUMNS}
        with open(os.path.join(cache, "strings.pkl"), "rb") as f:
            pool = pickle.load(f)
        return CallTable(cols, pool)
    import fgraph

    ct = fgraph.load(path).call_table
    if cache:
        os.makedirs(cache, exist_ok=True)
        for k, v in ct.columns.items():
            np.save(os.path.join(cache, k + ".npy"), v)
        with open(os.path.join(cache, "strings.pkl"), "wb") as f:
            pickle.dump(ct.strings, f)
    return ct


def best(fn: Any, repeat: int) -> str:
    """Best wall and best CPU seconds of ``repeat`` runs (CPU time is steadier on a busy box)."""
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return f"{min(walls):7.3f} {min(cpus):7.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--func", action="append", help="function(s) to analyse (repeatable)")
    ap.add_argument("--cache", help="directory for the call table's .npy columns")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    from fgraph.analysis.diff import diff
    from fgraph.analysis.hist import hist
    from fgraph.analysis.slowest import slowest

    t = time.perf_counter()
    calls = load_calls(a.trace, a.cache)
    print(f"calls {len(calls):,} (loaded in {time.perf_counter() - t:.1f} s)")
    funcs = a.func or ["vfs_fsync_range", "btrfs_sync_file", "kmem_cache_alloc"]
    print(f"{'variant':<40} {'wall s':>7} {'cpu s':>7}")
    print(f"{'top functions (no --func)':<40} {best(lambda: hist(calls), a.repeat)}")
    for f in funcs:
        code = calls.strings.lookup(f)
        if code < 0:
            print(f"{f}: not in the trace")
            continue
        nx = int((calls["func"] == code).sum())
        variants = {
            "": {},
            " --depth 3": {"depth": 3},
            " --all": {"all": True},
            " --by path --depth 3": {"by": "path", "depth": 3},
            " --compare fast": {"compare": "fast"},
            " threshold 0": {"threshold": 0},
        }
        for label, kw in variants.items():
            s = best(lambda kw=kw, f=f: hist(calls, f, **kw), a.repeat)
            print(f"{'hist ' + f + label:<40} {s}  ({nx:,} calls of X)")
        s = best(lambda f=f: slowest(calls, f), a.repeat)
        print(f"{'slowest ' + f:<40} {s}")
        s = best(lambda f=f: diff(calls, calls, f), a.repeat)
        print(f"{'diff ' + f + ' (same table twice)':<40} {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
