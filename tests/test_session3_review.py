"""Review of the issue-7 memory/speed changes (load_windowed(columns=...), the machine's in-place
feed, build_table's in-place tricks, stacks.owners, the decode-ahead handshake, the per-pool
symbol codes): the assumptions they rest on, checked directly, and the bugs found."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file
from test_robustness_cli import fgraph

from fgraph._ext import stacks
from fgraph.pipeline import load_windowed
from fgraph.reconstruct.calls import _map_in_place

# ---------------------------------------------------------------- build_table's in-place map


@pytest.mark.parametrize("n", [0, 1, 7, 1 << 20])
def test_map_in_place_is_a_gather_over_its_own_indices(n: int) -> None:
    """np.take(lut, idx, out=idx) reads idx[i] before it writes out[i] and copies only when out
    overlaps lut (numpy item_selection.c PyArray_TakeFrom / npy_fasttake_impl): shuffled indices
    over a large table, with -1s, give exactly lut[idx]."""
    rng = np.random.default_rng(n)
    lut = rng.permutation(n).astype(np.int64)
    idx = rng.integers(-1, max(n, 1), size=n).astype(np.int64)
    idx[rng.random(n) < 0.2] = -1
    want = np.where(idx >= 0, lut[np.maximum(idx, 0)] if n else idx, -1)
    got = _map_in_place(lut, idx)
    assert got is idx  # (no fresh memory: the answer is written over the indices)
    assert np.array_equal(got, want)


def test_map_in_place_with_an_empty_lut_and_a_strided_view() -> None:
    idx = np.full(4, -1, np.int64)
    assert list(_map_in_place(np.empty(0, np.int64), idx)) == [-1] * 4
    lut = np.arange(10, dtype=np.int64)[::-1].copy()
    base = np.array([3, 99, -1, 99, 9, 99, 0, 99], np.int64)
    view = base[::2]  # not contiguous: numpy copies and writes back, still the gather
    _map_in_place(lut, view)
    assert list(base[::2]) == [6, -1, 0, 9]


# ---------------------------------------------------------------- stacks.owners / resolve


def _owners_ref(
    parent: np.ndarray, tops: np.ndarray
) -> tuple[list[int], int, list[int], list[int]]:
    n = len(parent)
    ts = {t for t in tops.tolist() if 0 <= t < n}
    own = [-1] * n
    outer: list[int] = []
    nested = 0
    for i in range(n):
        p = int(parent[i])
        po = own[p] if p >= 0 else -1
        if i in ts:
            if po >= 0:
                nested += 1
                own[i] = po
            else:
                own[i] = len(outer)
                outer.append(i)
        else:
            own[i] = po
    uni = [i for i in range(n) if own[i] >= 0]
    return outer, nested, uni, [own[i] for i in uni]


def test_owners_on_random_forests_with_odd_tops() -> None:
    """Tops duplicated, out of range or negative, n = 0, parents all -1: the forward pass
    matches a plain reference and never reads outside the arrays; a parent after its child
    gives None (the caller's fallback)."""
    rng = np.random.default_rng(7)
    for _ in range(600):
        n = int(rng.integers(0, 30))
        parent = np.array(
            [-1 if i == 0 or rng.random() < 0.3 else int(rng.integers(0, i)) for i in range(n)],
            np.int64,
        )
        tops = rng.integers(-3, n + 3, size=int(rng.integers(0, 8))).astype(np.int64)
        got = stacks.owners(parent, tops)
        assert got is not None
        outer, nested, uni, owner = _owners_ref(parent, tops)
        assert list(got[0]) == outer and got[1] == nested
        assert list(got[2]) == uni and list(got[3]) == owner
        if n > 2:
            bad = parent.copy()
            bad[0] = n - 1
            assert stacks.owners(bad, np.unique(tops)) is None
    empty = stacks.owners(np.empty(0, np.int64), np.array([0, -1, 5]))
    assert empty is not None and [len(x) for x in (empty[0], empty[2], empty[3])] == [0, 0, 0]
    roots = stacks.owners(np.full(5, -1, np.int64), np.array([0, 0, 4, 9, -1]))
    assert roots is not None and list(roots[0]) == [0, 4] and list(roots[3]) == [0, 1]


def test_depth_only_resolve() -> None:
    d, r = stacks.resolve(np.array([-1, 0, 1, -7, 3]), False)
    assert list(d) == [0, 1, 2, 0, 1] and r is None
    d, r = stacks.resolve(np.empty(0, np.int64), False)
    assert len(d) == 0 and r is None
    with pytest.raises(RuntimeError, match="cycle"):
        stacks.resolve(np.array([1, 0]), False)


# ---------------------------------------------------------------- projections


def test_odd_column_sets_give_the_whole_table_s_values() -> None:
    path = str(corpus_file("vm61/lost.dat"))
    whole = load_windowed(path, 3000)
    w = whole.call_table
    for cols in (frozenset({"flags"}), frozenset({"entry_row"}), frozenset({"retval", "root_id"})):
        t = load_windowed(path, 3000, columns=cols)
        assert t.stats == whole.stats
        p = t.call_table
        p.validate()
        assert set(p.columns) == cols and len(p) == len(w)
        for name in cols:
            assert np.array_equal(p[name], w[name]), name


CLI_CASES = [
    ("hist", "vm61/fsync.dat", "--func", "vfs_fsync_range", "--all", "--compare", "fast"),
    (
        "hist",
        "vm61/fsync.dat",
        "--func",
        "vfs_fsync_range",
        "--by",
        "path",
        "--all",
        "--depth",
        "3",
    ),
    ("hist", "vm61/lost.dat", "--func", "handle_mm_fault", "--limit", "0", "--until", "1e9"),
    ("hist", "vm61/btrfs_read.txt", "--func", "vfs_read", "--json", "--all", "--strict"),
    ("diff", "vm61/fsync.dat", "vm61/lost.dat", "--func", "vfs_write", "--all", "--by", "path"),
    ("diff", "vm61/btrfs_read.txt", "vm61/btrfs_read.dat", "--func", "vfs_read", "--json"),
    ("stats", "vm61/lost.dat", "--json"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: "-".join(c[:1] + c[2:]))
def test_cli_options_read_only_their_columns(
    monkeypatch: pytest.MonkeyPatch, case: tuple[str, ...]
) -> None:
    """Options not covered by tests/test_hist_columns.py print the same from the projected and
    the whole table."""
    from fgraph.cli import _progress

    args = [str(corpus_file(a)) if a.startswith("vm61/") else a for a in case]
    got = []
    for whole in (True, False):

        def load(
            p: str,
            columns: frozenset[str] | None = None,
            trees_of: str | None = None,
            _w: bool = whole,
        ) -> object:
            return load_windowed(
                p, 4000, columns=None if _w else columns, trees_of=None if _w else trees_of
            )

        monkeypatch.setattr(_progress, "load_calls", load)
        r = fgraph(*args)
        got.append((r.returncode, r.stdout, r.stderr))
    assert got[0] == got[1]
    assert got[1][0] == 0 and "Traceback" not in got[1][2]


def test_plot_and_stdin_with_projected_tables(tmp_path: object) -> None:
    pytest.importorskip("matplotlib")
    from pathlib import Path

    out = Path(str(tmp_path)) / "h.svg"
    path = str(corpus_file("vm61/fsync.dat"))
    r = fgraph("hist", path, "--func", "vfs_fsync_range", "--all", "--plot", str(out))
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1000
    text = corpus_file("vm61/btrfs_read.txt").read_bytes()
    for cmd in (["hist", "-", "--func", "vfs_read", "--all"], ["stats", "-"]):
        r = fgraph(*cmd, stdin=text)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


# ---------------------------------------------------------------- symbol codes per pool


def test_symbol_codes_with_two_pools_in_one_process() -> None:
    """The codes cached per pool are right when traces alternate (each read has its own pool),
    for a whole read between windowed ones."""
    from fgraph.pipeline import load

    def names(t: object) -> tuple[list[object], list[object]]:
        c = t.call_table  # type: ignore[attr-defined]
        return list(c.strings.decode(c["func"])), list(c.strings.decode(c["module"]))

    files = ["vm61/lost.dat", "vm61/btrfs_read.dat"]
    ref = {f: names(load_windowed(str(corpus_file(f)))) for f in files}
    for f in files + files[:1]:
        p = str(corpus_file(f))
        assert names(load_windowed(p, 1500)) == ref[f]
        assert names(load(p)) == ref[f]
        assert names(load_windowed(p, 2500)) == ref[f]


def test_a_projection_without_columns_keeps_the_number_of_calls() -> None:
    """``columns=frozenset()`` (only the quality report wanted) left a table with no columns,
    whose len() was 0 however many calls were rebuilt; a take() of it too."""
    path = str(corpus_file("vm61/lost.dat"))
    n = len(load_windowed(path, 3000, columns=frozenset({"flags"})).call_table)
    assert n > 1000
    calls = load_windowed(path, 3000, columns=frozenset()).call_table
    assert not calls.columns and len(calls) == n
    assert len(calls.take(np.arange(5))) == 5
    assert len(calls.take(np.arange(n) % 3 == 0)) == len(range(0, n, 3))


# ---------------------------------------------------------------- the decode-ahead thread


def _decode_threads() -> list[object]:
    import threading

    return [t for t in threading.enumerate() if t.name == "fgraph-decode"]


def test_no_decode_thread_outlives_a_complete_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read joins its decode thread before it returns (it was left to end on its own, and
    the next read's check could still see it)."""
    monkeypatch.delenv("FGRAPH_ONE_THREAD", raising=False)
    for _ in range(5):
        load_windowed(str(corpus_file("vm61/lost.dat")), 2000)
        assert not _decode_threads()


def test_the_decode_thread_ends_when_the_rebuild_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in the middle of the windows (a KeyboardInterrupt here): the decode thread
    stops, with the window it decoded and the file, even while the caller keeps the exception
    (a REPL's sys.last_value, a test's excinfo: its traceback holds load_windowed's frame,
    which held the generator open, so its ``finally`` never ran and the thread polled on)."""
    import time

    from fgraph.reconstruct import window

    feed = window.WindowedRebuild.feed
    fed = [0]

    def failing(self: object, *a: object, **k: object) -> object:
        fed[0] += 1
        if fed[0] == 3:
            raise KeyboardInterrupt("stop")
        return feed(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(window.WindowedRebuild, "feed", failing)
    monkeypatch.delenv("FGRAPH_ONE_THREAD", raising=False)
    assert not _decode_threads()  # (every read joins its thread before it returns)
    with pytest.raises(KeyboardInterrupt) as kept:
        load_windowed(str(corpus_file("vm61/lost.dat")), 2000)
    assert fed[0] == 3
    deadline = time.monotonic() + 5
    while _decode_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _decode_threads()
    del kept


def test_the_decode_thread_ends_when_the_consumer_stops_early() -> None:
    """The generator closed or dropped after a few windows, or an error from the reader: no
    thread is left and the errors reach the consumer."""
    import time

    from fgraph.pipeline import _Ahead as _ahead

    def items(fail_at: int | None = None) -> object:
        for i in range(100):
            if i == fail_at:
                raise ValueError("bad window")
            yield np.full(1000, i)

    g = _ahead(items())  # type: ignore[arg-type]
    assert next(g)[0] == 0 and next(g)[0] == 1
    g.close()
    g = _ahead(items())  # type: ignore[arg-type]
    next(g)
    del g
    with pytest.raises(ValueError, match="bad window"):
        for _ in _ahead(items(5)):  # type: ignore[arg-type]
            pass
    assert [int(x[0]) for x in _ahead(items())] == list(range(100))  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while _decode_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _decode_threads()


# ---------------------------------------------------------------- irq names over a growing pool


def test_interrupt_names_while_the_decode_thread_grows_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The windows share one string pool, which the decode thread grows while the rebuild
    prepares the previous window.  ``_named(func, len(pool), _name_codes(pool, ...))`` took the
    pool's size before the names' codes: a runner name first met in the next window got a code
    past the table (IndexError; or, one past, the slot func == -1 reads)."""
    from fgraph.pipeline import load
    from fgraph.reconstruct import irq

    events = load(str(corpus_file("vm61/btrfs_read.txt"))).event_table
    assert (events["irqctx"] < 0).any() and events.strings.lookup("__do_softirq") < 0
    order = np.arange(len(events))
    want = irq.event_contexts(events, order)
    name_codes = irq._name_codes

    def racing(strings: object, names: frozenset[str], prefixes: tuple[str, ...] = ()) -> object:
        if names is irq.SOFTIRQ_RUNNERS:  # the decode thread meets new names meanwhile
            strings.code("next_window_func")  # type: ignore[attr-defined]
            strings.code("__do_softirq")  # type: ignore[attr-defined]
        return name_codes(strings, names, prefixes)  # type: ignore[arg-type]

    monkeypatch.setattr(irq, "_name_codes", racing)
    got = irq.event_contexts(events, order)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    # and a name one past the size must not mark the records without a function
    func = np.array([-1, 0, 1], np.int32)
    assert list(irq._named(func, 2, np.array([2], np.int32))) == [False, False, False]


def test_unknown_column_names_are_refused() -> None:
    """A name that is not a call column (a typo, or a str: frozenset("func") is its letters)
    was silently ignored: the projection then lacked the column meant."""
    path = str(corpus_file("vm61/btrfs_read.dat"))
    for bad in (frozenset({"fucn"}), "func", frozenset({"func", "durations"})):
        with pytest.raises(ValueError, match="not call columns"):
            load_windowed(path, columns=bad)  # type: ignore[arg-type]
    assert len(load_windowed(path, columns={"func"}).call_table) > 0  # type: ignore[arg-type]
