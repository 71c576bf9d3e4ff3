"""source.release_pages: a text reader gives back the mapped input's pages once it has read
what it needs (they counted in the resident set: a 1.2 GB report held 1.2 GB of them through
the rebuild); the input still reads the same afterwards."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import corpus_file, status_kb

from fgraph.parsers import ftrace_text, parse, report_text
from fgraph.source import open_source, release_pages

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise: Linux only")


@linux
def test_released_pages_leave_the_resident_set(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    body = b"".join(b"%07d\n" % i for i in range(1 << 21))  # 16 MB
    p.write_bytes(body)
    src = open_source(p)
    assert bytes(src.data[::4096]) == body[::4096]  # every page touched
    before = status_kb("RssFile")
    release_pages(src.data)
    assert before - status_kb("RssFile") >= 12 * 1024
    assert bytes(src.data[-8:]) == body[-8:] and bytes(src.data[:8]) == body[:8]
    release_pages(b"not a mapping")  # (nothing to do)


@pytest.mark.parametrize(
    "mod, rel",
    [
        (ftrace_text, "vm61/btrfs_read.abstime_proc_tail.txt"),
        (report_text, "fixture:hand_report.txt"),
    ],
)
def test_text_readers_release_the_input(
    mod: object, rel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both text readers give the mapped input back once, before the table is built."""
    from conftest import FIXTURES

    path = (
        FIXTURES / "text" / rel.split(":", 1)[1] if rel.startswith("fixture:") else corpus_file(rel)
    )
    src = open_source(path)
    seen: list[object] = []
    monkeypatch.setattr(mod, "release_pages", seen.append)
    parse(src)
    assert seen == [src.data]
