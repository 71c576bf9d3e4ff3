"""Type stub of the C stack machine (fgraph/_ext/stacks.c)."""

from typing import Any

import numpy as np

def new(ncpu: int, tol: int, expect: int = 0, rows: bool = True) -> Any: ...
def feed(
    m: Any,
    pos: np.ndarray,
    row: np.ndarray,
    kind: np.ndarray,
    task: np.ndarray,
    cpu: np.ndarray,
    ctx: np.ndarray,
    bits: np.ndarray,
    fkey: np.ndarray,
    ts: np.ndarray,
    dur: np.ndarray,
    kdepth: np.ndarray,
    cid: np.ndarray | None = None,
) -> None: ...
def finish(m: Any) -> dict[str, Any]: ...
def resolve(parent: np.ndarray, want_root: bool = True) -> tuple[np.ndarray, Any]: ...
def owners(
    parent: np.ndarray, tops: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray] | None: ...
def floor(parent: np.ndarray, duration: np.ndarray, trunc: np.ndarray) -> np.ndarray: ...
def cumspan(
    keys: np.ndarray,
    off: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    before: np.ndarray,
    qtask: np.ndarray,
    q0: np.ndarray,
    q1: np.ndarray,
    sel: np.ndarray,
    out: np.ndarray | None = ...,
) -> np.ndarray: ...
def lastin(
    keys: np.ndarray,
    off: np.ndarray,
    t: np.ndarray,
    qtask: np.ndarray,
    q0: np.ndarray,
    q1: np.ndarray,
    sel: np.ndarray,
) -> np.ndarray: ...
def inner(
    parent: np.ndarray, interrupted: np.ndarray, dur: np.ndarray
) -> tuple[np.ndarray, np.ndarray]: ...
