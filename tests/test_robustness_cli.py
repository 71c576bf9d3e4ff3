"""The CLI side of the error hierarchy (issue 8): documented exit codes, one-line errors.

Exit codes (fgraph/errors.py, README): 0 ok, 1 `check` found what it asserts against,
2 unusable input or usage error, 3 input read only partly (warnings) under --strict.
Every error is one line on stderr (``fgraph: error: FILE…: what``), never a traceback.
"""

from __future__ import annotations

import io
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))

import fuzzlib  # noqa: E402

pytest.importorskip("fgraph.parsers.tracedat")
pytest.importorskip("fgraph.reconstruct")

SEED = fuzzlib.SEEDS / "btrfs.v6.dat"
FUNC = "vfs_read"


def fgraph(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``fgraph ARGS`` in this process through the real entry point (fgraph.cli.main), with
    its own stdin/stdout/stderr; an exception escaping main() is reported as a traceback."""
    from fgraph.cli import main

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    inp = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = inp, out, err  # type: ignore[assignment]
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001
        err.write("Traceback (escaped fgraph.cli.main)\n" + traceback.format_exc())
        code = 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    out.flush()
    stdout = out.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]
    return subprocess.CompletedProcess(list(args), code, stdout, err.getvalue())


def fgraph_process(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m fgraph ARGS`` in a subprocess (the installed entry point, no test harness)."""
    return subprocess.run(
        [sys.executable, "-m", "fgraph", *args], capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(r: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("fgraph: error:")]
    assert len(errors) == 1, r.stderr
    assert all(ln.startswith("fgraph: ") for ln in lines), r.stderr  # warnings, then the error
    return errors[0]


@pytest.fixture(scope="module")
def truncated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The v6 seed cut in the middle of CPU 1's data: readable, with warnings."""
    data = SEED.read_bytes()
    p = tmp_path_factory.mktemp("cli") / "cut.dat"
    p.write_bytes(data[: len(data) - 6000])
    return p


# commands that read one FILE, with what they need besides it
COMMANDS: dict[str, list[str]] = {
    "info": [],
    "events": ["--format", "csv"],
    "calls": ["--format", "csv"],
    "stats": [],
    "hist": ["--func", FUNC],
    "slowest": ["--func", FUNC],
    "export": ["--to", "csv"],
    "trim": ["--func", FUNC],
    "check": ["--func", FUNC, "--expect", "calls >= 0"],
}


def _built(name: str) -> None:
    r = fgraph(name, "--help")
    if r.returncode != 0:
        pytest.skip(f"fgraph {name} not built yet")


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_exit_0_on_a_good_input(cmd: str, tmp_path: Path) -> None:
    _built(cmd)
    out = ["-o", str(tmp_path / "out")] if cmd in ("export", "trim") else []
    r = fgraph(cmd, str(SEED), *COMMANDS[cmd], *out)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_exit_3_on_partial_input_with_strict_else_0_with_warnings(
    cmd: str, truncated: Path, tmp_path: Path
) -> None:
    _built(cmd)
    out = ["-o", str(tmp_path / "out")] if cmd in ("export", "trim") else []
    r = fgraph(cmd, str(truncated), *COMMANDS[cmd], *out)
    assert r.returncode == 0, r.stderr
    warns = [ln for ln in r.stderr.splitlines() if ln.startswith("fgraph: warning:")]
    assert warns, f"no warning on stderr for a truncated file: {r.stderr!r}"
    assert "Traceback" not in r.stderr
    r = fgraph(cmd, str(truncated), *COMMANDS[cmd], *out, "--strict")
    assert r.returncode == 3, r.stderr
    r = fgraph(cmd, str(truncated), *COMMANDS[cmd], *out, "--strict", "--quiet")
    assert r.returncode == 3
    assert "fgraph: warning:" not in r.stderr


def test_exit_3_not_given_for_a_clean_input_with_strict() -> None:
    r = fgraph("info", str(SEED), "--strict")
    assert r.returncode == 0, r.stderr


def test_exit_1_when_check_fails_and_0_when_it_holds() -> None:
    _built("check")
    r = fgraph("check", str(SEED), "--func", FUNC, "--expect", "calls >= 1000000")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    r = fgraph("check", str(SEED), "--func", FUNC, "--expect", "calls >= 1")
    assert r.returncode == 0, r.stderr


def test_check_failure_on_partial_input_with_strict_is_1(truncated: Path) -> None:
    """Both apply; the check's verdict is what a CI job acts on (tests/fuzz/README.md: 1 wins).
    A check that holds on a partial input under --strict is 3."""
    _built("check")
    r = fgraph("check", str(truncated), "--func", FUNC, "--expect", "calls >= 1000000", "--strict")
    assert r.returncode == 1, r.stderr
    r = fgraph("check", str(truncated), "--func", FUNC, "--expect", "calls >= 1", "--strict")
    assert r.returncode == 3, r.stderr


def test_bad_expectation_is_exit_2() -> None:
    _built("check")
    r = fgraph("check", str(SEED), "--func", FUNC, "--expect", "p99 <<< banana")
    assert_one_line_error(r)


BAD_INPUTS: dict[str, bytes] = {
    "empty": b"",
    "not a trace": b"hello\nworld\n",
    "bad magic": b"\x17\x08\x44trasing6\x00" + bytes(200),
    "unknown version": b"\x17\x08\x44tracing9\x00" + bytes(200),
    "only the magic": b"\x17\x08\x44tracing",
    "binary junk": bytes(range(256)) * 20,
    "a function trace": b"# tracer: function\n#\n  bash-1 [000] .... 1.000: f <-g\n",
    "gzip garbage": b"\x1f\x8b\x08\x00garbage",
    "zstd garbage": b"\x28\xb5\x2f\xfdgarbage",
    "xz garbage": b"\xfd7zXZ\x00garbage",
    "header cut": SEED.read_bytes()[:5000],
}


@pytest.mark.parametrize("what", list(BAD_INPUTS))
def test_unusable_input_is_one_line_exit_2_naming_the_file(what: str, tmp_path: Path) -> None:
    p = tmp_path / "input.dat"
    p.write_bytes(BAD_INPUTS[what])
    line = assert_one_line_error(fgraph("info", str(p)))
    assert str(p) in line, line


def test_unusable_stdin_is_one_line_exit_2() -> None:
    r = fgraph("info", "-", stdin=b"not a trace at all\n")
    line = assert_one_line_error(r)
    assert "<stdin>" in line


@pytest.mark.parametrize(
    "args",
    [
        ["info", "/nonexistent/trace.dat"],
        ["info", "/"],
        ["hist", "/nonexistent/trace.dat", "--func", FUNC],
        ["diff", "/nonexistent/a.dat", str(SEED), "--func", FUNC],
    ],
)
def test_missing_or_unreadable_file_is_one_line_exit_2(args: list[str]) -> None:
    _built(args[0])
    assert_one_line_error(fgraph(*args))


def test_entry_point_process_one_line_error_and_exit_code(truncated: Path) -> None:
    assert_one_line_error(fgraph_process("info", "/nonexistent/trace.dat"))
    assert fgraph_process("info", str(truncated), "--strict", "-q").returncode == 3


def test_usage_errors_are_exit_2_without_traceback() -> None:
    for args in (
        ["info"],
        ["nosuchcommand"],
        ["hist", str(SEED), "--func", FUNC, "--threshold", "banana"],
        ["info", str(SEED), "--no-such-option"],
    ):
        r = fgraph(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr, (args, r.stderr)


def test_unknown_function_is_not_a_traceback() -> None:
    r = fgraph("hist", str(SEED), "--func", "no_such_function_anywhere")
    assert r.returncode in (0, 2), r.stderr
    assert "Traceback" not in r.stderr
    if r.returncode == 2:
        assert_one_line_error(r)


def test_an_internal_error_is_one_line_too(tmp_path: Path) -> None:
    """A bug (an exception that is not an FgraphError) still gives one line and exit 2, with
    FGRAPH_DEBUG=1 to see the traceback.  Uses a known reader crash as the bug when one is
    filed (tests/fuzz/crashes/); otherwise there is nothing to check."""
    crashes = sorted(fuzzlib.CRASHES.glob("text-*.txt"))
    if not crashes:
        pytest.skip("no known crash to trigger")
    for p in crashes:
        r = fgraph_process("info", str(p))
        if r.returncode == 0:
            continue  # fixed
        assert_one_line_error(r)
