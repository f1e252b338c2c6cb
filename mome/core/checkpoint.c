/*
 * checkpoint.c - checkpoints of persistent segments: each participant's delta, the coordinator's
 * commit, and the two messages between them.
 *
 * A participant (a node with a record of the segment) gathers the pages it flagged
 * (coherence/checkpoint.h), fetching those whose copy here may not be current, copies their
 * content in batches through the progress thread and appends it to its data file, makes the delta
 * durable, then sends CKPT_READY (its index's size and checksum, or a failure) to the coordinator.
 * The coordinator, once every participant is ready, commits (repo/: a new head renamed over the
 * old one) and sends CKPT_DONE with the outcome. A participant restores its flags when the
 * checkpoint failed, so the next one writes those pages again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "coherence/checkpoint.h"
#include "coherence/seg.h"
#include "core/checkpoint.h"
#include "core/cmd.h"
#include "core/job.h"
#include "core/proto.h"
#include "core/segment.h"
#include "core/sync.h"
#include "mome.h"
#include "coherence/served.h"
#include "memory/store_repo.h"
#include "net/server.h"
#include "repo/repo.h"

/* A checkpoint of one segment on this node (application thread; its commands read it). */
typedef struct job {
    mome_op_t op; /* the gather's fetches */
    int handle;
    uint64_t id;
    char name[MOME_SEG_NAME_MAX + 1];
    mome_repo_seg_t *rs; /* the store's repository segment */
    int coord;
    int status;
    /* gather / take */
    mome_ckpt_set_t set;
    size_t left;
    mome_cmd_t *waiting;
    /* copy, restore */
    const uint64_t *pages;
    size_t n, copied;
    void *buf;
    /* READY, DONE */
    mome_ckptmsg_t msg;
    /* coordinator */
    mome_repo_seg_t *mrs;
    mome_repo_file_t *parts;
    int nparts, unlinked;
    uint64_t *seen; /* coordinator: the nodes whose READY it counted (its DONE goes to them) */
    int served; /* momed keeps the segment */
    uint64_t wrote; /* the generation whose files write_delta finished here, or 0 */
    int window; /* fn_begin opens the checkpoint's window (mome_ckpt_window) */
    int gathering; /* this node's SEG_CLOSE of the segment waits (mome_segment_ckpt_begin) */
    int unsaved;   /* closed here and unlinked (mome_segment_hold): nothing to gather */
} job_t;

/* Coordinator side: the READYs of a segment's checkpoint (progress thread). */
typedef struct coord {
    mome_hnode_t h; /* k1 = segment id */
    int got;
    uint64_t *seen; /* nodes whose READY came */
    uint64_t *gens; /* per node: the generation its READY said it wrote */
    mome_repo_file_t *parts;
    int nparts;
    int status;
    uint32_t fail_node;
    mome_cmd_t *cmd; /* the coordinator's application thread, waiting */
} coord_t;

/* Participant side: the outcome (progress thread), once this node's READY went. */
typedef struct done {
    mome_hnode_t h; /* k1 = segment id */
    int ready;      /* this node's CKPT_READY went: a CKPT_DONE may come */
    int coord;      /* where it went: the one node that answers it */
    uint64_t gen;   /* the generation this node wrote (or would have) */
    int have;
    mome_ckptmsg_t msg;
    mome_cmd_t *cmd;
} done_t;

static mome_htab_t coords, dones;
static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static int run(void (*fn)(mome_cmd_t *), job_t *j)
{
    mome_cmd_t c = {.fn = fn, .u.ckpt.job = j};
    return mome_cmd_run(&c);
}

static int users_count(const uint64_t *users)
{
    int n = 0;
    for (size_t w = 0; w < ((size_t)mome_g.nnodes + 63) / 64; w++)
        n += __builtin_popcountll(users[w]);
    return n;
}

/* ---- commands (progress thread) ---- */

/*
 * The job holds its own reference to the repository segment (dropped by job_release): the
 * segment may be destroyed while the application thread writes its delta or waits for the
 * outcome (its last close, unlinked, on another node: MomeFinalize saves closed segments), and
 * the store's reference goes with it. Without its own, the job wrote to, and locked, freed
 * memory (the final checkpoint of defects unlinkfin hung on a freed mutex).
 */
static void fill(job_t *j, mome_seg_t *s)
{
    j->id = s->id;
    j->rs = mome_store_repo_of(s->store);
    mome_repo_hold(j->rs);
    snprintf(j->name, sizeof(j->name), "%s", s->name);
    j->coord = mome_segment_manager(s->name);
}

/* Until its delta is written (fn_gathered), the checkpoint's fetches go before this node's
 * SEG_CLOSE of the segment: another thread's MomeSegClose meanwhile waits. */
static void gather_begin(job_t *j)
{
    mome_segment_ckpt_begin(j->id);
    j->gathering = 1;
}

static void fn_gathered(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    if (j->gathering)
        mome_segment_ckpt_end(j->id);
    j->gathering = 0;
    mome_cmd_complete(c, 0);
}

static void fn_begin(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    mome_seg_t *s = mome_segment_of(j->handle);
    if (!s) {
        mome_cmd_fail(c, EBADF, "MomeCheckpoint: %d is not an open segment handle", j->handle);
        return;
    }
    if (mome_seg_is_served(s->id)) {
        j->id = s->id;
        j->served = 1;
        snprintf(j->name, sizeof(j->name), "%s", s->name);
        mome_cmd_complete(c, 0);
        return;
    }
    if (!mome_store_persistent(s->store)) {
        mome_cmd_fail(c, EINVAL, "MomeCheckpoint: segment '%s' is not persistent (open it with "
                                 "MOME_PERSIST)", s->name);
        return;
    }
    fill(j, s);
    gather_begin(j); /* in the same command: the handle is open, its SEG_CLOSE not sent */
    if (j->window)
        mome_ckpt_window(s->id); /* before the barrier: see ckptflag.h */
    mome_cmd_complete(c, 0);
}

static void job_release(job_t *j)
{
    mome_repo_close(j->rs);
    j->rs = NULL;
}

static void fn_window_close(mome_cmd_t *c)
{
    mome_ckpt_window(0);
    mome_cmd_complete(c, 0);
}

static void fn_local(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    mome_seg_t *s = mome_seg_find(j->id);
    if (!s || !mome_store_persistent(s->store)) {
        mome_cmd_complete(c, -ENOENT);
        return;
    }
    fill(j, s);
    gather_begin(j);
    /* Closed here (its SEG_CLOSE went): held open at its name manager first, which answers. */
    if (!mome_segment_hold(j->id, j->name, c))
        mome_cmd_complete(c, 0);
}

static void gathered(mome_op_t *op)
{
    job_t *j = (job_t *)op;
    mome_seg_t *s = mome_seg_find(j->id);
    j->left = s ? mome_ckpt_take(s, &j->set) : 0;
    if (!s)
        j->set.n = 0;
    mome_cmd_complete(j->waiting, 0);
}

static void fn_gather(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    mome_seg_t *s = mome_seg_find(j->id);

    memset(&j->set, 0, sizeof(j->set));
    j->left = 0;
    j->waiting = c;
    if (!s || j->unsaved) { /* destroyed meanwhile, or unlinked: nothing to write */
        mome_cmd_complete(c, 0);
        return;
    }
    mome_op_begin(&j->op, gathered);
    if (mome_ckpt_gather(s, &j->op, &j->set) < 0)
        j->status = -ENOMEM;
    mome_op_end(&j->op);
}

static void fn_copy(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    mome_seg_t *s = mome_seg_find(j->id);
    j->copied = s ? mome_ckpt_copy(s, j->pages, j->n, j->buf) : 0;
    mome_cmd_complete(c, 0);
}

static void fn_restore(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    mome_seg_t *s = mome_seg_find(j->id);
    if (s)
        mome_ckpt_restore(s, j->pages, j->n);
    mome_cmd_complete(c, 0);
}

static done_t *done_of(uint64_t id);

void mome_checkpoint_expect_done(uint64_t seg, int coord, uint64_t gen)
{
    done_t *d = done_of(seg);
    d->ready = 1;
    d->coord = coord;
    d->gen = gen;
}

static void fn_ready(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    mome_checkpoint_expect_done(j->id, j->coord, j->msg.gen);
    mome_send(j->coord, MOME_MSG_CKPT_READY, 0, &j->msg, NULL, 0);
    mome_cmd_complete(c, 0);
}

static void coord_free(coord_t *k)
{
    mome_htab_del(&coords, &k->h);
    free(k->seen);
    free(k->gens);
    free(k->parts);
    free(k);
}

/* Every participant's READY counted (users: the record's), or the segment destroyed (gone):
 * the coordinator's application thread, waiting, takes the outcome; its DONE goes to the nodes
 * counted here (fn_done). */
static void coord_complete(coord_t *k, const uint64_t *users, int gone)
{
    if (!k->cmd || (!gone && k->got < users_count(users)))
        return;
    job_t *j = k->cmd->u.ckpt.job;
    j->parts = k->parts;
    j->nparts = k->nparts;
    j->status = k->status;
    j->msg.node = k->fail_node;
    j->seen = k->seen;
    if (gone)
        j->unlinked = 1; /* nothing to commit */
    k->parts = NULL;
    k->seen = NULL;
    mome_cmd_outstanding(-1);
    mome_cmd_complete(k->cmd, 0);
    coord_free(k);
}

/*
 * The segment's name record went (its last close, unlinked) while READYs were counted: those
 * nodes still get their DONE, the generation unchanged, from here if the coordinator's own wait
 * has not begun (it then finds no record and leaves), else from the coordinator, which commits
 * nothing. The READYs still to come are answered at once (on_ready: a segment destroyed). Before,
 * the coordinator that found no record left without a DONE, and one already waiting waited for
 * READYs answered at once: the nodes counted waited for ever (defects ckptclose, which closes
 * the segment from other threads while it is checkpointed).
 */
static void coord_abandon(coord_t *k)
{
    if (k->cmd) {
        coord_complete(k, NULL, 1);
        return;
    }
    for (int n = 0; n < mome_g.nnodes; n++)
        if (k->seen[n / 64] >> (n % 64) & 1) {
            mome_ckptmsg_t d = {.seg = k->h.k1,
                                .gen = k->gens[n] ? k->gens[n] - 1 : 0,
                                .status = k->status,
                                .node = k->fail_node};
            mome_send(n, MOME_MSG_CKPT_DONE, 0, &d, NULL, 0);
        }
    coord_free(k);
}

/* The name record of seg went (unlinked, its last close: mome_segment_on_destroy). */
static void forget(uint64_t seg)
{
    coord_t *k = (coord_t *)mome_htab_get(&coords, seg, 0);
    if (k)
        coord_abandon(k);
}

static coord_t *coord_of(uint64_t id)
{
    coord_t *k = (coord_t *)mome_htab_get(&coords, id, 0);
    if (k)
        return k;
    k = mome_calloc(1, sizeof(*k));
    if (k) {
        k->seen = mome_calloc(((size_t)mome_g.nnodes + 63) / 64, sizeof(*k->seen));
        k->gens = mome_calloc((size_t)mome_g.nnodes, sizeof(*k->gens));
        k->parts = mome_calloc((size_t)mome_g.nnodes, sizeof(*k->parts));
    }
    if (!k || !k->seen || !k->gens || !k->parts)
        mome_fatal("out of memory coordinating a checkpoint of segment '%s' (%#llx); stopping",
                   mome_segment_name(id), (unsigned long long)id);
    k->h.k1 = id;
    mome_htab_put(&coords, &k->h);
    return k;
}

static void fn_wait_ready(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    const uint64_t *users;
    j->mrs = mome_segment_managed(j->id, &users, &j->unlinked);
    /*
     * Unlinked before any READY was counted: each READY has its answer at once (on_ready). Once
     * one was counted, an unlink meanwhile changes nothing: the others are counted too and all
     * get their DONE at the end (with the generation unchanged: nothing is committed). Decided
     * per READY and again here, a MomeSegUnlink during the checkpoint left nodes waiting for
     * ever (helper-101). The record gone (the last close) ends the checkpoint where it stands:
     * forget.
     */
    coord_t *k = (coord_t *)mome_htab_get(&coords, j->id, 0);
    if (!j->mrs || (j->unlinked && !k)) {
        j->mrs = NULL; /* (held only below) */
        mome_cmd_complete(c, -ENOENT);
        return;
    }
    if (!k)
        k = coord_of(j->id);
    mome_repo_hold(j->mrs); /* as fill's: the record may go (its last close) while it commits */
    k->cmd = c;
    mome_cmd_outstanding(1);
    coord_complete(k, users, 0);
}

static void on_ready(const mome_msg_t *m, const void *body)
{
    const mome_ckptmsg_t *r = body;
    const uint64_t *users;
    int unlinked;
    uint32_t n = m->src;

    mome_repo_seg_t *rs = mome_segment_managed(r->seg, &users, &unlinked);
    if (!rs && !mome_segment_destroyed(r->seg))
        mome_fatal("node %u checkpointed segment '%s' (%#llx), which it does not have here (this "
                   "node manages its name): the nodes disagree; stopping",
                   n, mome_segment_name(r->seg), (unsigned long long)r->seg);
    /*
     * Unlinked (every node's unlink came before the barrier this checkpoint follows), or since
     * destroyed by the last close (a node that had not heard of it yet, in MomeFinalize, takes
     * its closed segment for one to save): nothing to commit, and nobody to wait for. Its DONE
     * now, the generation unchanged (helper-85: the job stopped, or waited for ever).
     */
    if (!rs || (unlinked && !mome_htab_get(&coords, r->seg, 0))) {
        mome_ckptmsg_t d = {.seg = r->seg, .gen = r->gen ? r->gen - 1 : 0};
        mome_send((int)n, MOME_MSG_CKPT_DONE, 0, &d, NULL, 0);
        return;
    }
    if (!(users[n / 64] >> (n % 64) & 1))
        mome_fatal("node %u checkpointed segment '%s' (%#llx), which it does not have here (this "
                   "node manages its name): the nodes disagree; stopping",
                   n, mome_segment_name(r->seg), (unsigned long long)r->seg);
    coord_t *k = coord_of(r->seg);
    if (k->seen[n / 64] >> (n % 64) & 1)
        mome_fatal("node %u said twice that its checkpoint of segment '%s' (%#llx) is ready; "
                   "stopping",
                   n, mome_segment_name(r->seg), (unsigned long long)r->seg);
    k->seen[n / 64] |= 1ull << (n % 64);
    k->gens[n] = r->gen;
    k->got++;
    if (r->status < 0 && k->status == 0) {
        k->status = r->status;
        k->fail_node = n;
    }
    if (r->status == 0 && r->entries) {
        mome_repo_file_t *f = &k->parts[k->nparts++];
        f->gen = r->gen;
        f->node = n;
        f->entries = r->entries;
        f->sum = r->sum;
    }
    coord_complete(k, users, 0);
}

/* The outcome, to every node whose READY was counted: the record's users then, but the record
 * may be gone by now (the segment's last close, unlinked, while this node committed), and its
 * nodes waited for ever (the DONE went to the users of the record found here). */
static void fn_done(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    for (int n = 0; n < mome_g.nnodes; n++)
        if (j->seen[n / 64] >> (n % 64) & 1)
            mome_send(n, MOME_MSG_CKPT_DONE, 0, &j->msg, NULL, 0);
    mome_cmd_complete(c, 0);
}

static done_t *done_of(uint64_t id)
{
    done_t *d = (done_t *)mome_htab_get(&dones, id, 0);
    if (d)
        return d;
    d = mome_calloc(1, sizeof(*d));
    if (!d)
        mome_fatal("out of memory waiting for a checkpoint of segment '%s' (%#llx); stopping",
                   mome_segment_name(id), (unsigned long long)id);
    d->h.k1 = id;
    mome_htab_put(&dones, &d->h);
    return d;
}

static void done_complete(done_t *d)
{
    if (!d->have || !d->cmd)
        return;
    job_t *j = d->cmd->u.ckpt.job;
    j->msg = d->msg;
    mome_cmd_outstanding(-1);
    mome_cmd_complete(d->cmd, 0);
    mome_htab_del(&dones, &d->h);
    free(d);
}

static void fn_wait_done(mome_cmd_t *c)
{
    job_t *j = c->u.ckpt.job;
    done_t *d = done_of(j->id);
    d->cmd = c;
    mome_cmd_outstanding(1);
    done_complete(d);
}

/*
 * The outcome of this node's checkpoint of a segment: from its coordinator, after this node's
 * READY (a stray one was kept, and ended this node's next checkpoint of the segment early), and
 * at a generation an honest coordinator leaves, G being the one this node wrote: G - 1 (nothing
 * committed: a failure, a segment unlinked, no page changed anywhere) or G (committed, or a head
 * renamed into place whose directory could not be fsync'd). With status 0, another one made this
 * node take an uncommitted delta for committed. -ESTALE says the nodes disagree on the generation
 * (coordinate): any is possible then, and this node takes the coordinator's.
 */
static void on_done(const mome_msg_t *m, const void *body)
{
    const mome_ckptmsg_t *r = body;
    done_t *d = (done_t *)mome_htab_get(&dones, r->seg, 0);
    if (!d || !d->ready)
        mome_fatal("node %u ended a checkpoint of segment '%s' (%#llx) this node is not in (it "
                   "sent no CKPT_READY for it): the nodes disagree on the checkpoints; stopping",
                   m->src, mome_segment_name(r->seg), (unsigned long long)r->seg);
    if (m->src != (uint32_t)d->coord)
        mome_fatal("node %u ended a checkpoint of segment '%s' (%#llx), whose coordinator is node "
                   "%d: the nodes disagree on the checkpoints; stopping",
                   m->src, mome_segment_name(r->seg), (unsigned long long)r->seg, d->coord);
    if (r->status != -ESTALE && r->gen != d->gen && r->gen + 1 != d->gen)
        mome_fatal("node %u ended the checkpoint of segment '%s' (%#llx) at generation %llu "
                   "(status %d), where this node wrote generation %llu: it can be %llu or %llu "
                   "only; the nodes disagree on the repository; stopping",
                   m->src, mome_segment_name(r->seg), (unsigned long long)r->seg,
                   (unsigned long long)r->gen, r->status, (unsigned long long)d->gen,
                   (unsigned long long)d->gen - 1, (unsigned long long)d->gen);
    if (d->have)
        mome_fatal("node %u ended a checkpoint of segment '%s' (%#llx) twice; stopping", m->src,
                   mome_segment_name(r->seg), (unsigned long long)r->seg);
    d->have = 1;
    d->msg = *r;
    done_complete(d);
}

typedef struct lists {
    uint64_t *local, *managed;
    size_t nlocal, nmanaged;
    int status;
} lists_t;

static void fn_list(mome_cmd_t *c)
{
    lists_t *l = c->u.ckpt.job;
    mome_cmd_complete(c, mome_segment_persistent(&l->local, &l->nlocal, &l->managed,
                                                 &l->nmanaged));
}

/* ---- a participant (application thread) ---- */

/* Pages this node took for this checkpoint, to flag again if it fails. */
typedef struct taken {
    uint64_t *v;
    size_t n, cap;
} taken_t;

static int taken_add(taken_t *t, const uint64_t *p, size_t n)
{
    if (t->n + n > t->cap) {
        size_t nc = t->cap ? t->cap : 1024;
        while (nc < t->n + n)
            nc *= 2;
        uint64_t *nv = mome_realloc(t->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        t->v = nv;
        t->cap = nc;
    }
    if (n) /* (t->v may be NULL yet: a segment destroyed meanwhile copies none) */
        memcpy(t->v + t->n, p, n * sizeof(*p));
    t->n += n;
    return 0;
}

static void restore(job_t *j, const uint64_t *pages, size_t n)
{
    if (!n)
        return;
    j->pages = pages;
    j->n = n;
    run(fn_restore, j);
}

/*
 * Write this node's delta: rounds of gather (fetching what is not current here) and copies, until
 * no flagged page is left in flight. Returns 0 (msg filled for READY) or -errno with a message.
 */
static int write_delta(job_t *j, taken_t *all, char *err, size_t errlen)
{
    size_t batch = (8u << 20) / mome_g.page_size;
    uint64_t gen = mome_repo_gen(j->rs) + 1;
    mome_repo_delta_t *d = NULL;
    mome_repo_file_t f = {0};
    uint8_t *buf;
    int rc = 0;

    if (batch == 0)
        batch = 1;
    buf = mome_malloc(batch * mome_g.page_size);
    if (!buf)
        return say(err, errlen, -ENOMEM, "out of memory checkpointing segment '%s'", j->name);
    for (int round = 0; rc == 0; round++) {
        int again = 0;
        j->status = 0;
        run(fn_gather, j);
        if (j->status < 0)
            rc = say(err, errlen, j->status, "out of memory gathering the changed pages of "
                                             "segment '%s'", j->name);
        for (size_t i = 0; rc == 0 && i < j->set.n; i += j->n) {
            j->pages = j->set.pages + i;
            j->n = j->set.n - i < batch ? j->set.n - i : batch;
            j->buf = buf;
            run(fn_copy, j);
            if (j->copied && !d)
                rc = mome_repo_delta_begin(j->rs, gen, (uint32_t)mome_g.rank, &d, err, errlen);
            if (rc == 0 && j->copied)
                rc = mome_repo_delta_add(d, j->pages, buf, j->copied, err, errlen);
            if (rc == 0 && (rc = taken_add(all, j->pages, j->copied)) < 0)
                say(err, errlen, rc, "out of memory checkpointing segment '%s'", j->name);
            if (rc == 0 && j->copied < j->n) {
                /* A page left this node since it was taken: gather it (and the rest) again. */
                restore(j, j->pages + j->copied, j->set.n - i - j->copied);
                again = 1;
                break;
            }
        }
        if (rc < 0) /* the pages not written yet stay flagged */
            restore(j, j->set.pages, j->set.n);
        mome_ckpt_set_free(&j->set);
        if (rc < 0 || (!j->left && !again))
            break;
        if (round == 2000) {
            rc = say(err, errlen, -EBUSY, "segment '%s': %zu changed pages stay busy (written "
                     "while the checkpoint runs?)", j->name, j->left);
            break;
        }
        /* Requests for some pages were in flight: let them end. */
        struct timespec ts = {0, 500 * 1000};
        nanosleep(&ts, NULL);
    }
    free(buf);
    j->wrote = 0;
    if (d && rc == 0) {
        rc = mome_repo_delta_finish(d, &f, err, errlen); /* d is gone, whatever it returns */
        if (rc == 0)
            j->wrote = gen;
    } else if (d) {
        mome_repo_delta_abort(d);
    }
    memset(&j->msg, 0, sizeof(j->msg));
    j->msg.seg = j->id;
    j->msg.gen = gen;
    j->msg.status = rc;
    j->msg.entries = f.entries;
    j->msg.sum = f.sum;
    if (rc == 0)
        mome_repo_crash_point("ready");
    return rc;
}

/* ---- the coordinator (application thread) ---- */

static int by_node(const void *a, const void *b)
{
    const mome_repo_file_t *x = a, *y = b;
    return x->node < y->node ? -1 : x->node > y->node;
}

static void coordinate(uint64_t id, char *err, size_t errlen, int *commit_failed)
{
    job_t k = {.id = id};
    int rc;

    *commit_failed = 0;
    if (run(fn_wait_ready, &k) < 0)
        return;
    rc = k.status;
    if (rc == 0 && !k.unlinked && k.nparts) {
        uint64_t gen = mome_repo_gen(k.mrs) + 1;
        qsort(k.parts, (size_t)k.nparts, sizeof(*k.parts), by_node);
        for (int i = 0; i < k.nparts && rc == 0; i++)
            if (k.parts[i].gen != gen)
                rc = say(err, errlen, -ESTALE, "node %u wrote generation %llu of a segment at "
                         "generation %llu: the nodes disagree on the repository",
                         k.parts[i].node, (unsigned long long)k.parts[i].gen,
                         (unsigned long long)(gen - 1));
        if (rc == 0)
            rc = mome_repo_commit(k.mrs, gen, k.parts, k.nparts, err, errlen);
        if (rc < 0) {
            /* Said as the other nodes say it (the repository's own words named a path only). */
            char why[600];
            mome_repo_info_t info;
            snprintf(why, sizeof(why), "%s", err);
            mome_repo_info(k.mrs, &info);
            say(err, errlen, rc, "segment '%s': %s; the repository keeps generation %llu",
                info.head.name, why, (unsigned long long)mome_repo_gen(k.mrs));
            *commit_failed = 1;
            k.msg.node = (uint32_t)mome_g.rank;
        }
    }
    free(k.parts);
    k.msg.seg = id;
    k.msg.status = rc;
    k.msg.gen = mome_repo_gen(k.mrs);
    mome_repo_crash_point("done");
    run(fn_done, &k);
    free(k.seen);
    mome_repo_close(k.mrs);
}

/* ---- MomeCheckpoint, MomeFinalize ---- */

/* The outcome at a participant: its flags come back if it failed. */
static int finish(job_t *j, taken_t *all, int own, const char *own_err, char *err, size_t errlen)
{
    int rc;
    run(fn_wait_done, j);
    rc = j->msg.status;
    /* The repository's generation as the coordinator left it, even after a failure: a head
     * renamed into place whose directory could not be fsync'd is committed (the next checkpoint
     * must not write that generation's files again). */
    mome_repo_set_gen(j->rs, j->msg.gen);
    if (rc != 0) {
        /* Not committed: this node's files go (the failed node's went with its failure; a full
         * disk kept them full until the next attempt: helper-112). */
        if (j->wrote > j->msg.gen)
            mome_repo_delta_discard(j->rs, j->wrote, (uint32_t)mome_g.rank);
        restore(j, all->v, all->n);
        if (own < 0)
            say(err, errlen, rc, "segment '%s': %s; the repository keeps generation %llu",
                j->name, own_err, (unsigned long long)j->msg.gen);
        else if (!err[0])
            say(err, errlen, rc, "segment '%s': node %u failed (%s); the repository keeps "
                "generation %llu", j->name, j->msg.node, strerror(-rc),
                (unsigned long long)j->msg.gen);
    }
    free(all->v);
    memset(all, 0, sizeof(*all));
    return rc;
}

/* ---- segments momed serves: the job gives its pages back, momed writes the checkpoint ---- */

typedef struct sret {
    mome_op_t op; /* the recalls */
    uint64_t id;  /* the segment, or 0: every served segment */
    uint64_t started, busy;
    mome_cmd_t *waiting;
} sret_t;

static void sret_done(mome_op_t *op)
{
    sret_t *r = (sret_t *)op;
    mome_served_flush(); /* the last batch of pages given back goes now */
    mome_cmd_complete(r->waiting, 0);
}

static void fn_srv_return(mome_cmd_t *c)
{
    sret_t *r = c->u.ckpt.job;
    mome_seg_t *s = r->id ? mome_seg_find(r->id) : NULL;
    r->waiting = c;
    mome_op_begin(&r->op, sret_done);
    if (s)
        r->started = mome_served_return(s, &r->op, &r->busy);
    else if (!r->id)
        r->started = mome_served_return_all(&r->op, &r->busy);
    mome_op_end(&r->op);
}

/* Give momed back every page of the segment (0: of every served one) this node holds for the
 * job: their content is then momed's. Pages in a transaction are taken when it ends. */
static int served_return(uint64_t id)
{
    for (unsigned round = 0;; round++) {
        sret_t r = {.id = id};
        mome_cmd_t c = {.fn = fn_srv_return, .u.ckpt.job = &r};
        mome_cmd_run(&c);
        mome_debug("checkpoint", "returning pages to momed: %llu recalls, %llu busy",
                   (unsigned long long)r.started, (unsigned long long)r.busy);
        if (!r.started && !r.busy)
            return 0;
        if (round > 200000)
            return -ETIMEDOUT;
        if (!r.started)
            usleep(500); /* only pages in flight left: their transactions end first */
    }
}

static void fn_srv_ckpt(mome_cmd_t *c)
{
    static uint64_t token;
    job_t *j = c->u.ckpt.job;
    mome_srvopen_t o = {.id = j->id, .token = ++token}, out;
    char why[MOME_SRV_WHY_MAX + 1];
    int rc = mome_srv_call(MOME_SRV_CKPT, &o, NULL, 0, MOME_SRV_CKPT_REPLY, o.token, &out, why,
                           sizeof(why), MOME_SRV_WAIT_MS);
    if (rc < 0)
        mome_cmd_fail(c, -rc, "%s does not answer (%s)", mome_srv_where(), strerror(-rc));
    else if (out.status < 0)
        mome_cmd_fail(c, -out.status, "%s", why);
    else
        mome_cmd_complete(c, 0);
}

/* MomeCheckpoint of a served segment: every node gives its pages back, then momed writes them
 * (its checkpoint is atomic in the same way: one delta, one commit). */
static int served_checkpoint(job_t *j, char *err, size_t errlen)
{
    int rc = served_return(j->id);
    if (rc < 0)
        return say(err, errlen, rc, "segment '%s': pages still in use after a long wait",
                   j->name);
    /* reported as part of the caller's MomeCheckpoint or MomeFinalize, not as MomeBarrier */
    mome_cmd_t b = {.fn = mome_sync_cmd_barrier, .call = mome_cmd_call};
    if ((rc = mome_cmd_run(&b)) < 0)
        return say(err, errlen, rc, "segment '%s': %s", j->name, b.err);
    /* tests: every node's pages are momed's, not confirmed. After the barrier: a node stopped
     * before it could leave another's recall waiting on it (a directory entry it manages). */
    mome_repo_crash_point("returned");
    mome_cmd_t c = {.fn = fn_srv_ckpt, .u.ckpt.job = j};
    rc = mome_cmd_run(&c);
    if (rc < 0)
        snprintf(err, errlen, "segment '%s': %s", j->name, c.err);
    return rc;
}

/*
 * The checkpoint this node's thread began (mome_checkpoint_check), under one_at_a_time: the
 * segment is the one its handle named then. Looked up again by the handle after the barrier, a
 * MomeSegClose by another thread meanwhile failed it with EBADF on this node alone, which sent no
 * READY, and the other nodes waited for it for ever.
 */
static job_t begun;

/*
 * One checkpoint at a time on a node, decided before the barrier: a second thread's EBUSY after
 * it would have left that thread's barrier paired with the other nodes' next one (helper-85).
 */
int mome_checkpoint_check(int handle, uint64_t *id, char *err, size_t errlen)
{
    /* Held across the lookup: another thread's EBUSY comes once this checkpoint has its segment,
     * so a MomeSegClose after that EBUSY cannot fail it (it could, preempted between the lock and
     * the lookup: helper-150). */
    static pthread_mutex_t looking_up = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&looking_up);
    if (pthread_mutex_trylock(&one_at_a_time) != 0) {
        pthread_mutex_unlock(&looking_up);
        return say(err, errlen, -EBUSY, "another thread of this node is in a checkpoint");
    }
    memset(&begun, 0, sizeof(begun));
    begun.handle = handle;
    begun.window = 1;
    mome_cmd_t c = {.fn = fn_begin, .u.ckpt.job = &begun};
    int rc = mome_cmd_run(&c);
    *id = begun.id; /* (read under the lock: another thread's check may come once it is free) */
    if (rc < 0) {
        snprintf(err, errlen, "%s", c.err);
        job_release(&begun);
        pthread_mutex_unlock(&one_at_a_time);
    }
    pthread_mutex_unlock(&looking_up);
    return rc;
}

static void window_close(void)
{
    job_t j = {0};
    run(fn_window_close, &j);
}

void mome_checkpoint_cancel(void)
{
    run(fn_gathered, &begun);
    job_release(&begun);
    window_close();
    pthread_mutex_unlock(&one_at_a_time);
}

int mome_checkpoint_run(char *err, size_t errlen)
{
    job_t *j = &begun;
    taken_t all = {0};
    char own_err[600] = "";
    int own, rc, commit_failed = 0;

    err[0] = 0;
    if (j->served) {
        rc = served_checkpoint(j, err, errlen);
        run(fn_gathered, j);
        pthread_mutex_unlock(&one_at_a_time);
        return rc;
    }
    /* By its id, whatever became of the handle: every node that passed the barrier sends its
     * READY (nothing to write if the segment is gone here: closed everywhere, unlinked). */
    own = write_delta(j, &all, own_err, sizeof(own_err));
    run(fn_gathered, j);
    run(fn_ready, j);
    if (j->coord == mome_g.rank)
        coordinate(j->id, err, errlen, &commit_failed);
    rc = finish(j, &all, own, own_err, err, errlen);
    job_release(j);
    window_close();
    pthread_mutex_unlock(&one_at_a_time);
    return rc;
}

int mome_checkpoint_finalize(char *err, size_t errlen)
{
    lists_t l = {0};
    mome_cmd_t c = {.fn = fn_list, .u.ckpt.job = &l};
    job_t *jobs;
    taken_t *all;
    char own_err[600] = "";
    int *own, rc = 0, commit_failed;

    err[0] = 0;
    pthread_mutex_lock(&one_at_a_time);
    /* Segments momed serves: the job's pages go back to it (it keeps them, and checkpoints them
     * when the job has left). */
    /* What momed does not get back is lost when this node leaves: MomeFinalize says so. */
    if (mome_srv_fd() >= 0 && served_return(0) < 0)
        rc = say(err, errlen, -ETIMEDOUT,
                 "pages of a served segment still in use after a long "
                 "wait: this node's changes to them since it fetched them are lost");
    /* Without a word to the coordinators they would wait for ever: the job must stop. */
    if (mome_cmd_run(&c) < 0)
        mome_fatal("out of memory listing the persistent segments for the final checkpoint; their "
                   "last checkpoints are intact; stopping");
    jobs = mome_calloc(l.nlocal + 1, sizeof(*jobs));
    all = mome_calloc(l.nlocal + 1, sizeof(*all));
    own = mome_calloc(l.nlocal + 1, sizeof(*own));
    if (!jobs || !all || !own) {
        mome_fatal("out of memory for the final checkpoint of the persistent segments; their "
                   "last checkpoints are intact; stopping");
    }
    /* Every delta first (their READYs need nobody), then the commits, then the outcomes. */
    for (size_t i = 0; i < l.nlocal; i++) {
        jobs[i].id = l.local[i];
        int held = run(fn_local, &jobs[i]);
        if (held < 0) {
            jobs[i].id = 0;
            continue;
        }
        jobs[i].unsaved = held == 1; /* (its READY still goes: once one is counted, all are) */
        own[i] = write_delta(&jobs[i], &all[i], own_err, sizeof(own_err));
        run(fn_gathered, &jobs[i]);
        if (own[i] < 0 && !err[0])
            say(err, errlen, own[i], "segment '%s': %s", jobs[i].name, own_err);
        run(fn_ready, &jobs[i]);
    }
    for (size_t i = 0; i < l.nmanaged; i++) {
        char cerr[600] = "";
        coordinate(l.managed[i], cerr, sizeof(cerr), &commit_failed);
        if (commit_failed && !err[0])
            snprintf(err, errlen, "%s", cerr);
    }
    for (size_t i = 0; i < l.nlocal; i++) {
        if (!jobs[i].id)
            continue;
        char e[600] = "";
        int r = finish(&jobs[i], &all[i], own[i], "", e, sizeof(e));
        if (r < 0 && rc == 0)
            rc = r;
        if (r < 0 && !err[0])
            snprintf(err, errlen, "%s", e);
    }
    for (size_t i = 0; i < l.nlocal; i++)
        job_release(&jobs[i]);
    free(jobs);
    free(all);
    free(own);
    free(l.local);
    free(l.managed);
    pthread_mutex_unlock(&one_at_a_time);
    if (rc < 0)
        mome_error("checkpoint", "the final checkpoint failed: %s", err);
    return rc;
}

/* ---- the message table ---- */

static const mome_field_t ready_fields[] = {
    MOME_FIELD(mome_ckptmsg_t, seg, MOME_FK_RAW, 0),
    MOME_FIELD(mome_ckptmsg_t, gen, MOME_FK_RAW, 0),
    MOME_FIELD(mome_ckptmsg_t, entries, MOME_FK_RAW, 0),
    MOME_FIELD(mome_ckptmsg_t, sum, MOME_FK_RAW, 0),
    MOME_FIELD(mome_ckptmsg_t, status, MOME_FK_ERRNO, 0)};
static const mome_field_t done_fields[] = {
    MOME_FIELD(mome_ckptmsg_t, seg, MOME_FK_RAW, 0),
    MOME_FIELD(mome_ckptmsg_t, gen, MOME_FK_RAW, 0),
    MOME_FIELD(mome_ckptmsg_t, status, MOME_FK_ERRNO, 0),
    MOME_FIELD(mome_ckptmsg_t, node, MOME_FK_NODE, 0)};

static const mome_msg_def_t ckpt_msgs[] = {
    {.type = MOME_MSG_CKPT_READY, .wire = {"CKPT_READY", ready_fields, 5, 0, 0, 0},
     .body_size = sizeof(mome_ckptmsg_t), .handler = on_ready},
    {.type = MOME_MSG_CKPT_DONE, .wire = {"CKPT_DONE", done_fields, 4, 0, 0, 0},
     .body_size = sizeof(mome_ckptmsg_t), .handler = on_done},
};

int mome_checkpoint_init(void)
{
    if (mome_htab_init(&coords, 16) < 0 || mome_htab_init(&dones, 16) < 0)
        return -ENOMEM;
    mome_segment_on_destroy(forget);
    return mome_msg_register(ckpt_msgs, sizeof(ckpt_msgs) / sizeof(ckpt_msgs[0]));
}

void mome_checkpoint_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&coords, h, tmp)
    {
        free(((coord_t *)h)->seen);
        free(((coord_t *)h)->gens);
        free(((coord_t *)h)->parts);
        free(h);
    }
    mome_htab_foreach(&dones, h, tmp) free(h);
    mome_segment_on_destroy(NULL);
    mome_htab_free(&coords);
    mome_htab_free(&dones);
}
