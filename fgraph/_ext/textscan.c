/*
 * textscan.c -- one-pass scanner of the common kernel function_graph text lines
 * (wrapper: fgraph/parsers/_textscan.py; used by fgraph/parsers/ftrace_text.py).
 *
 * Why C: the numpy fast path cut every line with a dozen whole-array operations per column
 * (about 1 us per line); a byte loop reads a line in one pass over its ~90 bytes.
 *
 * Exactness.  The reference is the regex path (ftrace_text.PROLOGUE_RX, then
 * _textlines.GRAPH_TEXT_RX and the tail regex of build_event_table).  This loop walks the
 * prologue the way RE2 resolves that regex: each optional group, in order, is taken if it can
 * match at the current position (the rest of the regex always matches, so leftmost-first
 * priority decides every group locally), with each group's own greedy/lazy choices spelled
 * out below.  A line is accepted only when every part it contains is one this loop can read
 * with certainty; anything else (comments, banners, arrows, return values, arguments, trailing
 * blanks, odd bytes in names, numbers wider than their columns, ...) gets status 0 and is read
 * by the regex path, exactly as before.
 *
 * Column formats (kernel/trace/trace_functions_graph.c): print_graph_abs_time() "%5lu.%06lu |  ",
 * print_graph_cpu() " %*d) ", print_graph_proc() "comm-pid" centred then " | ",
 * print_graph_lat_fmt() / trace_print_lat_fmt() then " | ", print_graph_duration() mark, ' ',
 * number " us" padded, "|  "; then the indent (2 columns per depth) and
 * print_graph_entry_leaf() "f();", print_graph_entry_nested() "f() {", print_graph_return()
 * "}" or "} / * f * /".
 *
 * Names (function, module, comm) are interned per call in a hash table keyed by their bytes
 * (compared in full, so no collision can merge two names); the caller decodes each distinct
 * name once.  No recursion; the GIL is released for the loop, so two threads can scan two
 * halves of the lines.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* line kinds (fgraph/parsers/_textlines.py L_*) */
#define L_ENTRY 1
#define L_EXIT 2
#define L_LEAF 3
#define L_EVENT 4
#define L_IGNORED 9

/* status bits */
#define ST_OK 0x01
#define ST_PROC 0x02
#define ST_LAT 0x04
#define ST_DUR 0x08
#define ST_TAIL 0x10

typedef struct {
    const uint8_t *buf;
    int64_t *start;
    int32_t *len;
    uint64_t *hash;
    int64_t n, cap;
    int32_t *slot; /* open addressing: index+1, 0 = empty */
    int64_t nslot;
} Intern;

static int intern_init(Intern *t, const uint8_t *buf)
{
    memset(t, 0, sizeof(*t));
    t->buf = buf;
    t->cap = 256;
    t->nslot = 1024;
    t->start = malloc(t->cap * sizeof(int64_t));
    t->len = malloc(t->cap * sizeof(int32_t));
    t->hash = malloc(t->cap * sizeof(uint64_t));
    t->slot = calloc(t->nslot, sizeof(int32_t));
    return t->start && t->len && t->hash && t->slot;
}

static void intern_free(Intern *t)
{
    free(t->start);
    free(t->len);
    free(t->hash);
    free(t->slot);
}

/* hash of the short byte string buf[s, s+n), 8 bytes at a time (names are ~5-40 bytes; a
 * byte-at-a-time FNV-1a was a fifth of the scan).  The last partial word is loaded as the 8
 * bytes ending at the span's end, shifted (the bytes before it are in the buffer too), since a
 * byte-wise copy into a word stalls the load that follows it. */
static inline uint64_t hash_span(const uint8_t *buf, int64_t s, int64_t n)
{
    const uint8_t *p = buf + s;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    int64_t m = n;
    for (; m >= 8; p += 8, m -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (m > 0) {
        uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (s + n >= 8) {
            memcpy(&w, buf + s + n - 8, 8);
            w >>= (8 - m) * 8;
        } else
#endif
            for (int64_t k = 0; k < m; k++)
                w |= (uint64_t)p[k] << (8 * k);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 32;
    }
    return h ^ (h >> 29);
}

static inline int same_bytes(const uint8_t *a, const uint8_t *b, int64_t n)
{
    if (n >= 8) {
        uint64_t x, y;
        for (int64_t k = 0; k + 8 <= n; k += 8) {
            memcpy(&x, a + k, 8);
            memcpy(&y, b + k, 8);
            if (x != y)
                return 0;
        }
        memcpy(&x, a + n - 8, 8); /* the rest, overlapping the last word compared */
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    for (; n > 0; a++, b++, n--)
        if (*a != *b)
            return 0;
    return 1;
}

/* id of the byte span [s, s+n) (new ids in order of first appearance); -2 on memory failure */
static int32_t intern(Intern *t, int64_t s, int64_t n)
{
    uint64_t h = hash_span(t->buf, s, n);
    int64_t mask = t->nslot - 1;
    int64_t k = (int64_t)(h & (uint64_t)mask);
    for (;;) {
        int32_t v = t->slot[k];
        if (v == 0)
            break;
        int32_t id = v - 1;
        if (t->hash[id] == h && t->len[id] == n && same_bytes(t->buf + t->start[id], t->buf + s, n))
            return id;
        k = (k + 1) & mask;
    }
    if (t->n == t->cap) {
        int64_t nc = t->cap * 2;
        int64_t *a = realloc(t->start, nc * sizeof(int64_t));
        if (!a)
            return -2;
        t->start = a;
        int32_t *b = realloc(t->len, nc * sizeof(int32_t));
        if (!b)
            return -2;
        t->len = b;
        uint64_t *c = realloc(t->hash, nc * sizeof(uint64_t));
        if (!c)
            return -2;
        t->hash = c;
        t->cap = nc;
    }
    int32_t id = (int32_t)t->n++;
    t->start[id] = s;
    t->len[id] = (int32_t)n;
    t->hash[id] = h;
    t->slot[k] = id + 1;
    if (t->n * 2 > t->nslot) { /* grow and rehash */
        int64_t ns = t->nslot * 2;
        int32_t *sl = calloc(ns, sizeof(int32_t));
        if (!sl)
            return -2;
        for (int64_t i = 0; i < t->n; i++) {
            int64_t j = (int64_t)(t->hash[i] & (uint64_t)(ns - 1));
            while (sl[j])
                j = (j + 1) & (ns - 1);
            sl[j] = (int32_t)i + 1;
        }
        free(t->slot);
        t->slot = sl;
        t->nslot = ns;
    }
    return id;
}

/* byte classes */
static uint8_t C_DIGIT[256], C_NAME[256], C_LAT[256], C_MARK[256], C_COMM[256], C_INST[256];

static void init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        C_DIGIT[c] = c >= '0' && c <= '9';
        /* PROLOGUE_RX latency group: [.a-zA-Z0-9]{4,6} */
        C_LAT[c] = alnum || c == '.';
        /* overhead marks of print_graph_duration() / trace_find_mark() */
        C_MARK[c] = c == '+' || c == '!' || c == '#' || c == '*' || c == '@' || c == '$';
        /* characters of symbol and module names this scanner reads itself: everything %ps
         * prints for kernel symbols (identifiers, ".isra.0", "0xffff..."), and nothing any of
         * the regexes treats specially (whitespace ( ) [ ] { } / = * ; ...): a name with
         * anything else goes to the regex path */
        C_NAME[c] = alnum || c == '_' || c == '.' || c == '$' || c == '-' || c == ':' ||
                    c == '@' || c == '+' || c == '~' || c == '%' || c == '#' || c == '&' ||
                    c == '!' || c == '?';
        /* comm: printable ASCII and space (trimmed like Arrow's utf8_trim_whitespace) */
        C_COMM[c] = c >= 0x20 && c <= 0x7e && c != '|';
        /* report_text.RECORD_RX instance name: [\w.-] */
        C_INST[c] = alnum || c == '_' || c == '.' || c == '-';
    }
}

typedef struct {
    uint8_t *status;
    int8_t *kind;
    int64_t *ts;
    int16_t *cpu;
    int32_t *pid;
    int32_t *comm;
    int32_t *lat;
    int32_t *depth;
    int64_t *dur;
    int16_t *res; /* duration resolution in ns: 1, 10, 100 or 1000 */
    int32_t *func;
    int32_t *module;
    int32_t *event; /* report lines: the event name (NULL for kernel text) */
    int8_t *tsdig;  /* report lines: digits of the timestamp's fraction */
} Out;

static const int64_t POW10[] = {1,      10,      100,      1000,      10000,
                                100000, 1000000, 10000000, 100000000, 1000000000};

/* first byte at or after q (before e) that is not a space; 8 bytes at a time, since the
 * indent of a deep call is tens of spaces (a byte loop over it was a tenth of the scan) */
static inline int64_t skip_spaces(const uint8_t *b, int64_t q, int64_t e)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; q + 8 <= e; q += 8) {
        uint64_t w;
        memcpy(&w, b + q, 8);
        w ^= 0x2020202020202020ULL;
        if (w)
            return q + (__builtin_ctzll(w) >> 3);
    }
#endif
    while (q < e && b[q] == ' ')
        q++;
    return q;
}

/* "SEC.FRAC" (digits [s0, s1) and [f0, f1), at most 9 each) in ns, as frac_to_ns() */
static int64_t stamp_ns(const uint8_t *b, int64_t s0, int64_t s1, int64_t f0, int64_t f1)
{
    int64_t sec = 0, fr = 0;
    for (int64_t k = s0; k < s1; k++)
        sec = sec * 10 + (b[k] - '0');
    for (int64_t k = f0; k < f1; k++)
        fr = fr * 10 + (b[k] - '0');
    return sec * 1000000000LL + fr * POW10[9 - (f1 - f0)];
}

/* "NUM us" at q, NUM as duration_ns() reads it (\d+(?:\.\d+)?): sets dur (ns) and res
 * (its resolution) and returns the position after "us"; -1: none there; -2: NUM is wider
 * than duration_ns() reads exactly (<= 12 integer and <= 3 fraction digits) */
static int64_t read_dur(const uint8_t *b, int64_t q, int64_t e, int64_t *dur, int64_t *res)
{
    int64_t d0 = q;
    while (q < e && C_DIGIT[b[q]])
        q++;
    if (q == d0)
        return -1;
    int64_t d1 = q, f0 = q, f1 = q;
    if (q + 1 < e && b[q] == '.' && C_DIGIT[b[q + 1]]) {
        f0 = q + 1;
        f1 = f0;
        while (f1 < e && C_DIGIT[b[f1]])
            f1++;
        q = f1;
    }
    if (!(q + 3 <= e && b[q] == ' ' && b[q + 1] == 'u' && b[q + 2] == 's'))
        return -1;
    if (d1 - d0 > 12 || f1 - f0 > 3)
        return -2;
    int64_t v = 0, fr = 0;
    for (int64_t k = d0; k < d1; k++)
        v = v * 10 + (b[k] - '0');
    for (int64_t k = f0; k < f1; k++)
        fr = fr * 10 + (b[k] - '0');
    *res = POW10[3 - (f1 - f0)];
    *dur = v * 1000 + fr * *res;
    return q + 3;
}

/* "NAME" or "NAME [MOD]" in [s, e): sets the spans; 0 if it is anything else */
static int name_mod(const uint8_t *b, int64_t s, int64_t e, int64_t *ne, int64_t *ms, int64_t *me)
{
    int64_t q = s;
    while (q < e && C_NAME[b[q]])
        q++;
    if (q == s)
        return 0;
    *ne = q;
    *ms = *me = -1;
    if (q == e)
        return 1;
    /* " [MOD]" to the end */
    if (e - q < 4 || b[q] != ' ' || b[q + 1] != '[' || b[e - 1] != ']')
        return 0;
    int64_t m = q + 2;
    while (m < e - 1 && C_NAME[b[m]])
        m++;
    if (m != e - 1 || m == q + 2)
        return 0;
    *ms = q + 2;
    *me = e - 1;
    return 1;
}

/* one line [s, e) (e after the newline is cut); returns 0 to leave it to the regexes */
/* a growable int64 vector */
typedef struct {
    int64_t *o;
    int64_t n, cap;
} Offs;

static int offs_push(Offs *v, int64_t x)
{
    if (v->n == v->cap) {
        int64_t cap = v->cap ? v->cap * 2 : 1024;
        int64_t *o = realloc(v->o, (size_t)cap * sizeof(int64_t));
        if (!o)
            return 0;
        v->o = o;
        v->cap = cap;
    }
    v->o[v->n++] = x;
    return 1;
}

/* Lines that give no row and that the regex path marks L_IGNORED: blank lines (spaces, tabs,
 * a "\r"; what utf8_trim_whitespace() empties) and the dash lines around a context-switch
 * banner (print_graph_proc() banner in trace_functions_graph.c: " ----...----"; GRAPH_TEXT_RX
 * "-{20,} *\r?$" after the indent).  Depth is the indent / 2, as the regex path sets it. */
static int ignored_line(const uint8_t *b, int64_t s, int64_t e, Out *o, int64_t i)
{
    int64_t q = s;
    while (q < e && b[q] == ' ')
        q++;
    int64_t ind = q - s, r = q;
    while (r < e && (b[r] == ' ' || b[r] == '\t' || b[r] == '\r'))
        r++;
    if (r < e) { /* not blank: a dash line? */
        r = q;
        while (r < e && b[r] == '-')
            r++;
        if (r - q < 20)
            return 0;
        while (r < e && b[r] == ' ')
            r++;
        if (r < e)
            return 0;
    }
    o->status[i] = ST_OK;
    o->kind[i] = L_IGNORED;
    o->ts[i] = -1;
    o->cpu[i] = -1;
    o->pid[i] = -1;
    o->comm[i] = -1;
    o->lat[i] = -1;
    o->depth[i] = (int32_t)(ind / 2);
    o->dur[i] = -1;
    o->res[i] = -1;
    o->func[i] = -1;
    o->module[i] = -1;
    return 1;
}

/* The graph text of a call line at tx (to e): "}" or "} /\* NAME [MOD] *\/" (a return),
 * "NAME [MOD]();" (a leaf: with a duration) or "NAME [MOD]() {" (an entry: without one), as
 * GRAPH_TEXT_RX and the tail regex of build_event_table read them; the name's spans (ns -1:
 * none) and the kind.  0: anything else (the regexes read it). */
static int call_text(const uint8_t *b, int64_t tx, int64_t e, uint8_t *st, int8_t *kind,
                     int64_t *ns, int64_t *ne, int64_t *ms, int64_t *me)
{
    if (b[tx] == '}') {
        if (e - tx == 1) {
            *kind = L_EXIT;
            *ns = -1;
        } else if (e - tx > 8 && b[tx + 1] == ' ' && b[tx + 2] == '/' && b[tx + 3] == '*' &&
                   b[tx + 4] == ' ' && b[e - 3] == ' ' && b[e - 2] == '*' && b[e - 1] == '/') {
            /* "} /\* NAME [MOD] *\/": NAME has no '*', so the lazy tail ends at this " *\/" */
            if (!name_mod(b, tx + 5, e - 3, ne, ms, me))
                return 0;
            *kind = L_EXIT;
            *ns = tx + 5;
            *st |= ST_TAIL;
        } else {
            return 0;
        }
        /* a return prints its duration (or, rarely, the filler); both as the regex path */
        return 1;
    }
    /* "NAME [MOD]();" or "NAME [MOD]() {" to the end of the line.  Usually NAME runs
     * straight into the '(' (no module): then it is read in the same pass. */
    int64_t pp = tx;
    while (pp < e && C_NAME[b[pp]])
        pp++;
    int plain = pp > tx && pp < e && b[pp] == '(';
    if (plain) {
        *ne = pp;
        *ms = *me = -1;
    } else {
        while (pp < e && b[pp] != '(')
            pp++;
    }
    if (pp >= e)
        return 0;
    if (pp + 3 == e && b[pp + 1] == ')' && b[pp + 2] == ';') {
        *kind = L_LEAF;
        if (!(*st & ST_DUR))
            return 0;
    } else if (pp + 4 == e && b[pp + 1] == ')' && b[pp + 2] == ' ' && b[pp + 3] == '{') {
        *kind = L_ENTRY;
        if (*st & ST_DUR)
            return 0;
    } else {
        return 0;
    }
    if (!plain && !name_mod(b, tx, pp, ne, ms, me))
        return 0;
    *ns = tx;
    return 1;
}

/* A line's prologue values, written with its names by put_row */
typedef struct {
    uint8_t st;
    int8_t kind;
    int64_t ts, dur, res;
    int32_t cpu, pid, comm, lat, depth;
} RowVals;

/* Write line i's columns: its values and its function and module (spans from call_text, ns
 * -1: none), interned.  1, or -1 when out of memory. */
static int put_row(Out *o, int64_t i, Intern *names, const RowVals *v, int64_t ns, int64_t ne,
                   int64_t ms, int64_t me)
{
    int32_t func = -1, mod = -1;
    if (ns >= 0) {
        func = intern(names, ns, ne - ns);
        if (func < 0)
            return -1;
        if (ms >= 0) {
            mod = intern(names, ms, me - ms);
            if (mod < 0)
                return -1;
        }
    }
    o->status[i] = v->st;
    o->kind[i] = v->kind;
    o->ts[i] = v->ts;
    o->cpu[i] = (int16_t)v->cpu;
    o->pid[i] = v->pid;
    o->comm[i] = v->comm;
    o->lat[i] = v->lat;
    o->depth[i] = v->depth;
    o->dur[i] = v->dur;
    o->res[i] = (int16_t)v->res;
    o->func[i] = func;
    o->module[i] = mod;
    return 1;
}

/* the proc field of the last line whose proc column was read, and what it gave */
typedef struct {
    int64_t s, n;
    int32_t pid, comm;
} ProcCache;

static int scan_line(const uint8_t *b, int64_t s, int64_t e, Out *o, int64_t i, Intern *names,
                     Intern *lats, Offs *cmts, ProcCache *pc)
{
    int64_t p = s, q;
    uint8_t st = ST_OK;
    int64_t ts = -1, dur = -1, res = -1;
    int32_t cpu = -1, pid = -1, comm = -1, lat = -1;

    /* a line that is blank or starts like a dash line (after spaces): see ignored_line() */
    q = p;
    while (q < e && b[q] == ' ')
        q++;
    if ((q == e || b[q] == '-' || b[q] == '\t' || b[q] == '\r') && ignored_line(b, s, e, o, i))
        return 1;

    /* abstime: " *(\d+)\.(\d+) \|  " */
    q = p;
    while (q < e && b[q] == ' ')
        q++;
    /* a line starting with '#' may be a header line to the regex path (L_IGNORED) */
    if (q < e && b[q] == '#')
        return 0;
    {
        int64_t d0 = q;
        while (q < e && C_DIGIT[b[q]])
            q++;
        if (q > d0 && q < e && b[q] == '.') {
            int64_t f0 = q + 1, f1 = f0;
            while (f1 < e && C_DIGIT[b[f1]])
                f1++;
            if (f1 > f0 && f1 + 4 <= e && b[f1] == ' ' && b[f1 + 1] == '|' && b[f1 + 2] == ' ' &&
                b[f1 + 3] == ' ') {
                /* frac_to_ns() exactly for up to 9+9 digits; wider: regex path */
                if (q - d0 > 9 || f1 - f0 > 9)
                    return 0;
                ts = stamp_ns(b, d0, q, f0, f1);
                p = f1 + 4;
            }
        }
    }
    /* cpu: " *(\d+)\) " */
    q = p;
    while (q < e && b[q] == ' ')
        q++;
    {
        int64_t d0 = q;
        while (q < e && C_DIGIT[b[q]])
            q++;
        if (q > d0 && q + 2 <= e && b[q] == ')' && b[q + 1] == ' ') {
            if (q - d0 > 5)
                return 0;
            int32_t v = 0;
            for (int64_t k = d0; k < q; k++)
                v = v * 10 + (b[k] - '0');
            if (v > 32767)
                return 0; /* the regex path counts it as not understood */
            cpu = v;
            p = q + 2;
        }
    }
    /* proc: " *([^ |][^|]*?)-(\d+) *\| "  -- the field runs to the first bar; the lazy comm
     * ends at the only '-' followed by digits, spaces and that bar, i.e. the last '-' */
    q = p;
    while (q < e && b[q] == ' ')
        q++;
    if (q < e && b[q] != '|') {
        int64_t bar = q + 1;
        while (bar < e && b[bar] != '|')
            bar++;
        if (bar + 1 < e && b[bar + 1] == ' ' && pc->n == bar - q &&
            same_bytes(b + pc->s, b + q, pc->n)) {
            /* the same field as the last line read (runs of lines of one task): same result */
            pid = pc->pid;
            comm = pc->comm;
            st |= ST_PROC;
            p = bar + 2;
        } else if (bar + 1 < e && b[bar + 1] == ' ') {
            int64_t x = bar;
            while (x > q + 1 && b[x - 1] == ' ')
                x--;
            int64_t pe = x;
            while (x > q + 1 && C_DIGIT[b[x - 1]])
                x--;
            if (x < pe && b[x - 1] == '-' && x - 1 > q) {
                /* group matched; read it or give the line up */
                int64_t ce = x - 1;
                for (int64_t k = q; k < ce; k++)
                    if (!C_COMM[b[k]])
                        return 0;
                while (ce > q && b[ce - 1] == ' ')
                    ce--;
                if (pe - x > 9)
                    return 0;
                int32_t v = 0;
                for (int64_t k = x; k < pe; k++)
                    v = v * 10 + (b[k] - '0');
                pid = v;
                comm = intern(names, q, ce - q);
                if (comm < 0)
                    return -1;
                st |= ST_PROC;
                pc->s = q;
                pc->n = bar - q;
                pc->pid = pid;
                pc->comm = comm;
                p = bar + 2;
            } else {
                /* the '-' found is not the regex's choice only if an earlier '-' could be:
                 * impossible (digits and spaces follow it), so the group does not match */
            }
        }
    }
    /* latency: " ([.a-zA-Z0-9]{4,6}) \| " */
    if (p < e && b[p] == ' ') {
        q = p + 1;
        while (q < e && C_LAT[b[q]])
            q++;
        int64_t n = q - (p + 1);
        if (n >= 4 && n <= 6 && q + 3 <= e && b[q] == ' ' && b[q + 1] == '|' && b[q + 2] == ' ') {
            lat = intern(lats, p + 1, n);
            if (lat < 0)
                return -1;
            st |= ST_LAT;
            p = q + 3;
        }
    }
    /* duration: "(?:[+!#*@$]| ) (?: *(\d+(?:\.\d+)?) us *| +)\|  " -- required here */
    if (p + 2 > e || !(C_MARK[b[p]] || b[p] == ' ') || b[p + 1] != ' ')
        return 0;
    {
        int mark = b[p] != ' ';
        int64_t q0 = p + 2;
        int got = 0;
        q = q0;
        while (q < e && b[q] == ' ')
            q++;
        /* (a number not followed by " us" and the bar, or too wide: the filler below fails
         * on its digits, so the line goes to the regexes either way) */
        int64_t z = read_dur(b, q, e, &dur, &res);
        if (z == -2)
            return 0;
        if (z >= 0) {
            q = z;
            while (q < e && b[q] == ' ')
                q++;
            if (q + 3 > e || b[q] != '|' || b[q + 1] != ' ' || b[q + 2] != ' ')
                return 0;
            st |= ST_DUR;
            got = 1;
            p = q + 3;
        }
        if (!got) {
            /* filler " +\|  "; a '#' mark with the filler would make a '#' header line of a
             * capture without CPU column (ignored by the regex path): not read here */
            if (mark)
                return 0;
            q = q0;
            while (q < e && b[q] == ' ')
                q++;
            if (q == q0 || q + 3 > e || b[q] != '|' || b[q + 1] != ' ' || b[q + 2] != ' ')
                return 0;
            p = q + 3;
        }
    }
    /* indent and graph text */
    q = skip_spaces(b, p, e);
    int64_t tx = q;
    if (tx >= e)
        return 0;
    int32_t depth = (int32_t)((tx - p) / 2);
    int8_t kind;
    int64_t ns, ne, ms, me;
    if (b[tx] == '/') {
        /* another event or a trace_printk message as a comment, "/\* TEXT *\/" then blanks
         * (GRAPH_TEXT_RX "/\* (?P<cmt>.*?) \*\/ *\r?$": the lazy TEXT can only end at the last
         * " *\/", since a '/' follows any earlier one).  Read here when TEXT is printable
         * ASCII, not empty (parse_graph_text() takes an empty one as not understood) and
         * there is no duration; TEXT goes to the caller as (line, start, end). */
        int64_t ee = e;
        while (ee > tx && b[ee - 1] == ' ')
            ee--;
        if (st & ST_DUR || ee - tx < 7 || b[tx + 1] != '*' || b[tx + 2] != ' ' ||
            b[ee - 3] != ' ' || b[ee - 2] != '*' || b[ee - 1] != '/')
            return 0;
        for (int64_t k = tx + 3; k < ee - 3; k++)
            if (b[k] < 0x20 || b[k] > 0x7e)
                return 0;
        if (!offs_push(cmts, i) || !offs_push(cmts, tx + 3) || !offs_push(cmts, ee - 3))
            return -1;
        kind = L_EVENT;
        ns = -1;
    } else if (!call_text(b, tx, e, &st, &kind, &ns, &ne, &ms, &me)) {
        return 0;
    }
    RowVals v = {st, kind, ts, dur, res, cpu, pid, comm, lat, depth};
    return put_row(o, i, names, &v, ns, ne, ms, me);
}

/* ---- trace-cmd report lines ----------------------------------------------------------------
 *
 * The funcgraph_entry / funcgraph_exit records of `trace-cmd report` (fgraph/parsers/
 * report_text.py; trace-cmd tracecmd/trace-read.c prints "comm-pid [cpu] [lat] sec.frac: event: ",
 * lib/trace-cmd/trace-ftrace.c the graph text after it):
 *
 *     "      sh-111   [000]     9.776902: funcgraph_entry:                   |  mutex_unlock() {"
 *     "      sh-153   [001]     9.777703: funcgraph_exit:         1.048 us   |      }"
 *
 * The reference is the regex path: RECORD_RX, then FGRAPH_RX on its "rest", then the graph
 * text as for kernel text (call_text).  RECORD_RX's lazy comm ends at the first '-' from which
 * the rest of the regex matches; this loop takes the first '-' followed by digits and a space
 * and reads the line from there only if everything after it is what it knows, else leaves the
 * line to the regexes (an earlier '-' cannot be the regex's choice: "-\d+ +" does not match
 * there).  After "[cpu]" the optional " lat" ([.a-zA-Z0-9]{4,8}) is taken exactly when such a
 * run is followed by a space (a longer run or none: the regex's backtracking drops the group,
 * and the timestamp must follow the spaces); report -l glues the latency columns to a CPU
 * without brackets.  Instance-prefixed lines, "(+delta)" columns, other events, CRs and wide
 * numbers go to the regexes. */
/* the end of one or more spaces at q; -1 when there is none */
static inline int64_t after_spaces(const uint8_t *b, int64_t q, int64_t e)
{
    int64_t r = skip_spaces(b, q, e);
    return r > q ? r : -1;
}

static int scan_report_line(const uint8_t *b, int64_t s, int64_t e, Out *o, int64_t i,
                            Intern *names, Intern *lats)
{
    int64_t p = s, q;
    uint8_t st = ST_OK | ST_PROC;
    int32_t lat = -1;
    if (e > s && b[e - 1] == '\r')
        return 0;
    if (p < e && b[p] != ' ') {
        /* "NAME: " at the start would be an instance name (RECORD_RX's first group) */
        q = p;
        while (q < e && C_INST[b[q]])
            q++;
        if (q > p && q + 1 < e && b[q] == ':' && b[q + 1] == ' ')
            return 0;
    }
    while (p < e && b[p] == ' ')
        p++;
    int64_t c0 = p, x = -1, d = -1;
    for (q = c0; q < e; q++) {
        if (b[q] != '-')
            continue;
        d = q + 1;
        while (d < e && C_DIGIT[b[d]])
            d++;
        if (d > q + 1 && d < e && b[d] == ' ') {
            x = q;
            break;
        }
    }
    if (x <= c0 || d - (x + 1) > 9)
        return 0;
    int64_t ce = x;
    for (int64_t k = c0; k < ce; k++)
        if (!C_COMM[b[k]])
            return 0;
    while (ce > c0 && b[ce - 1] == ' ')
        ce--;
    int32_t pid = 0;
    for (int64_t k = x + 1; k < d; k++)
        pid = pid * 10 + (b[k] - '0');
    /* " +\[(\d+)\]", or (report -l) " +(\d+)([.a-zA-Z][.a-zA-Z0-9]{3,7})" */
    q = d;
    while (q < e && b[q] == ' ')
        q++;
    int bracket = q < e && b[q] == '[';
    if (bracket)
        q++;
    int64_t d0 = q;
    while (q < e && C_DIGIT[b[q]])
        q++;
    if (q == d0 || q - d0 > 5 || q >= e || (bracket && b[q] != ']'))
        return 0;
    int32_t cpu = 0;
    for (int64_t k = d0; k < q; k++)
        cpu = cpu * 10 + (b[k] - '0');
    if (cpu > 32767)
        return 0;
    p = q + 1;
    if (!bracket) {
        /* the latency columns glued to the CPU: the digits end the CPU, so the first is not
         * a digit; the run must end in a space (a longer one: no shorter choice does) */
        if (!(C_LAT[b[q]] && !C_DIGIT[b[q]]))
            return 0;
        int64_t l0 = q;
        q++;
        while (q < e && C_LAT[b[q]])
            q++;
        if (q - l0 < 4 || q - l0 > 8 || q >= e || b[q] != ' ')
            return 0;
        lat = intern(lats, l0, q - l0);
        if (lat < 0)
            return -1;
        st |= ST_LAT;
        p = q;
    } else if (p < e && b[p] == ' ') {
        /* "(?: ([.a-zA-Z0-9]{4,8}))?" */
        q = p + 1;
        while (q < e && C_LAT[b[q]])
            q++;
        int64_t n = q - (p + 1);
        if (n >= 4 && n <= 8 && q < e && b[q] == ' ') {
            lat = intern(lats, p + 1, n);
            if (lat < 0)
                return -1;
            st |= ST_LAT;
            p = q;
        }
    }
    /* " +(\d+)\.(\d+):" */
    if ((q = after_spaces(b, p, e)) < 0)
        return 0;
    int64_t t0 = q;
    while (q < e && C_DIGIT[b[q]])
        q++;
    int64_t t1 = q;
    if (t1 == t0 || t1 - t0 > 9 || q >= e || b[q] != '.')
        return 0;
    int64_t f0 = ++q;
    while (q < e && C_DIGIT[b[q]])
        q++;
    int64_t f1 = q;
    if (f1 == f0 || f1 - f0 > 9 || q >= e || b[q] != ':')
        return 0;
    int64_t ts = stamp_ns(b, t0, t1, f0, f1);
    /* " +(funcgraph_entry|funcgraph_exit): *" (no "(+delta)" column) */
    if ((q = after_spaces(b, q + 1, e)) < 0)
        return 0;
    int64_t v0 = q;
    while (q < e && (C_INST[b[q]] && b[q] != '.' && b[q] != '-'))
        q++;
    int64_t vn = q - v0;
    if (q >= e || b[q] != ':')
        return 0;
    if (!((vn == 15 && memcmp(b + v0, "funcgraph_entry", 15) == 0) ||
          (vn == 14 && memcmp(b + v0, "funcgraph_exit", 14) == 0)))
        return 0;
    p = q + 1;
    while (p < e && b[p] == ' ')
        p++;
    /* FGRAPH_RX: "(?:([+!#*@$]) +)?(?:(\d+(?:\.\d+)?) us *)?\|  ( *)(.*)" */
    int64_t dur = -1, res = -1;
    if (p < e && C_MARK[b[p]]) {
        q = p + 1;
        while (q < e && b[q] == ' ')
            q++;
        if (q == p + 1)
            return 0;
        p = q;
    }
    if (p < e && C_DIGIT[b[p]]) {
        q = read_dur(b, p, e, &dur, &res);
        if (q < 0)
            return 0;
        st |= ST_DUR;
        while (q < e && b[q] == ' ')
            q++;
        p = q;
    }
    if (!(p + 3 <= e && b[p] == '|' && b[p + 1] == ' ' && b[p + 2] == ' '))
        return 0;
    p += 3;
    int64_t tx = skip_spaces(b, p, e);
    if (tx >= e)
        return 0;
    int8_t kind;
    int64_t ns, ne, ms, me;
    if (!call_text(b, tx, e, &st, &kind, &ns, &ne, &ms, &me))
        return 0;
    int32_t comm = intern(names, c0, ce - c0);
    int32_t ev = intern(names, v0, vn);
    if (comm < 0 || ev < 0)
        return -1;
    RowVals v = {st, kind, ts, dur, res, cpu, pid, comm, lat, (int32_t)((tx - p) / 2)};
    if (put_row(o, i, names, &v, ns, ne, ms, me) < 0)
        return -1;
    o->event[i] = ev;
    o->tsdig[i] = (int8_t)(f1 - f0);
    return 1;
}

static PyObject *spans_list(Intern *t)
{
    PyObject *l = PyList_New(t->n);
    if (!l)
        return NULL;
    for (int64_t i = 0; i < t->n; i++) {
        PyObject *s = PyBytes_FromStringAndSize((const char *)t->buf + t->start[i], t->len[i]);
        if (!s) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, s);
    }
    return l;
}

static int check_out(PyObject *a, int typ, npy_intp n, const char *what)
{
    if (!PyArray_Check(a) || PyArray_NDIM((PyArrayObject *)a) != 1 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)a) ||
        !PyArray_ISWRITEABLE((PyArrayObject *)a) || PyArray_TYPE((PyArrayObject *)a) != typ ||
        PyArray_DIM((PyArrayObject *)a, 0) < n) {
        PyErr_Format(PyExc_TypeError, "scan: bad output array %s", what);
        return 0;
    }
    return 1;
}

static PyObject *py_scan(PyObject *self, PyObject *args)
{
    Py_buffer view;
    PyObject *o_starts;
    Py_ssize_t i0, i1;
    PyObject *outs[14], *o_outs;
    if (!PyArg_ParseTuple(args, "y*OnnO!", &view, &o_starts, &i0, &i1, &PyTuple_Type, &o_outs))
        return NULL;
    /* 12 columns: kernel text lines; 14 (with event and tsdig): trace-cmd report lines */
    Py_ssize_t nout = PyTuple_GET_SIZE(o_outs);
    if (nout != 12 && nout != 14) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "scan: 12 or 14 output arrays");
        return NULL;
    }
    int report = nout == 14;
    for (Py_ssize_t k = 0; k < nout; k++)
        outs[k] = PyTuple_GET_ITEM(o_outs, k);
    PyObject *ret = NULL;
    PyArrayObject *starts = NULL;
    Intern names, lats;
    int have_tables = 0;
    starts = (PyArrayObject *)PyArray_FROMANY(o_starts, NPY_INT64, 1, 1, NPY_ARRAY_IN_ARRAY);
    if (!starts)
        goto done;
    npy_intp n = PyArray_DIM(starts, 0);
    if (i0 < 0 || i1 > n || i0 > i1) {
        PyErr_SetString(PyExc_ValueError, "scan: bad line range");
        goto done;
    }
    static const int types[14] = {NPY_UINT8, NPY_INT8,  NPY_INT64, NPY_INT16, NPY_INT32,
                                  NPY_INT32, NPY_INT32, NPY_INT32, NPY_INT64, NPY_INT16,
                                  NPY_INT32, NPY_INT32, NPY_INT32, NPY_INT8};
    static const char *tnames[14] = {"status", "kind", "ts",   "cpu",    "pid",
                                     "comm",   "lat",  "depth", "dur",   "res",
                                     "func",   "module", "event", "tsdig"};
    for (int k = 0; k < nout; k++)
        if (!check_out(outs[k], types[k], n, tnames[k]))
            goto done;
    const uint8_t *b = (const uint8_t *)view.buf;
    const int64_t *ps = (const int64_t *)PyArray_DATA(starts);
    for (npy_intp i = i0; i < i1; i++) {
        int64_t s = ps[i], e = i + 1 < n ? ps[i + 1] : (int64_t)view.len;
        if (s < 0 || e > view.len || s > e) {
            PyErr_SetString(PyExc_ValueError, "scan: line starts out of order or out of range");
            goto done;
        }
    }
    Out o = {
        (uint8_t *)PyArray_DATA((PyArrayObject *)outs[0]),
        (int8_t *)PyArray_DATA((PyArrayObject *)outs[1]),
        (int64_t *)PyArray_DATA((PyArrayObject *)outs[2]),
        (int16_t *)PyArray_DATA((PyArrayObject *)outs[3]),
        (int32_t *)PyArray_DATA((PyArrayObject *)outs[4]),
        (int32_t *)PyArray_DATA((PyArrayObject *)outs[5]),
        (int32_t *)PyArray_DATA((PyArrayObject *)outs[6]),
        (int32_t *)PyArray_DATA((PyArrayObject *)outs[7]),
        (int64_t *)PyArray_DATA((PyArrayObject *)outs[8]),
        (int16_t *)PyArray_DATA((PyArrayObject *)outs[9]),
        (int32_t *)PyArray_DATA((PyArrayObject *)outs[10]),
        (int32_t *)PyArray_DATA((PyArrayObject *)outs[11]),
        report ? (int32_t *)PyArray_DATA((PyArrayObject *)outs[12]) : NULL,
        report ? (int8_t *)PyArray_DATA((PyArrayObject *)outs[13]) : NULL,
    };
    if (!intern_init(&names, b) || !intern_init(&lats, b)) {
        intern_free(&names);
        intern_free(&lats);
        PyErr_NoMemory();
        goto done;
    }
    have_tables = 1;
    int nomem = 0;
    Offs cmts = {NULL, 0, 0};
    ProcCache pc = {0, -1, -1, -1};
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = i0; i < i1; i++) {
        int64_t s = ps[i], e = i + 1 < n ? ps[i + 1] : (int64_t)view.len;
        /* the line without its "\n", then (kernel text) without a "\r" (as _textfast did;
         * RECORD_RX's "rest" keeps it: a report line with one is the regexes') */
        if (e > s && b[e - 1] == '\n')
            e--;
        int r;
        if (report) {
            r = scan_report_line(b, s, e, &o, i, &names, &lats);
        } else {
            if (e > s && b[e - 1] == '\r')
                e--;
            r = scan_line(b, s, e, &o, i, &names, &lats, &cmts, &pc);
        }
        if (r < 0) {
            nomem = 1;
            break;
        }
        if (r == 0) { /* what the caller keeps for a line the regexes will read */
            o.status[i] = 0;
            o.kind[i] = 0; /* L_UNPARSED */
            o.ts[i] = -1;
            o.cpu[i] = -1;
            o.pid[i] = -1;
            o.comm[i] = -1;
            o.lat[i] = -1;
            o.depth[i] = -1;
            o.dur[i] = -1;
            o.res[i] = -1;
            o.func[i] = -1;
            o.module[i] = -1;
            if (report) {
                o.event[i] = -1;
                o.tsdig[i] = 0;
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (nomem) {
        free(cmts.o);
        PyErr_NoMemory();
        goto done;
    }
    {
        npy_intp dims[2] = {(npy_intp)(cmts.n / 3), 3};
        PyObject *ca = PyArray_SimpleNew(2, dims, NPY_INT64);
        if (ca && cmts.n)
            memcpy(PyArray_DATA((PyArrayObject *)ca), cmts.o, (size_t)cmts.n * sizeof(int64_t));
        free(cmts.o);
        PyObject *ln = ca ? spans_list(&names) : NULL;
        PyObject *ll = ln ? spans_list(&lats) : NULL;
        if (ca && ln && ll)
            ret = Py_BuildValue("(NNN)", ln, ll, ca);
        else {
            Py_XDECREF(ca);
            Py_XDECREF(ln);
            Py_XDECREF(ll);
        }
    }
done:
    if (have_tables) {
        intern_free(&names);
        intern_free(&lats);
    }
    Py_XDECREF(starts);
    PyBuffer_Release(&view);
    return ret;
}

/* split(data) -> (offsets, nhigh): offsets[0] = 0 and offsets[k+1] = end of line k (after its
 * "\n"; the last line may lack it), as _textlines.split_lines() computes with numpy, and the
 * number of bytes >= 0x80 (0: the input is ASCII, no UTF-8 check needed).
 *
 * One pass over the input, 16 bytes at a time: the newline positions come from a byte compare
 * and a movemask, the high bytes from the sign bits of the same block.  (A memchr per line plus
 * a separate pass for the high bytes read the input three times: 115 ms for 200 MB of ~90-byte
 * lines, against about 45 ms here.) */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static void free_capsule(PyObject *cap) { free(PyCapsule_GetPointer(cap, NULL)); }

static PyObject *py_split(PyObject *self, PyObject *args)
{
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view))
        return NULL;
    const uint8_t *b = (const uint8_t *)view.buf;
    int64_t len = (int64_t)view.len, nhigh = 0;
    PyObject *ret = NULL;
    Offs v = {NULL, 0, 0};
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    /* room for lines of ~48 bytes, grown if they are shorter */
    v.cap = len / 48 + 1024;
    v.o = malloc((size_t)v.cap * sizeof(int64_t));
    ok = v.o != NULL && offs_push(&v, 0);
    int64_t i = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n');
    for (; ok && i + 16 <= len; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(b + i));
        unsigned hm = (unsigned)_mm_movemask_epi8(x);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, nl));
        if (hm)
            nhigh += __builtin_popcount(hm);
        while (m) {
            int k = __builtin_ctz(m);
            if (!offs_push(&v, i + k + 1)) {
                ok = 0;
                break;
            }
            m &= m - 1;
        }
    }
#endif
    for (; ok && i < len; i++) {
        nhigh += b[i] >= 0x80;
        if (b[i] == '\n' && !offs_push(&v, i + 1))
            ok = 0;
    }
    if (ok && len > 0 && b[len - 1] != '\n')
        ok = offs_push(&v, len);
    Py_END_ALLOW_THREADS
    if (!ok) {
        PyErr_NoMemory();
        goto done;
    }
    {
        /* the array takes the buffer, shrunk to its size, instead of a copy: first-touched
         * memory costs about 1 ms per MB of page faults on the benchmark VM, more than the
         * copy itself */
        int64_t *o = realloc(v.o, (size_t)v.n * sizeof(int64_t));
        if (o)
            v.o = o;
        npy_intp dims[1] = {(npy_intp)v.n};
        PyObject *cap = PyCapsule_New(v.o, NULL, free_capsule);
        if (!cap)
            goto done;
        v.o = NULL; /* the capsule frees it from now on */
        PyArrayObject *offs = (PyArrayObject *)PyArray_SimpleNewFromData(
            1, dims, NPY_INT64, PyCapsule_GetPointer(cap, NULL));
        if (!offs) {
            Py_DECREF(cap);
            goto done;
        }
        if (PyArray_SetBaseObject(offs, cap) < 0) {
            Py_DECREF(offs); /* (the capsule was stolen, even on failure: numpy frees it) */
            goto done;
        }
        ret = Py_BuildValue("(NL)", (PyObject *)offs, (long long)nhigh);
    }
done:
    free(v.o);
    PyBuffer_Release(&view);
    return ret;
}

/* remap(col, i0, i1, table): col[i] = table[col[i]] for i in i0..i1, in place (int32); ids -1
 * map to table[-1] (the 'none' value).  The scanner's names are ids of its own range's table;
 * this turns them into string-pool codes without a temporary column. */
static PyObject *py_remap(PyObject *self, PyObject *args)
{
    PyObject *o_col, *o_tab;
    Py_ssize_t i0, i1;
    if (!PyArg_ParseTuple(args, "OnnO", &o_col, &i0, &i1, &o_tab))
        return NULL;
    if (!check_out(o_col, NPY_INT32, i1, "col"))
        return NULL;
    PyArrayObject *tab =
        (PyArrayObject *)PyArray_FROMANY(o_tab, NPY_INT32, 1, 1, NPY_ARRAY_IN_ARRAY);
    if (!tab)
        return NULL;
    npy_intp nt = PyArray_DIM(tab, 0);
    if (i0 < 0 || i0 > i1 || nt < 1) {
        Py_DECREF(tab);
        PyErr_SetString(PyExc_ValueError, "remap: bad range or empty table");
        return NULL;
    }
    int32_t *c = (int32_t *)PyArray_DATA((PyArrayObject *)o_col);
    const int32_t *t = (const int32_t *)PyArray_DATA(tab);
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = i0; i < i1; i++) {
        int32_t v = c[i];
        if (v < -1 || v >= nt - 1) {
            bad = 1;
            break;
        }
        c[i] = v < 0 ? t[nt - 1] : t[v];
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(tab);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "remap: id outside the table");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- line -> row expansion ----------------------------------------------------------------
 *
 * The per-line results of both text readers become event rows (_textlines.build_event_table):
 * an entry "f() {", a return "}", an event comment and an IRQ arrow give one row, a leaf "f();"
 * two (its entry, then its exit, which gets the duration and, when the line has a timestamp,
 * ts + duration), every other line none.  In numpy that is a repeat and about twenty gathers and
 * masked writes over all rows; here it is one pass over the lines writing each row once.
 */

#define L_ARROW_IN 5
#define L_ARROW_OUT 6

static inline int rows_of(int8_t k)
{
    return k == L_LEAF ? 2 : (k == L_ENTRY || k == L_EXIT || k == L_EVENT || k == L_ARROW_IN ||
                              k == L_ARROW_OUT);
}

/* rowcount(kind, i0, i1) -> number of rows of lines i0..i1 */
static PyObject *py_rowcount(PyObject *self, PyObject *args)
{
    PyObject *o_kind;
    Py_ssize_t i0, i1;
    if (!PyArg_ParseTuple(args, "Onn", &o_kind, &i0, &i1))
        return NULL;
    PyArrayObject *kind =
        (PyArrayObject *)PyArray_FROMANY(o_kind, NPY_INT8, 1, 1, NPY_ARRAY_IN_ARRAY);
    if (!kind)
        return NULL;
    npy_intp n = PyArray_DIM(kind, 0);
    if (i0 < 0 || i1 > n || i0 > i1) {
        Py_DECREF(kind);
        PyErr_SetString(PyExc_ValueError, "rowcount: bad line range");
        return NULL;
    }
    const int8_t *k = (const int8_t *)PyArray_DATA(kind);
    int64_t r = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = i0; i < i1; i++)
        r += rows_of(k[i]);
    Py_END_ALLOW_THREADS
    Py_DECREF(kind);
    return PyLong_FromLongLong((long long)r);
}

enum { X_KIND, X_TS, X_CPU, X_PID, X_COMM, X_FLAGS, X_PREEMPT, X_IRQ, X_DEPTH, X_DUR, X_FUNC,
       X_MODULE, X_TAIL, X_OVERRUN, X_RETVAL, X_RETOK, X_NIN };
enum { Y_TS, Y_CPU, Y_PID, Y_COMM, Y_FLAGS, Y_PREEMPT, Y_IRQ, Y_POS, Y_FUNC, Y_MODULE, Y_DEPTH,
       Y_DUR, Y_OVERRUN, Y_RETVAL, Y_EFLAGS, Y_KIND, Y_EVENT, Y_NOUT };

/* expand(ins, r0, i0, i1, outs, codes): rows of lines i0..i1, from row r0 on (see above).
 *   ins: per line (kind i8, ts i64, cpu i16, pid i32, comm i32, flags i16, preempt i16,
 *        irqctx i8, depth i32, dur i64, func i32, module i32, has_tail bool, overrun i64|None,
 *        retval i64|None, retok bool|None);
 *   outs: per row (ts, cpu, pid, comm, flags, preempt, irqctx, pos, func, module, depth,
 *        duration, overrun, retval, eflags u8, kind i8, event i32), dtypes of schema.EVENT_COLUMNS;
 *        overrun / retval may be None when their inputs are (the caller fills a constant);
 *   codes: (EventKind FG_ENTRY, FG_EXIT, IRQ_ARROW_IN, IRQ_ARROW_OUT, event-name codes of the
 *        same four, EventFlag HAS_RETVAL, TEXT_LEAF, TEXT_TAIL, TS_DERIVED).
 * Event rows get kind 0 and event -1 (the caller names them); pos is the line number (from 1).
 */
static PyObject *py_expand(PyObject *self, PyObject *args)
{
    PyObject *ins, *outs;
    Py_ssize_t r0, i0, i1;
    int K_ENT, K_EXIT, K_AIN, K_AOUT, E_ENT, E_EXIT, E_AIN, E_AOUT, F_RET, F_LEAF, F_TAIL, F_DER;
    if (!PyArg_ParseTuple(args, "O!nnnO!(iiiiiiiiiiii)", &PyTuple_Type, &ins, &r0, &i0, &i1,
                          &PyTuple_Type, &outs, &K_ENT, &K_EXIT, &K_AIN, &K_AOUT, &E_ENT, &E_EXIT,
                          &E_AIN, &E_AOUT, &F_RET, &F_LEAF, &F_TAIL, &F_DER))
        return NULL;
    static const int itypes[X_NIN] = {NPY_INT8,  NPY_INT64, NPY_INT16, NPY_INT32, NPY_INT32,
                                      NPY_INT16, NPY_INT16, NPY_INT8,  NPY_INT32, NPY_INT64,
                                      NPY_INT32, NPY_INT32, NPY_BOOL,  NPY_INT64, NPY_INT64,
                                      NPY_BOOL};
    static const char *inames[X_NIN] = {"kind",  "ts",     "cpu",      "pid",     "comm",
                                        "flags", "preempt", "irqctx",  "depth",   "dur",
                                        "func",  "module", "has_tail", "overrun", "retval",
                                        "retok"};
    static const int otypes[Y_NOUT] = {NPY_INT64, NPY_INT16, NPY_INT32, NPY_INT32, NPY_INT16,
                                       NPY_INT16, NPY_INT8,  NPY_INT64, NPY_INT32, NPY_INT32,
                                       NPY_INT32, NPY_INT64, NPY_INT64, NPY_INT64, NPY_UINT8,
                                       NPY_INT8,  NPY_INT32};
    static const char *onames[Y_NOUT] = {"ts",     "cpu",    "pid",      "comm",    "flags",
                                         "preempt", "irqctx", "pos",     "func",    "module",
                                         "depth",  "duration", "overrun", "retval", "eflags",
                                         "kind",   "event"};
    if (PyTuple_GET_SIZE(ins) != X_NIN || PyTuple_GET_SIZE(outs) != Y_NOUT) {
        PyErr_SetString(PyExc_TypeError, "expand: wrong number of columns");
        return NULL;
    }
    const void *in[X_NIN];
    void *out[Y_NOUT];
    npy_intp n = -1;
    for (int k = 0; k < X_NIN; k++) {
        PyObject *a = PyTuple_GET_ITEM(ins, k);
        if (a == Py_None && k >= X_OVERRUN) {
            in[k] = NULL;
            continue;
        }
        if (!PyArray_Check(a) || PyArray_NDIM((PyArrayObject *)a) != 1 ||
            !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)a) ||
            PyArray_TYPE((PyArrayObject *)a) != itypes[k] ||
            (n >= 0 && PyArray_DIM((PyArrayObject *)a, 0) != n)) {
            PyErr_Format(PyExc_TypeError, "expand: bad input column %s", inames[k]);
            return NULL;
        }
        n = PyArray_DIM((PyArrayObject *)a, 0);
        in[k] = PyArray_DATA((PyArrayObject *)a);
    }
    if (i0 < 0 || i1 > n || i0 > i1 || r0 < 0) {
        PyErr_SetString(PyExc_ValueError, "expand: bad line range");
        return NULL;
    }
    /* every output has the same length: the rows of all lines */
    PyObject *o_ts = PyTuple_GET_ITEM(outs, Y_TS);
    if (!PyArray_Check(o_ts)) {
        PyErr_SetString(PyExc_TypeError, "expand: bad output array ts");
        return NULL;
    }
    npy_intp nrows = PyArray_DIM((PyArrayObject *)o_ts, 0);
    for (int k = 0; k < Y_NOUT; k++) {
        PyObject *a = PyTuple_GET_ITEM(outs, k);
        /* no overrun / return-value column without its input: the caller uses a constant */
        if (a == Py_None && ((k == Y_OVERRUN && !in[X_OVERRUN]) || (k == Y_RETVAL && !in[X_RETVAL]))) {
            out[k] = NULL;
            continue;
        }
        if (!check_out(a, otypes[k], nrows, onames[k]))
            return NULL;
        out[k] = PyArray_DATA((PyArrayObject *)a);
    }
    const int8_t *kind = in[X_KIND];
    const int64_t *ts = in[X_TS], *dur = in[X_DUR], *ovr = in[X_OVERRUN], *ret = in[X_RETVAL];
    const int16_t *cpu = in[X_CPU], *flags = in[X_FLAGS], *pre = in[X_PREEMPT];
    const int32_t *pid = in[X_PID], *comm = in[X_COMM], *depth = in[X_DEPTH], *func = in[X_FUNC],
                  *mod = in[X_MODULE];
    const int8_t *irq = in[X_IRQ];
    const npy_bool *tail = in[X_TAIL], *retok = in[X_RETOK];
    int64_t *yts = out[Y_TS], *ypos = out[Y_POS], *ydur = out[Y_DUR], *yovr = out[Y_OVERRUN],
            *yret = out[Y_RETVAL];
    int16_t *ycpu = out[Y_CPU], *yflags = out[Y_FLAGS], *ypre = out[Y_PREEMPT];
    int32_t *ypid = out[Y_PID], *ycomm = out[Y_COMM], *yfunc = out[Y_FUNC], *ymod = out[Y_MODULE],
            *ydepth = out[Y_DEPTH], *yev = out[Y_EVENT];
    int8_t *yirq = out[Y_IRQ], *ykind = out[Y_KIND];
    uint8_t *yef = out[Y_EFLAGS];
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    int64_t r = r0;
    for (npy_intp i = i0; i < i1; i++) {
        int8_t k = kind[i];
        int nr = rows_of(k);
        if (!nr)
            continue;
        if (r + nr > nrows) {
            bad = 1;
            break;
        }
        int fg = k == L_ENTRY || k == L_EXIT || k == L_LEAF;
        int is_exit = k == L_EXIT;
        int has_ret = ret && retok && retok[i];
        for (int j = 0; j < nr; j++, r++) {
            int ex = is_exit || (k == L_LEAF && j == 1);
            uint8_t ef = k == L_LEAF ? (uint8_t)F_LEAF : 0;
            yts[r] = ts[i];
            ycpu[r] = cpu[i];
            ypid[r] = pid[i];
            ycomm[r] = comm[i];
            yflags[r] = flags[i];
            ypre[r] = pre[i];
            yirq[r] = irq[i];
            ypos[r] = (int64_t)i + 1;
            yfunc[r] = fg ? func[i] : -1;
            ymod[r] = fg ? mod[i] : -1;
            ydepth[r] = fg ? depth[i] : -1;
            ydur[r] = ex ? dur[i] : -1;
            if (yovr)
                yovr[r] = ex && ovr ? ovr[i] : -1;
            if (yret)
                yret[r] = ex && has_ret ? ret[i] : 0;
            if (ex && has_ret)
                ef |= (uint8_t)F_RET;
            if (ex && tail[i])
                ef |= (uint8_t)F_TAIL;
            if (k == L_LEAF && j == 1) {
                /* the leaf's exit: its time is the entry's plus the printed duration */
                if (ts[i] >= 0 && dur[i] >= 0) {
                    yts[r] = ts[i] + dur[i];
                    ef |= (uint8_t)F_DER;
                } else
                    yts[r] = -1;
            }
            yef[r] = ef;
            if (ex) {
                ykind[r] = (int8_t)K_EXIT;
                yev[r] = E_EXIT;
            } else if (fg) {
                ykind[r] = (int8_t)K_ENT;
                yev[r] = E_ENT;
            } else if (k == L_ARROW_IN) {
                ykind[r] = (int8_t)K_AIN;
                yev[r] = E_AIN;
            } else if (k == L_ARROW_OUT) {
                ykind[r] = (int8_t)K_AOUT;
                yev[r] = E_AOUT;
            } else {
                ykind[r] = 0;
                yev[r] = -1;
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "expand: more rows than the output arrays hold");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"split", py_split, METH_VARARGS,
     "split(data) -> (offsets, nhigh): line end offsets (with a leading 0) and the number of"
     " bytes >= 0x80"},
    {"scan", py_scan, METH_VARARGS,
     "scan(data, starts, i0, i1, (status, kind, ts, cpu, pid, comm, lat, depth, dur, res, func,"
     " module[, event, tsdig])) -> (names, lats, comments): reads lines i0..i1 (of kernel text;"
     " with event and tsdig, of trace-cmd report); status 0 = left to the regex path (its"
     " columns hold -1, kind 0); comments: (line, start, end) of each comment text"},
    {"remap", py_remap, METH_VARARGS,
     "remap(col, i0, i1, table): col[i0:i1] = table[col[i0:i1]] in place (int32; -1: last)"},
    {"rowcount", py_rowcount, METH_VARARGS,
     "rowcount(kind, i0, i1) -> number of event rows of lines i0..i1"},
    {"expand", py_expand, METH_VARARGS,
     "expand(ins, r0, i0, i1, outs, codes): event rows of lines i0..i1 from row r0 (see"
     " textscan.c)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "textscan",
                                    "Kernel function_graph text line scanner (see "
                                    "fgraph.parsers._textscan)",
                                    -1, methods};

PyMODINIT_FUNC PyInit_textscan(void)
{
    import_array();
    init_classes();
    return PyModule_Create(&moddef);
}
