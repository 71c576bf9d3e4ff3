"""``fgraph info`` counts an input a window at a time (``pipeline.read_summary``) instead of
parsing it whole: the facts must be the whole table's (events per type, time range, lost
events per CPU, meta and warnings)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import CORPUS, corpus_file

import fgraph.pipeline as pipeline
from fgraph.cli import cli
from fgraph.pipeline import read_events, read_summary
from fgraph.render.info import info_dict

FILES = sorted(
    str(p.relative_to(CORPUS))
    for p in CORPUS.rglob("*")
    if p.is_file() and p.name.endswith((".dat", ".txt", ".zst"))
)


@pytest.mark.corpus
@pytest.mark.parametrize("rel", FILES or ["vm61/lost.dat"])
def test_counted_in_windows_as_the_whole_table(monkeypatch, rel):
    path = corpus_file(rel)
    want = info_dict(read_events(path))
    assert info_dict(read_summary(path)) == want
    # small windows and text pieces: the counts are added up across them
    monkeypatch.setattr(pipeline, "WINDOW_RECORDS", 2048)
    monkeypatch.setenv("FGRAPH_TEXT_PIECE", "20000")
    assert info_dict(read_summary(path)) == want


@pytest.mark.corpus
def test_damaged_trace_says_what_was_lost(tmp_path):
    # (a v6 file: its CPU data comes last, so the cut loses records, not the headers)
    src = corpus_file("vm61/btrfs_read.v6.dat").read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(src[: len(src) - 50_000])
    want = info_dict(read_events(cut))
    got = info_dict(read_summary(cut))
    assert got == want
    assert got["warnings"]
    r = CliRunner().invoke(cli, ["info", str(cut), "--json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["events"] == want["events"]


@pytest.mark.corpus
def test_ties_in_events_per_type_by_name():
    d = info_dict(read_summary(corpus_file("vm61/btrfs_read.dat")))
    items = list(d["events_per_type"].items())
    assert items == sorted(items, key=lambda kv: (-kv[1], kv[0]))
