/*
 * threads.c - two application threads per node faulting at the same time: first on different
 * pages, then on the same pages (each thread owns distinct words of shared pages). No write may be
 * lost and every value must be exact.
 */
#include <pthread.h>

#include "itest.h"

#define T 2
static int me, n, pages, rounds;
static size_t ps;
static char *a;

static void *diff_pages(void *arg)
{
    int t = (int)(intptr_t)arg, slot = me * T + t;
    for (int p = slot; p < pages; p += n * T)
        for (size_t w = 0; w < ps / 8; w += 64)
            ((volatile uint64_t *)(a + ps * (size_t)p))[w] = (uint64_t)p * 1000 + w;
    return NULL;
}

static void *same_pages(void *arg)
{
    int t = (int)(intptr_t)arg, slot = me * T + t;
    for (int r = 1; r <= rounds; r++)
        for (int p = 0; p < 4; p++)
            ((volatile uint64_t *)(a + ps * (size_t)(pages + p)))[slot] = (uint64_t)r;
    return NULL;
}

static void run(void *(*fn)(void *))
{
    pthread_t th[T];
    for (int t = 0; t < T; t++)
        pthread_create(&th[t], NULL, fn, (void *)(intptr_t)t);
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
}

int main(int argc, char **argv)
{
    pages = argc > 1 ? atoi(argv[1]) : 64;
    rounds = argc > 2 ? atoi(argv[2]) : 200;
    itest_init(&argc, &argv);
    me = MomeNode();
    n = MomeNodes();
    ps = MomePageSize();
    a = itest_map("threads", ps * (size_t)(pages + 4), NULL);

    MomeBarrier();
    run(diff_pages);
    MomeBarrier();
    for (int p = 0; p < pages; p++)
        for (size_t w = 0; w < ps / 8; w += 64)
            CHECK(((uint64_t *)(a + ps * (size_t)p))[w] == (uint64_t)p * 1000 + w,
                  "page %d word %zu", p, w);
    MomeBarrier();
    run(same_pages);
    MomeBarrier();
    for (int p = 0; p < 4; p++)
        for (int s = 0; s < n * T; s++)
            CHECK(((uint64_t *)(a + ps * (size_t)(pages + p)))[s] == (uint64_t)rounds,
                  "shared page %d slot %d = %llu", p, s,
                  (unsigned long long)((uint64_t *)(a + ps * (size_t)(pages + p)))[s]);
    MomeStatsT st;
    MUST(MomeStats(&st));
    MomeBarrier();
    if (me == 0)
        printf("threads: %d threads on %d nodes faulted concurrently; all values exact (node 0: "
               "%llu read, %llu write faults)\n", T * n, n, (unsigned long long)st.read_faults,
               (unsigned long long)st.write_faults);
    MomeFinalize();
    return 0;
}
