"""``fgraph hist --plot OUT.png|svg``: the histogram and X's latency over time (matplotlib).

matplotlib is an optional extra (``pip install fgraph[plot]``); without it this raises a
:class:`~fgraph.errors.MissingDependencyError` saying so.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..analysis.hist import HistResult
from ..errors import MissingDependencyError, UsageError

FORMATS = (".png", ".svg", ".pdf")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError(
            "--plot needs matplotlib: pip install 'fgraph[plot]' (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def write_plot(res: HistResult, path: str | os.PathLike[str]) -> None:
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"--plot {path}: use a .png, .svg or .pdf file name")
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    buckets = res.latency.histogram.buckets()
    unit = res.latency.histogram.unit
    if buckets:
        labels = [f"{b['low']}-{b['high']}" for b in buckets]
        ax1.bar(range(len(buckets)), [b["count"] for b in buckets], color="#4477aa")
        ax1.set_xticks(range(len(buckets)))
        ax1.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax1.set_xlabel(f"duration ({unit}, log2 buckets)")
    ax1.set_ylabel("calls")
    ax1.set_title(f"{res.func}: {res.latency.calls} calls")
    if len(res.times_ns):
        t = (res.times_ns - res.times_ns[0]) / 1e9
        d = res.durations_ns / 1e3
        slow = res.durations_ns >= res.threshold_ns
        ax2.scatter(t[~slow], d[~slow], s=6, color="#4477aa", label="fast")
        ax2.scatter(
            t[slow], d[slow], s=8, color="#cc3311", label=f"slow (>= {res.threshold_ns / 1e3:g} us)"
        )
        if res.threshold_ns > 0:
            ax2.axhline(res.threshold_ns / 1e3, color="#cc3311", linewidth=0.8, linestyle="--")
        if np.all(d > 0) and d.max() > 20 * d.min():  # log only when the spread needs it
            ax2.set_yscale("log")
        ax2.legend(loc="best", fontsize=8)
    ax2.set_xlabel("time since first call (s)")
    ax2.set_ylabel("duration (us)")
    ax2.set_title("latency over time")
    fig.tight_layout()
    try:
        fig.savefig(os.fspath(path))
    except OSError as exc:
        raise UsageError(f"--plot {path}: cannot write: {exc.strerror}") from None
    finally:
        plt.close(fig)
