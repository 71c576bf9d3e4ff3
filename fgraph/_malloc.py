"""Keep freed memory in the process instead of returning it to the kernel (glibc only).

numpy allocates every large array with mmap and frees it with munmap; the pipeline makes many
short-lived arrays of hundreds of MB, so each one costs fresh zero pages and page faults.  On
this project's 2-core VM that was measured as the biggest single cost (bench/RESULTS.md: system
time 1.72 s → 0.48 s on a 2.4M-event trace, user time unchanged, peak RSS unchanged).
mallopt(M_MMAP_THRESHOLD) raises the size above which glibc uses mmap, so large arrays come from
the heap and are reused; mallopt(M_TRIM_THRESHOLD) stops glibc from trimming the heap after each
free.  Called once by the CLI (a library should not change its host's allocator).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (numpy is imported lazily: the CLI calls this module before any command)
    import numpy as np

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    """glibc, loaded once (OSError when it is not there).  By its usual soname first:
    ``ctypes.util.find_library`` runs ``ldconfig -p`` in a subprocess, ~2 ms a call, and the
    windowed read trims the heap every few windows."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        # (imported here: ctypes.util imports subprocess and more, ~4-7 ms of every start)
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c") or "libc.so.6")


def keep_freed_memory() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = _libc()
        ok = libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1
        ok = libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 and ok
        # one arena: the decoding thread's freed windows are reused by the main thread
        # instead of staying in an arena of their own
        ok = libc.mallopt(M_ARENA_MAX, 1) == 1 and ok
        return bool(ok)
    except (OSError, AttributeError):
        return False


def small_pages() -> None:
    """Stop numpy from asking for transparent huge pages (``madvise(MADV_HUGEPAGE)``, numpy's
    default for arrays of 4 MB and more).  Called once by the CLI, like
    :func:`keep_freed_memory`.  On the benchmark VM a fresh huge page is sometimes backed by
    the host only when first touched: a 320 MB array took 0.7-0.8 s of system time to fill the
    first time and 0.04 s the next (4K pages: 0.11-0.12 s every time), so the call-table build
    at 10M records took 0.19 s or 0.34-0.38 s from run to run, and 0.20 s each time with 4K
    pages (bench/RESULTS.md, session 6)."""
    import importlib

    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):  # numpy 2, numpy 1
        try:
            advise = getattr(importlib.import_module(name), "_set_madvise_hugepage", None)
        except ImportError:  # pragma: no cover - numpy 1
            continue
        if advise is not None:
            advise(False)
            return


def release_free_memory() -> None:
    """Return the heap's free memory to the kernel now (glibc ``malloc_trim``).  Called between
    the windowed read and the call-table build: the windows' freed working set would otherwise
    stay resident (the CLI turns automatic trimming off) under the build's peak."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        _libc().malloc_trim(0)


def _private_anonymous(a: np.ndarray) -> bool:
    """Is ``a``'s memory known to be malloc'd (private anonymous memory, where a dropped page
    reads back as zeros)?  numpy's own allocations and the C stack machine's columns are; a
    view of a file mapping, of bytes or of another library's buffer is not (refused)."""
    import numpy as np

    b: object = a
    while isinstance(b, np.ndarray):
        if b.flags.owndata:
            try:
                from numpy._core.multiarray import get_handler_name
            except ImportError:  # pragma: no cover - numpy < 2
                from numpy.core.multiarray import get_handler_name  # type: ignore[no-redef]
            return bool(get_handler_name(b) == "default_allocator")
        b = b.base
    from ._ext import pages

    return b is not None and pages.machine_buffer(b)


def release_zero_pages(*arrays: np.ndarray) -> int:
    """Give the kernel back the pages of ``arrays`` that hold only zeros (values unchanged: a
    dropped page reads back as zeros); bytes released.  Several call columns are mostly zeros
    (interrupt and off-CPU times, flags): ~90 MB of the call table at 10M records.  Only for
    arrays no other thread writes meanwhile; arrays whose memory may not be private anonymous
    memory (or that are small, read-only or not contiguous) are left alone."""
    if not sys.platform.startswith("linux"):
        return 0
    from ._ext import pages

    done = 0
    for a in arrays:
        if (
            a.nbytes >= _ZERO_PAGES_MIN
            and a.flags.c_contiguous
            and a.flags.writeable
            and _private_anonymous(a)
        ):
            done += pages.release_zero_pages(a)
    return done


_ZERO_PAGES_MIN = 1 << 20  # smaller arrays: not worth a scan


def drop_rows(a: np.ndarray, lo: int, hi: int) -> int:
    """Give the kernel back the whole pages inside ``a[lo:hi]`` (bytes released).  Their values
    are lost (they read back as zeros): only for rows that nothing reads again.  Arrays whose
    memory may not be private anonymous memory (views of files, of bytes, of other libraries'
    buffers, zero-stride constants) are left alone."""
    if not sys.platform.startswith("linux") or a.ndim != 1 or not a.flags.c_contiguous:
        return 0
    if not a.flags.writeable or not _private_anonymous(a):
        return 0
    import ctypes
    import mmap

    ps = mmap.PAGESIZE
    start = a.ctypes.data + max(lo, 0) * a.itemsize
    end = a.ctypes.data + min(hi, len(a)) * a.itemsize
    first, last = -(-start // ps) * ps, end // ps * ps
    if last <= first:
        return 0
    libc = _libc()
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    if libc.madvise(first, last - first, 4) != 0:  # MADV_DONTNEED
        return 0
    return last - first


def sparse_zeros(n: int, dtype: Any) -> np.ndarray:
    """A zero-filled array whose pages become resident only where it is written: for a
    column written only at its few nonzero values.  Its memory is an anonymous mapping of its
    own: ``np.zeros`` may take a reused heap chunk, which calloc clears page by page (all of it
    resident), and numpy asks for transparent huge pages for its large arrays (one value
    written anywhere in 2 MB makes all of it resident)."""
    import numpy as np

    dt = np.dtype(dtype)
    if not sys.platform.startswith("linux") or n * dt.itemsize < _ZERO_PAGES_MIN:
        return np.zeros(n, dt)
    import mmap

    # (private: a read of an unwritten page maps the zero page, where a shared mapping would
    # allocate one; the array keeps the mapping alive, unmapped when the array is freed)
    return np.frombuffer(mmap.mmap(-1, n * dt.itemsize, flags=mmap.MAP_PRIVATE), dt)
