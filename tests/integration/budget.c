/*
 * budget.c - a working set larger than the page budget (MOME_LOCAL_PAGES): every node writes its
 * share of a segment of PAGES pages, then every node reads and checks all of it, then rewrites
 * its share and everyone checks again, ROUNDS times, under MODEL (strong, release, weak). With a
 * budget of a tenth of the pages, most pages must leave memory and come back (dropped, paged out
 * to another node or to the swap file) with the right content. Resident memory must stay below
 * the budget plus a constant; the program prints its counters.
 *
 *   budget PAGES ROUNDS MODEL [RSS_LIMIT_KIB]
 */
#include <string.h>
#include <unistd.h>

#include "itest.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static uint64_t value(uint64_t page, int round, size_t word)
{
    return (page * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)round << 40) ^ word;
}

int main(int argc, char **argv)
{
    uint64_t pages = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000;
    int rounds = argc > 2 ? atoi(argv[2]) : 2;
    const char *model = argc > 3 ? argv[3] : "strong";
    long limit = argc > 4 ? atol(argv[4]) : 0;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize(), words = ps / 8;
    int m = !strcmp(model, "weak") ? MOME_WEAK : !strcmp(model, "release") ? MOME_RELEASE
                                                                           : MOME_STRONG;
    long rss0 = rss_kib(), peak = 0;
    uint8_t *a = itest_map("budget", pages * ps, NULL);

    MUST(MomeConsistency(a, pages * ps, m));
    for (int r = 1; r <= rounds; r++) {
        /* Write this node's share (pages p with p % n == me), a few words of each page. */
        for (uint64_t p = (uint64_t)me; p < pages; p += (uint64_t)n) {
            uint64_t *w = (uint64_t *)(a + p * ps);
            w[0] = value(p, r, 0);
            w[words / 2] = value(p, r, words / 2);
            w[words - 1] = value(p, r, words - 1);
        }
        MomeDate d = MomeBarrier();
        if (m == MOME_WEAK)
            MUST(MomeSyncMem(a, pages * ps, d));
        /* Every node checks all of it. */
        for (uint64_t p = 0; p < pages; p++) {
            const uint64_t *w = (const uint64_t *)(a + p * ps);
            CHECK(w[0] == value(p, r, 0) && w[words / 2] == value(p, r, words / 2) &&
                      w[words - 1] == value(p, r, words - 1),
                  "round %d: page %llu wrong on node %d", r, (unsigned long long)p, me);
            if (p % 64 == 0) {
                long rss = rss_kib() - rss0;
                peak = rss > peak ? rss : peak;
            }
        }
        MomeBarrier();
    }
    MomeStatsT s;
    MUST(MomeStats(&s));
    printf("node %d: %llu pages x %d rounds (%s): page-outs %llu page-ins %llu; resident grew at "
           "most %ld KiB\n", me, (unsigned long long)pages, rounds, model,
           (unsigned long long)s.page_outs, (unsigned long long)s.page_ins, peak);
    if (limit)
        CHECK(peak <= limit, "resident memory grew %ld KiB, more than %ld", peak, limit);
    MomeFinalize();
    return 0;
}
