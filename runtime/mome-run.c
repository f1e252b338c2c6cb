/*
 * mome-run.c - the local launcher: starts a job's nodes on this machine, serves them the boot
 * protocol of boot_wire.h over one socketpair each, and stops the whole job, never hanging, when a
 * node is lost, aborts, the job times out or the launcher is signalled.
 */
#ifdef HAVE_CONFIG_H
#include "ac_config.h"
#endif

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot_wire.h"
#include "launch_pmix.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2
#define EXIT_LAUNCHER 125 /* mome-run itself failed, as timeout(1) and env(1) do */
#define EXIT_TIMEOUT 124
#define EXIT_NOEXEC 127

#define MAX_NODES (1 << 20)
#define HDR_SIZE sizeof(mome_boot_frame_t)
#define NEVER INT64_MAX
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

/* After a loss or an abort, the other nodes stop by themselves within a second; these bound it. */
#define LOSS_TERM_MS 5000
#define LOSS_KILL_MS 7000
/* After SIGINT/SIGTERM/SIGHUP or a timeout the nodes got SIGTERM at once (each says what it waits
 * for, flushes its output and exits); this is their grace before SIGKILL. */
#define SIGNAL_KILL_MS 3000
/* --stuck-after: the default, and how often the nodes' status table is looked at. */
#define STUCK_DEFAULT_S 60.0
#define STUCK_CHECK_MS 500

/* A frame for nodes, built once and shared by every queue it sits in. */
struct msg {
    unsigned refs;
    size_t len;
    unsigned char data[]; /* header, then payload */
};

struct qent {
    struct msg *msg;
    struct qent *next;
};

/* One program of the command line and the number of nodes running it. */
struct block {
    char **argv; /* NULL-terminated in place of the ':' that ended it */
    int count;
};

struct node {
    int rank;
    pid_t pid;
    int fd; /* launcher end of the boot socket; -1 once closed */
    const char *prog;
    int app, app_rank, app_size; /* its program: index on the command line, rank in it, size */
    bool joined, finalized, gathered, lost, exited;
    bool aborted;    /* said so once: its other threads' aborts are not news */
    int mome_pidfd;  /* the process that joined, when not pid (a wrapper's child); else -1 */
    bool write_dead; /* the node stopped reading: drop what we would send it */
    int wstat;       /* from waitpid(), once exited */

    mome_boot_frame_t hdr; /* frame being received: got counts header then payload bytes */
    size_t got;
    unsigned char *payload;

    struct qent *qhead, *qtail; /* frames waiting for the socket to be writable */
    size_t qoff;                /* bytes of qhead already sent */

    unsigned char *blob; /* contribution to the current gather, valid when gathered */
    uint32_t bloblen;
};

/* The whole launcher state: a single thread owns it. */
static struct {
    struct node *nodes;
    int size;
    int live; /* nodes not yet reaped */
    bool quiet;
    double timeout_s;
    bool any_joined;
    bool stopping;    /* a loss, abort, signal or timeout is taking the job down */
    int pending_loss; /* rank of a node that left before anyone joined, or -1 */
    int stop_signal;
    uint32_t gather_seq;
    int gathered;                       /* nodes that contributed to gather_seq */
    int first_status;                   /* first non-zero node exit status */
    int first_failed;                   /* the node it came from, or -1 */
    bool failed_unsaid;                 /* first_failed's failure awaits its line at the end */
    int failures;                       /* nodes that exited with a non-zero status */
    int forced_status;                  /* timeout or launcher signal: wins over first_status */
    int abort_status;                   /* an abort's status (never 0), if all nodes exit 0 */
    int64_t deadline, term_at, kill_at; /* CLOCK_MONOTONIC ms, NEVER when unset */
    int sigfd;
    sigset_t saved_mask;
    struct rlimit saved_nofile; /* the caller's limit on open files, given back to the nodes */
    bool nofile_raised;
    /* The status table shared with the nodes (boot_wire.h), and what it said last. */
    int statfd;
    mome_boot_status_t *status;
    double stuck_s;         /* --stuck-after; 0: never */
    bool stuck_given;       /* on the command line (not with -H) */
    bool oversubscribe;     /* more local nodes than the machine's memory clearly holds */
    int64_t stuck_check;    /* next look at the table */
    int64_t last_progress;  /* when the sum of the progress counters last changed */
    uint64_t progress_sum;
    bool stuck_reported;    /* for the current stretch without progress */
    int missing;            /* how many say_missing had to name at the last look */
    int64_t missing_since;  /* since when that many */
    bool missing_said;
    uint64_t key; /* the job's random key: its nodes refuse messages without it */
} job;

/* -H, --hostfile: the job runs across machines through a PMIx launcher (launch_pmix.c). */
static struct pmix_job remote;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_at(int64_t *at, int64_t when)
{
    if (when < *at)
        *at = when;
}

static struct node *find_node(pid_t pid)
{
    for (int r = 0; r < job.size; r++)
        if (job.nodes[r].pid == pid)
            return &job.nodes[r];
    return NULL;
}

static int signal_live(int sig)
{
    int count = 0;

    for (int r = 0; r < job.size; r++) {
        struct node *n = &job.nodes[r];
        if (n->exited)
            continue;
        /*
         * A program started through a wrapper (a script, time, strace): the node itself, so that
         * it says what it waits for (helper-102), and the wrapper only with SIGKILL: dead at
         * once of a SIGTERM, it took the node's socket with it and left the node to be killed
         * as a leftover before it had said anything (helper-107). A pidfd: never another
         * process that took the node's pid once it exited.
         */
        if (n->mome_pidfd >= 0 &&
            syscall(SYS_pidfd_send_signal, n->mome_pidfd, sig, NULL, 0) == 0) {
            count++;
            if (sig != SIGKILL)
                continue;
        }
        if (n->pid > 0 && kill(n->pid, sig) == 0)
            count++;
    }
    return count;
}

/* The parent of pid (from /proc), or -1. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512], *p;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    int ppid = -1;
    if (f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
        sscanf(p + 2, "%*c %d", &ppid) != 1)
        ppid = -1;
    if (f)
        fclose(f);
    return ppid;
}

/*
 * A job stopped (time limit, signal, lost node): what the nodes started and left behind (a
 * `sleep &` in a node's script) came to mome-run, the subreaper, once its parent died; it goes
 * too, as mpirun's would (helper-102). Not what detached itself into a session of its own.
 */
static void kill_leftovers(void)
{
    pid_t self = getpid(), session = getsid(0);
    /* Until a pass finds none (a grandchild may come to mome-run during a pass); never waiting
     * for one (a process in the D state): the kernel reaps them once mome-run exits. */
    for (int pass = 0, found = 1; found && pass < 10; pass++) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        found = 0;
        while (d && (de = readdir(d))) {
            char *end;
            long pid = strtol(de->d_name, &end, 10);
            /* One that detached itself (setsid: the momed a node started) is left alone. */
            if (*end || pid <= 1 || parent_of((pid_t)pid) != self || getsid((pid_t)pid) != session)
                continue;
            if (kill((pid_t)pid, SIGKILL) == 0 && waitpid((pid_t)pid, NULL, WNOHANG) == 0)
                found = 1;
        }
        if (d)
            closedir(d);
        if (found) {
            struct timespec ts = {0, 10 * 1000 * 1000}; /* for the kills to land */
            nanosleep(&ts, NULL);
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        }
    }
}

/* The launcher cannot go on: no node may outlive it. */
static _Noreturn PRINTF_LIKE(1, 2) void fatal(const char *fmt, ...)
{
    va_list ap;

    fputs("mome-run: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);

    signal_live(SIGKILL);
    while (job.live > 0) {
        pid_t pid = waitpid(-1, NULL, 0);
        struct node *n;
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            break;
        n = find_node(pid);
        if (n && !n->exited) {
            n->exited = true;
            job.live--;
        }
    }
    exit(EXIT_LAUNCHER);
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        fatal("out of memory (%zu bytes)", size);
    return p;
}

/* ---- command line ---------------------------------------------------------------------------- */

static _Noreturn PRINTF_LIKE(1, 2) void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("mome-run: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'mome-run --help'.\n", stderr);
    exit(EXIT_USAGE);
}

static _Noreturn void print_help(void)
{
    fputs(
        "Usage: mome-run [options] -n N prog [args...] [: -n M prog2 [args...]]...\n"
        "Start a Mome job of N (+ M ...) nodes on this machine. Ranks are given in the order\n"
        "of the programs: prog runs as nodes 0 to N-1, prog2 as nodes N to N+M-1, and so on.\n"
        "\n"
        "Options (before the first program, except -n which starts every program's block):\n"
        "  -n, -np N            run the next program on N nodes (N >= 1; default with one\n"
        "                       program: one node per core this process may run on)\n"
        "  -t, --timeout SECS   stop the job if it still runs after SECS seconds (exit 124):\n"
        "                       SIGTERM (each node says what it waits for and flushes its\n"
        "                       output), SIGKILL 3 s later\n"
        "      --stuck-after SECS  when every node has waited in a Mome call for SECS seconds\n"
        "                       with none returning, each says what it waits for; the job\n"
        "                       goes on (default 60; 0: never; not with -H)\n"
        "      --oversubscribe  start more nodes than this machine's available memory holds\n"
        "                       at 8 MiB a node (refused otherwise)\n"
        "  -x NAME[=VALUE]      export NAME to the nodes, set to VALUE if given (repeatable)\n"
        "  -q, --quiet          do not report lost, aborting or failing nodes\n"
        "  -H, --host HOST[:N],...  run the job on these machines, N nodes on each (default\n"
        "                       1), through a PMIx launcher (prterun or Open MPI's mpirun);\n"
        "                       without -n, one node per place\n"
        "      --hostfile FILE  the same, from FILE: 'host', 'host slots=N' or 'host:N' lines\n"
        "      --launcher PATH  the PMIx launcher to use (default: prterun, then mpirun)\n"
        "      --dry-run        with -H or --hostfile: print the launcher's command, run nothing\n"
        "  --                   end of options: the next argument is the program\n"
        "  -h, --help           print this help and exit\n"
        "      --version        print the version and exit\n"
        "\n"
        "Exit status: the first non-zero exit status of a node (128+S for a node killed by\n"
        "signal S), 124 on timeout, 128+S if mome-run is stopped by signal S, 125 if mome-run\n"
        "itself fails, 2 on bad usage, otherwise 0. See mome-run(1).\n",
        stdout);
    exit(0);
}

static int parse_count(const char *opt, const char *arg, int total)
{
    char *end;
    long n;

    if (!arg)
        usage_error("option '%s' needs a node count", opt);
    errno = 0;
    n = strtol(arg, &end, 10);
    if (errno || end == arg || *end || n < 1)
        usage_error("invalid node count '%s' for '%s' (must be a whole number, 1 or more)", arg,
                    opt);
    if (n > MAX_NODES - total)
        usage_error("too many nodes (at most %d in a job)", MAX_NODES);
    return (int)n;
}

/* A number of seconds, more than 0 (or 0 too, if zero_ok: --stuck-after 0 turns it off). */
static double parse_seconds(const char *opt, const char *arg, bool zero_ok)
{
    char *end;
    double t;

    if (!arg)
        usage_error("option '%s' needs a number of seconds", opt);
    errno = 0;
    t = strtod(arg, &end);
    /* The comparisons are false for NaN too. */
    if (errno || end == arg || *end || !((t > 0 || (zero_ok && t == 0)) && t <= 1e8))
        usage_error("invalid value '%s' for %s (a number of seconds, %s)", arg, opt,
                    zero_ok ? "0 to turn it off" : "more than 0");
    return t;
}

/* -x NAME=VALUE sets NAME here, so the nodes inherit it; -x NAME keeps the current value. */
/*
 * -x NAME[=VALUE]. NAME must be a name as POSIX defines it (letters, digits and '_' of the portable
 * character set, not starting with a digit): else "-x -n 2 prog" would take "-n" for it.
 */
static void parse_export(const char *arg)
{
    size_t len;
    char *eq;

    if (!arg)
        usage_error("option '-x' needs a variable name");
    len = strcspn(arg, "=");
    if (len == 0 || (arg[0] >= '0' && arg[0] <= '9') ||
        strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != len)
        usage_error("invalid variable name '%.*s' for '-x' (letters, digits and '_', not "
                    "starting with a digit; -x NAME[=VALUE])",
                    (int)len, arg);
    eq = strchr(arg, '=');
    if (!eq) {
        if (!getenv(arg))
            fprintf(stderr, "mome-run: warning: -x %s: not set, so not exported\n", arg);
        return;
    }
    *eq = '\0'; /* argv strings are ours to modify */
    if (setenv(arg, eq + 1, 1) < 0)
        usage_error("cannot export '%s': %s", arg, strerror(errno));
    *eq = '=';
}

static bool is_job_option(const char *a)
{
    static const char *const names[] = {
        "-t",      "--timeout",  "-x",         "-q",        "--stuck-after",
        "--quiet", "-h",         "--help",     "--version", "-H",
        "--host",  "--hostfile", "--launcher", "--dry-run", "--oversubscribe"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(a, names[i]) == 0)
            return true;
    return false;
}

/* One job-wide option at argv[i]; returns the index of the next argument. */
static int parse_job_option(int argc, char **argv, int i)
{
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;

    if (strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0) {
        job.timeout_s = parse_seconds(a, val, false);
        return i + 2;
    }
    if (strcmp(a, "--stuck-after") == 0) {
        job.stuck_s = parse_seconds(a, val, true);
        job.stuck_given = true;
        return i + 2;
    }
    if (strcmp(a, "-x") == 0) {
        parse_export(val);
        remote.exports = realloc(remote.exports, sizeof(*remote.exports) * (size_t)(argc + 1));
        if (!remote.exports)
            fatal("out of memory");
        remote.exports[remote.nexports++] = strndup(val, strcspn(val, "="));
        return i + 2;
    }
    if (strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0 || strcmp(a, "--hostfile") == 0 ||
        strcmp(a, "--launcher") == 0) {
        if (!val)
            usage_error("option '%s' needs %s", a,
                        a[2] == 'h' && a[6] == 'f' ? "a file" : a[2] == 'l' ? "a path"
                                                                           : "a host list");
        /* Given twice, the second replaced the first without a word (-H a:2 -H b:2 ran on b
         * alone). */
        const char **to = strcmp(a, "--launcher") == 0   ? &remote.launcher
                          : strcmp(a, "--hostfile") == 0 ? &remote.hostfile
                                                         : &remote.hosts;
        if (*to)
            usage_error("%s", to == &remote.hosts ? "-H (--host) given twice: name every host "
                                                    "in one list, e.g. -H a:2,b:2"
                              : to == &remote.hostfile
                                  ? "--hostfile given twice: put every host in one file"
                                  : "--launcher given twice: give one");
        *to = val;
        return i + 2;
    }
    if (strcmp(a, "--dry-run") == 0) {
        remote.dry_run = true;
        return i + 1;
    }
    if (strcmp(a, "--oversubscribe") == 0) {
        job.oversubscribe = true;
        return i + 1;
    }
    if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
        job.quiet = true;
        return i + 1;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        print_help();
    if (strcmp(a, "--version") == 0) {
        printf("mome-run (Mome) %s\n", PACKAGE_VERSION);
        exit(0);
    }
    usage_error("unknown option '%s'", a);
}

/*
 * Parse one block "[options] -n N prog [args...]" starting at argv[i]. Returns the index of the
 * ':' that ends it (replaced by NULL, so b->argv is terminated) or argc.
 */
static int parse_block(int argc, char **argv, int i, bool first, int total, struct block *b)
{
    b->count = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0';) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-n") == 0 || strcmp(a, "-np") == 0) {
            if (b->count)
                usage_error("'%s' given twice for one program", a);
            b->count = parse_count(a, i + 1 < argc ? argv[i + 1] : NULL, total);
            i += 2;
            continue;
        }
        if (!first)
            usage_error(is_job_option(a) ? "option '%s' must come before the first program"
                                         : "unknown option '%s'",
                        a);
        i = parse_job_option(argc, argv, i);
    }
    if (i >= argc || strcmp(argv[i], ":") == 0)
        usage_error("no program given");
    if (!b->count && !remote.hosts && !remote.hostfile && !first)
        usage_error("missing -n before '%s' (required for every program after the first ':')",
                    argv[i]);
    b->argv = &argv[i];
    while (i < argc && strcmp(argv[i], ":") != 0)
        i++;
    if (i < argc)
        argv[i] = NULL;
    return i;
}

/* Without -n: one node per core this process may run on (its affinity mask, else the online
 * processors), as mpirun gives one per slot. */
static int default_count(void)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return online > 0 ? (int)online : 1;
}

/* Returns the blocks, *nblocks of them, for *total nodes in all. */
static struct block *parse_args(int argc, char **argv, int *nblocks, int *total)
{
    struct block *blocks = xmalloc(sizeof(*blocks) * (size_t)argc);
    int i = 1;

    *nblocks = 0;
    *total = 0;
    for (;;) {
        struct block *b = &blocks[(*nblocks)++];
        i = parse_block(argc, argv, i, *nblocks == 1, *total, b);
        *total += b->count;
        if (i >= argc) {
            if (!blocks[0].count && !remote.hosts && !remote.hostfile) {
                if (*nblocks > 1)
                    usage_error("missing -n before '%s' (with several programs, each needs its "
                                "node count)", blocks[0].argv[0]);
                blocks[0].count = *total = default_count();
            }
            return blocks;
        }
        if (++i >= argc)
            usage_error("nothing after ':'");
    }
}

/* ---- before starting them ------------------------------------------------------------------- */

/*
 * The memory this machine gives mome-run's nodes: MemAvailable, or less if a cgroup (v2) limits
 * this process and its children (the smallest memory.max of its cgroup and their ancestors: a
 * limit, not limit - usage, since usage counts the page cache the kernel gives back). 0: unknown.
 */
static uint64_t available_memory(void)
{
    char line[PATH_MAX + 64], dir[sizeof(line) + 32];
    unsigned long long v;
    uint64_t avail = 0;
    FILE *f = fopen("/proc/meminfo", "re");

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            avail = (uint64_t)v * 1024;
            break;
        }
    if (f)
        fclose(f);
    f = fopen("/proc/self/cgroup", "re");
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strncmp(line, "0::/", 4) == 0;
    if (f)
        fclose(f);
    if (!avail || !found)
        return avail;
    line[strcspn(line, "\n")] = '\0';
    for (char *cg = line + 3;;) { /* "/a/b", then "/a", then "" (the root has no memory.max) */
        snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s/memory.max", cg);
        FILE *m = fopen(dir, "re");
        if (m && fscanf(m, "%llu", &v) == 1 && v < avail)
            avail = v;
        if (m)
            fclose(m);
        char *slash = strrchr(cg, '/');
        if (!slash)
            break;
        *slash = '\0';
    }
    return avail;
}

/*
 * Refuse, before starting any, more nodes than the machine clearly holds: 100000 nodes were
 * forked at once, the machine ran out of memory and its OOM killer took mome-run, with not a
 * word. NODE_MIN_MEMORY is well under what a Mome node takes (about 4 MiB of its own memory for
 * a node that does nothing, plus what the kernel keeps for it), so that any job that may fit
 * runs: 48 nodes on 2 cores are fine.
 */
#define NODE_MIN_MEMORY (8ull << 20)
static void check_room(int total)
{
    uint64_t avail = job.oversubscribe ? 0 : available_memory();

    if (!avail || (uint64_t)total <= avail / NODE_MIN_MEMORY)
        return;
    usage_error("%d nodes cannot run on this machine: its available memory (%llu MiB) holds at "
                "most %llu at %llu MiB each; run fewer, or give --oversubscribe to start them "
                "all the same",
                total, (unsigned long long)(avail >> 20),
                (unsigned long long)(avail / NODE_MIN_MEMORY),
                (unsigned long long)(NODE_MIN_MEMORY >> 20));
}

/*
 * Whether executing `path` fails for sure: 0 if not, else an errno value, or -1 for a script
 * whose #! interpreter is missing (the kernel says ENOENT, as for a missing file), with what to
 * say in why (for "cannot execute 'prog': ...").
 */
static int exec_fails(const char *path, char *why, size_t len)
{
    struct stat st;
    char head[256];
    int err;

    if (stat(path, &st) < 0)
        err = errno;
    else if (S_ISDIR(st.st_mode))
        err = EISDIR; /* (execve says EACCES) */
    else if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
        err = EACCES;
    else {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        ssize_t got = fd >= 0 ? read(fd, head, sizeof(head) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (got < 3 || head[0] != '#' || head[1] != '!' || !memchr(head, '\n', (size_t)got))
            return 0; /* (a #! line longer than read here: the kernel decides) */
        head[got] = '\0';
        char *interp = head + 2 + strspn(head + 2, " \t");
        interp[strcspn(interp, " \t\r\n")] = '\0';
        if (!*interp || access(interp, X_OK) == 0)
            return 0;
        snprintf(why, len, "its interpreter '%s' (its #! line) %s", interp,
                 errno == ENOENT ? "does not exist" : strerror(errno));
        return -1;
    }
    snprintf(why, len, "%s", strerror(err));
    return err;
}

/* As exec_fails, for prog found as execvp(3) finds it: in PATH when it has no '/'. */
static bool prog_fails(const char *prog, char *why, size_t len)
{
    char path[PATH_MAX], dirs[8192], interp[PATH_MAX + 64] = "";
    bool denied = false;

    if (!*prog) {
        snprintf(why, len, "%s", strerror(ENOENT));
        return true;
    }
    if (strchr(prog, '/'))
        return exec_fails(prog, why, len) != 0;
    const char *env = getenv("PATH");
    if (snprintf(dirs, sizeof(dirs), "%s", env ? env : "/bin:/usr/bin") >= (int)sizeof(dirs))
        return false; /* execvp decides */
    for (char *d = dirs, *end; d; d = end ? end + 1 : NULL) {
        end = strchr(d, ':');
        if (end)
            *end = '\0';
        int n = snprintf(path, sizeof(path), "%s/%s", *d ? d : ".", prog);
        if (n < 0 || n >= (int)sizeof(path) || access(path, F_OK) < 0)
            continue;
        /* execvp goes on past what it may not execute: EACCES if nothing would do. */
        int err = exec_fails(path, why, len);
        if (err == 0)
            return false;
        if (err == -1 && !interp[0])
            snprintf(interp, sizeof(interp), "%s", why);
        denied = denied || err != -1;
    }
    if (denied)
        snprintf(why, len, "%s", strerror(EACCES));
    else
        snprintf(why, len, "%s", interp[0] ? interp : strerror(ENOENT));
    return true;
}

/* A program that cannot be executed is said once, and no node started: each of N nodes said it
 * (mome-run -n 8 ./nonexist printed 8 lines). */
static void check_programs(const struct block *blocks, int nblocks)
{
    char why[PATH_MAX + 128];

    for (int b = 0; b < nblocks; b++)
        if (prog_fails(blocks[b].argv[0], why, sizeof(why))) {
            fprintf(stderr, "mome-run: cannot execute '%s': %s\n", blocks[b].argv[0], why);
            exit(EXIT_NOEXEC);
        }
}

/* ---- starting the nodes ---------------------------------------------------------------------- */

/* Children must find 0, 1 and 2 open, or a boot socket would land there and be clobbered. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
            fatal("cannot open /dev/null for fd %d: %s", fd, strerror(errno));
}

/* Watch sig, unless it was ignored when we started (nohup, a background job of a script). */
void watch_signal(sigset_t *set, int sig)
{
    struct sigaction old;

    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        return;
    sigaddset(set, sig);
}

/* A parent that ignored SIGCHLD (a daemon, a Perl or Python wrapper) hands that on across exec:
 * the children would be reaped unseen, and mome-run would wait for them for ever (helper-87). */
void watch_children(sigset_t *set)
{
    signal(SIGCHLD, SIG_DFL);
    sigaddset(set, SIGCHLD);
}

static void setup_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    watch_children(&set);
    watch_signal(&set, SIGINT);
    watch_signal(&set, SIGTERM);
    watch_signal(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, &job.saved_mask) < 0)
        fatal("sigprocmask: %s", strerror(errno));
    job.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (job.sigfd < 0)
        fatal("signalfd: %s", strerror(errno));
    /* A node that dies while we write to it must not kill the launcher. */
    signal(SIGPIPE, SIG_IGN);
}

static int set_boot_env(const struct node *n, int boot_fd)
{
    const struct {
        const char *name;
        int value;
    } vars[] = {
        {"MOME_BOOT_FD", boot_fd},          {"MOME_BOOT_RANK", n->rank},
        {"MOME_BOOT_SIZE", job.size},       {"MOME_BOOT_LOCAL_RANK", n->rank},
        {"MOME_BOOT_LOCAL_SIZE", job.size}, {"MOME_BOOT_APP", n->app},
        {"MOME_BOOT_APP_RANK", n->app_rank}, {"MOME_BOOT_APP_SIZE", n->app_size},
        {"MOME_BOOT_STATUS_FD", job.statfd},
    };
    char buf[24];

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (vars[i].value < 0)
            continue; /* no status table */
        snprintf(buf, sizeof(buf), "%d", vars[i].value);
        if (setenv(vars[i].name, buf, 1) < 0)
            return -1;
    }
    snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)job.key);
    return setenv("MOME_BOOT_KEY", buf, 1);
}

/*
 * In the forked child: become node n and exec. Every launcher fd is close-on-exec except the
 * node's own end of its boot socket.
 */
static _Noreturn void child_exec(const struct node *n, char **argv, int boot_fd, int devnull,
                                 pid_t launcher)
{
    /*
     * If mome-run dies without a word (kill -9), its nodes die with it, even those that never
     * reach MomeInit (a node joined later would see its socket close; one that never joins
     * would be orphaned). The setting survives exec. The launcher may already be gone.
     */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != launcher)
        _exit(EXIT_LAUNCHER);
    /* An ignored SIGPIPE and a blocked mask would survive exec; so would mome-run's raised limit
     * on open files (a program using select() expects the caller's). */
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &job.saved_mask, NULL);
    if (job.nofile_raised)
        setrlimit(RLIMIT_NOFILE, &job.saved_nofile);

    if ((n->rank == 0 || dup2(devnull, STDIN_FILENO) >= 0) && fcntl(boot_fd, F_SETFD, 0) == 0 &&
        (job.statfd < 0 || fcntl(job.statfd, F_SETFD, 0) == 0) && set_boot_env(n, boot_fd) == 0)
        execvp(argv[0], argv);
    /* (check_programs said it already, unless the program changed since.) */
    char why[PATH_MAX + 128];
    int err = errno;
    if (!prog_fails(argv[0], why, sizeof(why)))
        snprintf(why, sizeof(why), "%s", strerror(err));
    dprintf(STDERR_FILENO, "mome-run: cannot execute '%s': %s\n", argv[0], why);
    _exit(EXIT_NOEXEC);
}

static void launch_node(struct node *n, char **argv, int devnull)
{
    int sv[2];
    pid_t pid, self = getpid();

    /* Not SOCK_NONBLOCK: it would make the node's end nonblocking too. We use MSG_DONTWAIT. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        fatal("cannot create the boot socket of node %d: %s", n->rank, strerror(errno));
    pid = fork();
    if (pid < 0)
        fatal("cannot start node %d: fork: %s", n->rank, strerror(errno));
    if (pid == 0)
        child_exec(n, argv, sv[1], devnull, self);
    close(sv[1]);
    n->fd = sv[0];
    n->pid = pid;
    job.live++;
}

/* The status table (boot_wire.h): without it the job runs, only --stuck-after is off. */
static void open_status(int total)
{
    size_t len = sizeof(mome_boot_status_t) * (size_t)total;
    void *p;

    job.statfd = memfd_create("mome-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (job.statfd < 0)
        return;
    /* Sealed at its size: a node that truncated it made mome-run die of SIGBUS (helper-102). */
    if (ftruncate(job.statfd, (off_t)len) < 0 ||
        fcntl(job.statfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
        (p = mmap(NULL, len, PROT_READ, MAP_SHARED, job.statfd, 0)) == MAP_FAILED) {
        close(job.statfd);
        job.statfd = -1;
        return;
    }
    job.status = p;
}

static void launch_all(const struct block *blocks, int nblocks, int total)
{
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int rank = 0;

    if (devnull < 0)
        fatal("cannot open /dev/null: %s", strerror(errno));
    job.nodes = xmalloc(sizeof(*job.nodes) * (size_t)total);
    memset(job.nodes, 0, sizeof(*job.nodes) * (size_t)total);
    for (int r = 0; r < total; r++)
        job.nodes[r].fd = job.nodes[r].mome_pidfd = -1;
    job.size = total; /* only now, so that fatal() never walks a missing table */
    open_status(total);
    for (int b = 0; b < nblocks; b++) {
        for (int k = 0; k < blocks[b].count; k++, rank++) {
            job.nodes[rank].rank = rank;
            job.nodes[rank].prog = blocks[b].argv[0];
            job.nodes[rank].app = b;
            job.nodes[rank].app_rank = k;
            job.nodes[rank].app_size = blocks[b].count;
            launch_node(&job.nodes[rank], blocks[b].argv, devnull);
        }
    }
    close(devnull);
    if (job.statfd >= 0) { /* every node has it: the mapping is all this process needs now */
        close(job.statfd);
        job.statfd = -1;
    }
}

/* ---- sending to nodes ------------------------------------------------------------------------ */

static struct msg *msg_new(uint32_t type, uint32_t arg, size_t len)
{
    struct msg *m = xmalloc(sizeof(*m) + HDR_SIZE + len);
    mome_boot_frame_t f = {MOME_BOOT_MAGIC, type, (uint32_t)len, arg};

    m->refs = 1;
    m->len = HDR_SIZE + len;
    memcpy(m->data, &f, HDR_SIZE);
    return m;
}

static void msg_put(struct msg *m)
{
    if (--m->refs == 0)
        free(m);
}

static void drop_queue(struct node *n)
{
    while (n->qhead) {
        struct qent *e = n->qhead;
        n->qhead = e->next;
        msg_put(e->msg);
        free(e);
    }
    n->qtail = NULL;
    n->qoff = 0;
}

/* Send what the socket takes now; poll(POLLOUT) brings us back for the rest. */
static void node_flush(struct node *n)
{
    while (n->fd >= 0 && n->qhead) {
        struct msg *m = n->qhead->msg;
        ssize_t w = send(n->fd, m->data + n->qoff, m->len - n->qoff, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w < 0) {
            /* The node is gone or going; keep reading what it sent, its exit decides. */
            n->write_dead = true;
            drop_queue(n);
            return;
        }
        n->qoff += (size_t)w;
        if (n->qoff == m->len) {
            struct qent *e = n->qhead;
            n->qhead = e->next;
            if (!n->qhead)
                n->qtail = NULL;
            n->qoff = 0;
            msg_put(m);
            free(e);
        }
    }
}

static void node_queue(struct node *n, struct msg *m)
{
    struct qent *e;

    if (n->fd < 0 || n->exited || n->write_dead)
        return;
    e = xmalloc(sizeof(*e));
    e->msg = m;
    e->next = NULL;
    m->refs++;
    if (n->qtail)
        n->qtail->next = e;
    else
        n->qhead = e;
    n->qtail = e;
    node_flush(n);
}

static void send_all(uint32_t type, uint32_t arg, const void *data, size_t len,
                     const struct node *except)
{
    struct msg *m = msg_new(type, arg, len);

    if (len)
        memcpy(m->data + HDR_SIZE, data, len);
    for (int r = 0; r < job.size; r++)
        if (&job.nodes[r] != except)
            node_queue(&job.nodes[r], m);
    msg_put(m);
}

static void node_close(struct node *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    if (n->mome_pidfd >= 0)
        close(n->mome_pidfd);
    n->mome_pidfd = -1;
    drop_queue(n);
    free(n->payload);
    n->payload = NULL;
    n->got = 0;
}

/* ---- stopping the job ------------------------------------------------------------------------ */

/* The other nodes were told to stop; make sure they do. */
static void stop_later(void)
{
    int64_t now = now_ms();

    job.stopping = true;
    set_at(&job.term_at, now + LOSS_TERM_MS);
    set_at(&job.kill_at, now + LOSS_KILL_MS);
}

/* How node n ended: "killed by signal 9 (Killed)", "exited with status 3" then `exited`. */
static void exit_how(const struct node *n, const char *exited, char *buf, size_t len)
{
    if (WIFSIGNALED(n->wstat))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(n->wstat),
                 strsignal(WTERMSIG(n->wstat)));
    else
        snprintf(buf, len, "exited with status %d%s", WEXITSTATUS(n->wstat), exited);
}

static void exit_reason(const struct node *n, char *buf, size_t len)
{
    exit_how(n, " before MomeFinalize", buf, len);
}

/* Node n failed and nothing else says so (it is not lost, nobody aborted): say it. */
static void say_failed(const struct node *n, const char *when)
{
    char how[128];

    if (job.quiet)
        return;
    exit_how(n, "", how, sizeof(how));
    fprintf(stderr, "mome-run: node %d (pid %d, %s) %s%s", n->rank, (int)n->pid, n->prog, how,
            when);
    if (job.failures > 1)
        fprintf(stderr, " (and %d other node%s failed)", job.failures - 1,
                job.failures > 2 ? "s" : "");
    fputc('\n', stderr);
}

/* Node n is gone for the job: tell the others, who stop with a message naming it. */
static void node_lost(struct node *n, const char *reason)
{
    char text[256];

    n->lost = true;
    if (job.stopping)
        return; /* a consequence of the first loss, not news */
    if (!job.quiet)
        fprintf(stderr, "mome-run: node %d (pid %d, %s) was lost: %s\n", n->rank, (int)n->pid,
                n->prog, reason);
    snprintf(text, sizeof(text), "node %d (pid %d) %s", n->rank, (int)n->pid, reason);
    send_all(MOME_BOOT_NODE_LOST, (uint32_t)n->rank, text, strlen(text), n);
    stop_later();
}

static void node_lost_exit(struct node *n)
{
    char reason[128];

    exit_reason(n, reason, sizeof(reason));
    node_lost(n, reason);
}

static PRINTF_LIKE(2, 3) void protocol_error(struct node *n, const char *fmt, ...)
{
    char detail[96], reason[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(reason, sizeof(reason), "protocol error (%s)", detail);
    node_close(n);
    node_lost(n, reason);
}

/* The job cannot go on for a reason no node reported: stop it as if a node had aborted. */
static PRINTF_LIKE(1, 2) void launcher_abort(const char *fmt, ...)
{
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mome-run: %s; stopping the job\n", text);
    if (!job.abort_status)
        job.abort_status = 1;
    send_all(MOME_BOOT_ABORT_JOB, 1, text, strlen(text), NULL);
    stop_later();
}

/* ---- serving frames -------------------------------------------------------------------------- */

/* The current gather is over, delivered or not: the next one has the next sequence number. */
static void gather_reset(void)
{
    for (int r = 0; r < job.size; r++) {
        struct node *n = &job.nodes[r];
        free(n->blob);
        n->blob = NULL;
        n->bloblen = 0;
        n->gathered = false;
    }
    job.gathered = 0;
    job.gather_seq++;
}

/* Everyone is in: each live node gets u32 len[size], then the blobs in rank order. */
static void gather_send(void)
{
    uint64_t total = (uint64_t)job.size * sizeof(uint32_t);
    unsigned char *p;
    struct msg *m;

    for (int r = 0; r < job.size; r++)
        total += job.nodes[r].bloblen;
    if (total > MOME_BOOT_MAX_PAYLOAD) {
        launcher_abort("gather %u: the result of %llu bytes exceeds the %u-byte frame limit",
                       job.gather_seq, (unsigned long long)total, MOME_BOOT_MAX_PAYLOAD);
        gather_reset();
        return;
    }
    m = msg_new(MOME_BOOT_GATHER_RESULT, job.gather_seq, (size_t)total);
    p = m->data + HDR_SIZE;
    for (int r = 0; r < job.size; r++, p += sizeof(uint32_t))
        memcpy(p, &job.nodes[r].bloblen, sizeof(uint32_t));
    for (int r = 0; r < job.size; r++) {
        if (job.nodes[r].bloblen)
            memcpy(p, job.nodes[r].blob, job.nodes[r].bloblen);
        p += job.nodes[r].bloblen;
    }
    for (int r = 0; r < job.size; r++)
        node_queue(&job.nodes[r], m);
    msg_put(m);
    gather_reset();
}

/* Complete the gather once everyone is in; abort it if a node left without taking part. */
static void gather_progress(void)
{
    if (job.gathered == job.size) {
        gather_send();
        return;
    }
    if (job.gathered == 0 || job.stopping)
        return;
    for (int r = 0; r < job.size; r++) {
        struct node *n = &job.nodes[r];
        if (n->finalized && !n->gathered) {
            launcher_abort("node %d finalized while gather %u was waiting for it", r,
                           job.gather_seq);
            return;
        }
    }
}

static void on_join(struct node *n, const mome_boot_frame_t *f, const unsigned char *payload)
{
    if (n->joined || f->arg != (uint32_t)n->rank || f->len != sizeof(uint32_t)) {
        protocol_error(n, "bad JOIN: rank %u, %u payload bytes%s", f->arg, f->len,
                       n->joined ? ", sent twice" : "");
        return;
    }
    n->joined = true;
    job.any_joined = true;
    uint32_t pid;
    memcpy(&pid, payload, sizeof(pid));
    /* A node behind a wrapper: the process that joined descends from the one started. */
    pid_t up = (pid_t)pid;
    for (int depth = 0; pid != (uint32_t)n->pid && up > 1 && depth < 16; depth++)
        if ((up = parent_of(up)) == n->pid) {
            n->mome_pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
            break;
        }
    /* A node left before anybody joined: the joiners would wait for it forever. */
    if (job.pending_loss >= 0 && !job.stopping) {
        struct node *early = &job.nodes[job.pending_loss];
        job.pending_loss = -1;
        node_lost_exit(early);
    }
}

static void on_finalize(struct node *n)
{
    n->finalized = true; /* its exit, whatever the status, is no longer a loss */
    gather_progress();
}

/* Takes the payload. */
static void on_gather(struct node *n, const mome_boot_frame_t *f, unsigned char *payload)
{
    if (n->gathered || f->arg != job.gather_seq) {
        free(payload);
        if (n->gathered)
            protocol_error(n, "GATHER %u sent twice", f->arg);
        else
            protocol_error(n, "GATHER %u while gather %u is current", f->arg, job.gather_seq);
        return;
    }
    n->blob = payload;
    n->bloblen = f->len;
    n->gathered = true;
    job.gathered++;
    gather_progress();
}

/*
 * A node aborted. Its status as an exit status (the low 8 bits) may be 0 (MomeAbort(256) of an
 * older library): the other nodes are told 1 then, and the job never ends with 0.
 */
static void on_abort(struct node *n, const mome_boot_frame_t *f, const unsigned char *payload)
{
    const char *text = payload ? (const char *)payload : "";
    int shown = (int)strnlen(text, f->len);
    uint32_t status = (f->arg & 0xff) ? f->arg : 1;

    /* The first ABORT of a node gives its reason; another (an older library's threads aborting
     * at once each sent one) is no news: it printed and re-broadcast once per thread. */
    if (n->aborted)
        return;
    n->aborted = true;
    if (!job.abort_status)
        job.abort_status = (int)(status & 0xff);

    while (shown > 0 && (text[shown - 1] == '\n' || text[shown - 1] == ' '))
        shown--;
    /* Mome itself stopped the job there (mome_fatal: "node R: " and what it found, often about
     * other nodes), not the program's MomeAbort: "node 0 aborted: node 0: node 1 is in ..." read
     * as if node 0 were at fault. */
    char own[32];
    int ownlen = snprintf(own, sizeof(own), "node %d: ", n->rank);
    if (!job.quiet && ownlen > 0 && shown > ownlen && strncmp(text, own, (size_t)ownlen) == 0)
        fprintf(stderr, "mome-run: node %d stopped the job: %.*s\n", n->rank, shown - ownlen,
                text + ownlen);
    else if (!job.quiet)
        fprintf(stderr, "mome-run: node %d aborted: %.*s\n", n->rank, shown, text);
    send_all(MOME_BOOT_ABORT_JOB, status, payload, f->len, n);
    stop_later();
}

static const char *unexpected(const struct node *n)
{
    if (n->finalized)
        return "after FINALIZE";
    return n->joined ? "not expected" : "before JOIN";
}

/* Handle one complete frame from node n; takes the payload. */
static void dispatch(struct node *n, const mome_boot_frame_t *f, unsigned char *payload)
{
    if (f->type == MOME_BOOT_GATHER && n->joined && !n->finalized) {
        on_gather(n, f, payload);
        return;
    }
    if (f->type == MOME_BOOT_ABORT)
        on_abort(n, f, payload);
    else if (f->type == MOME_BOOT_JOIN && !n->finalized)
        on_join(n, f, payload);
    else if (f->type == MOME_BOOT_FINALIZE && n->joined && !n->finalized)
        on_finalize(n);
    else
        protocol_error(n, "frame type %u %s", f->type, unexpected(n));
    free(payload);
}

/* A header just arrived: check it and get room for the payload. */
static bool header_ok(struct node *n)
{
    if (n->hdr.magic != MOME_BOOT_MAGIC) {
        protocol_error(n, "bad magic 0x%08x", n->hdr.magic);
        return false;
    }
    if (n->hdr.len > MOME_BOOT_MAX_PAYLOAD) {
        protocol_error(n, "payload of %u bytes", n->hdr.len);
        return false;
    }
    n->payload = n->hdr.len ? xmalloc(n->hdr.len) : NULL;
    return true;
}

/* Read and serve what node n has sent, until the socket is empty or closed. */
static void node_read(struct node *n)
{
    while (n->fd >= 0) {
        bool in_hdr = n->got < HDR_SIZE;
        unsigned char *dst =
            in_hdr ? (unsigned char *)&n->hdr + n->got : n->payload + (n->got - HDR_SIZE);
        size_t want = in_hdr ? HDR_SIZE - n->got : n->hdr.len - (n->got - HDR_SIZE);
        ssize_t r = recv(n->fd, dst, want, MSG_DONTWAIT);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            /* EOF or reset is not a loss by itself: the node's exit decides. */
            node_close(n);
            return;
        }
        n->got += (size_t)r;
        if (n->got == HDR_SIZE && !header_ok(n))
            return;
        if (n->got == HDR_SIZE + n->hdr.len) {
            mome_boot_frame_t f = n->hdr;
            unsigned char *payload = n->payload;
            n->payload = NULL;
            n->got = 0;
            dispatch(n, &f, payload);
        }
    }
}

/* ---- node exits, signals, timers ------------------------------------------------------------- */

static void node_reaped(struct node *n, int wstat)
{
    /* Whatever it sent before dying (FINALIZE, ABORT) is in the socket and decides how it left. */
    node_read(n);
    node_close(n);
    n->exited = true;
    n->wstat = wstat;
    job.live--;
    int status = WIFSIGNALED(wstat) ? 128 + WTERMSIG(wstat) : WEXITSTATUS(wstat);
    bool first = status && !job.first_status;
    if (status)
        job.failures++;
    if (first) {
        job.first_status = status;
        job.first_failed = n->rank;
    }
    if (n->lost || job.stopping)
        return;
    /* A failure that is no loss decides the exit status all the same: say which node it was
     * (a node killed after MomeFinalize, or a job of programs without Mome, ended with a
     * failing status and not a word). The first only: its status is the job's. */
    if (n->finalized) {
        if (first)
            say_failed(n, " after MomeFinalize");
        return;
    }
    if (!job.any_joined) {
        /* Maybe not a Mome program at all (mome-run -n 2 hostname): a loss only if one joins;
         * if none does, its failure is said at the end (say_unsaid). */
        job.failed_unsaid |= first;
        if (job.pending_loss < 0)
            job.pending_loss = n->rank;
        return;
    }
    /* The last node too, if it joined: a one-node job that skipped MomeFinalize (its persistent
     * segments' final content unsaved) is not a success either (helper-87). */
    if (job.live > 0 || n->joined)
        node_lost_exit(n);
}

/* The job is over and no node joined it: the first failure, if nothing was said about it. */
static void say_unsaid(void)
{
    if (job.failed_unsaid && !job.any_joined && !job.stopping && job.first_failed >= 0)
        say_failed(&job.nodes[job.first_failed], "");
}

static void reap_children(void)
{
    for (;;) {
        int wstat;
        pid_t pid = waitpid(-1, &wstat, WNOHANG);
        struct node *n;

        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            return;
        n = find_node(pid);
        if (n && !n->exited)
            node_reaped(n, wstat);
    }
}

static void on_signal(int signo)
{
    if (job.stop_signal) {
        /* Asked twice: no more grace. */
        signal_live(SIGKILL);
        return;
    }
    job.stop_signal = signo;
    job.stopping = true;
    if (!job.forced_status)
        job.forced_status = 128 + signo;
    signal_live(SIGTERM);
    set_at(&job.kill_at, now_ms() + SIGNAL_KILL_MS);
}

static void read_signals(void)
{
    struct signalfd_siginfo si;

    for (;;) {
        ssize_t r = read(job.sigfd, &si, sizeof(si));
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof(si))
            break;
        if (si.ssi_signo != SIGCHLD)
            on_signal((int)si.ssi_signo);
    }
    /* SIGCHLDs coalesce, so always reap everything that is ready. */
    reap_children();
}

/*
 * The nodes that cannot say what they wait for, said by mome-run: those that never called
 * MomeInit, and those the others wait for in a job-wide exchange (MomeInit's, MomeFinalize's).
 * A job where one node never reached MomeInit hung with no word but the time limit's
 * (helper-102).
 */
static int say_missing(bool say)
{
    int waiting = job.gathered > 0 && job.gathered < job.size, missing = 0;
    for (int r = 0; r < job.size; r++) {
        const struct node *n = &job.nodes[r];
        /* (A job of programs without Mome has not a word: nobody joined.) */
        bool unjoined = !n->exited && !n->joined && job.any_joined;
        bool awaited = !n->exited && n->joined && waiting && !n->gathered && !n->finalized;
        missing += unjoined || awaited;
        if (say && unjoined)
            fprintf(stderr, "mome-run: node %d (pid %d, %s) has not called MomeInit%s\n", r,
                    (int)n->pid, n->prog, waiting ? "; the others wait for it there" : "");
        else if (say && awaited)
            fprintf(stderr,
                    "mome-run: the other nodes wait in a job-wide exchange (MomeInit's or "
                    "MomeFinalize's) for node %d (pid %d, %s)\n",
                    r, (int)n->pid, n->prog);
    }
    return missing;
}

static void time_out(void)
{
    job.stopping = true;
    if (!job.forced_status)
        job.forced_status = EXIT_TIMEOUT;
    fprintf(stderr, "mome-run: job timed out after %g s; stopping %d node(s): SIGTERM now (each "
            "says what it waits for), SIGKILL in %d s\n", job.timeout_s, job.live,
            SIGNAL_KILL_MS / 1000);
    say_missing(true);
    signal_live(SIGTERM);
    set_at(&job.kill_at, now_ms() + SIGNAL_KILL_MS);
}

/*
 * --stuck-after: every node still in the job waits in a Mome call and none has returned for
 * stuck_s seconds: ask each to say what it waits for (REPORT), once per such stretch.
 */
static void check_stuck(int64_t now)
{
    uint64_t sum = 0;
    bool all_waiting = true;
    int in_job = 0;

    job.stuck_check = now + STUCK_CHECK_MS;
    for (int r = 0; r < job.size; r++) {
        const struct node *n = &job.nodes[r];
        if (n->exited || n->finalized || !n->joined)
            continue;
        in_job++;
        sum += __atomic_load_n(&job.status[r].progress, __ATOMIC_RELAXED);
        if (__atomic_load_n(&job.status[r].waiting, __ATOMIC_RELAXED) == 0)
            all_waiting = false;
    }
    /* Nodes that have not called MomeInit while others have, or that a job-wide exchange
     * waits for: they cannot say it themselves (say_missing). */
    int missing = say_missing(false);
    if (missing != job.missing) { /* nodes joining or gathering: a change */
        job.missing = missing;
        job.missing_since = now;
        job.missing_said = false;
    } else if (missing && !job.missing_said &&
               now - job.missing_since >= (int64_t)(job.stuck_s * 1000.0)) {
        job.missing_said = true;
        fprintf(stderr, "mome-run: no change for %g s:\n", job.stuck_s);
        say_missing(true);
    }
    if (sum != job.progress_sum || !all_waiting || in_job == 0) {
        job.progress_sum = sum;
        job.last_progress = now;
        job.stuck_reported = false;
        return;
    }
    if (job.stuck_reported || now - job.last_progress < (int64_t)(job.stuck_s * 1000.0))
        return;
    job.stuck_reported = true;
    fprintf(stderr, "mome-run: no node has made progress for %g s (each waits in a Mome call); "
            "what they wait for:\n", job.stuck_s);
    fflush(stderr);
    /* To the nodes in the job only: one that joins later would read it in its MomeInit and
     * answer for a stretch it was not in. */
    struct msg *m = msg_new(MOME_BOOT_REPORT, (uint32_t)job.stuck_s, 0);
    for (int r = 0; r < job.size; r++)
        if (job.nodes[r].joined && !job.nodes[r].finalized)
            node_queue(&job.nodes[r], m);
    msg_put(m);
}

static void escalate(int sig)
{
    if (job.live > 0 && !job.quiet)
        fprintf(stderr, "mome-run: %d node(s) still running; sending %s\n", job.live,
                sig == SIGKILL ? "SIGKILL" : "SIGTERM");
    signal_live(sig);
}

static void check_timers(void)
{
    int64_t now = now_ms();

    if (job.live == 0)
        return; /* the job ended on its own, even if a deadline passed meanwhile */
    if (now >= job.deadline) {
        job.deadline = NEVER;
        time_out();
    }
    if (now >= job.term_at) {
        job.term_at = NEVER;
        escalate(SIGTERM);
    }
    if (now >= job.kill_at) {
        job.kill_at = NEVER;
        escalate(SIGKILL);
    }
    if (job.status && job.stuck_s > 0 && !job.stopping && now >= job.stuck_check)
        check_stuck(now);
}

static int poll_timeout(void)
{
    int64_t next = job.deadline, left;

    set_at(&next, job.term_at);
    set_at(&next, job.kill_at);
    if (job.status && job.stuck_s > 0 && !job.stopping)
        set_at(&next, job.stuck_check);
    if (next == NEVER)
        return -1;
    left = next - now_ms();
    return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- the event loop -------------------------------------------------------------------------- */

/* pfd[0] is the signalfd; who[k] is the rank behind pfd[k]. */
static int build_pollfds(struct pollfd *pfd, int *who)
{
    int cnt = 1;

    pfd[0] = (struct pollfd){.fd = job.sigfd, .events = POLLIN};
    who[0] = -1;
    for (int r = 0; r < job.size; r++) {
        const struct node *n = &job.nodes[r];
        if (n->fd < 0)
            continue;
        pfd[cnt] = (struct pollfd){.fd = n->fd, .events = POLLIN | (n->qhead ? POLLOUT : 0)};
        who[cnt++] = r;
    }
    return cnt;
}

static void handle_events(const struct pollfd *pfd, const int *who, int cnt)
{
    for (int k = 1; k < cnt; k++) {
        struct node *n = &job.nodes[who[k]];
        /* An earlier event may have closed it; no fd is opened meanwhile, so numbers are stable. */
        if (!pfd[k].revents || n->fd != pfd[k].fd)
            continue;
        if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
            node_read(n);
        if (pfd[k].revents & POLLOUT)
            node_flush(n);
    }
    if (pfd[0].revents)
        read_signals();
}

static void run(void)
{
    struct pollfd *pfd = xmalloc(sizeof(*pfd) * ((size_t)job.size + 1));
    int *who = xmalloc(sizeof(*who) * ((size_t)job.size + 1));

    while (job.live > 0) {
        int cnt = build_pollfds(pfd, who);
        int r = poll(pfd, (nfds_t)cnt, poll_timeout());
        if (r < 0 && errno != EINTR)
            fatal("poll: %s", strerror(errno));
        if (r > 0)
            handle_events(pfd, who, cnt);
        check_timers();
    }
    if (job.stopping)
        kill_leftovers();
    say_unsaid();
    free(who);
    free(pfd);
}

static void free_job(struct block *blocks)
{
    for (int r = 0; r < job.size; r++) {
        node_close(&job.nodes[r]);
        free(job.nodes[r].blob);
    }
    free(job.nodes);
    free(blocks);
    close(job.sigfd);
}

int main(int argc, char **argv)
{
    struct block *blocks;
    int nblocks, total, status;

    job.pending_loss = -1;
    job.first_failed = -1;
    job.sigfd = -1;
    job.statfd = -1;
    job.stuck_s = STUCK_DEFAULT_S;
    job.deadline = job.term_at = job.kill_at = NEVER;
    if (argc < 2)
        usage_error("no program given");
    blocks = parse_args(argc, argv, &nblocks, &total);
    if (remote.hosts || remote.hostfile) {
        /* The nodes' status table and the memory check are mome-run's own, on this machine. */
        if (job.stuck_given || job.oversubscribe)
            usage_error("'%s' goes with a job on this machine, not with -H or --hostfile",
                        job.stuck_given ? "--stuck-after" : "--oversubscribe");
        struct pmix_block *pb = xmalloc(sizeof(*pb) * (size_t)nblocks);
        remote.timeout_s = job.timeout_s;
        remote.quiet = job.quiet;
        for (int b = 0; b < nblocks; b++)
            pb[b] = (struct pmix_block){blocks[b].argv, blocks[b].count};
        return pmix_launch(&remote, pb, nblocks);
    }
    if (remote.launcher || remote.dry_run)
        usage_error("'%s' goes with -H or --hostfile", remote.launcher ? "--launcher" : "--dry-run");

    check_room(total);
    check_programs(blocks, nblocks);
    ensure_std_fds();
    /* What the nodes start and leave behind comes here when they die (kill_leftovers). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* A socket per node: a job of more nodes than the soft limit on open files (often 1024)
     * failed to start although the hard limit allowed it (helper-102). */
    if (getrlimit(RLIMIT_NOFILE, &job.saved_nofile) == 0 &&
        job.saved_nofile.rlim_cur < job.saved_nofile.rlim_max) {
        struct rlimit rl = {job.saved_nofile.rlim_max, job.saved_nofile.rlim_max};
        job.nofile_raised = setrlimit(RLIMIT_NOFILE, &rl) == 0;
    }
    if (getrandom(&job.key, sizeof(job.key), 0) != (ssize_t)sizeof(job.key))
        fatal("cannot draw the job's key: %s", strerror(errno));
    setup_signals();
    if (job.timeout_s > 0)
        job.deadline = now_ms() + (int64_t)(job.timeout_s * 1000.0 + 0.5);
    launch_all(blocks, nblocks, total);
    job.last_progress = now_ms();
    job.stuck_check = job.last_progress + STUCK_CHECK_MS;
    run();

    status = job.forced_status ? job.forced_status : job.first_status;
    if (!status && job.abort_status)
        status = job.abort_status; /* an aborted job never reports success */
    for (int r = 0; !status && r < job.size; r++)
        if (job.nodes[r].lost)
            status = 1; /* nor one that lost a node (gone with status 0, before MomeFinalize) */
    free_job(blocks);
    return status;
}
