/*
 * budget.c - a working set larger than the page budget (MOME_LOCAL_PAGES): every node writes its
 * share of a segment of PAGES pages, then every node reads and checks all of it, then rewrites
 * its share and everyone checks again, ROUNDS times, under MODEL (strong, release, weak). With a
 * budget of a tenth of the pages, most pages must leave memory and come back (dropped, paged out
 * to another node or to the swap file) with the right content. Resident memory must stay below
 * the budget plus a constant, Mome's own count of resident pages within the budget; the program
 * prints its counters.
 *
 *   budget PAGES ROUNDS MODEL [RSS_LIMIT_KIB]
 *
 * BUDGET_EXPECT=node: a node with a budget paged out to other nodes' memory only; =disk: to the
 * swap file too. BUDGET_DIE=N: node N kills itself after the first round (the others hold pages
 * it keeps for them, or it holds theirs).
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

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
    long rss0 = itest_status_kib("VmRSS"), peak = 0;
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
                long rss = itest_status_kib("VmRSS") - rss0;
                peak = rss > peak ? rss : peak;
            }
        }
        MomeBarrier();
        if (r == 1 && getenv("BUDGET_DIE") && atoi(getenv("BUDGET_DIE")) == me) {
            printf("node %d: killing itself\n", me);
            fflush(stdout);
            raise(SIGKILL);
        }
    }
    MomeStatsT s;
    MUST(MomeStats(&s));
    const char *b = getenv("MOME_LOCAL_PAGES"), *expect = getenv("BUDGET_EXPECT");
    uint64_t budget = b ? strtoull(b, NULL, 0) : 0;
    printf("node %d: %llu pages x %d rounds (%s): page-outs %llu page-ins %llu; resident grew at "
           "most %ld KiB\n", me, (unsigned long long)pages, rounds, model,
           (unsigned long long)s.page_outs, (unsigned long long)s.page_ins, peak);
    if (limit)
        CHECK(peak <= limit, "resident memory grew %ld KiB, more than %ld", peak, limit);
    if (budget) {
        CHECK(s.resident_peak <= budget, "%llu pages resident at once, budget %llu",
              (unsigned long long)s.resident_peak, (unsigned long long)budget);
        CHECK(s.page_outs + s.evictions > 0, "nothing left memory under a budget");
    }
    if (budget && expect && !strcmp(expect, "node"))
        CHECK(s.page_outs_node > 0 && s.page_outs_disk == 0,
              "expected page-outs to nodes only: %llu to nodes, %llu to disk",
              (unsigned long long)s.page_outs_node, (unsigned long long)s.page_outs_disk);
    if (budget && expect && !strcmp(expect, "disk"))
        CHECK(s.page_outs_disk > 0 && s.swap_bytes_written >= s.page_outs_disk * ps,
              "expected page-outs to disk: %llu (%llu bytes)",
              (unsigned long long)s.page_outs_disk, (unsigned long long)s.swap_bytes_written);
    MomeFinalize();
    return 0;
}
