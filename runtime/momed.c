/*
 * momed - the repository server: serves the MOME_PERSIST segments of a repository to any number of
 * separately launched jobs at once (dynamic coupling), keeping them in the repository's files.
 *
 * momed is the directory between jobs: it hands each page of a served segment to one job at a
 * time (SRV_GET -> SRV_PAGE), recalls it when another job asks (SRV_RECALL -> SRV_PUT), keeps the
 * pages that came back in memory until a checkpoint writes them to the repository (one delta and
 * an atomic commit, as a job's checkpoint: repo/repo.h), and reads the others from the repository
 * lazily. It carries the Lamport clock between jobs: every message it sends is dated after every
 * message it received. doc/design.md section 18 has the protocol and the failure argument. One
 * thread, one poll loop; messages are the library's wire format (net/wire.h, net/srvproto.h),
 * every field validated.
 */
#include "ac_config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/srvproto.h"
#include "net/wire.h"
#include "repo/repo.h"

#define MIN_HOLD_NS 2000000ull /* a job keeps a page at least this long before a recall */
#define MAX_CONNS 4096
#define CKPT_BATCH (1u << 20) /* bytes of pages per write of a checkpoint's data file */

static const char *repo_dir;
static int verbose, tracing; /* tracing: MOMED_TRACE=1, every page message (tests) */
static long ckpt_delay_ms;   /* MOME_TEST_CKPT_DELAY_MS: each job checkpoint takes that long more */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[1400];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(buf, sizeof(buf), "%H:%M:%S ", &tm);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "momed[%d]: ", (int)getpid());
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0) {
        /* nothing to do: stderr is gone */
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the Lamport clock ---- */

static uint64_t lclock;

/* ---- connections: one per node of an attached job ---- */

typedef struct conn {
    int fd;
    int hello;    /* SRV_HELLO received */
    uint64_t key; /* the job's key */
    uint32_t node, nnodes, page_size, pid;
    mome_wire_ctx_t ctx;
    uint8_t *rbuf, *wbuf;
    size_t rlen, rcap, wlen, woff, wcap;
    int dead;      /* to be closed at the end of this round */
    int send_err;  /* a write to it failed (errno): dropped once this message is handled */
    uint64_t held; /* pages it holds */
    int bye;       /* SRV_BYE received: its node's MomeFinalize is over */
    uint64_t accepted_ns; /* when it connected (a SRV_HELLO is due within hello_wait_ns) */
} conn_t;

/* A connection that says nothing held a slot for ever: 4096 of them refused every job after
 * (helper-96). A node says hello right after its connection, in MomeInit. 30 s (tests: less,
 * MOME_TEST_HELLO_WAIT_MS). */
static uint64_t hello_wait_ns = 30 * 1000000000ull;

static conn_t *conns[MAX_CONNS];
static int nconns;

/* ---- segments and pages ---- */

typedef struct waiter {
    struct waiter *next;
    int conn;
} waiter_t;

typedef struct pstate {
    struct pstate *next; /* hash chain */
    uint64_t page;
    int holder;          /* connection holding it, or -1: the content is momed's */
    int recalling;       /* SRV_RECALL sent, SRV_PUT awaited */
    int dirty;           /* content newer than the repository's (not checkpointed) */
    uint64_t granted_ns; /* when the holder got it */
    uint64_t recall_ns;  /* when SRV_RECALL was sent */
    int slow_said;       /* the holder's delay was logged, for this recall */
    uint8_t *content;    /* NULL: the repository's (or zeros) */
    waiter_t *wq, *wtail;
    /* The job that changed the content since its last MomeCheckpoint or clean end, no other job
     * having read it since (0: none), and the content before that job's change: if that job is
     * lost, the page goes back to it (revert). */
    uint64_t put_key;
    uint8_t *before;
    int before_stored; /* the repository holds `before` (read from it, or written since) */
    struct seg *seg;
    struct pstate *qnext; /* the list of pages with a queue (queued), while in it */
    int queued;
    uint64_t mark; /* the SRV_PUTV that named it last (a page twice in one batch is refused) */
} pstate_t;

typedef struct seg {
    uint64_t id; /* with MOME_SEG_SERVED */
    char name[MOME_SRV_NAME_MAX + 1];
    mome_repo_seg_t *rs;
    uint64_t size, npages;
    uint32_t page_size;
    pstate_t **tab;
    size_t nb, n;
    uint64_t ndirty;
} seg_t;

static seg_t **segs;
static size_t nsegs;

/* A job's MomeCheckpoint of a segment: every node of the job sends SRV_CKPT after its own pages
 * (SRV_PUT on its connection), but no node's request follows the other nodes' pages, which come
 * on their connections. So the checkpoint is written once every node of the job has asked, and
 * answered to them all. */
typedef struct gather {
    struct gather *next;
    seg_t *s;
    uint64_t key;
    uint32_t nnodes, asked;
    int *conn;       /* per node: the connection that asked, or -1 */
    uint64_t *token; /* per node: its request's token */
} gather_t;

static gather_t *gathers;
/* Pages whose queue was not empty when last seen (recall_due walks these, not every page: a
 * walk of every page at each round made each message cost as much as the whole segment). */
static pstate_t *queued;
static uint8_t *page_buf;
static size_t page_buf_size;

static pstate_t *pstate(seg_t *s, uint64_t page, int create)
{
    size_t b = (size_t)((page * 0x9e3779b97f4a7c15ull) >> 20) % s->nb;
    for (pstate_t *p = s->tab[b]; p; p = p->next)
        if (p->page == page)
            return p;
    if (!create)
        return NULL;
    if (s->n > s->nb * 2) { /* grow */
        size_t nb = s->nb * 4;
        pstate_t **t = calloc(nb, sizeof(*t));
        if (!t) {
            say("out of memory for the page table of segment '%s'; stopping", s->name);
            exit(1);
        }
        for (size_t i = 0; i < s->nb; i++)
            for (pstate_t *p = s->tab[i], *nx; p; p = nx) {
                nx = p->next;
                size_t k = (size_t)((p->page * 0x9e3779b97f4a7c15ull) >> 20) % nb;
                p->next = t[k];
                t[k] = p;
            }
        free(s->tab);
        s->tab = t;
        s->nb = nb;
        b = (size_t)((page * 0x9e3779b97f4a7c15ull) >> 20) % s->nb;
    }
    pstate_t *p = calloc(1, sizeof(*p));
    if (!p) {
        say("out of memory for page %llu of segment '%s'; stopping", (unsigned long long)page,
            s->name);
        exit(1);
    }
    p->page = page;
    p->holder = -1;
    p->seg = s;
    p->next = s->tab[b];
    s->tab[b] = p;
    s->n++;
    return p;
}

static seg_t *seg_by_id(uint64_t id)
{
    if (!mome_seg_is_served(id))
        return NULL;
    uint64_t k = id & ~MOME_SEG_SERVED;
    return k >= 1 && k <= nsegs ? segs[k - 1] : NULL;
}

/* ---- sending ---- */

static void drop_conn(int c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void queue_bytes(conn_t *c, const void *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 65536;
        while (cap < c->wlen + n)
            cap *= 2;
        uint8_t *b = realloc(c->wbuf, cap);
        if (!b) {
            say("out of memory queueing for job %016llx node %u; stopping",
                (unsigned long long)c->key, c->node);
            exit(1);
        }
        c->wbuf = b;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
}

/* What a job's SRV_HELLO must carry: written in the address file, which only the repository's
 * owner can read (before, anyone who could reach the port read and wrote every segment: helper-96).
 */
static uint64_t momed_key;

/*
 * A write that fails does not end the connection here but once the messages being handled are
 * (drop_failed): its callers go on with it (grant made it the page's holder after the send), and
 * ending it from inside them left a page held by a connection gone, which momed then crashed on
 * or never served again (a node killed while the page it waited for came back).
 */
static int send_failures; /* some connection's send_err is set */

static void flush_conn(int ci)
{
    conn_t *c = conns[ci];
    while (c && !c->dead && !c->send_err && c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            c->woff += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        c->send_err = errno;
        send_failures = 1;
        return;
    }
    if (c && c->woff == c->wlen)
        c->woff = c->wlen = 0;
}

/* Send a message of `type` with body to connection ci, dated by momed's clock. */
static void srv_send(int ci, int type, const void *body, const void *payload, uint32_t len)
{
    conn_t *c = conns[ci];
    mome_msg_t m = {
        .type = (uint8_t)type, .src = c->node, .key = c->key, .len = len, .payload = payload};
    uint8_t hdr[MOME_WIRE_HDR];
    m.date = ++lclock;
    mome_wire_pack(mome_srv_types[type], body, &m);
    mome_wire_encode(&m, hdr);
    queue_bytes(c, hdr, sizeof(hdr));
    if (len)
        queue_bytes(c, payload, len);
    flush_conn(ci);
}

/* ---- pages ---- */

/* The page no longer holds a job's unconfirmed change: forget what it was before that change. */
static void forget_before(pstate_t *p)
{
    free(p->before);
    p->before = NULL;
    p->put_key = 0;
    p->before_stored = 0;
}

/* Give page p of s to connection ci: its content, read from the repository if momed has none. */
static int grant(seg_t *s, pstate_t *p, int ci)
{
    char err[1024];
    const void *src = p->content;
    if (!src) {
        int rc = mome_repo_read(s->rs, p->page, page_buf, err, sizeof(err));
        if (rc < 0) {
            /* Never wrong bytes: the job asking cannot go on with this page. */
            say("%s", err);
            drop_conn(ci, "page %llu of segment '%s' cannot be read from the repository",
                      (unsigned long long)p->page, s->name);
            return -EIO;
        }
        if (rc == 0)
            memset(page_buf, 0, s->page_size);
        src = page_buf;
    }
    if (p->put_key && p->put_key != conns[ci]->key) {
        /* Another job reads what that job gave back: it stays, whatever becomes of that job. */
        forget_before(p);
    }
    mome_srvpage_t b = {.seg = s->id, .page = p->page};
    if (tracing)
        say("PAGE %llu to %016llx/%u (words %llu %llu %llu, %s)", (unsigned long long)p->page,
            (unsigned long long)conns[ci]->key, conns[ci]->node,
            (unsigned long long)((const uint64_t *)src)[0],
            (unsigned long long)((const uint64_t *)src)[1],
            (unsigned long long)((const uint64_t *)src)[2], p->content ? "memory" : "repository");
    srv_send(ci, MOME_SRV_PAGE, &b, src, s->page_size);
    p->holder = ci;
    p->granted_ns = now_ns();
    conns[ci]->held++;
    return 0;
}

/* A clean stop (a signal): the pages jobs hold are taken back, for at most STOP_WAIT_NS, then
 * checkpointed; meanwhile no page is handed out. */
#define STOP_WAIT_NS 5000000000ull
static int stopping;

static void recall(seg_t *s, pstate_t *p)
{
    if (p->recalling || p->holder < 0 || (!stopping && now_ns() - p->granted_ns < MIN_HOLD_NS))
        return; /* a fresh grant is kept a little: its fault runs before the page goes again */
    mome_srvpage_t b = {.seg = s->id, .page = p->page};
    p->recalling = 1;
    p->recall_ns = now_ns();
    p->slow_said = 0;
    if (tracing)
        say("RECALL %llu from %016llx/%u", (unsigned long long)p->page,
            (unsigned long long)conns[p->holder]->key, conns[p->holder]->node);
    srv_send(p->holder, MOME_SRV_RECALL, &b, NULL, 0);
}

/* The page is momed's: the next waiter gets it, and is asked for it back if others wait. */
static void serve(seg_t *s, pstate_t *p)
{
    while (!stopping && p->holder < 0 && p->wq) {
        waiter_t *w = p->wq;
        p->wq = w->next;
        if (!p->wq)
            p->wtail = NULL;
        int ci = w->conn;
        free(w);
        if (ci < 0 || !conns[ci] || conns[ci]->dead || conns[ci]->send_err)
            continue; /* gone, or going (drop_failed): it reads nothing more */
        grant(s, p, ci);
    }
}

/* Stopping: ask every holder for its pages; returns how many are still held. */
static uint64_t recall_all(void)
{
    uint64_t held = 0;
    for (size_t k = 0; k < nsegs; k++) {
        seg_t *s = segs[k];
        for (size_t i = 0; s && i < s->nb; i++)
            for (pstate_t *p = s->tab[i]; p; p = p->next)
                if (p->holder >= 0) {
                    recall(s, p);
                    held++;
                }
    }
    return held;
}

/* Pages whose recall waits for the minimum hold: checked every round, among the pages with a
 * queue (those whose queue emptied leave the list here). */
/*
 * A holder that does not give a page back (its job stopped, or suspended) holds up every job
 * waiting for it, which nothing said (helper-96): after slow_recall_ns momed says who, once per
 * recall. Until then, recall_due sets slow_by, the next such deadline.
 */
static uint64_t slow_recall_ns = 60 * 1000000000ull; /* tests: MOME_TEST_SLOW_RECALL_MS */
static uint64_t slow_by;

static int recall_due(void)
{
    int pending = 0;
    uint64_t now = now_ns();
    slow_by = 0;
    for (pstate_t **pp = &queued; *pp;) {
        pstate_t *p = *pp;
        if (!p->wq) {
            p->queued = 0;
            *pp = p->qnext;
            continue;
        }
        if (p->holder >= 0 && !p->recalling) {
            recall(p->seg, p);
            pending += !p->recalling;
        }
        if (p->recalling && !p->slow_said && p->holder >= 0 && conns[p->holder]) {
            if (now >= p->recall_ns + slow_recall_ns) {
                const conn_t *h = conns[p->holder];
                int n = 0;
                for (const waiter_t *w = p->wq; w; w = w->next)
                    n++;
                say("job %016llx node %u (pid %u) has not given page %llu of segment '%s' back "
                    "in %llu s (stopped, or suspended?); %d connection(s) wait for it",
                    (unsigned long long)h->key, h->node, h->pid, (unsigned long long)p->page,
                    p->seg->name, (unsigned long long)(slow_recall_ns / 1000000000ull), n);
                p->slow_said = 1;
            } else if (!slow_by || p->recall_ns + slow_recall_ns < slow_by) {
                slow_by = p->recall_ns + slow_recall_ns;
            }
        }
        pp = &p->qnext;
    }
    return pending;
}

/* ---- checkpoints ---- */

static int by_page(const void *a, const void *b)
{
    const pstate_t *x = *(pstate_t *const *)a, *y = *(pstate_t *const *)b;
    return x->page < y->page ? -1 : x->page > y->page;
}

/*
 * A page whose content holds a change of a job that is not confirmed yet (made since that job's
 * last MomeCheckpoint of the segment or its attach, no other job having read it since): if that
 * job is lost, the change is reverted (revert), so the repository must not hold it meanwhile.
 * A checkpoint writes what was there before instead, and keeps the page dirty. `key`: the job
 * whose checkpoint this is (its changes are confirmed by it), or 0.
 */
static int unconfirmed(const pstate_t *p, uint64_t key)
{
    return p->put_key && p->put_key != key && p->before;
}

/* Write every page momed holds newer than the repository, as confirmed (above): one delta, then
 * the commit. */
static int checkpoint(seg_t *s, uint64_t key, const char *why, char *err, size_t errlen)
{
    pstate_t **v;
    size_t n = 0;
    mome_repo_delta_t *d = NULL;
    mome_repo_file_t f = {0};
    uint64_t gen;
    int rc;

    if (!s->ndirty)
        return 0;
    v = malloc(s->ndirty * sizeof(*v));
    if (!v)
        return snprintf(err, errlen, "out of memory"), -ENOMEM;
    uint64_t kept = 0; /* unconfirmed pages, all dirty still after this checkpoint */
    for (size_t i = 0; i < s->nb; i++)
        for (pstate_t *p = s->tab[i]; p; p = p->next) {
            if (!p->dirty || n >= s->ndirty)
                continue;
            if (unconfirmed(p, key) && p->before_stored) {
                kept++; /* what it would write is already there */
                continue;
            }
            v[n++] = p;
        }
    if (!n) {
        free(v);
        if (verbose)
            say("%s checkpoint of segment '%s': nothing to write (%llu pages wait for their job's "
                "checkpoint; the repository holds them as before)",
                why, s->name, (unsigned long long)kept);
        return 0;
    }
    qsort(v, n, sizeof(*v), by_page);
    gen = mome_repo_gen(s->rs) + 1;
    rc = mome_repo_delta_begin(s->rs, gen, 0, &d, err, errlen);
    /* The pages go to the data file CKPT_BATCH at a time, copied side by side (one write each). */
    size_t per = CKPT_BATCH / s->page_size ? CKPT_BATCH / s->page_size : 1;
    uint8_t *buf = rc == 0 ? malloc(per * s->page_size) : NULL;
    uint64_t *pages = rc == 0 ? malloc(per * sizeof(*pages)) : NULL;
    if (rc == 0 && (!buf || !pages)) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        for (size_t j = 0; j < k; j++) {
            pages[j] = v[i + j]->page;
            memcpy(buf + j * s->page_size,
                   unconfirmed(v[i + j], key) ? v[i + j]->before : v[i + j]->content,
                   s->page_size);
        }
        rc = mome_repo_delta_add(d, pages, buf, k, err, errlen);
    }
    free(buf);
    free(pages);
    if (rc == 0)
        rc = mome_repo_delta_finish(d, &f, err, errlen);
    else if (d)
        mome_repo_delta_abort(d);
    if (rc == 0 && f.entries)
        rc = mome_repo_commit(s->rs, gen, &f, 1, err, errlen);
    if (rc == 0) {
        mome_repo_set_gen(s->rs, gen);
        /* The repository has them now: read them from it again when asked. An unconfirmed
         * page stays newer than the repository. */
        for (size_t i = 0; i < n; i++) {
            if (unconfirmed(v[i], key)) {
                v[i]->before_stored = 1;
                kept++;
                continue;
            }
            v[i]->dirty = 0;
            free(v[i]->content);
            v[i]->content = NULL;
        }
        s->ndirty = kept;
        if (verbose)
            say("%s checkpoint of segment '%s': %zu pages (%llu of them as before a change their "
                "job has not checkpointed yet), generation %llu",
                why, s->name, n, (unsigned long long)kept, (unsigned long long)gen);
    }
    free(v);
    return rc;
}

static int checkpoint_all(const char *why)
{
    int bad = 0;
    for (size_t k = 0; k < nsegs; k++) {
        char err[1024];
        if (segs[k] && checkpoint(segs[k], 0, why, err, sizeof(err)) < 0) {
            say("%s checkpoint of segment '%s' failed (the previous one stays): %s", why,
                segs[k]->name, err);
            bad++;
        }
    }
    return bad;
}

static int same_as_stored(seg_t *s, pstate_t *p, const void *bytes);

/* Job `key` reached a point its content may stay at (its MomeCheckpoint of segment only, or its
 * clean end: only NULL): what it changed before is no longer taken back if it is lost. */
static void epoch_end(uint64_t key, seg_t *only)
{
    for (size_t k = 0; k < nsegs; k++) {
        seg_t *s = segs[k];
        for (size_t i = 0; s && (!only || s == only) && i < s->nb; i++)
            for (pstate_t *p = s->tab[i]; p; p = p->next)
                if (p->put_key == key)
                    forget_before(p);
    }
}

/* Job `key` was lost: the pages it changed since its last MomeCheckpoint (or its start), which no
 * other job has read since, go back to what they were before. Returns how many. */
static uint64_t revert(uint64_t key)
{
    uint64_t n = 0;
    for (size_t k = 0; k < nsegs; k++) {
        seg_t *s = segs[k];
        for (size_t i = 0; s && i < s->nb; i++)
            for (pstate_t *p = s->tab[i]; p; p = p->next) {
                if (p->put_key != key)
                    continue;
                uint8_t *b = p->before;
                int was = p->dirty;
                p->before = NULL; /* b is taken: not freed here */
                forget_before(p);
                free(p->content);
                p->content = NULL;
                if (same_as_stored(s, p, b)) {
                    free(b); /* what the repository holds */
                    p->dirty = 0;
                    s->ndirty -= (uint64_t)was;
                } else {
                    p->content = b; /* newer than the repository: the next checkpoint writes it */
                    p->dirty = 1;
                    s->ndirty += (uint64_t)!was;
                }
                n++;
            }
    }
    return n;
}

/* Answer every node of a job's checkpoint and forget it: status 0 (written), or the failure. */
static void gather_end(gather_t *g, int status, const char *why)
{
    mome_srvopen_t r = {.id = g->s->id, .status = status, .size = mome_repo_gen(g->s->rs)};
    for (gather_t **pp = &gathers; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    for (uint32_t i = 0; i < g->nnodes; i++) {
        int ci = g->conn[i];
        if (ci < 0 || !conns[ci] || conns[ci]->dead || conns[ci]->key != g->key)
            continue;
        r.token = g->token[i];
        srv_send(ci, MOME_SRV_CKPT_REPLY, &r, why,
                 why ? (uint32_t)strnlen(why, MOME_SRV_WHY_MAX) : 0);
    }
    free(g->conn);
    free(g->token);
    free(g);
}

/* ---- connections going away ---- */

static int job_attached(uint64_t key)
{
    for (int i = 0; i < nconns; i++)
        if (conns[i] && !conns[i]->dead && conns[i]->hello && conns[i]->key == key)
            return 1;
    return 0;
}

/* Connection ci is closed at the end of this round: the pages it held are momed's again, as
 * momed last had them (changes its node made to them since it fetched them are lost), and its
 * place in the queues goes. The pages are not handed on here (serve_queued, at the end of the
 * round, once every connection that goes has gone). Returns how many it held. */
static uint64_t take_back(int ci)
{
    conn_t *c = conns[ci];
    uint64_t lost = 0;
    c->dead = 1;
    for (size_t k = 0; k < nsegs; k++) {
        seg_t *s = segs[k];
        for (size_t i = 0; s && i < s->nb; i++)
            for (pstate_t *p = s->tab[i]; p; p = p->next) {
                for (waiter_t *w = p->wq; w; w = w->next)
                    if (w->conn == ci)
                        w->conn = -1;
                if (p->holder != ci)
                    continue;
                p->holder = -1;
                p->recalling = 0;
                if (verbose && lost < 8)
                    say("job %016llx node %u held page %llu of segment '%s'",
                        (unsigned long long)c->key, c->node, (unsigned long long)p->page, s->name);
                lost++;
            }
    }
    c->held = 0;
    return lost;
}

/* At the end of a round, once every connection lost in it has been dropped (its job cut off and
 * reverted): the pages momed has (given back, taken back) go to their waiters. Every page with
 * waiters is on the queued list. Returns whether a write to a connection failed meanwhile (then
 * drop_failed, and this again). */
static int serve_queued(void)
{
    for (pstate_t *p = queued; p; p = p->qnext)
        if (p->holder < 0 && p->wq)
            serve(p->seg, p);
    return send_failures;
}

/* The jobs cut off lately (a ring): a node of one that attaches later (it was slower to start)
 * is refused, as its job's other nodes were cut off, not served pages its job may depend on. */
#define CUT_KEYS 256
static struct {
    uint64_t key;
    uint32_t node; /* the node it lost */
} cut[CUT_KEYS];
static unsigned ncut;

static void remember_cut(uint64_t key, uint32_t node)
{
    cut[ncut % CUT_KEYS].key = key;
    cut[ncut % CUT_KEYS].node = node;
    ncut++;
}

/* The node job `key` lost, if it was cut off lately; -1 if not. */
static int64_t was_cut(uint64_t key)
{
    for (unsigned i = 0; i < CUT_KEYS && i < ncut; i++)
        if (cut[i].key == key)
            return cut[i].node;
    return -1;
}

/*
 * A node left. After MomeFinalize it holds no page (it gave them all back first), says so
 * (SRV_BYE) and its connection just ends. A node that leaves without SRV_BYE (killed, even
 * holding nothing: a job killed between giving its pages back and its checkpoint, or while momed
 * stopping had recalled them all, had what it gave back kept as if the job had ended: a mix of
 * steps never checkpointed, helper-83), holding pages, or whose connection fails or carries
 * garbage, was lost to its job, and a job that loses a node stops (section 12 of
 * doc/design.md): its job is cut off at once. Every other connection of that job is closed in
 * this same round, before any page the job held goes to another job, so no node of the lost job
 * gets a page after that (its surviving nodes would read their copies of the job's pages beside
 * newer content from another job: a mix) and none gives one back (its content could depend on
 * changes the lost node took with it). What the job held comes back as momed last had it.
 */
static void drop_conn(int ci, const char *fmt, ...)
{
    conn_t *c = conns[ci];
    char why[600];
    va_list ap;
    uint64_t lost;

    if (!c || c->dead)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    int in_ckpt = 0;
    for (gather_t *g = gathers; g; g = g->next)
        in_ckpt |= c->hello && g->key == c->key;
    lost = take_back(ci);
    if (c->hello && !c->bye && !strcmp(why, "it left"))
        snprintf(why, sizeof(why), "it left before the end of its MomeFinalize (killed?)");
    int broken = c->hello && (lost || in_ckpt || !c->bye || strcmp(why, "it left"));
    if (broken)
        say("job %016llx node %u (pid %u) left: %s; %llu pages it held are as momed last had them",
            (unsigned long long)c->key, c->node, c->pid, why, (unsigned long long)lost);
    else if (!c->hello && strcmp(why, "it left"))
        say("a connection was refused: %s", why);
    if (broken)
        remember_cut(c->key, c->node);
    for (int i = 0; broken && i < nconns; i++) {
        conn_t *o = conns[i];
        if (!o || o->dead || !o->hello || o->key != c->key)
            continue;
        uint64_t n = take_back(i);
        say("job %016llx node %u (pid %u) cut off: its job lost node %u; %llu pages it held are as "
            "momed last had them",
            (unsigned long long)o->key, o->node, o->pid, c->node, (unsigned long long)n);
    }
    /* A checkpoint of the job that waited for this node: it cannot be complete. */
    for (gather_t *g = gathers, *nx; c->hello && g; g = nx) {
        nx = g->next;
        if (g->key != c->key)
            continue;
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "node %u of the job left momed during the checkpoint; the "
                 "repository keeps generation %llu",
                 c->node, (unsigned long long)mome_repo_gen(g->s->rs));
        gather_end(g, -ECONNABORTED, msg);
    }
    if (broken) {
        uint64_t n = revert(c->key);
        if (n)
            say("job %016llx: %llu pages it gave back since its last checkpoint, which no other "
                "job has read since, are as they were before it changed them",
                (unsigned long long)c->key, (unsigned long long)n);
    } else if (c->hello && !job_attached(c->key)) {
        epoch_end(c->key, NULL); /* a clean end: its last content stays */
    }
    if (c->hello && !job_attached(c->key)) {
        if (verbose)
            say("job %016llx detached", (unsigned long long)c->key);
        checkpoint_all("the detach");
    }
}

/* Connections of jobs' nodes still open (past SRV_HELLO). */
static int open_conns(void)
{
    int n = 0;
    for (int i = 0; i < nconns; i++)
        n += conns[i] && !conns[i]->dead && conns[i]->hello;
    return n;
}

/* The connections a write failed on (flush_conn), after each connection's messages: ending one
 * hands its pages on, which may fail a write to another. */
static void drop_failed(void)
{
    for (int again = send_failures; again;) {
        again = send_failures = 0;
        for (int i = 0; i < nconns; i++)
            if (conns[i] && !conns[i]->dead && conns[i]->send_err) {
                drop_conn(i, "cannot write to it: %s", strerror(conns[i]->send_err));
                again = 1;
            }
    }
}

static void close_dead(void)
{
    for (int i = 0; i < nconns; i++) {
        conn_t *c = conns[i];
        if (!c || !c->dead)
            continue;
        close(c->fd);
        free(c->rbuf);
        free(c->wbuf);
        free(c);
        conns[i] = NULL;
    }
    while (nconns > 0 && !conns[nconns - 1])
        nconns--;
}

/* ---- requests ---- */

static void reply_open(int ci, const mome_srvopen_t *req, int status, uint64_t id, uint64_t size,
                       const char *why)
{
    mome_srvopen_t r = {.id = id, .size = size, .token = req->token, .status = status};
    srv_send(ci, MOME_SRV_OPEN_REPLY, &r, why, why ? (uint32_t)strnlen(why, MOME_SRV_WHY_MAX) : 0);
}

static void on_open(int ci, const mome_msg_t *m, const mome_srvopen_t *o)
{
    conn_t *c = conns[ci];
    char name[MOME_SRV_NAME_MAX + 1], why[MOME_SRV_WHY_MAX], who[200];
    int rf = MOME_REPO_LOCK, rc;
    mome_repo_seg_t *rs;
    mome_repo_info_t info;

    if (memchr(m->payload, 0, m->len)) {
        drop_conn(ci, "SRV_OPEN: a name with a NUL byte");
        return;
    }
    memcpy(name, m->payload, m->len);
    name[m->len] = 0;
    for (size_t k = 0; k < nsegs; k++) {
        seg_t *s = segs[k];
        if (!s || strcmp(s->name, name))
            continue;
        if ((o->flags & MOME_SRVO_CREATE) && (o->flags & MOME_SRVO_EXCL))
            return reply_open(ci, o, -EEXIST, 0, 0, "the segment exists (MOME_EXCL)");
        if (s->page_size != c->page_size) {
            snprintf(why, sizeof(why),
                     "segment '%s' is served with pages of %u bytes, this job "
                     "uses %u (MOME_PAGE_SIZE)",
                     name, s->page_size, c->page_size);
            return reply_open(ci, o, -EINVAL, 0, 0, why);
        }
        if (o->size && o->size != s->size) {
            snprintf(why, sizeof(why),
                     "segment '%s' is served with size %llu; pass 0 or that "
                     "size",
                     name, (unsigned long long)s->size);
            return reply_open(ci, o, -EINVAL, 0, 0, why);
        }
        return reply_open(ci, o, 0, s->id, s->size, NULL);
    }
    if (o->flags & MOME_SRVO_CREATE)
        rf |= MOME_REPO_CREATE | ((o->flags & MOME_SRVO_EXCL) ? MOME_REPO_EXCL : 0);
    snprintf(who, sizeof(who), "momed pid %d", (int)getpid());
    rc = mome_repo_open(repo_dir, name, o->size, c->page_size, rf, who, &rs, why, sizeof(why));
    if (rc == -EBUSY && strstr(why, "(pid ")) {
        /* A job holds it (mome-repo rm names itself otherwise): one that opened the repository
         * itself, started before momed or together with it (helper-158). */
        size_t n = strlen(why);
        snprintf(why + n, sizeof(why) - n,
                 ": that job opened the repository without momed, and holds the segment until it "
                 "ends; jobs that share segments must all go through momed: start momed first, "
                 "or start every such job with MOME_SERVER=start");
    }
    if (rc < 0)
        return reply_open(ci, o, rc, 0, 0, why);
    mome_repo_info(rs, &info);
    seg_t *s = calloc(1, sizeof(*s)), **ns = realloc(segs, (nsegs + 1) * sizeof(*segs));
    if (ns)
        segs = ns;
    if (!s || !ns || !(s->tab = calloc(1024, sizeof(*s->tab)))) {
        mome_repo_close(rs);
        free(s);
        return reply_open(ci, o, -ENOMEM, 0, 0, "momed is out of memory");
    }
    s->nb = 1024;
    s->rs = rs;
    s->size = info.head.size;
    s->page_size = c->page_size;
    /* The size is in bytes, as the repository keeps it: a partial last page is a page too,
     * served whole (as a job's own mapping of the segment covers it). */
    s->npages = s->size / s->page_size + (s->size % s->page_size != 0);
    snprintf(s->name, sizeof(s->name), "%s", name);
    segs[nsegs++] = s;
    s->id = MOME_SEG_SERVED | nsegs;
    if (page_buf_size < s->page_size) {
        free(page_buf);
        page_buf = aligned_alloc(4096, s->page_size);
        page_buf_size = s->page_size;
        if (!page_buf) {
            say("out of memory; stopping");
            exit(1);
        }
    }
    if (verbose)
        say("serving segment '%s' (%llu bytes, generation %llu) to job %016llx", name,
            (unsigned long long)s->size, (unsigned long long)info.head.gen,
            (unsigned long long)c->key);
    reply_open(ci, o, 0, s->id, s->size, NULL);
}

/* A page request or return names a served segment of this job's page size, and a page in it. */
static seg_t *page_of(int ci, const mome_msg_t *m, const mome_srvpage_t *b)
{
    seg_t *s = seg_by_id(b->seg);
    if (!s || s->page_size != conns[ci]->page_size || b->page >= s->npages) {
        drop_conn(ci, "%s for page %llu of segment %#llx, which momed does not serve",
                  mome_srv_types[m->type]->name, (unsigned long long)b->page,
                  (unsigned long long)b->seg);
        return NULL;
    }
    return s;
}

static void on_get(int ci, const mome_msg_t *m, const mome_srvpage_t *b)
{
    seg_t *s = page_of(ci, m, b);
    if (!s)
        return;
    if (stopping)
        return; /* momed is going: the node waits, and stops when momed has gone */
    pstate_t *p = pstate(s, b->page, 1);
    if (p->holder == ci) {
        drop_conn(ci, "SRV_GET for page %llu of segment '%s', which it holds",
                  (unsigned long long)b->page, s->name);
        return;
    }
    for (waiter_t *v = p->wq; v; v = v->next)
        if (v->conn == ci) { /* asked again, the queue and momed's memory grew without bound */
            drop_conn(ci, "SRV_GET for page %llu of segment '%s', which it already waits for",
                      (unsigned long long)b->page, s->name);
            return;
        }
    /* Even a page nobody holds is handed out at the end of the round (serve_queued): a
     * connection lost later in this round may cut off the job that gave it back. */
    waiter_t *w = calloc(1, sizeof(*w));
    if (!w) {
        say("out of memory; stopping");
        exit(1);
    }
    w->conn = ci;
    if (p->wtail)
        p->wtail->next = w;
    else
        p->wq = w;
    p->wtail = w;
    if (!p->queued) {
        p->queued = 1;
        p->qnext = queued;
        queued = p;
    }
    recall(s, p);
}

/* Does the page come back as the repository holds it? (Then the checkpoint skips it: only
 * changed pages are written.) */
static int same_as_stored(seg_t *s, pstate_t *p, const void *bytes)
{
    char err[1024];
    if (p->content)
        return !memcmp(p->content, bytes, s->page_size);
    int rc = mome_repo_read(s->rs, p->page, page_buf, err, sizeof(err));
    if (rc < 0)
        return 0; /* unreadable: the new content replaces it at the next checkpoint */
    if (rc == 0)
        memset(page_buf, 0, s->page_size);
    return !memcmp(page_buf, bytes, s->page_size);
}

/* Page p of s comes back from connection ci, which holds it, with these bytes (one page). */
static void put_page(int ci, seg_t *s, pstate_t *p, const uint8_t *bytes)
{
    uint8_t *stored = NULL; /* what the repository holds, when momed has no newer content */
    int readable = 1;

    if (tracing)
        say("PUT %llu from %016llx/%u (words %llu %llu %llu)", (unsigned long long)p->page,
            (unsigned long long)conns[ci]->key, conns[ci]->node,
            (unsigned long long)((const uint64_t *)bytes)[0],
            (unsigned long long)((const uint64_t *)bytes)[1],
            (unsigned long long)((const uint64_t *)bytes)[2]);
    if (!p->content) {
        /* Read once: to compare with (an unchanged page is not written again), and as the content
         * before this job's change. */
        char err[1024];
        int rc;
        if (!(stored = malloc(s->page_size))) {
            say("out of memory keeping page %llu of segment '%s'; stopping",
                (unsigned long long)p->page, s->name);
            exit(1);
        }
        rc = mome_repo_read(s->rs, p->page, stored, err, sizeof(err));
        if (rc == 0)
            memset(stored, 0, s->page_size);
        readable = rc >= 0;
    }
    if (!p->dirty && readable &&
        !memcmp(p->content ? p->content : stored, bytes, s->page_size)) {
        /* Unchanged (read only, or written back as it was): nothing to checkpoint. */
        free(stored);
        p->holder = -1;
        p->recalling = 0;
        conns[ci]->held--;
        return; /* handed on at the end of the round (serve_queued) */
    }
    if (p->put_key != conns[ci]->key) {
        /* This job's first change since its last checkpoint: keep what was there before (if
         * unreadable, there is nothing to go back to: the new content stands). */
        if (p->content) {
            if (!(p->before = malloc(s->page_size))) {
                say("out of memory keeping page %llu of segment '%s'; stopping",
                    (unsigned long long)p->page, s->name);
                exit(1);
            }
            memcpy(p->before, p->content, s->page_size);
            p->before_stored = 0; /* momed's newer content, not written yet */
        } else if (readable) {
            p->before = stored;
            stored = NULL;
            p->before_stored = 1;
        }
        if (p->before)
            p->put_key = conns[ci]->key;
    }
    if (!p->content) {
        /* The buffer read above is free now: it takes the new content. */
        p->content = stored ? stored : malloc(s->page_size);
        stored = NULL;
        if (!p->content) {
            say("out of memory keeping page %llu of segment '%s'; stopping",
                (unsigned long long)p->page, s->name);
            exit(1);
        }
    }
    free(stored);
    memcpy(p->content, bytes, s->page_size);
    if (!p->dirty)
        s->ndirty++;
    p->dirty = 1;
    p->holder = -1;
    p->recalling = 0;
    conns[ci]->held--; /* handed on at the end of the round (serve_queued) */
}

static void on_put(int ci, const mome_msg_t *m, const mome_srvpage_t *b)
{
    seg_t *s = page_of(ci, m, b);
    if (!s)
        return;
    pstate_t *p = pstate(s, b->page, 0);
    if (!p || p->holder != ci || m->len != s->page_size) {
        drop_conn(ci, "SRV_PUT for page %llu of segment '%s', which it does not hold",
                  (unsigned long long)b->page, s->name);
        return;
    }
    put_page(ci, s, p, m->payload);
}

/*
 * Many pages coming back in one message. Every entry is checked before any page is taken (a
 * served segment of this job's page size, a page in it that this connection holds, not twice, a
 * version of 0, as many entries as the body says): a malformed batch changes nothing and ends the
 * connection, as any malformed message.
 */
static void on_putv(int ci, const mome_msg_t *m, const mome_srvbatch_t *b)
{
    static uint64_t batch_no;
    mome_entry_t e;
    uint64_t n = 0;
    seg_t *s;
    pstate_t *p;

    batch_no++;
    MOME_BATCH_FOREACH(MOME_BATCH_PUSH, m, e)
    {
        s = seg_by_id(e.seg);
        if (!s || s->page_size != conns[ci]->page_size || e.page >= s->npages) {
            drop_conn(ci, "SRV_PUTV entry %llu for page %llu of segment %#llx, which momed does "
                      "not serve; the batch is refused whole",
                      (unsigned long long)n, (unsigned long long)e.page,
                      (unsigned long long)e.seg);
            return;
        }
        p = pstate(s, e.page, 0);
        if (!p || p->holder != ci || e.ver || p->mark == batch_no) {
            drop_conn(ci, "SRV_PUTV entry %llu for page %llu of segment '%s': %s; the batch is "
                      "refused whole",
                      (unsigned long long)n, (unsigned long long)e.page, s->name,
                      !p || p->holder != ci ? "a page it does not hold"
                      : e.ver                ? "a version other than 0"
                                             : "a page given twice in one batch");
            return;
        }
        p->mark = batch_no;
        n++;
    }
    if (n == 0 || n != b->n) {
        drop_conn(ci, "SRV_PUTV of %llu entries whose body says %llu; the batch is refused whole",
                  (unsigned long long)n, (unsigned long long)b->n);
        return;
    }
    if (tracing)
        say("PUTV of %llu pages from %016llx/%u", (unsigned long long)n,
            (unsigned long long)conns[ci]->key, conns[ci]->node);
    MOME_BATCH_FOREACH(MOME_BATCH_PUSH, m, e)
    {
        /* Handing a page on may end this job's connections (a node of it lost: drop_conn): then
         * the rest stays as momed last had it, as for any page a lost job held. */
        if (conns[ci]->dead)
            return;
        s = seg_by_id(e.seg);
        p = pstate(s, e.page, 0);
        if (p->holder != ci)
            return;
        put_page(ci, s, p, e.data);
    }
}

static void on_ckpt(int ci, const mome_msg_t *m, const mome_srvopen_t *o)
{
    conn_t *c = conns[ci];
    seg_t *s = seg_by_id(o->id);
    char why[MOME_SRV_WHY_MAX] = "";
    gather_t *g;
    if (!s) {
        drop_conn(ci, "SRV_CKPT for segment %#llx, which momed does not serve",
                  (unsigned long long)o->id);
        return;
    }
    for (g = gathers; g; g = g->next)
        if (g->s == s && g->key == c->key)
            break;
    if (!g) {
        g = calloc(1, sizeof(*g));
        if (g) {
            g->conn = malloc(c->nnodes * sizeof(*g->conn));
            g->token = calloc(c->nnodes, sizeof(*g->token));
        }
        if (!g || !g->conn || !g->token) {
            say("out of memory for a checkpoint of segment '%s'; stopping", s->name);
            exit(1);
        }
        g->s = s;
        g->key = c->key;
        g->nnodes = c->nnodes;
        for (uint32_t i = 0; i < g->nnodes; i++)
            g->conn[i] = -1;
        g->next = gathers;
        gathers = g;
    }
    if (c->nnodes != g->nnodes || g->conn[c->node] >= 0) {
        drop_conn(ci,
                  "SRV_CKPT for segment '%s' from node %u of %u: a second one, or a job "
                  "size other than its job's (%u)",
                  s->name, c->node, c->nnodes, g->nnodes);
        return;
    }
    g->conn[c->node] = ci;
    g->token[c->node] = o->token;
    if (tracing)
        say("CKPT of segment '%s' from %016llx/%u (%u of %u nodes)", s->name,
            (unsigned long long)c->key, c->node, g->asked + 1, g->nnodes);
    if (++g->asked < g->nnodes)
        return; /* the other nodes' pages may still be on their way */
    if (ckpt_delay_ms > 0) /* tests: a checkpoint that takes long (mh_momed.test) */
        usleep((useconds_t)(ckpt_delay_ms * 1000));
    int rc = checkpoint(s, g->key, "the job's", why, sizeof(why));
    if (rc == 0)
        epoch_end(g->key, s);
    gather_end(g, rc, rc < 0 ? why : NULL);
}

static void on_hello(int ci, const mome_msg_t *m, const mome_srvhello_t *h)
{
    conn_t *c = conns[ci];
    if (h->nnodes < 1 || h->nnodes > (1u << 20) || h->node >= h->nnodes || h->node != m->src ||
        h->page_size < 4096 || h->page_size > (1u << 24) || (h->page_size & (h->page_size - 1))) {
        drop_conn(ci, "SRV_HELLO with node %u of %u, page size %u: out of range", h->node,
                  h->nnodes, h->page_size);
        return;
    }
    if (h->server != momed_key) {
        /* Told why (HELLO_OK with no pid), then let go. */
        c->key = m->key;
        c->node = h->node;
        mome_srvhello_t no = {.node = h->node, .nnodes = h->nnodes, .page_size = h->page_size};
        srv_send(ci, MOME_SRV_HELLO_OK, &no, NULL, 0);
        drop_conn(ci, "SRV_HELLO of node %u (pid %u) without momed's key (%s): refused", h->node,
                  h->pid, h->server ? "a wrong key" : "no key");
        return;
    }
    int64_t lost = was_cut(m->key);
    if (lost >= 0) {
        drop_conn(ci,
                  "SRV_HELLO of node %u of job %016llx, which momed cut off when it lost node %lld",
                  h->node, (unsigned long long)m->key, (long long)lost);
        return;
    }
    c->hello = 1;
    c->key = m->key;
    c->node = h->node;
    c->nnodes = h->nnodes;
    c->page_size = h->page_size;
    c->pid = h->pid;
    c->ctx = (mome_wire_ctx_t){
        .nnodes = h->nnodes, .page_size = h->page_size, .key = m->key, .models = 0xe};
    if (verbose)
        say("job %016llx node %u of %u (pid %u) attached", (unsigned long long)c->key, c->node,
            c->nnodes, c->pid);
    mome_srvhello_t ok = {.server = (uint64_t)getpid(),
                          .node = c->node,
                          .nnodes = c->nnodes,
                          .page_size = c->page_size,
                          .pid = (uint32_t)getpid()};
    srv_send(ci, MOME_SRV_HELLO_OK, &ok, NULL, 0);
}

/* Decode and run one message. Anything malformed ends the connection (its job then stops). */
static void handle(int ci, const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
    conn_t *c = conns[ci];
    mome_msg_t m;
    const char *why = "?";
    mome_wire_ctx_t ctx = c->ctx;
    int rc;

    if (!c->hello) {
        /* The first message names the job (its key) and the node. */
        ctx = (mome_wire_ctx_t){.nnodes = 1u << 20, .page_size = 1u << 24, .models = 0xe};
        for (int i = 7; i >= 0; i--)
            ctx.key = (ctx.key << 8) | hdr[24 + i];
    }
    rc = mome_wire_decode(hdr, MOME_WIRE_HDR, payload, len, &ctx, mome_srv_types, &m, &why);
    if (rc < 0) {
        drop_conn(ci, "a message that fails validation (%s: %s)", why, strerror(-rc));
        return;
    }
    if (!c->hello && m.type != MOME_SRV_HELLO) {
        drop_conn(ci, "%s before SRV_HELLO", mome_srv_types[m.type]->name);
        return;
    }
    if (c->hello && (m.src != c->node || m.type == MOME_SRV_HELLO)) {
        drop_conn(ci, "%s from node %u on the connection of node %u", mome_srv_types[m.type]->name,
                  m.src, c->node);
        return;
    }
    /* (The decoder refused a date from 2^62 on: none gets there, and one near 2^64 would wrap
     * momed's clock, and every job's that merges momed's dates after it.) */
    if (m.date > lclock)
        lclock = m.date;
    lclock++;
    switch (m.type) {
    case MOME_SRV_HELLO:
        on_hello(ci, &m, mome_msg_body(&m));
        break;
    case MOME_SRV_OPEN:
        on_open(ci, &m, mome_msg_body(&m));
        break;
    case MOME_SRV_GET:
        on_get(ci, &m, mome_msg_body(&m));
        break;
    case MOME_SRV_PUT:
        on_put(ci, &m, mome_msg_body(&m));
        break;
    case MOME_SRV_PUTV:
        on_putv(ci, &m, mome_msg_body(&m));
        break;
    case MOME_SRV_CKPT:
        on_ckpt(ci, &m, mome_msg_body(&m));
        break;
    case MOME_SRV_BYE:
        if (!c->hello || c->bye) {
            drop_conn(ci, "SRV_BYE %s", c->hello ? "twice" : "before SRV_HELLO");
            break;
        }
        c->bye = 1;
        break;
    default:
        drop_conn(ci, "%s, which only momed sends", mome_srv_types[m.type]->name);
    }
}

static void read_conn(int ci)
{
    conn_t *c = conns[ci];
    int eof = 0;
    const char *failed = NULL;
    /* At most a largest message ahead (and a read's worth): a peer that keeps sending is read
     * again next round, once these are handled, not buffered without bound. */
    size_t enough = MOME_WIRE_HDR + (c->hello ? mome_batch_max(c->page_size) : 0) + 65536;
    while (c->rlen < enough) {
        if (c->rcap - c->rlen < 65536) {
            size_t cap = c->rcap ? c->rcap * 2 : 1 << 20;
            uint8_t *b = realloc(c->rbuf, cap);
            if (!b) {
                say("out of memory; stopping");
                exit(1);
            }
            c->rbuf = b;
            c->rcap = cap;
        }
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
        if (r == 0) {
            eof = 1; /* what came before the end is handled first (a job's last pages) */
            break;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                failed = strerror(errno);
            break;
        }
        c->rlen += (size_t)r;
    }
    size_t off = 0;
    while (!c->dead && c->rlen - off >= MOME_WIRE_HDR) {
        const uint8_t *h = c->rbuf + off;
        uint32_t len =
            (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
        /* Checked before any byte of it is kept: a batch (SRV_PUTV) is the largest. */
        uint32_t max = c->hello ? (uint32_t)mome_batch_max(c->page_size) : 0;
        if (len > max) {
            drop_conn(ci, "a message of %u payload bytes (at most %u)", len, max);
            return;
        }
        if (c->rlen - off < MOME_WIRE_HDR + len)
            break;
        handle(ci, h, h + MOME_WIRE_HDR, len);
        off += MOME_WIRE_HDR + len;
    }
    if (!c->dead) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    if (failed)
        drop_conn(ci, "the connection failed: %s", failed);
    else if (eof)
        drop_conn(ci, "it left");
}

/* ---- start-up: the lock, the listener, the address file ---- */

static char lock_path[1200], addr_path[1200];
static int lock_fd = -1;

/* At exit (a stop, or a failure after the lock was taken), still holding the lock: its text
 * emptied, so that no job waits for this momed's address file (server.c momed_running). A momed
 * killed leaves it, with an address file naming the same pid, which jobs do not wait for. */
static void empty_lock(void)
{
    if (lock_fd >= 0 && ftruncate(lock_fd, 0) < 0) {
        /* jobs then find the pid gone (or, on another machine, wait for the address file) */
    }
}

static int take_lock(void)
{
    snprintf(lock_path, sizeof(lock_path), "%s/%s", repo_dir, MOME_SRV_LOCK_FILE);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        say("cannot open %s: %s", lock_path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char who[200] = "";
        ssize_t n = pread(fd, who, sizeof(who) - 1, 0);
        who[n > 0 ? n : 0] = 0;
        who[strcspn(who, "\n")] = 0;
        say("repository %s is already served by another momed (%s): %s", repo_dir,
            who[0] ? who : "?", strerror(EBUSY));
        close(fd);
        return -1;
    }
    /* "pid N host H": a job that finds no address file yet waits for a momed starting (its pid
     * alive here, or on another machine). Written over the old text, then cut to length: never
     * empty meanwhile, which would say no momed is there. */
    char who[400], me[256] = "";
    gethostname(me, sizeof(me) - 1);
    int n = snprintf(who, sizeof(who), "pid %d host %s\n", (int)getpid(), me[0] ? me : "?");
    if (pwrite(fd, who, (size_t)n, 0) < 0 || ftruncate(fd, n) < 0) {
        /* the lock is what matters; the text helps the message above and waiting jobs */
    }
    lock_fd = fd;
    atexit(empty_lock);
    return fd; /* kept open: the lock goes with the process */
}

/*
 * --listen HOST:PORT, split: PORT a number from 0 to 65535 (0: any free one). getaddrinfo would
 * take 99999 as 34463, and a service name too. Anything else is a usage error, said here.
 */
static int parse_listen(const char *spec, char *h, size_t hl, char *p, size_t pl)
{
    const char *c = strrchr(spec, ':'), *q;
    unsigned long port = 0;

    if (!c || (size_t)(c - spec) >= hl) {
        fprintf(stderr, "momed: bad --listen '%s': expected HOST:PORT (port 0: any free one)\n",
                spec);
        return -1;
    }
    for (q = c + 1; *q >= '0' && *q <= '9' && port <= 65535; q++)
        port = port * 10 + (unsigned long)(*q - '0');
    if (q == c + 1 || *q || port > 65535) {
        fprintf(stderr,
                "momed: bad --listen '%s': the port must be a number from 0 to 65535 (0: any "
                "free one)\n",
                spec);
        return -1;
    }
    memcpy(h, spec, (size_t)(c - spec));
    h[c - spec] = 0;
    snprintf(p, pl, "%lu", port);
    return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return sa->sa_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* This machine's own name (as MOME_SERVER=start passes it), not localhost or another alias of
 * loopback, which a user gives to keep momed to this machine (helper-100). */
static int is_own_name(const char *h)
{
    char me[256] = "";
    gethostname(me, sizeof(me) - 1);
    return me[0] && !strcmp(h, me);
}

/* Listen on host h (empty: every address), port p (a number, 0: any free one). */
static int listen_on(const char *h, const char *p, char *host, size_t hl, int *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai;
    int rc = getaddrinfo(h[0] ? h : NULL, p, &hints, &ai), named_loop = 0;
    if (rc) {
        say("cannot resolve %s:%s: %s", h, p, gai_strerror(rc));
        return -1;
    }
    if (h[0] && is_loopback(ai->ai_addr) && is_own_name(h)) {
        /* The machine's own name, resolving to loopback here (Debian's 127.0.1.1, /etc/hosts):
         * bound as it stands, no other machine could reach momed (a job on several machines with
         * MOME_SERVER=start listens on its name: helper-96). Every address, then, and the file
         * keeps the name, which the other machines resolve their own way. */
        struct addrinfo *w;
        hints.ai_family = ai->ai_family;
        if (getaddrinfo(NULL, p, &hints, &w) == 0) {
            freeaddrinfo(ai);
            ai = w;
            named_loop = 1;
        }
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        say("cannot listen on %s:%s: %s", h, p, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char hs[NI_MAXHOST], ps[NI_MAXSERV];
    getnameinfo((struct sockaddr *)&ss, sl, hs, sizeof(hs), ps, sizeof(ps),
                NI_NUMERICHOST | NI_NUMERICSERV);
    /* Every address (an empty host, or 0.0.0.0): the file names 0.0.0.0, which reaches this
     * machine from this machine; jobs elsewhere give MOME_SERVER. */
    snprintf(host, hl, "%.250s",
             named_loop                                  ? h
             : strcmp(hs, "0.0.0.0") && strcmp(hs, "::") ? hs
             : h[0]                                      ? h
                                                         : "0.0.0.0");
    *port = atoi(ps);
    return fd;
}

static int write_addr(const char *host, int port)
{
    char tmp[1300], me[256] = "";
    gethostname(me, sizeof(me) - 1);
    snprintf(tmp, sizeof(tmp), "%s.tmp", addr_path);
    FILE *f = fopen(tmp, "we");
    if (!f || fchmod(fileno(f), 0600) < 0 ||
        fprintf(f, "%s %d %d %s %016llx\n", host, port, (int)getpid(), me,
                (unsigned long long)momed_key) < 0 ||
        fflush(f) || fsync(fileno(f)) < 0 || fclose(f) != 0 || rename(tmp, addr_path) < 0) {
        say("cannot write %s: %s", addr_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A testing knob of milliseconds, min to 600000: *out (0 if unset), or -1, said. */
static int test_ms(const char *name, long min, long *out)
{
    const char *v = getenv(name);
    char *end;
    *out = 0;
    if (!v)
        return 0;
    *out = strtol(v, &end, 10);
    if (*end || *out < min || *out > 600000) {
        say("bad %s '%s': milliseconds from %ld to 600000", name, v, min);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: momed --repository DIR [--listen HOST:PORT] [--checkpoint-every SECONDS] "
               "[--verbose]\n"
               "       momed --help | --version\n"
               "Serves the persistent segments of repository DIR to separately launched jobs "
               "(see momed(1)).\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"repository", required_argument, 0, 'r'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"checkpoint-every", required_argument, 0, 'c'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    double every = 0;
    char host[256], lhost[256] = "127.0.0.1", lport[8] = "0";
    int port, o, lfd, sfd;

    while ((o = getopt_long(argc, argv, "r:l:c:vh", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            repo_dir = optarg;
            break;
        case 'l':
            if (parse_listen(optarg, lhost, sizeof(lhost), lport, sizeof(lport)) < 0)
                return 2;
            break;
        case 'c': {
            char *end;
            every = strtod(optarg, &end);
            if (*end || end == optarg || !(every > 0 && every <= 1e7)) { /* NaN too */
                fprintf(stderr,
                        "momed: bad --checkpoint-every '%s': expected a number of "
                        "seconds > 0 and at most 1e7\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("momed (Mome) %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!repo_dir || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (mkdir(repo_dir, 0700) < 0 && errno != EEXIST) {
        say("cannot create repository %s: %s", repo_dir, strerror(errno));
        return 1;
    }
    /* Made just now, here or by the job that started momed (MOME_SERVER=start): durable before
     * anything is stored in it (the embedded repository's open does the same for its own). */
    int prc = mome_repo_sync_parent(repo_dir);
    if (prc < 0) {
        say("cannot fsync the directory holding %s: %s", repo_dir, strerror(-prc));
        return 1;
    }
    char why[600];
    if (mome_repo_check(repo_dir, 1, why, sizeof(why)) < 0) {
        say("%s", why);
        return 1;
    }
    if (mome_repo_crash_setup(getenv("MOME_TEST_CRASH_AT"), 0) < 0) {
        say("bad MOME_TEST_CRASH_AT");
        return 2;
    }
    tracing = getenv("MOMED_TRACE") && atoi(getenv("MOMED_TRACE"));
    long test_val;
    if (test_ms("MOME_TEST_CKPT_DELAY_MS", 0, &ckpt_delay_ms) < 0)
        return 2;
    if (test_ms("MOME_TEST_SLOW_RECALL_MS", 1, &test_val) < 0)
        return 2;
    if (test_val)
        slow_recall_ns = (uint64_t)test_val * 1000000;
    if (test_ms("MOME_TEST_HELLO_WAIT_MS", 1, &test_val) < 0)
        return 2;
    if (test_val)
        hello_wait_ns = (uint64_t)test_val * 1000000;
    if (take_lock() < 0)
        return 1;
    /* A descriptor per connection, and the repository's files opened as pages are read: the soft
     * limit (often 1024) goes up to the hard one, so that momed does not cut jobs off early
     * (a page it cannot read stops the job asking). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            say("cannot raise the limit on open files to %llu: %s", (unsigned long long)rl.rlim_max,
                strerror(errno));
    }
    snprintf(addr_path, sizeof(addr_path), "%s/%s", repo_dir, MOME_SRV_ADDR_FILE);
    unlink(addr_path); /* a file left by a momed killed earlier: ours replaces it below */
    /* Testing: a momed that holds the repository and has not written its address file yet, as
     * one launched together with a job, until the test says (PATH exists; at most 60 s). */
    const char *hold = getenv("MOME_TEST_START_HOLD");
    for (int i = 0; hold && hold[0] && access(hold, F_OK) < 0 && i < 6000; i++) {
        struct timespec tick = {0, 10000000};
        nanosleep(&tick, NULL);
    }
    if ((lfd = listen_on(lhost, lport, host, sizeof(host), &port)) < 0)
        return 1;
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    while (!momed_key)
        if (getrandom(&momed_key, sizeof(momed_key), 0) != sizeof(momed_key)) {
            say("cannot draw momed's key: %s", strerror(errno));
            return 1;
        }
    if (sfd < 0 || write_addr(host, port) < 0)
        return 1;
    say("serving repository %s at %s:%d%s", repo_dir, host, port,
        every > 0 ? " (periodic checkpoints)" : "");

    uint64_t next_ckpt = every > 0 ? now_ns() + (uint64_t)(every * 1e9) : 0;
    int stop = 0;
    uint64_t stop_by = 0, accept_again = 0; /* descriptors ran out: the listener rests till then */
    while (!stop) {
        struct pollfd *pf = calloc((size_t)nconns + 2, sizeof(*pf));
        if (!pf) {
            say("out of memory; stopping");
            return 1;
        }
        int resting = accept_again && now_ns() < accept_again;
        pf[0] = (struct pollfd){.fd = resting ? -1 : lfd, .events = POLLIN};
        pf[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (int i = 0; i < nconns; i++) {
            pf[i + 2].fd = conns[i] ? conns[i]->fd : -1;
            pf[i + 2].events = POLLIN | (conns[i] && conns[i]->wlen > conns[i]->woff ? POLLOUT : 0);
        }
        int timeout = -1, due = recall_due();
        if (due)
            timeout = 1;
        if (slow_by) {
            uint64_t t = now_ns();
            int ms = t >= slow_by ? 0 : (int)((slow_by - t) / 1000000 + 1);
            if (timeout < 0 || ms < timeout)
                timeout = ms;
        }
        uint64_t hello_by = 0; /* the first hello deadline */
        for (int i = 0; i < nconns; i++)
            if (conns[i] && !conns[i]->hello && !conns[i]->dead &&
                (!hello_by || conns[i]->accepted_ns + hello_wait_ns < hello_by))
                hello_by = conns[i]->accepted_ns + hello_wait_ns;
        if (hello_by) {
            uint64_t t = now_ns();
            int ms = t >= hello_by ? 0 : (int)((hello_by - t) / 1000000 + 1);
            if (timeout < 0 || ms < timeout)
                timeout = ms;
        }
        if (stopping || (resting && (timeout < 0 || timeout > 20)))
            timeout = 20;
        if (next_ckpt) {
            uint64_t t = now_ns();
            uint64_t left = t >= next_ckpt ? 0 : (next_ckpt - t) / 1000000 + 1;
            /* --checkpoint-every may be up to 1e7 s: 1e10 ms overflows an int (a negative
             * timeout is poll's "forever", which then overrode the 1 ms and 20 ms above). */
            int ms = left > 1000000 ? 1000000 : (int)left;
            if (timeout < 0 || ms < timeout)
                timeout = ms;
        }
        int n = poll(pf, (nfds_t)nconns + 2, timeout), nc = nconns;
        if (n < 0 && errno != EINTR) {
            say("poll: %s", strerror(errno));
            return 1;
        }
        if (n > 0 && (pf[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == sizeof(si) && !stopping)
                say("signal %u: taking back the pages jobs hold and letting ending jobs leave "
                    "(at most %llu s), then checkpointing and stopping",
                    si.ssi_signo, STOP_WAIT_NS / 1000000000ull);
            if (stopping)
                stop = 1; /* a second signal: at once */
            stopping = 1;
            stop_by = now_ns() + STOP_WAIT_NS;
        }
        for (int i = 0; n > 0 && i < nc; i++) {
            if (!conns[i] || !pf[i + 2].revents)
                continue;
            if (pf[i + 2].revents & POLLOUT)
                flush_conn(i);
            if (conns[i] && !conns[i]->dead && (pf[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
                read_conn(i);
            drop_failed();
        }
        if (n > 0 && (pf[0].revents & POLLIN)) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), slot = -1, one = 1;
            if (fd < 0 &&
                (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
                /* The connection stays in the backlog and the listener readable: without a
                 * rest, poll returned at once, forever (momed spun at 100% CPU). */
                if (!accept_again)
                    say("cannot accept a connection: %s (raise the limit on open files, ulimit "
                        "-n); trying again every 100 ms",
                        strerror(errno));
                accept_again = now_ns() + 100000000ull;
            } else if (fd >= 0) {
                accept_again = 0;
            }
            for (int i = 0; fd >= 0 && i < MAX_CONNS && slot < 0; i++)
                if (!conns[i])
                    slot = i;
            if (fd >= 0 && slot < 0) {
                say("too many connections (%d): refusing one", MAX_CONNS);
                close(fd);
            } else if (fd >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                conns[slot] = calloc(1, sizeof(conn_t));
                if (!conns[slot]) {
                    close(fd);
                } else {
                    conns[slot]->fd = fd;
                    conns[slot]->accepted_ns = now_ns();
                    if (slot >= nconns)
                        nconns = slot + 1;
                }
            }
        }
        free(pf);
        for (int i = 0; i < nconns; i++)
            if (conns[i] && !conns[i]->hello && !conns[i]->dead &&
                now_ns() >= conns[i]->accepted_ns + hello_wait_ns)
                drop_conn(i, "no SRV_HELLO within %llu ms of connecting",
                          (unsigned long long)(hello_wait_ns / 1000000));
        do
            drop_failed();
        while (serve_queued());
        close_dead();
        if (stopping && !stop) {
            /* Jobs ending now (their pages back, in MomeFinalize) get until stop_by to close:
             * only a clean end confirms what they gave back since their last checkpoint. */
            uint64_t held = recall_all();
            int open = open_conns();
            if ((!held && !open) || now_ns() >= stop_by) {
                if (held)
                    say("%llu pages are still held by jobs: they are checkpointed as momed last "
                        "had them",
                        (unsigned long long)held);
                if (open)
                    say("%d nodes of jobs are still attached: those jobs stop, and what they "
                        "changed since their last checkpoint is not written",
                        open);
                stop = 1;
            }
        }
        if (next_ckpt && now_ns() >= next_ckpt) {
            checkpoint_all("a periodic");
            next_ckpt = now_ns() + (uint64_t)(every * 1e9);
        }
    }
    /* A clean stop: what momed holds goes to the repository, the pages jobs held taken back first
     * (those jobs then stop: momed is gone). */
    int bad = checkpoint_all("the final");
    for (size_t k = 0; k < nsegs; k++) {
        char err[1024];
        if (segs[k] && !bad && mome_repo_should_compact(segs[k]->rs) &&
            mome_repo_compact(segs[k]->rs, err, sizeof(err)) < 0)
            say("compaction of segment '%s' failed (its content is intact): %s", segs[k]->name,
                err);
        if (segs[k])
            mome_repo_close(segs[k]->rs);
    }
    unlink(addr_path);
    say("stopped%s", bad ? " (a checkpoint failed: the previous one stays)" : "");
    return bad ? 1 : 0;
}
