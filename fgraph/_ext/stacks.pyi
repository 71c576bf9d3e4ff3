"""Type stub of the C stack machine (fgraph/_ext/stacks.c)."""

from collections.abc import Sequence
from typing import Any, overload

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
def gens() -> Any: ...
def two_comms(kind: np.ndarray, pid: np.ndarray, comm: np.ndarray) -> bool: ...
def feed_rows(
    m: Any,
    order: np.ndarray,
    lo: int,
    cols: dict[str, np.ndarray | None],
    ctx: np.ndarray,
    bits: np.ndarray,
    gens: Any,
    row_id: np.ndarray | None,
    row_base: int,
    pos_base: int,
    delay: int,
    gpos: np.ndarray,
    gts: np.ndarray,
    gcpu: np.ndarray,
    attrs: int = 0,
) -> tuple[int, int]: ...
def prepare_rows(
    order: np.ndarray,
    lo: int,
    cols: dict[str, np.ndarray | None],
    ctx: np.ndarray,
    bits: np.ndarray,
    gens: Any,
    row_id: np.ndarray | None,
    row_base: int,
    pos_base: int,
    delay: int,
    gpos: np.ndarray,
    gts: np.ndarray,
    gcpu: np.ndarray,
) -> tuple[np.ndarray, ...]: ...
def finish(m: Any) -> dict[str, Any]: ...
def attrs(m: Any) -> dict[str, np.ndarray]: ...
def resolve(parent: np.ndarray, want_root: bool = True) -> tuple[np.ndarray, Any]: ...
@overload
def owners(
    parent: np.ndarray, tops: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray] | None: ...
@overload
def owners(
    parent: np.ndarray, tops: np.ndarray, depth: np.ndarray, max_rel: int = -1
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray] | None: ...
def depth_marks(
    kdepth: np.ndarray,
    parent: np.ndarray,
    interrupted: np.ndarray,
    flags: np.ndarray,
    ctx: np.ndarray,
    task_ctx: int,
    repair: int,
) -> tuple[int, int, int, int, int, int]: ...
def valid_range(ce: np.ndarray, cx: np.ndarray) -> tuple[int, int] | None: ...
def offspans(
    keys: np.ndarray,
    off_s: np.ndarray,
    start_s: np.ndarray,
    end_s: np.ndarray,
    before_s: np.ndarray,
    off_r: np.ndarray,
    start_r: np.ndarray,
    end_r: np.ndarray,
    before_r: np.ndarray,
    pid: np.ndarray,
    cpu: np.ndarray,
    ctx: np.ndarray,
    ce: np.ndarray,
    cx: np.ndarray,
    task_ctx: int,
    out_s: np.ndarray,
    out_r: np.ndarray,
) -> None: ...
def lastin(
    keys: np.ndarray,
    off: np.ndarray,
    t: np.ndarray,
    qtask: np.ndarray,
    q0: np.ndarray,
    q1: np.ndarray,
    sel: np.ndarray,
) -> np.ndarray: ...
def overfull(
    parent: np.ndarray,
    interrupted: np.ndarray,
    dur: np.ndarray,
    kdepth: np.ndarray,
    tol: int,
    acc: np.ndarray | None = None,
    zero: bool = False,
    summed: bool = False,
) -> np.ndarray: ...
def child_sums(
    parent: np.ndarray,
    interrupted: np.ndarray,
    dur: np.ndarray,
    acc: np.ndarray,
    lo: int,
    hi: int,
    zero: bool = False,
) -> tuple[np.ndarray, np.ndarray]: ...
def members(
    parent: np.ndarray, interrupted: np.ndarray, rows: np.ndarray, lo: int = 0, hi: int = ...
) -> tuple[np.ndarray, np.ndarray]: ...
def call_counts(
    flags: np.ndarray,
    self_ns: np.ndarray,
    ctx: np.ndarray,
    irq_ns: np.ndarray | None,
    flag_bits: Sequence[int],
    ctx_codes: Sequence[int],
    repair: int,
) -> tuple[list[int], list[int], int, int, int]: ...
def times(
    parent: np.ndarray,
    interrupted: np.ndarray,
    duration: np.ndarray,
    ts_entry: np.ndarray,
    ts_exit: np.ndarray,
    flags: np.ndarray,
    self_out: np.ndarray | None = None,
    irq_out: np.ndarray | None = None,
    rng: np.ndarray | None = None,
    cleared: bool = False,
) -> tuple[np.ndarray, np.ndarray]: ...
def clear(a: np.ndarray) -> None: ...
def trees(
    parent: np.ndarray,
    ctx: np.ndarray | None,
    flags: np.ndarray | None,
    want: int = 1,
    interrupted: np.ndarray | None = None,
    moved: np.ndarray | None = None,
    src: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, bool] | None: ...
def entry_key(order: np.ndarray, flags: np.ndarray) -> bool: ...
def tie_order(
    perm: np.ndarray, key: np.ndarray, parent: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None: ...
def moves(perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def renumber(idx: np.ndarray, moved: np.ndarray, src: np.ndarray) -> None: ...
def call_flags(
    flags: np.ndarray, cpu_entry: np.ndarray, cpu_exit: np.ndarray, has_ret: np.ndarray
) -> None: ...
def first_contexts(
    irqctx: np.ndarray, kind: np.ndarray, func: np.ndarray, named: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]: ...
def remap(lut: np.ndarray, idx: np.ndarray) -> None: ...
def invert(perm: np.ndarray, inv: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def entry_moves(
    key: np.ndarray, parent: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray] | None: ...
def machine_views(m: Any) -> tuple[np.ndarray, ...]: ...
def prefault(m: Any, ahead: int) -> int: ...
def prune(m: Any, keep: np.ndarray, final: bool = ...) -> tuple[int, int]: ...
def dropped(m: Any) -> tuple[np.ndarray, int]: ...
