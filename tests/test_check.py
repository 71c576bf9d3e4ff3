"""`fgraph check`: expectation parsing, evaluation, exit codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import corpus_file

from fgraph.analysis.check import all_hold, evaluate, parse_expectation
from fgraph.cli import cli
from fgraph.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, UsageError

RESULT = {
    "func": "vfs_read",
    "threshold_ns": 1_000_000,
    "calls": 20,
    "slow_calls": 3,
    "truncated_calls": 1,
    "p50_ns": 400_000,
    "p90_ns": 1_500_000,
    "p99_ns": 2_500_000,
    "max_ns": 3_000_000,
    "mean_ns": 700_000,
    "breakdown": [
        {"name": "btrfs_lookup_csum", "calls": 3, "total_ns": 3_500_000, "share": 0.35},
        {"name": "[self]", "calls": 3, "total_ns": 6_000_000, "share": 0.6},
        {"name": "[irq]", "calls": 3, "total_ns": 500_000, "share": 0.05},
    ],
    "offcpu_sleep_share": 0.2,
    "offcpu_runnable_share": None,
}


@pytest.mark.parametrize(
    "expr,ok",
    [
        ("p99 < 2ms", False),
        ("p99 < 3ms", True),
        ("p50 <= 500us", True),
        ("p50 <= 400000", True),
        ("p90_ns > 1ms", True),
        ("max < 5ms", True),
        ("mean >= 1ms", False),
        ("calls >= 10", True),
        ("calls == 21", False),
        ("slow_calls == 0", False),
        ("slow_calls != 0", True),
        ("truncated_calls = 1", True),
        ("share(btrfs_lookup_csum) < 40%", True),
        ("share(btrfs_lookup_csum) < 30%", False),
        ("share([self]) > 0.1", True),
        ("share([irq]) == 5%", True),
        ("share( not_called ) == 0", True),
        ("offcpu_sleep_share < 25%", True),
        ("offcpu_runnable_share < 25%", False),  # not measured -> fails
    ],
)
def test_evaluate(expr, ok):
    (o,) = evaluate([expr], RESULT)
    assert o.ok is ok, o.render()
    assert ("PASS" if ok else "FAIL") in o.render()


def test_units_and_canonical():
    e = parse_expectation("  p99<2.5ms ")
    assert (e.metric, e.op, e.value, e.kind) == ("p99", "<", 2_500_000.0, "duration")
    e = parse_expectation("share(btrfs_lookup_csum) < 40%")
    assert (e.metric, e.name, e.value) == ("share", "btrfs_lookup_csum", 0.4)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "p99",
        "p99 < ",
        "p99 << 2ms",
        "p99 < 2 parsecs",
        "calls >= ten",
        "share() < 1%",
        "lat < 2ms",
        "share(x) < lots",
    ],
)
def test_malformed(bad):
    with pytest.raises(UsageError) as ei:
        parse_expectation(bad)
    assert "expectation" in str(ei.value)


def test_no_calls_fails_durations():
    empty = {"calls": 0, "slow_calls": 0, "p99_ns": None, "breakdown": []}
    outs = evaluate(["p99 < 2ms", "calls == 0", "share(x) < 1%"], empty)
    assert [o.ok for o in outs] == [False, True, True]
    assert not all_hold(outs)


def test_cli_bad_expectation_is_usage_error(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("# tracer: function_graph\n")
    r = CliRunner().invoke(cli, ["check", str(f), "--func", "x", "--expect", "p99 <<< 1"])
    assert r.exit_code == EXIT_BAD_INPUT
    assert "bad expectation" in r.output


@pytest.mark.corpus
def test_cli_check_real_passes_and_fails():
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    path = str(corpus_file("vm61/btrfs_read.dat"))
    import fgraph
    from fgraph.analysis.hist import hist

    d = hist(fgraph.load(path), "vfs_read", threshold="1ms").to_dict()
    p99, calls = d["p99_ns"], d["calls"]
    run = CliRunner()
    ok = run.invoke(
        cli,
        ["check", path, "--func", "vfs_read", "--threshold", "1ms", "--expect", f"p99 <= {p99}ns", "--expect", f"calls == {calls}",
         "--expect", "share([self]) >= 0%"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert ok.output.count("PASS") == 3
    bad = run.invoke(
        cli,
        [
            "check",
            path,
            "--func",
            "vfs_read",
            "--threshold",
            "1ms",
            "--expect",
            f"p99 < {p99}ns",
            "--expect",
            f"calls >= {calls}",
        ],
    )
    assert bad.exit_code == EXIT_CHECK_FAILED, bad.output
    assert "FAIL" in bad.output and "PASS" in bad.output
    assert "measured p99" in bad.output


def test_cli_check_json_on_fixture():
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")
    import json

    from conftest import GOLDEN

    path = str(GOLDEN / "trim" / "btrfs_read.vfs_read.100ms.txt")
    r = CliRunner().invoke(
        cli,
        [
            "check",
            path,
            "--func",
            "vfs_read",
            "--json",
            "--expect",
            "calls == 2",
            "--expect",
            "p50 < 1ms",
        ],
    )
    assert r.exit_code == EXIT_CHECK_FAILED
    doc = json.loads(r.output)
    assert doc["ok"] is False
    assert [c["ok"] for c in doc["checks"]] == [True, False]
    assert doc["checks"][1]["measured"] > 1_000_000


@pytest.mark.corpus
def test_cli_check_several_traces_and_a_directory(tmp_path):
    """check reads its traces as hist does (the windowed rebuild, hist's columns) and, given
    several, or a directory of them, checks the aggregate: the figures hist prints for the
    same files."""
    import json
    import shutil

    d = tmp_path / "runs"
    d.mkdir()
    for n, rel in (("1.dat", "vm61/btrfs_read.dat"), ("2.txt", "vm61/btrfs_read.txt")):
        shutil.copy(corpus_file(rel), d / n)
    files = [str(d / "1.dat"), str(d / "2.txt")]
    h = json.loads(CliRunner().invoke(cli, ["hist", *files, "--func", "vfs_read", "--json"]).output)
    calls = h["calls"]
    each = [
        json.loads(CliRunner().invoke(cli, ["hist", f, "--func", "vfs_read", "--json"]).output)
        for f in files
    ]
    assert calls == sum(e["calls"] for e in each) > 0
    for args in ([str(d)], files):
        r = CliRunner().invoke(
            cli,
            ["check", *args, "--func", "vfs_read", "--json", "--expect", f"calls == {calls}"]
            + ["--expect", f"p99 <= {h['p99_ns']}ns", "--expect", f"p99 >= {h['p99_ns']}ns"],
        )
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["ok"] is True
