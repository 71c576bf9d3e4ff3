"""Small formatting helpers shared by the text renderers."""

from __future__ import annotations

from ..units import format_ns


def pct(x: float | None, width: int = 6) -> str:
    if x is None:
        return "-".rjust(width)
    return f"{x * 100:.1f}%".rjust(width)


def dur(ns: float | int | None, width: int = 9) -> str:
    return format_ns(ns, width=width)


def signed_dur(ns: float, width: int = 10) -> str:
    ns = round(ns)  # below 1 ns is float noise from per-call means
    if ns == 0:
        return "0".rjust(width)
    s = format_ns(abs(ns))
    return (("+" if ns > 0 else "-") + s).rjust(width)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
