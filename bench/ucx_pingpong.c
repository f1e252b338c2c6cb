/*
 * ucx_pingpong.c - raw UCX baseline for fault_latency, without Mome: two processes (this one and a
 * forked child) exchange what a Mome remote read costs on the wire, a 72-byte request and a 72-byte
 * header plus 4 KiB reply, as active messages; it prints the round-trip time busy-polling and
 * sleeping in epoll on the worker's event fd while idle (as Mome's progress thread does).
 *
 *   [UCX_TLS=tcp] ucx_pingpong [-v] [iterations]    (-v: wake-up counts on stderr)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ucp/api/ucp.h>

#define HDR_SIZE 72   /* MOME_MSG_HDR_SIZE */
#define PAGE_BYTES 4096
#define AM_ID 7
#define TIMEOUT_S 60

enum { MODE_POLL, MODE_SLEEP };

/* What one side counts while it waits in sleeping mode. */
typedef struct wait_stats {
    unsigned long epoll_waits; /* epoll_wait calls after a successful arm */
    unsigned long arm_busy;    /* arms refused because events were pending */
    long nvcsw;                /* voluntary context switches: real sleeps */
} wait_stats_t;

/* Process-wide state; single thread, touched by main and the AM callback it runs. */
static ucp_context_h ctx;
static ucp_worker_h worker;
static ucp_ep_h ep;
static int sock = -1, epfd = -1, is_server;
static unsigned long nrecv;            /* messages fully received */
static uint64_t last_seq;              /* sequence number of the last message received */
static char page[PAGE_BYTES];           /* where the client's reply lands; the server's page */
static char rndv_hdr[HDR_SIZE];        /* header of a rendezvous reply awaiting its data */

static void die(const char *what, ucs_status_t st)
{
    fprintf(stderr, "ucx_pingpong (%s): %s: %s\n", is_server ? "child" : "parent", what,
            ucs_status_string(st));
    exit(1);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "ucx_pingpong (%s): %s: %s\n", is_server ? "child" : "parent", what,
            strerror(errno));
    exit(1);
}

static void on_alarm(int sig)
{
    static const char msg[] = "ucx_pingpong: timed out\n";
    (void)sig;
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    _exit(124);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Bind to the n-th CPU this process may use (the last one if there are fewer), like Mome nodes. */
static void bind_cpu(int n)
{
    cpu_set_t allowed, one;
    int last = -1;

    if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
        die_errno("sched_getaffinity");
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &allowed))
            continue;
        last = c;
        if (n-- == 0)
            break;
    }
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    if (sched_setaffinity(0, sizeof(one), &one) < 0)
        die_errno("sched_setaffinity");
}

static void xwrite(const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t k = write(sock, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die_errno("socket write");
        p += k, len -= (size_t)k;
    }
}

static void xread(void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t k = read(sock, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            die_errno("socket read");
        if (k == 0) {
            fprintf(stderr, "ucx_pingpong: the other process exited\n");
            exit(1);
        }
        p += k, len -= (size_t)k;
    }
}

/* Both processes reach this point before either goes on. */
static void barrier(void)
{
    char c = 'b';
    xwrite(&c, 1);
    xread(&c, 1);
}

static void received(const void *hdr)
{
    memcpy(&last_seq, hdr, sizeof(last_seq));
    nrecv++;
}

static void rndv_done_cb(void *request, ucs_status_t status, size_t length, void *user_data)
{
    (void)length, (void)user_data;
    if (status != UCS_OK)
        die("rendezvous receive", status);
    received(rndv_hdr);
    ucp_request_free(request);
}

/* A request (server) or a reply (client): copy the page in, as a fault handler would. */
static ucs_status_t am_cb(void *arg, const void *header, size_t header_length, void *data,
                          size_t length, const ucp_am_recv_param_t *param)
{
    (void)arg;
    if (header_length != HDR_SIZE || length != (is_server ? 0 : PAGE_BYTES)) {
        fprintf(stderr, "ucx_pingpong: unexpected message (%zu + %zu bytes)\n", header_length,
                length);
        exit(1);
    }
    if (!(param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
        if (length)
            memcpy(page, data, length);
        received(header);
        return UCS_OK;
    }
    memcpy(rndv_hdr, header, HDR_SIZE);
    ucp_request_param_t rp = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK,
        .cb.recv_am = rndv_done_cb,
    };
    ucs_status_ptr_t st = ucp_am_recv_data_nbx(worker, data, page, length, &rp);
    if (UCS_PTR_IS_ERR(st))
        die("rendezvous receive", UCS_PTR_STATUS(st));
    if (st == NULL)
        received(header);
    return UCS_OK;
}

static void send_msg(uint64_t seq)
{
    char hdr[HDR_SIZE] = {0};
    ucp_request_param_t rp = {.op_attr_mask = 0}; /* hdr outlives the send: waited for below */

    memcpy(hdr, &seq, sizeof(seq));
    ucs_status_ptr_t st = ucp_am_send_nbx(ep, AM_ID, hdr, HDR_SIZE, is_server ? page : NULL,
                                          is_server ? PAGE_BYTES : 0, &rp);
    if (UCS_PTR_IS_ERR(st))
        die("ucp_am_send_nbx", UCS_PTR_STATUS(st));
    if (st) {
        ucs_status_t s;
        while ((s = ucp_request_check_status(st)) == UCS_INPROGRESS)
            ucp_worker_progress(worker);
        ucp_request_free(st);
        if (s != UCS_OK)
            die("send", s);
    }
}

/* The socket woke epoll: it carries nothing during a run, so the other process is gone. */
static void check_peer(void)
{
    char c;
    ssize_t k = recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
        fprintf(stderr, "ucx_pingpong: the other process exited\n");
        exit(1);
    }
}

/* Wait until `target` messages have arrived. */
static void wait_for(unsigned long target, int mode, wait_stats_t *ws)
{
    while (nrecv < target) {
        if (ucp_worker_progress(worker) || mode == MODE_POLL)
            continue;
        ucs_status_t st = ucp_worker_arm(worker);
        if (st == UCS_ERR_BUSY) {
            ws->arm_busy++;
            continue;
        }
        if (st != UCS_OK)
            die("ucp_worker_arm", st);
        struct epoll_event ev[2];
        int k = epoll_wait(epfd, ev, 2, -1);
        if (k < 0 && errno != EINTR)
            die_errno("epoll_wait");
        ws->epoll_waits++;
        for (int i = 0; i < k; i++)
            if (ev[i].data.fd == sock)
                check_peer();
    }
}

static long nvcsw(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

/* One mode: warm-up, then `iters` timed round trips. Returns microseconds per round trip. */
static double run(int mode, long warmup, long iters, wait_stats_t *ws)
{
    double t0 = 0;
    long total = warmup + iters;

    barrier();
    memset(ws, 0, sizeof(*ws));
    for (long i = 0; i < total; i++) {
        if (i == warmup) {
            memset(ws, 0, sizeof(*ws));
            ws->nvcsw = nvcsw();
            t0 = now_us();
        }
        if (is_server) {
            wait_for(nrecv + 1, mode, ws);
            send_msg(last_seq);
        } else {
            unsigned long want = nrecv + 1;
            send_msg((uint64_t)i);
            wait_for(want, mode, ws);
            if (last_seq != (uint64_t)i) {
                fprintf(stderr, "ucx_pingpong: reply %llu to request %ld\n",
                        (unsigned long long)last_seq, i);
                exit(1);
            }
        }
    }
    ws->nvcsw = nvcsw() - ws->nvcsw;
    return (now_us() - t0) / (double)iters;
}

static void ucx_setup(void)
{
    ucp_config_t *cfg;
    ucs_status_t st;
    int efd;

    st = ucp_config_read(NULL, NULL, &cfg);
    if (st != UCS_OK)
        die("ucp_config_read", st);
    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES,
        .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP,
    };
    st = ucp_init(&params, cfg, &ctx);
    ucp_config_release(cfg);
    if (st != UCS_OK)
        die("ucp_init (check UCX_TLS)", st);
    ucp_worker_params_t wp = {
        .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
        .thread_mode = UCS_THREAD_MODE_SINGLE,
    };
    st = ucp_worker_create(ctx, &wp, &worker);
    if (st != UCS_OK)
        die("ucp_worker_create", st);
    ucp_am_handler_param_t hp = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                      UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
        .id = AM_ID,
        .cb = am_cb,
        .flags = UCP_AM_FLAG_WHOLE_MSG,
    };
    st = ucp_worker_set_am_recv_handler(worker, &hp);
    if (st != UCS_OK)
        die("ucp_worker_set_am_recv_handler", st);
    st = ucp_worker_get_efd(worker, &efd);
    if (st != UCS_OK)
        die("ucp_worker_get_efd", st);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die_errno("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) < 0)
        die_errno("epoll_ctl");
    ev.data.fd = sock;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, sock, &ev) < 0)
        die_errno("epoll_ctl");

    /* Exchange worker addresses over the socket, then connect. */
    ucp_address_t *addr, *peer;
    size_t len, peer_len;
    st = ucp_worker_get_address(worker, &addr, &len);
    if (st != UCS_OK)
        die("ucp_worker_get_address", st);
    xwrite(&len, sizeof(len));
    xwrite(addr, len);
    xread(&peer_len, sizeof(peer_len));
    if (peer_len > (1 << 20) || !(peer = malloc(peer_len))) {
        fprintf(stderr, "ucx_pingpong: bad peer address length %zu\n", peer_len);
        exit(1);
    }
    xread(peer, peer_len);
    ucp_worker_release_address(worker, addr);
    ucp_ep_params_t ep_params = {
        .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE,
        .address = peer,
        .err_mode = UCP_ERR_HANDLING_MODE_NONE,
    };
    st = ucp_ep_create(worker, &ep_params, &ep);
    free(peer);
    if (st != UCS_OK)
        die("ucp_ep_create", st);
}

static void ucx_teardown(void)
{
    barrier(); /* no message is in flight any more */
    ucp_request_param_t rp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                              .flags = UCP_EP_CLOSE_FLAG_FORCE};
    ucs_status_ptr_t st = ucp_ep_close_nbx(ep, &rp);
    if (st && !UCS_PTR_IS_ERR(st)) {
        while (ucp_request_check_status(st) == UCS_INPROGRESS)
            ucp_worker_progress(worker);
        ucp_request_free(st);
    }
    barrier(); /* the other side closed its endpoint too before the worker goes */
    close(epfd);
    ucp_worker_destroy(worker);
    ucp_cleanup(ctx);
}

int main(int argc, char **argv)
{
    int verbose = 0, sv[2], status;
    long iters = 20000, warmup;
    wait_stats_t ws[2], peer_ws;
    double rtt[2];
    struct sigaction sa = {.sa_handler = on_alarm};
    pid_t child;

    if (argc > 1 && strcmp(argv[1], "-v") == 0)
        verbose = 1, argc--, argv++;
    if (argc > 1 && (iters = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: ucx_pingpong [-v] [iterations]\n");
        return 2;
    }
    warmup = iters / 10 < 100 ? 100 : iters / 10;
    sigaction(SIGALRM, &sa, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        die_errno("socketpair");
    fflush(stdout);
    child = fork();
    if (child < 0)
        die_errno("fork");
    is_server = child == 0;
    alarm(TIMEOUT_S); /* a pending alarm does not survive fork: both set theirs */
    if (is_server)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    sock = sv[is_server ? 1 : 0];
    close(sv[is_server ? 0 : 1]);
    bind_cpu(is_server ? 1 : 0);
    memset(page, 0x5a, sizeof(page));

    ucx_setup();
    rtt[MODE_POLL] = run(MODE_POLL, warmup, iters, &ws[MODE_POLL]);
    rtt[MODE_SLEEP] = run(MODE_SLEEP, warmup, iters, &ws[MODE_SLEEP]);
    ucx_teardown();

    if (is_server) {
        xwrite(&ws[MODE_SLEEP], sizeof(ws[MODE_SLEEP]));
        _exit(0);
    }
    xread(&peer_ws, sizeof(peer_ws));
    if (waitpid(child, &status, 0) < 0)
        die_errno("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ucx_pingpong: the child failed (status %#x)\n", status);
        return 1;
    }
    printf("ucx_rtt_poll_us %.2f ucx_rtt_sleep_us %.2f\n", rtt[MODE_POLL], rtt[MODE_SLEEP]);
    if (verbose)
        fprintf(stderr,
                "ucx_pingpong: sleeping mode, per round trip: parent %.2f epoll waits %.2f busy "
                "arms %.2f sleeps, child %.2f epoll waits %.2f busy arms %.2f sleeps\n",
                (double)ws[MODE_SLEEP].epoll_waits / (double)iters,
                (double)ws[MODE_SLEEP].arm_busy / (double)iters,
                (double)ws[MODE_SLEEP].nvcsw / (double)iters,
                (double)peer_ws.epoll_waits / (double)iters,
                (double)peer_ws.arm_busy / (double)iters, (double)peer_ws.nvcsw / (double)iters);
    return 0;
}
