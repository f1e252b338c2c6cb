/*
 * fuzz_node.c - fuzz target: one node's message handlers, every layer's, fed decoded messages and
 * faults over the fake memory (tests/common/testnode.h). The node must never crash, read out of
 * bounds, leak or hang; stopping the job (mome_die) on an inconsistent message is allowed and
 * rejects the input.
 *
 * Each input runs on a fresh node (4 nodes, this one chosen by the first byte, segments 1..3 of
 * 4, 9 and 2 pages, some pages held first), so that any input found replays alone. Then the bytes
 * are a program of operations: a message (type, flags, sender, body fields, payload: biased
 * towards the segments, pages and nodes that exist), a fault, a release, acquire, MomeSyncMem or
 * model switch, or delivering what the node sent to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "coherence/proto.h"
#include "coherence/release.h"
#include "coherence/requester.h"
#include "core/proto.h"
#include "fake_memory.h"
#include "fuzz.h"
#include "mome.h"
#include "testnode.h"

#define NNODES 4
#define NSEGS 3
#define PAGE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t seg_ids[NSEGS] = {1, 2, 3};
static const uint64_t seg_pages[NSEGS] = {4, 9, 2};
static mome_seg_t *segs[NSEGS];
static int self;
static int types[MOME_WIRE_NTYPES], ntypes;
static uint8_t payload[3 * (PAGE + 64)];

static void find_roles(const mome_msg_def_t *d);

/* Every registered type, once. */
static void init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    if (testnode_up(NNODES, 1, 1) < 0)
        abort();
    for (int t = 1; t < MOME_WIRE_NTYPES; t++)
        if (mome_msg_def(t)) {
            types[ntypes++] = t;
            find_roles(mome_msg_def(t));
        }
    testnode_down();
}

/* Give this node a page as its manager would: fault on it, answer the request (the directory
 * here when this node manages the page, else a GRANT from the manager). */
static void hold(int si, uint64_t page, int write, uint32_t rights)
{
    mome_seg_t *s = segs[si];
    msgtest_reset();
    mome_req_fault(testnode_addr(s, page), write, 0);
    for (int i = 0; i < msgtest_count(); i++) {
        const msgtest_sent_t *r = msgtest_at(i);
        const mome_req_t *q = mome_msg_body(&r->m);
        if ((r->m.type != MOME_MSG_READ_REQ && r->m.type != MOME_MSG_WRITE_REQ) ||
            q->page != page || r->to == self)
            continue;
        mome_grant_t g = {.seg = s->id, .page = page, .mgr = (uint32_t)r->to,
                          .owner = (rights & MOME_RIGHT_TWIN) ? (uint32_t)(self + 1) % NNODES
                                                              : (uint32_t)r->to,
                          .rights = rights};
        msgtest_deliver(MOME_MSG_GRANT, 0, r->to, &g, NULL, 0);
        break;
    }
    msgtest_loop_self();
    msgtest_reset();
}

static void setup(uint8_t how)
{
    self = how & 3;
    if (testnode_up(NNODES, self, (how >> 2) & 1) < 0)
        abort();
    fuzz_quiet_logs();
    for (int i = 0; i < NSEGS; i++)
        if (!(segs[i] = testnode_segment(seg_ids[i], seg_pages[i])))
            abort();
    if (how & 8)
        return; /* nothing held */
    hold(0, 0, 1, MOME_RIGHT_RW);                                        /* exclusive writer */
    hold(0, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER | MOME_RIGHT_SHARED); /* multi-writer owner */
    hold(0, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN);                      /* twinning writer */
    hold(1, 8, 0, 0);                                                    /* a read copy */
    hold(2, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);                     /* sole owner */
}

static uint64_t pick_seg(fuzz_in_t *in)
{
    uint8_t b = fuzz_u8(in);
    if (b < 0xf0)
        return seg_ids[b % NSEGS];
    return b == 0xff ? fuzz_u64(in) : (b & 1 ? MOME_HEAP_SEG_ID : 4); /* unknown segments */
}

static uint64_t pick_page(fuzz_in_t *in)
{
    uint8_t b = fuzz_u8(in);
    return b == 0xff ? fuzz_u64(in) : b % 10u; /* 9 and up: beyond some segments */
}

/* What a body field names, found once from its name (not per message: the fuzzer would spend its
 * effort on matching the names). */
enum { ROLE_OTHER, ROLE_SEG, ROLE_PAGE, ROLE_SIZE, ROLE_MODEL };
static uint8_t roles[MOME_WIRE_NTYPES][MOME_WIRE_BODY / 4];

static void find_roles(const mome_msg_def_t *d)
{
    for (int i = 0; i < d->wire.nfields && i < MOME_WIRE_BODY / 4; i++) {
        const char *n = d->wire.fields[i].name;
        int seg_msg = d->type >= MOME_MSG_SEG_OPEN && d->type <= MOME_MSG_SEG_DESTROY;
        roles[d->type][i] = !strcmp(n, "seg") || (seg_msg && !strcmp(n, "id")) ? ROLE_SEG
                            : !strcmp(n, "page")                                  ? ROLE_PAGE
                            : !strcmp(n, "size")                                  ? ROLE_SIZE
                            : !strcmp(n, "model")                                 ? ROLE_MODEL
                                                                                  : ROLE_OTHER;
    }
}

/* A field's value: mostly one the decoder accepts and that names what exists. */
static uint64_t pick_field(fuzz_in_t *in, const mome_field_t *f, int role)
{
    uint8_t b;

    if (role == ROLE_SEG)
        return pick_seg(in);
    if (role == ROLE_PAGE)
        return pick_page(in);
    b = fuzz_u8(in);
    if (b == 0xff)
        return fuzz_u64(in) & (f->size == 4 ? UINT32_MAX : UINT64_MAX);
    switch (f->kind) {
    case MOME_FK_NODE: return b % NNODES;
    case MOME_FK_NODE_NONE: return b % (NNODES + 1) == NNODES ? MOME_NODE_NONE : b % NNODES;
    case MOME_FK_MODEL: return MOME_STRONG + b % 3;
    case MOME_FK_MASK: return b & f->arg;
    case MOME_FK_NCOUNT: return b % NNODES;
    case MOME_FK_ERRNO: return (b & 0x80) ? (uint32_t)-(int32_t)(b & 0x3f) : 0;
    default:
        if (role == ROLE_SIZE)
            return (uint64_t)(b % 8) * PAGE;
        if (role == ROLE_MODEL)
            return b % 5;
        return b % 16; /* versions, dates, tokens, counts, lock ids: small */
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A page's content: a byte pattern with a few bytes changed. */
static void fill_page(fuzz_in_t *in, uint8_t *p)
{
    memset(p, fuzz_u8(in), PAGE);
    for (int n = fuzz_u8(in) % 4; n > 0; n--) {
        uint16_t at = (uint16_t)(fuzz_u8(in) | fuzz_u8(in) << 8) % PAGE;
        p[at] = fuzz_u8(in);
    }
}

/* Diff data: the whole XOR page, or runs (valid mostly); returns its length, sets *flags. */
static uint32_t make_diff(fuzz_in_t *in, uint8_t *out, uint32_t *flags)
{
    uint8_t how = fuzz_u8(in);
    uint32_t len = 0, off = 0;
    if (how % 4 == 0) {
        fill_page(in, out);
        *flags = MOME_DIFF_ENTRY_FULL;
        return PAGE;
    }
    *flags = 0;
    for (int n = 1 + how % 3; n > 0; n--) {
        uint32_t run = 1 + fuzz_u8(in) % 24;
        off += (uint32_t)fuzz_u8(in) * 8;
        if (how & 0x80)
            off = (uint32_t)fuzz_u8(in) << 5; /* anywhere: possibly malformed */
        put32(out + len, off);
        put32(out + len + 4, run);
        fuzz_bytes(in, out + len + 8, run);
        len += 8 + run;
        off += run;
    }
    return len;
}

/* The payload a type takes: a page, a batch of entries about existing pages, copysets, a name. */
static uint32_t make_payload(fuzz_in_t *in, const mome_msg_def_t *d, int flags)
{
    const mome_wire_type_t *w = &d->wire;
    uint8_t b = fuzz_u8(in);
    uint32_t len = 0;

    if (b == 0xff) { /* anything: the validators' turn */
        len = fuzz_u8(in);
        fuzz_bytes(in, payload, len);
        return len;
    }
    if (w->batch) {
        for (int n = 1 + b % 4; n > 0; n--) {
            uint64_t seg = pick_seg(in), page = pick_page(in), ver = fuzz_u8(in) % 8;
            uint8_t *p = payload + len;
            uint32_t dlen = 0, dflags = 0;
            put64(p, seg);
            put64(p + 8, page);
            switch (w->batch) {
            case MOME_BATCH_NOTICE:
                put64(p + 16, ver);
                len += MOME_BATCH_NOTICE_SIZE;
                continue;
            case MOME_BATCH_DIFF: dlen = make_diff(in, p + MOME_BATCH_DIFF_HDR, &dflags); break;
            default:
                fill_page(in, p + MOME_BATCH_PUSH_HDR);
                put64(p + 24, ver);
                dlen = PAGE;
                break;
            }
            put32(p + 16, dlen);
            put32(p + 20, dflags);
            size_t hdr = w->batch == MOME_BATCH_DIFF ? MOME_BATCH_DIFF_HDR : MOME_BATCH_PUSH_HDR;
            size_t padded = ((size_t)dlen + 7) & ~(size_t)7;
            memset(p + hdr + dlen, 0, padded - dlen);
            len += (uint32_t)(hdr + padded);
            if (len > sizeof(payload) - (PAGE + 64))
                break;
        }
        return len;
    }
    if (w->max_len == MOME_LEN_PAGE) {
        fill_page(in, payload);
        return PAGE;
    }
    if (d->type == MOME_MSG_DIR_MOVE) { /* the copysets, of one word each (4 nodes) */
        for (int k = 0; k < MOME_DIR_MOVE_SETS; k++)
            put64(payload + 8 * k, fuzz_u8(in) & 0xf);
        return 8 * MOME_DIR_MOVE_SETS;
    }
    if (w->min_len == 1) { /* a segment name */
        len = 1 + b % 4;
        for (uint32_t i = 0; i < len; i++)
            payload[i] = (uint8_t)('a' + fuzz_u8(in) % 3);
        return len;
    }
    return 0;
}

/*
 * Delivery as msgtest_deliver and msgtest_loop_self do it, but from buffers that live across
 * inputs: when a message stops the node, the jump back to the target leaves nothing allocated
 * behind (the leak checker would blame the harness otherwise).
 */
static uint8_t *wire_buf, *self_buf;
static size_t wire_cap, self_cap;

static uint8_t *room(uint8_t **buf, size_t *cap, size_t need)
{
    if (need > *cap) {
        uint8_t *nb = realloc(*buf, need);
        if (!nb)
            abort();
        *buf = nb;
        *cap = need;
    }
    return *buf;
}

/* Dated as an honest peer dates a message: after this node's clock and every date it reports (a
 * later date than the header's is refused before any handler: test_wire covers that). */
static void deliver(int type, int flags, int src, int hops, const void *body, const void *data,
                    uint32_t len)
{
    const mome_msg_def_t *d = mome_msg_def(type);
    mome_msg_t m = {.type = (uint8_t)type,
                    .flags = (uint8_t)flags,
                    .src = (uint32_t)src,
                    .hops = (uint16_t)hops,
                    .date = msgtest_peer_date(type, body, data, len),
                    .key = 0,
                    .len = len,
                    .payload = data};
    uint8_t *buf = room(&wire_buf, &wire_cap, MOME_WIRE_HDR + (size_t)len);

    mome_wire_pack(&d->wire, body, &m);
    mome_wire_encode(&m, buf);
    if (len)
        memcpy(buf + MOME_WIRE_HDR, data, len);
    mome_msg_deliver_flat(buf, MOME_WIRE_HDR + (size_t)len);
}

/* Deliver what the node sent itself, in order, until it sends itself nothing more (bounded: a
 * node that keeps talking to itself is a hang, reported as such). */
#define SELF_MAX 4096
static struct selfmsg {
    int type, flags, hops; /* hops: a forwarded request keeps its count (msg.c bounds it) */
    uint32_t len;
    size_t at;
    uint8_t body[MOME_WIRE_BODY];
} selfq[SELF_MAX];

static void loop_self(void)
{
    size_t used = 0;
    int head = 0, tail = 0;

    do {
        for (int i = 0; i < msgtest_count(); i++) {
            const msgtest_sent_t *r = msgtest_at(i);
            if (r->to != self)
                continue;
            if (tail == SELF_MAX) {
                fprintf(stderr, "fuzz_node: the node keeps sending messages to itself\n");
                abort();
            }
            struct selfmsg *q = &selfq[tail++];
            q->type = r->m.type;
            q->flags = r->m.flags;
            q->hops = r->m.hops;
            q->len = r->m.len;
            q->at = used;
            memcpy(q->body, mome_msg_body(&r->m), MOME_WIRE_BODY);
            room(&self_buf, &self_cap, used + r->m.len + 1);
            if (r->m.len)
                memcpy(self_buf + used, r->m.payload, r->m.len);
            used += r->m.len;
        }
        msgtest_reset();
        if (head < tail) {
            struct selfmsg *q = &selfq[head++];
            deliver(q->type, q->flags, self, q->hops, q->body, q->len ? self_buf + q->at : NULL,
                    q->len);
        }
    } while (head < tail || msgtest_count());
}

/*
 * Findings not fixed yet (their inputs are in crashes/node/, which replay_node runs: make check
 * fails on them until they are fixed). The libFuzzer build (fuzz.mk: -DFUZZ_SKIP_KNOWN) does not
 * deliver the messages that show them, so that a long run goes on to find something else; the
 * replay delivers everything. Remove an entry once its bug is fixed.
 *
 * None now (coherence/pageout.c's on_answer, crashes/node/segv-pageout-answer-unexpected, is
 * fixed); an entry tests the message's type and body fields, under #ifdef FUZZ_SKIP_KNOWN.
 */
static int known_finding(int type, const uint8_t *body)
{
    (void)type;
    (void)body;
    return 0;
}

static void message(fuzz_in_t *in)
{
    const mome_msg_def_t *d = mome_msg_def(types[fuzz_u8(in) % ntypes]);
    uint8_t body[MOME_WIRE_BODY] = {0};
    int flags = fuzz_u8(in) & d->wire.flags_mask;
    int src = fuzz_u8(in) % NNODES;

    for (int i = 0; i < d->wire.nfields; i++) {
        const mome_field_t *f = &d->wire.fields[i];
        uint64_t v = pick_field(in, f, roles[d->type][i]);
        if (f->size == 8) {
            memcpy(body + f->off, &v, 8);
        } else {
            uint32_t v32 = (uint32_t)v;
            memcpy(body + f->off, &v32, 4);
        }
    }
    uint32_t len = make_payload(in, d, flags);
    if (known_finding(d->type, body))
        return;
    deliver(d->type, flags, src, 0, body, len ? payload : NULL, len);
}

/* LeakSanitizer, where the target is built with it: a synchronisation operation still waiting for
 * replies when the input ends is freed by nobody (the node is torn down under it), so its record
 * is not reported; everything it makes afterwards still is. */
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_LSAN 1
#endif
#endif
#ifdef FUZZ_LSAN
#include <sanitizer/lsan_interface.h>
#define lsan_off() __lsan_disable()
#define lsan_on() __lsan_enable()
#else
#define lsan_off() ((void)0)
#define lsan_on() ((void)0)
#endif

static void sync_done(void *arg, mome_date_t date)
{
}

/* What the synchronisation calls ask of the coherence layer: a release (this node's writes go to
 * the owners as diffs and notices), an acquire at a date, MomeSyncMem or MomeConsistency over a
 * range of a segment's pages. */
static void sync_op(fuzz_in_t *in)
{
    uint8_t b = fuzz_u8(in), r = fuzz_u8(in);
    int si = r % NSEGS;
    uint64_t first = (r >> 2) % seg_pages[si], n = 1 + (r >> 5) % (seg_pages[si] - first);
    char *a = testnode_addr(segs[si], first), *end = a + n * PAGE;

    lsan_off();
    switch (b % 4) {
    case 0: mome_rel_release(sync_done, NULL); break;
    case 1: mome_rel_acquire(mome_clock_now() + (b >> 2) % 4, sync_done, NULL); break;
    case 2: mome_rel_sync(a, end, mome_clock_now(), sync_done, NULL); break;
    default: mome_rel_switch(a, end, MOME_STRONG + (b >> 2) % 3, sync_done, NULL); break;
    }
    lsan_on();
}

static void fault(fuzz_in_t *in)
{
    uint8_t b = fuzz_u8(in);
    int si = b % NSEGS;
    uint64_t page = fuzz_u8(in) % seg_pages[si];
    char *addr = testnode_addr(segs[si], page);
    mome_req_fault(addr, (b >> 7) & 1, 0);
    /* A write fault is a thread writing: once the page is writable, the write lands (a byte the
     * fault's own input byte picks, so that the corpus's inputs keep their meaning), and the next
     * release has a diff to send (without it send_diff's diffs, and what a MomeSyncMem in flight
     * does with them, were out of the fuzzer's reach). */
    if ((b >> 7) && fake_memory_state(addr) == FAKE_MAPPED_RW)
        mome_seg_bytes(segs[si], page)[(b & 0x7f) * 31 % PAGE] ^= (uint8_t)(1 + (b & 0x3f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size, 0};
    int ops = 0;

    init();
    setup(fuzz_u8(&in));
    if (setjmp(fuzz_die_env)) {
        testnode_down();
        return -1; /* the node stopped the job: input rejected */
    }
    fuzz_die_armed = 1;
    while (fuzz_left(&in) && ops++ < 256) {
        uint8_t op = fuzz_u8(&in);
        if (msgtest_count() > 64) /* the recording aborts at MSGTEST_MAX */
            msgtest_reset();
        switch (op % 16) {
        case 10:
        case 11: fault(&in); break;
        case 12: loop_self(); break;
        case 13: msgtest_reset(); break;
        case 14:
            fault(&in);
            loop_self();
            break;
        case 15: sync_op(&in); break;
        default: message(&in); break;
        }
    }
    fuzz_die_armed = 0;
    testnode_down();
    return 0;
}
