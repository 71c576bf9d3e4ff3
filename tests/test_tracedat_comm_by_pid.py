"""A trace.dat's comm column is a function of the pid (the file's saved_cmdlines table), which
the rebuild relies on to skip the two-comms scan per window for trace.dat inputs
(``calls.Generations.window``)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file

from fgraph.pipeline import read_events

DATS = ["btrfs_read.dat", "fsync.dat", "lost.dat", "smp4_instances.dat", "system.dat"]


@pytest.mark.parametrize("name", DATS)
def test_one_comm_per_pid(name: str) -> None:
    ev = read_events(corpus_file(f"vm61/{name}"))
    assert ev.meta.format == "trace.dat" and ev.meta.comm_by_pid
    pid, comm = ev["pid"].astype(np.int64), ev["comm"].astype(np.int64)
    pairs = np.unique(np.stack([pid, comm]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1]
