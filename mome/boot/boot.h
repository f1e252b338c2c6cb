/*
 * boot.h - private: how a node learns its place in the job and exchanges startup data.
 *
 * Backends: the local launcher (mome-run, see boot_wire.h) and a single-node job when started
 * alone. PMIx (mpirun/srun) plugs in behind the same calls. Used by MomeInit and MomeFinalize on
 * the application thread, and by the progress thread to watch for lost nodes.
 */
#ifndef MOME_BOOT_H
#define MOME_BOOT_H

#include <stdint.h>

typedef struct mome_boot_info {
    int rank, size;             /* this node, node count */
    int local_rank, local_size; /* among the nodes on this machine */
    const char *backend;        /* "mome-run", "single" */
} mome_boot_info_t;

/* Find the launcher from the environment. -EINVAL with a message on a broken environment. */
int mome_boot_init(mome_boot_info_t *info, char *err, size_t errlen);

/*
 * All-gather of variable-size blobs. On success *out is a malloc'd buffer holding size lengths
 * (uint32_t) then the blobs in rank order; the caller frees it. Blocks; dies if a node is lost.
 */
int mome_boot_allgather(const void *blob, uint32_t len, void **out);

/* Fetch blob i from an allgather result. */
const void *mome_boot_blob(const void *result, int size, int i, uint32_t *len);

/* The fd the progress thread watches (-1 when there is no launcher). */
int mome_boot_fd(void);

/* The launcher fd is readable: a lost node or an abort terminates this node with a message. */
void mome_boot_event(void);

/*
 * A startup step failed, perhaps because the job is going down (another node aborted or died):
 * wait up to timeout_ms for the launcher's word and, if it comes, stop with its message instead
 * (does not return then). Only from the thread that reads the fd: MomeInit's before the progress
 * thread starts, the progress thread after.
 */
void mome_boot_explain_failure(int timeout_ms);

/* Tell the launcher this node leaves cleanly, then close. */
void mome_boot_finalize(void);

/* Ask the launcher to stop the whole job (best effort), then exit with status. */
void mome_boot_abort(int status, const char *msg) __attribute__((noreturn));

/* Ask the launcher to stop the other nodes with msg; returns (the caller exits). */
void mome_boot_request_abort(int status, const char *msg);

#endif
