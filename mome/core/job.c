/*
 * job.c - this node's place in the job.
 */
#include "core/job.h"

mome_node_t mome_g;
