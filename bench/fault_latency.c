/*
 * fault_latency.c - remote fault latency on 2 nodes: node 0 writes N pages; node 1 reads them in
 * random order (remote read faults: the page comes from node 0, which keeps a read-only copy);
 * then node 0 writes them all again and node 1 writes them in random order (remote write faults:
 * node 0 hands over the page and drops its copy). Prints microseconds per fault.
 *
 *   mome-run -n 2 ./fault_latency [pages]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mome.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    if (MomeInit(&argc, &argv) < 0 || MomeNodes() != 2) {
        fprintf(stderr, "fault_latency: needs a 2-node job: %s\n", MomeError());
        return 1;
    }
    int me = MomeNode();
    size_t ps = MomePageSize();
    int seg = MomeSegOpen("fault_latency", ps * (size_t)n, MOME_CREATE);
    char *a = MomeMMap(NULL, ps * (size_t)n, MOME_READ | MOME_WRITE, 0, seg, 0);
    long *order = malloc(sizeof(long) * (size_t)n);
    uint64_t seed = 88172645463325252ull, sum = 0;
    double t0, rd = 0, wr = 0;
    MomeStatsT s0, s1;

    if (a == MOME_MAP_FAILED || !order) {
        fprintf(stderr, "fault_latency: %s\n", MomeError());
        return 1;
    }
    for (long i = 0; i < n; i++)
        order[i] = i;
    for (long i = n - 1; i > 0; i--) { /* Fisher-Yates with xorshift */
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        long j = (long)(seed % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    if (me == 0)
        for (long i = 0; i < n; i++)
            *(volatile uint64_t *)(a + ps * (size_t)i) = (uint64_t)i + 1;
    MomeBarrier();
    if (me == 1) {
        MomeStats(&s0);
        t0 = now_us();
        for (long i = 0; i < n; i++)
            sum += *(volatile uint64_t *)(a + ps * (size_t)order[i]);
        rd = (now_us() - t0) / (double)n;
        MomeStats(&s1);
        if (sum != (uint64_t)n * (uint64_t)(n + 1) / 2)
            fprintf(stderr, "fault_latency: wrong sum\n");
    }
    MomeBarrier();
    if (me == 0)
        for (long i = 0; i < n; i++)
            *(volatile uint64_t *)(a + ps * (size_t)i) = (uint64_t)i + 2;
    MomeBarrier();
    if (me == 1) {
        t0 = now_us();
        for (long i = 0; i < n; i++)
            *(volatile uint64_t *)(a + ps * (size_t)order[i]) = 7;
        wr = (now_us() - t0) / (double)n;
        printf("read_fault_us %.2f write_fault_us %.2f pages %ld handler_us %.2f\n", rd, wr, n,
               (double)(s1.fault_ns - s0.fault_ns) / 1e3 / (double)n);
        fflush(stdout);
    }
    MomeBarrier();
    MomeFinalize();
    return 0;
}
