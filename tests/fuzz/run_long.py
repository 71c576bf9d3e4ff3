"""The long fuzz run (not in CI): 10,000 mutated inputs by default.

    python tests/fuzz/run_long.py [--cases 10000] [--master 1] [--jobs 2] [--timeout 20]
    python tests/fuzz/run_long.py --replay btrfs.v6.dat:123 [--master 1]   # one case, verbose

Prints the cases run, errors (clean FgraphError refusals), crashes, hangs and accounting
failures, and stores each failing input with its traceback under tests/fuzz/crashes/
(``<status>-<seed>-<sha1>.bin`` and ``.txt``).  Crashes whose signature is listed in
tests/fuzz/known_crashes.txt are counted separately ("known") and still stored.
The result of the last full run is recorded in tests/fuzz/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzzlib  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--master", type=int, default=1, help="master seed")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument("--mem", type=int, default=2048, help="MB of address space per case")
    ap.add_argument("--seed", action="append", default=[], help="only these seed files")
    ap.add_argument("--replay", help="run one case SEEDFILE:INDEX and print its outcome")
    ap.add_argument("--no-save", action="store_true", help="do not store failing inputs")
    ap.add_argument(
        "--cli-every", type=int, default=5, help="every n-th case also runs the CLI commands"
    )
    ap.add_argument("--keep", type=int, default=2, help="inputs stored per failure signature")
    args = ap.parse_args(argv)

    seeds = fuzzlib.load_seeds(extra_corpus=True)
    missing = sorted({s.module for s in seeds if not fuzzlib.available(s)})
    seeds = [s for s in seeds if fuzzlib.available(s)]
    if args.seed:
        seeds = [s for s in seeds if s.name in args.seed]
    if missing:
        print(f"readers not built yet, their seeds skipped: {', '.join(missing)}")
    if not seeds:
        print("no seeds to run")
        return 2
    known = fuzzlib.known_signatures()

    if args.replay:
        name, _, idx = args.replay.rpartition(":")
        seed = next(s for s in seeds if s.name == name)
        todo = [(seed, int(idx))]
    else:
        todo = list(fuzzlib.cases(seeds, args.master, args.cases))

    t0 = time.monotonic()
    done = 0
    saved: dict[str, int] = {}

    def on_result(r: fuzzlib.Result, data: bytes) -> None:
        nonlocal done
        done += 1
        if args.replay:
            print(f"{r.seed}:{r.index} [{'; '.join(r.steps)}] -> {r.status}\n{r.detail}")
        if r.status in fuzzlib.BAD:
            tag = " (known)" if fuzzlib.is_known(r, known) else ""
            key = f"{r.status}: {r.signature}"
            saved[key] = saved.get(key, 0) + 1
            if not args.no_save and saved[key] <= args.keep:
                fuzzlib.save_crash(r, data, args.master)
            if saved[key] <= args.keep or not tag:
                print(
                    f"{r.status.upper()}{tag}: {r.seed}:{r.index} [{'; '.join(r.steps)}] "
                    f"{r.signature}",
                    flush=True,
                )
        if done % 500 == 0:
            print(f"... {done} cases, {time.monotonic() - t0:.0f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="fgraph-fuzz-") as td:
        summary = fuzzlib.run_cases(
            todo,
            args.master,
            Path(td),
            jobs=args.jobs,
            timeout=args.timeout,
            mem_limit_mb=args.mem,
            on_result=on_result,
            cli_every=args.cli_every,
        )
    bad = summary.bad()
    nknown = sum(1 for r in bad if fuzzlib.is_known(r, known))
    slowest = max(summary.results, key=lambda r: r.seconds, default=None)
    print(f"seeds: {', '.join(s.name for s in seeds)}")
    print(
        f"master seed {args.master}: {summary.line()}; known {nknown}; "
        f"{time.monotonic() - t0:.0f} s"
    )
    kinds = {s.name: s.kind for s in seeds}
    for kind in ("dat", "text"):
        rs = [r for r in summary.results if kinds.get(r.seed) == kind]
        c: dict[str, int] = {}
        for r in rs:
            c[r.status] = c.get(r.status, 0) + 1
        print(f"  {kind}: {len(rs)} cases, " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    if slowest is not None:
        print(f"slowest case: {slowest.seed}:{slowest.index} {slowest.seconds:.2f} s")
    sigs: dict[str, int] = {}
    for r in bad:
        sigs[f"{r.status}: {r.signature}"] = sigs.get(f"{r.status}: {r.signature}", 0) + 1
    for s, n in sorted(sigs.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5d}  {s}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
