"""The CLI frame: every command has help, errors are one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fgraph.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent


def _fgraph(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "fgraph", *args], capture_output=True, input=input)


def test_help_lists_every_command() -> None:
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0
    for name in COMMANDS:
        assert name in r.output


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help_and_is_documented(name: str) -> None:
    r = CliRunner().invoke(cli, [name, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage:" in r.output
    readme = (ROOT / "README.md").read_text()
    assert f"fgraph {name}" in readme, f"README does not mention `fgraph {name}`"


def test_missing_file_is_one_line_exit_2() -> None:
    r = _fgraph("info", "/nonexistent/trace.dat")
    assert r.returncode == 2
    err = r.stderr.decode()
    assert err.startswith("fgraph: error: /nonexistent/trace.dat: no such file")
    assert "Traceback" not in err and err.count("\n") == 1


def test_not_a_trace_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello\nworld\n")
    r = _fgraph("info", str(p))
    assert r.returncode == 2
    assert "not a function_graph trace" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()
