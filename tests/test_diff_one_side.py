"""``fgraph diff`` reads its two sides one after the other and lets go of the first side's
calls before it reads the second: the peak memory is the bigger side's, not both."""

from __future__ import annotations

import gc
import weakref

import pytest
from click.testing import CliRunner
from conftest import corpus_file

import fgraph.cli._progress as progress
from fgraph.analysis.diff import combine, diff, side
from fgraph.cli import cli
from fgraph.pipeline import load_windowed


@pytest.mark.corpus
def test_first_side_gone_before_the_second_is_read(monkeypatch):
    path = str(corpus_file("vm61/btrfs_read.dat"))
    real = progress.load_inputs
    alive: list[weakref.ref] = []
    seen: list[bool] = []

    def spy(paths, columns, trees_of=None):
        gc.collect()
        seen.append(any(r() is not None for r in alive))
        t, traces = real(paths, columns, trees_of)
        alive.append(weakref.ref(t.call_table))
        return t, traces

    monkeypatch.setattr(progress, "load_inputs", spy)
    r = CliRunner().invoke(cli, ["diff", path, path, "--func", "vfs_read"])
    assert r.exit_code == 0, r.output
    assert seen == [False, False]


@pytest.mark.corpus
def test_sides_combined_as_diff_does():
    a = load_windowed(corpus_file("vm61/btrfs_read.dat"))
    b = load_windowed(corpus_file("vm61/btrfs_read.v6.dat"))
    kw = {"threshold": "p90", "depth": 2}
    want = diff(a, b, "vfs_read", labels=("a", "b"), **kw).to_dict()
    got = combine("vfs_read", side(a, "vfs_read", **kw), side(b, "vfs_read", **kw), ("a", "b"))
    assert got.to_dict() == want
