"""Merged timeline and per-task call trees (see reconstruct/calls.py)."""
