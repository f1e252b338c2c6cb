/*
 * weak_write.c - a WEAK node writes words of a page its copy of which is older than the master
 * (WEAK: the copy changes only when its node asks), after other nodes wrote the same words and a
 * barrier ordered their writes before its own. After the next barrier every node must read what
 * the WEAK node wrote. Before a WEAK write took the master's content after an acquire
 * (helper-127), its twin, taken from the old copy, made an XOR diff that gave the master
 * old ^ new ^ theirs: a value nobody wrote. Then the same with a lock ordering the writes, the
 * WEAK node's page already open for writing when it takes the lock (helper-130: the page stayed
 * open across the lock, its twin older than node 0's write).
 */
#include "itest.h"

#define ROUNDS 20

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes(), wk = n - 1;
    size_t ps = MomePageSize();
    volatile uint64_t *w = itest_map("weak_write", ps, NULL);

    /* The others RELEASE: several writers, each with a twin (under STRONG the WEAK node's write
     * would take the whole page). */
    MUST(MomeConsistency((void *)w, ps, me == wk ? MOME_WEAK : MOME_RELEASE));
    MomeBarrier();
    if (me == 0)
        w[0] = 1; /* node 0 owns the master */
    MomeBarrier();
    if (me == wk)
        CHECK(w[0] == 1, "node %d reads %llu, want 1", me, (unsigned long long)w[0]);
    MomeBarrier();
    for (uint64_t r = 0; r < ROUNDS; r++) {
        if (me == (int)(r % (uint64_t)(n - 1))) {
            w[1] = 100 + r; /* the same words as the WEAK node's, before it */
            w[2 + r] = 7;   /* and one it does not write */
        }
        MomeBarrier();
        if (me == wk)
            w[1] = 1000 + r; /* on its old copy: it never asked for the new one */
        MomeBarrier();
        if (me == wk)
            MUST(MomeSyncMem((void *)w, ps, MomeLastBarrierDate()));
        CHECK(w[1] == 1000 + r && w[2 + r] == 7,
              "round %llu: node %d reads %llu and %llu after the barrier, node %d wrote %llu last "
              "and node %d wrote 7",
              (unsigned long long)r, me, (unsigned long long)w[1], (unsigned long long)w[2 + r], wk,
              (unsigned long long)(1000 + r), (int)(r % (uint64_t)(n - 1)));
        MomeBarrier();
    }
    /* A lock orders the writes: node 0 writes w[1] under lock 7, then says so on a STRONG flag;
     * the WEAK node, its page open since its MomeSyncMem and a write of another word, takes the
     * lock and writes w[1]. */
    volatile uint64_t *flag = itest_map("weak_write_flag", ps, NULL);
    for (uint64_t r = 0; r < ROUNDS; r++) {
        if (me == wk) {
            MUST(MomeSyncMem((void *)w, ps, MomeLastBarrierDate()));
            w[300] = r; /* open for writing */
            while (flag[0] != r + 1)
                MomePoll();
            MUST(MomeLock(7));
            w[1] = 2000 + r;
            MUST(MomeUnlock(7));
        } else if (me == 0) {
            MUST(MomeLock(7));
            w[1] = 1500 + r;
            MUST(MomeUnlock(7));
            flag[0] = r + 1;
        }
        MomeBarrier();
        if (me == wk)
            MUST(MomeSyncMem((void *)w, ps, MomeLastBarrierDate()));
        CHECK(w[1] == 2000 + r && w[300] == r,
              "lock round %llu: node %d reads %llu and %llu after the barrier, node %d wrote %llu "
              "last (after node 0's lock) and %llu",
              (unsigned long long)r, me, (unsigned long long)w[1], (unsigned long long)w[300], wk,
              (unsigned long long)(2000 + r), (unsigned long long)r);
        MomeBarrier();
    }
    if (me == 0)
        printf("a WEAK writer of an old copy: %d rounds after barriers and %d after a lock on %d "
               "nodes, its values kept\n",
               ROUNDS, ROUNDS, n);
    MUST(MomeFinalize());
    return 0;
}
