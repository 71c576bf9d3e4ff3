"""Type stub of the compressed-chunk loop (fgraph/_ext/inflate.c)."""

import numpy as np

def available(codec: int) -> bool: ...
def scan(
    codec: int,
    data: object,
    chunks: np.ndarray,
    sink: object,
    page_size: int,
    drop_every: int,
    fault_around: int,
) -> tuple[int, int, np.ndarray]: ...
