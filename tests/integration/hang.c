/*
 * hang.c - a job that hangs on purpose, for timeout.test and stuck.test: node 0 takes lock 7 and
 * node 1 skips the second barrier to wait for that lock, so nodes 0 and 2 wait in barrier 1 for
 * node 1, and node 1 waits for node 0's lock. Each node prints (buffered stdout) before.
 *
 * With "short" as argument, node 1 skips one barrier and calls MomeFinalize: the job must stop,
 * saying the nodes disagree on the number of barriers.
 *
 * With "fin" or "ckpt" (2 nodes), both pass a barrier, then node 0 waits for lock 7 and node 1
 * waits for node 0 in MomeFinalize or MomeCheckpoint (of a MOME_PERSIST segment): the reports must
 * name those calls, not the barrier inside them. With "ckpt" node 1 holds the lock; with "fin" a
 * second thread of node 0 does, for good (MomeFinalize gives up the locks its node holds, and the
 * waiting MomeLock would fail).
 *
 * With "appshort" (mome-run -n 3 ./hang appshort : -n 1 ./hang appshort), program 0's node 1
 * makes one program barrier fewer than its nodes 0 and 2 before MomeFinalize: the job must stop,
 * saying so (it hung: helper-158).
 *
 * With "ckptbad", node 1's MomeCheckpoint fails (a bad handle) before its barrier and its next
 * barrier meets the others' checkpoint: the job must stop, saying so. With "ckptmix", node 0
 * checkpoints one segment and the others another: the job must stop, naming both.
 */
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

#include "itest.h"

static sem_t taken;

/* "fin": holds lock 7 for good. */
static void *hold_lock(void *arg)
{
    MUST(MomeLock(7));
    sem_post(&taken);
    for (;;)
        pause();
    return arg;
}

int main(int argc, char **argv)
{
    int me;

    /* "early": node 1 never reaches MomeInit (mome-run must name it; it cannot). */
    const char *rank = getenv("MOME_BOOT_RANK");
    if (argc == 2 && strcmp(argv[1], "early") == 0 && rank && strcmp(rank, "1") == 0)
        for (;;)
            pause();
    itest_init(&argc, &argv);
    me = MomeNode();
    if (argc == 2 && strcmp(argv[1], "short") == 0) {
        for (int k = 0; k < (me == 1 ? 2 : 3); k++)
            MomeBarrier();
        MomeFinalize();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "appshort") == 0) {
        int k = MomeApp() == 0 ? 3 : 0;
        if (MomeApp() == 0 && MomeAppNode() == 1)
            k = 2;
        for (int i = 0; i < k; i++)
            MomeAppBarrier();
        MomeFinalize();
        printf("node %d: MomeFinalize returned\n", me);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "ckptbad") == 0) {
        /* Node 1 gives MomeCheckpoint a bad handle: it fails there, before its barrier; the
         * others' checkpoint must not end without it (it hung, or returned 0, with node 1's
         * next barrier taken for node 1's part of it). */
        int seg;
        MUST(seg = MomeSegOpen("hangbad", MomePageSize(), MOME_CREATE | MOME_PERSIST));
        if (MomeCheckpoint(me == 1 ? seg + 5 : seg) == 0 && me == 1)
            printf("node 1: MomeCheckpoint of a bad handle returned 0\n");
        MomeBarrier();
        printf("node %d: never printed\n", me);
        MomeFinalize();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "ckptmix") == 0) {
        /* Node 0 checkpoints one segment, the others another: each would wait for ever for
         * the others' part of its own (helper-101). */
        int a, b;
        MUST(a = MomeSegOpen("hangA", MomePageSize(), MOME_CREATE | MOME_PERSIST));
        MUST(b = MomeSegOpen("hangB", MomePageSize(), MOME_CREATE | MOME_PERSIST));
        MomeCheckpoint(me == 0 ? a : b);
        printf("node %d: never printed\n", me);
        MomeFinalize();
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "fin") == 0 || strcmp(argv[1], "ckpt") == 0)) {
        int seg = -1;
        if (me == 1 && strcmp(argv[1], "ckpt") == 0) {
            MUST(MomeLock(7));
            MUST(seg = MomeSegOpen("hang", MomePageSize(), MOME_CREATE | MOME_PERSIST));
        }
        if (me == 0 && strcmp(argv[1], "fin") == 0) {
            pthread_t t;
            sem_init(&taken, 0, 0);
            pthread_create(&t, NULL, hold_lock, NULL);
            while (sem_wait(&taken) != 0)
                ;
        }
        CHECK(MomeBarrier() != 0, "barrier 0");
        if (me == 0)
            MomeLock(7); /* never granted: its holder waits for this node, or for good */
        else if (seg >= 0)
            MomeCheckpoint(seg);
        else
            MomeFinalize();
        printf("node %d: never printed\n", me);
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
