"""Shared test fixtures: where the real corpus is, trace-cmd, golden files."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
GOLDEN = ROOT / "tests" / "golden"
CORPUS = Path(os.environ.get("FGRAPH_CORPUS", ROOT.parent / "shared" / "corpus"))
VM61 = CORPUS / "vm61"
PUBLIC = CORPUS / "public"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite golden files instead of comparing"
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def status_kb(field: str) -> int:
    """A /proc/self/status line's kB (``RssAnon``, ``RssFile``, ...); 0 where there is none."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def corpus_file(rel: str) -> Path:
    """Path of a corpus file, or skip the test when the corpus is not there."""
    p = CORPUS / rel
    if not p.exists():
        pytest.skip(f"corpus file {rel} not present")
    return p


_TRACECMD_WRAPPER: str | None = None


def tracecmd() -> str:
    """The trace-cmd oracle; skip when missing (fail instead under FGRAPH_REQUIRE_TRACECMD=1).

    Debian's trace-cmd 3.1.6 reads uninitialized heap memory for some records of old files:
    about 1 run in 240 of `report -t -R` on public/trappy/trace.dat prints different bytes,
    and under MALLOC_PERTURB_ its bprint timestamps turn to garbage.  The differential tests
    call it dozens of times, so that was a flaky oracle.  MALLOC_PERTURB_=255 makes glibc hand
    out zero-filled allocations (the fill byte is 255 ^ 0xff), which gives trace-cmd's usual
    output nearly every time (checked equal on the corpus); a small wrapper applies it to every
    call.  Not every time: in session 17, 3 of 400 runs of `report -t -R` on trappy still
    printed a garbled bprint line (one fresh-clone CI run failed on it), so the tests that read
    that file's report ask again when a line does not parse or the messages differ
    (test_tracedat_diff.report).
    """
    global _TRACECMD_WRAPPER
    exe = shutil.which("trace-cmd")
    if exe is None:
        if os.environ.get("FGRAPH_REQUIRE_TRACECMD"):
            pytest.fail("trace-cmd is required (apt-get install trace-cmd)")
        pytest.skip("trace-cmd not installed")
    if _TRACECMD_WRAPPER is None:
        d = Path(tempfile.mkdtemp(prefix="fgraph-tracecmd-"))
        w = d / "trace-cmd"
        w.write_text(f'#!/bin/sh\nMALLOC_PERTURB_=255 exec "{exe}" "$@"\n')
        w.chmod(0o755)
        _TRACECMD_WRAPPER = str(w)
    return _TRACECMD_WRAPPER


def check_golden(path: Path, actual: str, update: bool) -> None:
    """Compare a whole output with tests/golden/<path>; --update-golden rewrites it."""
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        if not update:
            pytest.fail(f"golden file {path.name} did not exist; created it")
        return
    assert actual == path.read_text(), (
        f"output differs from {path} (run pytest --update-golden to accept)"
    )
