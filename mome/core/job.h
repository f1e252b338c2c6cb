/*
 * job.h - private: this node's place in the job (rank, size, page size, configuration), written
 * once by MomeInit before any other thread uses it, read by every thread.
 */
#ifndef MOME_CORE_JOB_H
#define MOME_CORE_JOB_H

#include <stddef.h>

#include "base/config.h"

enum { MOME_STATE_NONE = 0, MOME_STATE_RUNNING, MOME_STATE_DONE, MOME_STATE_FAILED };

typedef struct mome_node {
    int rank, nnodes;
    int local_rank, local_size;
    int app, app_rank, app_size; /* this node's program: index, rank in it, its node count */
    int app_first;               /* its first node: rank - app_rank */
    size_t page_size;
    unsigned page_shift;
    int state; /* MOME_STATE_*, written by the initialising/finalising thread */
    mome_config_t cfg;
    const char *backend;
} mome_node_t;

extern mome_node_t mome_g;

#endif
