"""Rebuild speed (events/s) on a big synthetic table and on real data repeated.

The figure that matters is the ratio to a baseline measured in the same run on the same table:
``np.argsort(ts, kind="stable")`` (the merge step alone), since the machine may be shared.

    python bench/bench_rebuild.py                         # 5M synthetic events, system.dat x 20
    python bench/bench_rebuild.py --events 20M --repeat 3
    python bench/bench_rebuild.py --file ../shared/corpus/vm61/fsync.dat --copies 50

Printed per input: events, rebuild seconds (best of --repeat), events/s, and time relative to
the argsort baseline.  Stages are timed apart: feed (numpy input, C stack machine, call
attributes), table (numpy), off-CPU, quality.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from fgraph.schema import EventKind  # noqa: E402
from fgraph.table import EventTable, StringPool, TraceMeta  # noqa: E402

CORPUS = Path(os.environ.get("FGRAPH_CORPUS", ROOT.parent / "shared" / "corpus"))


def synthetic(n_events: int, ncpu: int = 4, depth: int = 12, tasks_per_cpu: int = 8) -> EventTable:
    """Per-CPU streams of nested calls (depth ``depth``), tasks switching every block."""
    block = 2 * depth
    nblocks = max(1, n_events // block)
    pool = StringPool([f"func_{i}" for i in range(depth)] + ["funcgraph_entry", "funcgraph_exit"])
    kind = np.r_[np.full(depth, EventKind.FG_ENTRY), np.full(depth, EventKind.FG_EXIT)].astype(
        np.int8
    )
    func = np.r_[np.arange(depth), np.arange(depth)[::-1]].astype(np.int32)
    n = nblocks * block
    b = np.arange(n) // block
    cpu = (b % ncpu).astype(np.int16)
    pid = (100 + (b % (ncpu * tasks_per_cpu))).astype(np.int32)
    ts = (np.arange(n) // ncpu * 10 + b % ncpu).astype(np.int64)  # interleaved in time
    k = np.tile(kind, nblocks)
    f = np.tile(func, nblocks)
    order = np.lexsort((np.arange(n), cpu))  # trace.dat order: CPU after CPU
    at = np.arange(n) % block
    mate = np.arange(n) - at + (block - 1 - at)  # the entry of each exit (same block)
    cols = {
        "ts": ts[order],
        "cpu": cpu[order],
        "pid": pid[order],
        "kind": k[order],
        "func": f[order],
        "event": np.where(k == EventKind.FG_ENTRY, depth, depth + 1).astype(np.int32)[order],
        "depth": np.tile(np.r_[np.arange(depth), np.arange(depth)[::-1]], nblocks).astype(np.int32)[
            order
        ],
        "irqctx": np.zeros(n, np.int8),
        "calltime": np.where(k == EventKind.FG_EXIT, ts[mate], -1)[order],
        "rettime": np.where(k == EventKind.FG_EXIT, ts, -1)[order],
    }
    return EventTable(
        cols, pool, meta=TraceMeta(path="<synthetic>", format="trace.dat", ncpus=ncpu)
    )


def repeated(path: Path, copies: int) -> EventTable:
    from fgraph.pipeline import read_events

    one = read_events(str(path))
    ts = one["ts"]
    span = int(ts.max() - ts.min()) + 1_000_000
    parts = []
    for i in range(copies):
        t = one.take(np.arange(len(one)))
        t["ts"] = ts + i * span
        parts.append(t)
    out = EventTable.concat(parts, meta=one.meta)
    # trace.dat order: each CPU's records together
    return out.take(np.lexsort((out["ts"], out["cpu"])))


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def stages(events: EventTable) -> dict[str, float]:
    """Times of the rebuild's parts: feeding (prepare + C machine + call attributes), the call
    table, depth check, off-CPU and quality (what WindowedRebuild.finish does, apart)."""
    from fgraph.reconstruct import WindowedRebuild
    from fgraph.reconstruct import calls as C
    from fgraph.reconstruct.offcpu import offcpu
    from fgraph.reconstruct.quality import assess

    out = {}
    t0 = time.perf_counter()
    rb = WindowedRebuild(int(events["cpu"].max()) + 1, events.meta, events.strings)
    rb.feed(events, keep_others=False)
    raw = rb._r.finish()
    out["feed"] = time.perf_counter() - t0
    counters = raw.pop("counters")
    t0 = time.perf_counter()
    calls = C.build_table(rb._attrs.finish(), raw, events.meta, events.strings)
    depth = C.depth_check(calls)
    out["table"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    offcpu(events, calls)
    out["offcpu"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assess(rb._counts, events.lost, events.meta, calls, counters, depth)
    out["quality"] = time.perf_counter() - t0
    return out


def bench(name: str, events: EventTable, repeat: int) -> None:
    from fgraph.reconstruct import rebuild

    n = len(events)
    base = timed(lambda: np.argsort(events["ts"], kind="stable"), repeat)
    t = timed(lambda: rebuild(events), repeat)
    st = stages(events)
    print(
        f"{name}: {n:,} events  rebuild {t:.3f}s  {n / t / 1e6:.2f} M events/s  "
        f"= {t / base:.1f} x argsort(ts) ({base:.3f}s)"
    )
    print("   stages: " + ", ".join(f"{k} {v:.3f}s" for k, v in st.items()))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", default="5M", help="synthetic events (K/M suffix)")
    ap.add_argument(
        "--file", default=str(CORPUS / "vm61" / "system.dat"), help="real trace to repeat"
    )
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    mult = {"K": 10**3, "M": 10**6}
    ev = a.events.upper()
    n = int(float(ev[:-1]) * mult[ev[-1]]) if ev[-1] in mult else int(ev)
    bench("synthetic", synthetic(n), a.repeat)
    if Path(a.file).exists():
        bench(f"{Path(a.file).name} x {a.copies}", repeated(Path(a.file), a.copies), a.repeat)
    else:
        print(f"{a.file}: not present, real-data run skipped")


if __name__ == "__main__":
    main()
