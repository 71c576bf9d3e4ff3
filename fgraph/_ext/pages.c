/* Resident memory of large arrays: give back the pages that hold only zeros.
 *
 * Several call columns are almost all zero (interrupt time, off-CPU times, flags, the CPU of
 * a one-CPU workload): on the benchmark trace two pages in three of those columns hold
 * nothing but zeros.  madvise(MADV_DONTNEED) on a private anonymous page drops it from the
 * resident set, and the next read of it returns zeros again (mm/madvise.c: the page is
 * unmapped; a later fault maps the shared zero page on read, a fresh zeroed page on write;
 * madvise(2): "subsequent accesses of pages in the range ... will result in zero-fill-on-
 * demand pages for anonymous private mappings").  The array's values are unchanged; only
 * pages that are all zeros are given back.  (Inside a transparent huge page, numpy's choice for
 * its large arrays, the zero pages leave the resident set at once, and the huge page is split
 * and those pages freed when the kernel reclaims: mm/huge_memory.c deferred_split_folio.)
 *
 * The caller guarantees what this file cannot check: the array's memory is private anonymous
 * memory (malloc'd: a file mapping would read back the file's bytes, not zeros) and no other
 * thread writes to it meanwhile (a write between the scan and the madvise would be lost).
 * fgraph/_malloc.py release_zero_pages makes both checks it can.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

/* Is the page at p all zeros?  Stops at the first nonzero word: a page that holds data costs
 * one read, so the scan's cost is the zero pages' size. */
static int page_is_zero(const unsigned char *p, size_t pg)
{
    const uint64_t *w = (const uint64_t *)p;
    size_t n = pg / sizeof(uint64_t);
    for (size_t k = 0; k < n; k++)
        if (w[k])
            return 0;
    return 1;
}

static PyObject *py_release_zero_pages(PyObject *self, PyObject *args)
{
    PyArrayObject *a;
    if (!PyArg_ParseTuple(args, "O!", &PyArray_Type, &a))
        return NULL;
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISWRITEABLE(a)) {
        PyErr_SetString(PyExc_ValueError, "release_zero_pages: a writeable contiguous array");
        return NULL;
    }
    size_t released = 0;
#if defined(__linux__) && defined(MADV_DONTNEED)
    long pgl = sysconf(_SC_PAGESIZE);
    if (pgl <= 0 || (pgl & (pgl - 1)) != 0 || pgl % sizeof(uint64_t) != 0)
        return PyLong_FromSize_t(0);
    uintptr_t pg = (uintptr_t)pgl;
    uintptr_t p = (uintptr_t)PyArray_DATA(a);
    uintptr_t nb = (uintptr_t)PyArray_NBYTES(a);
    /* only the pages that lie wholly inside the array (its first and last may be shared with
     * other allocations or malloc's bookkeeping) */
    uintptr_t lo = (p + pg - 1) & ~(pg - 1);
    uintptr_t hi = (p + nb) & ~(pg - 1);
    if (hi <= lo)
        return PyLong_FromSize_t(0);
    /* Pages not resident (never written, or given back already) are skipped without being
     * read: a read would fault each one in (as the zero page), ~2 us apiece. */
    size_t npages = (hi - lo) / pg;
    unsigned char *res = malloc(npages);
    if (res && mincore((void *)lo, hi - lo, res) != 0) {
        free(res);
        res = NULL; /* (then every page is read) */
    }
    Py_BEGIN_ALLOW_THREADS
    uintptr_t run = 0; /* start of the current run of zero pages, 0: none */
    for (uintptr_t q = lo; q < hi; q += pg) {
        if (res && !(res[(q - lo) / pg] & 1)) {
            /* not resident: nothing to give back; it may end a run (no madvise over it) */
            if (run) {
                if (madvise((void *)run, q - run, MADV_DONTNEED) == 0)
                    released += q - run;
                run = 0;
            }
            continue;
        }
        if (page_is_zero((const unsigned char *)q, pg)) {
            if (!run)
                run = q;
            continue;
        }
        if (run) {
            if (madvise((void *)run, q - run, MADV_DONTNEED) == 0)
                released += q - run;
            run = 0;
        }
    }
    if (run && hi > run && madvise((void *)run, hi - run, MADV_DONTNEED) == 0)
        released += hi - run;
    Py_END_ALLOW_THREADS
    free(res);
#else
    (void)a;
#endif
    return PyLong_FromSize_t(released);
}

static PyObject *py_machine_buffer(PyObject *self, PyObject *args)
{
    PyObject *o;
    if (!PyArg_ParseTuple(args, "O", &o))
        return NULL;
    /* the C stack machine's columns (fgraph/_ext/stacks.c give_out): malloc'd buffers */
    return PyBool_FromLong(PyCapsule_IsValid(o, "fgraph.stacks.buffer"));
}

static PyMethodDef methods[] = {
    {"release_zero_pages", py_release_zero_pages, METH_VARARGS,
     "release_zero_pages(a) -> bytes of a's all-zero pages given back to the kernel"},
    {"machine_buffer", py_machine_buffer, METH_VARARGS,
     "machine_buffer(o) -> o is the capsule of a stack machine column's buffer"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "pages",
                                       "Resident memory of large arrays.", -1, methods};

PyMODINIT_FUNC PyInit_pages(void)
{
    import_array();
    return PyModule_Create(&moduledef);
}
