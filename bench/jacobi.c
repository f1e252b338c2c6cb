/*
 * jacobi.c - 2-D Jacobi on an N x N grid of doubles, rows split between nodes, under STRONG,
 * RELEASE or WEAK (+ MomeSyncMem of the two halo rows after each barrier); "serial" runs the same
 * kernel on plain memory without Mome (the baseline). Prints the time and a checksum that must be
 * the same bit for bit in every mode (each point is computed with the same arithmetic).
 *
 *   jacobi serial [n] [iters]            (no mome-run)
 *   jacobi half0|half1 [n] [iters]       (no mome-run: the rows node 0 or 1 of 2 computes,
 *                                         alone, on plain memory; its checksum is not serial's)
 *   mome-run -n 2 ./jacobi strong|release|weak [n] [iters]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mome.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Border: the first row is 1.0, every other border point 0; the interior starts at 0. */
static void init(double *g, size_t n, size_t r0, size_t r1)
{
    for (size_t i = r0; i < r1; i++)
        for (size_t j = 0; j < n; j++)
            g[i * n + j] = i == 0 ? 1.0 : 0.0;
}

static void sweep(const double *restrict in, double *restrict out, size_t n, size_t r0, size_t r1)
{
    for (size_t i = r0 < 1 ? 1 : r0; i < r1 && i < n - 1; i++)
        for (size_t j = 1; j < n - 1; j++)
            out[i * n + j] = 0.25 * (in[(i - 1) * n + j] + in[(i + 1) * n + j] +
                                     in[i * n + j - 1] + in[i * n + j + 1]);
}

static double checksum(const double *g, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n * n; i++)
        s += g[i];
    return s;
}

static void report(const char *mode, int nodes, size_t n, int iters, double t, double sum)
{
    uint64_t bits;
    memcpy(&bits, &sum, sizeof(bits));
    printf("jacobi mode=%s nodes=%d n=%zu iters=%d time=%.4f checksum=0x%016llx (%.17g)\n", mode,
           nodes, n, iters, t, (unsigned long long)bits, sum);
}

/* The serial kernel on rows [r0, r1) of plain memory (all of them, or a 2-node run's half). */
static int serial(const char *mode, size_t n, int iters, size_t r0, size_t r1)
{
    double *a = malloc(n * n * sizeof(double)), *b = malloc(n * n * sizeof(double));
    if (!a || !b)
        return 1;
    /* The rows swept and the halo rows around them, as a node of a 2-node run touches them. */
    size_t h0 = r0 ? r0 - 1 : 0, h1 = r1 < n ? r1 + 1 : n;
    init(a, n, h0, h1);
    init(b, n, h0, h1);
    double t0 = now_s();
    for (int it = 0; it < iters; it++) {
        sweep(a, b, n, r0, r1);
        double *t = a;
        a = b;
        b = t;
    }
    double t = now_s() - t0;
    if (h0 != 0 || h1 != n) { /* the rows never touched: zeros, so the checksum can be taken */
        memset(a, 0, h0 * n * sizeof(double));
        memset(a + h1 * n, 0, (n - h1) * n * sizeof(double));
    }
    report(mode, 1, n, iters, t, checksum(a, n));
    free(a);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mname = argc > 1 ? argv[1] : "strong";
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    int iters = argc > 3 ? atoi(argv[3]) : 100;
    int model = !strcmp(mname, "weak") ? MOME_WEAK
                : !strcmp(mname, "release") ? MOME_RELEASE : MOME_STRONG;

    if (!strcmp(mname, "serial"))
        return serial(mname, n, iters, 0, n);
    if (!strcmp(mname, "half0") || !strcmp(mname, "half1")) {
        size_t k = mname[4] == '1';
        return serial(mname, n, iters, n * k / 2, n * (k + 1) / 2);
    }
    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "jacobi: %s\n", MomeError());
        return 1;
    }
    int me = MomeNode(), nodes = MomeNodes();
    size_t bytes = n * n * sizeof(double);
    int seg = MomeSegOpen("bench_jacobi", 2 * bytes, MOME_CREATE);
    double *base = MomeMMap(NULL, 2 * bytes, MOME_READ | MOME_WRITE, 0, seg, 0);
    if (base == MOME_MAP_FAILED || MomeConsistency(base, 2 * bytes, model) < 0) {
        fprintf(stderr, "jacobi: %s\n", MomeError());
        return 1;
    }
    double *a = base, *b = base + n * n;
    size_t r0 = n * (size_t)me / (size_t)nodes, r1 = n * (size_t)(me + 1) / (size_t)nodes;
    init(a, n, r0, r1);
    init(b, n, r0, r1);
    MomeBarrier();
    double t0 = now_s();
    for (int it = 0; it < iters; it++) {
        if (model == MOME_WEAK && it > 0) {
            /* Only the halo rows change under this node's feet: refresh them, nothing else. */
            MomeDate d = MomeLastBarrierDate();
            if (r0 > 0)
                MomeSyncMem(a + (r0 - 1) * n, n * sizeof(double), d);
            if (r1 < n)
                MomeSyncMem(a + r1 * n, n * sizeof(double), d);
        }
        sweep(a, b, n, r0, r1);
        MomeBarrier();
        double *t = a;
        a = b;
        b = t;
    }
    double t = now_s() - t0;
    if (me == 0) {
        if (model == MOME_WEAK) /* the whole grid, as of the last barrier */
            MomeSyncMem(a, bytes, MomeLastBarrierDate());
        report(mname, nodes, n, iters, t, checksum(a, n));
    }
    MomeBarrier();
    MomeFinalize();
    return 0;
}
