/*
 * topology.h - private: the machine's topology and node placement (the only hwloc user).
 */
#ifndef MOME_TOPOLOGY_H
#define MOME_TOPOLOGY_H

/* Bind this process (all its threads, present and future) to one core chosen by local rank.
 * Returns the core index, or -errno. */
int mome_topo_bind(int local_rank);

/* Print a summary of the topology. */
int mome_topo_describe(int fd);

#endif
