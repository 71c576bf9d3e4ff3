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
        # Address space, not RSS: numpy/pandas imports map ~1 GB of virtual memory already,
        # so the limit is counted on top of what the interpreter holds after the imports.
        import re

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


def check(path: str) -> dict[str, Any]:
    from fgraph.errors import FgraphError
    from fgraph.load import read_events

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
    _limit_memory()
    import fgraph.load  # noqa: F401  (import once, before the first case)

    sys.stdout.write(json.dumps({"status": "ready"}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        out = check(path)
        out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
