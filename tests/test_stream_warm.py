"""``TraceDatStream.warm``: the symbols parsed in the caller's thread while the decode thread
walks (load_windowed), once per file whichever thread asks first, and a failure left for the
decode to report as its own."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import corpus_file

from fgraph.parsers import parse_windows
from fgraph.parsers.tracedat import _once
from fgraph.pipeline import load, load_windowed
from fgraph.source import open_source


def test_once_parses_once_for_two_threads() -> None:
    class C:
        kallsyms = "x"

    c = C()
    calls = []

    def slow(text: str) -> object:
        calls.append(text)
        time.sleep(0.05)  # (the second thread asks meanwhile)
        return object()

    got: list[object] = []
    ts = [threading.Thread(target=lambda: got.append(_once(c, "kallsyms", slow))) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(calls) == 1 and got[0] is got[1]


def test_warm_then_windows_read_the_same_calls() -> None:
    path = str(corpus_file("vm61/system.dat"))
    st = parse_windows(open_source(path), 5000)
    st.warm()
    assert "kallsyms" in st.c.__dict__["_parsed"]
    ref, got = load(path), load_windowed(path, 5000)
    assert len(ref.call_table) == len(got.call_table)
    a, b = ref.call_table, got.call_table
    assert (a.strings.decode(a["func"]) == b.strings.decode(b["func"])).all()


def test_a_failed_warm_is_left_for_the_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    import fgraph.parsers.tracedat.stream as stream

    def broken(text: str) -> object:
        raise ValueError("broken symbols")

    st = parse_windows(open_source(str(corpus_file("vm61/btrfs_read.dat"))), 5000)
    monkeypatch.setattr(stream, "parse_kallsyms", broken)
    st.warm()  # (no error here)
    assert "kallsyms" not in st.c.__dict__.get("_parsed", {})
