/*
 * msgtest.c - see msgtest.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "coherence/model.h"
#include "msgtest.h"

static msgtest_sent_t sent[MSGTEST_MAX];
static int nsent, me;
static mome_wire_ctx_t ctx;

static void record(int to, const mome_msg_t *m)
{
    if (nsent == MSGTEST_MAX) {
        fprintf(stderr, "msgtest: more than %d messages recorded\n", MSGTEST_MAX);
        abort();
    }
    sent[nsent].to = to;
    sent[nsent].m = *m;
    sent[nsent].payload = NULL;
    if (m->len) {
        sent[nsent].payload = malloc(m->len);
        memcpy(sent[nsent].payload, m->payload, m->len);
    }
    sent[nsent].m.payload = sent[nsent].payload;
    nsent++;
}

void msgtest_reset(void)
{
    for (int i = 0; i < nsent; i++)
        free(sent[i].payload);
    nsent = 0;
}

void msgtest_setup(int nnodes, int self, size_t page_size)
{
    me = self;
    ctx = (mome_wire_ctx_t){.nnodes = (uint32_t)nnodes, .page_size = (uint32_t)page_size,
                            .models = mome_model_mask()};
    mome_msg_setup(self, &ctx);
    mome_msg_set_send_hook(record);
    msgtest_reset();
}

void msgtest_teardown(void)
{
    msgtest_reset();
    mome_msg_fini();
    mome_msg_unregister_all();
}

int msgtest_count(void)
{
    return nsent;
}

const msgtest_sent_t *msgtest_at(int i)
{
    return i >= 0 && i < nsent ? &sent[i] : NULL;
}

int msgtest_count_of(int type, int to)
{
    int n = 0;
    for (int i = 0; i < nsent; i++)
        n += sent[i].m.type == type && (to < 0 || sent[i].to == to);
    return n;
}

const mome_msg_t *msgtest_find(int type, int to)
{
    const mome_msg_t *found = NULL;
    for (int i = 0; i < nsent; i++) {
        if (sent[i].m.type != type || (to >= 0 && sent[i].to != to))
            continue;
        if (found) {
            fprintf(stderr, "msgtest: more than one %s to %d\n", mome_msg_name(type), to);
            abort();
        }
        found = &sent[i].m;
    }
    return found;
}

/*
 * The date a peer would give a message: after this node's clock, and after every date the message
 * reports (its body's date fields, its barrier notice entries' dates), since the sender ticks its
 * clock at the send, after what it reports (net/wire.h).
 */
uint64_t msgtest_peer_date(int type, const void *body, const void *payload, uint32_t len)
{
    const mome_msg_def_t *d = mome_msg_def(type);
    uint64_t date = mome_clock_now() + 1;
    for (int i = 0; d && body && i < d->wire.nfields; i++) {
        const mome_field_t *f = &d->wire.fields[i];
        uint64_t v = 0;
        if (f->kind != MOME_FK_MAX || f->arg != MOME_WIRE_DATE_MAX)
            continue;
        memcpy(&v, (const char *)body + f->off, f->size); /* (little endian: 4 bytes too) */
        if (v + 1 > date)
            date = v + 1;
    }
    if (d && d->wire.batch == MOME_BATCH_BNOTICE) {
        mome_msg_t m = {.payload = payload, .len = len};
        mome_entry_t e;
        MOME_BATCH_FOREACH(MOME_BATCH_BNOTICE, &m, e)
        {
            if (e.date + 1 > date)
                date = e.date + 1;
        }
    }
    return date;
}

static uint64_t next_date; /* msgtest_date_next's date for the next message, or 0 */

/* Deliver as node src would send it, with its forward count (a looped message keeps it, so the
 * library's bound on forwards applies). */
static int deliver(int type, int flags, int src, unsigned hops, const void *body,
                   const void *payload, uint32_t len, int flat)
{
    const mome_msg_def_t *d = mome_msg_def(type);
    mome_msg_t m = {.type = (uint8_t)type,
                    .flags = (uint8_t)flags,
                    .src = (uint32_t)src,
                    .hops = (uint16_t)hops,
                    .key = ctx.key,
                    .len = len,
                    .payload = payload};
    uint8_t *buf = malloc(MOME_WIRE_HDR + len);
    int rc;

    if (!d) {
        fprintf(stderr, "msgtest: type %d is not registered\n", type);
        abort();
    }
    m.date = next_date ? next_date : msgtest_peer_date(type, body, payload, len);
    next_date = 0;
    mome_wire_pack(&d->wire, body, &m);
    mome_wire_encode(&m, buf);
    if (len)
        memcpy(buf + MOME_WIRE_HDR, payload, len);
    if (flat) {
        rc = mome_msg_deliver_flat(buf, MOME_WIRE_HDR + len);
    } else {
        mome_msg_deliver(buf, MOME_WIRE_HDR, buf + MOME_WIRE_HDR, len, MOME_MSG_LOCAL);
        rc = 0;
    }
    free(buf);
    return rc;
}

int msgtest_deliver(int type, int flags, int src, const void *body, const void *payload,
                    uint32_t len)
{
    return deliver(type, flags, src, 0, body, payload, len, 1);
}

int msgtest_deliver_forwarded(int type, int flags, int src, unsigned hops, const void *body,
                              const void *payload, uint32_t len)
{
    return deliver(type, flags, src, hops, body, payload, len, 1);
}

void msgtest_date_next(uint64_t date)
{
    next_date = date;
}

void msgtest_deliver_in_round(int type, int flags, int src, const void *body, const void *payload,
                              uint32_t len)
{
    deliver(type, flags, src, 0, body, payload, len, 0);
}

int msgtest_loop_self(void)
{
    int n = 0;
    for (int i = 0; i < nsent;) {
        if (sent[i].to != me) {
            i++;
            continue;
        }
        msgtest_sent_t s = sent[i];
        memmove(&sent[i], &sent[i + 1], (size_t)(nsent - i - 1) * sizeof(sent[0]));
        nsent--;
        deliver(s.m.type, s.m.flags, me, s.m.hops, mome_msg_body(&s.m), s.payload, s.m.len, 1);
        free(s.payload);
        n++;
        i = 0; /* what it sent may be addressed here too */
    }
    return n;
}
