/*
 * node.h - private: the node engine: startup and teardown, and the progress thread.
 *
 * The progress thread owns all protocol state (directory, page tables, segments, locks); an
 * application thread never touches it, it hands work over as a command (cmd.h). Lock order where
 * two locks are taken: none (no protocol locks exist).
 */
#ifndef MOME_CORE_NODE_H
#define MOME_CORE_NODE_H

#include <stddef.h>

#include "core/cmd.h"
#include "core/job.h"

/* MomeInit / MomeFinalize (api.c). */
int mome_node_start(char *err, size_t errlen);
int mome_node_stop(void);

/* Is the calling thread the progress thread? */
int mome_node_on_progress(void);

/* Is this process a child the node forked after MomeInit (no progress thread, not a node)? */
int mome_node_forked(void);
/* Has the progress thread stopped for good because the process is exiting (park_progress)? */
int mome_node_parked(void);

#endif
