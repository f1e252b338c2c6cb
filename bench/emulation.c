/*
 * emulation.c - validates the emulated interconnect (MOME_EMU_LATENCY_NS, MOME_EMU_BANDWIDTH):
 * for each setting of a sweep, runs the same 2-node job with the emulation on and off and prints
 * the configured and the measured added cost per remote page, side by side.
 *
 *   emulation [sweep] [-p pages] [-r runs] [-t shm|tcp]   the sweep (MOME_RUN: mome-run's path)
 *   mome-run -n 2 ./emulation measure PAGES [stream]      one measurement
 *
 * A measurement: node 1 writes PAGES pages, then node 0 reads them (one word each) in random
 * order with read-ahead off, timing each read: every read is one remote fault that brings one
 * page, in one message of the page plus its 80-byte header, which the emulation holds for
 * latency + (page + 80) / bandwidth. The first pages are not timed (warm-up). With `stream`, node
 * 0 reads them in order with read-ahead on (several pages in flight): the per-page time is then
 * bound by the emulated link, which carries one transfer after the other.
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

#define HDR 80    /* bytes of a message header (doc/design.md, section 8) */
#define WARMUP 64 /* reads not timed */

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

static int measure(int argc, char **argv, long n, int stream)
{
    if (MomeInit(&argc, &argv) < 0 || MomeNodes() != 2) {
        fprintf(stderr, "emulation: measure needs a 2-node job: %s\n", MomeError());
        return 1;
    }
    int me = MomeNode();
    size_t ps = MomePageSize();
    int seg = MomeSegOpen("emulation", ps * (size_t)n, MOME_CREATE);
    char *a = MomeMMap(NULL, ps * (size_t)n, MOME_READ | MOME_WRITE, 0, seg, 0);
    long *order = malloc(sizeof(long) * (size_t)n);
    double *us = malloc(sizeof(double) * (size_t)n);
    uint64_t seed = 88172645463325252ull, sum = 0;

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
    if (me == 1)
        for (long i = 0; i < n; i++)
            *(volatile uint64_t *)(a + ps * (size_t)i) = (uint64_t)i + 1;
    MomeBarrier();
    if (me == 0) {
        double t0 = 0;
        for (long i = 0; i < n; i++) {
            if (i == WARMUP)
                t0 = now_us();
            double t = now_us();
            sum += *(volatile uint64_t *)(a + ps * (size_t)order[i]);
            us[i] = now_us() - t;
        }
        double total = now_us() - t0;
        if (sum != (uint64_t)n * (uint64_t)(n + 1) / 2) {
            fprintf(stderr, "emulation: wrong sum\n");
            return 1;
        }
        long m = n - WARMUP;
        qsort(us + WARMUP, (size_t)m, sizeof(double), cmp_double);
        double mean = 0;
        for (long i = WARMUP; i < n; i++)
            mean += us[i] / (double)m;
        printf("median_us %.3f mean_us %.3f p10_us %.3f p90_us %.3f per_page_us %.3f pages %ld "
               "page_size %zu\n",
               us[WARMUP + m / 2], mean, us[WARMUP + m / 10], us[WARMUP + m * 9 / 10],
               total / (double)m, m, ps);
        fflush(stdout);
    }
    MomeBarrier();
    MomeFinalize();
    free(order);
    free(us);
    return 0;
}

/* ---- the sweep: runs of `measure` under mome-run ---- */

typedef struct setting {
    const char *name;
    uint64_t latency_ns, bandwidth; /* MOME_EMU_*; both 0: off */
    int stream;
} setting_t;

static const char *mome_run, *tls = "posix,sysv,cma", *tname = "shm";
static char self[4096];
static long pages = 3000;

/* Run one measurement; its figures in f[0] (median read), f[1] (time per page over the run),
 * f[2] (page size), f[3] (10th percentile of the reads). -1 if the job failed. */
static int run(const setting_t *s, double f[4])
{
    char pbuf[32], lat[32], bw[32], line[512];
    int p[2], status;
    pid_t pid;

    snprintf(pbuf, sizeof(pbuf), "%ld", pages);
    snprintf(lat, sizeof(lat), "%llu", (unsigned long long)s->latency_ns);
    snprintf(bw, sizeof(bw), "%llu", (unsigned long long)s->bandwidth);
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
        unsetenv("MOME_RUN"); /* a knob's name to the nodes: they would warn about it */
        setenv("MOME_PREFETCH", s->stream ? "7" : "0", 1);
        if (s->latency_ns || s->bandwidth) {
            setenv("MOME_EMU_LATENCY_NS", lat, 1);
            setenv("MOME_EMU_BANDWIDTH", bw, 1);
        } else {
            unsetenv("MOME_EMU_LATENCY_NS");
            unsetenv("MOME_EMU_BANDWIDTH");
        }
        execl(mome_run, mome_run, "-t", "300", "-n", "2", self, "measure", pbuf,
              s->stream ? "stream" : "random", (char *)NULL);
        fprintf(stderr, "emulation: cannot run %s: %s\n", mome_run, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    FILE *in = fdopen(p[0], "r");
    int got = 0;
    while (in && fgets(line, sizeof(line), in))
        got |= sscanf(line,
                      "median_us %lf mean_us %*f p10_us %lf p90_us %*f per_page_us %lf "
                      "pages %*d page_size %lf",
                      &f[0], &f[3], &f[1], &f[2]) == 4;
    if (in)
        fclose(in);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || !got) {
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

static double configured_us(const setting_t *s, double page_size)
{
    double c = (double)s->latency_ns / 1e3;
    if (s->bandwidth)
        c += (page_size + HDR) * 1e6 / (double)s->bandwidth;
    return c;
}

static int sweep(int reps)
{
    static const setting_t off = {"off", 0, 0, 0}, off_stream = {"off (stream)", 0, 0, 1};
    /* Latency 0 with an unbounded bandwidth turns the machinery on with no delay: what it costs
     * by itself. */
    static const setting_t set[] = {
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
    };
    static const setting_t streams[] = {
        {"stream 100 MB/s", 0, 100000000ull, 1},
        {"stream 1 GB/s", 0, 1000000000ull, 1},
    };
    enum { NSET = sizeof(set) / sizeof(set[0]), NSTREAM = sizeof(streams) / sizeof(streams[0]) };
    double base[64], add[NSET][64], add10[NSET][64], sbase[64], sper[NSTREAM][64], f[4], b[4];
    double page_size = 4096;
    int failed = 0, ok = 0, within = 0;

    if (reps > 64)
        reps = 64;
    printf("emulation sweep: 2 nodes over %s, %ld remote pages per run read in random order "
           "(read-ahead off), %d interleaved runs per setting\n",
           tname, pages, reps);
    print_load("at the start");
    fflush(stdout);
    /* Each round runs the reference then every setting, so the machine's drift over the sweep
     * weighs on both alike; a setting's added cost is the median over rounds of its median read
     * minus the same round's reference. */
    for (int r = 0; r < reps; r++) {
        if (run(&off, b) < 0) {
            failed = 1;
            continue;
        }
        base[ok] = b[0];
        page_size = b[2];
        for (int i = 0; i < NSET; i++) {
            if (run(&set[i], f) < 0) {
                failed = 1;
                f[0] = f[3] = 0 / 0.0;
            }
            add[i][ok] = f[0] - b[0];
            add10[i][ok] = f[3] - b[3];
        }
        if (run(&off_stream, b) < 0) {
            failed = 1;
            continue;
        }
        sbase[ok] = b[1];
        for (int i = 0; i < NSTREAM; i++) {
            if (run(&streams[i], f) < 0) {
                failed = 1;
                f[1] = 0 / 0.0;
            }
            sper[i][ok] = f[1];
        }
        ok++;
    }
    print_load("at the end");
    if (!ok)
        return 1;
    printf("reference (emulation off): %.2f us per remote page (median read); measured: a "
           "setting's median read minus the reference's, in the same round (p10: the same with "
           "10th percentiles, less sensitive to load)\n",
           median(base, ok));
    printf("%-20s  %14s  %12s  %9s  %-18s  %s\n", "setting", "configured_us", "measured_us",
           "error_us", "within 10% or 2 us", "measured_p10_us");
    for (int i = 0; i < NSET; i++) {
        double c = configured_us(&set[i], page_size), m = median(add[i], ok), e = m - c;
        int in = (e < 0 ? -e : e) <= 2.0 || (e < 0 ? -e : e) <= 0.1 * c;
        within += in;
        printf("%-20s  %14.2f  %12.2f  %+9.2f  %-18s  %.2f\n", set[i].name, c, m, e,
               in ? "yes" : "NO", median(add10[i], ok));
    }
    printf("%d of %d settings within 10%% (or 2 us) of the configured cost\n", within, NSET);
    printf("streaming (pages read in order, read-ahead 7: up to 8 transfers in flight), time per "
           "page over the run; the link carries one transfer after the other, so it cannot go "
           "below its transfer time\n");
    printf("%-20s  %14s  %12s\n", "setting", "link_us/page", "measured_us");
    printf("%-20s  %14s  %12.2f\n", "off", "-", median(sbase, ok));
    for (int i = 0; i < NSTREAM; i++)
        printf("%-20s  %14.2f  %12.2f\n", streams[i].name, configured_us(&streams[i], page_size),
               median(sper[i], ok));
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
            tls = !strcmp(optarg, "tcp") ? "tcp" : "posix,sysv,cma";
            break;
        default:
            fprintf(stderr, "usage: emulation [sweep] [-p pages] [-r runs] [-t shm|tcp]\n"
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
