/*
 * write_ahead.c - RELEASE write-ahead: nodes 0 and 1 rewrite interleaved bytes of the same pages
 * at every step; a write fault then opens the following pages written at the previous step too.
 * Checks every byte on every node after each barrier, that write-ahead happened (unless
 * MOME_PREFETCH=0, given as argv[1] = "off"), and that a page opened ahead but not written sends
 * no notice: the other writer's copies of such pages stay valid. First, sequential writes of
 * pages the writer lacks open the next pages ahead (sequential), and strided writes and reads ask
 * ahead along their stride (strided).
 *
 *   mome-run -n 2|3 ./write_ahead [on|off]
 */
#include "itest.h"

enum { PAGES = 16 };

static void check_all(volatile uint8_t *a, size_t len, int round)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t want = (uint8_t)(round * 7 + (int)i);
        CHECK(a[i] == want, "round %d: byte %zu of %zu is %u, not %u", round, i, len, a[i], want);
    }
}

/* One step: nodes 0 and 1 write their bytes of every page, page after page; everyone checks. */
static void step(volatile uint8_t *a, size_t len, int round)
{
    int me = MomeNode();
    if (me <= 1)
        for (size_t p = 0; p < len; p += MomePageSize())
            for (size_t i = (size_t)me; i < MomePageSize(); i += 2)
                a[p + i] = (uint8_t)(round * 7 + (int)(p + i));
    MomeBarrier();
    check_all(a, len, round);
    MomeBarrier();
}

/*
 * 0. Sequential writes of pages this node lacks: node 0 writes every page of a fresh segment (no
 * node has them), then node 1 writes one word of each (node 0 owns them). A write fault right
 * after the page before it was written opens the next pages ahead (requester.c, ask_ahead), so
 * under RELEASE either pass takes far fewer faults than pages; with MOME_PREFETCH=0, one fault per
 * page. Under STRONG only the first pass opens pages ahead: the manager declines a STRONG write
 * asked ahead of a page a node holds (directory.c), so node 1 opens none and takes a fault per
 * page, and every value must still be right.
 */
static void sequential(int ahead, int model)
{
    enum { SEQ = 64 };
    int me = MomeNode();
    size_t ps = MomePageSize();
    volatile uint64_t *b = itest_map(
        model == MOME_STRONG ? "write_ahead_seq_strong" : "write_ahead_seq", SEQ * ps, NULL);
    MomeStatsT s0, s1;

    if (model != MOME_STRONG)
        MUST(MomeConsistency((void *)b, SEQ * ps, model));
    for (int pass = 0; pass <= 1; pass++) {
        MomeBarrier();
        MUST(MomeStats(&s0));
        if (me == pass)
            for (size_t p = 0; p < SEQ; p++)
                for (size_t i = pass; i < ps / 8; i += pass ? ps / 8 : 1)
                    b[p * ps / 8 + i] = p * 1000 + i + (uint64_t)pass;
        MUST(MomeStats(&s1));
        MomeBarrier();
        uint64_t wf = s1.write_faults - s0.write_faults;
        uint64_t wa = s1.pages_written_ahead - s0.pages_written_ahead;
        if (me == pass) {
            printf("write_ahead: node %d: %llu write faults, %llu pages opened ahead, writing %d "
                   "pages in a row (%s, %s)\n",
                   me, (unsigned long long)wf, (unsigned long long)wa, SEQ,
                   pass ? "owned by node 0" : "nobody's",
                   model == MOME_STRONG ? "STRONG" : "RELEASE");
            /* Counted: pages opened ahead, not faults (a fault that meets a page still on its
             * way counts too, and a slow machine has more of them). */
            if (ahead && model == MOME_STRONG && pass)
                CHECK(wa == 0 && wf >= SEQ,
                      "STRONG, pages node 0 owns: %llu opened ahead, %llu "
                      "write faults: none should open ahead, each page fault",
                      (unsigned long long)wa, (unsigned long long)wf);
            else if (ahead)
                CHECK(wa >= SEQ / 2, "pass %d: %llu of %d pages written in a row were opened "
                      "ahead: half or more should be", pass, (unsigned long long)wa, SEQ);
            else
                CHECK(wf >= SEQ && wa == 0, "MOME_PREFETCH=0: %llu write faults for %d pages, "
                      "%llu opened ahead", (unsigned long long)wf, SEQ, (unsigned long long)wa);
        }
    }
    for (size_t p = 0; p < SEQ; p++)
        for (size_t i = 0; i < ps / 8; i++) {
            uint64_t want = p * 1000 + i + (i == 1 ? 1 : 0);
            CHECK(b[p * ps / 8 + i] == want, "page %zu word %zu is %llu, not %llu", p, i,
                  (unsigned long long)b[p * ps / 8 + i], (unsigned long long)want);
        }
    MomeBarrier();
}

/*
 * 0b. Strided access to pages this node lacks: node 0 writes every page of a fresh segment, then
 * node 1 writes one word of every other page (a cyclic share) and reads the pages between. Faults
 * at a fixed distance ask ahead along it (requester.c, ask_ahead_strided): either loop takes far
 * fewer faults than pages; with MOME_PREFETCH=0, one fault per page.
 */
static void strided(int ahead)
{
    enum { SEQ = 64 };
    int me = MomeNode();
    size_t ps = MomePageSize(), wpp = ps / 8;
    volatile uint64_t *b = itest_map("write_ahead_stride", SEQ * ps, NULL);
    MomeStatsT s0, s1, s2;

    MUST(MomeConsistency((void *)b, SEQ * ps, MOME_RELEASE));
    if (me == 0)
        for (size_t w = 0; w < SEQ * wpp; w++)
            b[w] = w;
    MomeBarrier();
    MUST(MomeStats(&s0));
    uint64_t sum = 0;
    if (me == 1) {
        for (size_t p = 0; p < SEQ; p += 2)
            b[p * wpp + 1] = 7 * p;
        MUST(MomeStats(&s1));
        for (size_t p = 1; p < SEQ; p += 2)
            sum += b[p * wpp + 2];
        MUST(MomeStats(&s2));
        uint64_t wf = s1.write_faults - s0.write_faults, rf = s2.read_faults - s1.read_faults;
        uint64_t wa = s1.pages_written_ahead - s0.pages_written_ahead;
        uint64_t ra = s2.pages_prefetched - s1.pages_prefetched;
        printf("write_ahead: node 1: %llu write faults (%llu pages opened ahead) writing every "
               "other page of %d, %llu read faults (%llu asked ahead) reading the others\n",
               (unsigned long long)wf, (unsigned long long)wa, SEQ, (unsigned long long)rf,
               (unsigned long long)ra);
        if (ahead)
            CHECK(wa >= SEQ / 4 && ra >= SEQ / 4, "%llu and %llu of the %d pages written and read "
                  "2 apart were asked ahead: half or more of each should be",
                  (unsigned long long)wa, (unsigned long long)ra, SEQ / 2);
        else
            CHECK(wf >= SEQ / 2 && rf >= SEQ / 2 && wa + ra == 0, "MOME_PREFETCH=0: %llu write "
                  "and %llu read faults for %d pages each, %llu asked ahead",
                  (unsigned long long)wf, (unsigned long long)rf, SEQ / 2,
                  (unsigned long long)(wa + ra));
        uint64_t want = 0;
        for (size_t p = 1; p < SEQ; p += 2)
            want += p * wpp + 2;
        CHECK(sum == want, "node 1 read %llu from the odd pages, not %llu",
              (unsigned long long)sum, (unsigned long long)want);
    }
    MomeBarrier();
    for (size_t p = 0; p < SEQ; p++)
        for (size_t i = 0; i < wpp; i++) {
            uint64_t want = i == 1 && p % 2 == 0 ? 7 * p : p * wpp + i;
            CHECK(b[p * wpp + i] == want, "strided: page %zu word %zu is %llu, not %llu", p, i,
                  (unsigned long long)b[p * wpp + i], (unsigned long long)want);
        }
    MomeBarrier();
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    int me = MomeNode(), ahead = !(argc > 1 && !strcmp(argv[1], "off"));
    size_t ps = MomePageSize(), len = ps * PAGES;
    volatile uint8_t *a = itest_map("write_ahead", len, NULL);
    MomeStatsT s0, s1;

    CHECK(MomeNodes() >= 2, "needs 2 nodes or more");
    MUST(MomeConsistency((void *)a, len, MOME_RELEASE));
    sequential(ahead, MOME_RELEASE);
    sequential(ahead, MOME_STRONG);
    strided(ahead);

    /* 1. Steps of interleaved writes by nodes 0 and 1. */
    MomeBarrier();
    MUST(MomeStats(&s0));
    int round;
    for (round = 1; round <= 6; round++)
        step(a, len, round);
    MUST(MomeStats(&s1));
    uint64_t wa = s1.pages_written_ahead - s0.pages_written_ahead;
    uint64_t wf = s1.write_faults - s0.write_faults;
    if (me <= 1) {
        printf("write_ahead: node %d: %llu write faults, %llu pages written ahead in 6 steps of %d "
               "pages\n", me, (unsigned long long)wf, (unsigned long long)wa, PAGES);
        if (ahead)
            CHECK(wa > 0 && wf < 6 * PAGES, "no write-ahead: %llu faults, %llu ahead",
                  (unsigned long long)wf, (unsigned long long)wa);
        else
            CHECK(wa == 0, "MOME_PREFETCH=0 but %llu pages written ahead", (unsigned long long)wa);
    }

    /* 2. Node w writes page 0 only: its fault opens pages 1.. ahead, which stay unwritten. The
     * other writer has read every page since: at most page 0 of its copies may be invalidated.
     * Each of nodes 0 and 1 takes a turn (one of them owns the master copies, the other twins). */
    for (int w = 0; w <= 1; w++) {
        round++;
        step(a, len, round);
        MUST(MomeStats(&s0));
        if (me == w)
            for (size_t i = (size_t)w; i < ps; i += 2)
                a[i] = (uint8_t)((round + 1) * 7 + (int)i);
        MomeBarrier();
        MUST(MomeStats(&s1));
        uint64_t inv = s1.invalidations_received - s0.invalidations_received;
        for (size_t i = 0; i < len; i++) {
            int changed = i < ps && i % 2 == (size_t)w;
            uint8_t want = (uint8_t)((changed ? round + 1 : round) * 7 + (int)i);
            CHECK(a[i] == want, "after node %d's partial step: byte %zu is %u, not %u", w, i, a[i],
                  want);
        }
        if (me == 1 - w)
            CHECK(inv <= 1, "node %d lost %llu copies, but node %d changed one page", me,
                  (unsigned long long)inv, w);
        MomeBarrier();
    }

    /* 3. Full steps again: nothing was lost by the pages opened and left alone. */
    for (round = round + 1; round <= 14; round++)
        step(a, len, round);
    if (me == 0)
        printf("write_ahead: %s, every byte right on every node\n",
               ahead ? "pages written ahead" : "write-ahead off");
    MomeFinalize();
    return 0;
}
