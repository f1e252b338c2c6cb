/*
 * config.c - the MOME_* knob table: defaults, parsers, the environment scan, mome-info's listing.
 */
#include "base/config.h"
#include <stdarg.h>


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/log.h"

extern char **environ;

typedef int (*knob_parse_cb_t)(const char *s, mome_config_t *c, size_t off);

typedef struct knob {
    const char *name;
    const char *def;
    const char *desc;
    knob_parse_cb_t parse;
    size_t off;
    int internal;       /* not parsed here: set by mome-run, or read by momed */
    uint64_t min, max;  /* bounds of a size or count (max 0: none) */
    const char *accept; /* what a user may write, for the error message */
} knob_t;

#define OFF(f) offsetof(mome_config_t, f)

/* MOME_PAGE_SIZE's default: 4096, or the OS page where it is larger (16K or 64K kernels). */
static size_t default_page_size(void)
{
    long os = sysconf(_SC_PAGESIZE);
    return os > 4096 ? (size_t)os : 4096;
}

static int parse_pagesize(const char *s, mome_config_t *c, size_t off)
{
    uint64_t v;
    long os = sysconf(_SC_PAGESIZE);
    if (mome_config_parse_size(s, &v) < 0 || v < (uint64_t)os || (v & (v - 1)) ||
        v > (1u << 24))
        return -EINVAL;
    *(size_t *)((char *)c + off) = (size_t)v;
    return 0;
}

static int parse_size(const char *s, mome_config_t *c, size_t off)
{
    uint64_t v;
    if (mome_config_parse_size(s, &v) < 0)
        return -EINVAL;
    *(uint64_t *)((char *)c + off) = v;
    return 0;
}

/* A plain count (pages, microseconds, nanoseconds): decimal digits, no suffix. */
static int parse_count(const char *s, mome_config_t *c, size_t off)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *(uint64_t *)((char *)c + off) = v;
    return 0;
}

/* A fraction in (0, 1]. */
static int parse_fraction(const char *s, mome_config_t *c, size_t off)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0.0) || v > 1.0)
        return -EINVAL;
    *(double *)((char *)c + off) = v;
    return 0;
}

static int parse_bool(const char *s, mome_config_t *c, size_t off)
{
    int v;
    if (!strcasecmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") ||
        !strcasecmp(s, "true") || !strcasecmp(s, "y"))
        v = 1;
    else if (!strcasecmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "off") ||
             !strcasecmp(s, "false") || !strcasecmp(s, "n") || !*s)
        v = 0;
    else
        return -EINVAL;
    *(int *)((char *)c + off) = v;
    return 0;
}

static int parse_level(const char *s, mome_config_t *c, size_t off)
{
    int v = mome_log_parse_level(s);
    if (v < 0)
        return -EINVAL;
    *(int *)((char *)c + off) = v;
    return 0;
}

static int parse_string(const char *s, mome_config_t *c, size_t off)
{
    char *dst = (char *)c + off;
    size_t cap = off == OFF(log_file)      ? sizeof(c->log_file)
                 : off == OFF(test_inject) ? sizeof(c->test_inject)
                 : off == OFF(swap_dir)    ? sizeof(c->swap_dir)
                 : off == OFF(test_crash_at) ? sizeof(c->test_crash_at)
                 : off == OFF(trace)       ? sizeof(c->trace)
                 : off == OFF(server)      ? sizeof(c->server)
                                           : sizeof(c->repository);
    if (!*s && off == OFF(repository))
        return 0; /* empty: the default, as for mome-repo */
    if (strlen(s) >= cap)
        return -EINVAL;
    strcpy(dst, s);
    return 0;
}

/* "", start, or host:port with a port from 1 to 65535 (digits only): momed's address. */
static int parse_server(const char *s, mome_config_t *c, size_t off)
{
    const char *colon = strrchr(s, ':');
    if (*s && strcmp(s, "start")) {
        if (!colon || colon == s || !colon[1] ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1))
            return -EINVAL;
        unsigned long port = strlen(colon + 1) > 5 ? 0 : strtoul(colon + 1, NULL, 10);
        if (port < 1 || port > 65535)
            return -EINVAL;
    }
    return parse_string(s, c, off);
}

/* 16 hexadecimal digits, not all zero (momed's key, its address file's last word). */
static int parse_key(const char *s, mome_config_t *c, size_t off)
{
    uint64_t v = 0;
    if (!*s) {
        *(uint64_t *)((char *)c + off) = 0;
        return 0;
    }
    if (strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
        return -EINVAL;
    v = strtoull(s, NULL, 16);
    if (!v)
        return -EINVAL;
    *(uint64_t *)((char *)c + off) = v;
    return 0;
}

static int parse_bind(const char *s, mome_config_t *c, size_t off)
{
    if (!strcasecmp(s, "core") || !strcasecmp(s, "auto"))
        c->bind = MOME_BIND_CORE;
    else if (!strcasecmp(s, "numa"))
        c->bind = MOME_BIND_NUMA;
    else if (!strcasecmp(s, "none") || !strcasecmp(s, "off") || !strcmp(s, "0"))
        c->bind = MOME_BIND_NONE;
    else
        return -EINVAL;
    return 0;
}

static int parse_prio(const char *s, mome_config_t *c, size_t off)
{
    if (!strcasecmp(s, "high"))
        c->progress_prio = MOME_PRIO_HIGH;
    else if (!strcasecmp(s, "fifo"))
        c->progress_prio = MOME_PRIO_FIFO;
    else if (!strcasecmp(s, "normal"))
        c->progress_prio = MOME_PRIO_NORMAL;
    else
        return -EINVAL;
    return 0;
}

/* The eviction policies of memory/evict.c, by name (base knows no other layer: keep the two
 * lists alike). */
static int parse_evict(const char *s, mome_config_t *c, size_t off)
{
    static const char *const names[] = {"fifo", "clock", "random"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcasecmp(s, names[i])) {
            strcpy(c->evict, names[i]);
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_pageout(const char *s, mome_config_t *c, size_t off)
{
    if (!strcasecmp(s, "remote"))
        c->pageout_disk = 0;
    else if (!strcasecmp(s, "disk"))
        c->pageout_disk = 1;
    else
        return -EINVAL;
    return 0;
}

static int parse_internal(const char *s, mome_config_t *c, size_t off)
{
    return 0;
}

static const knob_t knobs[] = {
    {"MOME_PAGE_SIZE", "4096",
     "coherence unit in bytes: a power-of-two multiple of the OS page (K, M suffixes)",
     parse_pagesize, OFF(page_size), 0, 0, 0,
     "a power of two from the OS page size to 16M, e.g. 4096, 64K, 2M"},
    {"MOME_LOG_LEVEL", "warn", "error|warn|info|debug|trace", parse_level, OFF(log_level), 0, 0, 0,
     "error, warn, info, debug or trace"},
    {"MOME_LOG_FILE", "", "log to this file instead of stderr; %n node, %p pid, %h host",
     parse_string, OFF(log_file), 0, 0, 0, "a path of less than 1024 bytes"},
    {"MOME_STATS", "0", "print this node's counters (MomeStats) at MomeFinalize", parse_bool,
     OFF(stats), 0, 0, 0, "1, yes, on, true or 0, no, off, false"},
    {"MOME_REPOSITORY", "./mome-repo",
     "directory of MOME_PERSIST segments (created 0700 on first use; every node must see the same "
     "one); mome-repo manages it",
     parse_string, OFF(repository), 0, 0, 0, "a path of less than 1024 bytes"},
    {"MOME_SERVER", "",
     "host:port of momed, the repository server that couples separately launched jobs (empty: "
     "momed's address file in MOME_REPOSITORY if a live momed wrote one, else the repository "
     "is used directly; start: that momed, started by node 0 if none runs, and left running "
     "for later jobs)",
     parse_server, OFF(server), 0, 0, 0,
     "host:port (a port from 1 to 65535), e.g. localhost:7077, or start"},
    {"MOME_SERVER_KEY", "",
     "with MOME_SERVER=host:port: momed's key, the last word of the momed.addr file in its "
     "repository (which only the repository's owner can read); momed refuses a job without it",
     parse_key, OFF(server_key), 0, 0, 0, "16 hexadecimal digits, as in momed.addr"},
    {"MOME_LOCAL_PAGES", "0",
     "local page budget: at most this many Mome pages in this node's memory; beyond it pages "
     "are dropped or paged out to other nodes or to MOME_SWAP_DIR (0 = unlimited)",
     parse_size, OFF(local_pages), 0, 0, 1ull << 36,
     "a number of pages up to 64G (2^36), 0 for no budget"},
    {"MOME_LOCAL_HIGH", "0.95",
     "with a budget: evict in the background once this fraction of it is in use", parse_fraction,
     OFF(local_high), 0, 0, 0, "a fraction in (0, 1], e.g. 0.95"},
    {"MOME_LOCAL_LOW", "0.85", "with a budget: background eviction stops at this fraction of it",
     parse_fraction, OFF(local_low), 0, 0, 0, "a fraction in (0, 1], e.g. 0.85"},
    {"MOME_SWAP_DIR", "/var/tmp",
     "with a budget: where pages go when no other node has room (a file, removed at exit)",
     parse_string, OFF(swap_dir), 0, 0, 0, "a directory path of less than 1024 bytes"},
    {"MOME_PAGEOUT", "remote",
     "with a budget: where pages this node must keep go: remote (other nodes' memory first, "
     "then MOME_SWAP_DIR) or disk (MOME_SWAP_DIR only)",
     parse_pageout, 0, 0, 0, 0, "remote or disk"},
    {"MOME_EMU_LATENCY_NS", "0",
     "emulated extra latency, in ns, added to every remote page transfer", parse_count,
     OFF(emu_latency_ns), 0, 0, 10000000000ull, "nanoseconds from 0 to 10000000000"},
    {"MOME_EMU_BANDWIDTH", "0",
     "emulated bandwidth, bytes/s (K, M, G suffixes), for remote page transfers; 0 = unlimited",
     parse_size, OFF(emu_bandwidth), 0, 0, 1ull << 50,
     "bytes per second, 0 for unlimited, with K, M or G, e.g. 1G"},
    {"MOME_EMU_JITTER_NS", "0",
     "emulated jitter, in ns: every message from another node is held a random time up to this "
     "more, each sender's in the order sent (others' overtake them), to shake out races",
     parse_count, OFF(emu_jitter_ns), 0, 0, 1000000000ull, "nanoseconds from 0 to 1000000000"},
    {"MOME_EVICT", "clock",
     "eviction policy under a page budget (MOME_LOCAL_PAGES): clock (second chance: pages "
     "faulted on again are kept one more round), fifo (oldest first) or random",
     parse_evict, OFF(evict), 0, 0, 0, "fifo, clock or random"},
    {"MOME_TRACE", "",
     "record this node's page traffic (faults, fetches, invalidations, diffs, page-outs, locks, "
     "barriers) in this binary file; %n node, %p pid, %h host; mome-trace draws it",
     parse_string, OFF(trace), 0, 0, 0, "a path of less than 1024 bytes"},
    {"MOME_BIND", "core",
     "where a node started by a launcher runs (all its threads, the progress thread too): core: "
     "a core of its own, by local rank; numa: the cores of one NUMA node, by local rank; none: "
     "where the OS puts it. Cores another job bound to are avoided (nothing is bound rather "
     "than share one)",
     parse_bind, OFF(bind), 0, 0, 0, "core, numa or none"},
    {"MOME_PEER_TIMEOUT", "10",
     "seconds without word from a node on another machine before it is declared lost and the "
     "job stops (its machine or the network died); 0: wait for ever",
     parse_count, OFF(peer_timeout), 0, 0, 3600, "seconds from 0 to 3600"},
    {"MOME_CONNECT_TIMEOUT", "0",
     "seconds MomeInit waits for word from the other nodes (their HELLO, once the connections "
     "are made) with none coming before the job stops, naming the nodes not heard from; 0: 30 "
     "plus 100 us per connection made per core on this machine",
     parse_count, OFF(connect_timeout), 0, 0, 86400, "seconds from 0 to 86400"},
    {"MOME_HEAP_SIZE", "64G",
     "virtual size of the shared heap (MomeMalloc); split evenly between nodes", parse_size,
     OFF(heap_size), 0, 1ull << 20, 1ull << 45, "a size from 1M to 32T, e.g. 64G"},
    {"MOME_SPIN_US", "50",
     "microseconds the progress thread polls for a reply before sleeping in epoll", parse_count,
     OFF(spin_us), 0, 0, 1000000, "microseconds from 0 to 1000000"},
    {"MOME_PROGRESS_PRIO", "high",
     "priority of a node's progress thread when the node has a core of its own and the rights "
     "allow it: high: nice -20 (CAP_SYS_NICE, or RLIMIT_NICE >= 30 for -10 to -19), so that a "
     "message preempts an application thread spinning on a STRONG flag at once; fifo: SCHED_FIFO "
     "priority 1 (CAP_SYS_NICE or RLIMIT_RTPRIO >= 1; experimental); normal: the application's. "
     "Otherwise normal (design.md section 2)",
     parse_prio, OFF(progress_prio), 0, 0, 0, "high, fifo or normal"},
    {"MOME_PREFETCH", "7",
     "on a read fault that fetches a page, also fetch up to this many following pages of the same "
     "mapping in parallel (along a sequential read, twice as many at each fault, up to 63 or this "
     "many; none while reads are scattered); on a write fault of a RELEASE/WEAK page written last "
     "interval, also open that many written then (0: off)",
     parse_count, OFF(prefetch), 0, 0, 1024, "a number of pages from 0 to 1024"},
    {"MOME_DIR_MIGRATE", "1",
     "move a page's directory entry to the nodes that use it when its manager is a third party",
     parse_bool, OFF(dir_migrate), 0, 0, 0, "1, yes, on, true or 0, no, off, false"},
    {"MOME_TEST_FAIL_ALLOC", "0",
     "testing only: make the n-th allocation of the library after MomeInit fail (0: never)",
     parse_count, OFF(test_fail_alloc), 0, 0, 0, "a count, 0 for never"},
    {"MOME_TEST_INJECT", "",
     "testing only: after n messages to other nodes, also send a bad one: corrupt:n, "
     "truncate:n, range:n or foreign:n; nohello:n: node n sends node 0 no HELLO at MomeInit",
     parse_string, OFF(test_inject), 0, 0, 0,
     "corrupt:N, truncate:N, range:N, foreign:N or nohello:N"},
    {"MOME_TEST_CRASH_AT", "",
     "testing only: kill -9 this node (or only node N; with :stop, stop it; with :eio, fail the "
     "step once with EIO) when a checkpoint reaches a step: delta-mid, delta-data, delta-index, "
     "ready, head-tmp, head-write (the head's write), head, dirsync, done, returned (a "
     "momed-served checkpoint: every node gave its pages back)",
     parse_string, OFF(test_crash_at), 0, 0, 0,
     "STEP, STEP:NODE, STEP:NODE:stop or STEP:NODE:eio (NODE empty: any)"},
    {"MOME_TEST_CKPT_DELAY_MS", "0",
     "testing only, read by momed: each job checkpoint it serves takes this many ms more (a slow "
     "disk)",
     parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_TEST_SLOW_RECALL_MS", "60000",
     "testing only, read by momed: ms after which it names a holder that has not given a "
     "recalled page back",
     parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_TEST_HELLO_WAIT_MS", "30000",
     "testing only, read by momed: ms it waits for a new connection's hello before closing it",
     parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_BOOT_FD", "", "set by mome-run: socket to the launcher", parse_internal, 0, 1, 0, 0,
     NULL},
    {"MOME_BOOT_KEY", "", "set by mome-run: the job's key", parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_BOOT_RANK", "", "set by mome-run: this node's number", parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_BOOT_SIZE", "", "set by mome-run: the number of nodes", parse_internal, 0, 1, 0, 0,
     NULL},
    {"MOME_BOOT_LOCAL_RANK", "", "set by mome-run: rank among nodes on this machine",
     parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_BOOT_LOCAL_SIZE", "", "set by mome-run: nodes on this machine", parse_internal, 0, 1, 0,
     0, NULL},
    {"MOME_BOOT_APP", "", "set by mome-run: this node's program on its command line (MomeApp)",
     parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_BOOT_APP_RANK", "", "set by mome-run: this node's rank in its program (MomeAppNode)",
     parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_BOOT_APP_SIZE", "", "set by mome-run: its program's nodes (MomeAppNodes)",
     parse_internal, 0, 1, 0, 0, NULL},
    {"MOME_BOOT_STATUS_FD", "", "set by mome-run: the status table it shares with the nodes",
     parse_internal, 0, 1, 0, 0, NULL},
};

#define NKNOBS (sizeof(knobs) / sizeof(knobs[0]))

int mome_config_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9') /* strtoull would take a space or a sign first */
        return -EINVAL;
    int saved = errno; /* MomePageSize and MomeInfoPrint leave the caller's errno alone */
    errno = 0;
    v = strtoull(s, &end, 0);
    int overflow = errno != 0;
    errno = saved;
    if (overflow || end == s)
        return -EINVAL;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return -EINVAL;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static void set_defaults(mome_config_t *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NKNOBS; i++)
        if (!knobs[i].internal && knobs[i].parse(knobs[i].def, c, knobs[i].off) < 0 &&
            knobs[i].parse != parse_pagesize)
            mome_fatal("config: the default of %s, '%s', does not parse", knobs[i].name,
                       knobs[i].def);
    /* 4096 is below the system page on 16K and 64K kernels: then the system page. */
    c->page_size = default_page_size();
}

/* The message of mome_config_load, every bad value in turn: fmt appended to err (n bytes so
 * far), after "; " if not the first, cut with "..." if err is full. */
static void say(char *err, size_t errlen, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(char *err, size_t errlen, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (*n >= errlen)
        return;
    if (*n) {
        k = snprintf(err + *n, errlen - *n, "; ");
        *n += k > 0 ? (size_t)k : 0;
    }
    if (*n < errlen) {
        va_start(ap, fmt);
        k = vsnprintf(err + *n, errlen - *n, fmt, ap);
        va_end(ap);
        *n += k > 0 ? (size_t)k : 0;
    }
    if (*n >= errlen && errlen > 4) /* cut: say so (mome-info -c lists them all) */
        memcpy(err + errlen - 4, "...", 4);
}

/*
 * The page budget's values that are each valid but not together, said by MomeInit before the node
 * joins the job (every node stops with the same word, none of them left talking to a node gone),
 * after the values that did not parse: all of them, so that one run names every mistake. A pair
 * one of whose values did not parse (its default stands in) is not compared. Whether
 * MOME_SWAP_DIR can hold the swap file is the page-out layer's (mome_coh_check), once the values
 * are right. The number of mistakes said.
 */
static int check_budget(const mome_config_t *c, int low_or_high_bad, char *err, size_t errlen,
                        size_t *n)
{
    int bad = 0;
    if (!c->local_pages)
        return 0;
    if (!low_or_high_bad && c->local_low > c->local_high) {
        say(err, errlen, n,
            "MOME_LOCAL_LOW (%g) is above MOME_LOCAL_HIGH (%g): expected "
            "LOW <= HIGH (their defaults are 0.85 and 0.95: setting one may need the "
            "other set too)",
            c->local_low, c->local_high);
        bad++;
    }
    if (c->local_pages < 4) {
        say(err, errlen, n,
            "MOME_LOCAL_PAGES=%llu is too small: expected 0 (no budget) "
            "or at least 4 pages",
            (unsigned long long)c->local_pages);
        bad++;
    }
    if (!c->swap_dir[0]) {
        say(err, errlen, n,
            "MOME_SWAP_DIR is empty; expected a writable directory (the default is "
            "/var/tmp): with MOME_LOCAL_PAGES, pages no node has room for are written "
            "there");
        bad++;
    }
    return bad;
}

int mome_config_load(mome_config_t *c, char *err, size_t errlen)
{
    size_t n = 0;
    int bad = 0, low_or_high_bad = 0;
    int saved = errno; /* the parsers' strtoull: the caller's errno is left alone */
    set_defaults(c);
    if (errlen)
        err[0] = 0;
    for (size_t i = 0; i < NKNOBS; i++) {
        const char *v = getenv(knobs[i].name);
        if (!v || knobs[i].internal)
            continue;
        int rc = knobs[i].parse(v, c, knobs[i].off);
        if (rc == 0 && knobs[i].max) {
            uint64_t x = *(const uint64_t *)((const char *)c + knobs[i].off);
            rc = x < knobs[i].min || x > knobs[i].max ? -EINVAL : 0;
        }
        if (rc < 0) { /* every bad value said, not only the first */
            say(err, errlen, &n, "bad value '%s' for %s: expected %s", v, knobs[i].name,
                knobs[i].accept);
            bad++;
            if (knobs[i].off == OFF(local_low) || knobs[i].off == OFF(local_high))
                low_or_high_bad = 1;
        }
    }
    errno = saved;
    bad += check_budget(c, low_or_high_bad, err, errlen, &n);
    return bad ? -EINVAL : 0;
}

size_t mome_config_page_size(void)
{
    mome_config_t c;
    const char *v = getenv("MOME_PAGE_SIZE");
    if (!v || parse_pagesize(v, &c, OFF(page_size)) < 0)
        c.page_size = default_page_size();
    return c.page_size;
}

int mome_config_bind(void)
{
    mome_config_t c;
    const char *v = getenv("MOME_BIND");
    if (!v || parse_bind(v, &c, OFF(bind)) < 0)
        c.bind = MOME_BIND_CORE;
    return c.bind;
}

/* The length of the name of environment entry e if it is a MOME_* variable of no knob, else 0. */
static size_t unknown_len(const char *e)
{
    if (strncmp(e, "MOME_", 5) != 0)
        return 0;
    const char *eq = strchr(e, '=');
    size_t len = eq ? (size_t)(eq - e) : strlen(e);
    for (size_t i = 0; i < NKNOBS; i++)
        if (strlen(knobs[i].name) == len && !strncmp(knobs[i].name, e, len))
            return 0;
    return len;
}

void mome_config_warn_unknown(void)
{
    for (char **e = environ; e && *e; e++) {
        size_t len = unknown_len(*e);
        if (!len)
            continue;
        if (len == sizeof("MOME_PROGRESS_RT") - 1 && !strncmp(*e, "MOME_PROGRESS_RT", len))
            mome_warn("config", "MOME_PROGRESS_RT ignored: it is now MOME_PROGRESS_PRIO "
                      "(fifo for the old MOME_PROGRESS_RT=1; the default, high, runs the "
                      "progress thread at nice -20)");
        else
            mome_warn("config", "unknown variable %.*s ignored (mome-info lists the knobs)",
                      (int)len, *e);
    }
}

void mome_config_warn_unused(const mome_config_t *c, int nnodes, int launched)
{
    static const char *const budget[] = {"MOME_LOCAL_HIGH", "MOME_LOCAL_LOW", "MOME_SWAP_DIR",
                                         "MOME_PAGEOUT", "MOME_EVICT"};
    static const char *const network[] = {"MOME_EMU_LATENCY_NS",  "MOME_EMU_BANDWIDTH",
                                          "MOME_EMU_JITTER_NS",   "MOME_PEER_TIMEOUT",
                                          "MOME_CONNECT_TIMEOUT", "MOME_DIR_MIGRATE"};
    const char *v;

    for (size_t i = 0; i < sizeof(budget) / sizeof(budget[0]) && !c->local_pages; i++)
        if ((v = getenv(budget[i])))
            mome_warn("config", "%s=%s has no effect without a page budget (MOME_LOCAL_PAGES "
                      "unset or 0)", budget[i], v);
    for (size_t i = 0; i < sizeof(network) / sizeof(network[0]) && nnodes == 1; i++)
        if ((v = getenv(network[i])))
            mome_warn("config", "%s=%s has no effect in a one-node job (no other node to talk "
                      "to)", network[i], v);
    if (nnodes == 2 && (v = getenv("MOME_DIR_MIGRATE")))
        mome_warn("config",
                  "MOME_DIR_MIGRATE=%s has no effect in a two-node job (a page's "
                  "manager is always one of the nodes that use it)",
                  v);
    if (c->server_key && (!c->server[0] || !strcmp(c->server, "start")))
        mome_warn("config", "MOME_SERVER_KEY has no effect without MOME_SERVER=host:port (momed's "
                            "address file gives its key)");
    if (!launched && (v = getenv("MOME_BIND")))
        mome_warn("config", "MOME_BIND=%s has no effect on a program started alone (only nodes "
                  "started by a launcher are bound; use taskset or numactl)", v);
}

static void fdprint(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fdprint(int fd, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    if (n > 0 && write(fd, buf, (size_t)n) < 0)
        return;
}

void mome_config_print(int fd, const mome_config_t *c)
{
    fdprint(fd, "%-22s %-14s %-12s %s\n", "variable", "value", "default", "meaning");
    for (size_t i = 0; i < NKNOBS; i++) {
        const char *v = getenv(knobs[i].name);
        fdprint(fd, "%-22s %-14s %-12s %s\n", knobs[i].name, v ? v : "(unset)",
                knobs[i].def[0] ? knobs[i].def : "-", knobs[i].desc);
    }
    for (char **e = environ; e && *e; e++) {
        size_t len = unknown_len(*e);
        if (len)
            fdprint(fd, "%.*s: unknown, ignored (MomeInit warns of it; a misspelt knob?)\n",
                    (int)len, *e);
    }
    (void)c;
}
