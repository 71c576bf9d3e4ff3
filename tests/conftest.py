"""Shared test fixtures: where the real corpus is, trace-cmd, golden files."""

from __future__ import annotations

import os
import shutil
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


def corpus_file(rel: str) -> Path:
    """Path of a corpus file, or skip the test when the corpus is not there."""
    p = CORPUS / rel
    if not p.exists():
        pytest.skip(f"corpus file {rel} not present")
    return p


def tracecmd() -> str:
    """The trace-cmd binary; skip when missing (fail instead under FGRAPH_REQUIRE_TRACECMD=1)."""
    exe = shutil.which("trace-cmd")
    if exe is None:
        if os.environ.get("FGRAPH_REQUIRE_TRACECMD"):
            pytest.fail("trace-cmd is required (apt-get install trace-cmd)")
        pytest.skip("trace-cmd not installed")
    return exe


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
