/*
 * served_open.c - a copy served from a page its owner writes without write faults (a RELEASE page
 * kept open through releases, or opened ahead) carries the page's version: if the owner then
 * writes the page back to what it held at its last release before releasing again, that release
 * finds the page unchanged, and the node served must still not keep the bytes it was sent.
 *
 * Node 1 owns word 0 of a RELEASE page and writes it in every interval while node 0 reads it
 * after every barrier (the page is shared and kept open). Then, inside one interval, node 1 writes
 * a temporary value, node 2 (which never held the page) reads another word of it, and node 1
 * writes back the value of its last release, all ordered by a STRONG flag, which releases
 * nothing. After the barrier every node must read the restored value: a data-race-free program.
 * The same on a WEAK page (mode "weak"), where node 2 asks with MomeSyncMem after the barrier
 * whether the version of its copy is current.
 *
 *   mome-run -n 3 ./served_open [release|weak]
 */
#include "itest.h"

enum { ROUNDS = 6, TEMP = 1000, FLAG_SEEN = 1, FLAG_READ = 2 };

static void wait_flag(volatile uint64_t *flag, uint64_t v)
{
    while (*flag != v)
        MomePoll();
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    const char *mode = argc > 1 ? argv[1] : "release";
    int weak = strcmp(mode, "weak") == 0;
    CHECK(weak || strcmp(mode, "release") == 0, "mode '%s': release or weak", mode);
    CHECK(MomeNodes() == 3, "3 nodes, not %d", MomeNodes());
    int me = MomeNode();
    size_t ps = MomePageSize();
    char *a = itest_map(weak ? "served_open_weak" : "served_open", 2 * ps, NULL);
    volatile uint64_t *w = (volatile uint64_t *)a, *flag = (volatile uint64_t *)(a + ps);
    MUST(MomeConsistency(a, ps, weak ? MOME_WEAK : MOME_RELEASE));
    MUST(MomeConsistency(a + ps, ps, MOME_STRONG));

    /* Node 1 owns the page and writes it in every interval; node 0 reads it after each. */
    for (uint64_t r = 1; r <= ROUNDS; r++) {
        if (me == 1)
            w[0] = r;
        MomeBarrier();
        if (me == 0) {
            if (weak)
                MUST(MomeSyncMem(a, ps, MomeLastBarrierDate()));
            CHECK(w[0] == r, "round %llu: node 0 reads %llu", (unsigned long long)r,
                  (unsigned long long)w[0]);
        }
        MomeBarrier();
    }

    /* One interval: a temporary value, a copy served with it, the last released value back. */
    if (me == 1) {
        w[0] = TEMP;
        *flag = FLAG_SEEN;
        wait_flag(flag, FLAG_READ);
        w[0] = ROUNDS;
    } else if (me == 2) {
        wait_flag(flag, FLAG_SEEN);
        CHECK(w[100] == 0, "node 2 reads %llu in a word nobody wrote", (unsigned long long)w[100]);
        *flag = FLAG_READ;
    }
    MomeBarrier();
    if (weak)
        MUST(MomeSyncMem(a, ps, MomeLastBarrierDate()));
    CHECK(w[0] == ROUNDS,
          "node %d reads %llu after the barrier, not %d (node 1 wrote %d, then %d "
          "back, before it)",
          me, (unsigned long long)w[0], ROUNDS, TEMP, ROUNDS);
    MomeBarrier();
    if (me == 0)
        printf("served_open %s: the copy served mid-interval was replaced after the barrier\n",
               mode);
    MomeFinalize();
    return 0;
}
