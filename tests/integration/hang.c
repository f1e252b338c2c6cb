/*
 * hang.c - a job that hangs on purpose, for timeout.test and stuck.test: node 0 takes lock 7 and
 * node 1 skips the second barrier to wait for that lock, so nodes 0 and 2 wait in barrier 1 for
 * node 1, and node 1 waits for node 0's lock. Each node prints (buffered stdout) before.
 *
 * With "short" as argument, node 1 skips one barrier and calls MomeFinalize: the job must stop,
 * saying the nodes disagree on the number of barriers.
 */
#include "itest.h"

int main(int argc, char **argv)
{
    int me;

    itest_init(&argc, &argv);
    me = MomeNode();
    if (argc == 2 && strcmp(argv[1], "short") == 0) {
        for (int k = 0; k < (me == 1 ? 2 : 3); k++)
            MomeBarrier();
        MomeFinalize();
        return 0;
    }
    if (me == 0)
        MUST(MomeLock(7));
    printf("node %d: before barrier 0\n", me);
    CHECK(MomeBarrier() != 0, "barrier 0");
    printf("node %d: after barrier 0\n", me);
    if (me == 1)
        MomeLock(7); /* never granted: node 0 holds it and waits in barrier 1 for this node */
    else
        MomeBarrier();
    printf("node %d: never printed\n", me);
    MomeFinalize();
    return 0;
}
