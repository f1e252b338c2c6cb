/*
 * msg.c - the message table, sending (to peers through the transport hook, to self through a
 * local queue), validated delivery to the registered handlers, and the emulated interconnect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"
#include "net/msg.h"
#include "net/srvproto.h"

static const mome_msg_def_t *defs[MOME_WIRE_NTYPES];
static const mome_wire_type_t *wire_types[MOME_WIRE_NTYPES];
static mome_wire_ctx_t wctx = {.nnodes = 1, .page_size = 4096};
static int self;
static mome_msg_tx_t tx;
static mome_msg_fail_t tx_fail;
static mome_msg_hook_t send_hook;
static mome_msg_srv_tx_t srv_tx; /* momed's connection (net/server.c) */
static const char *srv_where;

void mome_msg_set_server(mome_msg_srv_tx_t t, const char *where)
{
    srv_tx = t;
    srv_where = where;
}
static int closed; /* the node is leaving: nothing more goes in or out */

/* MOME_TEST_INJECT: after inject_after sends to other nodes, one bad message of this kind. */
enum { INJ_NONE = 0, INJ_CORRUPT, INJ_TRUNCATE, INJ_RANGE, INJ_FOREIGN };
static int inject_kind;
static unsigned long inject_after, sent_remote;

/* Messages to self, and messages held to emulate a slower interconnect. */
typedef struct qmsg {
    struct qmsg *next;
    uint64_t due;
    uint32_t len;
    char buf[];
} qmsg_t;
typedef struct queue {
    qmsg_t *head, *tail;
} queue_t;
static queue_t local, delayed; /* delayed: ordered by due time (mome_msg_emu_due, jitter_due) */
static queue_t held_q;         /* messages waiting for the end of a hold */
static int holds;              /* mome_msg_hold depth */
static mome_msg_poll_t poll_fn;
static int timer_fd = -1;
static uint64_t emu_latency, emu_bandwidth;
static uint64_t link_free; /* when the emulated link into this node has carried what it holds */
static uint64_t emu_jitter, jitter_rng; /* MOME_EMU_JITTER_NS, and its generator's state */
static uint64_t *jitter_last;           /* per sender: when its latest held message is due */

int mome_msg_register(const mome_msg_def_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int t = d[i].type;
        size_t bytes = 0;
        for (int f = 0; f < d[i].wire.nfields; f++)
            bytes += d[i].wire.fields[f].size;
        if (t <= 0 || t >= MOME_WIRE_NTYPES || bytes > MOME_WIRE_BODY ||
            d[i].body_size > MOME_WIRE_BODY) {
            mome_error("msg", "message type %d (%s) cannot be registered", t, d[i].wire.name);
            return -EINVAL;
        }
        if (defs[t] && defs[t] != &d[i]) {
            mome_error("msg", "message type %d registered twice (%s, %s)", t, defs[t]->wire.name,
                       d[i].wire.name);
            return -EEXIST;
        }
        defs[t] = &d[i];
        wire_types[t] = &d[i].wire;
    }
    return 0;
}

void mome_msg_unregister_all(void)
{
    memset(defs, 0, sizeof(defs));
    memset(wire_types, 0, sizeof(wire_types));
}

const mome_msg_def_t *mome_msg_def(int type)
{
    return type > 0 && type < MOME_WIRE_NTYPES ? defs[type] : NULL;
}

const char *mome_msg_name(int type)
{
    const mome_msg_def_t *d = mome_msg_def(type);
    return d ? d->wire.name : "invalid";
}

void mome_msg_setup(int rank, const mome_wire_ctx_t *ctx)
{
    self = rank;
    wctx = *ctx;
}

void mome_msg_set_transport(mome_msg_tx_t t, mome_msg_fail_t fail)
{
    tx = t;
    tx_fail = fail;
}

void mome_msg_set_send_hook(mome_msg_hook_t hook)
{
    send_hook = hook;
}

/* ---- queues ---- */

static void queue_append(queue_t *q, qmsg_t *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
}

/* Into q, kept ordered by due time, after those due at the same time (their arrival order). */
static void queue_insert_due(queue_t *q, qmsg_t *m)
{
    if (!q->tail || q->tail->due <= m->due) {
        queue_append(q, m);
        return;
    }
    qmsg_t **p = &q->head;
    while ((*p)->due <= m->due)
        p = &(*p)->next;
    m->next = *p;
    *p = m;
}

static qmsg_t *queue_pop(queue_t *q)
{
    qmsg_t *m = q->head;
    if (m) {
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
    }
    return m;
}

static qmsg_t *queue_copy(const void *hdr, size_t hl, const void *data, size_t len)
{
    qmsg_t *q = mome_malloc(sizeof(*q) + hl + len);
    if (!q)
        return NULL;
    q->len = (uint32_t)(hl + len);
    memcpy(q->buf, hdr, hl);
    if (len)
        memcpy(q->buf + hl, data, len);
    return q;
}

static void queue_free(queue_t *q)
{
    qmsg_t *m;
    while ((m = queue_pop(q)))
        free(m);
}

/* ---- sending ---- */

int mome_msg_inject(const char *spec)
{
    static const char *const kinds[] = {"", "corrupt", "truncate", "range", "foreign"};
    char *end;
    inject_kind = INJ_NONE;
    if (!spec || !*spec)
        return 0;
    for (int k = 1; k <= INJ_FOREIGN; k++) {
        size_t l = strlen(kinds[k]);
        if (strncmp(spec, kinds[k], l) || spec[l] != ':')
            continue;
        inject_after = strtoul(spec + l + 1, &end, 10);
        if (*end || end == spec + l + 1)
            return -EINVAL;
        inject_kind = k;
        sent_remote = 0;
        return 0;
    }
    return -EINVAL;
}

/* A copy of the message just sent (header hdr, payload m), made bad in the chosen way, sent too:
 * the receiver must refuse it (foreign) or stop the job naming the fault, never act on it. */
static void send_bad(int to, const uint8_t *hdr, const mome_msg_t *m)
{
    uint8_t bad[MOME_WIRE_HDR];
    mome_msg_t b = *m;
    uint32_t len = m->len;

    memcpy(bad, hdr, sizeof(bad));
    switch (inject_kind) {
    case INJ_CORRUPT:
        bad[40] ^= 0x10;
        break; /* a body byte: the checksum no longer matches */
    case INJ_TRUNCATE:
        len = len ? len - 1 : 0;
        bad[12] ^= len ? 0 : 8;
        break;
    case INJ_RANGE:
        b.src = wctx.nnodes;
        mome_wire_encode(&b, bad);
        break;
    case INJ_FOREIGN:
        b.key = ~wctx.key;
        mome_wire_encode(&b, bad);
        break;
    }
    mome_warn("msg", "MOME_TEST_INJECT: sending a bad copy of a %s message to node %d",
              mome_msg_name(m->type), to);
    tx(to, bad, sizeof(bad), m->payload, len);
    inject_kind = INJ_NONE;
}

static void send_encoded(int to, mome_msg_t *m)
{
    uint8_t hdr[MOME_WIRE_HDR];
    int rc;

    m->src = (uint32_t)self;
    m->key = wctx.key;
    m->date = mome_clock_tick();
    mome_wire_encode(m, hdr);
    mome_trace("msg", "send %s to %d (%u payload bytes, flags %#x)", mome_msg_name(m->type), to,
               m->len, m->flags);
    if (send_hook) {
        mome_msg_t d;
        rc = mome_wire_decode(hdr, sizeof(hdr), m->payload, m->len, &wctx, wire_types, &d, NULL);
        if (rc < 0)
            mome_fatal("encoded an invalid %s message (%s)", mome_msg_name(m->type), strerror(-rc));
        send_hook(to, &d);
        return;
    }
    if (to == MOME_TO_SERVER) {
        rc = srv_tx ? srv_tx(hdr, sizeof(hdr), m->payload, m->len) : -ENOTCONN;
        if (rc < 0)
            mome_fatal("cannot send %s to %s (%s): momed is gone or stuck; stopping",
                       mome_msg_name(m->type), srv_where ? srv_where : "momed", strerror(-rc));
        MOME_STAT_INC(msgs_sent);
        MOME_STAT_ADD(bytes_sent, sizeof(hdr) + m->len);
        return;
    }
    if (to == self) {
        qmsg_t *q = queue_copy(hdr, sizeof(hdr), m->payload, m->len);
        if (!q)
            mome_fatal("out of memory queueing a %s message to this node; stopping",
                       mome_msg_name(m->type));
        queue_append(&local, q);
        return;
    }
    rc = tx ? tx(to, hdr, sizeof(hdr), m->payload, m->len) : -ENOTCONN;
    if (rc < 0) {
        if (tx_fail)
            tx_fail(to, rc);
        mome_fatal("cannot send %s to node %d (%s); stopping", mome_msg_name(m->type), to,
                   strerror(-rc));
    }
    if (inject_kind && ++sent_remote > inject_after)
        send_bad(to, hdr, m);
    MOME_STAT_INC(msgs_sent);
    MOME_STAT_ADD(bytes_sent, sizeof(hdr) + m->len);
}

void mome_msg_close(void)
{
    closed = 1;
}

void mome_send(int to, int type, int flags, const void *body, const void *payload, uint32_t len)
{
    const mome_msg_def_t *d = mome_msg_def(type);
    mome_msg_t m = {.type = (uint8_t)type, .flags = (uint8_t)flags, .payload = payload, .len = len};

    if (closed)
        return;
    if (!d)
        mome_fatal("sending an unregistered message type %d", type);
    mome_wire_pack(&d->wire, body, &m);
    send_encoded(to, &m);
}

/*
 * A request travels at most 4 forwards per node and 8 more, or as many as the header's 16-bit hop
 * count holds: in a job of 16382 nodes or more the limit was past its top, hops wrapped to 0 and
 * a loop was never found.
 */
int mome_msg_forward(int to, const mome_msg_t *in)
{
    const mome_msg_def_t *d = mome_msg_def(in->type);
    uint64_t limit = 4ull * wctx.nnodes + 8;
    mome_msg_t m = *in;

    if (limit > UINT16_MAX - 1)
        limit = UINT16_MAX - 1;
    if (!d || m.hops > limit)
        return -ELOOP;
    m.hops++;
    mome_wire_pack(&d->wire, mome_msg_body(in), &m);
    send_encoded(to, &m);
    return 0;
}

/* ---- delivery ---- */

/*
 * The timer wakes a sleeping progress thread MOME_MSG_EMU_POLL_NS before the first held message is
 * due (a timer's wake-up is late by tens of microseconds on a virtual machine, more with the
 * default timer slack): from then on the thread polls (mome_msg_emu_wait_ns) and delivers the
 * message on time. A message due within that window is polled for at once, so the timer is left
 * alone: setting a timer costs a system call and, when it has expired already, an interrupt (on a
 * virtual machine, microseconds each, twice per page: the added cost of the emulation itself).
 * timer_at: the deadline the timer is set to (0: disarmed).
 */
static uint64_t timer_at;

static void arm_timer(void)
{
    struct itimerspec its = {{0, 0}, {0, 0}};
    uint64_t due = 0;
    if (delayed.head && delayed.head->due > MOME_MSG_EMU_POLL_NS &&
        delayed.head->due - MOME_MSG_EMU_POLL_NS > mome_now_ns())
        due = delayed.head->due - MOME_MSG_EMU_POLL_NS;
    if (due == timer_at)
        return;
    its.it_value.tv_sec = (time_t)(due / 1000000000ull);
    its.it_value.tv_nsec = (long)(due % 1000000000ull);
    if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        mome_fatal("cannot arm the emulated interconnect's timer: %m");
    timer_at = due;
}

static void (*flush_fn)(void);

void mome_msg_set_flush(void (*fn)(void))
{
    flush_fn = fn;
}

static void run(const mome_msg_t *m)
{
    const mome_msg_def_t *d = defs[m->type];
    /* Not while a handler waits for an answer (holds): what the flush serves may wait for one
     * itself, inside the first wait (a page-in served by a held forward took the page-out's
     * answer). */
    if (flush_fn && !d->batched && !holds)
        flush_fn();
    mome_trace("msg", "recv %s from %u (%u payload bytes, flags %#x)", d->wire.name, m->src, m->len,
               m->flags);
    if (d->handler)
        d->handler(m, mome_msg_body(m));
}

/*
 * Each channel carries its own types: momed's protocol (net/srvproto.h) comes on its socket, and
 * nothing else does. Taken from another node, a message of momed's (SRV_PAGE, SRV_RECALL, a reply)
 * would act as momed's word; a node's from momed, as that node's. A type this side registers only
 * to send it (momed's requests) has no handler here: one that came was dropped unseen. The local
 * queue carries this node's own messages and those held for after a wait, checked when they came.
 */
static const char *channel(int type, int from)
{
    int srv = type >= MOME_SRV_HELLO && type < MOME_SRV_END;
    if (!defs[type]->handler)
        return "type: one this node sends and never takes";
    if (from == MOME_MSG_SERVER && !srv)
        return "type: a node's, from momed";
    if (from == MOME_MSG_NODE && srv)
        return "type: momed's, from another node";
    return NULL;
}

/*
 * Decode and validate. Bytes that are not ours, or another job's, are refused with a warning and
 * change nothing. A message of this job that fails validation comes from a broken peer: acting
 * on it or dropping it could both lose data or hang the job, so the node stops the job, naming it
 * (unless fatal is 0: tests and fuzzers get the status). So does one from another node that names
 * this node as its source (from: MOME_MSG_*), which was taken for this node's own.
 */
static int decode(const void *hdr, size_t hl, const void *data, size_t len, mome_msg_t *m,
                  int fatal, int from)
{
    const char *why = "?";
    int rc = mome_wire_decode(hdr, hl, data, len, &wctx, wire_types, m, &why);
    if (rc == 0 && from == MOME_MSG_NODE && m->src == (uint32_t)self) {
        why = "src: this node's own, from another node";
        rc = -EBADMSG;
    }
    if (rc == 0 && (why = channel(m->type, from)))
        rc = -EBADMSG;
    if (rc == 0 && defs[m->type]->validate) {
        why = defs[m->type]->validate(m, mome_msg_body(m), &wctx);
        rc = why ? -EPROTO : 0;
    }
    if (rc == -ENOTSUP || rc == -EACCES) {
        static mome_ratelimit_t rl;
        mome_log_rl(&rl, MOME_LOG_WARN, "msg", "refused %zu bytes that are %s", hl + len,
                    rc == -EACCES ? "another job's message (wrong job key)"
                                  : "not a Mome message of this version");
    } else if (rc < 0 && fatal) {
        const uint8_t *h = hdr;
        uint32_t src =
            (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
        /* A batch's first entry names the segment and page concerned, when it can be read. */
        const mome_wire_type_t *t = h[2] < MOME_WIRE_NTYPES ? wire_types[h[2]] : NULL;
        const uint8_t *p = data;
        mome_entry_t e;
        char where[80] = "", who[32] = "momed";
        if (t && t->batch && p && len && mome_batch_read(t->batch, p, p + len, &e))
            snprintf(where, sizeof(where), " for segment %#llx page %llu",
                     (unsigned long long)e.seg, (unsigned long long)e.page);
        if (from != MOME_MSG_SERVER)
            snprintf(who, sizeof(who), "node %u", src);
        mome_fatal("a %s message from %s%s fails validation (%s: %s); its sender is broken and the "
                   "nodes could disagree: stopping",
                   mome_msg_name(h[2]), who, where, why,
                   rc == -EBADMSG ? "malformed" : "out of range");
    }
    return rc;
}

/*
 * One link into this node: a transfer occupies it for bytes / bandwidth after those before it
 * (back-to-back transfers queue, as on a wire), then reaches the node after the latency (transfers
 * in flight overlap it, as on a wire). Its due times never decrease; a jitter (jitter_due) may
 * place a message before others held, so the held queue is kept in order as they come in.
 */
/* How long the emulated link takes to carry `bytes` (0: unlimited bandwidth). */
static uint64_t emu_carry_ns(size_t bytes)
{
    return emu_bandwidth ? (uint64_t)((unsigned __int128)bytes * 1000000000u / emu_bandwidth) : 0;
}

uint64_t mome_msg_emu_due(uint64_t now, size_t bytes)
{
    uint64_t start = (now > link_free ? now : link_free) + emu_carry_ns(bytes);
    link_free = start;
    return start + emu_latency;
}

uint64_t mome_msg_emu_cost(size_t bytes)
{
    return emu_latency + emu_carry_ns(bytes);
}

/* A message from `src` due at `due` without jitter: a random time from 0 to the jitter later, and
 * not before the sender's previous one (xorshift64* draws the time). */
static uint64_t jitter_due(uint32_t src, uint64_t due)
{
    if (!emu_jitter || src >= wctx.nnodes) /* (decode refused a src out of range) */
        return due;
    jitter_rng ^= jitter_rng >> 12;
    jitter_rng ^= jitter_rng << 25;
    jitter_rng ^= jitter_rng >> 27;
    due += (jitter_rng * 0x2545f4914f6cdd1dull) % (emu_jitter + 1);
    if (due < jitter_last[src])
        due = jitter_last[src];
    return jitter_last[src] = due;
}

/* from: MOME_MSG_*; held: m comes off held_q, the queue of what waited for a handler's answer
 * (it runs now). */
static void deliver(const void *hdr, size_t hl, const void *data, size_t len, int from, int held)
{
    mome_msg_t m;
    int remote = from != MOME_MSG_LOCAL;

    if (closed)
        return;
    if (decode(hdr, hl, data, len, &m, 1, from) < 0)
        return;
    if (remote) {
        MOME_STAT_INC(msgs_received);
        MOME_STAT_ADD(bytes_received, hl + len);
    }
    int link = remote && timer_fd >= 0 &&
               (defs[m.type]->emulated == MOME_MSG_EMU_ALWAYS ||
                (defs[m.type]->emulated == MOME_MSG_EMU_PAYLOAD && m.len));
    if (link || (remote && emu_jitter)) {
        /* On the emulated link first, whether a handler waits or not (mome_msg_emu_run keeps it
         * for after that handler if it is still waiting when the transfer is due). */
        qmsg_t *q = queue_copy(hdr, hl, data, len);
        if (!q)
            mome_fatal("out of memory holding a message for the emulated interconnect; "
                       "stopping");
        mome_clock_merge(m.date);
        uint64_t now = mome_now_ns();
        q->due = jitter_due(m.src, link ? mome_msg_emu_due(now, hl + len) : now);
        queue_insert_due(&delayed, q);
        if (delayed.head == q)
            arm_timer();
        return;
    }
    if ((holds || (held_q.head && !held)) && !defs[m.type]->service) {
        /* A handler waits for an answer, or messages that came while one did have not run yet:
         * this one runs after them, in order. */
        qmsg_t *q = queue_copy(hdr, hl, data, len);
        if (!q)
            mome_fatal("out of memory keeping a %s message for later; stopping",
                       mome_msg_name(m.type));
        queue_append(&held_q, q);
        return;
    }
    mome_clock_merge(m.date);
    run(&m);
}

void mome_msg_deliver(const void *hdr, size_t hl, const void *data, size_t len, int from)
{
    deliver(hdr, hl, data, len, from, 0);
}

int mome_msg_sender(const void *hdr, size_t hl)
{
    return mome_wire_peek_src(hdr, hl, &wctx);
}

int mome_msg_deliver_flat(const void *buf, size_t len)
{
    mome_msg_t m;
    int rc;
    if (!buf || len < MOME_WIRE_HDR)
        return -EBADMSG;
    rc = decode(buf, MOME_WIRE_HDR, (const uint8_t *)buf + MOME_WIRE_HDR, len - MOME_WIRE_HDR, &m,
                0, MOME_MSG_LOCAL);
    if (rc == 0) {
        mome_clock_merge(m.date); /* as on delivery: what the handler sends is dated after it */
        run(&m);
    }
    if (flush_fn && !holds)
        flush_fn();
    return rc;
}

void mome_msg_hold(void)
{
    holds++;
}

/* The held messages run at the next mome_msg_progress after the last unhold: between two
 * handlers, never inside the one that waited. */
void mome_msg_unhold(void)
{
    holds--;
}

void mome_msg_set_poll(mome_msg_poll_t poll)
{
    poll_fn = poll;
}

int mome_msg_poll(void)
{
    return (poll_fn ? poll_fn(0) : 0) + mome_msg_progress() + mome_msg_emu_poll();
}

int mome_msg_wait(int timeout_ms)
{
    return (poll_fn ? poll_fn(timeout_ms) : 0) + mome_msg_progress() + mome_msg_emu_poll();
}

int mome_msg_progress(void)
{
    int n = 0;
    qmsg_t *q;

    /* A handler run here may hold again: what it holds joins the queue behind these. */
    while (!holds && (q = queue_pop(&held_q))) {
        deliver(q->buf, MOME_WIRE_HDR, q->buf + MOME_WIRE_HDR, q->len - MOME_WIRE_HDR,
                MOME_MSG_LOCAL, 1);
        free(q);
        n++;
    }
    while ((q = queue_pop(&local))) {
        mome_msg_deliver(q->buf, MOME_WIRE_HDR, q->buf + MOME_WIRE_HDR, q->len - MOME_WIRE_HDR,
                         MOME_MSG_LOCAL);
        free(q);
        n++;
    }
    if (flush_fn && !holds)
        flush_fn(); /* what the handlers of this round held back (it may queue more here) */
    return n;
}

int mome_msg_emu_run(uint64_t now)
{
    qmsg_t *q;
    int n = 0;

    while (delayed.head && delayed.head->due <= now) {
        mome_msg_t m;
        q = queue_pop(&delayed);
        /* Validated when it arrived; decoded again from the copy. */
        n++;
        if (mome_wire_decode(q->buf, MOME_WIRE_HDR, q->buf + MOME_WIRE_HDR, q->len - MOME_WIRE_HDR,
                             &wctx, wire_types, &m, NULL) == 0) {
            if ((holds || held_q.head) && !defs[m.type]->service) { /* after what waits */
                queue_append(&held_q, q);
                continue;
            }
            run(&m);
        }
        free(q);
    }
    if (n) {
        if (flush_fn && !holds)
            flush_fn(); /* as at the end of mome_msg_progress: held work never outlives a round */
        arm_timer();
    }
    return n;
}

int mome_msg_emu_poll(void)
{
    return delayed.head ? mome_msg_emu_run(mome_now_ns()) : 0;
}

int64_t mome_msg_emu_wait_ns(void)
{
    uint64_t now;
    if (!delayed.head)
        return -1;
    now = mome_now_ns();
    return delayed.head->due > now ? (int64_t)(delayed.head->due - now) : 0;
}

int mome_msg_timer_event(void)
{
    uint64_t v;
    if (read(timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        mome_fatal("cannot read the emulated interconnect's timer: %m");
    timer_at = 0; /* it fired: disarmed */
    return mome_msg_emu_poll();
}

int mome_msg_emulate(uint64_t latency_ns, uint64_t bandwidth, uint64_t jitter_ns)
{
    emu_latency = latency_ns;
    emu_bandwidth = bandwidth;
    link_free = 0;
    if (jitter_ns) {
        jitter_last = mome_calloc(wctx.nnodes ? wctx.nnodes : 1, sizeof(*jitter_last));
        if (!jitter_last)
            return -ENOMEM;
        emu_jitter = jitter_ns;
        jitter_rng = (mome_now_ns() ^ ((uint64_t)self + 1) * 0x9e3779b97f4a7c15ull) | 1;
    }
    if (!latency_ns && !bandwidth && !jitter_ns)
        return 0;
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return timer_fd < 0 ? -errno : 0;
}

int mome_msg_timer_fd(void)
{
    return timer_fd;
}

void mome_msg_fini(void)
{
    closed = 0;
    holds = 0;
    queue_free(&held_q);
    queue_free(&local);
    queue_free(&delayed);
    if (timer_fd >= 0)
        close(timer_fd);
    timer_fd = -1;
    emu_latency = emu_bandwidth = link_free = timer_at = emu_jitter = 0;
    free(jitter_last);
    jitter_last = NULL;
    send_hook = NULL;
}
