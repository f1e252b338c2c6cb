/*
 * emulation.c - validates the emulated interconnect (MOME_EMU_LATENCY_NS, MOME_EMU_BANDWIDTH):
 * for each setting of a sweep, runs 2-node jobs in which one node has the setting and the other the
 * emulation off (node 0, then node 1), and prints the configured and the measured added cost per
 * remote page.
 *
 *   emulation [sweep] [-p pages] [-r pairs] [-t shm|tcp]   the sweep (MOME_RUN: mome-run's path)
 *   mome-run -n 2 ./emulation measure PAGES [stream]      one measurement
 *
 * A measurement: each node writes PAGES pages, then the nodes take turns reading the other's pages
 * (one word each), in random order with read-ahead off, timing each read: every read is one remote
 * fault that brings one page, in one message of the page plus its 80-byte header, which node 0's
 * emulation holds for latency + (page + 80) / bandwidth. The first reads are not timed (warm-up).
 * With `stream`, the nodes read in order with read-ahead on (several pages in flight): node 0's
 * time per page is then bound by its emulated link, which carries one transfer after the other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mome.h>

#define HDR 80     /* bytes of a message header (doc/design.md, section 8) */
#define WARMUP 100 /* reads not timed: the first two turns */

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- one measurement, on 2 nodes ---- */

/*
 * Each node reads n pages the other wrote, in turns of CHUNK pages (a barrier between turns), so
 * that the node with the emulation on and the one with it off measure under the same conditions,
 * interleaved: a change in the machine's load weighs on both alike.
 */
#define CHUNK 50

static int measure(int argc, char **argv, long n, int stream)
{
    if (MomeInit(&argc, &argv) < 0 || MomeNodes() != 2) {
        fprintf(stderr, "emulation: measure needs a 2-node job: %s\n", MomeError());
        return 1;
    }
    int me = MomeNode();
    size_t ps = MomePageSize();
    int seg = MomeSegOpen("emulation", ps * 2 * (size_t)n, MOME_CREATE);
    char *a = MomeMMap(NULL, ps * 2 * (size_t)n, MOME_READ | MOME_WRITE, 0, seg, 0);
    long *order = malloc(sizeof(long) * (size_t)n);
    double *us = malloc(sizeof(double) * (size_t)n), total = 0;
    uint64_t seed = 88172645463325252ull + (uint64_t)me, sum = 0;
    char *mine = a + ps * (size_t)n * (size_t)me;    /* pages this node writes */
    char *theirs = a + ps * (size_t)n * (size_t)!me; /* pages it reads */

    if (a == MOME_MAP_FAILED || !order || !us) {
        fprintf(stderr, "emulation: %s\n", MomeError());
        return 1;
    }
    for (long i = 0; i < n; i++)
        order[i] = i;
    for (long i = n - 1; i > 0 && !stream; i--) { /* Fisher-Yates with xorshift */
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        long j = (long)(seed % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (long i = 0; i < n; i++)
        *(volatile uint64_t *)(mine + ps * (size_t)i) = (uint64_t)i + 1;
    MomeBarrier();
    for (long c = 0; c < n; c += CHUNK) {
        for (int turn = 0; turn < 2; turn++) {
            if (turn == me) {
                double t0 = now_us();
                for (long i = c; i < c + CHUNK && i < n; i++) {
                    double t = now_us();
                    sum += *(volatile uint64_t *)(theirs + ps * (size_t)order[i]);
                    us[i] = now_us() - t;
                }
                if (c >= WARMUP)
                    total += now_us() - t0;
            }
            MomeBarrier();
        }
    }
    if (sum != (uint64_t)n * (uint64_t)(n + 1) / 2) {
        fprintf(stderr, "emulation: node %d read wrong data\n", me);
        return 1;
    }
    long m = n - WARMUP;
    qsort(us + WARMUP, (size_t)m, sizeof(double), cmp_double);
    double mean = 0;
    for (long i = WARMUP; i < n; i++)
        mean += us[i] / (double)m;
    /* One line per node, node 0's first. */
    for (int turn = 0; turn < 2; turn++) {
        if (turn == me) {
            printf("node %d median_us %.3f mean_us %.3f p10_us %.3f p90_us %.3f per_page_us %.3f "
                   "pages %ld page_size %zu\n",
                   me, us[WARMUP + m / 2], mean, us[WARMUP + m / 10], us[WARMUP + m * 9 / 10],
                   total / (double)m, m, ps);
            fflush(stdout);
        }
        MomeBarrier();
    }
    MomeFinalize();
    free(order);
    free(us);
    return 0;
}

/* ---- the sweep: runs of `measure` under mome-run ---- */

typedef struct setting {
    const char *name;
    uint64_t latency_ns, bandwidth; /* node 0's MOME_EMU_*; both 0: off */
    int stream;
} setting_t;

static const char *mome_run, *tls = "posix,cma", *tname = "shm";
static char self[4096];
static long pages = 3000;

static double configured_us(const setting_t *s, double page_size)
{
    double c = (double)s->latency_ns / 1e3;
    if (s->bandwidth)
        c += (page_size + HDR) * 1e6 / (double)s->bandwidth;
    return c;
}

/* A node's figures. */
typedef struct figs {
    double median, p10, per_page, page_size;
} figs_t;

/*
 * Run one job: node `emu` (0 or 1) with the setting's emulation, the other without (mome-run starts
 * that node through env(1) to give it its own MOME_EMU_*). Their figures in f[0], f[1]; -1 if the
 * job failed.
 */
static int run(const setting_t *s, int emu, figs_t f[2])
{
    char pbuf[32], lat[64], bw[64], line[512];
    const char *mode = s->stream ? "stream" : "random";
    int p[2], status, got = 0;
    pid_t pid;

    snprintf(pbuf, sizeof(pbuf), "%ld", pages);
    snprintf(lat, sizeof(lat), "MOME_EMU_LATENCY_NS=%llu", (unsigned long long)s->latency_ns);
    snprintf(bw, sizeof(bw), "MOME_EMU_BANDWIDTH=%llu", (unsigned long long)s->bandwidth);
    if (pipe(p) < 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        setenv("UCX_TLS", tls, 1);
        setenv("MOME_PREFETCH", s->stream ? "7" : "0", 1);
        /*
         * Both nodes poll for a reply MOME_SPIN_US (default 50) before sleeping. Node 0's emulated
         * delay makes its requests reach node 1 that much less often: past 50 us node 1 sleeps
         * between them, and its wake-up (100-250 us over TCP on a VM) joins every page. That is
         * what a slower interconnect really costs, but not the emulation's accuracy, which the
         * sweep measures: the nodes poll for the delay on top of the default.
         */
        char spin[32];
        snprintf(spin, sizeof(spin), "%.0f", 50 + configured_us(s, 4096));
        setenv("MOME_SPIN_US", spin, 1);
        unsetenv("MOME_EMU_LATENCY_NS");
        unsetenv("MOME_EMU_BANDWIDTH");
        unsetenv("MOME_RUN"); /* a knob's name to the nodes: they would warn about it */
        if (emu == 0)
            execl(mome_run, mome_run, "-t", "300", "-n", "1", "env", lat, bw, self, "measure",
                  pbuf, mode, ":", "-n", "1", self, "measure", pbuf, mode, (char *)NULL);
        else
            execl(mome_run, mome_run, "-t", "300", "-n", "1", self, "measure", pbuf, mode, ":",
                  "-n", "1", "env", lat, bw, self, "measure", pbuf, mode, (char *)NULL);
        fprintf(stderr, "emulation: cannot run %s: %s\n", mome_run, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    FILE *in = fdopen(p[0], "r");
    while (in && fgets(line, sizeof(line), in)) {
        int node;
        figs_t x;
        if (sscanf(line,
                   "node %d median_us %lf mean_us %*f p10_us %lf p90_us %*f per_page_us %lf "
                   "pages %*d page_size %lf",
                   &node, &x.median, &x.p10, &x.per_page, &x.page_size) == 5 &&
            (node == 0 || node == 1)) {
            f[node] = x;
            got |= 1 << node;
        }
    }
    if (in)
        fclose(in);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || got != 3) {
        fprintf(stderr, "emulation: the run of '%s' failed\n", s->name);
        return -1;
    }
    return 0;
}

/* The machine's load average: the figures mean little when it exceeds the cores. */
static void print_load(const char *when)
{
    char buf[64] = "unknown";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            strcpy(buf, "unknown");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("load average %s: %s (%ld CPUs)\n", when, buf, sysconf(_SC_NPROCESSORS_ONLN));
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int sweep(int reps)
{
    /* "off": neither node emulates (the two nodes' own difference). Latency 0 with an unbounded
     * bandwidth turns the machinery on with no delay: what it costs by itself. */
    static const setting_t set[] = {
        {"off", 0, 0, 0},
        {"latency 0 us", 0, 1ull << 50, 0},
        {"latency 5 us", 5000, 0, 0},
        {"latency 10 us", 10000, 0, 0},
        {"latency 20 us", 20000, 0, 0},
        {"latency 50 us", 50000, 0, 0},
        {"latency 100 us", 100000, 0, 0},
        {"bandwidth 100 MB/s", 0, 100000000ull, 0},
        {"bandwidth 1 GB/s", 0, 1000000000ull, 0},
        {"bandwidth 10 GB/s", 0, 10000000000ull, 0},
        {"10 us + 1 GB/s", 10000, 1000000000ull, 0},
        {"stream 100 MB/s", 0, 100000000ull, 1},
        {"stream 1 GB/s", 0, 1000000000ull, 1},
    };
    enum { NSET = sizeof(set) / sizeof(set[0]) };
    double ref[NSET][64], add[NSET][64], add10[NSET][64], emu[NSET][64], page_size = 4096;
    int failed = 0, n[NSET] = {0}, within = 0, judged = 0;
    figs_t f[2];

    if (reps > 64)
        reps = 64;
    printf("emulation sweep: 2 nodes over %s; in each job one node has the setting and the other "
           "the emulation off, and they take turns reading %ld remote pages each (%d per turn, "
           "random order, read-ahead off); %d pairs of jobs per setting (the setting on node 0, "
           "then on node 1), the settings interleaved\n",
           tname, pages, CHUNK, reps);
    print_load("at the start");
    fflush(stdout);
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < NSET; i++) {
            /* Two jobs: the emulation on node 0, then on node 1. A difference between the nodes
             * themselves (another process on one core) weighs on the two differences with
             * opposite signs, and their mean cancels it. */
            figs_t g[2];
            if (run(&set[i], 0, f) < 0 || run(&set[i], 1, g) < 0) {
                failed = 1;
                continue;
            }
            page_size = f[0].page_size;
            ref[i][n[i]] = set[i].stream ? (f[1].per_page + g[0].per_page) / 2
                                         : (f[1].median + g[0].median) / 2;
            emu[i][n[i]] = (f[0].per_page + g[1].per_page) / 2;
            add[i][n[i]] = (f[0].median - f[1].median + g[1].median - g[0].median) / 2;
            add10[i][n[i]++] = (f[0].p10 - f[1].p10 + g[1].p10 - g[0].p10) / 2;
        }
    }
    print_load("at the end");
    printf("added cost per remote page: the emulating node's median read minus the other's in the "
           "same job, averaged over a job with the emulation on node 0 and one with it on node 1, "
           "median over such pairs (p10: the same with 10th percentiles, less sensitive to "
           "load)\n");
    printf("%-20s  %13s  %13s  %12s  %9s  %-10s  %s\n", "setting", "reference_us", "configured_us",
           "measured_us", "error_us", "within", "measured_p10_us");
    for (int i = 0; i < NSET; i++) {
        if (set[i].stream || !n[i])
            continue;
        double c = configured_us(&set[i], page_size), m = median(add[i], n[i]), e = m - c;
        double ae = e < 0 ? -e : e;
        int in = ae <= 2.0 || ae <= 0.1 * c;
        within += in;
        judged++;
        printf("%-20s  %13.2f  %13.2f  %12.2f  %+9.2f  %-10s  %.2f\n", set[i].name,
               median(ref[i], n[i]), c, m, e, in ? "yes" : "NO", median(add10[i], n[i]));
    }
    printf("%d of %d settings within 10%% (or 2 us) of the configured cost\n", within, judged);
    printf("streaming: pages read in order with read-ahead 7 (up to 8 transfers in flight), time "
           "per page over the run; the emulated link carries one transfer after the other, so "
           "node 0 cannot go below the link's time per page\n");
    printf("%-20s  %13s  %13s  %12s\n", "setting", "reference_us", "link_us/page", "measured_us");
    for (int i = 0; i < NSET; i++)
        if (set[i].stream && n[i])
            printf("%-20s  %13.2f  %13.2f  %12.2f\n", set[i].name, median(ref[i], n[i]),
                   configured_us(&set[i], page_size), median(emu[i], n[i]));
    return failed;
}

int main(int argc, char **argv)
{
    int reps = 3, c;

    if (argc > 1 && !strcmp(argv[1], "measure")) {
        long n = argc > 2 ? atol(argv[2]) : 3000;
        if (n <= WARMUP * 2) {
            fprintf(stderr, "emulation: measure needs more than %d pages\n", WARMUP * 2);
            return 2;
        }
        return measure(argc, argv, n, argc > 3 && !strcmp(argv[3], "stream"));
    }
    if (argc > 1 && !strcmp(argv[1], "sweep"))
        optind = 2;
    while ((c = getopt(argc, argv, "p:r:t:h")) != -1) {
        switch (c) {
        case 'p':
            pages = atol(optarg);
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 't':
            tname = optarg;
            tls = !strcmp(optarg, "tcp") ? "tcp" : "posix,cma";
            break;
        default:
            fprintf(stderr, "usage: emulation [sweep] [-p pages] [-r pairs] [-t shm|tcp]\n"
                            "       mome-run -n 2 emulation measure PAGES [stream]\n");
            return 2;
        }
    }
    if (pages <= WARMUP * 2 || reps < 1) {
        fprintf(stderr, "emulation: needs more than %d pages and at least one run\n", WARMUP * 2);
        return 2;
    }
    mome_run = getenv("MOME_RUN") ? getenv("MOME_RUN") : "../runtime/mome-run";
    ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (l <= 0) {
        fprintf(stderr, "emulation: cannot find its own program: %s\n", strerror(errno));
        return 1;
    }
    self[l] = 0;
    return sweep(reps);
}
