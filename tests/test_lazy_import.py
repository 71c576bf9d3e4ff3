"""``import fgraph`` does not import numpy, and the command sets OpenBLAS to one thread before
numpy starts (numpy's OpenBLAS otherwise starts a thread per core that spins ~0.1 s at import:
one core of two, for nothing, since fgraph makes no BLAS calls)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "fgraph" / "data" / "fsync.dat"


def _run(code: str, env: dict[str, str] | None = None) -> str:
    full = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    full.update(env or {})
    full["PYTHONPATH"] = str(ROOT) + os.pathsep + full.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, check=True
    )
    return out.stdout.strip()


def test_import_fgraph_and_its_command_leave_numpy_unimported() -> None:
    code = "import sys, fgraph, fgraph.cli; print('numpy' in sys.modules)"
    assert _run(code) == "False"


def test_the_command_sets_one_openblas_thread_before_numpy() -> None:
    code = (
        "import os, sys, fgraph.cli\n"
        "seen = []\n"
        "class Hook:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'numpy' and not seen:\n"
        "            seen.append(os.environ.get('OPENBLAS_NUM_THREADS'))\n"
        "        return None\n"
        "sys.meta_path.insert(0, Hook())\n"
        "try:\n"
        f"    fgraph.cli.main(['info', {str(SMALL)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(seen)\n"
    )
    assert _run(code).splitlines()[-1] == "['1']"
    # a user's own setting is kept
    assert _run(code, {"OPENBLAS_NUM_THREADS": "2"}).splitlines()[-1] == "['2']"


def test_load_stays_the_function_once_the_pipeline_module_is_imported() -> None:
    code = (
        "import fgraph\n"
        "from fgraph.pipeline import load_windowed\n"
        f"t = fgraph.load({str(SMALL)!r})\n"
        "print(callable(fgraph.load), fgraph.load_windowed is load_windowed, len(t.calls) > 0)"
    )
    assert _run(code) == "True True True"


def test_unique_gives_what_np_unique_gives() -> None:
    import numpy as np

    from fgraph._numpy import unique

    rng = np.random.default_rng(7)
    cases = [
        np.array([], np.int64),
        np.array([5], np.int32),
        rng.integers(-5, 5, 1000),
        rng.integers(0, 1 << 40, 300).astype(np.uint64),
        rng.normal(size=50).round(1),
        np.array(["b", "a", "b", ""], dtype=object),
        rng.integers(0, 3, (4, 5)),
    ]
    for a in cases:
        got, want = unique(a), np.unique(a)
        assert got.dtype == want.dtype
        assert got.tolist() == want.tolist()


def test_a_windowed_hist_does_not_import_numpy_ma() -> None:
    # (np.unique and np.union1d import it on their first call: 7-13 ms of every run)
    code = (
        "import sys, fgraph, fgraph.cli\n"
        "try:\n"
        f"    fgraph.cli.main(['hist', {str(SMALL)!r}, '--func', 'vfs_fsync_range', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"t = fgraph.load_windowed({str(SMALL)!r}, 1024)\n"
        "fgraph.hist(t, 'vfs_fsync_range')\n"
        "print(t.windowed, len(t.call_table) > 0, 'numpy.ma' in sys.modules)\n"
    )
    assert _run(code).splitlines()[-1] == "True True False"


def test_a_tracedat_read_leaves_pyarrow_and_pandas_unimported() -> None:
    """The text readers' pyarrow (~30 MB of libraries resident, ~0.1 s) and pandas are not
    loaded by the windowed read of a trace.dat, what ``fgraph hist`` runs."""
    code = (
        "import sys\n"
        "from fgraph.pipeline import load_windowed\n"
        f"t = load_windowed({str(SMALL)!r})\n"
        "print(len(t.call_table) > 0, 'pyarrow' in sys.modules, 'pandas' in sys.modules)"
    )
    assert _run(code) == "True False False"
