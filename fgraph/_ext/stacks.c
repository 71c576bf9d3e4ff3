/*
 * stacks.c -- the per-event stack machine of fgraph's rebuild (fgraph/reconstruct/calls.py).
 *
 * Why C: pairing function_graph entries with exits is inherently sequential (each event
 * depends on the open stack of its task), so it cannot be a whole-array numpy operation.
 * The Python wrapper prepares what is whole-array work (merge order, interrupt context of
 * each event, the gaps, the death marks); feed_rows reads each record's columns in place
 * through the timeline order, derives its machine input (task key with the pid's generation,
 * function key, duration) and walks the events once.
 *
 * Model.  Each task (pid; pid 0 and -1 are keyed by CPU in Python) owns one stack of frames.
 * A frame is either an open call or a *level marker*: an interrupt context (softirq, hardirq,
 * NMI) that arrived on top of the task.  Calls pushed above a marker belong to that context:
 * they form their own trees (parent -1 at the level's roots) and remember the task call that
 * was innermost-open when the interrupt arrived (interrupted_id).  Exits are matched to the
 * nearest open frame with the same function, never by the kernel's depth field; frames above
 * the match are closed as truncated (their exits were lost).  An exit with no matching frame
 * becomes a call with a synthesized entry that adopts the trailing completed calls of its level
 * (the trace opened mid-call: kernel prints these as "} / * func * /").
 *
 * The machine state (all task stacks) persists across feed() calls so a huge trace can be fed
 * in chunks; finish() closes what is still open.  No recursion anywhere: stacks can be
 * thousands of frames deep.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

/* CallFlag bits (fgraph/schema.py) */
#define CF_SYNTH_ENTRY 0x001
#define CF_TRUNCATED 0x002
#define CF_LOST_GAP 0x004
#define CF_DEPTH_MISMATCH 0x008
#define CF_CLOSED_BY_OUTER 0x010
#define CF_HAS_RETVAL 0x020
#define CF_CTX_BY_NAME 0x040
#define CF_MIGRATED 0x100
/* machine-private, cleared by finish(): the call is in a tree prune() keeps (it held a call of a
 * kept function when marked) */
#define CF_KEPT 0x8000

/* event kinds understood by the machine (prepared by calls.py) */
#define EV_ENTRY 1
#define EV_EXIT 2
#define EV_GAP 3

/* per-event bits (prepared by calls.py) */
#define EB_BYNAME 0x01    /* ctx of this event was guessed from a function name */
#define EB_CALLTIME 0x04  /* exit with its own calltime (trace.dat): dur says when it began */
#define EB_CONTAINER 0x02 /* entry of a softirq-running function (handle_softirqs): its
                             unknown-context children run in softirq context */

#define CTX_UNKNOWN (-1)
#define CTX_TASK 0
#define CTX_SOFTIRQ 1
#define CTX_HARDIRQ 2

#define EK_FG_ENTRY 1 /* EventKind (fgraph/schema.py) */
#define EK_FG_EXIT 2
static inline int is_fg(int8_t k) { return k == EK_FG_ENTRY || k == EK_FG_EXIT; }

typedef struct {
    int64_t call;        /* call id, or -1 for a level marker */
    int64_t fkey;        /* function key matched against exits */
    int64_t interrupted; /* marker: innermost open call below it */
    int8_t ctx;          /* context of the level this frame is in (marker: its own) */
    int8_t byname;       /* level opened by a function-name guess */
    int8_t container;
} Frame;

typedef struct {
    int64_t call;
    int32_t owner; /* stack position of the completed call (its parent is at owner-1) */
} Done;

typedef struct {
    int64_t key;
    Frame *st;
    int32_t n, cap;
    Done *done;
    int64_t nd, capd;
    Done *irqs; /* interrupt roots that found no open call below them (owner: stack size) */
    int64_t ni, capi;
    int64_t last_ts;
    int64_t gap_ts;
    int counted; /* its open calls are counted per function (open_inc) */
} Task;

typedef struct {
    /* task table + open-addressing hash key -> index */
    Task *tasks;
    int64_t ntasks, captasks;
    int64_t *hkeys;
    int64_t *hvals;
    int64_t hcap;
    /* calls (growing columns) */
    int64_t ncalls, capcalls;
    int64_t *parent, *interrupted, *entry_row, *exit_row, *ts_entry, *ts_exit, *order;
    int64_t *own; /* pos of the entry record (its place before any move), -1 synthesized */
    int32_t *kdepth;
    int8_t *ctx;
    uint16_t *flags;
    /* the calls' attributes taken from their records (window.py CallAttrs), when feed_rows is
     * asked for them: set by the record that makes the call, and by its exit */
    int attrs_on; /* ATTRS_* bits: which columns are kept */
    int64_t nattr; /* calls at finish (the attribute columns stay until attrs() takes them) */
    int32_t *a_pid, *a_comm, *a_func, *a_module;
    int16_t *a_cpu_entry, *a_cpu_exit;
    int64_t *a_retval, *a_xdur;
    npy_bool *a_has_ret;
    /* per-CPU: task last seen, pending gap */
    int64_t ncpu;
    int64_t *cur_task; /* task index or -1 */
    int64_t *pend_gap; /* ts of a gap not yet applied to the next task, or INT64_MIN */
    int64_t *pend_task;
    int64_t *cpu_gap_ts; /* time of the CPU's latest gap, -1 none */
    int64_t tol; /* adoption tolerance (ns): timestamp resolution of the input */
    int pushed;  /* the last adjust() opened an interrupt level */
    int64_t *scratch;
    int64_t capscratch;
    /* open call frames per (task, function): an exit of a function with none open is an
     * orphan without searching the stack (keeps orphans under deep stacks linear) */
    int64_t *okeys_t, *okeys_f, *ocount;
    int64_t ocap, onum;
    /* counters */
    int64_t n_orphan, n_outer, n_trunc_end, n_gapmarks, n_adopted;
    /* rows: keep each call's entry and exit record rows (entry_row/exit_row); 0: only count
     * how many are set (the quality report's check), 16 bytes a call less */
    int rows;
    int64_t n_refs;
    int putting; /* run_rows is putting each record's attributes on its call (new_call) */
    int failed;
    int finished; /* finish() handed the call columns out */
    /* prune(): the function codes of the calls it let go (a byte per code), and how many */
    uint8_t *fdropped;
    int64_t capfd, n_pruned;
    /* prune() has run: the calls below cand_lo are all CF_KEPT; touched: those of them with a
     * link to a call at or above cand_lo, which a prune may move (made later: relinked) */
    int pruning;
    int64_t cand_lo;
    int64_t *touched;
    int64_t ntouched, captouched;
} Machine;

#define NONE_GAP INT64_MIN

/* the machine's per-record helpers go inline into step (their calls' register saves were a
 * good part of the ~100 cycles a record) */
#define HOT_INLINE inline __attribute__((always_inline))

/* Machine.attrs_on bits (feed_rows' attrs argument) */
#define ATTRS_ON 0x1
#define ATTRS_NO_MODULE 0x2 /* the module column is not kept */
#define ATTRS_NO_RETVAL 0x4 /* nor the return value (has_ret is) */

static int grow(void **p, int64_t *cap, int64_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    int64_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, (size_t)nc * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static int grow_calls(Machine *m, int64_t need)
{
    if (need <= m->capcalls)
        return 0;
    int64_t nc = m->capcalls ? m->capcalls : 1024;
    while (nc < need)
        nc *= 2;
#define RE(f, T)                                          \
    do {                                                  \
        void *q = realloc(m->f, (size_t)nc * sizeof(T)); \
        if (!q)                                           \
            return -1;                                    \
        m->f = (T *)q;                                    \
    } while (0)
    RE(parent, int64_t);
    RE(interrupted, int64_t);
    if (m->rows) {
        RE(entry_row, int64_t);
        RE(exit_row, int64_t);
    }
    RE(ts_entry, int64_t);
    RE(ts_exit, int64_t);
    RE(order, int64_t);
    RE(own, int64_t);
    RE(kdepth, int32_t);
    RE(ctx, int8_t);
    RE(flags, uint16_t);
    if (m->attrs_on) {
        RE(a_pid, int32_t);
        RE(a_comm, int32_t);
        RE(a_func, int32_t);
        if (!(m->attrs_on & ATTRS_NO_MODULE))
            RE(a_module, int32_t);
        RE(a_cpu_entry, int16_t);
        RE(a_cpu_exit, int16_t);
        if (!(m->attrs_on & ATTRS_NO_RETVAL))
            RE(a_retval, int64_t);
        RE(a_xdur, int64_t);
        RE(a_has_ret, npy_bool);
    }
#undef RE
    m->capcalls = nc;
    return 0;
}

static uint64_t hash64(int64_t k)
{
    uint64_t x = (uint64_t)k;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int64_t *open_slot(Machine *m, int64_t task, int64_t fkey, int create)
{
    if (create && (m->ocap == 0 || (m->onum + 1) * 2 > m->ocap)) {
        int64_t ncap = m->ocap ? m->ocap * 2 : 1024;
        int64_t *kt = malloc((size_t)ncap * sizeof(int64_t));
        int64_t *kf = malloc((size_t)ncap * sizeof(int64_t));
        int64_t *cn = malloc((size_t)ncap * sizeof(int64_t));
        if (!kt || !kf || !cn) {
            free(kt);
            free(kf);
            free(cn);
            return NULL;
        }
        for (int64_t i = 0; i < ncap; i++)
            cn[i] = -1;
        for (int64_t i = 0; i < m->ocap; i++) {
            if (m->ocount[i] < 0)
                continue;
            uint64_t h = (hash64(m->okeys_t[i] * 1000003 + m->okeys_f[i])) & (uint64_t)(ncap - 1);
            while (cn[h] >= 0)
                h = (h + 1) & (uint64_t)(ncap - 1);
            kt[h] = m->okeys_t[i];
            kf[h] = m->okeys_f[i];
            cn[h] = m->ocount[i];
        }
        free(m->okeys_t);
        free(m->okeys_f);
        free(m->ocount);
        m->okeys_t = kt;
        m->okeys_f = kf;
        m->ocount = cn;
        m->ocap = ncap;
    }
    if (m->ocap == 0)
        return NULL;
    uint64_t mask = (uint64_t)(m->ocap - 1);
    uint64_t h = hash64(task * 1000003 + fkey) & mask;
    while (m->ocount[h] >= 0) {
        if (m->okeys_t[h] == task && m->okeys_f[h] == fkey)
            return &m->ocount[h];
        h = (h + 1) & mask;
    }
    if (!create)
        return NULL;
    m->okeys_t[h] = task;
    m->okeys_f[h] = fkey;
    m->ocount[h] = 0;
    m->onum++;
    return &m->ocount[h];
}

/* A task's open calls are counted per function once its stack gets this deep: an exit whose
 * function has none open is then an orphan without searching the stack.  Below it the search
 * is short, and the counts (a hash over every task and function: a cache miss a record) are
 * not kept. */
#ifndef COUNT_DEPTH /* (a -D for tests of the counted path) */
#define COUNT_DEPTH 64
#endif

/* one more open call of fkey on t (about to be pushed) */
static int open_inc(Machine *m, Task *t, int64_t fkey)
{
    int64_t ti = t - m->tasks;
    if (!t->counted) {
        if (t->n < COUNT_DEPTH)
            return 0;
        t->counted = 1; /* from now on: count what is open already */
        for (int32_t i = 0; i < t->n; i++) {
            if (t->st[i].call < 0)
                continue;
            int64_t *c = open_slot(m, ti, t->st[i].fkey, 1);
            if (!c)
                return -1;
            (*c)++;
        }
    }
    int64_t *c = open_slot(m, ti, fkey, 1);
    if (!c)
        return -1;
    (*c)++;
    return 0;
}

static void open_dec(Machine *m, Task *t, int64_t fkey)
{
    if (!t->counted)
        return;
    int64_t *c = open_slot(m, t - m->tasks, fkey, 0);
    if (c && *c > 0)
        (*c)--;
}

/* might t have an open call of fkey? (no: an orphan exit, without searching the stack) */
static int open_any(Machine *m, Task *t, int64_t fkey)
{
    if (!t->counted)
        return 1;
    int64_t *c = open_slot(m, t - m->tasks, fkey, 0);
    return c && *c > 0;
}

static int rehash(Machine *m, int64_t ncap)
{
    int64_t *nk = malloc((size_t)ncap * sizeof(int64_t));
    int64_t *nv = malloc((size_t)ncap * sizeof(int64_t));
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (int64_t i = 0; i < ncap; i++)
        nv[i] = -1;
    for (int64_t t = 0; t < m->ntasks; t++) {
        uint64_t h = hash64(m->tasks[t].key) & (uint64_t)(ncap - 1);
        while (nv[h] >= 0)
            h = (h + 1) & (uint64_t)(ncap - 1);
        nk[h] = m->tasks[t].key;
        nv[h] = t;
    }
    free(m->hkeys);
    free(m->hvals);
    m->hkeys = nk;
    m->hvals = nv;
    m->hcap = ncap;
    return 0;
}

static int64_t task_of(Machine *m, int64_t key)
{
    if (m->hcap == 0 || (m->ntasks + 1) * 2 > m->hcap) {
        if (rehash(m, m->hcap ? m->hcap * 2 : 64) < 0)
            return -1;
    }
    uint64_t mask = (uint64_t)(m->hcap - 1);
    uint64_t h = hash64(key) & mask;
    while (m->hvals[h] >= 0) {
        if (m->hkeys[h] == key)
            return m->hvals[h];
        h = (h + 1) & mask;
    }
    if (grow((void **)&m->tasks, &m->captasks, m->ntasks + 1, sizeof(Task)) < 0)
        return -1;
    Task *t = &m->tasks[m->ntasks];
    memset(t, 0, sizeof(*t));
    t->key = key;
    t->last_ts = -1;
    t->gap_ts = -1;
    m->hkeys[h] = key;
    m->hvals[h] = m->ntasks;
    return m->ntasks++;
}

/* a new frame on top of t, for the caller to fill in place (NULL: out of memory).  Filled in
 * place, not built on the stack and copied: the copy read the frame's byte fields back as one
 * 16-byte load just after their byte stores (a failed store forward, the machine's costliest
 * instruction a record). */
static inline Frame *push_frame(Task *t)
{
    if (__builtin_expect(t->n >= t->cap, 0)) {
        int64_t cap = t->cap;
        if (grow((void **)&t->st, &cap, (int64_t)t->n + 1, sizeof(Frame)) < 0)
            return NULL;
        t->cap = (int32_t)cap;
    }
    return &t->st[t->n++];
}

/* A frame at stack position s is finished: its trailing children are no longer candidates for
 * adoption; the frame itself becomes one (of the frame below it). */
static inline int complete(Task *t, int64_t call, int32_t s)
{
    while (t->nd > 0 && t->done[t->nd - 1].owner > s)
        t->nd--;
    while (t->ni > 0 && t->irqs[t->ni - 1].owner > s)
        t->ni--;
    if (call < 0)
        return 0;
    if (grow((void **)&t->done, &t->capd, t->nd + 1, sizeof(Done)) < 0)
        return -1;
    t->done[t->nd].call = call;
    t->done[t->nd].owner = s;
    t->nd++;
    return 0;
}

/* a call's entry or exit row (set once per call and side), or its count without rows */
static inline void set_row(Machine *m, int64_t *col, int64_t c, int64_t row)
{
    if (m->rows)
        col[c] = row;
    else if (row >= 0)
        m->n_refs++;
}

/* One record as the machine sees it (prepared by calls.py, or decoded from the event columns
 * by feed_rows below). */
typedef struct {
    int64_t pos, row, task, fkey, ts, dur;
    int32_t cpu, kdepth;
    int8_t kind, ctx, bits;
} Rec;

/* a call's attributes before its records give theirs: the values of a side it lacks */
static void attrs_init(Machine *m, int64_t c)
{
    m->a_pid[c] = -1;
    m->a_comm[c] = -1;
    m->a_func[c] = -1;
    if (m->a_module)
        m->a_module[c] = -1;
    m->a_cpu_entry[c] = -1;
    m->a_cpu_exit[c] = -1;
    if (m->a_retval)
        m->a_retval[c] = 0;
    m->a_xdur[c] = -1;
    m->a_has_ret[c] = 0;
}

/* A new call, made by an entry record (ev, kind EV_ENTRY: its entry columns are set here) or an
 * orphan exit.  Only the columns nothing else sets get their sentinels: every call of a feed
 * gets ~20 column writes, and a sentinel written just to be overwritten is a store into a
 * column stream for nothing.  m->putting: put_attrs gives this call the attributes of the
 * record that made it just after step (run_rows with attributes), so only the other side's
 * attributes need theirs. */
static HOT_INLINE int64_t new_call(Machine *m, const Rec *ev)
{
    if (__builtin_expect(m->ncalls + 1 > m->capcalls, 0) && grow_calls(m, m->ncalls + 1) < 0)
        return -1;
    int64_t c = m->ncalls++;
    int entry = ev->kind == EV_ENTRY;
    m->parent[c] = -1;
    m->interrupted[c] = -1;
    if (m->rows) {
        if (!entry)
            m->entry_row[c] = -1; /* (an entry's is set by step) */
        m->exit_row[c] = -1;
    }
    m->ts_exit[c] = -1;
    if (entry) {
        m->ts_entry[c] = ev->ts;
        m->order[c] = ev->pos;
        m->own[c] = ev->pos;
    } else {
        m->ts_entry[c] = -1;
        m->order[c] = -1;
        m->own[c] = -1;
    }
    m->kdepth[c] = ev->kdepth; /* (an orphan's too) */
    m->ctx[c] = CTX_TASK;
    m->flags[c] = 0;
    if (!m->attrs_on)
        return c;
    if (!m->putting) {
        attrs_init(m, c);
    } else if (entry) {
        /* put_attrs gives pid, comm, function, module and the entry CPU */
        m->a_cpu_exit[c] = -1;
        if (m->a_retval)
            m->a_retval[c] = 0;
        m->a_xdur[c] = -1;
        m->a_has_ret[c] = 0;
    } else {
        /* an orphan's exit gives all but the entry CPU (put_attrs: its entry is synthesized) */
        m->a_cpu_entry[c] = -1;
    }
    return c;
}

/* parent / level of a call about to be pushed on (or completed at) the top of t */
static HOT_INLINE int place(Machine *m, Task *t, int64_t c)
{
    if (t->n == 0)
        return 0;
    Frame *top = &t->st[t->n - 1];
    m->ctx[c] = top->ctx;
    if (top->byname)
        m->flags[c] |= CF_CTX_BY_NAME;
    if (top->call >= 0) {
        m->parent[c] = top->call;
    } else {
        m->interrupted[c] = top->interrupted;
        /* remember the interrupt root by the stack size under it: a call found later to have
         * been open at that time (a synthesized entry, or an entry record written after the
         * interrupt) becomes the interrupted call */
        if (grow((void **)&t->irqs, &t->capi, t->ni + 1, sizeof(Done)) < 0)
            return -1;
        t->irqs[t->ni].call = c;
        t->irqs[t->ni].owner = t->n - 1;
        t->ni++;
    }
    return 0;
}

static void mark_gap(Machine *m, Task *t, int64_t ts)
{
    for (int32_t i = 0; i < t->n; i++)
        if (t->st[i].call >= 0)
            m->flags[t->st[i].call] |= CF_LOST_GAP;
    if (ts > t->gap_ts)
        t->gap_ts = ts;
    m->n_gapmarks++;
}

/* Bring the task's interrupt levels in line with the context of the incoming event. */
static HOT_INLINE int adjust(Machine *m, Task *t, int e, int byname)
{
    /* an interrupt level with nothing open ends when an event of another context arrives */
    while (t->n > 0 && t->st[t->n - 1].call < 0 && t->st[t->n - 1].ctx != e) {
        t->n--;
        complete(t, -1, t->n);
    }
    int level = t->n > 0 ? t->st[t->n - 1].ctx : CTX_TASK;
    if (e > level) {
        m->pushed = 1;
        /* top is a call here (an empty marker of ctx e would have made level == e) */
        int64_t below = t->n > 0 ? t->st[t->n - 1].call : -1;
        Frame *f = push_frame(t);
        if (!f)
            return -1;
        f->call = -1;
        f->fkey = 0;
        f->interrupted = below;
        f->ctx = (int8_t)e;
        f->byname = (int8_t)byname;
        f->container = 0;
    }
    return 0;
}

/* close frames strictly above position keep (their exits were lost) */
static int close_above(Machine *m, Task *t, int32_t keep, uint16_t why)
{
    while (t->n - 1 > keep) {
        Frame *f = &t->st[t->n - 1];
        int32_t s = t->n - 1;
        t->n--;
        if (f->call >= 0)
            open_dec(m, t, f->fkey);
        if (f->call >= 0) {
            int64_t c = f->call;
            int64_t lb = t->last_ts;
            if ((m->flags[c] & CF_LOST_GAP) && t->gap_ts > lb)
                lb = t->gap_ts;
            if (lb >= 0 && m->ts_entry[c] >= 0 && lb < m->ts_entry[c])
                lb = m->ts_entry[c];
            m->ts_exit[c] = lb;
            m->flags[c] |= why;
            if (why & CF_CLOSED_BY_OUTER)
                m->n_outer++;
            else
                m->n_trunc_end++;
            if (complete(t, c, s) < 0)
                return -1;
        } else {
            complete(t, -1, s);
        }
    }
    return 0;
}

/* Call k, made earlier, was just linked (parent or interrupted) to call c.  When prune() is in
 * use: k below cand_lo is listed (its new link may point to a call a prune moves; the prune's
 * own pass renumbers the calls from cand_lo on), and if k's tree is kept, so is c's:
 * c and the calls above it are marked (the prune's pass follows links upward only, from the
 * calls not marked).  Rare: adoption and in-flight repairs. */
static int relinked(Machine *m, int64_t k, int64_t c)
{
    if (!m->pruning)
        return 0;
    if (k < m->cand_lo) {
        if (grow((void **)&m->touched, &m->captouched, m->ntouched + 1, sizeof(int64_t)) < 0)
            return -1;
        m->touched[m->ntouched++] = k;
    }
    if (m->flags[k] & CF_KEPT) {
        int64_t x = c;
        while (x >= 0 && !(m->flags[x] & CF_KEPT)) {
            m->flags[x] |= CF_KEPT;
            x = m->parent[x] >= 0 ? m->parent[x] : m->interrupted[x];
        }
    }
    return 0;
}

/* did call k start inside a call whose entry was synthesized at `synth` (exit at ts, kernel
 * depth kd)?  By time when the input has it, else by the kernel depth. */
static int inside(const Machine *m, int64_t k, int64_t synth, int64_t ts, int32_t kd)
{
    if (synth >= 0 && m->ts_entry[k] >= 0)
        return m->ts_entry[k] >= synth - m->tol;
    if (synth < 0 && ts < 0 && kd >= 0 && m->kdepth[k] >= 0)
        return m->kdepth[k] > kd; /* no time in the input: the kernel depth hints */
    return 0;
}

/* The call c at stack position j returns.  Complete it, and correct for an interrupt that hit
 * while the kernel was between pushing c's frame on the return stack and writing c's entry
 * record (kernel/trace/fgraph.c function_graph_enter: calltime, push, then the entry event):
 * the interrupt (and irq_enter_rcu before it) ran inside c, one level below it by the kernel's
 * depth, but its records come before c's entry.  Trailing completed siblings deeper than c and
 * interrupt roots deeper than c that came just before it belong to c.
 * (The mirror case, an interrupt after ftrace_pop_return_trace lowered the depth but before
 * rettime was taken, is inside c by time too and needs no move; depth_check names it.) */
static HOT_INLINE int fix_in_flight(Machine *m, Task *t, int64_t c, int32_t j)
{
    int32_t kc = m->kdepth[c];
    /* c's children are no longer candidates */
    while (t->nd > 0 && t->done[t->nd - 1].owner > j)
        t->nd--;
    while (t->ni > 0 && t->irqs[t->ni - 1].owner > j)
        t->ni--;
    if (kc < 0)
        return complete(t, c, j);
    /* only what is too deep for c's caller and exactly one below c */
    int32_t kp = (j > 0 && t->st[j - 1].call >= 0) ? m->kdepth[t->st[j - 1].call] : -1;
    if (kp < 0 || kc != kp + 1)
        return complete(t, c, j);
    int64_t ord = m->order[c];
    while (t->nd > 0 && t->done[t->nd - 1].owner == j) {
        int64_t k = t->done[t->nd - 1].call;
        if (m->kdepth[k] != kc + 1 || (m->flags[k] & CF_SYNTH_ENTRY))
            break;
        m->parent[k] = c;
        m->interrupted[k] = -1;
        if (relinked(m, k, c) < 0)
            return -1;
        if (m->order[k] < ord)
            ord = m->order[k];
        t->nd--;
    }
    while (t->ni > 0 && t->irqs[t->ni - 1].owner == j) {
        int64_t k = t->irqs[t->ni - 1].call;
        if (m->parent[k] >= 0) {
            t->ni--;
            continue;
        }
        if (m->kdepth[k] != kc + 1)
            break;
        m->interrupted[k] = c;
        if (relinked(m, k, c) < 0)
            return -1;
        if (m->order[k] - 1 < ord)
            ord = m->order[k] - 1;
        t->ni--;
    }
    m->order[c] = ord;
    return complete(t, c, j);
}

/* An entry the kernel recorded at depth 0 in a task with nothing open: the task had no traced
 * call open then (the depth is the task's own return-stack depth, kernel/trace/fgraph.c
 * function_graph_enter), so no call completed before it can be inside a call whose exit is
 * still to come.  Its level's adoption candidates go: a later orphan exit (its entry lost)
 * adopts only what came after.  fix_in_flight claims nothing at level 0 (no caller depth to
 * compare with).  This keeps the lists bounded by what follows the task's last return to depth
 * 0, and so what prune() must hold. */
static inline void barrier(Task *t)
{
    t->nd = 0;
    t->ni = 0;
}

/* Run one record; *cid gets the call it entered, closed or made (left alone at gaps). */
static HOT_INLINE int step(Machine *m, const Rec *ev, int64_t *cid)
{
    int kind = ev->kind;
    int64_t cpu = ev->cpu;
    if (cpu < 0 || cpu >= m->ncpu)
        cpu = -1;
    if (__builtin_expect(kind == EV_GAP, 0)) {
        if (cpu < 0)
            return 0;
        int64_t ti = m->cur_task[cpu];
        if (ti >= 0)
            mark_gap(m, &m->tasks[ti], ev->ts);
        m->pend_gap[cpu] = ev->ts;
        m->pend_task[cpu] = ti;
        if (ev->ts > m->cpu_gap_ts[cpu])
            m->cpu_gap_ts[cpu] = ev->ts;
        return 0;
    }
    /* most records are of the task the CPU ran last: no hash lookup */
    int64_t ti = cpu >= 0 ? m->cur_task[cpu] : -1;
    if (ti < 0 || m->tasks[ti].key != ev->task)
        ti = task_of(m, ev->task);
    if (ti < 0)
        return -1;
    Task *t = &m->tasks[ti];
    if (cpu >= 0) {
        if (__builtin_expect(m->pend_gap[cpu] != NONE_GAP, 0)) {
            if (m->pend_task[cpu] != ti)
                mark_gap(m, t, m->pend_gap[cpu]);
            m->pend_gap[cpu] = NONE_GAP;
        }
        /* a task seen again on a CPU that lost events after the task's last record may have
         * run there in the lost stretch (it migrated across the gap) */
        if (__builtin_expect(m->cpu_gap_ts[cpu] >= 0, 0) && t->last_ts >= 0 &&
            m->cpu_gap_ts[cpu] > t->last_ts && t->n > 0 && t->gap_ts < m->cpu_gap_ts[cpu])
            mark_gap(m, t, m->cpu_gap_ts[cpu]);
        m->cur_task[cpu] = ti;
    }
    int e = ev->ctx;
    int byname = (ev->bits & EB_BYNAME) != 0;
    int64_t ts = ev->ts;
    if (kind == EV_ENTRY) {
        if (__builtin_expect(e == CTX_UNKNOWN, 0) && t->n > 0) {
            /* a child of the softirq runner (text without flags): a softirq handler.  The
             * level of the previous handler may still be there, empty. */
            int32_t j = t->n - 1;
            if (t->st[j].call < 0 && t->st[j].ctx == CTX_SOFTIRQ && t->st[j].byname && j > 0)
                j--;
            Frame *top = &t->st[j];
            if (top->call >= 0 && top->container && top->ctx < CTX_SOFTIRQ) {
                e = CTX_SOFTIRQ;
                byname = 1;
            }
        }
        if (adjust(m, t, e, byname) < 0)
            return -1;
        if (t->n == 0 && ev->kdepth == 0)
            barrier(t);
        int64_t c = new_call(m, ev); /* (its time, place and kernel depth) */
        if (c < 0)
            return -1;
        if (place(m, t, c) < 0)
            return -1;
        set_row(m, m->entry_row, c, ev->row);
        *cid = c;
        t = &m->tasks[ti];
        if (open_inc(m, t, ev->fkey) < 0)
            return -1;
        Frame *f = push_frame(t);
        if (!f)
            return -1;
        f->call = c;
        f->fkey = ev->fkey;
        f->interrupted = -1;
        f->ctx = m->ctx[c];
        f->byname = (m->flags[c] & CF_CTX_BY_NAME) != 0;
        f->container = (ev->bits & EB_CONTAINER) != 0;
    } else if (kind == EV_EXIT) {
        m->pushed = 0;
        if (adjust(m, t, e, byname) < 0)
            return -1;
        int fresh_byname = m->pushed && byname;
        int32_t j = t->n - 1;
        int64_t fk = ev->fkey;
        if (!open_any(m, t, fk))
            j = -1;
        while (j >= 0 && !(t->st[j].call >= 0 && t->st[j].fkey == fk))
            j--;
        int64_t synth0 = (ts >= 0 && ev->dur >= 0) ? ts - ev->dur : -1;
        int64_t nscratch = 0;
        if (j >= 0 && (ev->bits & EB_CALLTIME) && synth0 >= 0) {
            /* The exit's calltime says when its call began (binary records).  An open frame of
             * the same function entered before that is another instance whose exit was lost
             * (ring-buffer loss): at the same kernel depth, close it and treat this exit as an
             * orphan at that level; shallower, it is an ancestor (recursion whose inner entry
             * was lost) and the orphan goes on top. */
            int64_t c0 = t->st[j].call;
            int64_t e0 = m->ts_entry[c0];
            if (e0 >= 0 && e0 < synth0 - m->tol) {
                int32_t kd0 = m->kdepth[c0], kdx = ev->kdepth;
                if (kd0 >= 0 && kdx >= 0 && kd0 < kdx) {
                    j = -1;
                } else {
                    if (close_above(m, t, j, CF_TRUNCATED | CF_CLOSED_BY_OUTER) < 0)
                        return -1;
                    /* calls completed inside the stale frame after this call began belong to
                     * this call: keep them for adoption */
                    int64_t from = t->nd;
                    while (from > 0 && t->done[from - 1].owner == j + 1 &&
                           inside(m, t->done[from - 1].call, synth0, ts, ev->kdepth))
                        from--;
                    nscratch = t->nd - from;
                    if (grow((void **)&m->scratch, &m->capscratch, nscratch, sizeof(int64_t)) < 0)
                        return -1;
                    for (int64_t k = 0; k < nscratch; k++)
                        m->scratch[k] = t->done[from + k].call;
                    t->nd = from;
                    int64_t lb = t->last_ts;
                    if ((m->flags[c0] & CF_LOST_GAP) && t->gap_ts > lb)
                        lb = t->gap_ts;
                    if (lb > synth0)
                        lb = synth0;
                    if (lb < e0)
                        lb = e0;
                    /* but not before its last child that stays its child returned */
                    if (t->nd > 0 && t->done[t->nd - 1].owner == j + 1 &&
                        m->ts_exit[t->done[t->nd - 1].call] > lb)
                        lb = m->ts_exit[t->done[t->nd - 1].call];
                    m->ts_exit[c0] = lb;
                    m->flags[c0] |= CF_TRUNCATED | CF_CLOSED_BY_OUTER;
                    m->n_outer++;
                    open_dec(m, t, t->st[j].fkey);
                    t->n = j;
                    if (complete(t, c0, j) < 0)
                        return -1;
                    j = -1;
                }
            }
        }
        if (j >= 0) {
            if (close_above(m, t, j, CF_TRUNCATED | CF_CLOSED_BY_OUTER) < 0)
                return -1;
            int64_t c = t->st[j].call;
            open_dec(m, t, t->st[j].fkey);
            t->n = j;
            set_row(m, m->exit_row, c, ev->row);
            *cid = c;
            m->ts_exit[c] = ts;
            if (fix_in_flight(m, t, c, j) < 0)
                return -1;
        } else {
            /* orphan exit: entry before the trace start or lost */
            int64_t c = new_call(m, ev);
            if (c < 0)
                return -1;
            if (place(m, t, c) < 0)
                return -1;
            m->flags[c] |= CF_SYNTH_ENTRY;
            set_row(m, m->exit_row, c, ev->row);
            *cid = c;
            m->ts_exit[c] = ts;
            int64_t synth = (ts >= 0 && ev->dur >= 0) ? ts - ev->dur : -1;
            m->ts_entry[c] = synth;
            int64_t ord = ev->pos;
            int32_t s = t->n;
            int32_t kd = ev->kdepth;
            for (int64_t k = 0; k < nscratch; k++) {
                int64_t a = m->scratch[k];
                m->parent[a] = c;
                m->interrupted[a] = -1;
                if (relinked(m, a, c) < 0)
                    return -1;
                if (m->order[a] < ord)
                    ord = m->order[a];
                m->n_adopted++;
            }
            while (t->nd > 0 && t->done[t->nd - 1].owner == s) {
                int64_t k = t->done[t->nd - 1].call;
                if (!inside(m, k, synth, ts, kd))
                    break;
                m->parent[k] = c;
                m->interrupted[k] = -1;
                if (relinked(m, k, c) < 0)
                    return -1;
                if (m->order[k] < ord)
                    ord = m->order[k];
                t->nd--;
                m->n_adopted++;
            }
            if (fresh_byname && s > 0) {
                /* an orphan exit that opened an interrupt level by its name only (text without
                 * flags): the completed calls just below it that were inside it were that
                 * interrupt's too (tracing_thresh shows only the slow returns) */
                while (t->nd > 0 && t->done[t->nd - 1].owner == s - 1) {
                    int64_t k = t->done[t->nd - 1].call;
                    if (!inside(m, k, synth, ts, kd))
                        break;
                    m->parent[k] = c;
                    m->interrupted[k] = -1;
                    if (relinked(m, k, c) < 0)
                        return -1;
                    if (m->order[k] < ord)
                        ord = m->order[k];
                    t->nd--;
                    m->n_adopted++;
                }
            }
            while (t->ni > 0 && t->irqs[t->ni - 1].owner == s) {
                int64_t k = t->irqs[t->ni - 1].call;
                if (m->parent[k] >= 0) { /* adopted meanwhile by a synthesized irq call */
                    t->ni--;
                    continue;
                }
                if (!inside(m, k, synth, ts, kd))
                    break;
                m->interrupted[k] = c;
                if (relinked(m, k, c) < 0)
                    return -1;
                /* just before the interrupt (positions of records are spaced by 4) */
                if (m->order[k] - 1 < ord)
                    ord = m->order[k] - 1;
                t->ni--;
            }
            m->order[c] = ord;
            m->n_orphan++;
            if (complete(t, c, s) < 0)
                return -1;
        }
    }
    if (ts > t->last_ts)
        t->last_ts = ts;
    return 0;
}

/* ------------------------------------------------------------------ Python glue */

static void machine_free(Machine *m)
{
    if (!m)
        return;
    for (int64_t i = 0; i < m->ntasks; i++) {
        free(m->tasks[i].st);
        free(m->tasks[i].done);
        free(m->tasks[i].irqs);
    }
    free(m->tasks);
    free(m->hkeys);
    free(m->hvals);
    free(m->parent);
    free(m->interrupted);
    free(m->entry_row);
    free(m->exit_row);
    free(m->ts_entry);
    free(m->ts_exit);
    free(m->order);
    free(m->own);
    free(m->kdepth);
    free(m->ctx);
    free(m->flags);
    free(m->a_pid);
    free(m->a_comm);
    free(m->a_func);
    free(m->a_module);
    free(m->a_cpu_entry);
    free(m->a_cpu_exit);
    free(m->a_retval);
    free(m->a_xdur);
    free(m->a_has_ret);
    free(m->cur_task);
    free(m->pend_gap);
    free(m->pend_task);
    free(m->cpu_gap_ts);
    free(m->scratch);
    free(m->okeys_t);
    free(m->okeys_f);
    free(m->ocount);
    free(m->fdropped);
    free(m->touched);
    free(m);
}

static void capsule_free(PyObject *cap)
{
    machine_free((Machine *)PyCapsule_GetPointer(cap, "fgraph.stacks.Machine"));
}

static Machine *get_machine(PyObject *cap)
{
    return (Machine *)PyCapsule_GetPointer(cap, "fgraph.stacks.Machine");
}

/* the machine of a call that takes only it (finish, attrs, dropped); NULL with an error set */
static Machine *machine_arg(PyObject *args)
{
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap))
        return NULL;
    return get_machine(cap);
}

static PyObject *py_new(PyObject *self, PyObject *args)
{
    Py_ssize_t ncpu;
    long long tol, expect = 0;
    int rows = 1;
    /* expect: calls the caller expects (a hint).  Reserving the call columns once avoids the
     * realloc chain of doubling, whose freed blocks the heap keeps; untouched reserved pages
     * cost no memory.  rows: see Machine.rows. */
    if (!PyArg_ParseTuple(args, "nL|Lp", &ncpu, &tol, &expect, &rows))
        return NULL;
    if (ncpu < 1)
        ncpu = 1;
    Machine *m = calloc(1, sizeof(Machine));
    if (!m)
        return PyErr_NoMemory();
    m->rows = rows;
    m->ncpu = ncpu;
    m->tol = tol;
    m->cur_task = malloc((size_t)ncpu * sizeof(int64_t));
    m->pend_gap = malloc((size_t)ncpu * sizeof(int64_t));
    m->pend_task = malloc((size_t)ncpu * sizeof(int64_t));
    m->cpu_gap_ts = malloc((size_t)ncpu * sizeof(int64_t));
    if (!m->cur_task || !m->pend_gap || !m->pend_task || !m->cpu_gap_ts) {
        machine_free(m);
        return PyErr_NoMemory();
    }
    if (expect > 0 && expect < ((long long)1 << 36) && grow_calls(m, (int64_t)expect) < 0) {
        machine_free(m);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t c = 0; c < ncpu; c++) {
        m->cur_task[c] = -1;
        m->pend_gap[c] = NONE_GAP;
        m->pend_task[c] = -1;
        m->cpu_gap_ts[c] = -1;
    }
    PyObject *cap = PyCapsule_New(m, "fgraph.stacks.Machine", capsule_free);
    if (!cap)
        machine_free(m);
    return cap;
}

static PyArrayObject *as_arr(PyObject *o, int type, npy_intp n, const char *name)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, type, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!a)
        return NULL;
    if (PyArray_DIM(a, 0) != n) {
        PyErr_Format(PyExc_ValueError, "stacks.feed: column %s has the wrong length", name);
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* feed(machine, pos, row, kind, task, cpu, ctx, bits, fkey, ts, dur, kdepth[, cid]): with
 * ``cid`` (int64, writable, one per record) the machine writes the call id each record entered,
 * closed or made (-1 for gaps), so the caller can give the calls their records' attributes
 * window by window without keeping the records. */
static PyObject *py_feed(PyObject *self, PyObject *args)
{
    PyObject *cap, *o[11], *cido = NULL;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOO|O", &cap, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8], &o[9], &o[10], &cido))
        return NULL;
    Machine *m = get_machine(cap);
    if (!m)
        return NULL;
    if (m->finished) {
        PyErr_SetString(PyExc_RuntimeError, "stacks.feed after finish");
        return NULL;
    }
    static const int types[11] = {NPY_INT64, NPY_INT64, NPY_INT8, NPY_INT64, NPY_INT32, NPY_INT8,
                                  NPY_INT8,  NPY_INT64, NPY_INT64, NPY_INT64, NPY_INT32};
    static const char *names[11] = {"pos", "row", "kind", "task", "cpu", "ctx",
                                    "bits", "fkey", "ts", "dur", "kdepth"};
    PyArrayObject *a[11] = {0};
    PyArrayObject *first = (PyArrayObject *)PyArray_FROMANY(o[0], NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!first)
        return NULL;
    npy_intp n = PyArray_DIM(first, 0);
    Py_DECREF(first);
    for (int k = 0; k < 11; k++) {
        a[k] = as_arr(o[k], types[k], n, names[k]);
        if (!a[k]) {
            for (int j = 0; j < k; j++)
                Py_DECREF(a[j]);
            return NULL;
        }
    }
    const int64_t *pos = PyArray_DATA(a[0]), *row = PyArray_DATA(a[1]);
    const int8_t *kind = PyArray_DATA(a[2]);
    const int64_t *task = PyArray_DATA(a[3]);
    const int32_t *cpu = PyArray_DATA(a[4]);
    const int8_t *ctx = PyArray_DATA(a[5]), *bits = PyArray_DATA(a[6]);
    const int64_t *fkey = PyArray_DATA(a[7]), *ts = PyArray_DATA(a[8]), *dur = PyArray_DATA(a[9]);
    const int32_t *kdepth = PyArray_DATA(a[10]);
    int64_t *cid = NULL;
    if (cido && cido != Py_None) {
        if (!PyArray_Check(cido) || PyArray_TYPE((PyArrayObject *)cido) != NPY_INT64 ||
            PyArray_NDIM((PyArrayObject *)cido) != 1 || PyArray_DIM((PyArrayObject *)cido, 0) != n ||
            !PyArray_ISCARRAY((PyArrayObject *)cido)) {
            for (int k = 0; k < 11; k++)
                Py_DECREF(a[k]);
            PyErr_SetString(PyExc_ValueError, "cid must be a writable contiguous int64 array of n");
            return NULL;
        }
        cid = PyArray_DATA((PyArrayObject *)cido);
    }
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        Rec r = {pos[i], row[i], task[i], fkey[i], ts[i], dur[i], cpu[i], kdepth[i], kind[i], ctx[i], bits[i]};
        int64_t c = -1;
        if (step(m, &r, &c) < 0) {
            rc = -1;
            break;
        }
        if (cid)
            cid[i] = c;
    }
    Py_END_ALLOW_THREADS
    for (int k = 0; k < 11; k++)
        Py_DECREF(a[k]);
    if (rc < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static void buffer_free(PyObject *cap)
{
    free(PyCapsule_GetPointer(cap, "fgraph.stacks.buffer"));
}

/* Hand a machine column to numpy without copying it (the array owns the buffer through a
 * capsule base); *src is cleared.  A copy would double the call columns at the moment the
 * rebuild's memory peaks. */
static PyObject *give_out(void **src, int64_t n, int type, size_t sz)
{
    void *buf = *src;
    if (!buf || n == 0)
        return NULL;
    void *shrunk = realloc(buf, (size_t)n * sz); /* drop the growth slack */
    if (shrunk)
        buf = shrunk;
    npy_intp dims[1] = {(npy_intp)n};
    PyObject *arr = PyArray_SimpleNewFromData(1, dims, type, buf);
    if (!arr) {
        *src = buf;
        return NULL;
    }
    PyObject *cap = PyCapsule_New(buf, "fgraph.stacks.buffer", buffer_free);
    if (!cap) {
        *src = buf;
        Py_DECREF(arr);
        return NULL;
    }
    *src = NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) {
        Py_DECREF(arr); /* the capsule was stolen and frees buf */
        return NULL;
    }
    return arr;
}

static PyObject *copy_out(void *src, int64_t n, int type, size_t sz)
{
    npy_intp dims[1] = {(npy_intp)n};
    PyObject *arr = PyArray_SimpleNew(1, dims, type);
    if (!arr)
        return NULL;
    if (n)
        memcpy(PyArray_DATA((PyArrayObject *)arr), src, (size_t)n * sz);
    return arr;
}

/* d[name] = the column src (n items): handed over to numpy (the machine lets go of it), or a
 * copy when empty.  0, or -1 with the error set. */
static int put_column(PyObject *d, const char *name, void **src, int64_t n, int type, size_t sz)
{
    PyObject *v = n ? give_out(src, n, type, sz) : copy_out(*src, n, type, sz);
    if (!v || PyDict_SetItemString(d, name, v) < 0) {
        Py_XDECREF(v);
        return -1;
    }
    Py_DECREF(v);
    return 0;
}

/* in py_finish / py_attrs: d[name] = column src of n items (their d and n) */
#define PUT(name, src, type, T)                                                  \
    do {                                                                         \
        if (put_column(d, name, (void **)&(src), n, type, sizeof(T)) < 0) {      \
            Py_DECREF(d);                                                        \
            return NULL;                                                         \
        }                                                                        \
    } while (0)

static PyObject *int64_prefix(const int64_t *src, npy_intp k); /* (below) */

/* The trace has ended: every open frame closes at its task's last timestamp (TRUNCATED). */
static int close_all(Machine *m)
{
    for (int64_t ti = 0; ti < m->ntasks; ti++)
        if (close_above(m, &m->tasks[ti], -1, CF_TRUNCATED) < 0)
            return -1;
    return 0;
}

/* finish(machine) -> dict of call columns (in creation order) and counters.  Open frames are
 * closed at their task's last timestamp (TRUNCATED). */
static PyObject *py_finish(PyObject *self, PyObject *args)
{
    Machine *m = machine_arg(args);
    if (!m)
        return NULL;
    if (close_all(m) < 0)
        return PyErr_NoMemory();
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    int64_t n = m->ncalls;
    /* a synthesized entry's own place is where it was put.  The few calls whose own place
     * differs from their place in order are listed too (own_rows, own_vals; not when more
     * than 1/16 of the calls do): build_table keeps these and reuses the own column's memory
     * (calls.py _OwnPlaces) */
    int64_t *arows = NULL, *avals = NULL, ca = 0, cv = 0, na = 0, alimit = n / 16;
    int64_t *own = m->own;
    const int64_t *ord = m->order;
    int apart = 1;
    for (int64_t c = 0; c < n; c++) {
        if (own[c] < 0) {
            own[c] = ord[c];
        } else if (apart && own[c] != ord[c]) {
            if (na >= alimit || grow((void **)&arows, &ca, na + 1, sizeof(int64_t)) < 0 ||
                grow((void **)&avals, &cv, na + 1, sizeof(int64_t)) < 0) {
                apart = 0; /* (then build_table reads the own column itself) */
                continue;
            }
            arows[na] = c;
            avals[na++] = own[c];
        }
    }
    if (m->pruning) /* (prune's own mark leaves with the machine) */
        for (int64_t c = 0; c < n; c++)
            m->flags[c] &= (uint16_t)~CF_KEPT;
    PyObject *ar = apart ? int64_prefix(arows, na) : NULL;
    PyObject *av = ar ? int64_prefix(avals, na) : NULL;
    free(arows);
    free(avals);
    if (apart && !av) {
        Py_XDECREF(ar);
        Py_DECREF(d);
        return NULL;
    }
    if (apart && (PyDict_SetItemString(d, "own_rows", ar) < 0 ||
                  PyDict_SetItemString(d, "own_vals", av) < 0)) {
        Py_DECREF(ar);
        Py_DECREF(av);
        Py_DECREF(d);
        return NULL;
    }
    Py_XDECREF(ar);
    Py_XDECREF(av);
    /* the call columns leave the machine (handed to numpy below): it takes no more events */
    m->finished = 1;
    m->nattr = n;
    m->ncalls = 0;
    m->capcalls = 0;
    PUT("parent", m->parent, NPY_INT64, int64_t);
    PUT("interrupted", m->interrupted, NPY_INT64, int64_t);
    if (m->rows) {
        PUT("entry_row", m->entry_row, NPY_INT64, int64_t);
        PUT("exit_row", m->exit_row, NPY_INT64, int64_t);
    }
    PUT("ts_entry", m->ts_entry, NPY_INT64, int64_t);
    PUT("ts_exit", m->ts_exit, NPY_INT64, int64_t);
    PUT("order", m->order, NPY_INT64, int64_t);
    PUT("own", m->own, NPY_INT64, int64_t);
    PUT("kdepth", m->kdepth, NPY_INT32, int32_t);
    PUT("ctx", m->ctx, NPY_INT8, int8_t);
    PUT("flags", m->flags, NPY_UINT16, uint16_t);
    PyObject *cnt = Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:L}", "orphan_exits", (long long)m->n_orphan,
                                  "closed_by_outer", (long long)m->n_outer, "unclosed_entries",
                                  (long long)m->n_trunc_end, "gap_marks", (long long)m->n_gapmarks,
                                  "adopted", (long long)m->n_adopted, "tasks", (long long)m->ntasks);
    if (cnt && !m->rows) {
        PyObject *r = PyLong_FromLongLong((long long)m->n_refs);
        if (!r || PyDict_SetItemString(cnt, "row_references", r) < 0) {
            Py_XDECREF(r);
            Py_DECREF(cnt);
            cnt = NULL;
        } else {
            Py_DECREF(r);
        }
    }
    if (!cnt || PyDict_SetItemString(d, "counters", cnt) < 0) {
        Py_XDECREF(cnt);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(cnt);
    return d;
}

/* attrs(machine) -> dict of the call attribute columns (creation order), after finish(): pid,
 * comm, func, module, cpu_entry, cpu_exit, retval, xdur (the exit's own duration, -1 none) and
 * has_ret.  Handed out once. */
static PyObject *py_attrs(PyObject *self, PyObject *args)
{
    Machine *m = machine_arg(args);
    if (!m)
        return NULL;
    if (!m->finished || (m->nattr > 0 && !m->attrs_on) || m->nattr < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "stacks.attrs: after finish, of a machine fed with attributes, once");
        return NULL;
    }
    int64_t n = m->nattr;
    m->nattr = -1;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    PUT("pid", m->a_pid, NPY_INT32, int32_t);
    PUT("comm", m->a_comm, NPY_INT32, int32_t);
    PUT("func", m->a_func, NPY_INT32, int32_t);
    if (!(m->attrs_on & ATTRS_NO_MODULE))
        PUT("module", m->a_module, NPY_INT32, int32_t);
    PUT("cpu_entry", m->a_cpu_entry, NPY_INT16, int16_t);
    PUT("cpu_exit", m->a_cpu_exit, NPY_INT16, int16_t);
    if (!(m->attrs_on & ATTRS_NO_RETVAL))
        PUT("retval", m->a_retval, NPY_INT64, int64_t);
    PUT("xdur", m->a_xdur, NPY_INT64, int64_t);
    PUT("has_ret", m->a_has_ret, NPY_BOOL, npy_bool);
    return d;
}

/* resolve(parent) -> (depth int32, root int64).  Parents may come after their children (a
 * synthesized entry adopts earlier calls), so walk up with memoization; iterative. */
static PyObject *py_resolve(PyObject *self, PyObject *args)
{
    PyObject *o;
    int want_root = 1; /* 0: depth only (root is None), 8 bytes a call less */
    if (!PyArg_ParseTuple(args, "O|p", &o, &want_root))
        return NULL;
    PyArrayObject *pa = (PyArrayObject *)PyArray_FROMANY(o, NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!pa)
        return NULL;
    npy_intp n = PyArray_DIM(pa, 0);
    const int64_t *par = PyArray_DATA(pa);
    npy_intp dims[1] = {n};
    PyArrayObject *dep = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT32);
    PyArrayObject *root = want_root ? (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64) : NULL;
    int64_t *path = malloc((size_t)(n + 1) * sizeof(int64_t));
    if (!dep || (want_root && !root) || !path) {
        Py_XDECREF(dep);
        Py_XDECREF(root);
        Py_DECREF(pa);
        free(path);
        return PyErr_NoMemory();
    }
    int32_t *d = PyArray_DATA(dep);
    int64_t *r = root ? PyArray_DATA(root) : NULL;
    for (npy_intp i = 0; i < n; i++)
        d[i] = -1;
    int bad = 0;
    for (npy_intp i = 0; i < n && !bad; i++) {
        if (d[i] >= 0)
            continue;
        npy_intp np_ = 0;
        int64_t c = i;
        while (c >= 0 && c < n && d[c] < 0) {
            if (np_ > n) {
                bad = 1; /* a cycle: cannot happen unless the machine is wrong */
                break;
            }
            path[np_++] = c;
            c = par[c];
        }
        if (bad)
            break;
        int32_t base;
        int64_t rt;
        if (c >= 0 && c < n) {
            base = d[c] + 1;
            rt = r ? r[c] : -1;
        } else {
            base = 0;
            rt = path[np_ - 1];
        }
        for (npy_intp k = np_ - 1; k >= 0; k--) {
            d[path[k]] = base++;
            if (r)
                r[path[k]] = rt;
        }
    }
    free(path);
    Py_DECREF(pa);
    if (bad) {
        Py_DECREF(dep);
        Py_XDECREF(root);
        PyErr_SetString(PyExc_RuntimeError, "stacks.resolve: parent cycle");
        return NULL;
    }
    if (!root)
        return Py_BuildValue("(NO)", dep, Py_None);
    return Py_BuildValue("(NN)", dep, root);
}

/* ------------------------------------------------------------------ off-CPU lookups
 *
 * The off-CPU stage (fgraph/reconstruct/offcpu.py) asks, for every call, "the last element of
 * its task's time-sorted list at or before time t".  Task lists are few and short (one element
 * per context switch or wakeup), calls are millions: a binary search per call here replaces
 * several call-length numpy temporaries (combined keys, gathers, masks) per question. */

static int64_t group_of(const int64_t *keys, int64_t nk, int64_t task)
{
    int64_t lo = 0, hi = nk;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < task)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < nk && keys[lo] == task) ? lo : -1;
}

/* last index in [lo, hi) with t[i] <= q, or -1 (the last of equal times, like
 * np.searchsorted(side="right") - 1) */
static int64_t last_le(const int64_t *t, int64_t lo, int64_t hi, int64_t q)
{
    int64_t a = lo, b = hi;
    while (a < b) {
        int64_t mid = a + (b - a) / 2;
        if (t[mid] <= q)
            a = mid + 1;
        else
            b = mid;
    }
    return a - 1 >= lo ? a - 1 : -1;
}

typedef struct {
    PyArrayObject *a[32];
    int n;
} Held;

static void held_free(Held *h)
{
    for (int k = 0; k < h->n; k++)
        Py_XDECREF(h->a[k]);
    h->n = 0;
}

static const void *held_get(Held *h, PyObject *o, int type)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, type, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!a)
        return NULL;
    h->a[h->n++] = a;
    return PyArray_DATA(a);
}

static npy_intp held_len(Held *h, int k) { return PyArray_DIM(h->a[k], 0); }

/* k columns of one length, as types[i], into p[i]: 0, or -1 with the error set and h freed
 * (``fn`` names the function in the message) */
static int held_columns(Held *h, PyObject **o, const int *types, int k, const void **p,
                        const char *fn)
{
    for (int i = 0; i < k; i++) {
        if (!(p[i] = held_get(h, o[i], types[i]))) {
            held_free(h);
            return -1;
        }
        if (held_len(h, h->n - 1) != held_len(h, 0)) {
            held_free(h);
            PyErr_Format(PyExc_ValueError, "stacks.%s: lengths differ", fn);
            return -1;
        }
    }
    return 0;
}

/* lastin(keys, off, t, qtask, q0, q1, sel) -> int64 per query: the task's last element j with
 * t[j] <= q1, if t[j] >= q0; else -1 (and -1 where sel is false). */
static PyObject *py_lastin(PyObject *self, PyObject *args)
{
    PyObject *o[7];
    if (!PyArg_ParseTuple(args, "OOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6]))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *keys = held_get(&h, o[0], NPY_INT64);
    const int64_t *off = keys ? held_get(&h, o[1], NPY_INT64) : NULL;
    const int64_t *t = off ? held_get(&h, o[2], NPY_INT64) : NULL;
    const int64_t *qtask = t ? held_get(&h, o[3], NPY_INT64) : NULL;
    const int64_t *q0 = qtask ? held_get(&h, o[4], NPY_INT64) : NULL;
    const int64_t *q1 = q0 ? held_get(&h, o[5], NPY_INT64) : NULL;
    const npy_bool *sel = q1 ? held_get(&h, o[6], NPY_BOOL) : NULL;
    if (!sel) {
        held_free(&h);
        return NULL;
    }
    npy_intp nk = held_len(&h, 0), m = held_len(&h, 2), n = held_len(&h, 3);
    if (held_len(&h, 1) != nk + 1 || held_len(&h, 4) != n || held_len(&h, 5) != n ||
        held_len(&h, 6) != n || (nk && (off[0] < 0 || off[nk] > m))) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.lastin: inconsistent lengths");
        return NULL;
    }
    npy_intp dims[1] = {n};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64);
    if (!out) {
        held_free(&h);
        return NULL;
    }
    int64_t *r = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    int64_t last_task = 0, g = -1;
    int have = 0;
    for (npy_intp i = 0; i < n; i++) {
        r[i] = -1;
        if (!sel[i])
            continue;
        if (!have || qtask[i] != last_task) {
            last_task = qtask[i];
            g = group_of(keys, nk, last_task);
            have = 1;
        }
        if (g < 0)
            continue;
        int64_t j = last_le(t, off[g], off[g + 1], q1[i]);
        if (j >= 0 && t[j] >= q0[i])
            r[i] = j;
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    return (PyObject *)out;
}

/* ------------------------------------------------------------------ the end of the rebuild
 *
 * calls.py build_table orders the machine's calls and fills their columns.  At 5M calls each
 * call-length numpy temporary costs its compute plus the page faults of fresh memory (~40 ms
 * for 40 MB on the benchmark VM): these passes do in one sweep what took several numpy steps,
 * writing into the caller's own arrays where the result replaces an input. */

/* one column the function writes in place: exactly ``type``, C-contiguous, writable (a
 * converted copy would take the writes silently); held like held_get's */
static void *held_inplace(Held *h, PyObject *o, int type, npy_intp n, const char *fn)
{
    if (!PyArray_Check(o) || PyArray_TYPE((PyArrayObject *)o) != type ||
        PyArray_NDIM((PyArrayObject *)o) != 1 || !PyArray_ISCARRAY((PyArrayObject *)o)) {
        held_free(h);
        PyErr_Format(PyExc_TypeError, "stacks.%s: a column written in place has the wrong type", fn);
        return NULL;
    }
    if (PyArray_DIM((PyArrayObject *)o, 0) != n) {
        held_free(h);
        PyErr_Format(PyExc_ValueError, "stacks.%s: lengths differ", fn);
        return NULL;
    }
    Py_INCREF(o);
    h->a[h->n++] = (PyArrayObject *)o;
    return PyArray_DATA((PyArrayObject *)o);
}

/* the length of a one-dimensional array, else 0 (held_inplace then refuses it): a 0-d array
 * has no dimensions to read (PyArray_DIM(a, 0) would read through NULL) */
static npy_intp len1(PyObject *o)
{
    return PyArray_Check(o) && PyArray_NDIM((PyArrayObject *)o) == 1 ? PyArray_DIM((PyArrayObject *)o, 0)
                                                                     : 0;
}

/* valid_range(ce, cx) -> (min ce, max cx) over the calls with a usable time range (ce >= 0,
 * cx >= ce), or None without one: offcpu.py's time span of the calls, in one read of the two
 * columns (no mask per chunk). */
static PyObject *py_valid_range(PyObject *self, PyObject *args)
{
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1]))
        return NULL;
    Held h = {{0}, 0};
    static const int types[2] = {NPY_INT64, NPY_INT64};
    const void *p[2];
    if (held_columns(&h, o, types, 2, p, "valid_range") < 0)
        return NULL;
    const int64_t *ce = p[0], *cx = p[1];
    npy_intp n = held_len(&h, 0);
    int64_t lo = INT64_MAX, hi = -1;
    int any = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        int64_t e = ce[i], x = cx[i];
        if (e >= 0 && x >= e) {
            any = 1;
            lo = e < lo ? e : lo;
            hi = x > hi ? x : hi;
        }
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    if (!any)
        Py_RETURN_NONE;
    return Py_BuildValue("(LL)", (long long)lo, (long long)hi);
}

/* ------------------------------------------------------------------ off-CPU times, merged
 *
 * offcpu.py's per-call F(exit) - F(entry) for the sleeping and the runnable intervals at once.
 * A binary search of the task's whole interval list for each time (what the former cumspan
 * did: four searches of ~11 steps a call on the benchmark trace, 0.12 s at 5M calls) is not
 * needed.  The calls come in entry order, so
 * a task's calls come with non-decreasing entries (nearly always: the search below is right
 * whatever the order), and a call's exit is at or after its entry: a per-task cursor, moved
 * from where the task's previous entry was found, finds the entry's interval in a step or two,
 * and the exit's is searched from the entry's (few calls span a context switch).  The indexes
 * found are those of last_le: the outputs are those of the binary searches
 * (tests/test_offcpu_merge.py keeps them as the numpy reference). */

/* last_le(t, lo, hi, q), searched outwards from a hint h (doubling steps, then a binary
 * search between the last two probes) */
static int64_t last_le_from(const int64_t *t, int64_t lo, int64_t hi, int64_t h, int64_t q)
{
    if (h < lo || h >= hi)
        return last_le(t, lo, hi, q);
    if (t[h] <= q) {
        /* the answer is in [h, hi): t[good] <= q */
        int64_t good = h, step = 1, probe = h + 1;
        while (probe < hi && t[probe] <= q) {
            good = probe;
            step <<= 1;
            probe = h + step;
        }
        int64_t j = last_le(t, good + 1, probe < hi ? probe : hi, q);
        return j < 0 ? good : j;
    }
    /* the answer is in [lo, h): t[bad] > q */
    int64_t bad = h, step = 1, probe = h - 1;
    while (probe >= lo && t[probe] > q) {
        bad = probe;
        step <<= 1;
        probe = h - step;
    }
    return last_le(t, probe >= lo ? probe : lo, bad, q);
}

/* One kind of off-CPU interval (sleeping or runnable): the intervals of task keys[g] are
 * [off[g], off[g+1]) sorted by start, before[i] the summed length of the task's intervals
 * before i, F(t) = before[i] + min(t, end[i]) - start[i] for the task's last interval i with
 * start <= t (0 if none); and per
 * task key the interval where its last entry time was found (``at``, -1 before the first
 * search) with the times that interval's F is read from: [lo_t, hi_t) are the times whose
 * last interval it is (its start, the next one's start), ``end`` its end. */
typedef struct {
    int64_t at, lo_t, hi_t, end;
} SpanAt;

typedef struct {
    const int64_t *off, *start, *end, *before;
    SpanAt *cur; /* per task key */
} Spans;

/* F(q) for the task's group g, searched from index *h (the index found is left in *h: the
 * group's first one when no interval starts at or before q) */
static inline int64_t spans_f(const Spans *s, int64_t g, int64_t *h, int64_t q)
{
    int64_t lo = s->off[g], hi = s->off[g + 1];
    int64_t j = last_le_from(s->start, lo, hi, *h, q);
    *h = j < 0 ? lo : j;
    return j < 0 ? 0 : s->before[j] + (q < s->end[j] ? q : s->end[j]) - s->start[j];
}

/* F(x) - F(e) for e <= x in the task's group g */
static inline int64_t spans_diff(const Spans *s, int64_t g, int64_t e, int64_t x)
{
    SpanAt *c = &s->cur[g];
    if (c->lo_t <= e && x < c->hi_t) {
        /* (most calls) both in the interval found last time: no search; before the first
         * interval, end is INT64_MIN and the difference 0 */
        int64_t a = x < c->end ? x : c->end, b = e < c->end ? e : c->end;
        return a - b;
    }
    int64_t lo = s->off[g], hi = s->off[g + 1];
    int64_t h = c->at;
    int64_t f0 = spans_f(s, g, &h, e);
    int64_t j = h; /* (the group's first when none starts at or before e) */
    if (s->start[j] <= e) {
        c->lo_t = s->start[j];
        c->end = s->end[j];
    } else {
        c->lo_t = INT64_MIN;
        c->end = INT64_MIN;
        j = lo - 1;
    }
    c->hi_t = j + 1 < hi ? s->start[j + 1] : INT64_MAX;
    c->at = h;
    /* the exit's search starts at the entry's interval */
    return spans_f(s, g, &h, x) - f0;
}

/* offspans(keys, off_s, start_s, end_s, before_s, off_r, start_r, end_r, before_r,
 *          pid, cpu, ctx, ce, cx, task_ctx, out_s, out_r) -> None
 * Per call i, its task key (pid, or -(cpu + 2) for pid <= 0, as calls.task_keys): no usable
 * time (ce < 0 or cx < ce) -> -1 in both outputs; ctx != task_ctx (an interrupt's call, which
 * does not sleep) -> 0; a task without intervals -> 0; else F(cx) - F(ce) of each kind.  Only
 * the values that are not 0 are written: the outputs are the caller's zeroed columns, whose
 * pages stay untouched where the calls never leave the CPU. */
static PyObject *py_offspans(PyObject *self, PyObject *args)
{
    PyObject *o[17];
    long long task_ctx;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOLOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5],
                          &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &task_ctx,
                          &o[15], &o[16]))
        return NULL;
    Held h = {{0}, 0};
    const int types[14] = {NPY_INT64, NPY_INT64, NPY_INT64, NPY_INT64, NPY_INT64,
                           NPY_INT64, NPY_INT64, NPY_INT64, NPY_INT64, NPY_INT32,
                           NPY_INT16, NPY_INT8,  NPY_INT64, NPY_INT64};
    const void *p[14];
    for (int k = 0; k < 14; k++)
        if (!(p[k] = held_get(&h, o[k], types[k]))) {
            held_free(&h);
            return NULL;
        }
    npy_intp nk = held_len(&h, 0), n = held_len(&h, 9);
    npy_intp ms = held_len(&h, 2), mr = held_len(&h, 6);
    const int64_t *keys = p[0], *off_s = p[1], *off_r = p[5];
    int ok = held_len(&h, 1) == nk + 1 && held_len(&h, 3) == ms && held_len(&h, 4) == ms &&
             held_len(&h, 5) == nk + 1 && held_len(&h, 7) == mr && held_len(&h, 8) == mr &&
             held_len(&h, 10) == n && held_len(&h, 11) == n && held_len(&h, 12) == n &&
             held_len(&h, 13) == n;
    /* every group's bounds inside its list, in order (the searches read between them) */
    for (npy_intp g = 0; ok && g < nk; g++)
        ok = off_s[g] >= 0 && off_s[g] <= off_s[g + 1] && off_s[g + 1] <= ms && off_r[g] >= 0 &&
             off_r[g] <= off_r[g + 1] && off_r[g + 1] <= mr;
    if (!ok) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.offspans: inconsistent lengths");
        return NULL;
    }
    int64_t *rs = held_inplace(&h, o[15], NPY_INT64, n, "offspans");
    int64_t *rr = rs ? held_inplace(&h, o[16], NPY_INT64, n, "offspans") : NULL;
    if (!rr)
        return NULL;
    SpanAt *cur = PyMem_RawMalloc((size_t)(2 * nk + 2) * sizeof(SpanAt));
    if (!cur) {
        held_free(&h);
        return PyErr_NoMemory();
    }
    for (npy_intp g = 0; g < 2 * nk; g++) {
        /* nothing found yet: the first search is a binary one, the fast path never taken */
        cur[g].at = -1;
        cur[g].lo_t = INT64_MAX;
        cur[g].hi_t = INT64_MIN;
        cur[g].end = 0;
    }
    Spans ss = {off_s, p[2], p[3], p[4], cur}, sr = {off_r, p[6], p[7], p[8], cur + nk};
    const int32_t *pid = p[9];
    const int16_t *cpu = p[10];
    const int8_t *ctx = p[11];
    const int64_t *ce = p[12], *cx = p[13];
    Py_BEGIN_ALLOW_THREADS
    int64_t last_task = 0, g = -1;
    int have = 0;
    for (npy_intp i = 0; i < n; i++) {
        int64_t e = ce[i], x = cx[i];
        if (e < 0 || x < e) {
            rs[i] = rr[i] = -1;
            continue;
        }
        if (ctx[i] != task_ctx)
            continue;
        int64_t task = pid[i] > 0 ? (int64_t)pid[i] : -((int64_t)cpu[i] + 2);
        if (!have || task != last_task) {
            last_task = task;
            g = group_of(keys, nk, task);
            have = 1;
        }
        if (g < 0)
            continue;
        int64_t v;
        if (ss.off[g] < ss.off[g + 1] && (v = spans_diff(&ss, g, e, x)))
            rs[i] = v;
        if (sr.off[g] < sr.off[g + 1] && (v = spans_diff(&sr, g, e, x)))
            rr[i] = v;
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(cur);
    held_free(&h);
    Py_RETURN_NONE;
}

/* depth_marks(kdepth, parent, interrupted, flags, ctx, task_ctx, repair) -> (bad, causes...)
 * calls.depth_check in one pass (its numpy steps: tests/test_depth_marks.py keeps them as the
 * reference).  Per call: the kernel depth expected from the rebuilt nesting is the parent's
 * plus one, else the interrupted call's plus one (an interrupt root), else 0 (a task root);
 * -1 (not checked) when that call's kernel depth is unknown.  A call whose known kernel depth
 * differs is marked DEPTH_MISMATCH in ``flags`` (in place: only that bit is set, never a
 * repair bit, so the parents' repair bits read later are as they were) and counted by cause:
 * (bad, ancestors_not_traced, repair, entry_in_flight, exit_in_flight, interrupt).  A parent
 * or interrupted id past the table is an IndexError, as numpy's gather was. */
static PyObject *py_depth_marks(PyObject *self, PyObject *args)
{
    PyObject *o[5];
    int task_ctx, repair;
    if (!PyArg_ParseTuple(args, "OOOOOii", &o[0], &o[1], &o[2], &o[3], &o[4], &task_ctx, &repair))
        return NULL;
    Held h = {{0}, 0};
    const int32_t *kd = held_get(&h, o[0], NPY_INT32);
    const int64_t *par = kd ? held_get(&h, o[1], NPY_INT64) : NULL;
    const int64_t *itr = par ? held_get(&h, o[2], NPY_INT64) : NULL;
    const int8_t *ctx = itr ? held_get(&h, o[4], NPY_INT8) : NULL;
    if (!ctx) {
        held_free(&h);
        return NULL;
    }
    npy_intp n = held_len(&h, 0);
    if (held_len(&h, 1) != n || held_len(&h, 2) != n || held_len(&h, 3) != n) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.depth_marks: lengths differ");
        return NULL;
    }
    uint16_t *fl = held_inplace(&h, o[3], NPY_UINT16, n, "depth_marks");
    if (!fl)
        return NULL;
    int64_t c[6] = {0, 0, 0, 0, 0, 0};
    int range_error = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        int64_t p = par[i], q = itr[i];
        int has_parent = p >= 0, task_root = !has_parent && q < 0;
        int64_t k = kd[i], expected;
        if (task_root) {
            expected = 0;
        } else {
            int64_t up = has_parent ? p : q;
            if (up >= n) {
                range_error = 1;
                break;
            }
            int32_t ek = kd[up];
            /* (in the column's int32, as numpy's ek + 1) */
            expected = ek >= 0 ? (int64_t)(int32_t)((uint32_t)ek + 1u) : -1;
        }
        if (k < 0 || expected < 0 || k == expected)
            continue;
        fl[i] |= CF_DEPTH_MISMATCH;
        c[0]++;
        int repaired = (fl[i] & repair) != 0;
        int prep = has_parent && (fl[p] & repair) != 0;
        if (task_root) {
            if (!repaired)
                c[1]++;
        }
        if (repaired || prep) {
            c[2]++;
        } else if (!task_root) {
            if (k == expected + 1)
                c[3]++;
            else if (k == expected - 1)
                c[4]++;
            else if (ctx[i] != task_ctx)
                c[5]++;
        }
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    if (range_error) {
        PyErr_SetString(PyExc_IndexError, "stacks.depth_marks: a parent or interrupted id past the table");
        return NULL;
    }
    return Py_BuildValue("(LLLLLL)", (long long)c[0], (long long)c[1], (long long)c[2],
                         (long long)c[3], (long long)c[4], (long long)c[5]);
}

/* a fresh int64 array of the first k values of ``src`` */
static PyObject *int64_prefix(const int64_t *src, npy_intp k)
{
    npy_intp dims[1] = {k};
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64);
    if (a && k)
        memcpy(PyArray_DATA(a), src, (size_t)k * sizeof(int64_t));
    return (PyObject *)a;
}

/* (x[:nx], y[:ny]) as two fresh int64 arrays, x and y freed either way: the tuple, or NULL
 * with the error set (MemoryError when ``nomem``: the pass ran out of memory) */
static PyObject *int64_pair(int64_t *x, npy_intp nx, int64_t *y, npy_intp ny, int nomem)
{
    PyObject *a = nomem ? NULL : int64_prefix(x, nx);
    PyObject *b = a ? int64_prefix(y, ny) : NULL;
    free(x);
    free(y);
    if (!b) {
        Py_XDECREF(a);
        return nomem ? PyErr_NoMemory() : NULL;
    }
    return Py_BuildValue("(NN)", a, b);
}

/* overfull(parent, interrupted, dur, kdepth, tol, acc=None, zero=False) -> int64 rows, sorted: the calls
 * with dur >= 0, kdepth >= 0 and children + interrupts (their durations, negative ones
 * counting 0) longer than dur + tol.  calls.py _fix_overfull's test, with one sum a call
 * instead of two call-length sums and the numpy masks.  With ``acc`` (int64,
 * zeros: np.zeros' fresh pages need no clearing pass) the sums are added into it and left
 * there: the caller updates them after a repair; with ``zero`` acc is any int64 array, cleared
 * here first; with ``summed`` acc holds the sums already (child_sums), only tested. */
static PyObject *py_overfull(PyObject *self, PyObject *args)
{
    PyObject *o[4], *oa = Py_None;
    long long tol;
    int zero = 0; /* acc is cleared first (a spare array's memory: see calls.py build_table) */
    int summed = 0; /* acc holds the sums already (child_sums): only the test */
    if (!PyArg_ParseTuple(args, "OOOOL|Opp", &o[0], &o[1], &o[2], &o[3], &tol, &oa, &zero,
                          &summed))
        return NULL;
    if (summed && oa == Py_None) {
        PyErr_SetString(PyExc_ValueError, "stacks.overfull: summed needs acc");
        return NULL;
    }
    Held h = {{0}, 0};
    static const int types[4] = {NPY_INT64, NPY_INT64, NPY_INT64, NPY_INT32};
    const void *p[4];
    if (held_columns(&h, o, types, 4, p, "overfull") < 0)
        return NULL;
    const int64_t *par = p[0], *irq = p[1], *dur = p[2];
    const int32_t *kd = p[3];
    npy_intp n = held_len(&h, 0);
    int64_t *acc;
    if (oa != Py_None) {
        if (!(acc = held_inplace(&h, oa, NPY_INT64, n, "overfull")))
            return NULL;
    } else if (!(acc = calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t)))) {
        held_free(&h);
        return PyErr_NoMemory();
    }
    npy_intp k = 0;
    /* the rows found: written over the sums already read (k <= i), or when the sums are kept
     * into a buffer of their own (few rows) */
    int64_t *rows = oa == Py_None ? acc : NULL, cap = 0;
    int nomem = 0;
    Py_BEGIN_ALLOW_THREADS
    if (zero && !summed && oa != Py_None)
        memset(acc, 0, (size_t)n * sizeof(int64_t));
    for (npy_intp i = 0; i < n && !summed; i++) {
        int64_t d = dur[i] > 0 ? dur[i] : 0;
        if (par[i] >= 0 && par[i] < n)
            acc[par[i]] += d;
        if (irq[i] >= 0 && irq[i] < n)
            acc[irq[i]] += d;
    }
    for (npy_intp i = 0; i < n; i++)
        if (dur[i] >= 0 && kd[i] >= 0 && acc[i] > dur[i] + tol) {
            if (oa != Py_None && grow((void **)&rows, &cap, k + 1, sizeof(int64_t)) < 0) {
                nomem = 1;
                break;
            }
            rows[k++] = i;
        }
    Py_END_ALLOW_THREADS
    held_free(&h);
    PyObject *out = nomem ? PyErr_NoMemory() : int64_prefix(rows, k);
    if (oa == Py_None)
        free(acc);
    else
        free(rows);
    return out;
}

/* call_counts(flags, self, ctx, irq_ns, flag_bits, ctx_codes, repair) -> (flagged, in_ctx,
 * traced, certain, irq_total): quality.py per_call_counts in one pass.  flagged: per bit of
 * the flag_bits sequence, the calls with that bit; in_ctx: per code of ctx_codes, the calls of
 * that context; traced: the sum of the positive self times; certain: the part of it in calls
 * without a repair bit; irq_total: the sum of irq_ns (0 when irq_ns is None).  Sums wrap as
 * numpy's int64 sums do. */
#define COUNTS_MAX 16
static PyObject *py_call_counts(PyObject *self, PyObject *args)
{
    PyObject *o[4], *ofb, *occ;
    int repair;
    if (!PyArg_ParseTuple(args, "OOOOOOi", &o[0], &o[1], &o[2], &o[3], &ofb, &occ, &repair))
        return NULL;
    long fb[COUNTS_MAX], cc[COUNTS_MAX];
    Py_ssize_t nf = 0, nc = 0;
    PyObject *seqs[2] = {ofb, occ};
    long *outs[2] = {fb, cc};
    Py_ssize_t *lens[2] = {&nf, &nc};
    for (int k = 0; k < 2; k++) {
        PyObject *t = PySequence_Fast(seqs[k], "stacks.call_counts: a sequence of ints");
        if (!t)
            return NULL;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(t);
        if (m > COUNTS_MAX) {
            Py_DECREF(t);
            PyErr_SetString(PyExc_ValueError, "stacks.call_counts: too many bits or codes");
            return NULL;
        }
        for (Py_ssize_t j = 0; j < m; j++) {
            outs[k][j] = PyLong_AsLong(PySequence_Fast_GET_ITEM(t, j));
            if (outs[k][j] == -1 && PyErr_Occurred()) {
                Py_DECREF(t);
                return NULL;
            }
        }
        *lens[k] = m;
        Py_DECREF(t);
    }
    Held h = {{0}, 0};
    static const int types[4] = {NPY_UINT16, NPY_INT64, NPY_INT8, NPY_INT64};
    const void *p[4] = {NULL, NULL, NULL, NULL};
    /* (irq_ns None: not summed, irq_total 0) */
    if (held_columns(&h, o, types, o[3] == Py_None ? 3 : 4, p, "call_counts") < 0)
        return NULL;
    const uint16_t *fl = p[0];
    const int64_t *sn = p[1], *irq = p[3];
    const int8_t *cx = p[2];
    npy_intp n = held_len(&h, 0);
    int64_t fcount[COUNTS_MAX] = {0}, ccount[COUNTS_MAX] = {0};
    /* the contexts counted in four interleaved tallies of every value (one tally would make
     * each row wait for the previous row's increment of the same context) */
    int64_t (*tally)[256] = calloc(4, sizeof *tally);
    if (!tally) {
        held_free(&h);
        return PyErr_NoMemory();
    }
    /* (unsigned: wrapping sums without overflow UB, as numpy's int64 sums wrap) */
    uint64_t traced = 0, certain = 0, itot = 0;
    uint16_t rep = (uint16_t)repair;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        uint16_t f = fl[i];
        if (f) /* (most calls have no flag) */
            for (Py_ssize_t j = 0; j < nf; j++)
                fcount[j] += (f & (uint16_t)fb[j]) != 0;
        tally[i & 3][(uint8_t)cx[i]]++;
        uint64_t v = sn[i] > 0 ? (uint64_t)sn[i] : 0;
        traced += v;
        certain += (f & rep) ? 0 : v;
        if (irq)
            itot += (uint64_t)irq[i];
    }
    Py_END_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < nc; j++)
        for (int t = 0; t < 4; t++)
            ccount[j] += tally[t][(uint8_t)(int8_t)cc[j]];
    free(tally);
    held_free(&h);
    PyObject *lf = PyList_New(nf), *lc = lf ? PyList_New(nc) : NULL;
    if (!lc) {
        Py_XDECREF(lf);
        return NULL;
    }
    for (Py_ssize_t j = 0; j < nf; j++)
        PyList_SET_ITEM(lf, j, PyLong_FromLongLong((long long)fcount[j]));
    for (Py_ssize_t j = 0; j < nc; j++)
        PyList_SET_ITEM(lc, j, PyLong_FromLongLong((long long)ccount[j]));
    for (Py_ssize_t j = 0; j < nf; j++)
        if (!PyList_GET_ITEM(lf, j)) {
            Py_DECREF(lf);
            Py_DECREF(lc);
            return NULL;
        }
    for (Py_ssize_t j = 0; j < nc; j++)
        if (!PyList_GET_ITEM(lc, j)) {
            Py_DECREF(lf);
            Py_DECREF(lc);
            return NULL;
        }
    return Py_BuildValue("(NNLLL)", lf, lc, (long long)traced, (long long)certain, (long long)itot);
}

/* child_sums(parent, interrupted, dur, acc, lo, hi, zero) -> (targets, values): overfull's
 * sums for the calls in [lo, hi): each call's duration (negative ones counting 0) added to its
 * parent's and its interrupted call's sum in acc when that call is in [lo, hi) too, else
 * listed (targets, values) for the caller to add.  Two threads, each on its half of the table,
 * write disjoint parts of acc (the caller adds the few lists after both: a parent after its
 * child, or one before the half's start); ``zero``: [lo, hi) of acc cleared first. */
static PyObject *py_child_sums(PyObject *self, PyObject *args)
{
    PyObject *o[3], *oa;
    Py_ssize_t lo, hi;
    int zero = 0;
    if (!PyArg_ParseTuple(args, "OOOOnn|p", &o[0], &o[1], &o[2], &oa, &lo, &hi, &zero))
        return NULL;
    Held h = {{0}, 0};
    static const int types[3] = {NPY_INT64, NPY_INT64, NPY_INT64};
    const void *p[3];
    if (held_columns(&h, o, types, 3, p, "child_sums") < 0)
        return NULL;
    const int64_t *par = p[0], *irq = p[1], *dur = p[2];
    npy_intp n = held_len(&h, 0);
    int64_t *acc = held_inplace(&h, oa, NPY_INT64, n, "child_sums");
    if (!acc)
        return NULL;
    /* [lo, hi) clamped to [0, n]: lo past the end would make acc + from (the clear below, of
     * no bytes) point beyond the array, undefined even when nothing is written */
    npy_intp from = lo > 0 ? (lo < (Py_ssize_t)n ? (npy_intp)lo : n) : 0;
    npy_intp to = hi < (Py_ssize_t)n ? (npy_intp)hi : n;
    if (to < from)
        to = from;
    int64_t *tg = NULL, *vl = NULL, ct = 0, cv = 0, k = 0;
    int nomem = 0;
    Py_BEGIN_ALLOW_THREADS
    if (zero)
        memset(acc + from, 0, (size_t)(to - from) * sizeof(int64_t));
    for (npy_intp i = from; i < to && !nomem; i++) {
        int64_t d = dur[i] > 0 ? dur[i] : 0;
        int64_t q[2] = {par[i], irq[i]};
        for (int j = 0; j < 2; j++) {
            int64_t t = q[j];
            if (t < 0 || t >= n)
                continue;
            if (t >= from && t < to) {
                acc[t] = (int64_t)((uint64_t)acc[t] + (uint64_t)d);
            } else if (grow((void **)&tg, &ct, k + 1, sizeof(int64_t)) < 0 ||
                       grow((void **)&vl, &cv, k + 1, sizeof(int64_t)) < 0) {
                nomem = 1;
                break;
            } else {
                tg[k] = t;
                vl[k++] = d;
            }
        }
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    return int64_pair(tg, k, vl, k, nomem);
}

/* clear(a): a's bytes set to zero, the GIL released (build_table clears the arrays stacks.times
 * will write in a second thread, beside the tree pass) */
static PyObject *py_clear(PyObject *self, PyObject *args)
{
    PyArrayObject *a;
    if (!PyArg_ParseTuple(args, "O!", &PyArray_Type, &a))
        return NULL;
    if (!PyArray_ISCARRAY(a)) {
        PyErr_SetString(PyExc_ValueError, "stacks.clear: a writable contiguous array");
        return NULL;
    }
    void *p = PyArray_DATA(a);
    size_t nb = (size_t)PyArray_NBYTES(a);
    Py_BEGIN_ALLOW_THREADS
    memset(p, 0, nb);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* members(parent, interrupted, rows, lo=0, hi=len) -> (kids, irqs): the calls whose parent is
 * one of ``rows`` and those whose interrupted call is, each sorted (a bitmap of the rows
 * instead of numpy's call-length gathers of a mark array); only the calls in [lo, hi) (the
 * caller may split the table between threads: the pass releases the GIL). */
static PyObject *py_members(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Py_ssize_t lo = 0, hi = PY_SSIZE_T_MAX; /* the rows looked at: [lo, hi) */
    if (!PyArg_ParseTuple(args, "OOO|nn", &o[0], &o[1], &o[2], &lo, &hi))
        return NULL;
    Held h = {{0}, 0};
    static const int types[2] = {NPY_INT64, NPY_INT64};
    const void *p[2];
    if (held_columns(&h, o, types, 2, p, "members") < 0)
        return NULL;
    const int64_t *par = p[0], *irq = p[1];
    npy_intp n = held_len(&h, 0);
    const int64_t *rows = held_get(&h, o[2], NPY_INT64);
    if (!rows) {
        held_free(&h);
        return NULL;
    }
    npy_intp nr = held_len(&h, 2);
    uint8_t *bits = calloc((size_t)n / 8 + 1, 1);
    if (!bits) {
        held_free(&h);
        return PyErr_NoMemory();
    }
    for (npy_intp k = 0; k < nr; k++)
        if (rows[k] >= 0 && rows[k] < n)
            bits[rows[k] >> 3] |= (uint8_t)(1u << (rows[k] & 7));
#define IN_ROWS(v) ((v) >= 0 && (v) < n && (bits[(v) >> 3] >> ((v) & 7) & 1))
    int64_t *kp = NULL, *ip = NULL, ck = 0, ci = 0, nk = 0, ni = 0;
    int nomem = 0;
    npy_intp from = lo > 0 ? (npy_intp)lo : 0, to = hi < (Py_ssize_t)n ? (npy_intp)hi : n;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = from; i < to && !nomem; i++) {
        if (IN_ROWS(par[i])) {
            if (grow((void **)&kp, &ck, nk + 1, sizeof(int64_t)) < 0)
                nomem = 1;
            else
                kp[nk++] = i;
        }
        if (IN_ROWS(irq[i])) {
            if (grow((void **)&ip, &ci, ni + 1, sizeof(int64_t)) < 0)
                nomem = 1;
            else
                ip[ni++] = i;
        }
    }
    Py_END_ALLOW_THREADS
#undef IN_ROWS
    free(bits);
    held_free(&h);
    return int64_pair(kp, nk, ip, ni, nomem);
}

/* whether array ``o``'s memory overlaps one of the arrays h holds (an output written over an
 * input, or over another output, would be read back half-written: garbage, silently) */
static int held_overlaps(const Held *h, PyObject *o)
{
    if (!PyArray_Check(o))
        return 0;
    PyArrayObject *a = (PyArrayObject *)o;
    const char *lo = PyArray_DATA(a), *hi = lo + PyArray_NBYTES(a);
    for (int k = 0; k < h->n; k++) {
        const char *l2 = PyArray_DATA(h->a[k]), *h2 = l2 + PyArray_NBYTES(h->a[k]);
        if (lo < h2 && l2 < hi)
            return 1;
    }
    return 0;
}

/* times(parent, interrupted, duration, ts_entry, ts_exit, flags) -> (self, irq_ns), the
 * duration completed in place.  Calls are ordered parents before children.  Per call, what
 * build_table did in four steps:
 *  - a call without an exit duration (< 0) lasted ts_exit - ts_entry when both are known,
 *    else -1;
 *  - a truncated call (flags & TRUNCATED) lasted at least as long as its children together
 *    (its children after it); one backward pass sees every such child first, and the sum
 *    is collected on the way;
 *  - irq_ns: the interrupts' durations, self: duration - children - interrupts (negative
 *    durations counting 0), -1 where the duration is unknown. */
static PyObject *py_times(PyObject *self, PyObject *args)
{
    PyObject *o[6], *os = Py_None, *oi = Py_None, *orng = Py_None;
    int cleared = 0; /* self_out and irq_out hold zeros already (cleared beside the build) */
    if (!PyArg_ParseTuple(args, "OOOOOO|OOOp", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &os, &oi,
                          &orng, &cleared))
        return NULL;
    /* rng (int64, 4): [whether some call has a usable time range, valid_range's min entry,
     * max exit, the sum of irq_ns], taken on the way (offcpu.py's time span and the quality
     * report's interrupt time, without passes of their own) */
    if (orng != Py_None &&
        (!PyArray_Check(orng) || PyArray_TYPE((PyArrayObject *)orng) != NPY_INT64 ||
         PyArray_NDIM((PyArrayObject *)orng) != 1 || PyArray_DIM((PyArrayObject *)orng, 0) != 4 ||
         !PyArray_ISCARRAY((PyArrayObject *)orng))) {
        PyErr_SetString(PyExc_TypeError, "stacks.times: rng must be a writable int64 array of 4");
        return NULL;
    }
    Held h = {{0}, 0};
    static const int types[2] = {NPY_INT64, NPY_INT64};
    const void *p[2];
    if (held_columns(&h, o, types, 2, p, "times") < 0)
        return NULL;
    const int64_t *par = p[0], *irq = p[1];
    npy_intp n = held_len(&h, 0);
    int64_t *dur = held_inplace(&h, o[2], NPY_INT64, n, "times");
    if (!dur)
        return NULL;
    const int64_t *t0 = held_get(&h, o[3], NPY_INT64);
    const int64_t *t1 = t0 ? held_get(&h, o[4], NPY_INT64) : NULL;
    const uint16_t *fl = t1 ? held_get(&h, o[5], NPY_UINT16) : NULL;
    if (!fl) {
        held_free(&h);
        return NULL;
    }
    if (held_len(&h, 3) != n || held_len(&h, 4) != n || held_len(&h, 5) != n) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.times: lengths differ");
        return NULL;
    }
    npy_intp dims[1] = {n};
    /* self and irq_ns made in the caller's spare arrays when given (their memory is reused,
     * not fresh): distinct arrays, sharing no memory with an input (refused, see held_overlaps) */
    PyArrayObject *ca = NULL, *ia = NULL;
    if (os != Py_None && held_overlaps(&h, os)) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.times: self_out shares memory with an input");
        return NULL;
    }
    if (os != Py_None) {
        if (!held_inplace(&h, os, NPY_INT64, n, "times"))
            return NULL;
        ca = (PyArrayObject *)os;
        Py_INCREF(ca);
        if (!cleared)
            memset(PyArray_DATA(ca), 0, (size_t)n * sizeof(int64_t));
    } else {
        ca = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_INT64, 0);
    }
    if (oi != Py_None && oi != os) {
        if (held_overlaps(&h, oi)) { /* (self_out, when given, is held by now) */
            Py_XDECREF(ca);
            held_free(&h);
            PyErr_SetString(PyExc_ValueError, "stacks.times: irq_out shares memory with an input or self_out");
            return NULL;
        }
        if (!held_inplace(&h, oi, NPY_INT64, n, "times")) {
            Py_XDECREF(ca);
            return NULL;
        }
        ia = (PyArrayObject *)oi;
        Py_INCREF(ia);
        if (!cleared)
            memset(PyArray_DATA(ia), 0, (size_t)n * sizeof(int64_t));
    } else {
        ia = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_INT64, 0);
    }
    if (!ca || !ia) {
        Py_XDECREF(ca);
        Py_XDECREF(ia);
        held_free(&h);
        return NULL;
    }
    int64_t *cs = PyArray_DATA(ca), *is = PyArray_DATA(ia);
    int64_t rlo = INT64_MAX, rhi = -1, rany = 0;
    uint64_t itot = 0; /* (unsigned: wraps as numpy's int64 sum of irq_ns) */
    /* One backward pass.  At row i every call after it is done, so cs[i] and is[i] hold what
     * its children and interrupts after it add up to (a truncated call's floor), and with
     * parents and interrupted calls before their calls (the rebuild's order) all of it, so
     * self is made there, over cs[i].  What a call adds to a row already done (a parent or an interrupted
     * call after it) is taken off that row's self directly. */
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = n - 1; i >= 0; i--) {
        int64_t d = dur[i], e = t0[i], x = t1[i];
        if (e >= 0 && x >= e) {
            rany = 1;
            rlo = e < rlo ? e : rlo;
            rhi = x > rhi ? x : rhi;
        }
        if (d < 0)
            d = e >= 0 && x >= 0 ? x - e : -1;
        if ((fl[i] & CF_TRUNCATED) && cs[i] > d)
            d = cs[i];
        dur[i] = d;
        cs[i] = d < 0 ? -1 : d - cs[i] - is[i];
        int64_t c = d > 0 ? d : 0, p = par[i], q = irq[i];
        if (p >= 0 && p < n) {
            if (p < i)
                cs[p] += c;
            else if (dur[p] >= 0) /* done: its self */
                cs[p] -= c;
        }
        if (q >= 0 && q < n) {
            is[q] += c;
            itot += (uint64_t)c;
            if (q >= i && dur[q] >= 0)
                cs[q] -= c;
        }
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    if (orng != Py_None) {
        int64_t *rg = PyArray_DATA((PyArrayObject *)orng);
        rg[0] = rany;
        rg[1] = rany ? rlo : 0;
        rg[2] = rany ? rhi : 0;
        rg[3] = (int64_t)itot;
    }
    return Py_BuildValue("(NN)", ca, ia);
}

/* ---- renumbering call ids after the entry sort moved a few rows: rows src[k] go to moved[k],
 * every other row stays.  A bitmap of the moved rows, and a binary search for the few ids that
 * hit one (instead of an inverse permutation: 8 B a call, read at random). */
typedef struct {
    int64_t from, to;
} Move;

typedef struct {
    Move *mv;
    uint8_t *bits;
    npy_intp k, n;
} Renum;

static int move_cmp(const void *x, const void *y)
{
    int64_t a = ((const Move *)x)->from, b = ((const Move *)y)->from;
    return (a > b) - (a < b);
}

static void renum_free(Renum *R)
{
    free(R->mv);
    free(R->bits);
    R->mv = NULL;
    R->bits = NULL;
}

/* 0, or -1 (no memory; nothing to free) */
static int renum_init(Renum *R, const int64_t *moved, const int64_t *src, npy_intp k, npy_intp n)
{
    R->k = k;
    R->n = n;
    R->mv = malloc((size_t)(k > 0 ? k : 1) * sizeof(Move));
    R->bits = calloc((size_t)n / 8 + 1, 1);
    if (!R->mv || !R->bits) {
        renum_free(R);
        return -1;
    }
    for (npy_intp j = 0; j < k; j++) {
        R->mv[j].from = src[j];
        R->mv[j].to = moved[j];
        if (src[j] >= 0 && src[j] < n)
            R->bits[src[j] >> 3] |= (uint8_t)(1u << (src[j] & 7));
    }
    qsort(R->mv, (size_t)k, sizeof(Move), move_cmp);
    return 0;
}

/* the new id of old id v (-1 stays -1; past the end reads the last row, like np.take's clip) */
static inline int64_t renum(const Renum *R, int64_t v)
{
    if (v < 0)
        return v;
    if (v >= R->n)
        v = R->n - 1;
    if (!(R->bits[v >> 3] >> (v & 7) & 1))
        return v;
    npy_intp lo = 0, hi = R->k;
    while (lo < hi) {
        npy_intp mid = lo + (hi - lo) / 2;
        if (R->mv[mid].from < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return R->mv[lo].to;
}

/* (moved, src) of the caller: None, or both int64 of one length, held */
static int renum_args(Held *h, PyObject *om, PyObject *os, const int64_t **moved,
                      const int64_t **src, npy_intp *k, const char *fn)
{
    *moved = *src = NULL;
    *k = 0;
    if (om == Py_None && os == Py_None)
        return 0;
    if (!(*moved = held_get(h, om, NPY_INT64)) || !(*src = held_get(h, os, NPY_INT64))) {
        held_free(h);
        return -1;
    }
    *k = held_len(h, h->n - 1);
    if (held_len(h, h->n - 2) != *k) {
        held_free(h);
        PyErr_Format(PyExc_ValueError, "stacks.%s: moved and src lengths differ", fn);
        return -1;
    }
    return 0;
}

/* renumber(idx, moved, src): idx[i] = the new row of old row idx[i] (see Renum), in place;
 * idx is written only where it changes. */
static PyObject *py_renumber(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *moved, *src;
    npy_intp k;
    if (renum_args(&h, o[1], o[2], &moved, &src, &k, "renumber") < 0)
        return NULL;
    if (!PyArray_Check(o[0])) {
        held_free(&h);
        PyErr_SetString(PyExc_TypeError, "stacks.renumber: idx must be an int64 array");
        return NULL;
    }
    npy_intp n = len1(o[0]);
    int64_t *idx = held_inplace(&h, o[0], NPY_INT64, n, "renumber");
    if (!idx)
        return NULL;
    Renum R;
    if (renum_init(&R, moved, src, k, n) < 0) {
        held_free(&h);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        int64_t v = renum(&R, idx[i]);
        if (v != idx[i])
            idx[i] = v;
    }
    Py_END_ALLOW_THREADS
    renum_free(&R);
    held_free(&h);
    Py_RETURN_NONE;
}

/* trees(parent, ctx, flags, want=1, interrupted=None, moved=None, src=None) -> (depth int32 or
 * None, root int64 or None, nest), or None when some parent comes after its child: the caller
 * resolves (flags are left as they were; ctx may have been written, but only at calls with a
 * parent, and a root's is what a resolve reads).  With (moved, src) the call ids in parent
 * (and interrupted, when given: with or without ctx, or its ids would be left old while
 * parent's change) are first renumbered in place (see Renum), all of them even when it gives
 * up: one pass instead of renumber's two.  One forward pass (parents before children): with want & 1 the depth, with
 * want & 2 the root; with ``ctx`` (int8, not None) each call's ctx replaced in place by its
 * root's (a tree has one context; a root keeps its own), with ``flags`` (uint16, not None)
 * each call's CTX_BY_NAME bit or'ed with its root's.
 * With ``interrupted`` (and ``ctx``), nest says whether some call r with an interrupted call i
 * may have to move into i's tree (calls.py _nest_lower_interrupts: tree ctx of i not TASK and
 * tree ctx of r <= i's; or i not before r, unknown here); then the parents are not final and
 * ``flags`` is left as it was (the caller or's the roots' bits once they are). */
static PyObject *py_trees(PyObject *self, PyObject *args)
{
    PyObject *o[3], *oi = Py_None, *om = Py_None, *os = Py_None;
    int want = 1;
    if (!PyArg_ParseTuple(args, "OOO|iOOO", &o[0], &o[1], &o[2], &want, &oi, &om, &os))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *moved, *src;
    npy_intp k;
    if (renum_args(&h, om, os, &moved, &src, &k, "trees") < 0)
        return NULL;
    int ren = moved != NULL;
    if (!PyArray_Check(o[0])) {
        held_free(&h);
        PyErr_SetString(PyExc_TypeError, "stacks.trees: parent must be an array");
        return NULL;
    }
    npy_intp n = len1(o[0]);
    /* with (moved, src) the ids are renumbered in place as the pass reads them */
    int64_t *par = ren ? held_inplace(&h, o[0], NPY_INT64, n, "trees")
                       : (int64_t *)held_get(&h, o[0], NPY_INT64);
    if (!par) {
        held_free(&h);
        return NULL;
    }
    int8_t *ctx = NULL;
    uint16_t *fl = NULL;
    int64_t *itr = NULL;
    if (o[1] != Py_None && !(ctx = held_inplace(&h, o[1], NPY_INT8, n, "trees")))
        return NULL;
    if (o[2] != Py_None && !(fl = held_inplace(&h, o[2], NPY_UINT16, n, "trees")))
        return NULL;
    /* (interrupted is renumbered with parent even when no ctx asks for the nesting test) */
    if (oi != Py_None) {
        if (ren) {
            if (!(itr = held_inplace(&h, oi, NPY_INT64, n, "trees")))
                return NULL;
        } else {
            if (!(itr = (int64_t *)held_get(&h, oi, NPY_INT64))) {
                held_free(&h);
                return NULL;
            }
            if (held_len(&h, h.n - 1) != n) {
                held_free(&h);
                PyErr_SetString(PyExc_ValueError, "stacks.trees: lengths differ");
                return NULL;
            }
        }
    }
    Renum R;
    if (ren && renum_init(&R, moved, src, k, n) < 0) {
        held_free(&h);
        return PyErr_NoMemory();
    }
    npy_intp dims[1] = {n};
    PyArrayObject *dep = (want & 1) ? (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT32) : NULL;
    PyArrayObject *root = (want & 2) ? (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64) : NULL;
    /* the root's CTX_BY_NAME, per call (a call's own flag may differ from its root's) */
    uint8_t *rb = fl ? malloc((size_t)(n > 0 ? n : 1)) : NULL;
    if (((want & 1) && !dep) || ((want & 2) && !root) || (fl && !rb)) {
        Py_XDECREF(dep);
        Py_XDECREF(root);
        free(rb);
        if (ren)
            renum_free(&R);
        held_free(&h);
        return PyErr_NoMemory();
    }
    int32_t *d = dep ? PyArray_DATA(dep) : NULL;
    int64_t *r = root ? PyArray_DATA(root) : NULL;
    int nest = 0, any_rb = 0;
    npy_intp bad = -1; /* the first row whose parent comes after it */
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        int64_t q = par[i];
        if (ren && (q = renum(&R, q)) != par[i])
            par[i] = q;
        if (q >= i) {
            bad = i;
            break;
        }
        if (q < 0) {
            if (d)
                d[i] = 0;
            if (r)
                r[i] = i;
            if (rb)
                any_rb |= rb[i] = (fl[i] & CF_CTX_BY_NAME) != 0;
        } else {
            if (d)
                d[i] = d[q] + 1;
            if (r)
                r[i] = r[q];
            if (ctx)
                ctx[i] = ctx[q];
            if (rb)
                rb[i] = rb[q];
        }
        if (itr) {
            int64_t j = itr[i];
            if (ren && (j = renum(&R, j)) != itr[i])
                itr[i] = j;
            /* ctx[j] is final when j < i */
            if (ctx && j >= 0 && (j >= i || (ctx[j] != CTX_TASK && ctx[i] <= ctx[j])))
                nest = 1;
        }
    }
    if (ren && bad >= 0) { /* the caller resolves: renumber the rest */
        for (npy_intp i = bad + 1; i < n; i++)
            par[i] = renum(&R, par[i]);
        for (npy_intp i = bad; itr && i < n; i++)
            itr[i] = renum(&R, itr[i]);
    }
    if (rb && any_rb && !nest && bad < 0)
        for (npy_intp i = 0; i < n; i++)
            if (rb[i])
                fl[i] |= CF_CTX_BY_NAME;
    Py_END_ALLOW_THREADS
    free(rb);
    if (ren)
        renum_free(&R);
    held_free(&h);
    if (bad >= 0) {
        Py_XDECREF(dep);
        Py_XDECREF(root);
        Py_RETURN_NONE;
    }
    PyObject *a = dep ? (PyObject *)dep : Py_NewRef(Py_None);
    PyObject *b = root ? (PyObject *)root : Py_NewRef(Py_None);
    return Py_BuildValue("(NNO)", a, b, nest ? Py_True : Py_False);
}

/* entry_key(order, flags) -> whether it fits: order (int64, written) becomes the sort key
 * 2 * order + (not SYNTH_ENTRY) when every order is within +-2^61 (always, for the machine's
 * places); else nothing is written (what was is undone: key >> 1 is the order again).
 * A stable sort by it orders by (order, synthesized first, creation); tie_order then puts the
 * calls of one place in calls.py _entry_order's order. */
static PyObject *py_entry_key(PyObject *self, PyObject *args)
{
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1]))
        return NULL;
    Held h = {{0}, 0};
    int64_t *ord = held_inplace(&h, o[0], NPY_INT64,
                                len1(o[0]),
                                "entry_key");
    if (!ord)
        return NULL;
    npy_intp n = held_len(&h, 0);
    const uint16_t *fl = held_get(&h, o[1], NPY_UINT16);
    if (!fl) {
        held_free(&h);
        return NULL;
    }
    if (held_len(&h, 1) != n) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.entry_key: lengths differ");
        return NULL;
    }
    const int64_t lim = (int64_t)1 << 61;
    npy_intp i = 0;
    int fits;
    Py_BEGIN_ALLOW_THREADS
    for (; i < n; i++) {
        if (ord[i] >= lim || ord[i] < -lim)
            break;
        ord[i] = 2 * ord[i] + ((fl[i] & CF_SYNTH_ENTRY) == 0);
    }
    fits = n > 0 && i == n;
    if (!fits)
        for (npy_intp j = 0; j < i; j++)
            ord[j] >>= 1; /* (arithmetic shift: floor((2 * o + bit) / 2) = o) */
    Py_END_ALLOW_THREADS
    held_free(&h);
    return PyBool_FromLong(fits);
}

/* depth of call c: how many of its ancestors are calls (resolve's depth); -1 on a cycle, -2
 * when the walk would take more than *budget steps (taken off it) */
static int64_t depth_of(const int64_t *par, npy_intp n, int64_t c, int64_t *budget)
{
    int64_t d = 0;
    for (c = par[c]; c >= 0 && c < n; c = par[c]) {
        if (++d > n)
            return -1;
        if (--*budget < 0)
            return -2;
    }
    return d;
}

/* one call of a run that shares a place, with what tie_order sorts it by */
typedef struct {
    int64_t depth, bit, row;
} Tie;

static int tie_cmp(const void *x, const void *y)
{
    const Tie *a = x, *b = y;
    if (a->depth != b->depth)
        return (a->depth > b->depth) - (a->depth < b->depth);
    if (a->bit != b->bit)
        return (a->bit > b->bit) - (a->bit < b->bit);
    return (a->row > b->row) - (a->row < b->row);
}

/* tie_order(perm, key, parent) -> (moved, src): perm sorts by entry_key's key; within each run
 * of one place (key >> 1 equal) reorder by (depth, key & 1, row): parents first, then a
 * synthesized entry before what it covers (calls.py _entry_order).  Places are rarely shared
 * (a synthesized entry takes the place of the first call it adopted), so the depths are
 * walked up from the few rows that share one instead of resolved for every call.  Then, in
 * the same pass, what moves() says of the final perm.
 * Returns None (perm then garbage) when those walks would take more than ~4 steps a call: a
 * trace that starts inside a deep stack makes one chain of synthesized entries, each adopting
 * the one below, all at the first call's place, and walking up from each of k of them costs
 * k^2/2 steps (40,000 deep: 1.5 s).  The caller then resolves every call's depth instead. */
static PyObject *py_tie_order(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]))
        return NULL;
    Held h = {{0}, 0};
    static const int types[2] = {NPY_INT64, NPY_INT64};
    const void *p[2];
    if (held_columns(&h, o + 1, types, 2, p, "tie_order") < 0)
        return NULL;
    const int64_t *key = p[0], *par = p[1];
    npy_intp n = held_len(&h, 0);
    int64_t *perm = held_inplace(&h, o[0], NPY_INT64, n, "tie_order");
    if (!perm)
        return NULL;
    Tie *tie = NULL;
    int64_t cap = 0, budget = 4 * (int64_t)n + 4096;
    int64_t *mv = NULL, *sr = NULL, cm = 0, cs = 0, k = 0;
    int err = 0; /* 1 no memory, 2 a cycle, 3 not a permutation, 4 over the walks' budget */
    for (npy_intp a = 0; a < n && !err;) {
        if (perm[a] < 0 || perm[a] >= n) {
            err = 3;
            break;
        }
        int64_t place = key[perm[a]] >> 1;
        npy_intp b = a + 1;
        while (b < n && perm[b] >= 0 && perm[b] < n && key[perm[b]] >> 1 == place)
            b++;
        if (b - a > 1) {
            if (grow((void **)&tie, &cap, b - a, sizeof(Tie)) < 0) {
                err = 1;
                break;
            }
            for (npy_intp j = a; j < b && !err; j++) {
                Tie *t = &tie[j - a];
                t->row = perm[j];
                t->bit = key[perm[j]] & 1;
                if ((t->depth = depth_of(par, n, perm[j], &budget)) < 0)
                    err = t->depth == -1 ? 2 : 4;
            }
            /* by (depth, synth bit, row); qsort, not an insertion sort: a run can be long */
            if (!err) {
                qsort(tie, (size_t)(b - a), sizeof(Tie), tie_cmp);
                for (npy_intp j = a; j < b; j++)
                    perm[j] = tie[j - a].row;
            }
        }
        for (npy_intp j = a; j < b && !err; j++)
            if (perm[j] != j) {
                if (grow((void **)&mv, &cm, k + 1, sizeof(int64_t)) < 0 ||
                    grow((void **)&sr, &cs, k + 1, sizeof(int64_t)) < 0) {
                    err = 1;
                    break;
                }
                mv[k] = j;
                sr[k++] = perm[j];
            }
        a = b;
    }
    free(tie);
    held_free(&h);
    /* 2, 3: an error; 4: over the walks' budget, None (the caller resolves depths instead) */
    if (err >= 2) {
        free(mv);
        free(sr);
        if (err == 4)
            Py_RETURN_NONE;
        PyErr_SetString(PyExc_RuntimeError, err == 2 ? "stacks.tie_order: parent cycle"
                                                     : "stacks.tie_order: not a permutation");
        return NULL;
    }
    return int64_pair(mv, k, sr, k, err == 1);
}

/* moves(perm) -> (moved, src): the rows perm does not keep in place (sorted) and perm there */
static PyObject *py_moves(PyObject *self, PyObject *args)
{
    PyObject *o;
    if (!PyArg_ParseTuple(args, "O", &o))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *perm = held_get(&h, o, NPY_INT64);
    if (!perm)
        return NULL;
    npy_intp n = held_len(&h, 0);
    int64_t *mv = NULL, *sr = NULL, cm = 0, cs = 0, k = 0;
    int nomem = 0;
    for (npy_intp i = 0; i < n; i++)
        if (perm[i] != i) {
            if (grow((void **)&mv, &cm, k + 1, sizeof(int64_t)) < 0 ||
                grow((void **)&sr, &cs, k + 1, sizeof(int64_t)) < 0) {
                nomem = 1;
                break;
            }
            mv[k] = i;
            sr[k++] = perm[i];
        }
    held_free(&h);
    return int64_pair(mv, k, sr, k, nomem);
}

/* call_flags(flags, cpu_entry, cpu_exit, has_ret): MIGRATED where both CPUs are known and
 * differ, HAS_RETVAL where has_ret, or'ed into flags in place. */
static PyObject *py_call_flags(PyObject *self, PyObject *args)
{
    PyObject *o[4];
    if (!PyArg_ParseTuple(args, "OOOO", &o[0], &o[1], &o[2], &o[3]))
        return NULL;
    Held h = {{0}, 0};
    static const int types[3] = {NPY_INT16, NPY_INT16, NPY_BOOL};
    const void *p[3];
    if (held_columns(&h, o + 1, types, 3, p, "call_flags") < 0)
        return NULL;
    const int16_t *ce = p[0], *cx = p[1];
    const npy_bool *hr = p[2];
    npy_intp n = held_len(&h, 0);
    uint16_t *fl = held_inplace(&h, o[0], NPY_UINT16, n, "call_flags");
    if (!fl)
        return NULL;
    /* (a flag already set, or none to set, is not written: most flags pages hold only zeros,
     * given back by window.py before the build, and a write of the same zeros would fault
     * each one in again, fresh: ~2.5k page faults at 5M calls) */
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        uint16_t v = (uint16_t)((ce[i] >= 0 && cx[i] >= 0 && ce[i] != cx[i] ? CF_MIGRATED : 0) |
                                (hr[i] ? CF_HAS_RETVAL : 0));
        if (v & ~fl[i])
            fl[i] |= v;
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    Py_RETURN_NONE;
}

/* first_contexts(irqctx, kind, func, named) -> (ctx, bits, fg, kinds, unknown, fg_unknown)
 *   irq.event_contexts's first pass, fused (it was ~15 numpy passes over each window): per
 *   row, ctx = irqctx, except an exit (kind 2) whose known context is below hardirq and
 *   whose function is named (named[func], a bool per string code; -1 and codes past it
 *   false): hardirq, with the EB_BYNAME bit; fg, whether the row is a funcgraph record
 *   (kind 1 or 2: schema.EventKind FG_ENTRY, FG_EXIT).  kinds: bit k set when some row has
 *   kind k (k outside 0..62: bit 63);
 *   unknown / fg_unknown: whether some row / some funcgraph row has ctx < 0. */
static PyObject *py_first_contexts(PyObject *self, PyObject *args)
{
    PyObject *o[4];
    if (!PyArg_ParseTuple(args, "OOOO", &o[0], &o[1], &o[2], &o[3]))
        return NULL;
    Held h = {{0}, 0};
    static const int types[3] = {NPY_INT8, NPY_INT8, NPY_INT32};
    const void *p[3];
    if (held_columns(&h, o, types, 3, p, "first_contexts") < 0)
        return NULL;
    const int8_t *irq = p[0], *kind = p[1];
    const int32_t *func = p[2];
    npy_intp n = held_len(&h, 0);
    const npy_bool *named = held_get(&h, o[3], NPY_BOOL);
    if (!named) {
        held_free(&h);
        return NULL;
    }
    npy_intp nt = held_len(&h, 3);
    npy_intp dims[1] = {n};
    PyObject *a_ctx = PyArray_SimpleNew(1, dims, NPY_INT8);
    PyObject *a_bits = PyArray_SimpleNew(1, dims, NPY_INT8);
    PyObject *a_fg = PyArray_SimpleNew(1, dims, NPY_BOOL);
    if (!a_ctx || !a_bits || !a_fg) {
        Py_XDECREF(a_ctx);
        Py_XDECREF(a_bits);
        Py_XDECREF(a_fg);
        held_free(&h);
        return NULL;
    }
    int8_t *ctx = PyArray_DATA((PyArrayObject *)a_ctx), *bits = PyArray_DATA((PyArrayObject *)a_bits);
    npy_bool *fg = PyArray_DATA((PyArrayObject *)a_fg);
    uint64_t kinds = 0;
    int unknown = 0, fg_unknown = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        int8_t c = irq[i], b = 0;
        const int8_t k = kind[i];
        const int32_t f = func[i];
        if (k == EK_FG_EXIT && c >= 0 && c < CTX_HARDIRQ && f >= 0 && f < nt && named[f]) {
            c = CTX_HARDIRQ;
            b = EB_BYNAME;
        }
        ctx[i] = c;
        bits[i] = b;
        const int isfg = is_fg(k);
        fg[i] = (npy_bool)isfg;
        kinds |= (uint64_t)1 << (k >= 0 && k < 63 ? k : 63);
        unknown |= c < 0;
        fg_unknown |= isfg & (c < 0);
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    return Py_BuildValue("(NNNKii)", a_ctx, a_bits, a_fg, (unsigned long long)kinds, unknown,
                         fg_unknown);
}

/* remap(lut, idx): idx[i] = lut[idx[i]] in place, -1 staying -1 (and an index past the end
 * reading the last entry, like np.take(mode="clip")); an empty lut makes every idx -1. */
static PyObject *py_remap(PyObject *self, PyObject *args)
{
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1]))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *lut = held_get(&h, o[0], NPY_INT64);
    if (!lut)
        return NULL;
    npy_intp m = held_len(&h, 0);
    if (!PyArray_Check(o[1])) {
        held_free(&h);
        PyErr_SetString(PyExc_TypeError, "stacks.remap: idx must be an int64 array");
        return NULL;
    }
    npy_intp n = len1(o[1]);
    int64_t *idx = held_inplace(&h, o[1], NPY_INT64, n, "remap");
    if (!idx)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        int64_t v = idx[i];
        idx[i] = (v < 0 || m == 0) ? -1 : lut[v < m ? v : m - 1];
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    Py_RETURN_NONE;
}

/* invert(perm, inv) -> (moved, src): inv (int64, written) becomes the inverse permutation,
 * moved the rows perm does not keep in place (sorted), src = perm[moved].  What build_table
 * made from ids = arange(n), inv[perm] = ids and inv != ids, without the ids. */
static PyObject *py_invert(PyObject *self, PyObject *args)
{
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1]))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *perm = held_get(&h, o[0], NPY_INT64);
    if (!perm)
        return NULL;
    npy_intp n = held_len(&h, 0);
    int64_t *inv = held_inplace(&h, o[1], NPY_INT64, n, "invert");
    if (!inv)
        return NULL;
    npy_intp k = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++)
        inv[i] = i;
    for (npy_intp i = 0; i < n; i++) {
        int64_t s = perm[i];
        if (s == i)
            continue;
        if (s < 0 || s >= n) {
            bad = 1;
            break;
        }
        inv[s] = i;
        k++;
    }
    Py_END_ALLOW_THREADS
    npy_intp dims[1] = {k};
    PyArrayObject *mv = bad ? NULL : (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64);
    PyArrayObject *sr = mv ? (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64) : NULL;
    if (!sr) {
        Py_XDECREF(mv);
        held_free(&h);
        if (bad)
            PyErr_SetString(PyExc_ValueError, "stacks.invert: not a permutation");
        return bad ? NULL : PyErr_NoMemory();
    }
    int64_t *pm = PyArray_DATA(mv), *ps = PyArray_DATA(sr);
    for (npy_intp i = 0, j = 0; i < n && j < k; i++)
        if (perm[i] != i) {
            pm[j] = i;
            ps[j++] = perm[i];
        }
    held_free(&h);
    return Py_BuildValue("(NN)", mv, sr);
}

/* owners(parent, tops) -> (outer, nested, uni, owner) or None.
 * The subtrees of the calls ``tops`` (sorted unique rows) in one forward pass: calls are
 * ordered with every parent before its children (fgraph/reconstruct/calls.py build_table), so a
 * row's owner is known once its parent's is.  outer: the tops not inside another top (sorted);
 * nested: how many tops are; uni: the outer tops and their descendants (sorted); owner: each
 * uni row's index into outer.  None when some parent comes after its child (a table not made
 * by the rebuild): the caller falls back to pointer jumping. */
static PyObject *py_owners(PyObject *self, PyObject *args)
{
    PyObject *o[2], *dobj = Py_None;
    long long max_rel = -1;
    if (!PyArg_ParseTuple(args, "OO|OL", &o[0], &o[1], &dobj, &max_rel))
        return NULL;
    if (max_rel >= 0 && dobj == Py_None) {
        PyErr_SetString(PyExc_ValueError, "owners: max_rel needs depth");
        return NULL;
    }
    PyArrayObject *pa = (PyArrayObject *)PyArray_FROMANY(o[0], NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    PyArrayObject *ta = pa ? (PyArrayObject *)PyArray_FROMANY(o[1], NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO)
                           : NULL;
    PyArrayObject *da = NULL;
    if (ta && dobj != Py_None)
        da = (PyArrayObject *)PyArray_FROMANY(dobj, NPY_INT32, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!pa || !ta || (dobj != Py_None && !da)) {
        Py_XDECREF(pa);
        Py_XDECREF(ta);
        Py_XDECREF(da);
        return NULL;
    }
    npy_intp n = PyArray_DIM(pa, 0), nt = PyArray_DIM(ta, 0);
    if (da && PyArray_DIM(da, 0) != n) {
        Py_DECREF(pa);
        Py_DECREF(ta);
        Py_DECREF(da);
        PyErr_SetString(PyExc_ValueError, "owners: depth and parent differ in length");
        return NULL;
    }
    const int64_t *par = PyArray_DATA(pa), *tops = PyArray_DATA(ta);
    const int32_t *dep = da ? PyArray_DATA(da) : NULL;
    /* own[i]: 1 + index into outer of the row's owner, 0 none; -1 marks a top before the pass.
     * int32 and calloc'd (zero pages from the kernel, no fill pass): the buffer is the pass's
     * main cost, its pages faulted in once (a table of over 2^31 calls is declined: None). */
    int32_t *own = n < INT32_MAX ? calloc((size_t)(n > 0 ? n : 1), sizeof(int32_t)) : NULL;
    /* each outer top's row, in order (the owner index's top, for the depth below it) */
    int64_t *topr = NULL, ntopr = 0;
    if (!own) {
        Py_DECREF(pa);
        Py_DECREF(ta);
        Py_XDECREF(da);
        if (n >= INT32_MAX)
            Py_RETURN_NONE;
        return PyErr_NoMemory();
    }
    for (npy_intp k = 0; k < nt; k++)
        if (tops[k] >= 0 && tops[k] < n)
            own[tops[k]] = -1;
    int64_t nouter = 0, nested = 0, nuni = 0;
    int bad = 0, nomem = 0;
    for (npy_intp i = 0; i < n; i++) {
        int64_t p = par[i];
        int32_t po = 0;
        if (p >= i) {
            bad = 1;
            break;
        }
        if (p >= 0)
            po = own[p];
        if (own[i] == -1) { /* a top */
            if (po > 0) {
                nested++;
                own[i] = po;
            } else {
                if (dep && grow((void **)&topr, &ntopr, nouter + 1, sizeof(int64_t)) < 0) {
                    nomem = 1;
                    break;
                }
                if (dep)
                    topr[nouter] = i;
                own[i] = (int32_t)++nouter;
            }
        } else {
            own[i] = po;
        }
        if (own[i] <= 0)
            continue;
        if (dep) {
            /* With depths: the shape the caller relies on, checked over the whole universe: a
             * row inside a top's subtree (a nested top too) is one deeper than its parent
             * (analysis/tree.py subtrees: else None, and the caller falls back); with max_rel
             * only the rows at most that deep below their top are given. */
            int64_t top = topr[own[i] - 1];
            if (i != top && (int64_t)dep[i] != (int64_t)dep[p] + 1) {
                bad = 1;
                break;
            }
            if (max_rel >= 0 && (int64_t)dep[i] - (int64_t)dep[top] > max_rel)
                continue;
        }
        nuni++;
    }
    Py_DECREF(ta);
    if (bad || nomem) {
        Py_DECREF(pa);
        Py_XDECREF(da);
        free(own);
        free(topr);
        if (nomem)
            return PyErr_NoMemory();
        Py_RETURN_NONE;
    }
    npy_intp d1[1] = {(npy_intp)nouter}, d2[1] = {(npy_intp)nuni};
    PyArrayObject *outer = (PyArrayObject *)PyArray_SimpleNew(1, d1, NPY_INT64);
    PyArrayObject *uni = (PyArrayObject *)PyArray_SimpleNew(1, d2, NPY_INT64);
    PyArrayObject *ow = (PyArrayObject *)PyArray_SimpleNew(1, d2, NPY_INT64);
    PyArrayObject *re = da ? (PyArrayObject *)PyArray_SimpleNew(1, d2, NPY_INT64) : NULL;
    if (!outer || !uni || !ow || (da && !re)) {
        Py_XDECREF(outer);
        Py_XDECREF(uni);
        Py_XDECREF(ow);
        Py_XDECREF(re);
        Py_DECREF(pa);
        Py_XDECREF(da);
        free(own);
        free(topr);
        return PyErr_NoMemory();
    }
    int64_t *po_ = PyArray_DATA(outer), *pu = PyArray_DATA(uni), *pw = PyArray_DATA(ow);
    int64_t *pr = re ? PyArray_DATA(re) : NULL;
    int64_t ko = 0, ku = 0;
    for (npy_intp i = 0; i < n; i++) {
        int64_t w = (int64_t)own[i] - 1;
        if (w < 0)
            continue;
        if (w == ko) /* the first row an index owns is its top (tops come before their rows) */
            po_[ko++] = i;
        if (dep) {
            int64_t rel = (int64_t)dep[i] - (int64_t)dep[po_[w]];
            if (max_rel >= 0 && rel > max_rel)
                continue;
            pr[ku] = rel;
        }
        pu[ku] = i;
        pw[ku++] = w;
    }
    Py_DECREF(pa);
    Py_XDECREF(da);
    free(own);
    free(topr);
    if (re)
        return Py_BuildValue("(NLNNN)", outer, (long long)nested, uni, ow, re);
    return Py_BuildValue("(NLNN)", outer, (long long)nested, uni, ow);
}

/* ------------------------------------------------------------------ records read in place
 *
 * feed_rows runs the machine over one timeline window of an event table, reading each record's
 * columns through the window's order (no machine-input copies: those cost ~11 gathers and 59 B
 * a record), follows the pid generations as it goes, and writes the attributes of the call each
 * record names into the caller's call attribute columns (fgraph/reconstruct/window.py
 * CallAttrs).  prepare_rows decodes the same records into the machine-input columns (calls.py
 * prepare).  calls.py _Prep and Generations document the rules. */

#define EF_HAS_RETVAL 0x01 /* EventFlag */
#define GEN_SHIFT 33        /* calls.py _GEN_SHIFT */

/* ---- pid generations (calls.py Generations): per pid its generation, whether a death mark
 * waits for the pid's next task-context depth-0 entry, and the comm of its last record (kept
 * once the comm rule is on).  Only pids with something to remember have a slot. */
#define GEN_CACHE 64

typedef struct {
    int64_t pid, gen;
    int32_t lc;
    int8_t pending, has_lc, used;
} GenSlot;

typedef struct {
    GenSlot *s;
    int64_t cap, num;
    int comm_on; /* the comm rule is on (from the first window that needed it) */
    /* pids looked up lately and their slots (NULL: none), direct-mapped by the pid's low bits,
     * valid while c_ep is c_epoch + 1 (a new slot or a bigger table invalidates them all): a
     * record's pid is nearly always one seen just before on some CPU, and the hash probe a
     * record was ~10% of the machine's time (fsync_x50) */
    int64_t c_pid[GEN_CACHE];
    GenSlot *c_slot[GEN_CACHE];
    uint32_t c_ep[GEN_CACHE];
    uint32_t c_epoch;
} Gens;

static GenSlot *gens_find(Gens *G, int64_t pid, int create, unsigned ci);

static HOT_INLINE GenSlot *gens_slot(Gens *G, int64_t pid, int create)
{
    unsigned ci = (unsigned)((uint64_t)pid & (GEN_CACHE - 1));
    if (G->c_ep[ci] == G->c_epoch + 1 && G->c_pid[ci] == pid && (G->c_slot[ci] || !create))
        return G->c_slot[ci];
    return gens_find(G, pid, create, ci);
}

/* gens_slot without the pid in the cache: the hash table (cache slot ci gets the answer) */
static GenSlot *gens_find(Gens *G, int64_t pid, int create, unsigned ci)
{
    if (create && (G->num + 1) * 2 > G->cap) {
        int64_t nc = G->cap ? G->cap * 2 : 256;
        GenSlot *ns = calloc((size_t)nc, sizeof(GenSlot));
        if (!ns)
            return NULL;
        for (int64_t i = 0; i < G->cap; i++) {
            if (!G->s[i].used)
                continue;
            uint64_t h = hash64(G->s[i].pid) & (uint64_t)(nc - 1);
            while (ns[h].used)
                h = (h + 1) & (uint64_t)(nc - 1);
            ns[h] = G->s[i];
        }
        free(G->s);
        G->s = ns;
        G->cap = nc;
        G->c_epoch++;
    }
    if (G->cap == 0)
        return NULL;
    uint64_t mask = (uint64_t)(G->cap - 1);
    uint64_t h = hash64(pid) & mask;
    GenSlot *g = NULL;
    while (G->s[h].used) {
        if (G->s[h].pid == pid) {
            g = &G->s[h];
            break;
        }
        h = (h + 1) & mask;
    }
    if (!g) {
        if (!create)
            goto out;
        g = &G->s[h];
        memset(g, 0, sizeof(*g));
        g->used = 1;
        g->pid = pid;
        G->num++;
        G->c_epoch++;
    }
out:
    G->c_pid[ci] = pid;
    G->c_slot[ci] = g;
    G->c_ep[ci] = G->c_epoch + 1; /* (+1: the calloc'd zeros are never valid) */
    return g;
}

static void gens_free(PyObject *cap)
{
    Gens *G = PyCapsule_GetPointer(cap, "fgraph.stacks.Gens");
    if (G) {
        free(G->s);
        free(G);
    }
}

static PyObject *py_gens(PyObject *self, PyObject *args)
{
    Gens *G = calloc(1, sizeof(Gens));
    if (!G)
        return PyErr_NoMemory();
    PyObject *cap = PyCapsule_New(G, "fgraph.stacks.Gens", gens_free);
    if (!cap)
        free(G);
    return cap;
}

typedef struct {
    npy_intp nrows;       /* rows of the event table */
    const int64_t *order; /* event rows at the window's timeline positions [lo, lo + n) */
    npy_intp n;
    int64_t lo, pos_base, row_base, delay;
    const int64_t *ts; /* NULL: the input has no timestamps */
    const int8_t *kind, *irqctx;
    const int64_t *duration, *calltime, *rettime;
    const int16_t *cpu;
    const int32_t *func, *pid, *depth, *comm;
    const uint64_t *addr;
    const int8_t *ctx, *bits; /* per row: irq.event_contexts */
    const int64_t *row_id;    /* per row: its name, or NULL (row_base + row) */
    const int64_t *gpos, *gts; /* the window's gaps, sorted by place */
    const int16_t *gcpu;
    npy_intp ng;
    Gens *G;                    /* NULL: no generations */
    const int64_t *mrow, *mpid; /* death marks: sched_switch rows (sorted) and their prev_pid */
    npy_intp nm;
    int comm_now; /* this window turns the comm rule on */
} Src;

/* A death mark at row r (a sched_switch whose prev_state is dead): its pid's next
 * task-context depth-0 entry starts a new task. */
static int gen_mark(const Src *s, int64_t r)
{
    npy_intp a = 0, b = s->nm;
    while (a < b) {
        npy_intp mid = a + (b - a) / 2;
        if (s->mrow[mid] < r)
            a = mid + 1;
        else
            b = mid;
    }
    for (; a < s->nm && s->mrow[a] == r; a++) {
        GenSlot *g = gens_slot(s->G, s->mpid[a], 1);
        if (!g)
            return -1;
        g->pending = 1;
    }
    return 0;
}

/* the generation of the pid of fg record r (after the record: a record that starts a task has
 * the new generation) */
static int gen_of(const Src *s, int64_t r, int64_t *gen)
{
    Gens *G = s->G;
    *gen = 0;
    if (!G->comm_on && G->num == 0)
        return 0;
    GenSlot *g = gens_slot(G, s->pid[r], G->comm_on);
    if (!g) {
        if (G->comm_on)
            return -1;
        return 0;
    }
    int entry0 = s->kind[r] == EK_FG_ENTRY && s->depth[r] == 0 && s->irqctx[r] <= 0;
    int start = 0;
    if (entry0 && g->pending) {
        start = 1;
        g->pending = 0;
    }
    if (G->comm_on) {
        int32_t c = s->comm[r];
        if (entry0 && g->has_lc && g->lc >= 0 && c >= 0 && c != g->lc)
            start = 1;
        g->lc = c;
        g->has_lc = 1;
    }
    g->gen += start;
    *gen = g->gen;
    return 0;
}

/* The machine input of row r at window position i (generation gen); *xdur gets the record's
 * own duration (printed or recorded, else rettime - calltime: the exit attribute of its call). */
static inline void decode(const Src *s, npy_intp i, int64_t r, int64_t gen, Rec *o, int64_t *xdur)
{
    int is_exit = s->kind[r] == EK_FG_EXIT;
    int64_t ts = s->ts ? s->ts[r] : -1;
    int64_t dur = s->duration[r], ct = s->calltime[r], rt = s->rettime[r];
    int ok_ct = ct >= 0 && rt >= ct;
    if (ok_ct && dur < 0)
        dur = rt - ct;
    *xdur = dur;
    int8_t b = s->bits[r];
    if (ok_ct && is_exit && ts >= 0) {
        /* the calltime moved into the record clock by the file's record delay (wrapping
         * int64 arithmetic, as numpy's) */
        dur = (int64_t)((uint64_t)ts - (uint64_t)ct - (uint64_t)s->delay);
        b |= EB_CALLTIME;
    }
    int32_t f = s->func[r];
    int64_t fk = f;
    if (f < 0) {
        int64_t a = (int64_t)(s->addr[r] & 0x3FFFFFFFFFFFFFFFULL);
        fk = a > 0 ? -2 - a : -1;
    }
    int32_t cpu = s->cpu[r];
    int64_t task = s->pid[r];
    if (task <= 0)
        task = -((int64_t)cpu + 2);
    if (gen > 0 && task > 0)
        task = (int64_t)((uint64_t)task + ((uint64_t)gen << GEN_SHIFT));
    o->pos = 4 * (s->lo + (int64_t)i + s->pos_base) + 2;
    o->row = s->row_id ? s->row_id[r] : r + s->row_base;
    o->task = task;
    o->fkey = fk;
    o->ts = ts;
    o->dur = dur;
    o->cpu = cpu;
    o->kdepth = s->depth[r];
    o->kind = (int8_t)(is_exit ? EV_EXIT : EV_ENTRY);
    o->ctx = s->ctx[r];
    o->bits = b;
}

static inline void gap_rec(const Src *s, npy_intp g, Rec *o)
{
    Rec r = {s->gpos[g], -1, 0, 0, s->gts[g], -1, s->gcpu[g], -1, EV_GAP, -1, 0};
    *o = r;
}

/* the event columns the call attributes come from */
typedef struct {
    const int32_t *module;
    const int64_t *retval;
    const uint8_t *eflags;
} Attrs;

/* Give call c the values of fg record r: pid, comm, function and module from the record that
 * made it (its entry, or its exit when the entry is missing), the CPU of each side, and from
 * the exit its own duration and return value. */
static inline void put_attrs(Machine *m, const Src *s, const Attrs *A, int64_t r, int64_t c,
                             int64_t xdur)
{
    int entry = s->kind[r] == EK_FG_ENTRY;
    if (entry || (m->flags[c] & CF_SYNTH_ENTRY)) {
        m->a_pid[c] = s->pid[r];
        m->a_comm[c] = s->comm[r];
        m->a_func[c] = s->func[r];
        if (m->a_module)
            m->a_module[c] = A->module[r];
    }
    if (entry) {
        m->a_cpu_entry[c] = s->cpu[r];
        return;
    }
    m->a_cpu_exit[c] = s->cpu[r];
    m->a_xdur[c] = xdur;
    int hr = (A->eflags[r] & EF_HAS_RETVAL) != 0;
    m->a_has_ret[c] = (npy_bool)hr;
    if (m->a_retval)
        m->a_retval[c] = hr ? A->retval[r] : 0;
}

/* start keeping the call attributes (ATTRS_* bits; the calls made so far have none) */
static int attrs_enable(Machine *m, int want)
{
    if (m->attrs_on)
        return m->attrs_on == want ? 0 : -2;
    int64_t cap = m->capcalls;
    m->capcalls = 0; /* grow_calls reallocates every column to cap, the new ones included */
    m->attrs_on = want;
    if (grow_calls(m, cap > 0 ? cap : 1) < 0) {
        m->attrs_on = 0;
        return -1;
    }
    for (int64_t c = 0; c < m->ncalls; c++)
        attrs_init(m, c);
    return 0;
}

/* Where run_rows sends the records: to the machine (with the attributes), or into columns. */
typedef struct {
    Machine *m;
    const Attrs *A;
    int64_t unnamed; /* records the machine named no call for */
    void *col[11];   /* prepare_rows: the output columns */
    npy_intp j;
} Sink;

static inline int emit(const Src *s, Sink *k, const Rec *rec, int64_t r, int64_t xdur)
{
    if (k->m) {
        int64_t c = -1;
        if (step(k->m, rec, &c) < 0)
            return -1;
        if (r >= 0) {
            if (c < 0)
                k->unnamed++;
            else if (k->A)
                put_attrs(k->m, s, k->A, r, c, xdur);
        }
        return 0;
    }
    npy_intp j = k->j++;
    ((int64_t *)k->col[0])[j] = rec->pos;
    ((int64_t *)k->col[1])[j] = rec->row;
    ((int8_t *)k->col[2])[j] = rec->kind;
    ((int64_t *)k->col[3])[j] = rec->task;
    ((int32_t *)k->col[4])[j] = rec->cpu;
    ((int8_t *)k->col[5])[j] = rec->ctx;
    ((int8_t *)k->col[6])[j] = rec->bits;
    ((int64_t *)k->col[7])[j] = rec->fkey;
    ((int64_t *)k->col[8])[j] = rec->ts;
    ((int64_t *)k->col[9])[j] = rec->dur;
    ((int32_t *)k->col[10])[j] = rec->kdepth;
    return 0;
}

/* The window's records in timeline order, each gap just before the first record after it
 * (the last window's trailing gaps at the end).  -1: out of memory. */
static int run_rows(const Src *s, Sink *k)
{
    npy_intp g = 0;
    Rec rec;
    int64_t xdur, gen = 0;
    if (s->G && s->comm_now)
        s->G->comm_on = 1;
    for (npy_intp i = 0; i < s->n; i++) {
        int64_t r = s->order[i];
        if (!is_fg(s->kind[r])) {
            if (s->nm && gen_mark(s, r) < 0)
                return -1;
            continue;
        }
        if (s->G && gen_of(s, r, &gen) < 0)
            return -1;
        decode(s, i, r, gen, &rec, &xdur);
        for (; g < s->ng && s->gpos[g] < rec.pos; g++) {
            Rec gr;
            gap_rec(s, g, &gr);
            if (emit(s, k, &gr, -1, 0) < 0)
                return -1;
        }
        if (emit(s, k, &rec, r, xdur) < 0)
            return -1;
    }
    for (; g < s->ng; g++) {
        Rec gr;
        gap_rec(s, g, &gr);
        if (emit(s, k, &gr, -1, 0) < 0)
            return -1;
    }
    return 0;
}

/* one event column: exact dtype, one per row (a copy only if the caller's is not) */
static int col_get(Held *h, PyObject *d, const char *name, int type, npy_intp n, const void **out)
{
    PyObject *o = PyDict_GetItemString(d, name); /* borrowed */
    *out = NULL;
    if (!o || o == Py_None)
        return 0;
    const void *p = held_get(h, o, type);
    if (!p)
        return -1;
    if (PyArray_DIM(h->a[h->n - 1], 0) != n) {
        PyErr_Format(PyExc_ValueError, "stacks: column %s has the wrong length", name);
        return -1;
    }
    *out = p;
    return 0;
}

static int arr_get(Held *h, PyObject *o, int type, npy_intp n, const void **out, const char *name)
{
    *out = NULL;
    if (o == Py_None)
        return 0;
    const void *p = held_get(h, o, type);
    if (!p)
        return -1;
    if (n >= 0 && PyArray_DIM(h->a[h->n - 1], 0) != n) {
        PyErr_Format(PyExc_ValueError, "stacks: %s has the wrong length", name);
        return -1;
    }
    *out = p;
    return 0;
}

/* (order, lo, cols, ctx, bits, gens, row_id, row_base, pos_base, delay, gpos, gts, gcpu);
 * gens: None or (Gens capsule, death-mark rows sorted, their pids, comm rule on now) */
static int src_parse(Held *h, PyObject *const *o, const long long *sc, Src *s)
{
    memset(s, 0, sizeof(*s));
    PyObject *cols = o[1];
    if (!PyDict_Check(cols)) {
        PyErr_SetString(PyExc_TypeError, "stacks: cols must be a dict of event columns");
        return -1;
    }
    const void *p;
    if (arr_get(h, o[0], NPY_INT64, -1, &p, "order") < 0 || !p)
        goto bad;
    s->order = p;
    s->n = PyArray_DIM(h->a[h->n - 1], 0);
    PyObject *kd = PyDict_GetItemString(cols, "kind");
    if (!kd || !(p = held_get(h, kd, NPY_INT8)))
        goto bad;
    s->kind = p;
    npy_intp nr = s->nrows = PyArray_DIM(h->a[h->n - 1], 0);
#define COL(field, name, type, opt)                                  \
    do {                                                             \
        if (col_get(h, cols, name, type, nr, &p) < 0)                \
            return -1;                                               \
        if (!p && !(opt)) {                                          \
            PyErr_Format(PyExc_KeyError, "stacks: column %s missing", name); \
            return -1;                                               \
        }                                                            \
        s->field = p;                                                \
    } while (0)
    COL(ts, "ts", NPY_INT64, 1);
    COL(irqctx, "irqctx", NPY_INT8, 0);
    COL(duration, "duration", NPY_INT64, 0);
    COL(calltime, "calltime", NPY_INT64, 0);
    COL(rettime, "rettime", NPY_INT64, 0);
    COL(cpu, "cpu", NPY_INT16, 0);
    COL(func, "func", NPY_INT32, 0);
    COL(pid, "pid", NPY_INT32, 0);
    COL(depth, "depth", NPY_INT32, 0);
    COL(comm, "comm", NPY_INT32, 0);
    COL(addr, "addr", NPY_UINT64, 0);
#undef COL
    if (arr_get(h, o[2], NPY_INT8, nr, &p, "ctx") < 0 || !p)
        goto bad;
    s->ctx = p;
    if (arr_get(h, o[3], NPY_INT8, nr, &p, "bits") < 0 || !p)
        goto bad;
    s->bits = p;
    if (o[4] != Py_None) {
        PyObject *gc, *mr, *mp;
        int now;
        if (!PyArg_ParseTuple(o[4], "OOOp", &gc, &mr, &mp, &now))
            return -1;
        s->G = PyCapsule_GetPointer(gc, "fgraph.stacks.Gens");
        if (!s->G)
            return -1;
        if (arr_get(h, mr, NPY_INT64, -1, &p, "mark rows") < 0 || !p)
            goto bad;
        s->mrow = p;
        s->nm = PyArray_DIM(h->a[h->n - 1], 0);
        if (arr_get(h, mp, NPY_INT64, s->nm, &p, "mark pids") < 0 || !p)
            goto bad;
        s->mpid = p;
        s->comm_now = now;
    }
    if (arr_get(h, o[5], NPY_INT64, nr, &p, "row_id") < 0)
        return -1;
    s->row_id = p;
    s->lo = sc[0];
    s->row_base = sc[1];
    s->pos_base = sc[2];
    s->delay = sc[3];
    if (arr_get(h, o[6], NPY_INT64, -1, &p, "gap places") < 0 || !p)
        goto bad;
    s->gpos = p;
    s->ng = PyArray_DIM(h->a[h->n - 1], 0);
    if (arr_get(h, o[7], NPY_INT64, s->ng, &p, "gap times") < 0 || !p)
        goto bad;
    s->gts = p;
    if (arr_get(h, o[8], NPY_INT16, s->ng, &p, "gap cpus") < 0 || !p)
        goto bad;
    s->gcpu = p;
    /* (one unsigned compare a row and no early exit: a branch-free pass) */
    int out = 0;
    for (npy_intp i = 0; i < s->n; i++)
        out |= (uint64_t)s->order[i] >= (uint64_t)nr;
    if (out) {
        PyErr_SetString(PyExc_ValueError, "stacks: order names a row outside the table");
        return -1;
    }
    return 0;
bad:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "stacks: a required column is missing");
    return -1;
}

/* two_comms(kind, pid, comm) -> whether some pid shows two comms among the funcgraph records,
 * all of whose pids are in [0, 2**26) (calls.py Generations: when the comm rule turns on).  One
 * pass for the pid range, one that stops at the first pid seen with another comm. */
static PyObject *py_two_comms(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]))
        return NULL;
    Held h = {{0}, 0};
    static const int types[3] = {NPY_INT8, NPY_INT32, NPY_INT32};
    const void *p[3];
    if (held_columns(&h, o, types, 3, p, "two_comms") < 0)
        return NULL;
    const int8_t *kind = p[0];
    const int32_t *pid = p[1], *comm = p[2];
    npy_intp n = held_len(&h, 0);
    int64_t lo = INT64_MAX, hi = -1;
    for (npy_intp i = 0; i < n; i++) {
        if (!is_fg(kind[i]))
            continue;
        if (pid[i] < lo)
            lo = pid[i];
        if (pid[i] > hi)
            hi = pid[i];
    }
    int found = 0;
    if (hi >= 0 && lo >= 0 && hi < ((int64_t)1 << 26)) {
        /* each pid's first comm, in a small hash (a pid-indexed table would touch pages
         * spread over megabytes for a few hundred pids) */
        int64_t cap = 1024, num = 0;
        int64_t *key = malloc((size_t)cap * sizeof(int64_t));
        int32_t *val = malloc((size_t)cap * sizeof(int32_t));
        for (int64_t q = 0; key && q < cap; q++)
            key[q] = -1;
        int32_t lastp = -1, lastc = -1; /* the previous record's (runs of one task are long) */
        for (npy_intp i = 0; key && val && i < n && !found; i++) {
            if (!is_fg(kind[i]) || (i > 0 && pid[i] == lastp && comm[i] == lastc))
                continue;
            lastp = pid[i];
            lastc = comm[i];
            if ((num + 1) * 2 > cap) {
                int64_t nc = cap * 2;
                int64_t *nk = malloc((size_t)nc * sizeof(int64_t));
                int32_t *nv = malloc((size_t)nc * sizeof(int32_t));
                if (!nk || !nv) {
                    free(nk);
                    free(nv);
                    free(key);
                    key = NULL;
                    break;
                }
                for (int64_t q = 0; q < nc; q++)
                    nk[q] = -1;
                for (int64_t q = 0; q < cap; q++) {
                    if (key[q] < 0)
                        continue;
                    uint64_t hh = hash64(key[q]) & (uint64_t)(nc - 1);
                    while (nk[hh] >= 0)
                        hh = (hh + 1) & (uint64_t)(nc - 1);
                    nk[hh] = key[q];
                    nv[hh] = val[q];
                }
                free(key);
                free(val);
                key = nk;
                val = nv;
                cap = nc;
            }
            uint64_t hh = hash64(pid[i]) & (uint64_t)(cap - 1);
            while (key[hh] >= 0 && key[hh] != pid[i])
                hh = (hh + 1) & (uint64_t)(cap - 1);
            if (key[hh] < 0) {
                key[hh] = pid[i];
                val[hh] = comm[i];
                num++;
            } else if (val[hh] != comm[i]) {
                found = 1;
            }
        }
        if (!key || !val) {
            free(key);
            free(val);
            held_free(&h);
            return PyErr_NoMemory();
        }
        free(key);
        free(val);
    }
    held_free(&h);
    return PyBool_FromLong(found);
}

/* feed_rows(m, order, lo, cols, ctx, bits, gens, row_id, row_base, pos_base, delay, gpos, gts,
 * gcpu[, attrs]) -> (records named no call, calls so far).  With ``attrs`` (ATTRS_* bits, the
 * same at every feed) the machine keeps the calls' attributes (attrs() after finish()). */
static PyObject *py_feed_rows(PyObject *self, PyObject *args)
{
    PyObject *cap, *o[9], *ad = NULL;
    long long sc[4];
    if (!PyArg_ParseTuple(args, "OOLOOOOOLLLOOO|O", &cap, &o[0], &sc[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5], &sc[1], &sc[2], &sc[3], &o[6], &o[7], &o[8], &ad))
        return NULL;
    Machine *m = get_machine(cap);
    if (!m)
        return NULL;
    if (m->finished) {
        PyErr_SetString(PyExc_RuntimeError, "stacks.feed after finish");
        return NULL;
    }
    Held h = {{0}, 0};
    Src s;
    Attrs A;
    Sink k;
    memset(&k, 0, sizeof(k));
    k.m = m;
    if (src_parse(&h, o, sc, &s) < 0)
        goto fail;
    long want = (ad && ad != Py_None) ? PyLong_AsLong(ad) : 0;
    if (want == -1 && PyErr_Occurred())
        goto fail;
    if (!(want & ATTRS_ON))
        want = 0;
    if (want) {
        const void *p;
        if (col_get(&h, o[1], "module", NPY_INT32, s.nrows, &p) < 0 || !p)
            goto missing;
        A.module = p;
        if (col_get(&h, o[1], "retval", NPY_INT64, s.nrows, &p) < 0 || !p)
            goto missing;
        A.retval = p;
        if (col_get(&h, o[1], "eflags", NPY_UINT8, s.nrows, &p) < 0 || !p)
            goto missing;
        A.eflags = p;
        int rc_a = attrs_enable(m, (int)(want & (ATTRS_ON | ATTRS_NO_MODULE | ATTRS_NO_RETVAL)));
        if (rc_a == -2) {
            PyErr_SetString(PyExc_ValueError, "stacks.feed_rows: the attributes kept changed");
            goto fail;
        }
        if (rc_a < 0) {
            PyErr_NoMemory();
            goto fail;
        }
        k.A = &A;
    }
    int rc;
    m->putting = k.A != NULL; /* (emit puts the attributes of every call step makes) */
    Py_BEGIN_ALLOW_THREADS
    rc = run_rows(&s, &k);
    Py_END_ALLOW_THREADS
    m->putting = 0;
    held_free(&h);
    if (rc < 0)
        return PyErr_NoMemory();
    return Py_BuildValue("(LL)", (long long)k.unnamed, (long long)m->ncalls);
missing:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_KeyError, "stacks.feed_rows: module, retval and eflags are required");
fail:
    held_free(&h);
    return NULL;
}

/* prepare_rows(order, lo, cols, ctx, bits, gens, row_id, row_base, pos_base, delay, gpos, gts,
 * gcpu) -> (pos, row, kind, task, cpu, ctx, bits, fkey, ts, dur, kdepth): what feed_rows runs
 * the machine on, as columns (records and gaps in the order it runs them). */
static PyObject *py_prepare_rows(PyObject *self, PyObject *args)
{
    PyObject *o[9];
    long long sc[4];
    if (!PyArg_ParseTuple(args, "OLOOOOOLLLOOO", &o[0], &sc[0], &o[1], &o[2], &o[3], &o[4], &o[5],
                          &sc[1], &sc[2], &sc[3], &o[6], &o[7], &o[8]))
        return NULL;
    Held h = {{0}, 0};
    Src s;
    if (src_parse(&h, o, sc, &s) < 0) {
        held_free(&h);
        return NULL;
    }
    npy_intp nfg = 0;
    for (npy_intp i = 0; i < s.n; i++)
        nfg += is_fg(s.kind[s.order[i]]);
    npy_intp dims[1] = {nfg + s.ng};
    static const int types[11] = {NPY_INT64, NPY_INT64, NPY_INT8, NPY_INT64, NPY_INT32, NPY_INT8,
                                  NPY_INT8,  NPY_INT64, NPY_INT64, NPY_INT64, NPY_INT32};
    PyObject *out = PyTuple_New(11);
    if (!out) {
        held_free(&h);
        return NULL;
    }
    Sink k;
    memset(&k, 0, sizeof(k));
    for (int c = 0; c < 11; c++) {
        PyObject *a = PyArray_SimpleNew(1, dims, types[c]);
        if (!a) {
            Py_DECREF(out);
            held_free(&h);
            return NULL;
        }
        PyTuple_SET_ITEM(out, c, a);
        k.col[c] = PyArray_DATA((PyArrayObject *)a);
    }
    int rc = run_rows(&s, &k);
    held_free(&h);
    if (rc < 0) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    return out;
}

static PyObject *py_entry_moves(PyObject *self, PyObject *args); /* (end of the file) */
static PyObject *py_machine_views(PyObject *self, PyObject *args); /* (end of the file) */
static PyObject *py_prefault(PyObject *self, PyObject *args);
static PyObject *py_prune(PyObject *self, PyObject *args);
static PyObject *py_dropped(PyObject *self, PyObject *args);

static PyMethodDef methods[] = {
    {"prune", py_prune, METH_VARARGS,
     "prune(m, keep, final=False) -> (let go, kept): the calls whose tree holds no function keep[code] and nothing open"},
    {"dropped", py_dropped, METH_VARARGS, "dropped(m) -> (function codes of the calls let go, how many)"},
    {"prefault", py_prefault, METH_VARARGS,
     "prefault(m, ahead) -> bytes: fault in the column pages the next `ahead` calls will fill"},
    {"depth_marks", py_depth_marks, METH_VARARGS,
     "depth_marks(kdepth, parent, interrupted, flags, ctx, task_ctx, repair) -> (bad, causes...):"
     " mark DEPTH_MISMATCH in flags"},
    {"valid_range", py_valid_range, METH_VARARGS,
     "valid_range(ce, cx) -> (min ce, max cx) of the calls with ce >= 0 and cx >= ce, or None"},
    {"offspans", py_offspans, METH_VARARGS,
     "offspans(keys, off_s, start_s, end_s, before_s, off_r, start_r, end_r, before_r, pid, cpu,"
     " ctx, ce, cx, task_ctx, out_s, out_r): each call's sleeping and runnable off-CPU time"},
    {"lastin", py_lastin, METH_VARARGS,
     "lastin(keys, off, t, qtask, q0, q1, sel) -> index of the task's last t in [q0, q1] or -1"},
    {"new", py_new, METH_VARARGS, "new(ncpu, tol, expect=0, rows=True) -> machine state (capsule)"},
    {"feed", py_feed, METH_VARARGS,
     "feed(m, pos, row, kind, task, cpu, ctx, bits, fkey, ts, dur, kdepth): run events in order"},
    {"two_comms", py_two_comms, METH_VARARGS,
     "two_comms(kind, pid, comm) -> some pid shows two comms among the funcgraph records"},
    {"gens", py_gens, METH_NOARGS, "gens() -> pid generation state (capsule)"},
    {"feed_rows", py_feed_rows, METH_VARARGS,
     "feed_rows(m, order, lo, cols, ctx, bits, gens, row_id, row_base, pos_base, delay, gpos, gts, "
     "gcpu[, attrs]) -> (unnamed records, calls): run a window's records read in place"},
    {"prepare_rows", py_prepare_rows, METH_VARARGS,
     "prepare_rows(order, lo, cols, ctx, bits, gens, row_id, row_base, pos_base, delay, gpos, gts, "
     "gcpu) -> the machine-input columns feed_rows runs"},
    {"finish", py_finish, METH_VARARGS, "finish(m) -> dict of call columns and counters"},
    {"attrs", py_attrs, METH_VARARGS, "attrs(m) -> dict of the call attribute columns (after finish)"},
    {"resolve", py_resolve, METH_VARARGS, "resolve(parent) -> (depth, root)"},
    {"overfull", py_overfull, METH_VARARGS,
     "overfull(parent, interrupted, dur, kdepth, tol) -> rows whose children and interrupts outlast them"},
    {"call_counts", py_call_counts, METH_VARARGS,
     "call_counts(flags, self, ctx, irq_ns, flag_bits, ctx_codes, repair) -> (flagged, in_ctx, "
     "traced, certain, irq_total): the quality report's per-call counts"},
    {"child_sums", py_child_sums, METH_VARARGS,
     "child_sums(parent, interrupted, dur, acc, lo, hi, zero=False) -> (targets, values): "
     "overfull's sums of the calls in [lo, hi), those outside it listed"},
    {"clear", py_clear, METH_VARARGS, "clear(a): a's bytes set to zero (the GIL released)"},
    {"members", py_members, METH_VARARGS,
     "members(parent, interrupted, rows, lo=0, hi=len) -> (calls whose parent is in rows, whose "
     "interrupted call is)"},
    {"times", py_times, METH_VARARGS,
     "times(parent, interrupted, duration, ts_entry, ts_exit, flags) -> (self, irq_ns); duration completed in place"},
    {"trees", py_trees, METH_VARARGS,
     "trees(parent, ctx, flags, want=1, interrupted=None, moved=None, src=None) -> (depth, root, nest) "
     "or None; tree ctx "
     "(and CTX_BY_NAME) in place"},
    {"entry_key", py_entry_key, METH_VARARGS, "entry_key(order, flags) -> fits; the entry sort key in order"},
    {"tie_order", py_tie_order, METH_VARARGS,
     "tie_order(perm, key, parent) -> (moved, src): the calls of one place by (depth, synthesized "
     "first, row)"},
    {"moves", py_moves, METH_VARARGS, "moves(perm) -> (moved, src): rows perm moves, and from where"},
    {"renumber", py_renumber, METH_VARARGS, "renumber(idx, moved, src): old row ids to new, in place"},
    {"first_contexts", py_first_contexts, METH_VARARGS,
     "first_contexts(irqctx, kind, func, named) -> (ctx, bits, fg, kinds, unknown, fg_unknown): "
     "irq.event_contexts's first pass"},
    {"call_flags", py_call_flags, METH_VARARGS,
     "call_flags(flags, cpu_entry, cpu_exit, has_ret): MIGRATED and HAS_RETVAL or'ed in place"},
    {"remap", py_remap, METH_VARARGS, "remap(lut, idx): idx = lut[idx] in place, -1 stays -1"},
    {"invert", py_invert, METH_VARARGS, "invert(perm, inv) -> (moved, src); inv written"},
    {"owners", py_owners, METH_VARARGS, "owners(parent, tops[, depth[, max_rel]]) -> (outer, nested, uni, owner[, rel]) or None"},
    {"entry_moves", py_entry_moves, METH_VARARGS,
     "entry_moves(key, parent, limit) -> (moved, src) of tie_order after a stable argsort of key, "
     "or None when more than limit rows are out of place"},
    {"machine_views", py_machine_views, METH_VARARGS,
     "machine_views(machine) -> the call columns made so far, as uint8 views (valid until the "
     "next feed)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "stacks",
                                       "Per-task stack machine of the call-tree rebuild.", -1, methods};

PyMODINIT_FUNC PyInit_stacks(void)
{
    import_array();
    return PyModule_Create(&moduledef);
}

/* Stable merge sort of rows r[0..m) by key[r] (ties keep their order: rows come ascending, so
 * this is the order a stable argsort of the whole key gives them); t is m spare int64. */
static void sort_rows_by_key(int64_t *r, int64_t *t, npy_intp m, const int64_t *key)
{
    for (npy_intp w = 1; w < m; w *= 2) {
        for (npy_intp lo = 0; lo < m; lo += 2 * w) {
            npy_intp mid = lo + w < m ? lo + w : m, hi = lo + 2 * w < m ? lo + 2 * w : m;
            npy_intp a = lo, b = mid, o = lo;
            if (mid >= hi || key[r[mid - 1]] <= key[r[mid]]) {
                /* already in order (the common case: runs of nearly sorted keys) */
                memcpy(t + lo, r + lo, (size_t)(hi - lo) * sizeof(int64_t));
                continue;
            }
            while (a < mid && b < hi)
                t[o++] = key[r[b]] < key[r[a]] ? r[b++] : r[a++];
            while (a < mid)
                t[o++] = r[a++];
            while (b < hi)
                t[o++] = r[b++];
        }
        int64_t *x = r;
        memcpy(x, t, (size_t)m * sizeof(int64_t));
    }
}

/* entry_moves(key, parent, limit) -> (moved, src), or None: what tie_order(np.argsort(key,
 * kind="stable"), key, parent) returns, without the whole permutation (8 B a call, and the
 * sort's buffer, at the build's peak: issue 7).  The machine makes calls nearly in entry
 * order, so most rows keep their place, and row i surely does when every earlier key is <=
 * key[i] and every later one >= key[i] (then exactly i rows sort before it).  A backward pass
 * marks "key[i] <= every later key" (1 byte a call), a forward one with the running maximum
 * keeps the marks of the rows that also have no larger key before them; the other rows (few)
 * are sorted stably by key and fill the unmarked places in order.  That sequence is then
 * walked like tie_order walks perm: the rows of one place by (depth, synthesized first, row),
 * and the rows not at their place listed.  None (nothing done) when more than ``limit`` rows
 * are unmarked (the caller sorts the whole key then), or when the depth walks exceed
 * tie_order's budget (a deep chain of synthesized entries at one place: the caller resolves
 * every call's depth). */
static PyObject *py_entry_moves(PyObject *self, PyObject *args)
{
    PyObject *o[2];
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "OOn", &o[0], &o[1], &limit))
        return NULL;
    Held h = {{0}, 0};
    static const int types[2] = {NPY_INT64, NPY_INT64};
    const void *p[2];
    if (held_columns(&h, o, types, 2, p, "entry_moves") < 0)
        return NULL;
    const int64_t *key = p[0], *par = p[1];
    npy_intp n = held_len(&h, 0);
    uint8_t *keep = n ? malloc((size_t)n) : NULL;
    int64_t *rows = NULL, *tmp = NULL, *run = NULL, *mv = NULL, *sr = NULL;
    Tie *tie = NULL;
    int64_t crun = 0, ctie = 0, cm = 0, cs = 0, k = 0, budget = 4 * (int64_t)n + 4096;
    npy_intp m = 0;
    int err = 0; /* 1 no memory, 2 a cycle, 4 too many out of place or over the budget */
    if (n && !keep)
        err = 1;
    Py_BEGIN_ALLOW_THREADS
    if (!err) {
        int64_t lo = INT64_MAX;
        for (npy_intp i = n - 1; i >= 0; i--) {
            keep[i] = key[i] <= lo;
            m += !keep[i];
            if (key[i] < lo)
                lo = key[i];
        }
        /* (a mark is written only where it falls: the test is nearly always false) */
        int64_t hi = INT64_MIN;
        for (npy_intp i = 0; i < n; i++) {
            int64_t k = key[i];
            if (__builtin_expect(k < hi, 0) && keep[i]) {
                keep[i] = 0;
                m++;
            }
            hi = k > hi ? k : hi;
        }
        if (m > (npy_intp)limit)
            err = 4;
    }
    if (!err && m) {
        rows = malloc((size_t)m * sizeof(int64_t));
        tmp = malloc((size_t)m * sizeof(int64_t));
        if (!rows || !tmp)
            err = 1;
        else {
            npy_intp j = 0;
            for (npy_intp i = 0; i < n; i++)
                if (!keep[i])
                    rows[j++] = i;
            sort_rows_by_key(rows, tmp, m, key);
        }
        free(tmp);
    }
    /* the sorted sequence: row i where kept, else the next of rows; runs of one place
     * (key >> 1) as tie_order orders them */
    npy_intp u = 0, a = 0, len = 0;
    int64_t pl = 0; /* the run's place */
    if (!err && grow((void **)&run, &crun, 64, sizeof(int64_t)) < 0)
        err = 1;
    for (npy_intp j = 0; j <= n && !err; j++) {
        int64_t r = -1, rp = 0;
        /* Fast path: while the run is one row at its own place and the next rows are kept
         * ones of other places, each closes the run with nothing to list and starts the next
         * (nearly every row: the machine makes calls nearly in entry order) */
        if (len == 1 && run[0] == a) {
            npy_intp j0 = j;
            while (j < n && keep[j]) {
                int64_t p2 = key[j] >> 1;
                if (p2 == pl)
                    break;
                pl = p2;
                j++;
            }
            if (j > j0) {
                a = j - 1;
                run[0] = a;
            }
        }
        if (j < n) {
            r = keep[j] ? j : rows[u++];
            rp = key[r] >> 1;
            if (len && rp == pl) {
                if (grow((void **)&run, &crun, len + 1, sizeof(int64_t)) < 0) {
                    err = 1;
                    break;
                }
                run[len++] = r;
                continue;
            }
        }
        if (len == 1 && run[0] != a) {
            if (grow((void **)&mv, &cm, k + 1, sizeof(int64_t)) < 0 ||
                grow((void **)&sr, &cs, k + 1, sizeof(int64_t)) < 0) {
                err = 1;
                break;
            }
            mv[k] = a;
            sr[k++] = run[0];
        } else if (len > 1) {
            if (grow((void **)&tie, &ctie, len, sizeof(Tie)) < 0) {
                err = 1;
                break;
            }
            for (npy_intp q = 0; q < len && !err; q++) {
                Tie *t = &tie[q];
                t->row = run[q];
                t->bit = key[run[q]] & 1;
                /* (the walks have tie_order's budget: over it, None, and the caller resolves
                 * every call's depth instead of walking up a deep chain from each call) */
                if ((t->depth = depth_of(par, n, run[q], &budget)) < 0)
                    err = t->depth == -1 ? 2 : 4;
            }
            /* by (depth, synth bit, row), as tie_order; qsort: a run can be long */
            if (!err) {
                qsort(tie, (size_t)len, sizeof(Tie), tie_cmp);
                for (npy_intp q = 0; q < len; q++)
                    run[q] = tie[q].row;
            }
            for (npy_intp q = 0; q < len && !err; q++)
                if (run[q] != a + q) {
                    if (grow((void **)&mv, &cm, k + 1, sizeof(int64_t)) < 0 ||
                        grow((void **)&sr, &cs, k + 1, sizeof(int64_t)) < 0) {
                        err = 1;
                        break;
                    }
                    mv[k] = a + q;
                    sr[k++] = run[q];
                }
        }
        if (r < 0 || err)
            break;
        a = j;
        run[0] = r;
        len = 1;
        pl = rp;
    }
    Py_END_ALLOW_THREADS
    free(keep);
    free(rows);
    free(run);
    free(tie);
    held_free(&h);
    if (err == 4 || err == 2) {
        free(mv);
        free(sr);
        if (err == 4)
            Py_RETURN_NONE;
        PyErr_SetString(PyExc_RuntimeError, "stacks.entry_moves: parent cycle");
        return NULL;
    }
    return int64_pair(mv, k, sr, k, err == 1);
}

/* machine_views(machine) -> tuple of uint8 arrays: the bytes of the call columns made so far
 * (ncalls rows of each), views of the machine's buffers (they keep the machine alive).  For
 * window.py to give back their all-zero pages (fgraph/_ext/pages.c) while the windows are
 * fed: a view is valid only until the machine is fed again (a column may grow, i.e. move),
 * and nothing else may write the columns meanwhile.  Empty after finish(). */
/* The call columns grow_calls keeps at capcalls >= ncalls rows (the same conditions): their
 * buffers and element sizes, NULL for a column not kept.  Returns how many were written. */
typedef struct {
    void *p;
    size_t sz;
} MachineColumn;

#define MACHINE_COLUMNS 20

static int machine_columns(const Machine *m, MachineColumn *cols)
{
    int at = m->attrs_on != 0, mod = at && !(m->attrs_on & ATTRS_NO_MODULE);
    int ret = at && !(m->attrs_on & ATTRS_NO_RETVAL);
    MachineColumn all[MACHINE_COLUMNS] = {
        {m->parent, 8},
        {m->interrupted, 8},
        {m->rows ? m->entry_row : NULL, 8},
        {m->rows ? m->exit_row : NULL, 8},
        {m->ts_entry, 8},
        {m->ts_exit, 8},
        {m->order, 8},
        {m->own, 8},
        {m->kdepth, 4},
        {m->ctx, 1},
        {m->flags, 2},
        {at ? m->a_pid : NULL, 4},
        {at ? m->a_comm : NULL, 4},
        {at ? m->a_func : NULL, 4},
        {mod ? m->a_module : NULL, 4},
        {at ? m->a_cpu_entry : NULL, 2},
        {at ? m->a_cpu_exit : NULL, 2},
        {ret ? m->a_retval : NULL, 8},
        {at ? m->a_xdur : NULL, 8},
        {at ? m->a_has_ret : NULL, 1},
    };
    memcpy(cols, all, sizeof(all));
    return MACHINE_COLUMNS;
}

static PyObject *py_machine_views(PyObject *self, PyObject *args)
{
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap))
        return NULL;
    Machine *m = get_machine(cap);
    if (!m)
        return NULL;
    MachineColumn cols[MACHINE_COLUMNS];
    int ncols = machine_columns(m, cols);
    int64_t n = m->finished ? 0 : m->ncalls;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (int i = 0; n > 0 && i < ncols; i++) {
        if (!cols[i].p)
            continue;
        npy_intp dims[1] = {(npy_intp)(n * (int64_t)cols[i].sz)};
        PyObject *a = PyArray_SimpleNewFromData(1, dims, NPY_UINT8, cols[i].p);
        if (!a) {
            Py_DECREF(out);
            return NULL;
        }
        Py_INCREF(cap);
        if (PyArray_SetBaseObject((PyArrayObject *)a, cap) < 0) {
            Py_DECREF(a);
            Py_DECREF(out);
            return NULL;
        }
        int bad = PyList_Append(out, a);
        Py_DECREF(a);
        if (bad < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    PyObject *t = PyList_AsTuple(out);
    Py_DECREF(out);
    return t;
}

/* Fault in, writable, the pages of the call columns that the next `ahead` calls will fill:
 * madvise(MADV_POPULATE_WRITE) (Linux 5.14, mm/madvise.c madvise_populate) maps the pages as a
 * write would, in one call per column, without changing any byte (a page already in place is
 * left as it is).  The machine writes its columns one new call after the other, so at 10M
 * records ~100k first-touch page faults came one by one from new_call/attrs_init, each an
 * exception entry; populated in bulk the same pages cost about half.  Only whole pages inside
 * the reserved columns are asked for; on a kernel without it the first EINVAL turns it off.
 * Returns the bytes asked for. */
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
static int populate_off = 0;
#endif

static PyObject *py_prefault(PyObject *self, PyObject *args)
{
    PyObject *cap;
    long long ahead;
    if (!PyArg_ParseTuple(args, "OL", &cap, &ahead))
        return NULL;
    Machine *m = get_machine(cap);
    if (!m)
        return NULL;
    long long asked = 0;
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (populate_off || m->finished || ahead <= 0 || m->ncalls >= m->capcalls)
        return PyLong_FromLongLong(0);
    MachineColumn cols[MACHINE_COLUMNS];
    int ncols = machine_columns(m, cols);
    /* (clamped before adding: ncalls + a huge `ahead` would overflow, and the wrapped range
     * would make madvise refuse (EINVAL) and turn populating off for the process) */
    int64_t lo = m->ncalls, room = m->capcalls - m->ncalls;
    int64_t hi = lo + ((int64_t)ahead < room ? (int64_t)ahead : room);
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < ncols && !populate_off; i++) {
        if (!cols[i].p)
            continue;
        /* the pages wholly inside [lo, hi): the page holding row lo may hold written rows
         * (populating it would not change them, but it is in place already) */
        uintptr_t a = ((uintptr_t)cols[i].p + (uintptr_t)lo * cols[i].sz + pg - 1) & ~(pg - 1);
        uintptr_t z = ((uintptr_t)cols[i].p + (uintptr_t)hi * cols[i].sz) & ~(pg - 1);
        if (z <= a)
            continue;
        if (madvise((void *)a, z - a, MADV_POPULATE_WRITE) == 0)
            asked += (long long)(z - a);
        else if (errno == EINVAL)
            populate_off = 1;
    }
    Py_END_ALLOW_THREADS
#else
    (void)ahead;
#endif
    return PyLong_FromLongLong(asked);
}

/* ------------------------------------------------------------------ prune */

static int cmp_int64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* union-find over the calls from prune's first candidate on (int32: prune is declined above
 * INT32_MAX calls); the root `top` (one past the last) stands for every marked call */
static inline int32_t uf_find(int32_t *uf, int32_t k)
{
    while (uf[k] != k) {
        uf[k] = uf[uf[k]];
        k = uf[k];
    }
    return k;
}

static inline void uf_join(int32_t *uf, int32_t top, int32_t a, int32_t b)
{
    a = uf_find(uf, a);
    b = uf_find(uf, b);
    if (a == b)
        return;
    if (a == top || (b != top && a < b))
        uf[b] = a;
    else
        uf[a] = b;
}

/* prune(m, keep, final=False) -> (calls let go, calls kept).  Lets go of the calls no caller of
 * the machine will ask for (fgraph hist --func X keeps only X's calls and their trees;
 * window.py WindowedRebuild prune_to): every call whose tree -- the calls joined by parent or
 * interrupted links -- holds no call of a function in `keep` (a bool per function code) and
 * nothing the machine may still change.  The machine changes a completed call only through its
 * tasks' stacks (open frames, the calls an interrupt level interrupted) and adoption lists
 * (done, irqs: a later exit may adopt them, fix_in_flight may move them), so a tree none of
 * whose calls those name is final, and whether it holds X is known.
 *
 * A tree found to hold X is kept until the final prune: its calls are marked CF_KEPT and no
 * later prune before it looks at them again (the calls below cand_lo are all marked: a prune's
 * passes start there, and its cost follows the calls made since the last, not all the calls
 * kept).  A new call
 * joins a kept tree through its links (made to older calls); a link made later from an older,
 * marked call to another (relinked) marks the other and the calls above it.
 *
 * The kept calls move down, in order (their creation order is kept: build_table's order ties
 * stay as they were), a run at a time, and every call id in the machine is renumbered.  What is
 * let go is counted (n_pruned) and its functions remembered (dropped()), for an error that
 * names the functions traced.  Between feeds only.  `final`: after the last feed, before
 * finish(): the open calls are closed as finish() closes them, no stack or list holds anything
 * back any more, and every call is looked at afresh (see `marks` below), so exactly the trees
 * holding X are kept. */
static PyObject *py_prune(PyObject *self, PyObject *args)
{
    PyObject *cap, *ko;
    int final = 0;
    if (!PyArg_ParseTuple(args, "OO|p", &cap, &ko, &final))
        return NULL;
    Machine *m = get_machine(cap);
    if (!m)
        return NULL;
    if (m->finished || !m->attrs_on) {
        PyErr_SetString(PyExc_RuntimeError, "stacks.prune: a machine fed with attributes, before finish");
        return NULL;
    }
    PyArrayObject *ka = (PyArrayObject *)PyArray_FROMANY(ko, NPY_BOOL, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!ka)
        return NULL;
    const npy_bool *keep = PyArray_DATA(ka);
    int64_t nkeep = PyArray_DIM(ka, 0);
    m->pruning = 1;
    /* final: what is open closes as finish() closes it, and nothing can change a call after
     * that (finish's own pass then finds nothing open) */
    if (final && close_all(m) < 0) {
        Py_DECREF(ka);
        return PyErr_NoMemory();
    }
    /* A mark is not undone when a relink splits its tree (an adoption at level 0 moves calls
     * from one root's tree to another's): a tree may keep it without X any more.  While the
     * windows run that only keeps a few calls more; the final prune looks at every call afresh,
     * marks aside, so that exactly the trees holding X stay. */
    uint16_t marks = final ? 0 : CF_KEPT;
    int64_t n = m->ncalls, lo = final ? 0 : m->cand_lo;
    if (final)
        m->ntouched = 0; /* (renumbered by the pass itself: it starts at 0) */
    if (lo > n)
        lo = n;
    int64_t nc = n - lo; /* the calls a pass looks at: lo + i is uf[i] */
    if (nc == 0 || nc >= INT32_MAX) {
        Py_DECREF(ka);
        return Py_BuildValue("(LL)", 0LL, (long long)n);
    }
    int32_t top = (int32_t)nc;
    int32_t *uf = malloc((size_t)(nc + 1) * sizeof(int32_t));
    uint8_t *held = calloc((size_t)nc + 1, 1); /* per root: 1 named by the machine, 2 holds X */
    if (!uf || !held) {
        free(uf);
        free(held);
        Py_DECREF(ka);
        return PyErr_NoMemory();
    }
    int64_t w = lo, first_free = -1, err = 0;
    Py_BEGIN_ALLOW_THREADS
    uf[top] = top;
    held[top] = 2;
    for (int64_t i = 0; i < nc; i++)
        uf[i] = (m->flags[lo + i] & marks) ? top : (int32_t)i;
    for (int64_t i = 0; i < nc; i++) {
        if (m->flags[lo + i] & marks) /* (uf[i] may be top by now through a join) */
            continue;
        int64_t l[2] = {m->parent[lo + i], m->interrupted[lo + i]};
        for (int h = 0; h < 2; h++) {
            if (l[h] < 0)
                continue;
            /* (a call below lo is marked, as is one the link is to when it is) */
            uf_join(uf, top, (int32_t)i, l[h] < lo ? top : (int32_t)(l[h] - lo));
        }
    }
    /* (marks go on roots, so only once every tree is joined) */
    for (int64_t i = 0; i < nc; i++) {
        int32_t f = m->a_func[lo + i];
        if (f >= 0 && f < nkeep && keep[f])
            held[uf_find(uf, (int32_t)i)] |= 2;
    }
#define HOLD(x)                                                          \
    do {                                                                 \
        int64_t x_ = (x);                                                \
        if (x_ >= lo)                                                    \
            held[uf_find(uf, (int32_t)(x_ - lo))] |= 1;                  \
    } while (0)
    for (int64_t ti = 0; ti < m->ntasks && !final; ti++) {
        Task *t = &m->tasks[ti];
        for (int32_t i = 0; i < t->n; i++) {
            HOLD(t->st[i].call);
            HOLD(t->st[i].interrupted);
        }
        for (int64_t i = 0; i < t->nd; i++)
            HOLD(t->done[i].call);
        for (int64_t i = 0; i < t->ni; i++)
            HOLD(t->irqs[i].call);
    }
#undef HOLD
    /* each call's fate, its function remembered when it goes; uf becomes the new ids (-1: let
     * go).  (A root is the least of its tree or top: uf[i] <= i or top, so in ascending order
     * a root's own entry is resolved before, and not read again once it is written.) */
    for (int64_t i = 0; i < nc && !err; i++) {
        int32_t r = uf_find(uf, (int32_t)i);
        uint8_t fate = held[r];
        if (fate & 2) {
            m->flags[lo + i] |= CF_KEPT;
        } else if (!(fate & 1)) {
            int32_t f = m->a_func[lo + i];
            if (f >= 0) {
                if (f >= m->capfd) {
                    int64_t old = m->capfd;
                    if (grow((void **)&m->fdropped, &m->capfd, (int64_t)f + 1, 1) < 0) {
                        err = 1;
                        break;
                    }
                    memset(m->fdropped + old, 0, (size_t)(m->capfd - old));
                }
                m->fdropped[f] = 1;
            }
        }
        uf[i] = r; /* (flattened: later calls of the tree find their root in one step) */
    }
    if (!err) {
        for (int64_t i = 0; i < nc; i++) {
            uint8_t fate = held[uf[i]];
            if (fate) {
                if (first_free < 0 && !(fate & 2))
                    first_free = w; /* the first call kept that is not marked */
                uf[i] = (int32_t)(w++ - lo);
            } else {
                uf[i] = -1;
            }
        }
    }
    Py_END_ALLOW_THREADS
    free(held);
    Py_DECREF(ka);
    if (err) {
        free(uf);
        return PyErr_NoMemory();
    }
    int64_t dropped = n - w;
    Py_BEGIN_ALLOW_THREADS
    if (dropped > 0) {
        MachineColumn cols[MACHINE_COLUMNS];
        int ncols = machine_columns(m, cols);
        /* the kept calls move down a run at a time (a tree's calls are mostly made one after
         * the other), each run one memmove per column; the calls before the first let go stay */
        int64_t i = 0;
        while (i < nc && uf[i] == i)
            i++;
        while (i < nc) {
            while (i < nc && uf[i] < 0)
                i++;
            int64_t a = i;
            while (i < nc && uf[i] >= 0)
                i++;
            if (i > a) {
                int64_t to = lo + uf[a], from = lo + a;
                for (int k = 0; k < ncols; k++) {
                    if (!cols[k].p)
                        continue;
                    char *p = cols[k].p;
                    size_t sz = cols[k].sz;
                    memmove(p + (size_t)to * sz, p + (size_t)from * sz, (size_t)(i - a) * sz);
                }
            }
        }
    }
#define NEW(x) ((x) >= lo ? lo + uf[(x) - lo] : (x))
    /* the links of the calls kept from lo on, and of the relinked ones below it */
    for (int64_t c = lo; c < w; c++) {
        if (m->parent[c] >= lo)
            m->parent[c] = NEW(m->parent[c]);
        if (m->interrupted[c] >= lo)
            m->interrupted[c] = NEW(m->interrupted[c]);
    }
    /* touched becomes the calls below new_lo with a link at or above it (the calls from
     * new_lo on are renumbered by the next prune's own pass): those listed before, each once
     * (a call relinked twice is listed twice), and those of this pass that fall below it */
    int64_t nt = 0;
    int64_t new_lo = first_free < 0 ? w : first_free;
    qsort(m->touched, (size_t)m->ntouched, sizeof(int64_t), cmp_int64);
    for (int64_t k = 0, prev = -1; k < m->ntouched; k++) {
        int64_t c = m->touched[k];
        if (c == prev)
            continue;
        prev = c;
        if (m->parent[c] >= lo)
            m->parent[c] = NEW(m->parent[c]);
        if (m->interrupted[c] >= lo)
            m->interrupted[c] = NEW(m->interrupted[c]);
        if (m->parent[c] >= new_lo || m->interrupted[c] >= new_lo)
            m->touched[nt++] = c;
    }
    m->ntouched = nt;
    for (int64_t c = lo; c < new_lo && !err; c++) {
        if (m->parent[c] >= new_lo || m->interrupted[c] >= new_lo) {
            if (grow((void **)&m->touched, &m->captouched, m->ntouched + 1, sizeof(int64_t)) < 0)
                err = 1;
            else
                m->touched[m->ntouched++] = c;
        }
    }
    for (int64_t ti = 0; ti < m->ntasks; ti++) {
        Task *t = &m->tasks[ti];
        for (int32_t i = 0; i < t->n; i++) {
            t->st[i].call = NEW(t->st[i].call);
            t->st[i].interrupted = NEW(t->st[i].interrupted);
        }
        if (final) { /* (no record comes after the last: nothing is adopted any more) */
            t->nd = 0;
            t->ni = 0;
        }
        for (int64_t i = 0; i < t->nd; i++)
            t->done[i].call = NEW(t->done[i].call);
        for (int64_t i = 0; i < t->ni; i++)
            t->irqs[i].call = NEW(t->irqs[i].call);
    }
#undef NEW
    m->ncalls = w;
    m->n_pruned += dropped;
    /* (out of memory: the next prune looks at every call, and renumbers all in its own pass) */
    m->cand_lo = err ? 0 : new_lo;
    if (err)
        m->ntouched = 0;
    Py_END_ALLOW_THREADS
    free(uf);
    if (err)
        return PyErr_NoMemory();
    return Py_BuildValue("(LL)", (long long)dropped, (long long)w);
}

/* dropped(m) -> (int32 codes of the functions of the calls prune let go, calls let go) */
static PyObject *py_dropped(PyObject *self, PyObject *args)
{
    Machine *m = machine_arg(args);
    if (!m)
        return NULL;
    npy_intp k = 0;
    for (int64_t f = 0; f < m->capfd; f++)
        k += m->fdropped[f] != 0;
    PyObject *a = PyArray_SimpleNew(1, &k, NPY_INT32);
    if (!a)
        return NULL;
    int32_t *o = PyArray_DATA((PyArrayObject *)a);
    for (int64_t f = 0, j = 0; f < m->capfd; f++)
        if (m->fdropped[f])
            o[j++] = (int32_t)f;
    PyObject *r = Py_BuildValue("(NL)", a, (long long)m->n_pruned);
    return r;
}
