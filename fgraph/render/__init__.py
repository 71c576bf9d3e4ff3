"""Renderers: turn analysis results into text/JSON.  They format, never aggregate.

Every renderer writes to an ``IO[str]`` so tests render into ``StringIO``: ``hist.py``
(summary, histogram, breakdown), ``histogram.py`` (bcc funclatency-style log2 bars),
``breakdown.py``, ``compare.py`` (hist --compare and diff), ``tree.py`` (slowest),
``json.py`` and ``plot.py`` (optional matplotlib).
"""
