"""``fgraph diff A B --func X``: X's breakdown in two traces side by side (before/after)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .compare import Comparison, compare_breakdowns
from .hist import HistResult, hist


@dataclass
class DiffResult:
    func: str
    threshold_ns: int
    a: HistResult
    b: HistResult
    comparison: Comparison

    def to_dict(self) -> dict[str, Any]:
        d = {"func": self.func, "threshold_ns": self.threshold_ns}
        d.update(self.comparison.to_dict())
        return d


def diff(
    trace_a: Any,
    trace_b: Any,
    func: str,
    *,
    threshold: str | int | None = None,
    depth: int = 1,
    all: bool = False,  # noqa: A002 - mirrors the --all option
    by: str = "child",
    filters: Any = None,
    labels: tuple[str, str] | None = None,
) -> DiffResult:
    """Breakdowns of ``func`` in two traces; all complete calls unless ``threshold`` is given.

    A percentile threshold ("p90") is resolved in each trace separately (the slowest tenth of
    each side), a duration applies to both.  The same as :func:`side` of each trace, then
    :func:`combine` (``fgraph diff`` lets go of the first trace's calls before it reads the
    second).
    """
    kw: dict[str, Any] = {"depth": depth, "all": all, "by": by, "filters": filters}
    ra = side(trace_a, func, threshold=threshold, **kw)
    rb = side(trace_b, func, threshold=threshold, **kw)
    return combine(func, ra, rb, labels)


def side(trace: Any, func: str, **kw: Any) -> HistResult:
    """One side of :func:`diff`: X's histogram and breakdown in ``trace`` (``kw``: the
    threshold, depth, all, by and filters of :func:`~.hist.hist`)."""
    r = hist(trace, func, **kw)
    assert isinstance(r, HistResult)
    return r


def combine(
    func: str, ra: HistResult, rb: HistResult, labels: tuple[str, str] | None = None
) -> DiffResult:
    """The two sides' breakdowns ranked by the change in time per call of X."""
    la, lb = labels or (", ".join(ra.traces) or "A", ", ".join(rb.traces) or "B")
    cmp = compare_breakdowns(la, ra.breakdown, ra.slow, lb, rb.breakdown, rb.slow)
    return DiffResult(func, ra.threshold_ns, ra, rb, cmp)
