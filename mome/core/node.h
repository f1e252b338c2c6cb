/*
 * node.h - private: this node's place in the job and its engine: the progress thread, message
 * sending and dispatch, and the command queue through which application threads hand it work.
 *
 * The progress thread owns all protocol state (directory, page tables, segments, locks); an
 * application thread never touches it, it queues a command and sleeps on a futex until the
 * progress thread completes it. Lock order where both are taken: none (no protocol locks exist).
 */
#ifndef MOME_NODE_H
#define MOME_NODE_H

#include <stdint.h>
#include <sys/types.h>

#include "base/config.h"
#include "net/proto.h"

enum { MOME_STATE_NONE = 0, MOME_STATE_RUNNING, MOME_STATE_DONE };

typedef struct mome_node {
    int rank, nnodes;
    int local_rank, local_size;
    size_t page_size;
    unsigned page_shift;
    int state; /* MOME_STATE_*, written by the initialising/finalising thread */
    mome_config_t cfg;
    mome_proto_ctx_t pctx;
    const char *backend;
} mome_node_t;

extern mome_node_t mome_g;

/* ---- messages (progress thread) ---- */

/* Send m to node (self included): src and date are filled here. */
int mome_send(int node, mome_msg_t *m);

/* ---- commands (application threads -> progress thread) ---- */

typedef struct mome_cmd mome_cmd_t;
typedef void (*mome_cmd_fn_t)(mome_cmd_t *c);

struct mome_cmd {
    mome_cmd_fn_t fn; /* runs on the progress thread; completes now or later */
    int status;       /* >= 0 or -errno */
    uint64_t result;
    uint32_t done; /* futex word */
    int async;     /* posted: freed by the progress thread after fn */
    pid_t tid;     /* calling thread */
    uint64_t a[6];
    const void *p;
    void *out;
    char err[200]; /* message for MomeError() on failure */
    struct mome_cmd *next;
};

/* Application thread: run c on the progress thread and wait; returns c->status. */
int mome_cmd_run(mome_cmd_t *c);
/* Application thread: queue a malloc'd c without waiting (it is freed after it ran). */
void mome_cmd_post(mome_cmd_t *c);
/* Progress thread: finish c with status (>= 0 or -errno); wakes the caller. */
void mome_cmd_complete(mome_cmd_t *c, int status);
/* Progress thread: finish c with -err and a message for MomeError(). */
void mome_cmd_fail(mome_cmd_t *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Progress thread: count of requests awaiting replies; the thread polls while it is > 0. */
void mome_node_outstanding(int delta);

/* Progress thread: an application thread was just woken (its fault resolved). */
void mome_node_woke(void);

/* ---- lifecycle (api.c) ---- */
int mome_node_start(char *err, size_t errlen);
int mome_node_stop(void);

/* Is the calling thread the progress thread? */
int mome_node_on_progress(void);

#endif
