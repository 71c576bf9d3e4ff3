/*
 * stacks.c -- the per-event stack machine of fgraph's rebuild (fgraph/reconstruct/calls.py).
 *
 * Why C: pairing function_graph entries with exits is inherently sequential (each event
 * depends on the open stack of its task), so it cannot be a whole-array numpy operation.
 * The Python wrapper prepares every per-event decision that *can* be vectorized (merge order,
 * task keys, interrupt context of each event, the function key to match on) and this loop
 * only walks the events once.
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

/* CallFlag bits (fgraph/schema.py) */
#define CF_SYNTH_ENTRY 0x001
#define CF_TRUNCATED 0x002
#define CF_LOST_GAP 0x004
#define CF_CLOSED_BY_OUTER 0x010
#define CF_CTX_BY_NAME 0x040

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
    int failed;
    int finished; /* finish() handed the call columns out */
} Machine;

#define NONE_GAP INT64_MIN

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

static void open_dec(Machine *m, int64_t task, int64_t fkey)
{
    int64_t *c = open_slot(m, task, fkey, 0);
    if (c && *c > 0)
        (*c)--;
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

static int push_frame(Task *t, Frame f)
{
    int64_t cap = t->cap;
    if (grow((void **)&t->st, &cap, (int64_t)t->n + 1, sizeof(Frame)) < 0)
        return -1;
    t->cap = (int32_t)cap;
    t->st[t->n++] = f;
    return 0;
}

/* A frame at stack position s is finished: its trailing children are no longer candidates for
 * adoption; the frame itself becomes one (of the frame below it). */
static int complete(Task *t, int64_t call, int32_t s)
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

static int64_t new_call(Machine *m)
{
    if (grow_calls(m, m->ncalls + 1) < 0)
        return -1;
    int64_t c = m->ncalls++;
    m->parent[c] = -1;
    m->interrupted[c] = -1;
    if (m->rows) {
        m->entry_row[c] = -1;
        m->exit_row[c] = -1;
    }
    m->ts_entry[c] = -1;
    m->ts_exit[c] = -1;
    m->order[c] = -1;
    m->own[c] = -1;
    m->kdepth[c] = -1;
    m->ctx[c] = CTX_TASK;
    m->flags[c] = 0;
    return c;
}

/* parent / level of a call about to be pushed on (or completed at) the top of t */
static int place(Machine *m, Task *t, int64_t c)
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
static int adjust(Machine *m, Task *t, int e, int byname)
{
    /* an interrupt level with nothing open ends when an event of another context arrives */
    while (t->n > 0 && t->st[t->n - 1].call < 0 && t->st[t->n - 1].ctx != e) {
        t->n--;
        complete(t, -1, t->n);
    }
    int level = t->n > 0 ? t->st[t->n - 1].ctx : CTX_TASK;
    if (e > level) {
        m->pushed = 1;
        Frame f;
        memset(&f, 0, sizeof(f));
        f.call = -1;
        f.fkey = 0;
        f.ctx = (int8_t)e;
        f.byname = (int8_t)byname;
        f.interrupted = -1;
        if (t->n > 0)
            f.interrupted = t->st[t->n - 1].call; /* top is a call here (an empty marker of
                                                     ctx e would have made level == e) */
        return push_frame(t, f);
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
            open_dec(m, t - m->tasks, f->fkey);
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
static int fix_in_flight(Machine *m, Task *t, int64_t c, int32_t j)
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
        if (m->order[k] - 1 < ord)
            ord = m->order[k] - 1;
        t->ni--;
    }
    m->order[c] = ord;
    return complete(t, c, j);
}

typedef struct {
    const int64_t *pos, *row, *task, *fkey, *ts, *dur;
    const int32_t *cpu, *kdepth;
    const int8_t *kind, *ctx, *bits;
    int64_t *cid; /* optional output: the call each record entered, closed or made (-1: gap) */
} Events;

static int step(Machine *m, const Events *ev, int64_t i)
{
    int kind = ev->kind[i];
    int64_t cpu = ev->cpu[i];
    if (cpu < 0 || cpu >= m->ncpu)
        cpu = -1;
    if (kind == EV_GAP) {
        if (cpu < 0)
            return 0;
        int64_t ti = m->cur_task[cpu];
        if (ti >= 0)
            mark_gap(m, &m->tasks[ti], ev->ts[i]);
        m->pend_gap[cpu] = ev->ts[i];
        m->pend_task[cpu] = ti;
        if (ev->ts[i] > m->cpu_gap_ts[cpu])
            m->cpu_gap_ts[cpu] = ev->ts[i];
        return 0;
    }
    int64_t ti = task_of(m, ev->task[i]);
    if (ti < 0)
        return -1;
    Task *t = &m->tasks[ti];
    if (cpu >= 0) {
        if (m->pend_gap[cpu] != NONE_GAP) {
            if (m->pend_task[cpu] != ti)
                mark_gap(m, t, m->pend_gap[cpu]);
            m->pend_gap[cpu] = NONE_GAP;
        }
        /* a task seen again on a CPU that lost events after the task's last record may have
         * run there in the lost stretch (it migrated across the gap) */
        if (m->cpu_gap_ts[cpu] >= 0 && t->last_ts >= 0 && m->cpu_gap_ts[cpu] > t->last_ts && t->n > 0 &&
            t->gap_ts < m->cpu_gap_ts[cpu])
            mark_gap(m, t, m->cpu_gap_ts[cpu]);
        m->cur_task[cpu] = ti;
    }
    int e = ev->ctx[i];
    int byname = (ev->bits[i] & EB_BYNAME) != 0;
    int64_t ts = ev->ts[i];
    if (kind == EV_ENTRY) {
        if (e == CTX_UNKNOWN && t->n > 0) {
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
        int64_t c = new_call(m);
        if (c < 0)
            return -1;
        if (place(m, t, c) < 0)
            return -1;
        set_row(m, m->entry_row, c, ev->row[i]);
        if (ev->cid)
            ev->cid[i] = c;
        m->ts_entry[c] = ts;
        m->order[c] = ev->pos[i];
        m->own[c] = ev->pos[i];
        m->kdepth[c] = ev->kdepth[i];
        Frame f;
        memset(&f, 0, sizeof(f));
        f.call = c;
        f.fkey = ev->fkey[i];
        f.interrupted = -1;
        f.ctx = m->ctx[c];
        f.byname = (m->flags[c] & CF_CTX_BY_NAME) != 0;
        f.container = (ev->bits[i] & EB_CONTAINER) != 0;
        int64_t *oc = open_slot(m, ti, f.fkey, 1);
        if (!oc)
            return -1;
        (*oc)++;
        t = &m->tasks[ti];
        if (push_frame(t, f) < 0)
            return -1;
    } else if (kind == EV_EXIT) {
        m->pushed = 0;
        if (adjust(m, t, e, byname) < 0)
            return -1;
        int fresh_byname = m->pushed && byname;
        int32_t j = t->n - 1;
        int64_t fk = ev->fkey[i];
        int64_t *oc = open_slot(m, ti, fk, 0);
        if (!oc || *oc <= 0)
            j = -1;
        while (j >= 0 && !(t->st[j].call >= 0 && t->st[j].fkey == fk))
            j--;
        int64_t synth0 = (ts >= 0 && ev->dur[i] >= 0) ? ts - ev->dur[i] : -1;
        int64_t nscratch = 0;
        if (j >= 0 && (ev->bits[i] & EB_CALLTIME) && synth0 >= 0) {
            /* The exit's calltime says when its call began (binary records).  An open frame of
             * the same function entered before that is another instance whose exit was lost
             * (ring-buffer loss): at the same kernel depth, close it and treat this exit as an
             * orphan at that level; shallower, it is an ancestor (recursion whose inner entry
             * was lost) and the orphan goes on top. */
            int64_t c0 = t->st[j].call;
            int64_t e0 = m->ts_entry[c0];
            if (e0 >= 0 && e0 < synth0 - m->tol) {
                int32_t kd0 = m->kdepth[c0], kdx = ev->kdepth[i];
                if (kd0 >= 0 && kdx >= 0 && kd0 < kdx) {
                    j = -1;
                } else {
                    if (close_above(m, t, j, CF_TRUNCATED | CF_CLOSED_BY_OUTER) < 0)
                        return -1;
                    /* calls completed inside the stale frame after this call began belong to
                     * this call: keep them for adoption */
                    int64_t from = t->nd;
                    while (from > 0 && t->done[from - 1].owner == j + 1 &&
                           inside(m, t->done[from - 1].call, synth0, ts, ev->kdepth[i]))
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
                    open_dec(m, ti, t->st[j].fkey);
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
            open_dec(m, ti, t->st[j].fkey);
            t->n = j;
            set_row(m, m->exit_row, c, ev->row[i]);
            if (ev->cid)
                ev->cid[i] = c;
            m->ts_exit[c] = ts;
            if (fix_in_flight(m, t, c, j) < 0)
                return -1;
        } else {
            /* orphan exit: entry before the trace start or lost */
            int64_t c = new_call(m);
            if (c < 0)
                return -1;
            if (place(m, t, c) < 0)
                return -1;
            m->flags[c] |= CF_SYNTH_ENTRY;
            set_row(m, m->exit_row, c, ev->row[i]);
            if (ev->cid)
                ev->cid[i] = c;
            m->ts_exit[c] = ts;
            m->kdepth[c] = ev->kdepth[i];
            int64_t synth = (ts >= 0 && ev->dur[i] >= 0) ? ts - ev->dur[i] : -1;
            m->ts_entry[c] = synth;
            int64_t ord = ev->pos[i];
            int32_t s = t->n;
            int32_t kd = ev->kdepth[i];
            for (int64_t k = 0; k < nscratch; k++) {
                int64_t a = m->scratch[k];
                m->parent[a] = c;
                m->interrupted[a] = -1;
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
    free(m->cur_task);
    free(m->pend_gap);
    free(m->pend_task);
    free(m->cpu_gap_ts);
    free(m->scratch);
    free(m->okeys_t);
    free(m->okeys_f);
    free(m->ocount);
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
    Events ev;
    ev.pos = PyArray_DATA(a[0]);
    ev.row = PyArray_DATA(a[1]);
    ev.kind = PyArray_DATA(a[2]);
    ev.task = PyArray_DATA(a[3]);
    ev.cpu = PyArray_DATA(a[4]);
    ev.ctx = PyArray_DATA(a[5]);
    ev.bits = PyArray_DATA(a[6]);
    ev.fkey = PyArray_DATA(a[7]);
    ev.ts = PyArray_DATA(a[8]);
    ev.dur = PyArray_DATA(a[9]);
    ev.kdepth = PyArray_DATA(a[10]);
    ev.cid = NULL;
    PyArrayObject *cida = NULL;
    if (cido && cido != Py_None) {
        if (!PyArray_Check(cido) || PyArray_TYPE((PyArrayObject *)cido) != NPY_INT64 ||
            PyArray_NDIM((PyArrayObject *)cido) != 1 || PyArray_DIM((PyArrayObject *)cido, 0) != n ||
            !PyArray_ISCARRAY((PyArrayObject *)cido)) {
            for (int k = 0; k < 11; k++)
                Py_DECREF(a[k]);
            PyErr_SetString(PyExc_ValueError, "cid must be a writable contiguous int64 array of n");
            return NULL;
        }
        cida = (PyArrayObject *)cido;
        ev.cid = PyArray_DATA(cida);
        for (npy_intp i = 0; i < n; i++)
            ev.cid[i] = -1;
    }
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < n; i++) {
        if (step(m, &ev, i) < 0) {
            rc = -1;
            break;
        }
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

/* finish(machine) -> dict of call columns (in creation order) and counters.  Open frames are
 * closed at their task's last timestamp (TRUNCATED). */
static PyObject *py_finish(PyObject *self, PyObject *args)
{
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap))
        return NULL;
    Machine *m = get_machine(cap);
    if (!m)
        return NULL;
    for (int64_t ti = 0; ti < m->ntasks; ti++) {
        if (close_above(m, &m->tasks[ti], -1, CF_TRUNCATED) < 0)
            return PyErr_NoMemory();
    }
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    int64_t n = m->ncalls;
    /* a synthesized entry's own place is where it was put */
    for (int64_t c = 0; c < n; c++)
        if (m->own[c] < 0)
            m->own[c] = m->order[c];
    /* the call columns leave the machine (handed to numpy below): it takes no more events */
    m->finished = 1;
    m->ncalls = 0;
    m->capcalls = 0;
#define PUT(name, src, type, T)                                                          \
    do {                                                                                 \
        PyObject *v = n ? give_out((void **)&(src), n, type, sizeof(T))                   \
                        : copy_out(src, n, type, sizeof(T));                             \
        if (!v || PyDict_SetItemString(d, name, v) < 0) {      \
            Py_XDECREF(v);                                     \
            Py_DECREF(d);                                      \
            return NULL;                                       \
        }                                                      \
        Py_DECREF(v);                                          \
    } while (0)
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
#undef PUT
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

/* floor(parent, duration, trunc) -> duration: a truncated call lasts at least as long as its
 * children together.  Calls are ordered parents before children, so one backward pass sees
 * every child before its parent (no recursion, O(n)). */
static PyObject *py_floor(PyObject *self, PyObject *args)
{
    PyObject *op, *od, *ot;
    if (!PyArg_ParseTuple(args, "OOO", &op, &od, &ot))
        return NULL;
    PyArrayObject *pa = (PyArrayObject *)PyArray_FROMANY(op, NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    PyArrayObject *da = (PyArrayObject *)PyArray_FROMANY(od, NPY_INT64, 1, 1, NPY_ARRAY_ENSURECOPY | NPY_ARRAY_CARRAY);
    PyArrayObject *ta = (PyArrayObject *)PyArray_FROMANY(ot, NPY_BOOL, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!pa || !da || !ta) {
        Py_XDECREF(pa);
        Py_XDECREF(da);
        Py_XDECREF(ta);
        return NULL;
    }
    npy_intp n = PyArray_DIM(pa, 0);
    if (PyArray_DIM(da, 0) != n || PyArray_DIM(ta, 0) != n) {
        Py_DECREF(pa);
        Py_DECREF(da);
        Py_DECREF(ta);
        PyErr_SetString(PyExc_ValueError, "stacks.floor: lengths differ");
        return NULL;
    }
    const int64_t *par = PyArray_DATA(pa);
    int64_t *dur = PyArray_DATA(da);
    const npy_bool *tr = PyArray_DATA(ta);
    int64_t *acc = calloc((size_t)(n + 1), sizeof(int64_t));
    if (!acc) {
        Py_DECREF(pa);
        Py_DECREF(da);
        Py_DECREF(ta);
        return PyErr_NoMemory();
    }
    for (npy_intp i = n - 1; i >= 0; i--) {
        if (tr[i] && acc[i] > dur[i])
            dur[i] = acc[i];
        int64_t p = par[i];
        if (p >= 0 && p < i && dur[i] > 0)
            acc[p] += dur[i];
    }
    free(acc);
    Py_DECREF(pa);
    Py_DECREF(ta);
    return (PyObject *)da;
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
    PyArrayObject *a[10];
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

/* cumspan(keys, off, start, end, before, qtask, q0, q1, sel) -> int64 per query.
 * Intervals of task keys[g] are [off[g], off[g+1]) sorted by start; before[i] is the summed
 * length of the task's intervals before i.  F(t) = before[i] + min(t, end[i]) - start[i] for
 * the task's last interval i with start <= t (0 if none).  Per query: sel 1 -> F(q1) - F(q0),
 * sel 2 -> 0, sel 0 -> -1. */
static PyObject *py_cumspan(PyObject *self, PyObject *args)
{
    PyObject *o[9], *dst = NULL;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO|O", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8], &dst))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *keys = held_get(&h, o[0], NPY_INT64);
    const int64_t *off = keys ? held_get(&h, o[1], NPY_INT64) : NULL;
    const int64_t *start = off ? held_get(&h, o[2], NPY_INT64) : NULL;
    const int64_t *end = start ? held_get(&h, o[3], NPY_INT64) : NULL;
    const int64_t *before = end ? held_get(&h, o[4], NPY_INT64) : NULL;
    const int64_t *qtask = before ? held_get(&h, o[5], NPY_INT64) : NULL;
    const int64_t *q0 = qtask ? held_get(&h, o[6], NPY_INT64) : NULL;
    const int64_t *q1 = q0 ? held_get(&h, o[7], NPY_INT64) : NULL;
    const int8_t *sel = q1 ? held_get(&h, o[8], NPY_INT8) : NULL;
    if (!sel) {
        held_free(&h);
        return NULL;
    }
    npy_intp nk = held_len(&h, 0), m = held_len(&h, 2), n = held_len(&h, 5);
    if (held_len(&h, 1) != nk + 1 || held_len(&h, 3) != m || held_len(&h, 4) != m ||
        held_len(&h, 6) != n || held_len(&h, 7) != n || held_len(&h, 8) != n ||
        (nk && (off[0] < 0 || off[nk] > m))) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.cumspan: inconsistent lengths");
        return NULL;
    }
    npy_intp dims[1] = {n};
    PyArrayObject *out;
    if (dst && dst != Py_None) {
        /* fill the caller's column in place (no second call-length allocation) */
        if (!PyArray_Check(dst) || PyArray_TYPE((PyArrayObject *)dst) != NPY_INT64 ||
            PyArray_NDIM((PyArrayObject *)dst) != 1 || PyArray_DIM((PyArrayObject *)dst, 0) != n ||
            !PyArray_ISCARRAY((PyArrayObject *)dst)) {
            held_free(&h);
            PyErr_SetString(PyExc_ValueError, "stacks.cumspan: out must be a writable int64 column");
            return NULL;
        }
        out = (PyArrayObject *)dst;
        Py_INCREF(out);
    } else {
        out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64);
    }
    if (!out) {
        held_free(&h);
        return NULL;
    }
    int64_t *r = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    int64_t last_task = 0, g = -1;
    int have = 0;
    for (npy_intp i = 0; i < n; i++) {
        if (sel[i] != 1) {
            r[i] = sel[i] ? 0 : -1;
            continue;
        }
        if (!have || qtask[i] != last_task) {
            last_task = qtask[i];
            g = group_of(keys, nk, last_task);
            have = 1;
        }
        if (g < 0) {
            r[i] = 0;
            continue;
        }
        int64_t f[2];
        const int64_t q[2] = {q0[i], q1[i]};
        for (int k = 0; k < 2; k++) {
            int64_t j = last_le(start, off[g], off[g + 1], q[k]);
            f[k] = j < 0 ? 0 : before[j] + (q[k] < end[j] ? q[k] : end[j]) - start[j];
        }
        r[i] = f[1] - f[0];
    }
    Py_END_ALLOW_THREADS
    held_free(&h);
    return (PyObject *)out;
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

/* inner(parent, interrupted, dur) -> (child_ns, irq_ns): per call, the summed durations
 * (negative ones count 0) of its children and of the interrupts that hit it.  Integer sums in
 * one pass (np.bincount with weights would make float64 temporaries). */
static PyObject *py_inner(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]))
        return NULL;
    Held h = {{0}, 0};
    const int64_t *par = held_get(&h, o[0], NPY_INT64);
    const int64_t *irq = par ? held_get(&h, o[1], NPY_INT64) : NULL;
    const int64_t *dur = irq ? held_get(&h, o[2], NPY_INT64) : NULL;
    if (!dur) {
        held_free(&h);
        return NULL;
    }
    npy_intp n = held_len(&h, 0);
    if (held_len(&h, 1) != n || held_len(&h, 2) != n) {
        held_free(&h);
        PyErr_SetString(PyExc_ValueError, "stacks.inner: lengths differ");
        return NULL;
    }
    npy_intp dims[1] = {n};
    PyArrayObject *ca = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_INT64, 0);
    PyArrayObject *ia = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_INT64, 0);
    if (!ca || !ia) {
        Py_XDECREF(ca);
        Py_XDECREF(ia);
        held_free(&h);
        return NULL;
    }
    int64_t *cs = PyArray_DATA(ca), *is = PyArray_DATA(ia);
    for (npy_intp i = 0; i < n; i++) {
        int64_t d = dur[i] > 0 ? dur[i] : 0;
        if (par[i] >= 0 && par[i] < n)
            cs[par[i]] += d;
        if (irq[i] >= 0 && irq[i] < n)
            is[irq[i]] += d;
    }
    held_free(&h);
    return Py_BuildValue("(NN)", ca, ia);
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
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1]))
        return NULL;
    PyArrayObject *pa = (PyArrayObject *)PyArray_FROMANY(o[0], NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    PyArrayObject *ta = pa ? (PyArrayObject *)PyArray_FROMANY(o[1], NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO)
                           : NULL;
    if (!pa || !ta) {
        Py_XDECREF(pa);
        Py_XDECREF(ta);
        return NULL;
    }
    npy_intp n = PyArray_DIM(pa, 0), nt = PyArray_DIM(ta, 0);
    const int64_t *par = PyArray_DATA(pa), *tops = PyArray_DATA(ta);
    /* own[i]: index into outer of the row's owner, -1 none; -2 marks a top before the pass */
    int64_t *own = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (!own) {
        Py_DECREF(pa);
        Py_DECREF(ta);
        return PyErr_NoMemory();
    }
    for (npy_intp i = 0; i < n; i++)
        own[i] = -1;
    for (npy_intp k = 0; k < nt; k++)
        if (tops[k] >= 0 && tops[k] < n)
            own[tops[k]] = -2;
    int64_t nouter = 0, nested = 0, nuni = 0;
    int bad = 0;
    for (npy_intp i = 0; i < n; i++) {
        int64_t p = par[i];
        int64_t po = -1;
        if (p >= i) {
            bad = 1;
            break;
        }
        if (p >= 0)
            po = own[p];
        if (own[i] == -2) { /* a top */
            if (po >= 0) {
                nested++;
                own[i] = po;
            } else {
                own[i] = nouter++;
            }
        } else {
            own[i] = po;
        }
        if (own[i] >= 0)
            nuni++;
    }
    Py_DECREF(pa);
    Py_DECREF(ta);
    if (bad) {
        free(own);
        Py_RETURN_NONE;
    }
    npy_intp d1[1] = {(npy_intp)nouter}, d2[1] = {(npy_intp)nuni};
    PyArrayObject *outer = (PyArrayObject *)PyArray_SimpleNew(1, d1, NPY_INT64);
    PyArrayObject *uni = (PyArrayObject *)PyArray_SimpleNew(1, d2, NPY_INT64);
    PyArrayObject *ow = (PyArrayObject *)PyArray_SimpleNew(1, d2, NPY_INT64);
    if (!outer || !uni || !ow) {
        Py_XDECREF(outer);
        Py_XDECREF(uni);
        Py_XDECREF(ow);
        free(own);
        return PyErr_NoMemory();
    }
    int64_t *po_ = PyArray_DATA(outer), *pu = PyArray_DATA(uni), *pw = PyArray_DATA(ow);
    int64_t ko = 0, ku = 0;
    for (npy_intp i = 0; i < n; i++) {
        int64_t w = own[i];
        if (w < 0)
            continue;
        if (w == ko) /* the first row an index owns is its top (tops come before their rows) */
            po_[ko++] = i;
        pu[ku] = i;
        pw[ku++] = w;
    }
    free(own);
    return Py_BuildValue("(NLNN)", outer, (long long)nested, uni, ow);
}

static PyMethodDef methods[] = {
    {"inner", py_inner, METH_VARARGS, "inner(parent, interrupted, dur) -> (child_ns, irq_ns)"},
    {"cumspan", py_cumspan, METH_VARARGS,
     "cumspan(keys, off, start, end, before, qtask, q0, q1, sel) -> F(q1) - F(q0) per query"},
    {"lastin", py_lastin, METH_VARARGS,
     "lastin(keys, off, t, qtask, q0, q1, sel) -> index of the task's last t in [q0, q1] or -1"},
    {"floor", py_floor, METH_VARARGS, "floor(parent, duration, trunc) -> duration (children's sum floor)"},
    {"new", py_new, METH_VARARGS, "new(ncpu, tol, expect=0, rows=True) -> machine state (capsule)"},
    {"feed", py_feed, METH_VARARGS,
     "feed(m, pos, row, kind, task, cpu, ctx, bits, fkey, ts, dur, kdepth): run events in order"},
    {"finish", py_finish, METH_VARARGS, "finish(m) -> dict of call columns and counters"},
    {"resolve", py_resolve, METH_VARARGS, "resolve(parent) -> (depth, root)"},
    {"owners", py_owners, METH_VARARGS, "owners(parent, tops) -> (outer, nested, uni, owner) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "stacks",
                                       "Per-task stack machine of the call-tree rebuild.", -1, methods};

PyMODINIT_FUNC PyInit_stacks(void)
{
    import_array();
    return PyModule_Create(&moduledef);
}
