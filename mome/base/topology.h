/*
 * topology.h - private: the machine's topology and node placement (the only hwloc user).
 */
#ifndef MOME_TOPOLOGY_H
#define MOME_TOPOLOGY_H

#include <stdint.h>

/* Where a node was placed, or why it was not. */
typedef struct mome_topo_place {
    int index;      /* the core's or NUMA node's logical index; -1: not bound */
    int nfree;      /* cores (NUMA nodes) no other job is bound to, when chosen */
    char cpus[128]; /* its cpus, as an hwloc list */
    char where[160]; /* "core 2 (cpus 2)" */
    char why[256];  /* when not bound */
} mome_topo_place_t;

/*
 * Bind this process (all its threads, present and future, the progress thread too) by `mode`
 * (MOME_BIND_CORE or MOME_BIND_NUMA; MOME_BIND_NONE binds nothing): the (local_rank mod n)-th of
 * the n cores or NUMA nodes that no other job on this machine is bound to, and record it so that
 * jobs started later avoid it. `job` tells this job's nodes from others' (a hash, never the key).
 * Returns 0 (out->index >= 0 when bound), or -errno with out->why saying why nothing was bound
 * (-EBUSY: every place is another job's).
 */
int mome_topo_bind(int mode, int local_rank, uint64_t job, mome_topo_place_t *out);

/* This process leaves the machine's record of bound cores. */
void mome_topo_unbind(void);

/* Print the topology, and the binding `mode` would give a job's nodes started now. */
int mome_topo_describe(int fd, int mode);

#endif
