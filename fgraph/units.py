"""Durations and times: parse "1ms"/"250us"/"3s"/"1500" (ns) and print them the way kernel
engineers read them."""

from __future__ import annotations

import re

from .errors import UsageError

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "": 1}
_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*(ns|us|µs|ms|s|)\s*$")


def parse_duration(text: str | int | float | None, *, what: str = "duration") -> int | None:
    """ns from "1ms", "2.5us", "3s", "1500" (bare numbers are ns); None passes through."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return int(text)
    m = _RE.match(text)
    if not m:
        raise UsageError(f"bad {what} {text!r}: use a number with ns, us, ms or s (e.g. 1ms)")
    return int(round(float(m.group(1)) * _UNITS[m.group(2)]))


def parse_time(text: str | None, *, what: str = "time") -> int | None:
    """Absolute trace time in ns from seconds ("17.86" as printed by ftrace) or with a unit."""
    if text is None:
        return None
    t = text.strip()
    if re.match(r"^\d+\.\d+$", t) or re.match(r"^\d+$", t):
        return int(round(float(t) * 1_000_000_000))
    return parse_duration(t, what=what)


def format_ns(ns: float | int | None, *, width: int = 0) -> str:
    """Human duration: 812 ns, 12.3 us, 4.56 ms, 1.23 s."""
    if ns is None or ns < 0:
        s = "-"
    elif ns < 1_000:
        s = f"{int(ns)} ns"
    elif ns < 1_000_000:
        s = f"{ns / 1e3:.1f} us" if ns < 100_000 else f"{ns / 1e3:.0f} us"
    elif ns < 1_000_000_000:
        s = f"{ns / 1e6:.2f} ms" if ns < 100_000_000 else f"{ns / 1e6:.1f} ms"
    else:
        s = f"{ns / 1e9:.3f} s"
    return s.rjust(width) if width else s


def format_ts(ns: int) -> str:
    """ftrace-style absolute time: seconds with 6 decimals."""
    if ns < 0:
        return "-"
    return f"{ns // 1_000_000_000}.{(ns % 1_000_000_000) // 1000:06d}"
