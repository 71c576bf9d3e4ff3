"""Throughput of the text readers (issue 3 / issue 7 P2) against the naive baseline.

Builds (once, in bench/out/) a large kernel function_graph text by repeating a real vm61
capture (bench/gen_text.py), then measures in the same run, alternating, best of ``--repeat``:

* ``naive``: a plain Python ``re`` loop that only *matches* each line (the regex of
  bench/harness.py P2, what a quick script would do) — no event table at all;
* ``fgraph``: :func:`fgraph.parsers.ftrace_text.parse_ftrace_text` (the whole event table);

and prints MB/s and the ratio to the naive loop.  Targets: >= 100 MB/s and >= 2x naive.
The machine is shared: run it when nothing else runs, the ratio is the robust figure.

    python bench/bench_text.py [--mb 120] [--repeat 3] [--template PATH]
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import gen_text  # noqa: E402

VM61 = ROOT.parent / "shared" / "corpus" / "vm61"
TEMPLATE = VM61 / "fsync.abstime_proc_tail.txt.zst"
try:
    from harness import NAIVE_RE  # the same baseline as the project's benchmark harness
except Exception:  # pragma: no cover - harness missing or changed
    NAIVE_RE = (
        rb"^\s*(\d+\.\d+) \|\s+(\d+)\)\s+(.*?)-(\d+)\s+\|\s*([+!#*@$])?\s*(?:(\d+\.\d+) us)?\s*\|"
        rb"\s(\s*)(\S.*?)(?:\(\)\s*(\{|;))?\s*$"
    )


def naive(path: Path) -> tuple[int, int]:
    pat = re.compile(NAIVE_RE)
    n = m = 0
    with open(path, "rb") as f:
        for line in f:
            n += 1
            if pat.match(line):
                m += 1
    return n, m


def fgraph_parse(path: Path) -> int:
    from fgraph.parsers.ftrace_text import parse_ftrace_text
    from fgraph.source import open_source

    et = parse_ftrace_text(open_source(path))
    return len(et)


def timed(fn, *args):  # type: ignore[no-untyped-def]
    gc.collect()
    t = time.perf_counter()
    c = time.process_time()
    r = fn(*args)
    return time.perf_counter() - t, time.process_time() - c, r


def build_input(template: Path, mb: int) -> Path:
    """A ``mb``-MB text made of copies of ``template`` with shifted times (bench/gen_text.py)."""
    out = HERE / "out" / f"bench_text_{template.name.split('.')[0]}_{mb}mb.txt"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        gen_text.generate(str(template), str(out), mb=mb)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--template", type=Path, default=TEMPLATE)
    ap.add_argument("--input", type=Path, help="use this text file instead of building one")
    args = ap.parse_args(argv)
    path = args.input or build_input(args.template, args.mb)
    size_mb = path.stat().st_size / 1e6
    best: dict[str, tuple[float, float]] = {}
    rows = 0
    for _ in range(args.repeat):
        for name, fn in (("naive", naive), ("fgraph", fgraph_parse)):
            wall, cpu, r = timed(fn, path)
            if name == "fgraph":
                rows = r
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    nv, fg = best["naive"], best["fgraph"]
    print(f"input: {path} ({size_mb:.1f} MB)")
    print(
        f"naive re match loop: {size_mb / nv[0]:7.1f} MB/s  ({nv[0]:.2f} s wall, {nv[1]:.2f} s cpu)"
    )
    print(
        f"fgraph text parse:   {size_mb / fg[0]:7.1f} MB/s  ({fg[0]:.2f} s wall, {fg[1]:.2f} s cpu, {rows} rows)"
    )
    ratio = nv[0] / fg[0]
    print(f"ratio fgraph/naive:  {ratio:.2f}x   targets: >= 100 MB/s, >= 2x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
