"""What a windowed (streaming) trace.dat decode would cost: time and peak RSS per window size.

A measurement for issue 7's "stream in chunks" design, not a feature: it walks and decodes an
uncompressed trace.dat ``W`` pages per CPU at a time with the reader's own internals
(``ringbuffer.walk`` on a sub-range of each CPU blob, then ``_decode``), keeps only a small
reduction of each window (events per type), and frees the window.  Peak RSS then shows what
the parse stage needs when it never holds the whole event table; time per record shows what
windowing costs or saves against the whole-file parse.  It does not merge CPUs or rebuild
calls (the rebuild's ``Rebuilder`` already carries open stacks across ``feed`` calls).

    python bench/window_probe.py bench/out/fsync_x48.v7.dat --pages 256 1024 4096
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import subprocess
import sys
import time

import numpy as np


def probe(path: str, pages: int) -> dict[str, float]:
    from fgraph.parsers.tracedat import _decode, _formats, _meta
    from fgraph.parsers.tracedat.eventformat import parse_header_page
    from fgraph.parsers.tracedat.header import read_container
    from fgraph.parsers.tracedat.ringbuffer import load_blobs, walk
    from fgraph.source import open_source
    from fgraph.table import StringPool

    t0 = time.perf_counter()
    c0 = time.process_time()
    src = open_source(path)
    c = read_container(src.data, src.name)
    meta = _meta(c)
    long_size, data_start, _ = parse_header_page(c.header_page)
    formats = _formats(c, meta)
    mem_obj, blobs = load_blobs(c, src.data)
    if any(b.compressed for b in blobs):
        raise SystemExit("window_probe: use an uncompressed (v7 none / v6) file")
    mem = np.frombuffer(mem_obj, dtype=np.uint8)
    pool = StringPool()
    per_type: dict[str, int] = {}
    records = windows = 0
    for blob in blobs:
        ps = c.buffers[blob.buf_index].page_size or c.page_size
        step = pages * ps
        for start in range(0, blob.length, step):
            sub = dataclasses.replace(
                blob, start=blob.start + start, length=min(step, blob.length - start)
            )
            w = walk(mem_obj, sub, ps, data_start, long_size, c.big_endian)
            n = len(w["data"])
            rec = {
                "data": w["data"],
                "len": w["len"],
                "ts": w["ts"],
                "pos": sub.file_pos(w["hdr"]),
                "cpu": np.full(n, blob.cpu, np.int16),
                "buf": np.full(n, blob.buf_index, np.int16),
            }
            table = _decode(c, meta, formats, mem, rec, pool)
            for k, v in table.events_per_type().items():
                per_type[k] = per_type.get(k, 0) + v
            records += n
            windows += 1
            del table, rec, w
    return {
        "pages": pages,
        "windows": windows,
        "records": records,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "size_mb": len(src) / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path")
    ap.add_argument("--pages", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode: one window size
    a = ap.parse_args(argv)
    if a.one:
        r = probe(a.path, a.one)
        print(" ".join(f"{k}={v}" for k, v in r.items()))
        return 0
    print("| pages/window/CPU | windows | records | wall s | cpu s | peak RSS MB | RSS / file |")
    print("|---|---|---|---|---|---|---|")
    for p in a.pages:  # one fresh process per size, so each peak RSS is its own
        out = subprocess.run(
            [sys.executable, __file__, a.path, "--one", str(p)], capture_output=True, text=True
        )
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return 1
        f = {kv.split("=")[0]: float(kv.split("=")[1]) for kv in out.stdout.split()}
        print(
            f"| {int(f['pages'])} | {int(f['windows'])} | {int(f['records'])} | {f['wall_s']:.2f} | {f['cpu_s']:.2f} "
            f"| {f['peak_mb']:.0f} | {f['peak_mb'] / f['size_mb']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
