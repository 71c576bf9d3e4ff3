"""fgraph hist / slowest / diff command lines (inputs replaced by hand-built call tables)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from analysis_helpers import sample_calls
from click.testing import CliRunner

from fgraph.cli import cli


class FakeTrace:
    def __init__(self, name: str, calls: Any) -> None:
        self.name = name
        self.call_table = calls
        self.warnings: list[Any] = []


@pytest.fixture
def fake_load(monkeypatch):
    import fgraph.cli._progress as prog

    monkeypatch.setattr(
        prog,
        "load_calls",
        lambda path, columns=None, trees_of=None: FakeTrace(path, sample_calls(sched=True)),
    )


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_hist_text_and_json(fake_load):
    r = invoke("hist", "a.dat", "--func", "vfs_read")
    assert r.exit_code == 0, r.output
    assert "vfs_read: 3 complete calls in a.dat" in r.output
    assert "the rows add up to 100% of it" in r.output
    r = invoke("hist", "a.dat", "--func", "vfs_read", "--json", "--threshold", "2ms")
    d = json.loads(r.output)
    assert d["slow_calls"] == 2 and d["threshold_ns"] == 2_000_000
    assert sum(x["share"] for x in d["breakdown"]) == pytest.approx(1.0)


def test_hist_options(fake_load, tmp_path):
    r = invoke(
        "hist", "a.dat", "-f", "vfs_read", "--depth", "2", "--by", "path", "--compare", "fast"
    )
    assert r.exit_code == 0 and "A;C" in r.output and "A = fast" in r.output
    r = invoke(
        "hist", "a.dat", "-f", "vfs_read", "--all", "--pid", "100", "--since", "1.0", "--limit", "2"
    )
    assert r.exit_code == 0 and "[pid 100, since 1.0]" in r.output and "more rows" in r.output
    r = invoke("hist", "a.dat")
    assert r.exit_code == 0 and "Most total (inclusive) time" in r.output
    r = invoke("hist", "a.dat", "b.dat", "-f", "vfs_read", "--json")
    assert json.loads(r.output)["calls"] == 6 and json.loads(r.output)["traces"] == [
        "a.dat",
        "b.dat",
    ]


def test_hist_plot(fake_load, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.png"
    r = invoke("hist", "a.dat", "-f", "vfs_read", "--plot", str(out))
    assert r.exit_code == 0 and out.stat().st_size > 1000


def test_hist_errors(fake_load):
    r = invoke("hist", "a.dat", "-f", "vfs_reed")
    assert r.exit_code == 2 and "did you mean vfs_read" in r.output
    r = invoke("hist", "a.dat", "-f", "vfs_read", "--threshold", "soon")
    assert r.exit_code == 2 and "bad threshold" in r.output
    r = invoke("hist", "a.dat", "--plot", "x.png")
    assert r.exit_code == 2 and "--plot needs --func" in r.output


def test_slowest_and_diff(fake_load):
    r = invoke("slowest", "a.dat", "-f", "vfs_read", "-n", "1", "--min", "600us")
    assert (
        r.exit_code == 0
        and "#1 vfs_read  3.00 ms" in r.output
        and "... 2 calls under 600 us" in r.output
    )
    d = json.loads(invoke("slowest", "a.dat", "-f", "vfs_read", "--json").output)
    assert len(d["slowest"]) == 3 and d["slowest"][0]["tree"][0]["func"] == "vfs_read"
    r = invoke("slowest", "a.dat", "-f", "vfs_read", "-n", "1", "--min", "0", "--depth", "1")
    assert r.exit_code == 0 and "... 1 call under 0 ns or deeper than 1 level: 1.50 ms" in r.output
    r = invoke("slowest", "a.dat", "-f", "vfs_read", "--depth", "0")
    assert r.exit_code == 2 and "--depth must be at least 1" in r.output
    r = invoke("diff", "a.dat", "b.dat", "-f", "vfs_read")
    assert r.exit_code == 0 and "A = a.dat, B = b.dat" in r.output
    d = json.loads(
        invoke("diff", "a.dat", "b.dat", "-f", "vfs_read", "--threshold", "1ms", "--json").output
    )
    assert d["p50_change_ns"] == 0 and d["side_a"]["broken_down_calls"] == 2


def test_progress_is_silent_without_tty(capsys):
    from fgraph.cli._progress import progress

    with progress("x"):
        pass
    assert capsys.readouterr().err == ""


def test_progress_draws_and_erases_on_a_tty(monkeypatch):
    import io

    import fgraph.cli._progress as prog

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(prog.sys, "stderr", err)
    monkeypatch.delenv("FGRAPH_NO_PROGRESS", raising=False)
    monkeypatch.setattr(prog, "DELAY_S", 0.0)
    monkeypatch.setattr(prog, "TICK_S", 0.01)
    import time

    with prog.progress("reading x.dat"):
        time.sleep(0.1)
    text = err.getvalue()
    assert "fgraph: reading x.dat" in text and text.endswith("\r\x1b[K")
