"""Build the small C kernels of fgraph (one extension module per file in fgraph/_ext).

The sequential parts of the pipeline -- walking ring-buffer pages and matching entries
with exits on per-task stacks -- cannot be expressed as whole-array numpy operations
without losing the kernel's semantics, so they are written as tight C loops over numpy
buffers. Everything else stays numpy/Arrow.  See README "Design".
"""
from pathlib import Path

import numpy as np
from setuptools import Extension, setup

ext_dir = Path("fgraph/_ext")
extensions = [
    Extension(
        f"fgraph._ext.{src.stem}",
        sources=[str(src)],
        include_dirs=[np.get_include(), str(ext_dir)],
        # -fwrapv: signed overflow wraps, as numpy's int64 arithmetic does (the C passes must give
        # the numpy references' numbers on absurd timestamps too, not undefined behaviour)
        extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wno-unused-function", "-fwrapv"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # (inflate.c opens the codec libraries at run time: dlopen, in libdl before glibc 2.34)
        libraries=["dl"] if src.stem == "inflate" else [],
    )
    for src in sorted(ext_dir.glob("*.c"))
]

setup(ext_modules=extensions)
