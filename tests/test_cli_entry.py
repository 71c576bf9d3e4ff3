"""The ``fgraph`` process (``fgraph.cli.entry``: the command, then ``os._exit`` without the
interpreter's teardown) gives the same output, files and exit codes as the command run in
process: everything written is flushed or closed before the process ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fgraph.cli import cli

DATA = str(Path(__file__).resolve().parents[1] / "fgraph" / "data" / "fsync.dat")


def _proc(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "fgraph", *args], capture_output=True, timeout=120)


def test_stdout_and_file_complete(tmp_path: Path) -> None:
    args = ["hist", DATA, "--func", "vfs_fsync_range", "--depth", "2", "-q"]
    inproc = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert inproc.exit_code == 0
    p = _proc(*args)
    assert p.returncode == 0
    assert p.stdout.decode() == inproc.output
    out = tmp_path / "calls.csv"
    p = _proc("calls", DATA, "--format", "csv", "-o", str(out), "-q")
    assert p.returncode == 0
    ref = CliRunner().invoke(cli, ["calls", DATA, "--format", "csv", "-q"], catch_exceptions=False)
    assert out.read_text() == ref.output
    assert len(ref.output) > 100_000  # (more than one buffer's worth)


def test_exit_codes() -> None:
    p = _proc("check", DATA, "--func", "vfs_fsync_range", "--expect", "p99 < 1ns", "-q")
    assert p.returncode == 1
    assert b"p99" in p.stdout
    p = _proc("hist", DATA + ".missing", "--func", "x")
    assert p.returncode == 2
    assert p.stderr.decode().startswith("fgraph: error:")
    p = _proc("--version")
    assert p.returncode == 0 and b"fgraph" in p.stdout
    p = _proc("no-such-command")
    assert p.returncode == 2
