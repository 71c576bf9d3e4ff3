"""Bounded-time mutation fuzzing of the readers and the rebuild (issue 8).

Seeds are small real captures (tests/fuzz/seeds/, made by tests/fuzz/make_seeds.py from the vm61
corpus): trace.dat v6, v7+zstd and v7 uncompressed, the kernel's text in several option sets,
and trace-cmd report text.  Each case mutates a seed (bit flips, truncation at any byte,
duplicated/swapped pages or lines, garbled page headers, huge header counts, binary junk, CRLF,
empty input …; see tests/fuzz/fuzzlib.py) and runs it in a worker subprocess with a per-case
timeout and a memory limit.  Asserted for every case: no exception other than FgraphError, no
hang, no table that breaks the schema, and when calls are returned, events_unaccounted == 0.

Seeded and reproducible: FGRAPH_FUZZ_SEED (master seed, default 20261127), FGRAPH_FUZZ_CASES
(cases per family, default 600), FGRAPH_FUZZ_BUDGET (seconds per family, default 25).  A failure
prints the replay command.  Crashes already filed (signatures in tests/fuzz/known_crashes.txt)
turn the test into an xfail instead of a failure, so a known bug in one reader does not hide new
ones: any *unknown* failure still fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))

import fuzzlib  # noqa: E402

MASTER = int(os.environ.get("FGRAPH_FUZZ_SEED", "20261127"))
CASES = int(os.environ.get("FGRAPH_FUZZ_CASES", "600"))
BUDGET = float(os.environ.get("FGRAPH_FUZZ_BUDGET", "25"))
CLI_EVERY = 10  # every 10th case's input also goes through every CLI command


@pytest.mark.parametrize("family", ["dat", "text"])
def test_fuzz_mutations(family: str, tmp_path: Path) -> None:
    pytest.importorskip("fgraph.reconstruct")
    seeds = [s for s in fuzzlib.load_seeds() if s.kind == family]
    ready = [s for s in seeds if fuzzlib.available(s)]
    if not ready:
        pytest.skip(f"no {family} reader built yet")
    summary = fuzzlib.run_cases(
        fuzzlib.cases(ready, MASTER, CASES),
        MASTER,
        tmp_path,
        jobs=2,
        timeout=15.0,
        budget=BUDGET,
        cli_every=CLI_EVERY,
    )
    print(f"\n{family}: {summary.line()}")
    assert summary.results, "no case ran"
    # Every mutator must at least sometimes leave a readable input, or the fuzzing only
    # exercises the first header check.
    assert summary.counts.get("ok", 0) > len(summary.results) // 10, summary.line()

    known = fuzzlib.known_signatures()
    bad = summary.bad()
    new = [r for r in bad if not fuzzlib.is_known(r, known)]

    def show(rs: list[fuzzlib.Result]) -> str:
        seen: dict[str, fuzzlib.Result] = {}
        for r in rs:
            seen.setdefault(f"{r.status}: {r.signature}", r)
        return "\n".join(
            f"{k}  (e.g. python tests/fuzz/run_long.py --master {MASTER} "
            f"--replay {r.seed}:{r.index}; {'; '.join(r.steps)})\n{r.detail[-1500:]}"
            for k, r in seen.items()
        )

    assert not new, f"{len(new)} new fuzz failures ({summary.line()}):\n{show(new)}"
    if bad:
        pytest.xfail(
            f"only known crashes ({len(bad)}), see tests/fuzz/known_crashes.txt:\n" + show(bad)
        )
