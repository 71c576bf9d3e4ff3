"""Expectations on a hist result: ``'p99 < 2ms'``, ``'share(btrfs_lookup_csum) < 40%'``.

Grammar (one expectation per string)::

    expectation := metric OP value
    metric      := p50 | p90 | p99 | max | mean     (durations; also p50_ns … max_ns)
                 | calls | slow_calls | truncated_calls                  (counts)
                 | share(NAME)                     (a breakdown row: a child, [self], [irq])
                 | offcpu_sleep_share | offcpu_runnable_share            (fractions)
    OP          := < | <= | > | >= | == | !=
    value       := duration (2ms, 500us, 1.5s, bare ns) for durations
                 | integer for counts
                 | 40% or 0.4 for shares

They are evaluated against the dict of :meth:`fgraph.analysis.hist.HistResult.to_dict` (its
key names are the contract).  A share of a function that does not appear in the slow calls'
breakdown is 0.  A metric that cannot be measured (p99 of no calls) fails the expectation.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..units import format_ns, parse_duration

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

DURATIONS = {"p50": "p50_ns", "p90": "p90_ns", "p99": "p99_ns", "max": "max_ns", "mean": "mean_ns"}
COUNTS = ("calls", "slow_calls", "truncated_calls")
FRACTIONS = ("offcpu_sleep_share", "offcpu_runnable_share")

_EXPR = re.compile(
    r"^\s*(?P<metric>share\s*\(\s*(?P<name>[^()]*?)\s*\)|[A-Za-z_][\w]*)\s*(?P<op><=|>=|==|!=|<|>|=)\s*(?P<value>\S.*?)\s*$"
)

_HELP = (
    "use METRIC OP VALUE, e.g. 'p99 < 2ms', 'calls >= 10', 'slow_calls == 0', "
    "'share(btrfs_lookup_csum) < 40%'; metrics: p50 p90 p99 max calls slow_calls "
    "truncated_calls share(NAME) offcpu_sleep_share offcpu_runnable_share"
)


@dataclass(frozen=True)
class Expectation:
    text: str  # as given
    metric: str  # canonical: "p99", "calls", "share", "offcpu_sleep_share"
    name: str | None  # share(NAME)
    op: str
    value: float  # ns for durations, count, or fraction
    kind: str  # "duration" | "count" | "fraction"

    @property
    def label(self) -> str:
        return f"share({self.name})" if self.metric == "share" else self.metric


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    measured: float | None  # None: could not be measured
    ok: bool
    note: str = ""

    def render(self) -> str:
        e = self.expectation
        status = "PASS" if self.ok else "FAIL"
        got = "not measured" if self.measured is None else format_value(self.measured, e.kind)
        note = f" ({self.note})" if self.note else ""
        return f"{status}  {e.text.strip()}  — measured {e.label} = {got}{note}"

    def to_dict(self) -> dict[str, Any]:
        e = self.expectation
        return {
            "expect": e.text.strip(),
            "metric": e.label,
            "op": e.op,
            "value": e.value,
            "measured": self.measured,
            "ok": self.ok,
            "note": self.note,
        }


def format_value(v: float, kind: str) -> str:
    if kind == "duration":
        return format_ns(v)
    if kind == "fraction":
        return f"{v * 100:.1f}%"
    return str(int(v))


def _parse_fraction(text: str, expr: str) -> float:
    t = text.strip()
    try:
        if t.endswith("%"):
            return float(t[:-1]) / 100.0
        return float(t)
    except ValueError:
        raise UsageError(
            f"bad expectation {expr!r}: {text!r} is not a share (40% or 0.4)"
        ) from None


def parse_expectation(text: str) -> Expectation:
    """Parse one expectation; raises UsageError saying what is wrong."""
    m = _EXPR.match(text or "")
    if not m:
        raise UsageError(f"bad expectation {text!r}: {_HELP}")
    metric = m.group("metric").strip()
    op = m.group("op")
    if op == "=":
        op = "=="
    raw = m.group("value")
    if m.group("name") is not None:
        name = m.group("name")
        if not name:
            raise UsageError(
                f"bad expectation {text!r}: share() needs a function name, [self] or [irq]"
            )
        return Expectation(text, "share", name, op, _parse_fraction(raw, text), "fraction")
    key = metric.lower()
    if key.endswith("_ns") and key[:-3] in DURATIONS:
        key = key[:-3]
    if key in DURATIONS:
        try:
            ns = parse_duration(raw, what="duration")
        except UsageError:
            raise UsageError(
                f"bad expectation {text!r}: {raw!r} is not a duration (2ms, 500us, 1.5s)"
            ) from None
        assert ns is not None
        return Expectation(text, key, None, op, float(ns), "duration")
    if key in COUNTS:
        try:
            n = int(raw)
        except ValueError:
            raise UsageError(f"bad expectation {text!r}: {raw!r} is not a whole number") from None
        return Expectation(text, key, None, op, float(n), "count")
    if key in FRACTIONS:
        return Expectation(text, key, None, op, _parse_fraction(raw, text), "fraction")
    raise UsageError(f"bad expectation {text!r}: unknown metric {metric!r}; {_HELP}")


def measure(exp: Expectation, result: Mapping[str, Any]) -> tuple[float | None, str]:
    """The measured value of ``exp``'s metric in a hist dict, and a note."""
    if exp.metric == "share":
        rows = result.get("breakdown") or []
        total = 0.0
        found = False
        for row in rows:  # a breakdown has tens of rows, not calls
            if row.get("name") == exp.name:
                total += float(row.get("share") or 0.0)
                found = True
        if not result.get("slow_calls"):
            return (0.0 if not found else total), "no slow calls"
        return total, ("" if found else f"{exp.name} not in the slow calls' breakdown")
    if exp.kind == "duration":
        v = result.get(DURATIONS[exp.metric])
        return (None, "no complete calls") if v is None or v < 0 else (float(v), "")
    v = result.get(exp.metric)
    if v is None:
        return None, "not in this result (no sched_switch data?)" if exp.kind == "fraction" else ""
    return float(v), ""


def evaluate(expectations: Sequence[str | Expectation], result: Mapping[str, Any]) -> list[Outcome]:
    """Evaluate each expectation against a hist dict (HistResult.to_dict())."""
    out = []
    for e in expectations:
        exp = parse_expectation(e) if isinstance(e, str) else e
        measured, note = measure(exp, result)
        if measured is None:
            ok = False
        elif exp.kind == "fraction":
            # Shares are rounded to 1e-9 so "share([self]) == 0.25" is not at the mercy of
            # float sums.
            ok = OPS[exp.op](round(measured, 9), round(exp.value, 9))
        else:
            ok = OPS[exp.op](measured, exp.value)
        out.append(Outcome(exp, measured, bool(ok), note))
    return out


def all_hold(outcomes: Sequence[Outcome]) -> bool:
    return all(o.ok for o in outcomes)
