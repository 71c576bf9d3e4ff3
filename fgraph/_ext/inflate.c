/* The compressed data chunks of a v7 trace.dat decompressed in one C loop, without the GIL.
 *
 * trace-cmd writes each CPU's ring-buffer data as chunks of 10 pages, each a zstd frame (no
 * content size) or a zlib stream, after a header of its compressed and decompressed sizes
 * (lib/trace-cmd/trace-output.c out_write_cpu_data, trace-compress.c
 * tracecmd_compress_copy_from).  fgraph's first pass over a compressed file decompresses every
 * chunk once, keeps the first ones in its store and takes the first 8 bytes of every page (its
 * timestamp).  Done a chunk at a time from Python (zstandard's decompress, a bytes object, a
 * copy into the store), the ~10k chunks of a real 409 MB capture took 0.69-0.87 s of CPU on
 * two threads, their Python serialised by the GIL; here the loop decompresses straight into
 * the store (or a scratch buffer for the chunks not kept) and copies the page heads out.
 *
 * The codec libraries are opened at run time (dlopen of the C library's own soname, declared
 * here by their stable public API: zstd.h ZSTD_decompressDCtx, zlib.h uncompress), so building
 * fgraph needs no codec headers and a machine without them still reads the files: available()
 * says False and fgraph decompresses through Python's zstandard and zlib modules, as before.
 *
 * The loop stops at the first chunk that does not decompress to the size its header gives;
 * the caller then reads that piece again through Python, whose path says what was lost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

enum { CODEC_ZSTD = 1, CODEC_ZLIB = 2 };

typedef struct {
    int tried, ok;
    void *(*create)(void);
    size_t (*release)(void *);
    size_t (*decompress)(void *, void *, size_t, const void *, size_t);
    unsigned (*is_error)(size_t);
} Zstd;

typedef struct {
    int tried, ok;
    /* int uncompress(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen) */
    int (*uncompress)(unsigned char *, unsigned long *, const unsigned char *, unsigned long);
} Zlib;

static Zstd zstd;
static Zlib zlib_;

static void *open_lib(const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h)
            return h;
    }
    return NULL;
}

/* (called with the GIL held: the first call of a process loads the library) */
static int codec_ready(int codec)
{
    if (codec == CODEC_ZSTD) {
        if (!zstd.tried) {
            static const char *const names[] = {"libzstd.so.1", "libzstd.1.dylib", NULL};
            void *h = open_lib(names);
            zstd.tried = 1;
            if (h) {
                *(void **)&zstd.create = dlsym(h, "ZSTD_createDCtx");
                *(void **)&zstd.release = dlsym(h, "ZSTD_freeDCtx");
                *(void **)&zstd.decompress = dlsym(h, "ZSTD_decompressDCtx");
                *(void **)&zstd.is_error = dlsym(h, "ZSTD_isError");
                zstd.ok = zstd.create && zstd.release && zstd.decompress && zstd.is_error;
            }
        }
        return zstd.ok;
    }
    if (codec == CODEC_ZLIB) {
        if (!zlib_.tried) {
            static const char *const names[] = {"libz.so.1", "libz.1.dylib", NULL};
            void *h = open_lib(names);
            zlib_.tried = 1;
            if (h) {
                *(void **)&zlib_.uncompress = dlsym(h, "uncompress");
                zlib_.ok = zlib_.uncompress != NULL;
            }
        }
        return zlib_.ok;
    }
    return 0;
}

static PyObject *py_available(PyObject *self, PyObject *args)
{
    int codec;
    if (!PyArg_ParseTuple(args, "i", &codec))
        return NULL;
    return PyBool_FromLong(codec_ready(codec));
}

/* One chunk into dst (us bytes): 0 when it decompressed to exactly us bytes. */
static int inflate_one(int codec, void *dctx, unsigned char *dst, size_t us, const unsigned char *src,
                       size_t cs)
{
    if (codec == CODEC_ZSTD) {
        size_t got = zstd.decompress(dctx, dst, us, src, cs);
        return zstd.is_error(got) || got != us;
    }
    unsigned long got = us;
    int rc = zlib_.uncompress(dst, &got, src, cs);
    return rc != 0 || got != us;
}

/* Give back the whole pages of the mapped input inside [lo, hi) (they count in the resident
 * set; the mapping reads them again from the page cache if touched): source.release_pages's
 * with a range.  Only for a file mapping (on anonymous or heap memory MADV_DONTNEED
 * would zero the bytes): the caller's to know, as in ringbuffer.py. */
static void drop_pages(const unsigned char *base, size_t len, Py_ssize_t lo, Py_ssize_t hi)
{
#if defined(__linux__) && defined(MADV_DONTNEED)
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        return;
    if (lo < 0)
        lo = 0;
    if ((size_t)hi > len)
        hi = (Py_ssize_t)len;
    uintptr_t a = ((uintptr_t)base + (uintptr_t)lo + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
    uintptr_t z = ((uintptr_t)base + (uintptr_t)hi) / (uintptr_t)pg * (uintptr_t)pg;
    if (z <= a)
        return;
    madvise((void *)a, z - a, MADV_DONTNEED);
#else
    (void)base, (void)len, (void)lo, (void)hi;
#endif
}

/* scan(codec, data, chunks, sink, page_size, drop_every, fault_around)
 *   -> (chunks read, chunks kept, heads)
 *
 * ``chunks``: int64 (n, 3) of (offset in data of the compressed bytes, their size, the
 * decompressed size), consecutive in the blob from a page start.  Chunk k is decompressed into
 * sink at its blob offset while every chunk before it was and it fits (``kept``), else into a
 * scratch buffer.  ``heads``: uint8 (pages, 8), the first 8 bytes of every page whose 8 bytes
 * were read (a head may run across two chunks).  ``drop_every`` > 0 (only when data is a
 * mapped file): the file's pages read are given back every that many compressed bytes (and
 * fault_around bytes either side, the pages a fault maps around the one asked for). */
static PyObject *py_scan(PyObject *self, PyObject *args)
{
    int codec;
    Py_buffer src, sink;
    PyArrayObject *chunks;
    Py_ssize_t ps, drop_every, fault_around;
    if (!PyArg_ParseTuple(args, "iy*O!w*nnn", &codec, &src, &PyArray_Type, &chunks, &sink, &ps,
                          &drop_every, &fault_around))
        return NULL;
    PyObject *result = NULL;
    PyArrayObject *heads = NULL;
    unsigned char *scratch = NULL;
    void *dctx = NULL;
    if (PyArray_TYPE(chunks) != NPY_INT64 || PyArray_NDIM(chunks) != 2 ||
        PyArray_DIM(chunks, 1) != 3 || !PyArray_IS_C_CONTIGUOUS(chunks) || ps < 8) {
        PyErr_SetString(PyExc_ValueError, "scan: chunks must be a contiguous int64 (n, 3) array, page size >= 8");
        goto out;
    }
    if (!codec_ready(codec)) {
        PyErr_SetString(PyExc_RuntimeError, "scan: codec library not available");
        goto out;
    }
    npy_intp n = PyArray_DIM(chunks, 0);
    const int64_t *t = (const int64_t *)PyArray_DATA(chunks);
    int64_t total = 0, biggest = 0;
    for (npy_intp k = 0; k < n; k++) {
        if (t[3 * k] < 0 || t[3 * k + 1] < 0 || t[3 * k + 2] < 0 ||
            t[3 * k] + t[3 * k + 1] > (int64_t)src.len) {
            PyErr_Format(PyExc_ValueError, "scan: chunk %zd lies outside the data", (Py_ssize_t)k);
            goto out;
        }
        /* (the readers refuse chunks of more than 2^28 bytes: ringbuffer._chunk_table) */
        if (t[3 * k + 2] > ((int64_t)1 << 31)) {
            PyErr_Format(PyExc_ValueError, "scan: chunk %zd of an implausible size", (Py_ssize_t)k);
            goto out;
        }
        total += t[3 * k + 2];
        if (t[3 * k + 2] > biggest)
            biggest = t[3 * k + 2];
    }
    npy_intp dims[2] = {(npy_intp)(total / ps), 8};
    heads = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_UINT8);
    scratch = malloc(biggest > 0 ? (size_t)biggest : 1);
    if (!heads || !scratch) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto out;
    }
    if (codec == CODEC_ZSTD && !(dctx = zstd.create())) {
        PyErr_NoMemory();
        goto out;
    }
    unsigned char *h = (unsigned char *)PyArray_DATA(heads);
    npy_intp nh = 0;
    npy_intp done = 0, kept = 0;
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *in = (const unsigned char *)src.buf;
    unsigned char *out = (unsigned char *)sink.buf;
    int64_t pos = 0;   /* blob offset of this chunk's first byte (from the piece's start) */
    int64_t head = 0;  /* blob offset of the next page head */
    int64_t mark = -1; /* data offset from which the compressed bytes read are still mapped */
    for (npy_intp k = 0; k < n; k++) {
        int64_t fo = t[3 * k], cs = t[3 * k + 1], us = t[3 * k + 2];
        if (drop_every > 0) {
            if (mark < 0)
                mark = fo;
            else if (fo + cs - mark >= drop_every) {
                drop_pages(in, (size_t)src.len, mark - fault_around, fo + cs + fault_around);
                mark = -1;
            }
        }
        int keep = kept == k && pos + us <= (int64_t)sink.len;
        unsigned char *dst = keep ? out + pos : scratch;
        if (inflate_one(codec, dctx, dst, (size_t)us, in + fo, (size_t)cs))
            break;
        /* the page heads whose bytes end in this chunk (one begun in the chunk before took its
         * first bytes from there: kept chunks lie in sink, a scratch chunk's last bytes were
         * copied into the head as it was read) */
        while (head + 8 <= pos + us && nh < dims[0]) {
            unsigned char *hd = h + 8 * nh;
            for (int64_t b = head; b < head + 8; b++)
                if (b >= pos)
                    hd[b - head] = dst[b - pos];
            nh++;
            head += ps;
        }
        if (head < pos + us && nh < dims[0]) {
            /* the next head begins here and ends in a later chunk: its first bytes now */
            unsigned char *hd = h + 8 * nh;
            for (int64_t b = head > pos ? head : pos; b < pos + us; b++)
                hd[b - head] = dst[b - pos];
        }
        if (keep)
            kept++;
        pos += us;
        done++;
    }
    if (drop_every > 0 && mark >= 0 && done)
        drop_pages(in, (size_t)src.len, mark - fault_around,
                   t[3 * (done - 1)] + t[3 * (done - 1) + 1] + fault_around);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("nnO", (Py_ssize_t)done, (Py_ssize_t)kept, (PyObject *)heads);
out:
    if (dctx)
        zstd.release(dctx);
    free(scratch);
    Py_XDECREF(heads);
    PyBuffer_Release(&src);
    PyBuffer_Release(&sink);
    return result;
}

static PyMethodDef methods[] = {
    {"available", py_available, METH_VARARGS,
     "available(codec) -> the codec's library could be opened (1: zstd, 2: zlib)"},
    {"scan", py_scan, METH_VARARGS,
     "scan(codec, data, chunks, sink, page_size, drop_every, fault_around) -> (read, kept, heads)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "inflate",
                                       "Compressed trace.dat data chunks decompressed in C.", -1,
                                       methods};

PyMODINIT_FUNC PyInit_inflate(void)
{
    import_array();
    return PyModule_Create(&moduledef);
}
