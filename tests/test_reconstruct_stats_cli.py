"""`fgraph stats`: the quality report on the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import corpus_file

from fgraph.cli import cli

pytest.importorskip("fgraph.parsers.tracedat")


def test_stats_json_keys() -> None:
    path = corpus_file("vm61/thresh.dat")
    res = CliRunner().invoke(cli, ["stats", "--json", str(path)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    for key in (
        "events_in",
        "funcgraph_events",
        "calls",
        "orphan_exits",
        "unclosed_entries",
        "lost_events",
        "events_unaccounted",
        "lost_per_cpu",
        "depth_mismatches",
        "certain_time_share",
    ):
        assert key in d
    assert d["events_unaccounted"] == 0
    assert d["orphan_exits"] == d["calls"] == d["funcgraph_events"]  # tracing_thresh: returns only


def test_stats_text() -> None:
    path = corpus_file("vm61/btrfs_read.txt")
    res = CliRunner().invoke(cli, ["stats", str(path)])
    assert res.exit_code == 0, res.output
    assert "events unaccounted           0" in res.output
    assert "hardirq 140  (140 by name)" in res.output


def test_stats_help() -> None:
    res = CliRunner().invoke(cli, ["stats", "--help"])
    assert res.exit_code == 0 and "events_unaccounted" in res.output
