"""log2 latency histograms drawn the way bcc's funclatency prints them.

    usecs               : count     distribution
        0 -> 1          : 0        |                                        |
        2 -> 3          : 12       |*****                                   |

Values 0 and 1 share the first line ("0 -> 1"), as in bcc.  Bars scale to the largest bucket.
"""

from __future__ import annotations

from typing import IO

from ..analysis.stats import Log2Histogram

BAR_WIDTH = 40


def bar(count: int, biggest: int, width: int = BAR_WIDTH) -> str:
    n = (count * width) // biggest if biggest else 0
    return "*" * n


def write_log2_hist(
    h: Log2Histogram, out: IO[str], indent: str = "", *, strip_leading_zero: bool = False
) -> None:
    counts = [int(c) for c in h.counts.tolist()]
    if not counts or sum(counts) == 0:
        out.write(f"{indent}(no complete calls)\n")
        return
    # bucket 0 (value 0) is folded into bucket 1 ("0 -> 1")
    merged = [counts[0] + (counts[1] if len(counts) > 1 else 0)] + counts[2:]
    biggest = max(merged)
    wide = len(merged) > 32
    lw = 20 if wide else 10
    out.write(f"{indent}{' ' * (lw - 5)}{h.unit:<{lw + 9}} : count     distribution\n")
    first = next((j for j, c in enumerate(merged) if c), 0) if strip_leading_zero else 0
    for j, c in enumerate(merged):
        if j < first:
            continue
        i = j + 1
        lo, hi = (0, 1) if i == 1 else h.bounds(i)
        out.write(f"{indent}{lo:>{lw}} -> {hi:<{lw}} : {c:<8} |{bar(c, biggest):<{BAR_WIDTH}}|\n")
