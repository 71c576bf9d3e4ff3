"""The slow-call breakdown as SQL (docs/duckdb.md) equals ``fgraph hist``'s (issue 7).

The query is taken verbatim from docs/duckdb.md, run with DuckDB over the hive-partitioned
Parquet dataset fgraph exports, and its rows compared with
``fgraph.analysis.hist.hist(...).to_dict()["breakdown"]``: on a hand-built call table with every
corner (recursion, unknown self time, unknown child duration, interrupts, truncated and fast
calls, two traces) and on real vm61 traces.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, corpus_file

duckdb = pytest.importorskip("duckdb")
hist_mod = pytest.importorskip("fgraph.analysis.hist")

from fgraph.export.tables import write_partitioned_parquet  # noqa: E402
from fgraph.schema import CallFlag  # noqa: E402
from fgraph.table import CallTable, StringPool  # noqa: E402

DOC = ROOT / "docs" / "duckdb.md"
_PARAMS = re.compile(r"SELECT '[^']*' AS func, \d+ AS threshold_ns")


def doc_query() -> str:
    text = DOC.read_text()
    m = re.search(r"<!-- slow_breakdown\.sql.*?-->\s*```sql\n(.*?)```", text, re.S)
    assert m, "docs/duckdb.md lost its slow_breakdown.sql block"
    sql = m.group(1)
    assert _PARAMS.search(sql), "the params CTE changed shape"
    return sql


def run_query(dataset: Path, func: str, threshold_ns: int) -> list[dict]:
    sql = _PARAMS.sub(f"SELECT '{func}' AS func, {int(threshold_ns)} AS threshold_ns", doc_query())
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW calls AS SELECT * FROM read_parquet('{dataset}/*/*.parquet', hive_partitioning = true)"
    )
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def fgraph_rows(calls: object, func: str, threshold: object) -> tuple[list[dict], int]:
    d = hist_mod.hist(calls, func, threshold=threshold).to_dict()
    return d["breakdown"], d["threshold_ns"]


def assert_same(sql_rows: list[dict], fg_rows: list[dict]) -> None:
    got = [(r["name"], int(r["calls"]), int(r["total_ns"])) for r in sql_rows]
    want = [(r["name"], r["calls"], r["total_ns"]) for r in fg_rows]
    assert got == want
    for a, b in zip(sql_rows, fg_rows):
        assert a["share"] == pytest.approx(b["share"], rel=1e-9, abs=1e-12)


def _table() -> CallTable:
    """Two traces' worth of calls of X with every case the breakdown distinguishes."""
    T = CallFlag.TRUNCATED
    rows = []

    def call(cid, parent, root, func, depth, t0, dur, self_=-1, irq=0, flags=0):  # type: ignore[no-untyped-def]
        rows.append(
            dict(
                call_id=cid,
                parent_id=parent,
                root_id=root,
                func=func,
                depth=depth,
                ts_entry=t0,
                ts_exit=t0 + dur if dur >= 0 else -1,
                duration=dur,
                self=self_,
                irq_ns=irq,
                flags=flags,
                pid=1,
                ctx=0,
            )
        )

    # trace 0: a slow X with two B children, a C child, irq time and known self
    call(0, -1, 0, "X", 0, 0, 5000, self_=1000, irq=500)
    call(1, 0, 0, "B", 1, 100, 1000, self_=1000)
    call(2, 0, 0, "B", 1, 1200, 1500, self_=300)
    call(3, 2, 0, "D", 2, 1300, 1200, self_=1200)
    call(4, 0, 0, "C", 1, 3000, 1000, self_=0)
    call(5, 4, 0, "X", 2, 3100, 900, self_=900)  # recursion: slow X inside slow X
    # a slow X with unknown self time and a child of unknown duration (-> [unaccounted] 0 / rest)
    call(6, -1, 6, "X", 0, 10000, 4000, self_=-1)
    call(7, 6, 6, "B", 1, 10100, -1, self_=-1, flags=T)
    call(8, 6, 6, "C", 1, 11000, 2000, self_=2000)
    # fast X, truncated X: not broken down
    call(9, -1, 9, "X", 0, 20000, 100, self_=100)
    call(10, -1, 10, "X", 0, 30000, 9999, self_=-1, flags=T)
    call(11, 10, 10, "B", 1, 30100, 50, self_=50)
    # an interrupt root while X(0) ran: not a child of X
    call(12, -1, 12, "irq_handler", 0, 2800, 500, self_=500)
    # self that does not add up: [unaccounted]
    call(13, -1, 13, "X", 0, 40000, 3000, self_=1000)
    call(14, 13, 13, "B", 1, 40100, 1500, self_=1500)
    t = CallTable.from_rows(rows, StringPool())
    return t


def test_query_matches_hist_on_handbuilt_calls(tmp_path: Path) -> None:
    calls = _table()
    fg, thr = fgraph_rows(calls, "X", 1000)
    assert {r["name"] for r in fg} >= {"B", "C", "[self]", "[irq]", "[unaccounted]"}
    write_partitioned_parquet([("t0", calls)], tmp_path / "ds")
    assert_same(run_query(tmp_path / "ds", "X", thr), fg)


def test_query_sums_over_traces(tmp_path: Path) -> None:
    """Two partitions: the SQL sums both, as fgraph hist does over several inputs."""
    a, b = _table(), _table()
    write_partitioned_parquet([("host-a", a), ("host-b", b)], tmp_path / "ds")
    fg, thr = fgraph_rows([a, b], "X", 1000)
    assert_same(run_query(tmp_path / "ds", "X", thr), fg)


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "func", "threshold"),
    [
        ("vm61/fsync.dat", "vfs_write", "1ms"),
        ("vm61/fsync.dat", "vfs_fsync_range", "p50"),
        ("vm61/btrfs_read.dat", "vfs_read", "p90"),
        ("vm61/system.dat", "schedule", "0"),
    ],
)
def test_query_matches_hist_on_real_trace(
    tmp_path: Path, rel: str, func: str, threshold: str
) -> None:
    pytest.importorskip("fgraph.reconstruct")
    import fgraph

    try:
        from fgraph.reconstruct import rebuild  # noqa: F401
    except ImportError:
        pytest.skip("fgraph.reconstruct.rebuild not landed yet")
    trace = fgraph.load(corpus_file(rel))
    calls = trace.call_table
    fg, thr = fgraph_rows(calls, func, threshold)
    assert fg, f"no slow calls of {func} in {rel}"
    write_partitioned_parquet([(Path(rel).stem, calls)], tmp_path / "ds")
    assert_same(run_query(tmp_path / "ds", func, thr), fg)


@pytest.mark.corpus
def test_query_on_cli_export_matches_cli_hist(tmp_path: Path) -> None:
    """The documented path end to end: `fgraph export --to parquet -o DIR A B` (a partitioned
    dataset), the doc's query with DuckDB, and `fgraph hist A B --func X --json`."""
    import json
    import subprocess
    import sys

    a, b = corpus_file("vm61/fsync.dat"), corpus_file("vm61/smp4_instances.dat")
    fg = [sys.executable, "-m", "fgraph"]
    out = tmp_path / "ds"
    subprocess.run(
        [*fg, "export", "--to", "parquet", "-o", str(out), "-q", str(a), str(b)], check=True
    )
    assert len(list(out.glob("trace=*/*.parquet"))) == 2
    h = subprocess.run(
        [*fg, "hist", str(a), str(b), "--func", "vfs_write", "--json", "-q"],
        check=True,
        capture_output=True,
        text=True,
    )
    d = json.loads(h.stdout)
    assert d["slow_calls"] > 0 and len(d["traces"]) == 2
    assert_same(run_query(out, "vfs_write", d["threshold_ns"]), d["breakdown"])


@pytest.mark.slow
@pytest.mark.corpus
def test_query_runs_unchanged_on_spark(tmp_path: Path) -> None:
    """The same text on Spark SQL (local mode).  ~1 min and needs pyspark + Java: opt in with
    FGRAPH_SPARK=1 (not part of the default suite)."""
    import os
    import subprocess
    import sys

    if not os.environ.get("FGRAPH_SPARK"):
        pytest.skip("set FGRAPH_SPARK=1 to run the query on Spark")
    pyspark_sql = pytest.importorskip("pyspark.sql")
    import fgraph

    a, b = corpus_file("vm61/fsync.dat"), corpus_file("vm61/smp4_instances.dat")
    out = tmp_path / "ds"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fgraph",
            "export",
            "--to",
            "parquet",
            "-o",
            str(out),
            "-q",
            str(a),
            str(b),
        ],
        check=True,
    )
    fg, thr = fgraph_rows([fgraph.load(a), fgraph.load(b)], "vfs_write", "1ms")
    spark = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("fgraph-test")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        spark.read.parquet(str(out)).createOrReplaceTempView("calls")
        sql = _PARAMS.sub(f"SELECT 'vfs_write' AS func, {thr} AS threshold_ns", doc_query())
        rows = [r.asDict() for r in spark.sql(sql).collect()]
    finally:
        spark.stop()
    assert_same(rows, fg)
