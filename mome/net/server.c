/*
 * server.c - this node's TCP connection to momed: finding it (MOME_SERVER or the repository's
 * address file, a stale file told from a live server), framing (a message is its 80-byte header
 * then the payload the header counts), and delivering what arrives through the message table.
 */
#define _GNU_SOURCE /* sched_setaffinity */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/stats.h"
#include "net/msg.h"
#include "net/server.h"
#include "net/transport.h"

static int srv_fd = -1;
static char where[300];
/* momed's key, said in SRV_HELLO (its address file's, or MOME_SERVER_KEY) */
static uint64_t srv_key;
static int srv_named; /* found by MOME_SERVER (its key from MOME_SERVER_KEY), not an address file */
static int refused;   /* momed refused the hello (no pid): its close is no loss */
static uint8_t *rbuf; /* what arrived and is not yet a whole message */
static size_t rlen, rcap;
/* Pages going back to momed, not sent yet (SRV_PUTV): sent when full, by mome_srv_flush, and
 * before any other message, so that the connection carries everything in the order it was
 * given (a GET of a page after its return, a CKPT after the job's pages). */
static mome_batch_t putv;
static int flushing;

/* The reply a call waits for (a service message: it runs during the hold). */
static struct {
    int type;
    uint64_t token;
    int have;
    mome_srvopen_t body;
    char why[MOME_SRV_WHY_MAX + 1];
} reply;

int mome_srv_fd(void)
{
    return srv_fd;
}

const char *mome_srv_where(void)
{
    return where;
}

uint64_t mome_srv_id(void)
{
    return srv_fd < 0 ? 0 : srv_key ? srv_key : 1;
}

/* Milliseconds since t0 (mome_now_ns). */
static long ms_since(uint64_t t0)
{
    return (long)((mome_now_ns() - t0) / 1000000);
}

/*
 * A clean end, as momed must see it: a close, never a reset. Closing a socket with bytes momed
 * sent still unread (a recall, anything in flight) makes the kernel send a TCP reset, which momed
 * takes for a lost node: it then cut the job off and undid what the job changed since its last
 * checkpoint (a flag written just before MomeFinalize went back, and the other job waited for it
 * for ever; seen under load). So: no more sends (the end follows everything queued), then what
 * momed still sends is read and dropped until it closes its side, for at most 5 s.
 */
#define CLOSE_WAIT_MS 5000
#define SRV_SERVE_SLICE_MS 100 /* a call serving page-ins wakes at least this often */

static void close_cleanly(int fd)
{
    char sink[4096];
    uint64_t t0 = mome_now_ns();
    long waited = 0;

    shutdown(fd, SHUT_WR);
    while (waited < CLOSE_WAIT_MS) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(CLOSE_WAIT_MS - waited));
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0) { /* momed sent nothing and kept its side open: a blocking read waited on */
            waited = CLOSE_WAIT_MS;
            break;
        }
        ssize_t n = r > 0 ? read(fd, sink, sizeof(sink)) : -1;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break; /* momed closed too (or the connection is gone): done */
        waited = ms_since(t0);
    }
    if (waited >= CLOSE_WAIT_MS)
        mome_warn("server", "%s did not close its side of the connection within %d s of this "
                  "node's end", where, CLOSE_WAIT_MS / 1000);
    close(fd);
}

void mome_srv_bye(void)
{
    if (srv_fd >= 0)
        mome_send(MOME_TO_SERVER, MOME_SRV_BYE, 0, NULL, NULL, 0);
}

void mome_srv_close(void)
{
    if (putv.n) /* served.c flushes after every return: a bug if not, and their content lost */
        mome_fatal("%u pages given back were never sent to %s, which keeps their content from "
                   "before them: their writes are lost; stopping",
                   putv.n, where);
    mome_batch_free(&putv);
    if (srv_fd >= 0)
        close_cleanly(srv_fd);
    srv_fd = -1;
    mome_msg_set_server(NULL, NULL);
    free(rbuf);
    rbuf = NULL;
    rlen = rcap = 0;
}

static int connect_to(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *p;
    int fd = -1, rc = getaddrinfo(host, port, &hints, &ai), e = ECONNREFUSED;

    if (rc) {
        snprintf(err, errlen, "cannot resolve momed's address %s:%s: %s", host, port,
                 gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    for (p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to momed at %s:%s: %s", host, port, strerror(e));
        return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* host:port (the last colon splits, so [v6]:port works without the brackets' help). */
static int split(const char *s, char *host, size_t hl, char *port, size_t pl)
{
    const char *c = strrchr(s, ':');
    if (!c || c == s || !c[1] || (size_t)(c - s) >= hl || strlen(c + 1) >= pl)
        return -EINVAL; /* (the port's digits and range: config.c parse_server) */
    memcpy(host, s, (size_t)(c - s));
    host[c - s] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    strcpy(port, c + 1);
    return 0;
}

/* Connect to the momed of repo's address file: 1, or 0 if there is none that answers (said once
 * as a warning unless quiet: the repository is then used directly). */
static int from_addr_file(const char *repo, int quiet, char *err, size_t errlen)
{
    char host[256], port[32], path[1200], line[400], mhost[256] = "";
    unsigned long long key = 0;
    long pid = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", repo, MOME_SRV_ADDR_FILE);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0; /* no server: the repository is used directly */
    if (!fgets(line, sizeof(line), f) ||
        sscanf(line, "%255s %31s %ld %255s %16llx", host, port, &pid, mhost, &key) < 3) {
        fclose(f);
        if (!quiet)
            mome_warn("server",
                      "ignoring %s: not a momed address file (expected 'host port pid'); "
                      "using the repository directly",
                      path);
        return 0;
    }
    fclose(f);
    char me[256] = "";
    gethostname(me, sizeof(me) - 1);
    int local = !mhost[0] || !strcmp(mhost, me);
    if (local && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
        if (!quiet)
            mome_warn("server",
                      "ignoring %s: it was left by momed pid %ld, which is not running any "
                      "more (killed?); using the repository directly (restart momed to serve "
                      "it)",
                      path, pid);
        return 0;
    }
    fd = connect_to(host, port, err, errlen);
    if (fd < 0) {
        if (!quiet)
            mome_warn("server",
                      "ignoring %s, left by momed pid %ld: %s; using the repository "
                      "directly",
                      path, pid, err);
        err[0] = 0;
        return 0;
    }
    snprintf(where, sizeof(where), "momed pid %ld at %.60s:%.20s (%.180s)", pid, host, port, path);
    srv_key = key;
    srv_named = 0;
    srv_fd = fd;
    mome_msg_set_server(mome_srv_tx, where);
    return 1;
}

/* The momed program: the first in PATH, else the one installed beside this library's tools. */
static int find_momed(char *out, size_t len)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        if (n && (size_t)snprintf(out, len, "%.*s/momed", (int)n, path) < len &&
            access(out, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    snprintf(out, len, "%s/momed", MOME_BINDIR);
    return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

/*
 * Start momed on repo, in a session of its own (it outlives the job: later jobs find it by its
 * address file), its output appended to log. Returns its pid, or -errno with a message. Between
 * fork and exec the child makes only async-signal-safe calls.
 */
static pid_t spawn_momed(const char *repo, int spans, const char *log, char *err, size_t errlen)
{
    char bin[1100], listen[300], me[256] = "";
    int rc;

    if (find_momed(bin, sizeof(bin)) < 0) {
        snprintf(err, errlen, "MOME_SERVER=start: cannot find momed in PATH or in %s: put the "
                              "directory of Mome's tools in PATH", MOME_BINDIR);
        return -ENOENT;
    }
    if (mkdir(repo, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, errlen, "MOME_SERVER=start: cannot create repository %s: %s", repo,
                 strerror(errno));
        return rc;
    }
    int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lfd < 0 || nfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "MOME_SERVER=start: cannot open %s: %s", lfd < 0 ? log : "/dev/null",
                 strerror(errno));
        if (lfd >= 0)
            close(lfd);
        return rc;
    }
    /* A job on several machines: momed listens where the other machines can reach it. */
    gethostname(me, sizeof(me) - 1);
    snprintf(listen, sizeof(listen), "%s:0", me);
    char *argv[] = {"momed", "--repository", (char *)repo, spans ? "--listen" : NULL, listen, NULL};
    sigset_t none;
    sigemptyset(&none);
    /* Not bound to node 0's core, where the node bound itself: momed serves later jobs too. */
    cpu_set_t all;
    CPU_ZERO(&all);
    for (long c = 0, n = sysconf(_SC_NPROCESSORS_CONF); c < n && c < CPU_SETSIZE; c++)
        CPU_SET((int)c, &all);
    pid_t pid = fork();
    if (pid == 0) {
        setsid(); /* not stopped with the job's process group */
        sigprocmask(SIG_SETMASK, &none, NULL);
        sched_setaffinity(0, sizeof(all), &all);
        if (dup2(nfd, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
            _exit(127);
        syscall(SYS_close_range, 3u, ~0u, 0u); /* the node's sockets and fds are not momed's */
        execv(bin, argv);
        static const char msg[] = "momed: cannot run it (exec failed)\n";
        if (write(2, msg, sizeof(msg) - 1) < 0) {
        }
        _exit(127);
    }
    rc = pid < 0 ? -errno : 0;
    close(lfd);
    close(nfd);
    if (rc < 0) {
        snprintf(err, errlen, "MOME_SERVER=start: cannot start momed: %s", strerror(-rc));
        return rc;
    }
    mome_info("server", "started momed (%s, pid %d) on repository %s; its log: %s", bin,
              (int)pid, repo, log);
    return pid;
}

/* Whether pid, alive on this machine, may be a momed: its command name says momed (lt-momed in a
 * build tree); one that cannot be read is taken for one. */
static int is_momed(long pid)
{
    char path[64], comm[64] = "";
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 1;
    int got = fgets(comm, sizeof(comm), f) != NULL;
    fclose(f);
    return !got || strstr(comm, "momed") != NULL;
}

/*
 * The pid of the momed that holds repo's lock, if one is starting or serving it, else 0. Its lock
 * file says "pid N host H" (momed empties it when it stops): alive if N is a momed alive on this
 * machine; on another one, nothing here can tell, and a file that was not emptied is taken for a
 * live momed. A file of the old form, "pid N", was left by a momed before 804825a, which never
 * emptied it: not one starting (helper-164: a job waited 30 s, then failed, whenever that pid was
 * alive again). Read, not locked: a lock taken here, even shared, could make a starting momed
 * think another one serves it.
 */
static long momed_running(const char *repo)
{
    char path[1200], who[400] = "", host[256] = "", me[256] = "";
    long pid = 0;
    snprintf(path, sizeof(path), "%s/%s", repo, MOME_SRV_LOCK_FILE);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int n = fgets(who, sizeof(who), f) ? sscanf(who, "pid %ld host %255s", &pid, host) : 0;
    fclose(f);
    if (n < 2 || pid <= 0)
        return 0;
    gethostname(me, sizeof(me) - 1);
    if (strcmp(host, me))
        return pid;
    return (kill((pid_t)pid, 0) == 0 || errno == EPERM) && is_momed(pid) ? pid : 0;
}

/* The pid repo's address file names (0: no file, or none in it). */
static long addr_file_pid(const char *repo)
{
    char path[1200], line[400], host[256], port[32];
    long pid = 0;
    snprintf(path, sizeof(path), "%s/%s", repo, MOME_SRV_ADDR_FILE);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    if (!fgets(line, sizeof(line), f) || sscanf(line, "%255s %31s %ld", host, port, &pid) < 3)
        pid = 0;
    fclose(f);
    return pid;
}

/*
 * MOME_SERVER=start: the repository's momed, started by the job's first node if none answers.
 * Every node waits for its address file, at most START_WAIT_MS; a momed that exits first (another
 * one started at the same instant took the repository: then that one's file comes) is not waited
 * for beyond that.
 */
#define START_WAIT_MS 30000
static int start_or_find(const char *repo, int starter, int spans, char *err, size_t errlen)
{
    char log[1200];
    pid_t child = 0;
    struct timespec tick = {0, 5000000};
    uint64_t t0 = mome_now_ns();
    snprintf(log, sizeof(log), "%s/%s", repo, MOME_SRV_LOG_FILE);
    for (;;) {
        int rc = from_addr_file(repo, 1, err, errlen);
        if (rc)
            return rc;
        if (starter && !child) {
            child = spawn_momed(repo, spans, log, err, errlen);
            if (child < 0)
                return child;
        }
        int status;
        if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
            child = -1; /* reaped: not started again */
            if (!momed_running(repo)) {
                snprintf(err, errlen, "MOME_SERVER=start: momed exited (%s %d) before serving "
                         "repository %s: see %s",
                         WIFEXITED(status) ? "status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), repo, log);
                return -ECHILD;
            }
        }
        if (ms_since(t0) > START_WAIT_MS) {
            snprintf(err, errlen, "MOME_SERVER=start: no momed answered on repository %s within "
                     "%d s (the job's node 0 starts one; its log: %s)", repo,
                     START_WAIT_MS / 1000, log);
            return -ETIMEDOUT;
        }
        nanosleep(&tick, NULL);
    }
}

/*
 * No MOME_SERVER: the repository's momed, if one serves it. One that is starting (it holds the
 * lock and has not written its address file yet, as when it was launched with this job) is
 * waited for, as MOME_SERVER=start waits (at most START_WAIT_MS): a job that went on without it
 * would open the repository itself and hold its segments, and the jobs momed serves would find
 * them busy (helper-158). A momed that left its address file and does not answer is not starting
 * (its lock names the same pid). 0 and an info line (first: once per job) when none serves it.
 */
static int find_served(const char *repo, int first, char *err, size_t errlen)
{
    struct timespec tick = {0, 5000000};
    uint64_t t0 = mome_now_ns();
    int rc, said = 0;
    long pid;
    while (!(rc = from_addr_file(repo, 1, err, errlen)) && (pid = momed_running(repo)) > 0 &&
           pid != addr_file_pid(repo)) {
        if (first && !said++)
            mome_info("server",
                      "momed pid %ld is starting on repository %s (it holds %s): "
                      "waiting for its address file",
                      pid, repo, MOME_SRV_LOCK_FILE);
        if (ms_since(t0) > START_WAIT_MS) {
            snprintf(err, errlen,
                     "momed pid %ld holds %s/%s but has written no address file "
                     "(%s) within %d s: see its log; if no momed runs (pid %ld is another "
                     "program now), remove %s/%s",
                     pid, repo, MOME_SRV_LOCK_FILE, MOME_SRV_ADDR_FILE, START_WAIT_MS / 1000, pid,
                     repo, MOME_SRV_LOCK_FILE);
            return -ETIMEDOUT;
        }
        nanosleep(&tick, NULL);
    }
    if (rc == 0) /* said once, not at every turn: a file left by a momed that is gone */
        rc = from_addr_file(repo, 0, err, errlen);
    if (rc == 0 && first)
        mome_info("server",
                  "no momed serves repository %s: this job opens it directly, and holds "
                  "the persistent segments it opens; jobs that share them must all go through "
                  "momed (start it first, or start every such job with MOME_SERVER=start)",
                  repo);
    return rc;
}

static int connect_server(const char *repo, const char *server, uint64_t key, int starter,
                          int spans, char *err, size_t errlen)
{
    char host[256], port[32];
    int fd;

    if (server && !strcmp(server, "start"))
        return start_or_find(repo, starter, spans, err, errlen);
    if (server && server[0]) {
        if (split(server, host, sizeof(host), port, sizeof(port)) < 0) {
            snprintf(err, errlen,
                     "bad value '%s' for MOME_SERVER: expected host:port (a port from 1 to "
                     "65535), or start",
                     server);
            return -EINVAL;
        }
        fd = connect_to(host, port, err, errlen);
        if (fd < 0)
            return fd;
        snprintf(where, sizeof(where), "momed at %s (MOME_SERVER)", server);
        srv_named = 1;
        srv_key = key;
        srv_fd = fd;
        mome_msg_set_server(mome_srv_tx, where);
        return 1;
    }
    return find_served(repo, starter, err, errlen);
}

int mome_srv_connect(const char *repo, const char *server, uint64_t key, int starter, int spans,
                     char *err, size_t errlen)
{
    int rc = connect_server(repo, server, key, starter, spans, err, errlen);
    if (rc > 0)
        mome_info("server", "persistent segments are served by %s", where);
    return rc;
}

/*
 * One wait on momed's socket for events, from t0 on: this node's sends to the other nodes go on
 * meanwhile (one of them may wait for them, and momed for it), the other machines keep hearing
 * from it (momed may take long), and past 10 s a warning says once that momed has `what`.
 * With serve (a call, its messages held), the messages that run while held (service: the page-ins
 * and page-outs of other nodes) are served too: a node paging to this one waits for its answer,
 * and momed may wait for that node (a checkpoint's SRV_CKPT, answered once every node has asked;
 * the job stopped after 30 s: helper-110).
 * Returns the socket's revents (0: nothing yet), or -ETIMEDOUT past limit_ms.
 */
static int srv_wait(short events, uint64_t t0, int limit_ms, int *said, const char *what, int serve)
{
    long ms = ms_since(t0);
    if (ms >= limit_ms)
        return -ETIMEDOUT;
    if (ms >= 10000 && limit_ms > 10000 && !(*said)++)
        mome_warn("server", "%s has %s for 10 s (a long checkpoint?); waiting up to %d s in all",
                  where, what, limit_ms / 1000);
    int wait = (int)(limit_ms - ms);
    if (!*said && limit_ms > 10000 && wait > 10000 - ms)
        wait = (int)(10000 - ms) + 1; /* awake for the warning */
    int busy = serve && mome_msg_poll() > 0;
    if ((busy || mome_tp_push() > 0) && wait > 1)
        wait = 1;
    struct pollfd pf[3] = {{.fd = srv_fd, .events = events},
                           {.fd = mome_tp_timer_fd(), .events = POLLIN},
                           {.fd = -1, .events = POLLIN}};
    if (serve && wait > 1 && mome_tp_efd() >= 0) {
        if (mome_tp_arm() == 0)
            pf[2].fd = mome_tp_efd(); /* woken by a message */
        else
            wait = 1; /* messages came meanwhile */
    }
    if (serve && wait > SRV_SERVE_SLICE_MS)
        wait = SRV_SERVE_SLICE_MS; /* mome_msg_poll also hears of lost nodes */
    if (poll(pf, 3, wait) <= 0)
        return 0;
    if (pf[1].revents)
        mome_tp_beat();
    return pf[0].revents;
}

/* Until momed's socket takes more: 0, or -ETIMEDOUT after MOME_SRV_WAIT_MS. */
static int wait_writable(void)
{
    uint64_t t0 = mome_now_ns();
    int said = 0, r;
    while (!(r = srv_wait(POLLOUT, t0, MOME_SRV_WAIT_MS, &said, "read nothing from this node", 0)))
        ;
    return r < 0 ? r : 0;
}

int mome_srv_tx(const void *hdr, size_t hl, const void *data, size_t len)
{
    struct iovec {
        const void *b;
        size_t n;
    } parts[2] = {{hdr, hl}, {data, len}};

    if (srv_fd < 0)
        return -ENOTCONN;
    if (putv.n && !flushing)
        mome_srv_flush(); /* the pages given back before this message go first */
    for (int i = 0; i < 2; i++) {
        const uint8_t *p = parts[i].b;
        size_t left = parts[i].n;
        while (left) {
            ssize_t w = send(srv_fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                p += w;
                left -= (size_t)w;
                continue;
            }
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            /* momed reads whatever it is sent, between the checkpoints it writes: a socket
             * full for MOME_SRV_WAIT_MS means it is stuck or gone. Meanwhile the other machines
             * hear from this node. */
            if (wait_writable() < 0)
                return -ETIMEDOUT;
        }
    }
    return 0;
}

void mome_srv_flush(void)
{
    if (!putv.n || flushing)
        return;
    mome_srvbatch_t b = {.n = putv.n};
    flushing = 1;
    mome_send(MOME_TO_SERVER, MOME_SRV_PUTV, 0, &b, putv.buf, (uint32_t)putv.len);
    flushing = 0;
    mome_batch_reset(&putv);
}

void mome_srv_put(uint64_t seg, uint64_t page, const void *content, uint32_t len)
{
    int rc = mome_batch_push(&putv, seg, page, 0, content, len);
    if (rc == -E2BIG) { /* full: it goes now, and a new one starts */
        mome_srv_flush();
        rc = mome_batch_push(&putv, seg, page, 0, content, len);
    }
    if (rc < 0)
        mome_fatal("out of memory giving page %llu of segment %#llx back to %s; stopping",
                   (unsigned long long)page, (unsigned long long)seg, where);
}

static void gone(const char *why)
{
    mome_fatal("%s is gone (%s): the segments it serves cannot be kept coherent; stopping", where,
               why);
}

/* Read what is there into rbuf (0: nothing now, 1: some, or momed gone). */
static int fill(void)
{
    if (rcap - rlen < 65536) {
        size_t cap = rcap ? rcap * 2 : 1 << 20;
        uint8_t *b = mome_realloc(rbuf, cap);
        if (!b)
            mome_fatal("out of memory reading from %s; stopping", where);
        rbuf = b;
        rcap = cap;
    }
    ssize_t r = recv(srv_fd, rbuf + rlen, rcap - rlen, MSG_DONTWAIT);
    if (r > 0) {
        rlen += (size_t)r;
        return 1;
    }
    if (r == 0 && refused)
        return 0; /* momed said no to the hello, then let go: mome_srv_hello says why */
    if (r == 0)
        gone("it closed the connection: momed stopped, or cut this job off after the job lost a "
             "node (its log says which)");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    gone(strerror(errno));
    return 0;
}

/* Deliver the whole messages in rbuf. */
static int drain(void)
{
    size_t off = 0;
    int n = 0;
    while (rlen - off >= MOME_WIRE_HDR) {
        const uint8_t *h = rbuf + off;
        uint32_t len =
            (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
        if (len > MOME_SRV_WHY_MAX + (1u << 24))
            mome_fatal("%s sent a message of %u payload bytes: more than any it sends; "
                       "stopping",
                       where, len);
        if (rlen - off < MOME_WIRE_HDR + len)
            break;
        mome_msg_deliver(h, MOME_WIRE_HDR, h + MOME_WIRE_HDR, len, MOME_MSG_SERVER);
        off += MOME_WIRE_HDR + len;
        n++;
    }
    memmove(rbuf, rbuf + off, rlen - off);
    rlen -= off;
    return n;
}

int mome_srv_poll(void)
{
    int n = 0;
    if (srv_fd < 0)
        return 0;
    while (fill() > 0)
        n += drain();
    return n;
}

static void on_reply(const mome_msg_t *m, const void *body)
{
    const mome_srvopen_t *b = body;
    if (m->type != reply.type || b->token != reply.token || reply.have)
        return; /* a late reply to a call that gave up */
    reply.body = *b;
    size_t n = m->len < MOME_SRV_WHY_MAX ? m->len : MOME_SRV_WHY_MAX;
    memcpy(reply.why, m->payload, n);
    reply.why[n] = 0;
    reply.have = 1;
}

static void on_hello_ok(const mome_msg_t *m, const void *body)
{
    if (reply.type == MOME_SRV_HELLO_OK && !reply.have) {
        reply.body.id = ((const mome_srvhello_t *)body)->server;
        reply.have = 1;
        refused = !reply.body.id;
    }
}

int mome_srv_call(int type, const void *body, const void *payload, uint32_t len, int rtype,
                  uint64_t token, mome_srvopen_t *out, char *why, size_t whylen, int timeout_ms)
{
    int rc = 0;

    if (srv_fd < 0)
        return -ENOTCONN;
    memset(&reply, 0, sizeof(reply));
    reply.type = rtype;
    reply.token = token;
    mome_msg_hold();
    mome_send(MOME_TO_SERVER, type, 0, body, payload, len);
    uint64_t t0 = mome_now_ns();
    int said = 0;
    char what[64];
    snprintf(what, sizeof(what), "not answered %s", mome_msg_name(type));
    /* This node's sends to the other nodes still in flight (a full queue: the barrier before a
     * checkpoint's request, say) go on meanwhile (srv_wait); what they send here waits (held)
     * for after the call. */
    while (!reply.have) {
        int r = srv_wait(POLLIN, t0, timeout_ms, &said, what, 1);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r)
            mome_srv_poll();
    }
    mome_msg_unhold();
    reply.type = 0;
    if (rc < 0)
        return rc;
    if (out)
        *out = reply.body;
    if (why && whylen)
        snprintf(why, whylen, "%s", reply.why);
    return 0;
}

int mome_srv_hello(int rank, int nnodes, size_t page_size, char *err, size_t errlen)
{
    mome_srvhello_t h = {.server = srv_key,
                         .node = (uint32_t)rank,
                         .nnodes = (uint32_t)nnodes,
                         .page_size = (uint32_t)page_size,
                         .pid = (uint32_t)getpid()};
    mome_srvopen_t ok = {0};
    int rc = mome_srv_call(MOME_SRV_HELLO, &h, NULL, 0, MOME_SRV_HELLO_OK, 0, &ok, NULL, 0,
                           MOME_SRV_WAIT_MS);
    if (rc < 0)
        snprintf(err, errlen, "%s does not answer (%s)", where, strerror(-rc));
    else if (!ok.id) { /* refused: no pid */
        if (!srv_key)
            snprintf(err, errlen,
                     "%s refused this job: it did not give momed's key%s (the last word of "
                     "momed.addr in momed's repository, which only the repository's owner can "
                     "read)",
                     where, srv_named ? ", MOME_SERVER_KEY" : ": its address file has none");
        else
            snprintf(err, errlen,
                     "%s refused this job: the key it gave%s is not momed's (momed draws a new one "
                     "each time it starts: the last word of momed.addr in its repository, which "
                     "only the repository's owner can read)",
                     where, srv_named ? ", MOME_SERVER_KEY," : ", its address file's,");
        rc = -EACCES;
    }
    return rc;
}

/* ---- the message table: the replies (the requests are momed's to handle) ---- */

static const char *check_page(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    return m->len != ctx->page_size ? "payload (a page)" : NULL;
}

#define T(id) (*mome_srv_types[id])
static const mome_msg_def_t srv_msgs[] = {
    {.type = MOME_SRV_HELLO, .body_size = sizeof(mome_srvhello_t)},
    {.type = MOME_SRV_HELLO_OK,
     .body_size = sizeof(mome_srvhello_t),
     .service = 1,
     .handler = on_hello_ok},
    {.type = MOME_SRV_OPEN, .body_size = sizeof(mome_srvopen_t)},
    {.type = MOME_SRV_OPEN_REPLY,
     .body_size = sizeof(mome_srvopen_t),
     .service = 1,
     .handler = on_reply},
    {.type = MOME_SRV_CKPT, .body_size = sizeof(mome_srvopen_t)},
    {.type = MOME_SRV_CKPT_REPLY,
     .body_size = sizeof(mome_srvopen_t),
     .service = 1,
     .handler = on_reply},
    {.type = MOME_SRV_GET, .body_size = sizeof(mome_srvpage_t)},
    {.type = MOME_SRV_PUT, .body_size = sizeof(mome_srvpage_t), .validate = check_page},
    {.type = MOME_SRV_PUTV, .body_size = sizeof(mome_srvbatch_t)},
    {.type = MOME_SRV_BYE},
};

int mome_srv_register(void)
{
    static mome_msg_def_t d[sizeof(srv_msgs) / sizeof(srv_msgs[0])]; /* the table keeps them */
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        d[i] = srv_msgs[i];
        d[i].wire = T(d[i].type);
    }
    return mome_msg_register(d, sizeof(d) / sizeof(d[0]));
}
