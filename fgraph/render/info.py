"""``fgraph info``: the facts of an input (``info_dict``, from its counts) and their text."""

from __future__ import annotations

from typing import IO, Any

from ..summary import EventSummary
from ..table import EventTable


def info_dict(summary: EventSummary | EventTable) -> dict[str, Any]:
    """Facts about an input (its :class:`~fgraph.summary.EventSummary`, or a whole table's),
    JSON-ready; printed by :func:`render_info`."""
    s = summary if isinstance(summary, EventSummary) else EventSummary.of(summary)
    m = s.meta
    out: dict[str, Any] = {
        "path": m.path,
        "format": m.format,
        "detail": m.detail,
        "version": m.version,
        "compression": m.compression,
        "input_compression": m.input_compression,
        "clock": m.clock,
        "cpus": m.ncpus,
        "kernel": m.uname,
        "page_size": m.page_size,
        "long_size": m.long_size,
        "endian": "big" if m.big_endian else "little",
        "buffers": list(m.buffers),
        "events": s.events,
        "events_per_type": s.events_per_type(),
        "first_ts_ns": s.first_ts_ns,
        "last_ts_ns": s.last_ts_ns,
        "timestamps": m.ts_known,
        "lost_events": s.lost_per_cpu(),
        "cpustat": {b: {str(c): v for c, v in cpus.items()} for b, cpus in m.cpustat.items()},
        "warnings": [str(w) for w in m.warnings],
    }
    if m.format != "trace.dat":
        out["lines"] = m.lines_total
        out["lines_unparsed"] = m.lines_unparsed
        out["unparsed_examples"] = [[n, t] for n, t in m.unparsed_examples[:10]]
    return out


def _cpustat_line(stats: dict[str, str]) -> str:
    keys = ("entries", "overrun", "commit overrun", "dropped events", "read events")
    return ", ".join(f"{k} {stats[k]}" for k in keys if k in stats)


def render_info(d: dict[str, Any], out: IO[str]) -> None:
    w = out.write
    w(f"file:         {d['path']}\n")
    fmt = d["format"] + (f" ({d['detail']})" if d["detail"] else "")
    w(f"format:       {fmt}\n")
    if d["format"] == "trace.dat":
        w(f"version:      {d['version']}\n")
        w(f"compression:  {d['compression']}\n")
    if d["input_compression"] != "none":
        w(f"input:        {d['input_compression']}-compressed\n")
    if d["clock"]:
        w(f"clock:        {d['clock']}\n")
    if d["cpus"]:
        w(f"cpus:         {d['cpus']}\n")
    if d["kernel"]:
        w(f"kernel:       {d['kernel']}\n")
    if d["page_size"]:
        w(
            f"page size:    {d['page_size']} (kernel long {d['long_size']} bytes, {d['endian']} endian)\n"
        )
    if len(d["buffers"]) > 1:
        w(f"buffers:      {', '.join(b or '(top)' for b in d['buffers'])}\n")
    if d["first_ts_ns"] is not None:
        span = (d["last_ts_ns"] - d["first_ts_ns"]) / 1e9
        w(
            f"time:         {d['first_ts_ns'] / 1e9:.6f} .. {d['last_ts_ns'] / 1e9:.6f} s ({span:.6f} s)\n"
        )
    elif not d["timestamps"]:
        w("time:         no timestamps in this input (order by line; durations as printed)\n")
    if "lines" in d:
        w(f"lines:        {d['lines']} ({d['lines_unparsed']} not understood)\n")
    w(f"events:       {d['events']}\n")
    width = max((len(k) for k in d["events_per_type"]), default=0)
    for name, n in d["events_per_type"].items():
        w(f"  {name.ljust(width)}  {n:>10}\n")
    if d["lost_events"]:
        w("lost events:\n")
        for cpu, v in d["lost_events"].items():
            unk = f", {v['gaps_unknown_count']} of unknown size" if v["gaps_unknown_count"] else ""
            w(f"  cpu {cpu}: {v['events']} events in {v['gaps']} gaps{unk}\n")
    else:
        w("lost events:  none recorded\n")
    for buf, cpus in d["cpustat"].items():
        label = f" [{buf}]" if buf else ""
        for cpu, stats in cpus.items():
            line = _cpustat_line(stats)
            if line:
                w(f"cpustat{label} cpu {cpu}: {line}\n")
    for n, text in d.get("unparsed_examples", []):
        w(f"  not understood, line {n}: {text}\n")
