"""`fgraph export`: every --to on a real capture, the partitioned dataset, usage errors."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import corpus_file

from fgraph.cli import cli
from fgraph.errors import EXIT_BAD_INPUT

pytestmark = pytest.mark.corpus


def _need_rebuild():
    mod = pytest.importorskip("fgraph.reconstruct")
    if not hasattr(mod, "rebuild"):
        pytest.skip("the rebuild has not landed yet")


def test_export_csv_equals_calls_csv(tmp_path):
    _need_rebuild()
    src = str(corpus_file("vm61/btrfs_read.dat"))
    r = CliRunner()
    assert (
        r.invoke(cli, ["export", src, "--to", "csv", "-o", str(tmp_path / "e.csv")]).exit_code == 0
    )
    assert (
        r.invoke(cli, ["calls", src, "--format", "csv", "-o", str(tmp_path / "c.csv")]).exit_code
        == 0
    )
    assert (tmp_path / "e.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()
    df = pd.read_csv(tmp_path / "e.csv")
    assert df["call_id"].tolist() == list(range(len(df)))
    assert set(df["ctx"].dropna()) <= {"task", "softirq", "hardirq", "nmi"}


def test_export_parquet_rows_match_calls(tmp_path):
    _need_rebuild()
    import fgraph

    src = corpus_file("vm61/fsync.dat")
    r = CliRunner().invoke(
        cli, ["export", str(src), "--to", "parquet", "-o", str(tmp_path / "c.parquet")]
    )
    assert r.exit_code == 0, r.output
    t = pq.read_table(tmp_path / "c.parquet")
    calls = fgraph.load(src).call_table
    assert t.num_rows == len(calls)
    for name in ("call_id", "duration", "ts_entry", "flags", "ctx"):
        assert t.column(name).to_numpy().tolist() == calls[name].tolist(), name
    # pandas reads it as is, with nulls where the call table has sentinels
    df = t.to_pandas()
    assert df["parent_id"].isna().sum() == int((calls["parent_id"] < 0).sum())


def test_export_partitioned_dataset(tmp_path):
    _need_rebuild()
    a = str(corpus_file("vm61/btrfs_read.dat"))
    b = str(corpus_file("vm61/thresh.dat"))
    out = tmp_path / "ds"
    r = CliRunner().invoke(cli, ["export", a, b, "--to", "parquet", "-o", str(out)])
    assert r.exit_code == 0, r.output
    t = ds.dataset(out, partitioning="hive").to_table()
    per = t.group_by("trace").aggregate([("call_id", "count")]).to_pydict()
    got = dict(zip(per["trace"], per["call_id_count"]))
    import fgraph

    assert got == {
        "btrfs_read.dat": len(fgraph.load(a).call_table),
        "thresh.dat": len(fgraph.load(b).call_table),
    }


def test_export_folded_and_perfetto_stdout():
    _need_rebuild()
    src = str(corpus_file("vm61/btrfs_read.dat"))
    r = CliRunner().invoke(
        cli, ["export", src, "--to", "folded", "--func", "vfs_read", "--min", "10us"]
    )
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines and all(
        ln.startswith("vfs_read") and ln.rsplit(" ", 1)[1].isdigit() for ln in lines
    )
    tot = CliRunner().invoke(
        cli, ["export", src, "--to", "folded", "--func", "vfs_read", "--total"]
    )
    assert tot.exit_code == 0
    r = CliRunner().invoke(cli, ["export", src, "--to", "perfetto"])
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert any(e["ph"] == "X" for e in doc["traceEvents"])


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "csv", "--func", "vfs_read"],  # --func is for folded and perfetto
        ["--to", "perfetto", "--min", "10us"],  # --min is for folded
        ["--to", "folded", "--func", "no_such_function"],
        ["--to", "folded", "--min", "ten"],
    ],
)
def test_export_usage_errors(args):
    _need_rebuild()
    src = str(corpus_file("vm61/btrfs_read.dat"))
    r = CliRunner().invoke(cli, ["export", src, *args])
    assert r.exit_code == EXIT_BAD_INPUT, r.output


def test_trim_usage_errors(tmp_path):
    _need_rebuild()
    src = str(corpus_file("vm61/btrfs_read.dat"))
    r = CliRunner().invoke(
        cli,
        ["trim", src, "--func", "vfs_read", "--threshold", "100s", "-o", str(tmp_path / "t.txt")],
    )
    assert r.exit_code == EXIT_BAD_INPUT and "threshold" in r.output
    r = CliRunner().invoke(cli, ["trim", src, "--func", "nope", "-o", str(tmp_path / "t.txt")])
    assert r.exit_code == EXIT_BAD_INPUT and "nope" in r.output


def test_a_directory_of_traces_for_hist_diff_and_export(tmp_path):
    """hist, diff and export take a directory for the traces in it (sorted; not hidden files
    or subdirectories): the same as naming them, the header counting them when many."""
    _need_rebuild()
    import json
    import shutil

    d = tmp_path / "runs"
    (d / "sub").mkdir(parents=True)
    names = ["a.dat", "b.v6.dat", "c.txt", "d.v7none.dat"]
    for n, rel in zip(
        names,
        ["vm61/btrfs_read.dat", "vm61/btrfs_read.v6.dat", "vm61/btrfs_read.txt"]
        + ["vm61/btrfs_read.v7none.dat"],
    ):
        shutil.copy(corpus_file(rel), d / n)
    (d / ".notes").write_text("not a trace")
    (d / "sub" / "x.dat").write_text("not read either")
    files = [str(d / n) for n in names]

    def run(*args: str) -> str:
        r = CliRunner().invoke(cli, list(args))
        assert r.exit_code == 0, r.output
        return r.output

    by_dir = json.loads(run("hist", str(d), "--func", "vfs_read", "--json"))
    by_name = json.loads(run("hist", *files, "--func", "vfs_read", "--json"))
    assert by_dir == by_name
    head = run("hist", str(d), "--func", "vfs_read").splitlines()[0]
    assert f"in 4 traces ({files[0]}, {files[1]}, ..., {files[3]})" in head
    # diff: a directory on either side, aggregated
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    shutil.copy(d / "a.dat", before / "1.dat")
    shutil.copy(d / "b.v6.dat", before / "2.dat")
    shutil.copy(d / "c.txt", after / "1.txt")
    js = json.loads(run("diff", str(before), str(after), "--func", "vfs_read", "--json"))
    one = json.loads(run("hist", str(d / "a.dat"), "--func", "vfs_read", "--json"))
    calls = one["calls"]
    assert (js["side_a"]["calls"], js["side_b"]["calls"]) == (2 * calls, calls)
    assert (js["a"], js["b"]) == (str(before), str(after))
    text = run("diff", str(before), str(after), "--func", "vfs_read")
    assert f"A = {before}, B = {after}" in text
    # export: a partitioned dataset of the directory's traces
    out = tmp_path / "ds"
    run("export", str(d), "--to", "parquet", "-o", str(out))
    t = ds.dataset(out, partitioning="hive").to_table()
    assert sorted(set(t.column("trace").to_pylist())) == names
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(cli, ["hist", str(empty), "--func", "vfs_read"])
    assert r.exit_code == 2 and "no trace file in it" in r.output


def test_traces_of_the_same_name_from_many_hosts_keep_their_partitions(tmp_path):
    """``hostA/trace.dat`` and ``hostB/trace.dat`` are two partitions named by their paths
    below the common directory (one overwrote the other, silently, when both were
    ``trace=trace.dat``); the same file twice gets ``#2``."""
    _need_rebuild()
    import shutil

    import fgraph
    from fgraph.export.tables import partition_names

    a, b = tmp_path / "hostA" / "trace.dat", tmp_path / "hostB" / "trace.dat"
    for p, rel in ((a, "vm61/btrfs_read.dat"), (b, "vm61/thresh.dat")):
        p.parent.mkdir()
        shutil.copy(corpus_file(rel), p)
    assert partition_names([str(a), str(b)]) == ["hostA/trace.dat", "hostB/trace.dat"]
    assert partition_names(["x/a.dat", "y/b.dat"]) == ["a.dat", "b.dat"]
    assert partition_names([str(a), str(a)]) == ["trace.dat", "trace.dat#2"]
    out = tmp_path / "ds"
    r = CliRunner().invoke(cli, ["export", str(a), str(b), "--to", "parquet", "-o", str(out)])
    assert r.exit_code == 0, r.output
    t = ds.dataset(out, partitioning="hive").to_table()
    per = t.group_by("trace").aggregate([("call_id", "count")]).to_pydict()
    assert dict(zip(per["trace"], per["call_id_count"])) == {
        "hostA_trace.dat": len(fgraph.load(a).call_table),
        "hostB_trace.dat": len(fgraph.load(b).call_table),
    }
    # names that would make one directory (the API takes any): the second one is apart
    from fgraph.export.tables import write_partitioned_parquet

    calls = fgraph.load(b).call_table
    got = write_partitioned_parquet([("a/b", calls), ("a_b", calls)], tmp_path / "ds2")
    assert len(set(got)) == 2 and "trace=a_b_2" in got[1]
