/*
 * budget_churn.c - interleaved writers under a page budget: in each of ROUNDS rounds every node
 * writes its words (word w of a page is node w % N's) of a random DENSITY% of the PAGES pages,
 * reads random words of any page, then a barrier (and under WEAK a MomeSyncMem dated by it), and
 * every node checks every word of every page against the round its writer last wrote it. Pages
 * are shared by every node, written by several in one round, read everywhere: read copies,
 * masters, twins and diffs all leave memory and come back (an audit found three ways this
 * stopped jobs with a budget: a MomeSyncMem dropping the only current copy, the pager dropping a
 * read copy its manager served from, a page-in nested in a page-out's wait).
 *
 *   budget_churn PAGES ROUNDS strong|release|weak SEED [DENSITY]
 */
#include "itest.h"

static uint64_t value(uint64_t page, uint64_t word, int round)
{
    return round ? (page * 0x9e3779b97f4a7c15ull) ^ (word << 20) ^ ((uint64_t)round << 44) ^ 5 : 0;
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    CHECK(argc >= 5, "usage: budget_churn PAGES ROUNDS strong|release|weak SEED [DENSITY]");
    uint64_t pages = strtoull(argv[1], NULL, 0), seed = strtoull(argv[4], NULL, 0);
    int rounds = atoi(argv[2]), density = argc > 5 ? atoi(argv[5]) : 30;
    int model = !strcmp(argv[3], "strong")    ? MOME_STRONG
                : !strcmp(argv[3], "release") ? MOME_RELEASE
                : !strcmp(argv[3], "weak")    ? MOME_WEAK
                                              : -1;
    int me = MomeNode(), n = MomeNodes();
    size_t words = MomePageSize() / 8;
    CHECK(model >= 0 && pages > 0 && rounds > 0, "bad arguments");
    uint64_t *a = itest_map("churn", pages * MomePageSize(), NULL);
    MUST(MomeConsistency(a, pages * MomePageSize(), model));
    int *last = calloc(pages * (size_t)n, sizeof(*last)); /* the round node k last wrote page p */
    CHECK(last != NULL, "calloc");
    MomeBarrier();
    for (int r = 1; r <= rounds; r++) {
        for (int k = 0; k < n; k++) {
            uint64_t s = seed * 1000003 + (uint64_t)r * 7919 + (uint64_t)k * 104729 + 1;
            for (uint64_t p = 0; p < pages; p++) {
                if ((int)(itest_rand(&s) % 100) >= density)
                    continue;
                last[p * (size_t)n + (size_t)k] = r;
                if (k == me)
                    for (size_t w = (size_t)me; w < words; w += (size_t)n)
                        a[p * words + w] = value(p, w, r);
            }
        }
        uint64_t s = seed ^ ((uint64_t)r * 31 + (uint64_t)me);
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < pages; i++)
            sink += a[(itest_rand(&s) % pages) * words + itest_rand(&s) % words];
        (void)sink;
        MomeDate d = MomeBarrier();
        if (model == MOME_WEAK)
            MUST(MomeSyncMem(a, pages * MomePageSize(), d));
        for (uint64_t p = 0; p < pages; p++)
            for (size_t w = 0; w < words; w++) {
                uint64_t want = value(p, w, last[p * (size_t)n + w % (size_t)n]);
                CHECK(a[p * words + w] == want, "round %d page %llu word %zu: %#llx, not %#llx", r,
                      (unsigned long long)p, w, (unsigned long long)a[p * words + w],
                      (unsigned long long)want);
            }
        MomeBarrier();
    }
    if (me == 0)
        printf("budget_churn: %llu pages, %d rounds, %s, seed %llu: every word right\n",
               (unsigned long long)pages, rounds, argv[3], (unsigned long long)seed);
    free(last);
    MUST(MomeFinalize());
    return 0;
}
