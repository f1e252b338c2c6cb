/*
 * apps_barrier.c - one program of a job of several (mome-run -n 2 ./apps_barrier 0 2 5 : -n 2
 * ./apps_barrier 1 2 2): checks MomeApp, MomeAppNode and MomeAppNodes against its arguments
 * (expected program index, its node count, rounds), then makes `rounds` rounds of MomeAppBarrier
 * (programs make different numbers) over a RELEASE segment: each node writes its slot, and after
 * the barrier sees the slots of its program's nodes; a job-wide MomeBarrier ends.
 *
 * With "init" as only argument: MomeInit, then MomeFinalize (startup_warnings.test).
 */
#include "itest.h"

#define SLOT 4096 /* one Mome page per node at the default page size; stays correct with others */

int main(int argc, char **argv)
{
    int me, nodes, app, app_node, app_nodes, first, rounds, seg;
    volatile long *slot;

    if (argc == 2 && strcmp(argv[1], "init") == 0) {
        if (MomeInit(&argc, &argv) < 0) {
            fprintf(stderr, "apps_barrier: %s\n", MomeError());
            return 1;
        }
        return MomeFinalize() < 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: apps_barrier PROGRAM NODES ROUNDS | init\n");
        return 2;
    }
    itest_init(&argc, &argv);
    me = MomeNode();
    nodes = MomeNodes();
    app = MomeApp();
    app_node = MomeAppNode();
    app_nodes = MomeAppNodes();
    rounds = atoi(argv[3]);
    CHECK(app == atoi(argv[1]), "MomeApp() is %d, expected %s", app, argv[1]);
    CHECK(app_nodes == atoi(argv[2]), "MomeAppNodes() is %d, expected %s", app_nodes, argv[2]);
    CHECK(app_node >= 0 && app_node < app_nodes, "MomeAppNode() is %d of %d", app_node,
          app_nodes);
    first = me - app_node;
    CHECK(first >= 0 && first + app_nodes <= nodes, "program of nodes %d..%d in a job of %d",
          first, first + app_nodes - 1, nodes);

    size_t ps = MomePageSize(), stride = SLOT > ps ? SLOT : ps;
    char *base = itest_map("apps_barrier", stride * (size_t)nodes, &seg);
    MUST(MomeConsistency(base, stride * (size_t)nodes, MOME_RELEASE));
#define SLOT_OF(n) ((volatile long *)(base + stride * (size_t)(n)))
    slot = SLOT_OF(me);
    CHECK(MomeBarrier() != 0, "first job-wide barrier");
    for (int k = 1; k <= rounds; k++) {
        *slot = 1000L * k + me;
        CHECK(MomeAppBarrier() != 0, "MomeAppBarrier, round %d", k);
        for (int n = first; n < first + app_nodes; n++)
            CHECK(*SLOT_OF(n) == 1000L * k + n,
                  "round %d: node %d's slot reads %ld after MomeAppBarrier, expected %ld", k, n,
                  *SLOT_OF(n), 1000L * k + n);
        MomeDate d = MomeAppBarrier();
        CHECK(d != 0, "second MomeAppBarrier, round %d", k);
        /* MomeSyncMem(a, n, MomeLastBarrierDate()) after a program barrier (SPEC) */
        CHECK(MomeLastBarrierDate() == d,
              "MomeLastBarrierDate() is %llu after a MomeAppBarrier "
              "that returned %llu",
              (unsigned long long)MomeLastBarrierDate(), (unsigned long long)d);
    }
    *slot = -1 - me;
    CHECK(MomeBarrier() != 0, "last job-wide barrier");
    for (int n = 0; n < nodes; n++)
        CHECK(*SLOT_OF(n) == -1 - n, "node %d's last write not seen after MomeBarrier", n);
    printf("node %d: program %d, node %d of %d, %d rounds: ok\n", me, app, app_node, app_nodes,
           rounds);
    MUST(MomeFinalize());
    return 0;
}
