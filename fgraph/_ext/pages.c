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
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#endif

#if defined(__linux__) && defined(MADV_DONTNEED)
/* The zero runs of one array are given back together: process_madvise(2) on the process
 * itself (Linux 6.13+ takes any advice for the caller's own memory; 6.16+ flushes the TLB once
 * per call, not once per range), IOV_BATCH ranges a call, else (an older kernel, a seccomp
 * filter) one madvise(2) a run.  A madvise a run cost a TLB flush each, and with another
 * thread of the process running, an interrupt of its CPU each: ~5000 runs of one page took
 * 6.1 ms one by one and 1.4 ms batched here (bench/RESULTS.md, session 6). */
#define IOV_BATCH 512
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

typedef struct {
    struct iovec v[IOV_BATCH];
    int k;
    int pidfd; /* -1: not opened yet, -2: batching unavailable (madvise a run) */
    size_t released;
} Runs;

static void runs_flush(Runs *r)
{
    if (!r->k)
        return;
    if (r->pidfd == -1) {
        long fd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
        r->pidfd = fd >= 0 ? (int)fd : -2;
    }
    if (r->pidfd >= 0) {
        size_t want = 0;
        for (int j = 0; j < r->k; j++)
            want += r->v[j].iov_len;
        long got = syscall(SYS_process_madvise, (long)r->pidfd, r->v, (long)r->k, (long)MADV_DONTNEED, 0L);
        if (got >= 0 && (size_t)got == want) {
            r->released += want;
            r->k = 0;
            return;
        }
        /* (refused, or stopped part way: each range again by madvise, which gives back a
         * range given back already as it is) */
        if (got < 0 && (errno == ENOSYS || errno == EINVAL || errno == EPERM || errno == EBADF)) {
            close(r->pidfd);
            r->pidfd = -2;
        }
    }
    for (int j = 0; j < r->k; j++)
        if (madvise(r->v[j].iov_base, r->v[j].iov_len, MADV_DONTNEED) == 0)
            r->released += r->v[j].iov_len;
    r->k = 0;
}

static void runs_add(Runs *r, uintptr_t lo, uintptr_t hi)
{
    r->v[r->k].iov_base = (void *)lo;
    r->v[r->k].iov_len = hi - lo;
    if (++r->k == IOV_BATCH)
        runs_flush(r);
}
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
    Runs *runs = malloc(sizeof(Runs));
    if (!runs) {
        free(res);
        return PyErr_NoMemory();
    }
    runs->k = 0;
    runs->pidfd = -1;
    runs->released = 0;
    Py_BEGIN_ALLOW_THREADS
    uintptr_t run = 0; /* start of the current run of zero pages, 0: none */
    for (uintptr_t q = lo; q < hi; q += pg) {
        if (res && !(res[(q - lo) / pg] & 1)) {
            /* not resident: nothing to give back; it may end a run (no madvise over it) */
            if (run) {
                runs_add(runs, run, q);
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
            runs_add(runs, run, q);
            run = 0;
        }
    }
    if (run && hi > run)
        runs_add(runs, run, hi);
    runs_flush(runs);
    if (runs->pidfd >= 0)
        close(runs->pidfd);
    released = runs->released;
    Py_END_ALLOW_THREADS
    free(runs);
    free(res);
#else
    (void)a;
#endif
    return PyLong_FromSize_t(released);
}

/* Map the pages of a writable buffer about to be written, in one call and without the GIL:
 * madvise(MADV_POPULATE_WRITE) (Linux 5.14+, include/uapi/asm-generic/mman-common.h: 23).
 * Writing into fresh anonymous memory otherwise takes a page fault per 4 KB; the decompressed
 * store of a compressed trace.dat is filled by two threads at once, and Python's
 * mmap.madvise holds the GIL, which the other thread's decompression then waits for (a real
 * 409 MB capture: load_lazy 0.56-0.66 s with it, 0.50-0.54 s here).  Only whole pages inside
 * the buffer are touched, and their bytes are not changed (a page already mapped stays as it
 * is).  Returns False where the kernel cannot (EINVAL: older kernels; the writes then fault
 * the pages in as before). */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static PyObject *py_populate_write(PyObject *self, PyObject *args)
{
    Py_buffer view;
    int ok = 0;
    if (!PyArg_ParseTuple(args, "w*", &view))
        return NULL;
#ifdef __linux__
    {
        long pg = sysconf(_SC_PAGESIZE);
        uintptr_t a = (uintptr_t)view.buf, z = a + (uintptr_t)view.len;
        uintptr_t lo = (a + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
        uintptr_t hi = z / (uintptr_t)pg * (uintptr_t)pg;
        if (pg > 0 && hi > lo) {
            Py_BEGIN_ALLOW_THREADS
            ok = madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0;
            Py_END_ALLOW_THREADS
        }
    }
#endif
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
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
    {"populate_write", py_populate_write, METH_VARARGS,
     "populate_write(buf) -> the whole pages inside the writable buffer were mapped"},
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
