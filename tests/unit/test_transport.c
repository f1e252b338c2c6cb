/*
 * test_transport.c - the UCX transport between two real nodes on loopback: this process is node
 * 0, a forked child node 1, which plays a peer that talks, stays silent or dies.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/stats.h"
#include "net/transport.h"
#include "unit.h"

#define MAX_LEN (4u << 20)

static int received; /* messages delivered to node 0 */
static int tp_up;    /* this process's transport is initialised */
static pid_t child = -1;
static int to_peer = -1;   /* the test's pipe to node 1 */
static int from_peer = -1; /* and from it */
static int lost = -1;    /* the node the failure callback named */
static char lost_why[256];

static void count_recv(const void *hdr, size_t hl, const void *data, size_t len, void *arg)
{
    received++;
}

static int read_all(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* Trade addresses with the other side and connect; remote: the other side counts as on another
 * machine (heartbeats, UCX's peer-failure mode). */
static int exchange(int self, int rfd, int wfd, const void *addr, size_t len, int remote)
{
    uint64_t theirs_len, mine = len;
    static char theirs[4096];
    const void *addrs[2];
    size_t lens[2];
    uint8_t rem[2] = {(uint8_t)remote, (uint8_t)remote};
    char err[256];

    if (write_all(wfd, &mine, sizeof(mine)) || write_all(wfd, addr, len) ||
        read_all(rfd, &theirs_len, sizeof(theirs_len)) || theirs_len > sizeof(theirs) ||
        read_all(rfd, theirs, theirs_len))
        return -EIO;
    addrs[self] = addr;
    lens[self] = len;
    addrs[1 - self] = theirs;
    lens[1 - self] = theirs_len;
    return mome_tp_connect(2, self, addrs, lens, rem, err, sizeof(err));
}

static void on_fail(int node, const char *why)
{
    if (lost >= 0)
        return;
    lost = node;
    snprintf(lost_why, sizeof(lost_why), "%s", why);
}

/*
 * Node 0 here, node 1 in a child that runs peer(wfd, rfd) once connected (pipes to and from this
 * process, for the test's own signals) and then exits. remote: each counts the other as on another
 * machine. Returns the test's end of the pipe from the child; to_peer is the other.
 */
static int two_nodes(const mome_tp_opts_t *opts, int remote, void (*peer)(int wfd, int rfd))
{
    int up[2], down[2];
    const void *addr;
    size_t len;

    pid_t parent = getpid();
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that timed out takes its peer along */
        if (getppid() != parent)
            _exit(1); /* it went before the line above */
        close(up[0]);
        close(down[1]);
        if (mome_tp_init(count_recv, NULL, MAX_LEN, opts, &addr, &len) < 0 ||
            exchange(1, down[0], up[1], addr, len, remote) < 0)
            _exit(2);
        peer(up[1], down[0]);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    to_peer = down[1];
    ck_assert_int_eq(mome_tp_init(count_recv, NULL, MAX_LEN, opts, &addr, &len), 0);
    tp_up = 1;
    ck_assert_int_eq(exchange(0, up[0], down[1], addr, len, remote), 0);
    lost = -1;
    from_peer = up[0];
    return up[0];
}

/* Every test's teardown, which also runs after a failed assertion without fork mode (CK_FORK=no:
 * valgrind, TSan): the peer goes, and the transport, so that the next test starts clean. */
static void two_nodes_teardown(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    child = -1;
    if (from_peer >= 0)
        close(from_peer);
    if (to_peer >= 0)
        close(to_peer);
    from_peer = to_peer = -1;
    if (tp_up)
        mome_tp_fini();
    tp_up = 0;
}

static void two_nodes_down(int fd)
{
    (void)fd;
    two_nodes_teardown();
}

/* Progress the transport for ms milliseconds, delivering. */
static void progress_for(int ms)
{
    uint64_t until = mome_now_ns() + (uint64_t)ms * 1000000;
    while (mome_now_ns() < until)
        mome_tp_progress();
}

/* Wait for the child's word on fd (one byte), progressing the transport meanwhile. */
static void await_peer(int fd)
{
    char c;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t until = mome_now_ns() + 10000000000ull;
    while (poll(&p, 1, 0) == 0) {
        mome_tp_push();
        ck_assert_msg(mome_now_ns() < until, "no word from the peer");
    }
    ck_assert_int_eq(read(fd, &c, 1), 1);
}

static const char hdr[80] = "a header";

/* ---- peers ---- */

/* One message to node 0, then silence. */
static void peer_sends_one(int fd, int rfd)
{
    if (mome_tp_send(0, hdr, sizeof(hdr), NULL, 0) < 0)
        _exit(3);
    while (mome_tp_push() > 0)
        ;
    mome_tp_flush();
    (void)write_all(fd, "s", 1);
    for (;;)
        mome_tp_progress();
}

/* Connected, then never takes anything in again (a peer that died without a word). */
static void peer_silent(int fd, int rfd)
{
    (void)write_all(fd, "s", 1);
    for (;;)
        pause();
}

/* Heartbeats every second, as a node's loop sends them, saying "b" after each; quiet from a "q"
 * on (said back), until a "b". */
static void peer_beats(int fd, int rfd)
{
    int quiet = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = rfd, .events = POLLIN},
                              {.fd = quiet ? -1 : mome_tp_timer_fd(), .events = POLLIN}};
        char c;
        if (poll(p, 2, 1) > 0) {
            if (p[0].revents && read(rfd, &c, 1) == 1) {
                quiet = c == 'q';
                (void)write_all(fd, quiet ? "Q" : "B", 1);
            }
            if (p[1].revents) {
                mome_tp_timer_event();
                (void)write_all(fd, "b", 1);
            }
        }
        mome_tp_progress();
    }
}

/* A small message to node 0, then, once node 0 answered, one of 4 MiB (fetched by rendezvous);
 * says "s" once it is on its way. */
static void peer_sends_big(int fd, int rfd)
{
    static char data[4u << 20];
    char h[sizeof(hdr)] = "from node 1";
    h[sizeof(h) - 1] = 1;
    if (mome_tp_send(0, h, sizeof(h), NULL, 0) < 0)
        _exit(3);
    while (received == 0)
        mome_tp_progress();
    if (mome_tp_send(0, h, sizeof(h), data, sizeof(data)) < 0)
        _exit(3);
    (void)write_all(fd, "s", 1);
    for (;;)
        mome_tp_push();
}

/* ---- tests ---- */

/* A message that a push took in waits in the transport's own queue: UCX has no event for it, so
 * the transport must not say it is safe to sleep. */
START_TEST(test_transport__arm_refused_while_a_message_waits)
{
    mome_tp_opts_t o = {.ip_devices = "lo"};
    int fd = two_nodes(&o, 0, peer_sends_one);
    await_peer(fd);
    received = 0;
    uint64_t until = mome_now_ns() + 200000000;
    while (mome_now_ns() < until)
        mome_tp_push(); /* takes the message in, delivers nothing */
    ck_assert_int_eq(received, 0);
    /* UCX may ask for one more round (its own wake-up signals): never armed while one waits. */
    int armed = 0;
    for (int i = 0; i < 100 && !armed; i++) {
        mome_tp_push();
        armed = mome_tp_arm() == 0;
    }
    ck_assert_msg(!armed, "armed, safe to sleep, with a message waiting");
    ck_assert_int_eq(mome_tp_progress() > 0, 1);
    ck_assert_int_eq(received, 1);
    two_nodes_down(fd);
}
END_TEST

/*
 * Sends to a node that takes nothing: the first that passes the flow-control mark waits for it,
 * boundedly; the ones after it go on at once (each waited again: a release of 50 batches to a
 * dead node stalled its sender for some 500 s).
 */
static int waits_heard; /* calls of the wait hook */

static void count_wait(void)
{
    waits_heard++;
}

START_TEST(test_transport__sends_to_a_silent_node_wait_once)
{
    static char data[2u << 20];
    mome_tp_opts_t o = {.ip_devices = "lo", .waiting = count_wait, .send_wait_ms = 500};
    int fd = two_nodes(&o, 0, peer_silent);
    await_peer(fd);
    waits_heard = 0;
    unsigned gave_up = mome_tp_send_waits();
    for (int i = 0; i < 40; i++) /* 80 MiB: past the 64 MiB mark 8 times */
        ck_assert_int_eq(mome_tp_send(1, hdr, sizeof(hdr), data, sizeof(data)), 0);
    ck_assert_msg(mome_tp_send_waits() - gave_up == 1, "sends gave up waiting %u times, not once",
                  mome_tp_send_waits() - gave_up);
    ck_assert_int_gt(waits_heard, 0); /* the launcher's word would have been heard */
    two_nodes_down(fd);
}
END_TEST

/* Node 0's loop for ms milliseconds: the transport, and its heartbeat timer. */
static void loop_for(int ms)
{
    uint64_t until = mome_now_ns() + (uint64_t)ms * 1000000;
    while (mome_now_ns() < until) {
        struct pollfd p = {.fd = mome_tp_timer_fd(), .events = POLLIN};
        mome_tp_progress();
        if (poll(&p, 1, 0) > 0)
            mome_tp_timer_event();
    }
}

/* Node 0's loop until node 1 says c, then for 50 ms more (what it sent before is heard). */
static void loop_until(int fd, char c)
{
    char got = 0;
    uint64_t until = mome_now_ns() + 10000000000ull;
    while (got != c) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        loop_for(1);
        if (poll(&p, 1, 0) > 0)
            ck_assert_int_eq(read(fd, &got, 1), 1);
        ck_assert_msg(mome_now_ns() < until, "no '%c' from the peer", c);
    }
    loop_for(50);
}

/* A timeout of three heartbeat periods: a peer starved of its core for a second or so on a loaded
 * machine is no loss; the stalls below last longer than it. */
static const mome_tp_opts_t beating = {
    .ip_devices = "lo", .remote_peers = 1, .peer_timeout_ms = 3000, .fail = on_fail};
#define STALL_US 4000000

/*
 * This node stalled (a VM paused, SIGSTOP) for longer than the timeout while its peer went on
 * beating: the heartbeats wait in UCX, and are heard before anyone is judged silent (the judgement
 * came first: every node of the other machines was declared lost).
 */
START_TEST(test_transport__heartbeats_waiting_in_ucx_are_heard_after_a_stall)
{
    int fd = two_nodes(&beating, 1, peer_beats);
    loop_until(fd, 'b');
    ck_assert_int_eq(lost, -1);
    usleep(STALL_US); /* the stall; node 1 beats on */
    mome_tp_timer_event();
    ck_assert_int_eq(lost, -1);
    loop_for(100);
    ck_assert_int_eq(lost, -1);
    two_nodes_down(fd);
}
END_TEST

/*
 * While this node stalled its peer went quiet, then beats again: the time this node was not
 * listening is not the peer's silence (after a VM pause, a peer's TCP may retransmit the
 * heartbeats it could not deliver only seconds later).
 */
START_TEST(test_transport__own_stall_is_not_the_peers_silence)
{
    int fd = two_nodes(&beating, 1, peer_beats);
    loop_until(fd, 'b');
    ck_assert_int_eq(write_all(to_peer, "q", 1), 0);
    loop_until(fd, 'Q');
    usleep(STALL_US); /* the stall */
    mome_tp_timer_event();
    ck_assert_int_eq(lost, -1);
    ck_assert_int_eq(write_all(to_peer, "b", 1), 0);
    loop_until(fd, 'b');
    ck_assert_int_eq(lost, -1);
    two_nodes_down(fd);
}
END_TEST

/* The test's headers name their sender in their last byte. */
static int hdr_sender(const void *h, size_t hl)
{
    return hl == sizeof(hdr) ? ((const uint8_t *)h)[sizeof(hdr) - 1] : -1;
}

/*
 * A node dies while this one fetches its large message (rendezvous): the fetch's failure is the
 * loss of that node, reported once through the failure callback, as a failed send is. (UCX 1.13
 * fails the connection first, then the fetch, which stopped the node on its own saying "receiving
 * the 4194304 bytes of a message failed", naming no node, even after the loss was reported.)
 */
START_TEST(test_transport__failed_fetch_is_the_senders_loss)
{
    mome_tp_opts_t o = {
        .ip_devices = "lo", .remote_peers = 1, .fail = on_fail, .sender = hdr_sender};
    int fd = two_nodes(&o, 1, peer_sends_big);
    char c;
    received = 0;
    uint64_t until = mome_now_ns() + 10000000000ull;
    while (received == 0) { /* node 1's first, small message: the connection is up */
        mome_tp_progress();
        ck_assert_msg(mome_now_ns() < until, "no message from the peer");
    }
    ck_assert_int_eq(mome_tp_send(1, hdr, sizeof(hdr), NULL, 0), 0);
    while (mome_tp_push() > 0)
        ;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 10000), 1);
    ck_assert_int_eq(read(fd, &c, 1), 1); /* the large one is on its way */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    child = -1;
    received = 0;
    until = mome_now_ns() + 10000000000ull;
    while (lost < 0 && mome_now_ns() < until)
        mome_tp_progress();
    ck_assert_msg(lost == 1, "lost node %d (%s)", lost, lost_why);
    progress_for(200); /* the fetch's failure, when it comes after the connection's */
    ck_assert_int_eq(received, 0);
    two_nodes_down(fd);
}
END_TEST

Suite *transport_suite(void)
{
    Suite *s = suite_create("transport");
    UNIT_CASE_TEARDOWN(s, test_transport__arm_refused_while_a_message_waits, two_nodes_teardown);
    UNIT_CASE_TEARDOWN(s, test_transport__sends_to_a_silent_node_wait_once, two_nodes_teardown);
    UNIT_CASE_TEARDOWN(s, test_transport__heartbeats_waiting_in_ucx_are_heard_after_a_stall,
                       two_nodes_teardown);
    UNIT_CASE_TEARDOWN(s, test_transport__own_stall_is_not_the_peers_silence, two_nodes_teardown);
    UNIT_CASE_TEARDOWN(s, test_transport__failed_fetch_is_the_senders_loss, two_nodes_teardown);
    return s;
}
