"""Session 4's review of the call-table build in C (branch finish-speed): what it found.

Each test pins one bug found in the new stacks passes (fgraph/_ext/stacks.c: overfull, members,
times, trees, entry_key, tie_order, moves, renumber, remap, invert, call_flags) or in
calls.py's build_table around them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _survives(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter: a segfault there is a failed test, not a dead
    test run."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "call",
    [
        "stacks.remap(np.arange(2, dtype=np.int64), z)",
        "stacks.renumber(z, np.zeros(1, np.int64), np.zeros(1, np.int64))",
        "stacks.entry_key(z, np.zeros(1, np.uint16))",
        "stacks.trees(z, None, None, 1)",
        "stacks.trees(z, None, None, 1, None, np.zeros(0, np.int64), np.zeros(0, np.int64))",
    ],
)
def test_zero_dim_array_is_a_type_error_not_a_crash(call: str) -> None:
    # The in-place passes read an array's length (PyArray_DIM(a, 0)) before checking that it
    # is one-dimensional: a 0-d array has no dimensions (NULL), so the read crashed the
    # interpreter instead of raising.
    r = _survives(
        f"""
        import numpy as np
        from fgraph._ext import stacks
        z = np.array(5, np.int64)
        try:
            {call}
        except (TypeError, ValueError) as e:
            print("raised", type(e).__name__)
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "raised" in r.stdout
