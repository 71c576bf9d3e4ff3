"""Analyses over the call table: histograms, breakdowns, slowest calls, comparisons."""
