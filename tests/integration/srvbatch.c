/*
 * srvbatch.c - speaks momed's protocol by hand (net/srvproto.h) to check SRV_PUTV, the batch of
 * pages a node gives back: a well-formed batch is taken whole (another connection then reads its
 * pages), and each malformed one is refused whole, ending that connection, momed going on.
 *
 *   srvbatch HOST PORT good|notheld|twice|count|empty|version|length|huge|late|nokey
 *   (momed's key in MOME_SERVER_KEY, as a job would give it)
 *   srvbatch HOST PORT gone MOMED_PID
 *
 * Each case uses fresh connections (a job of 1 node, its own key) on segment "srvbatch" (8 pages
 * of 4096 bytes). Exit 0: momed did what the case expects as far as this side sees (good: the
 * pages read back; a bad case: momed closed the connection, and a new connection is still served,
 * its page intact). momed's log, checked by momed_fail.test, says why it refused.
 *
 * gone: a connection waiting for a page is reset (its node killed) while the page comes back from
 * its holder, both seen by momed in one round (momed is stopped meanwhile, SIGSTOP): momed fails
 * to hand the page to the connection gone, and must still serve it to the next job that asks.
 * lost: in one such round a job loses a node and another of its nodes gives a page back changed:
 * the change is reverted before the page goes to the job waiting for it. date: a message dated
 * near 2^64 is refused. crowd: momed out of descriptors says so once, and serves jobs after.
 * latecomer: a node of a job momed cut off (it lost a node) is refused when it attaches later.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/srvproto.h"
#include "net/wire.h"

#define PS 4096u
#define NPAGES 8

typedef struct conn {
    int fd;
    uint32_t node;
    uint64_t key, date, seg;
    mome_wire_ctx_t ctx;
} conn_t;

static int fail(const char *what)
{
    fprintf(stderr, "srvbatch: FAILED: %s\n", what);
    exit(1);
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

static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai))
        fail("cannot resolve momed's address");
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), one = 1;
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        fail("cannot connect to momed");
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            fail("cannot write to momed");
        b += w;
        n -= (size_t)w;
    }
}

/* Send a message of type with body and payload, dated by this connection's clock. */
static void send_msg(conn_t *c, int type, const void *body, const void *payload, uint32_t len)
{
    mome_msg_t m = {
        .type = (uint8_t)type, .src = c->node, .key = c->key, .len = len, .payload = payload};
    uint8_t hdr[MOME_WIRE_HDR];
    m.date = ++c->date;
    mome_wire_pack(mome_srv_types[type], body, &m);
    mome_wire_encode(&m, hdr);
    write_all(c->fd, hdr, sizeof(hdr));
    if (len)
        write_all(c->fd, payload, len);
}

/* Read one message (-1: the connection ended, or nothing came in 30 s). */
static int recv_msg(conn_t *c, mome_msg_t *m, uint8_t *buf, size_t cap)
{
    size_t got = 0, want = MOME_WIRE_HDR;
    while (got < want) {
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, 30000) <= 0)
            return -1;
        ssize_t r = recv(c->fd, buf + got, want - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        if (got == MOME_WIRE_HDR) {
            uint32_t len = (uint32_t)buf[12] | (uint32_t)buf[13] << 8 | (uint32_t)buf[14] << 16 |
                           (uint32_t)buf[15] << 24;
            if (MOME_WIRE_HDR + (size_t)len > cap)
                fail("momed sent a message larger than any it sends");
            want = MOME_WIRE_HDR + len;
        }
    }
    const char *why = "?";
    if (mome_wire_decode(buf, MOME_WIRE_HDR, buf + MOME_WIRE_HDR, want - MOME_WIRE_HDR, &c->ctx,
                         mome_srv_types, m, &why) < 0) {
        fprintf(stderr, "srvbatch: momed's message fails validation (%s)\n", why);
        exit(1);
    }
    return 0;
}

static uint8_t rbuf[MOME_WIRE_HDR + PS + MOME_SRV_WHY_MAX];

/* Node `node` of a job of `nnodes` (its key) attaches and opens segment srvbatch. */
/* momed's key, as a job gives it: MOME_SERVER_KEY (the test reads it from momed.addr). */
static uint64_t momed_key(void)
{
    const char *k = getenv("MOME_SERVER_KEY");
    return k ? strtoull(k, NULL, 16) : 0;
}

static void attach_node(conn_t *c, const char *host, const char *port, uint64_t key, uint32_t node,
                        uint32_t nnodes)
{
    mome_msg_t m;
    memset(c, 0, sizeof(*c));
    c->fd = dial(host, port);
    c->key = key;
    c->node = node;
    c->ctx = (mome_wire_ctx_t){.nnodes = nnodes, .page_size = PS, .key = key, .models = 0xe};
    mome_srvhello_t h = {.server = momed_key(),
                         .node = node,
                         .nnodes = nnodes,
                         .page_size = PS,
                         .pid = (uint32_t)getpid()};
    send_msg(c, MOME_SRV_HELLO, &h, NULL, 0);
    if (recv_msg(c, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_HELLO_OK)
        fail("no SRV_HELLO_OK");
    mome_srvopen_t o = {.size = (uint64_t)NPAGES * PS, .token = 7, .flags = MOME_SRVO_CREATE};
    send_msg(c, MOME_SRV_OPEN, &o, "srvbatch", 8);
    if (recv_msg(c, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_OPEN_REPLY)
        fail("no SRV_OPEN_REPLY");
    const mome_srvopen_t *r = mome_msg_body(&m);
    if (r->status < 0)
        fail("momed refused to open segment srvbatch");
    c->seg = r->id;
}

static void attach(conn_t *c, const char *host, const char *port, uint64_t key)
{
    attach_node(c, host, port, key, 0, 1);
}

/* Get page p (no other job holds it): its content to out. */
static void get(conn_t *c, uint64_t p, uint8_t *out)
{
    mome_msg_t m;
    mome_srvpage_t g = {.seg = c->seg, .page = p};
    send_msg(c, MOME_SRV_GET, &g, NULL, 0);
    if (recv_msg(c, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_PAGE || m.len != PS)
        fail("no SRV_PAGE for a page nobody holds");
    if (out)
        memcpy(out, m.payload, PS);
}

/* One push entry {seg, page, len, flags, version, bytes} at b; returns its size. */
static size_t entry(uint8_t *b, uint64_t seg, uint64_t page, uint32_t len, uint64_t ver, int fill)
{
    put64(b, seg);
    put64(b + 8, page);
    put32(b + 16, len);
    put32(b + 20, 0);
    put64(b + 24, ver);
    memset(b + MOME_BATCH_PUSH_HDR, fill, len);
    return MOME_BATCH_PUSH_HDR + ((len + 7u) & ~7u);
}

/* momed ends the connection: a read gets the end (nothing is sent to a refused connection). */
static void expect_closed(conn_t *c, const char *what)
{
    mome_msg_t m;
    if (recv_msg(c, &m, rbuf, sizeof(rbuf)) == 0) {
        fprintf(stderr, "srvbatch: FAILED: %s: momed answered a %s\n", what,
                mome_srv_types[m.type]->name);
        exit(1);
    }
    close(c->fd);
}

/* Until process pid is stopped (state T in /proc/PID/stat): SIGSTOP takes effect asynchronously. */
static void until_stopped(pid_t pid)
{
    char path[64], st[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 3000000; i++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(st, 1, sizeof(st) - 1, f) : 0;
        if (f)
            fclose(f);
        st[n] = 0;
        const char *e = strrchr(st, ')');
        if (!e)
            fail("cannot read momed's state in /proc");
        if (e[1] == ' ' && (e[2] == 'T' || e[2] == 't'))
            return;
        sched_yield();
    }
    fail("momed did not stop after SIGSTOP");
}

/* holder holds page pg and waiter (another job) has asked for it. In one round of momed's
 * (stopped meanwhile), `reset`'s connection is reset (its node killed) and holder gives the page
 * back filled with `fill`. */
static int port_of(int fd, int (*name)(int, struct sockaddr *, socklen_t *))
{
    struct sockaddr_storage a;
    socklen_t n = sizeof(a);
    if (name(fd, (struct sockaddr *)&a, &n) < 0)
        fail("getsockname/getpeername");
    return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
                                         : ((struct sockaddr_in *)&a)->sin_port);
}

/* Does momed's end of the connection from port peer (to momed_port) still exist (not yet reset)? */
static int still_open(int momed_port, int peer)
{
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    char line[512];
    int found = 0;
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        while (f && !found && fgets(line, sizeof(line), f)) {
            unsigned lp, rp;
            if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x", &lp, &rp) == 2)
                found = (int)lp == momed_port && (int)rp == peer;
        }
        if (f)
            fclose(f);
    }
    return found;
}

/* Wait (20 s at most) until everything sent on fd is acknowledged, so in momed's receive queue,
 * and momed's end of the reset connection is gone. */
static void until_delivered(int fd, int momed_port, int reset_port)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int unacked = 0;
        if (ioctl(fd, SIOCOUTQ, &unacked) < 0)
            fail("ioctl SIOCOUTQ");
        if (!unacked && !still_open(momed_port, reset_port))
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20)
            fail("the page given back and the reset not delivered to momed in 20 s");
        poll(NULL, 0, 1);
    }
}

static void reset_and_put(pid_t momed, conn_t *holder, conn_t *waiter, conn_t *reset, uint64_t pg,
                          int fill)
{
    mome_msg_t m;
    uint8_t page[PS];
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    mome_srvpage_t g = {.seg = waiter->seg, .page = pg};

    send_msg(waiter, MOME_SRV_GET, &g, NULL, 0);
    /* momed recalls the page once it has the waiter's request: the waiter is queued. */
    if (recv_msg(holder, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_RECALL)
        fail("no SRV_RECALL of the page after another job asked for it");
    if (kill(momed, SIGSTOP) < 0)
        fail("cannot stop momed");
    until_stopped(momed);
    int momed_port = port_of(reset->fd, getpeername), reset_port = port_of(reset->fd, getsockname);
    if (setsockopt(reset->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
        fail("setsockopt SO_LINGER");
    close(reset->fd);
    memset(page, fill, PS);
    send_msg(holder, MOME_SRV_PUT, &g, page, PS);
    /* Both in momed's socket queues before it goes on: a loaded machine may deliver loopback
     * packets later, from a softirq thread, and the two would then reach different rounds. */
    until_delivered(holder->fd, momed_port, reset_port);
    if (kill(momed, SIGCONT) < 0)
        fail("cannot continue momed");
}

/* The case gone (see the top): page 6 goes to a, b asks for it, b is reset and a gives the page
 * back in the same round of momed's, and a third job c must then get it, as a gave it back. */
static int gone(const char *host, const char *port, pid_t momed)
{
    conn_t a, b, c;
    uint8_t page[PS];

    attach(&a, host, port, 0x5eb0000000000004ull + (uint64_t)getpid());
    get(&a, 6, NULL);
    attach(&b, host, port, 0x5eb0000000000005ull + (uint64_t)getpid());
    reset_and_put(momed, &a, &b, &b, 6, 0x66);
    attach(&c, host, port, 0x5eb0000000000006ull + (uint64_t)getpid());
    get(&c, 6, page);
    if (page[0] != 0x66 || page[PS - 1] != 0x66)
        fail("page 6 does not hold what its holder gave back");
    printf("srvbatch: case gone: the page a reset connection waited for went to the next job\n");
    return 0;
}

/* The case lost: job a of 2 nodes; its node 0 holds page 7 (never written), job b waits for it.
 * In one round of momed's, a's node 1 is reset and node 0 gives page 7 back changed, its
 * connection read first. a is lost, so its change is reverted: b gets page 7 as it was (zeros). */
static int lost(const char *host, const char *port, pid_t momed)
{
    conn_t a0, a1, b;
    uint8_t page[PS];
    uint64_t key = 0x5eb0000000000007ull + (uint64_t)getpid();

    attach_node(&a0, host, port, key, 0, 2); /* first: the lower slot, read first */
    attach_node(&a1, host, port, key, 1, 2);
    get(&a0, 7, NULL);
    attach(&b, host, port, 0x5eb0000000000008ull + (uint64_t)getpid());
    reset_and_put(momed, &a0, &b, &a1, 7, 0x77);
    mome_msg_t m;
    if (recv_msg(&b, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_PAGE || m.len != PS)
        fail("no SRV_PAGE of page 7 for the job waiting for it");
    memcpy(page, m.payload, PS);
    if (page[0] == 0x77 || page[PS - 1] == 0x77)
        fail("page 7 went to another job with the change of a job lost in the same round");
    if (page[0] || page[PS - 1])
        fail("page 7 does not hold zeros");
    printf("srvbatch: case lost: a lost job's change given back in the round of its loss is "
           "reverted before the page goes on\n");
    return 0;
}

/* The case date: a SRV_HELLO dated near 2^64 (momed's clock, and the clocks of the jobs that
 * read its dates, would wrap) is refused. */
static int date(const char *host, const char *port)
{
    conn_t a = {.fd = dial(host, port), .key = 0x5eb0000000000009ull + (uint64_t)getpid()};
    a.date = UINT64_MAX - 2; /* send_msg dates it UINT64_MAX - 1 */
    a.ctx = (mome_wire_ctx_t){.nnodes = 1, .page_size = PS, .key = a.key, .models = 0xe};
    mome_srvhello_t h = {
        .server = momed_key(), .node = 0, .nnodes = 1, .page_size = PS, .pid = (uint32_t)getpid()};
    send_msg(&a, MOME_SRV_HELLO, &h, NULL, 0);
    expect_closed(&a, "date");
    printf("srvbatch: case date: a HELLO dated %llu is refused\n", (unsigned long long)a.date);
    return 0;
}

/* The case silent: a connection that never says hello is closed by momed (MOME_TEST_HELLO_WAIT_MS
 * short in the test); it held a slot for ever. */
static int silent(const char *host, const char *port)
{
    int fd = dial(host, port);
    char b[64];
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, 60000) <= 0 || read(fd, b, sizeof(b)) != 0)
        return fail("silent: momed did not close a connection that said nothing");
    close(fd);
    printf("srvbatch: case silent: a connection that says nothing is closed\n");
    return 0;
}

/* The case getwait: a connection asks twice for a page another job holds (its recall not
 * answered yet): refused; each request queued a waiter, and momed's memory grew without bound. */
static int getwait(const char *host, const char *port)
{
    conn_t a, b;
    attach(&a, host, port, 0x5eb2000000000000ull + (uint64_t)getpid());
    attach(&b, host, port, 0x5eb3000000000000ull + (uint64_t)getpid());
    get(&a, 6, NULL);
    mome_srvpage_t g = {.seg = b.seg, .page = 6};
    send_msg(&b, MOME_SRV_GET, &g, NULL, 0);
    send_msg(&b, MOME_SRV_GET, &g, NULL, 0);
    expect_closed(&b, "getwait");
    close(a.fd);
    printf("srvbatch: case getwait: a page asked for twice is refused\n");
    return 0;
}

/* The case slowrecall GO: job a holds page 3 and does not give it back when momed recalls it
 * (job b asks), until a line comes on the fifo GO (the test waits for momed to name a in its log
 * meanwhile); then it does, and b gets the page. */
static int slowrecall(const char *host, const char *port, const char *go)
{
    conn_t a, b;
    mome_msg_t m;
    uint8_t page[PS];
    char line[16];
    attach(&a, host, port, 0x5eb4000000000000ull + (uint64_t)getpid());
    attach(&b, host, port, 0x5eb5000000000000ull + (uint64_t)getpid());
    get(&a, 3, NULL);
    mome_srvpage_t g = {.seg = b.seg, .page = 3};
    send_msg(&b, MOME_SRV_GET, &g, NULL, 0);
    if (recv_msg(&a, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_RECALL)
        fail("slowrecall: no SRV_RECALL of the page after another job asked for it");
    printf("srvbatch: case slowrecall: holding page 3 past its recall\n");
    fflush(stdout);
    FILE *f = fopen(go, "r");
    if (!f || !fgets(line, sizeof(line), f))
        fail("slowrecall: no word on the fifo");
    fclose(f);
    memset(page, 0x33, PS);
    mome_srvpage_t pa = {.seg = a.seg, .page = 3};
    send_msg(&a, MOME_SRV_PUT, &pa, page, PS);
    if (recv_msg(&b, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_PAGE ||
        ((const uint8_t *)m.payload)[0] != 0x33)
        fail("slowrecall: the page did not reach the job waiting for it");
    close(a.fd);
    close(b.fd);
    printf("srvbatch: case slowrecall: given back late, the page went on\n");
    return 0;
}

/* The case nokey: a SRV_HELLO without momed's key (anyone who can reach the port) is told no
 * (HELLO_OK without a pid) and let go: it read and wrote every segment before. */
static int nokey(const char *host, const char *port)
{
    conn_t a = {.fd = dial(host, port), .key = 0x5eb1000000000000ull + (uint64_t)getpid()};
    mome_msg_t m;
    a.ctx = (mome_wire_ctx_t){.nnodes = 1, .page_size = PS, .key = a.key, .models = 0xe};
    mome_srvhello_t h = {.server = momed_key() ^ 0x10,
                         .node = 0,
                         .nnodes = 1,
                         .page_size = PS,
                         .pid = (uint32_t)getpid()};
    send_msg(&a, MOME_SRV_HELLO, &h, NULL, 0);
    if (recv_msg(&a, &m, rbuf, sizeof(rbuf)) < 0 || m.type != MOME_SRV_HELLO_OK)
        return fail("nokey: no answer to a HELLO without momed's key");
    if (((const mome_srvhello_t *)mome_msg_body(&m))->server != 0)
        return fail("nokey: a HELLO without momed's key was taken");
    expect_closed(&a, "nokey");
    printf("srvbatch: case nokey: a HELLO without momed's key is refused\n");
    return 0;
}

/* The case latecomer: job a of 3 nodes; node 0 ends holding a page (lost), node 1 is cut off with
 * it (its connection closed), and node 2, attaching only now, is refused too. */
static int latecomer(const char *host, const char *port)
{
    conn_t a0, a1, a2;
    uint64_t key = 0x5eb000000000000bull + (uint64_t)getpid();

    attach_node(&a0, host, port, key, 0, 3);
    attach_node(&a1, host, port, key, 1, 3);
    get(&a0, 2, NULL);
    close(a0.fd);
    expect_closed(&a1, "latecomer: node 1 of a job that lost node 0");
    a2 = (conn_t){.fd = dial(host, port), .key = key, .node = 2};
    a2.ctx = (mome_wire_ctx_t){.nnodes = 3, .page_size = PS, .key = key, .models = 0xe};
    mome_srvhello_t h = {
        .server = momed_key(), .node = 2, .nnodes = 3, .page_size = PS, .pid = (uint32_t)getpid()};
    send_msg(&a2, MOME_SRV_HELLO, &h, NULL, 0);
    expect_closed(&a2, "latecomer: node 2 of a job cut off before it attached");
    printf("srvbatch: case latecomer: a node of a job cut off is refused when it attaches late\n");
    return 0;
}

/* The case crowd: more connections than momed has descriptors for (its limit set low by the
 * test); once its log (logfile) says it cannot accept, they close, and a job is served. */
static int crowd(const char *host, const char *port, int n, const char *logfile)
{
    int *fds = malloc((size_t)n * sizeof(*fds)), seen = 0;
    char line[4096];
    conn_t a;
    if (!fds)
        fail("malloc");
    for (int i = 0; i < n; i++)
        fds[i] = dial(host, port); /* those momed cannot accept wait in its backlog */
    for (int i = 0; i < 3000000 && !seen; i++) {
        FILE *f = fopen(logfile, "r");
        while (f && !seen && fgets(line, sizeof(line), f))
            seen = strstr(line, "cannot accept a connection") != NULL;
        if (f)
            fclose(f);
        if (!seen)
            sched_yield();
    }
    if (!seen)
        fail("momed's log never said it cannot accept a connection");
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    attach(&a, host, port, 0x5eb000000000000aull + (uint64_t)getpid());
    get(&a, 1, NULL);
    printf("srvbatch: case crowd: momed ran out of descriptors, then served a job\n");
    return 0;
}

int main(int argc, char **argv)
{
    static uint8_t batch[3 * (MOME_BATCH_PUSH_HDR + PS)];
    uint8_t page[PS];
    conn_t a, b;
    const char *host, *port, *what;
    size_t n = 0;

    if (argc == 5 && !strcmp(argv[3], "gone"))
        return gone(argv[1], argv[2], (pid_t)atoi(argv[4]));
    if (argc == 5 && !strcmp(argv[3], "lost"))
        return lost(argv[1], argv[2], (pid_t)atoi(argv[4]));
    if (argc == 4 && !strcmp(argv[3], "date"))
        return date(argv[1], argv[2]);
    if (argc == 4 && !strcmp(argv[3], "latecomer"))
        return latecomer(argv[1], argv[2]);
    if (argc == 4 && !strcmp(argv[3], "nokey"))
        return nokey(argv[1], argv[2]);
    if (argc == 4 && !strcmp(argv[3], "silent"))
        return silent(argv[1], argv[2]);
    if (argc == 4 && !strcmp(argv[3], "getwait"))
        return getwait(argv[1], argv[2]);
    if (argc == 5 && !strcmp(argv[3], "slowrecall"))
        return slowrecall(argv[1], argv[2], argv[4]);
    if (argc == 6 && !strcmp(argv[3], "crowd"))
        return crowd(argv[1], argv[2], atoi(argv[4]), argv[5]);
    if (argc != 4) {
        fprintf(stderr, "usage: srvbatch HOST PORT "
                        "good|notheld|twice|count|empty|version|length|huge|late|date|latecomer|"
                        "nokey|silent|getwait\n"
                        "       srvbatch HOST PORT gone|lost MOMED_PID\n"
                        "       srvbatch HOST PORT crowd N MOMED_LOG\n"
                        "       srvbatch HOST PORT slowrecall GO_FIFO\n");
        return 2;
    }
    host = argv[1];
    port = argv[2];
    what = argv[3];
    attach(&a, host, port, 0x5eb0000000000001ull + (uint64_t)getpid());
    if (!strcmp(what, "good")) {
        /* Pages 2 and 5 back in one batch, changed: a second job reads them. */
        get(&a, 2, NULL);
        get(&a, 5, NULL);
        n += entry(batch + n, a.seg, 2, PS, 0, 0x22);
        n += entry(batch + n, a.seg, 5, PS, 0, 0x55);
        mome_srvbatch_t h = {.n = 2};
        send_msg(&a, MOME_SRV_PUTV, &h, batch, (uint32_t)n);
        attach(&b, host, port, 0x5eb0000000000002ull + (uint64_t)getpid());
        get(&b, 2, page);
        if (page[0] != 0x22 || page[PS - 1] != 0x22)
            fail("page 2 does not hold what the batch gave back");
        get(&b, 5, page);
        if (page[0] != 0x55 || page[PS - 1] != 0x55)
            fail("page 5 does not hold what the batch gave back");
        printf("srvbatch: a batch of 2 pages taken, read back by another job\n");
        return 0;
    }
    get(&a, 1, NULL);
    get(&a, 3, NULL);
    if (!strcmp(what, "notheld")) { /* page 4 is not held */
        n += entry(batch + n, a.seg, 1, PS, 0, 0x11);
        n += entry(batch + n, a.seg, 4, PS, 0, 0x44);
    } else if (!strcmp(what, "twice")) {
        n += entry(batch + n, a.seg, 1, PS, 0, 0x11);
        n += entry(batch + n, a.seg, 1, PS, 0, 0x12);
    } else if (!strcmp(what, "count")) { /* two entries, the body says 3 */
        n += entry(batch + n, a.seg, 1, PS, 0, 0x11);
        n += entry(batch + n, a.seg, 3, PS, 0, 0x33);
    } else if (!strcmp(what, "version")) {
        n += entry(batch + n, a.seg, 1, PS, 0, 0x11);
        n += entry(batch + n, a.seg, 3, PS, 9, 0x33);
    } else if (!strcmp(what, "length")) { /* an entry of half a page */
        n += entry(batch + n, a.seg, 1, PS, 0, 0x11);
        n += entry(batch + n, a.seg, 3, PS / 2, 0, 0x33);
    } else if (!strcmp(what, "late")) { /* a page past the segment's end, after a good one */
        n += entry(batch + n, a.seg, 1, PS, 0, 0x11);
        n += entry(batch + n, a.seg, NPAGES + 3, PS, 0, 0x33);
    } else if (strcmp(what, "empty") && strcmp(what, "huge")) {
        fprintf(stderr, "srvbatch: unknown case '%s'\n", what);
        return 2;
    }
    if (!strcmp(what, "huge")) {
        /* A header announcing 1 GiB of payload: refused from the header alone. */
        uint8_t hdr[MOME_WIRE_HDR];
        mome_srvbatch_t h = {.n = 1};
        mome_msg_t m = {.type = MOME_SRV_PUTV, .key = a.key, .len = 0, .date = ++a.date};
        mome_wire_pack(mome_srv_types[MOME_SRV_PUTV], &h, &m);
        mome_wire_encode(&m, hdr);
        put32(hdr + 12, 1u << 30);
        write_all(a.fd, hdr, sizeof(hdr));
    } else {
        mome_srvbatch_t h = {.n = !strcmp(what, "count") ? 3 : n / (MOME_BATCH_PUSH_HDR + PS)};
        if (!strcmp(what, "length"))
            h.n = 2;
        send_msg(&a, MOME_SRV_PUTV, &h, n ? batch : NULL, (uint32_t)n);
    }
    expect_closed(&a, what);
    /* momed goes on: another job gets page 1, as it was before the refused batch (zeros, or
     * what an earlier good case left: never 0x11). */
    attach(&b, host, port, 0x5eb0000000000003ull + (uint64_t)getpid());
    get(&b, 1, page);
    if (page[0] == 0x11)
        fail("a refused batch changed page 1");
    printf("srvbatch: case %s: connection refused, momed goes on, page 1 intact\n", what);
    return 0;
}
