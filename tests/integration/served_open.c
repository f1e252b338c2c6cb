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
 * With "ahead", the page written back is not one kept open but one opened ahead: node 1 wrote
 * pages 0 and 1 in the first interval and node 0 read both; node 1's next write to page 0 opens
 * page 1 ahead with a copy of its released bytes to compare with (write-ahead, design.md section
 * 6), and that interval holds the temporary value, the copy served and the write back, on page 1.
 *
 *   mome-run -n 3 ./served_open [release|weak] [kept|ahead]
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
    const char *mode = argc > 1 ? argv[1] : "release", *how = argc > 2 ? argv[2] : "kept";
    int weak = strcmp(mode, "weak") == 0, ahead = strcmp(how, "ahead") == 0;
    CHECK(weak || strcmp(mode, "release") == 0, "mode '%s': release or weak", mode);
    CHECK(ahead || strcmp(how, "kept") == 0, "'%s': kept or ahead", how);
    CHECK(MomeNodes() == 3, "3 nodes, not %d", MomeNodes());
    int me = MomeNode();
    MomeStatsT s0, s1;
    uint64_t rounds = ahead ? 2 : ROUNDS;
    size_t ps = MomePageSize();
    char name[64];
    snprintf(name, sizeof(name), "served_open_%s_%s", mode, how);
    char *a = itest_map(name, 3 * ps, NULL);
    /* w: the page written back; p0: page 0, whose write fault opens w ahead. */
    volatile uint64_t *p0 = (volatile uint64_t *)a,
                      *w = (volatile uint64_t *)(a + (ahead ? ps : 0));
    volatile uint64_t *flag = (volatile uint64_t *)(a + 2 * ps);
    MUST(MomeConsistency(a, 2 * ps, weak ? MOME_WEAK : MOME_RELEASE));
    MUST(MomeConsistency(a + 2 * ps, ps, MOME_STRONG));

    /* Node 1 owns the page(s) and writes them in every interval; node 0 reads them after each. */
    for (uint64_t r = 1; r <= rounds; r++) {
        if (me == 1) {
            p0[0] = r;
            w[0] = r;
        }
        MomeBarrier();
        if (me == 0) {
            if (weak)
                MUST(MomeSyncMem(a, 2 * ps, MomeLastBarrierDate()));
            CHECK(p0[0] == r && w[0] == r, "round %llu: node 0 reads %llu and %llu",
                  (unsigned long long)r, (unsigned long long)p0[0], (unsigned long long)w[0]);
        }
        MomeBarrier();
    }

    /* One interval: a temporary value, a copy served with it, the last released value back. */
    MUST(MomeStats(&s0));
    if (me == 1) {
        if (ahead)
            p0[0] = rounds + 1; /* its write fault opens w's page ahead */
        w[0] = TEMP;
        *flag = FLAG_SEEN;
        wait_flag(flag, FLAG_READ);
        w[0] = rounds;
    } else if (me == 2) {
        wait_flag(flag, FLAG_SEEN);
        CHECK(w[100] == 0, "node 2 reads %llu in a word nobody wrote", (unsigned long long)w[100]);
        *flag = FLAG_READ;
    }
    MomeBarrier();
    /* Counted by the progress thread: read once the interval is over. */
    MUST(MomeStats(&s1));
    if (me == 1 && ahead)
        CHECK(s1.pages_written_ahead > s0.pages_written_ahead,
              "the write to page 0 opened no page ahead (%llu write faults)",
              (unsigned long long)(s1.write_faults - s0.write_faults));
    if (weak)
        MUST(MomeSyncMem(a, 2 * ps, MomeLastBarrierDate()));
    CHECK(w[0] == rounds,
          "node %d reads %llu after the barrier, not %llu (node 1 wrote %d, then %llu "
          "back, before it)",
          me, (unsigned long long)w[0], (unsigned long long)rounds, TEMP,
          (unsigned long long)rounds);
    MomeBarrier();
    if (me == 0)
        printf("served_open %s %s: the copy served mid-interval was replaced after the "
               "barrier\n",
               mode, how);
    MomeFinalize();
    return 0;
}
