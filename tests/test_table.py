"""The columnar containers: schema conformance, conversions, concat/take."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fgraph import schema
from fgraph.schema import EventKind
from fgraph.table import CallTable, EventTable, FieldTable, LostTable, StringPool


def _events() -> EventTable:
    t = EventTable.from_rows(
        [
            {
                "ts": 10,
                "cpu": 0,
                "pid": 7,
                "comm": "cat",
                "event": "funcgraph_entry",
                "kind": EventKind.FG_ENTRY,
                "func": "vfs_read",
                "depth": 0,
            },
            {
                "ts": 25,
                "cpu": 0,
                "pid": 7,
                "comm": "cat",
                "event": "funcgraph_exit",
                "kind": EventKind.FG_EXIT,
                "func": "vfs_read",
                "depth": 0,
                "duration": 15,
            },
            {
                "ts": 30,
                "cpu": 1,
                "pid": 0,
                "comm": "<idle>",
                "event": "sched_switch",
                "kind": EventKind.SCHED_SWITCH,
            },
        ]
    )
    t.fields["sched_switch"] = FieldTable(
        np.array([2]), {"prev_pid": np.array([0]), "next_pid": np.array([7])}
    )
    t.lost = LostTable.from_rows(
        [{"cpu": 1, "row": 2, "ts": 30, "count": 5, "source": 0}], t.strings
    )
    return t


def test_from_rows_fills_sentinels_and_validates() -> None:
    t = _events()
    t.validate()
    assert len(t) == 3
    assert t["addr"].tolist() == [0, 0, 0]
    assert t["calltime"].tolist() == [-1, -1, -1]
    assert t.strings[int(t["func"][0])] == "vfs_read"
    assert t["func"][2] == -1


def test_to_arrow_turns_sentinels_into_nulls() -> None:
    at = _events().to_arrow()
    assert at.column_names == [c.name for c in schema.EVENT_COLUMNS]
    assert at.column("duration").to_pylist() == [None, 15, None]
    assert at.column("func").to_pylist() == ["vfs_read", "vfs_read", None]
    assert pa.types.is_dictionary(at.schema.field("comm").type)


def test_take_repoints_fields_and_lost() -> None:
    t = _events()
    sub = t.take(np.array([2, 0]))
    assert sub.fields["sched_switch"].rows.tolist() == [0]
    assert sub.lost["row"].tolist() == [0]
    sub2 = t.take(np.array([True, True, False]))
    assert len(sub2.fields["sched_switch"]) == 0
    assert sub2.lost["row"].tolist() == [-1]


def test_take_of_few_ascending_rows_repoints_as_the_table_does() -> None:
    """``take`` of few ascending rows (a window's other events) finds their new places by a
    search, not through a table as long as the events; many rows, or rows out of order, go
    through the table.  Either way each field row and lost row lands where its row went (-1:
    dropped, or after the last row)."""
    rng = np.random.default_rng(5)
    n = 400
    t = EventTable.from_rows(
        [{"ts": i, "comm": "c", "event": "sched_switch", "kind": 3} for i in range(n)]
    )
    frows = np.sort(rng.choice(n, 60, replace=False))
    t.fields["sched_switch"] = FieldTable(frows, {"prev_pid": frows * 7}, set())
    lrows = np.array([-1, 0, 5, 17, n - 1, n])
    t.lost = LostTable({"row": lrows, "cpu": np.zeros(len(lrows), np.int16)}, t.strings)
    picks = (
        np.array([], np.int64),
        np.array([0, 5, n - 1]),
        np.sort(rng.choice(n, 30, replace=False)),  # few, ascending: the search
        np.sort(rng.choice(n, 200, replace=False)),  # many: the table
        rng.choice(n, 30, replace=False),  # out of order: the table
    )
    for idx in picks:
        sub = t.take(idx)
        where = {int(r): k for k, r in enumerate(idx)}
        ft = sub.fields["sched_switch"]
        want = [(where[int(r)], int(r) * 7) for r in frows if int(r) in where]
        assert list(zip(ft.rows.tolist(), ft.columns["prev_pid"].tolist())) == want
        assert sub.lost["row"].tolist() == [where.get(int(r), -1) if r >= 0 else -1 for r in lrows]
        assert sub["ts"].tolist() == idx.tolist()


def test_concat_merges_string_pools() -> None:
    a = _events()
    b = EventTable.from_rows(
        [{"ts": 40, "comm": "dd", "func": "vfs_write", "event": "funcgraph_entry", "kind": 1}]
    )
    c = EventTable.concat([a, b])
    c.validate()
    assert len(c) == 4
    assert c.strings.decode(c["func"]).tolist() == ["vfs_read", "vfs_read", None, "vfs_write"]
    assert c.strings.decode(c["comm"]).tolist()[-1] == "dd"
    assert c.lost["row"].tolist() == [2]
    assert c.fields["sched_switch"].rows.tolist() == [2]


def test_concat_of_tables_with_different_fields_and_row_ranges() -> None:
    """Pieces of a text hold the fields their lines printed: the joined table has every field,
    -1 where a piece had none (as a reader leaves a field a line did not print).  And
    ``row_range`` is the rows as views, with the field and lost rows among them re-pointed."""
    pool = StringPool()
    rows = [{"ts": t, "kind": int(EventKind.OTHER)} for t in range(4)]
    a = EventTable.from_rows(rows[:2], pool)
    b = EventTable.from_rows(rows[2:], pool)
    a.fields["irq"] = FieldTable(np.array([1]), {"irq": np.array([7])})
    b.fields["irq"] = FieldTable(
        np.array([0, 1]), {"name": np.array([pool.code("eth0")] * 2, np.int32)}, {"name"}
    )
    c = EventTable.concat([a, b])
    ft = c.fields["irq"]
    assert ft.rows.tolist() == [1, 2, 3]
    assert ft.columns["irq"].tolist() == [7, -1, -1]
    assert c.strings.decode(ft.columns["name"]).tolist() == [None, "eth0", "eth0"]
    assert ft.string_cols == {"name"}
    c.lost = LostTable(
        {"row": np.array([3, -1, 1]), "cpu": np.zeros(3, np.int16), "ts": np.full(3, -1)}, pool
    )
    r = c.row_range(1, 3)
    assert r["ts"].tolist() == [1, 2] and np.shares_memory(r["ts"], c["ts"])
    assert r.fields["irq"].rows.tolist() == [0, 1]
    assert r.lost["row"].tolist() == [0]
    last = c.row_range(2, 4, last=True)
    assert last.lost["row"].tolist() == [1, -1]


def test_call_table_children_index() -> None:
    calls = CallTable.from_rows(
        [
            {"call_id": 0, "parent_id": -1, "root_id": 0, "func": "a"},
            {"call_id": 1, "parent_id": 0, "root_id": 0, "func": "b"},
            {"call_id": 2, "parent_id": 0, "root_id": 0, "func": "c"},
            {"call_id": 3, "parent_id": 2, "root_id": 0, "func": "d"},
        ]
    )
    off, kids = calls.children_index()
    assert kids[off[0] : off[1]].tolist() == [1, 2]
    assert kids[off[2] : off[3]].tolist() == [3]
    df = calls.to_pandas()
    assert list(df["func"]) == ["a", "b", "c", "d"]


def test_string_pool_roundtrip() -> None:
    p = StringPool(["a", "b"])
    assert p.code("b") == 1 and p.code("c") == 2
    assert p.lookup("zz") == -1
    assert p.decode(np.array([2, -1, 0])).tolist() == ["c", None, "a"]
