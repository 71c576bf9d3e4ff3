"""Fuzz worker: reads input paths on stdin, answers one JSON line per input on stdout.

Run by tests/fuzz/fuzzlib.py (never by hand).  For each path: parse it with fgraph, check the
event table against the schema, rebuild the calls (when fgraph.reconstruct exists) and check
that the rebuild accounts for every funcgraph record.  Only FgraphError may escape fgraph; any
other exception is reported with its traceback and a signature (exception type and the
innermost fgraph frame) so known crashes can be recognized across runs.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from typing import Any


def _limit_memory() -> None:
    mb = int(os.environ.get("FGRAPH_FUZZ_MEM_MB", "0") or 0)
    if mb > 0:
        # what the CLI stage imports maps much address space (pyarrow's allocator): take it
        # into the baseline before the limit is set
        # Address space, not RSS: numpy/pandas imports map ~1 GB of virtual memory already,
        # so the limit is counted on top of what the interpreter holds after the imports.
        import re

        import pandas  # noqa: F401
        import pyarrow  # noqa: F401

        vm = 0
        try:
            with open("/proc/self/status") as f:
                m = re.search(r"VmSize:\s+(\d+) kB", f.read())
                vm = int(m.group(1)) * 1024 if m else 0
        except OSError:
            pass
        lim = vm + mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))


def signature(exc: BaseException) -> str:
    """``TypeName at fgraph/path.py:function`` (innermost frame inside the fgraph package)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = ""
    for fr in reversed(tb):
        norm = fr.filename.replace(os.sep, "/")
        if "/fgraph/" in norm and "/tests/" not in norm:
            where = norm[norm.rindex("/fgraph/") + 1 :] + ":" + fr.name
            break
    return f"{type(exc).__name__} at {where or '?'}"


def check(path: str, cli: bool = False) -> dict[str, Any]:
    from fgraph.errors import FgraphError
    from fgraph.pipeline import read_events

    stage = "parse"
    try:
        table = read_events(path)
        stage = "validate"
        try:
            table.validate()
            _check_events(table)
        except AssertionError as exc:
            return {
                "status": "invalid",
                "detail": f"event table: {exc}",
                "signature": f"invalid events: {str(exc)[:60]}",
            }
        try:
            from fgraph.reconstruct import rebuild  # type: ignore[attr-defined]
        except ImportError:
            return {"status": "ok", "detail": f"{len(table)} events (no rebuild yet)"}
        stage = "rebuild"
        calls, quality = rebuild(table)
        stage = "validate calls"
        try:
            calls.validate()
        except AssertionError as exc:
            return {
                "status": "invalid",
                "detail": f"call table: {exc}",
                "signature": f"invalid calls: {str(exc)[:60]}",
            }
        q = quality.to_dict() if hasattr(quality, "to_dict") else vars(quality)
        un = q.get("events_unaccounted")
        if un is None or int(un) != 0:
            return {
                "status": "unaccounted",
                "detail": f"events_unaccounted={un} ({len(table)} events, {len(calls)} calls)",
                "signature": "events_unaccounted",
            }
        stage = "windowed"
        bad = _check_windowed(path, table, calls)
        if bad is not None:
            return bad
        if cli:
            stage = "cli"
            bad = run_commands(path, calls)
            if bad is not None:
                return bad
        return {"status": "ok", "detail": f"{len(table)} events, {len(calls)} calls"}
    except FgraphError as exc:
        msg = str(exc)
        if "\n" in msg.strip():
            return {
                "status": "invalid",
                "detail": f"multi-line error message: {msg!r}",
                "signature": "multi-line error",
            }
        return {"status": "error", "detail": msg[:300]}
    except BaseException as exc:  # noqa: BLE001 (the point: anything else is a finding)
        return {
            "status": "crash",
            "detail": f"during {stage}:\n" + "".join(traceback.format_exception(exc))[-6000:],
            "signature": signature(exc),
        }


def _time_ordered(table: Any) -> bool:
    """Each CPU's records in time order (a garbled page clock that jumps back is merged where
    its page is read by the windowed reader, but sorted globally by the whole-file read)."""

    ts, cpu, buf = table["ts"], table["cpu"], table["buf"]
    same = (cpu[1:] == cpu[:-1]) & (buf[1:] == buf[:-1])
    return bool((ts[1:][same] >= ts[:-1][same]).all())


def _text_ordered(table: Any) -> bool:
    """A text's entries in time order on each CPU (lines duplicated, swapped or shuffled put
    them out of it; the exits' times are derived, entry + printed duration, and need not be)."""
    import numpy as np

    kind, ts, cpu = table["kind"], table["ts"], table["cpu"]
    e = np.flatnonzero((kind == 1) & (ts >= 0))
    o = np.argsort(cpu[e], kind="stable")
    ts, cpu = ts[e][o], cpu[e][o]
    same = cpu[1:] == cpu[:-1]
    return bool((ts[1:][same] >= ts[:-1][same]).all())


def _check_windowed(path: str, table: Any, calls: Any) -> dict[str, Any] | None:
    """The windowed read (what hist/slowest/diff use) of the same input: it must account for
    every record too, and when the whole read saw no damage and sane clocks it must find the
    same calls."""
    from fgraph.pipeline import load_windowed

    text = table.meta.format in ("kernel-text", "trace-cmd-report")
    # (a kernel or trace-cmd report text read in pieces of 1.5 kB: fgraph.parsers.text_windows,
    # as a text of 32 MB and more is read)
    old = os.environ.get("FGRAPH_TEXT_PIECE")
    os.environ["FGRAPH_TEXT_PIECE"] = "1500"
    try:
        t = load_windowed(path, 997, delay_prefix=997)
    finally:
        if old is None:
            del os.environ["FGRAPH_TEXT_PIECE"]
        else:
            os.environ["FGRAPH_TEXT_PIECE"] = old
    q = t.quality.to_dict()
    if int(q.get("events_unaccounted", -1)) != 0:
        return {
            "status": "unaccounted",
            "detail": f"windowed read: events_unaccounted={q.get('events_unaccounted')}",
            "signature": "windowed events_unaccounted",
        }
    # (damage repaired at a window's edge may be repaired otherwise than in the whole read:
    # only undamaged inputs with sane clocks must give the same calls)
    if not table.meta.warnings and (_text_ordered(table) if text else _time_ordered(table)):
        # the whole table rebuilt with the same record-delay prefix (the delay comes from the
        # first delay_prefix records, so it is part of what is compared)
        from fgraph.reconstruct import WindowedRebuild

        ncpu = int(max(table["cpu"].max(initial=-1), table.lost["cpu"].max(initial=-1))) + 1
        rb = WindowedRebuild(ncpu, table.meta, table.strings, delay_prefix=997)
        rb.feed(table, keep_others=False)
        whole = rb.finish()[0]
        if (
            len(t.call_table) != len(whole)
            or not (t.call_table["duration"] == whole["duration"]).all()
        ):
            return {
                "status": "invalid",
                "detail": f"windowed read: {len(t.call_table)} calls, whole read {len(whole)}",
                "signature": "windowed calls differ",
            }
    return None


def _commands(path: str, func: str | None) -> list[list[str]]:
    null = os.devnull
    cmds = [
        ["info", path],
        ["stats", path, "--json"],
        ["events", path, "--format", "csv", "-o", null],
        ["calls", path, "--format", "csv", "-o", null],
        ["hist", path],
        ["export", path, "--to", "folded", "-o", null],
        ["export", path, "--to", "perfetto", "-o", null],
    ]
    if func is not None:
        cmds += [
            ["hist", path, "--func", func, "--threshold", "p50", "--depth", "3"],
            ["slowest", path, "--func", func, "--min", "0"],
            ["trim", path, "--func", func, "-o", null],
            ["check", path, "--func", func, "--expect", "p99 < 1s", "--expect", "calls >= 1"],
        ]
    return cmds


def run_commands(path: str, calls: Any) -> dict[str, Any] | None:
    """The CLI commands on an input that read: exit 0/1 (check) or a one-line error, nothing
    else.  FGRAPH_DEBUG=1 makes fgraph.cli.main re-raise a bug, so it gets a signature."""
    import io

    import numpy as np

    from fgraph.cli import main

    func = None
    codes = calls["func"][calls["func"] >= 0]
    if len(codes):
        func = calls.strings[int(np.bincount(codes).argmax())]
    for args in _commands(path, func):
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        err = io.StringIO()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
        code: Any = 0
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # noqa: BLE001
            return {
                "status": "crash",
                "detail": f"fgraph {' '.join(args[:1] + args[2:])}:\n"
                + "".join(traceback.format_exception(exc))[-6000:],
                "signature": signature(exc) + f" (fgraph {args[0]})",
            }
        finally:
            sys.stdout, sys.stderr = saved
        errs = [ln for ln in err.getvalue().splitlines() if not ln.startswith("fgraph: warning:")]
        ok_code = code in (0, None) or (code == 1 and args[0] == "check")
        one_line_error = code == 2 and len(errs) == 1 and errs[0].startswith("fgraph: error:")
        if not (ok_code or one_line_error):
            return {
                "status": "invalid",
                "detail": f"fgraph {' '.join(args[:1] + args[2:])}: exit {code}: {err.getvalue()[-800:]}",
                "signature": f"cli {args[0]} exit {code}",
            }
    return None


def _check_events(table: Any) -> None:
    """Structural promises the later stages rely on (beyond dtypes)."""
    import numpy as np

    n = len(table)
    for name, ft in table.fields.items():
        rows = np.asarray(ft.rows)
        assert rows.size == 0 or (rows.min() >= 0 and rows.max() < n), (
            f"field table {name}: rows out of range"
        )
        for col, arr in ft.columns.items():
            assert len(arr) == len(rows), f"field table {name}.{col}: length"
    lost = table.lost
    if len(lost):
        r = lost["row"]
        assert (r >= -1).all() and (r < max(n, 1)).all() or n == 0, "lost rows out of range"


def main() -> None:
    # This tree's fgraph, first: run as a script, the worker's sys.path starts with tests/fuzz,
    # and fgraph came from wherever the interpreter's editable install points (another
    # worktree: the fuzz tests of a worktree checked that tree's code, and failed outright when
    # it was mid-change)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    _limit_memory()
    os.environ["FGRAPH_DEBUG"] = "1"  # the CLI stage wants bugs raised, with a traceback
    import fgraph.pipeline  # noqa: F401  (import once, before the first case)

    sys.stdout.write(json.dumps({"status": "ready"}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        path, _, mode = line.rstrip("\n").partition("\t")
        if not path:
            continue
        out = check(path, cli=mode == "cli")
        out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
