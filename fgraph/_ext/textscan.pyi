"""Type stub of the kernel text line scanner (fgraph/_ext/textscan.c)."""

import numpy as np

def scan(
    data: object, starts: np.ndarray, i0: int, i1: int, out: tuple[np.ndarray, ...]
) -> tuple[list[bytes], list[bytes]]: ...
def split(data: object) -> tuple[np.ndarray, int]: ...
def remap(col: np.ndarray, i0: int, i1: int, table: np.ndarray) -> None: ...
def rowcount(kind: np.ndarray, i0: int, i1: int) -> int: ...
def expand(
    ins: tuple[np.ndarray | None, ...],
    r0: int,
    i0: int,
    i1: int,
    outs: tuple[np.ndarray | None, ...],
    codes: tuple[int, ...],
) -> None: ...
