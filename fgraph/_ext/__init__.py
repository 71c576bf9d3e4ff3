"""Compiled kernels (C, one extension module per .c file; built by setup.py)."""
