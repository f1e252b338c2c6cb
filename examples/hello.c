/*
 * hello.c - hello, DSM: every node fills its part of a shared segment with a known pattern, then
 * node 0 reads all of it and checks every word.
 *
 *   mome-run -n 4 ./hello [bytes-per-node]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <mome.h>

static uint64_t pattern(int node, uint64_t i)
{
    return ((uint64_t)node << 48) ^ (i * 0x9e3779b97f4a7c15ull);
}

int main(int argc, char **argv)
{
    uint64_t per = argc > 1 ? strtoull(argv[1], NULL, 0) : (1u << 20);
    int me, n, seg, bad = 0;
    uint64_t *a;

    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "hello: %s\n", MomeError());
        return 1;
    }
    me = MomeNode();
    n = MomeNodes();
    per = (per + MomePageSize() - 1) / MomePageSize() * MomePageSize();
    seg = MomeSegOpen("hello", per * (uint64_t)n, MOME_CREATE);
    if (seg < 0) {
        fprintf(stderr, "hello: %s\n", MomeError());
        return 1;
    }
    a = MomeMMap(NULL, per * (uint64_t)n, MOME_READ | MOME_WRITE, 0, seg, 0);
    if (a == MOME_MAP_FAILED) {
        fprintf(stderr, "hello: %s\n", MomeError());
        return 1;
    }

    uint64_t words = per / sizeof(uint64_t);
    for (uint64_t i = 0; i < words; i++)
        a[(uint64_t)me * words + i] = pattern(me, i);
    MomeBarrier();

    if (me == 0) {
        for (int k = 0; k < n; k++)
            for (uint64_t i = 0; i < words; i++)
                if (a[(uint64_t)k * words + i] != pattern(k, i) && bad++ < 5)
                    fprintf(stderr, "hello: word %" PRIu64 " of node %d is wrong\n", i, k);
        printf("hello: %d nodes each wrote %" PRIu64 " KiB; node 0 checked all %" PRIu64
               " words: %s\n",
               n, per >> 10, words * (uint64_t)n, bad ? "WRONG" : "all correct");
    }
    MomeBarrier();
    MomeMUnmap(a, per * (uint64_t)n);
    MomeSegClose(seg);
    MomeFinalize();
    return bad ? 1 : 0;
}
