"""Reproducers of crashes the fuzzing found in other modules (issue 8), one test per bug.

Each stored input under tests/fuzz/crashes/ (``*.txt`` minimal text inputs, ``*.bin`` raw fuzz
cases with a ``.txt`` note beside them saying the seed, the mutations, the replay command and the
traceback) must be refused with an FgraphError or read with the rebuild's accounting intact.
The tests are xfail (not strict) while the bug is open: once the owner fixes it they pass (XPASS),
and the entry can go from tests/fuzz/known_crashes.txt.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))

import fuzzlib  # noqa: E402

pytest.importorskip("fgraph.reconstruct")

MEM_MB = 600

from fgraph.reconstruct import rebuild  # noqa: E402
from fgraph.table import EventTable, LostTable, TraceMeta  # noqa: E402


def _inputs() -> list[Path]:
    """Raw fuzz cases (.bin) and minimal text inputs (.txt that are not a .bin's note)."""
    files = sorted(fuzzlib.CRASHES.glob("*.*"))
    bins = {p.stem for p in files if p.suffix == ".bin"}
    return [p for p in files if p.suffix == ".bin" or (p.suffix == ".txt" and p.stem not in bins)]


def _reason(p: Path) -> str:
    note = p.with_suffix(".txt")
    if p.suffix == ".bin" and note.exists():
        for ln in note.read_text().splitlines():
            if ln.startswith("signature:"):
                return ln
    return f"open crash, reproducer {p.name}"


def _param(p: Path) -> object:
    """xfail while the input's crash signature is still listed in known_crashes.txt."""
    reason = _reason(p)
    known = fuzzlib.known_signatures()
    if any(k in reason for k in known):
        return pytest.param(p, id=p.name, marks=pytest.mark.xfail(strict=False, reason=reason))
    return pytest.param(p, id=p.name)


@pytest.fixture(scope="module")
def worker() -> Iterator[list[fuzzlib.Worker]]:
    """Stored inputs run in a fuzz worker, under a memory limit and a timeout (one of them made
    the rebuild allocate for 2^31 CPUs)."""
    box = [fuzzlib.Worker(MEM_MB)]
    yield box
    box[0].kill()


@pytest.mark.parametrize("path", [_param(p) for p in _inputs()])
def test_stored_crash_input_is_handled(path: Path, worker: list[fuzzlib.Worker]) -> None:
    if not worker[0].alive():
        worker[0] = fuzzlib.Worker(MEM_MB)
    ans = worker[0].run(path, 30.0)
    if ans is None or ans["status"] == "crash":
        worker[0].kill()
    assert ans is not None, "hang"
    assert ans["status"] in ("ok", "error"), (
        f"{ans['status']}: {ans.get('signature')}\n{str(ans.get('detail', ''))[-1500:]}"
    )


def test_rebuild_of_no_records_with_a_lost_gap() -> None:
    """Found by the fuzzing (IndexError in reconstruct/calls.py:prepare), fixed by the rebuild."""
    lost = LostTable(
        {
            "cpu": np.array([0], np.int16),
            "row": np.array([-1], np.int64),
            "count": np.array([5], np.int64),
            "source": np.array([0], np.int8),
        }
    )
    t = EventTable({}, lost=lost, meta=TraceMeta(ncpus=1))
    calls, q = rebuild(t)
    assert len(calls) == 0 and q.events_unaccounted == 0 and q.lost_events == 5


def test_rebuild_of_no_records() -> None:
    calls, q = rebuild(EventTable({}, meta=TraceMeta(ncpus=1)))
    assert len(calls) == 0 and q.events_unaccounted == 0
