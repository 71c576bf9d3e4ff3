"""Analyses over the call table: histograms, breakdowns, slowest calls, comparisons.

Each analysis takes a :class:`fgraph.Trace` or :class:`fgraph.table.CallTable` (or a list of
them, aggregated) and returns a plain result object with ``to_dict()``; renderers in
:mod:`fgraph.render` format those results.

=============  ===================================================================
hist.py        ``hist()``: X's latency distribution + slow-call breakdown; top functions
breakdown.py   rows that partition a set of calls' time (children, depth N, all, paths)
compare.py     two breakdowns side by side (slow vs fast, trace A vs trace B)
diff.py        ``diff()``: X in two traces
slowest.py     ``slowest()``: the N slowest calls of X as complete trees
stats.py       nearest-rank percentiles, log2 histograms, :class:`Latency`
filters.py     --pid/--comm/--cpu/--since/--until as a row mask
tree.py        vectorized parent-pointer walks (pointer jumping, call paths)
calls.py       input coercion, concatenation of traces, selecting X's calls
=============  ===================================================================
"""
