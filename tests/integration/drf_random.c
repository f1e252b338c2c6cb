/*
 * drf_random.c - a randomised data-race-free workload checked against a sequential model.
 *
 * Every round, each block of the region gets a random owner (or none): the owner writes it, a
 * barrier follows, and every node compares the whole region with the sequential result it
 * computes itself. Models: "strong", "release", "weak" (all nodes) or "mixed" (node k uses model
 * (k + seed) mod 3). WEAK nodes call MomeSyncMem(region, MomeLastBarrierDate()) before checking.
 *
 *   drf_random SEED ROUNDS PAGES BLOCK MODEL
 */
#include "itest.h"

static int parse_model(const char *s, int me, uint64_t seed)
{
    static const int m[3] = {MOME_STRONG, MOME_RELEASE, MOME_WEAK};
    if (!strcmp(s, "strong"))
        return MOME_STRONG;
    if (!strcmp(s, "release"))
        return MOME_RELEASE;
    if (!strcmp(s, "weak"))
        return MOME_WEAK;
    return m[((uint64_t)me + seed) % 3];
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    int rounds = argc > 2 ? atoi(argv[2]) : 30;
    int pages = argc > 3 ? atoi(argv[3]) : 4;
    size_t block = argc > 4 ? (size_t)atoi(argv[4]) : 16;
    const char *mspec = argc > 5 ? argv[5] : "mixed";
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t len = MomePageSize() * (size_t)pages, nblocks = len / block;
    uint8_t *a = itest_map("drf", len, NULL);
    uint8_t *model = calloc(len, 1);
    int mymodel = parse_model(mspec, me, seed);

    MUST(MomeConsistency(a, len, mymodel));
    MomeBarrier();
    for (int r = 1; r <= rounds; r++) {
        /* Write my blocks of this round, in a random order of blocks. */
        uint64_t start = itest_mix(seed, (uint64_t)r, 77) % nblocks;
        for (size_t k = 0; k < nblocks; k++) {
            size_t b = (start + k * 7919) % nblocks;
            uint64_t h = itest_mix(seed, (uint64_t)r, b);
            int owner = (int)(h % (uint64_t)(n + 1)); /* n: nobody writes it this round */
            if (owner == n)
                continue;
            for (size_t i = 0; i < block; i++) {
                uint8_t v = (uint8_t)(itest_mix(h, i, (uint64_t)r) | 1);
                model[b * block + i] = v; /* every node tracks the sequential result */
                if (owner == me)
                    a[b * block + i] = v;
            }
        }
        MomeBarrier();
        if (mymodel == MOME_WEAK)
            MUST(MomeSyncMem(a, len, MomeLastBarrierDate()));
        for (size_t i = 0; i < len; i++)
            CHECK(a[i] == model[i], "seed %llu round %d (%s, node model %d): byte %zu = %u, "
                                    "sequential model says %u", (unsigned long long)seed, r,
                  mspec, mymodel, i, a[i], model[i]);
        MomeBarrier();
    }
    MomeStatsT st;
    MUST(MomeStats(&st));
    if (me == 0)
        printf("drf random: seed %llu, %d rounds, %d pages, %zu-byte blocks, models %s on %d "
               "nodes: every byte matched the sequential model (node 0: %llu twins, %llu diffs)\n",
               (unsigned long long)seed, rounds, pages, block, mspec, n,
               (unsigned long long)st.twins, (unsigned long long)st.diffs);
    MomeBarrier();
    free(model);
    MomeFinalize();
    return 0;
}
