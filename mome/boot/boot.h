/*
 * boot.h - private: how a node learns its place in the job, exchanges startup data, and hears of
 * lost nodes, through a launcher backend.
 *
 * A backend is a component in its own file (as hwloc's discovery components): a name, a priority,
 * and the calls below. MomeInit tries them by decreasing priority and keeps the first that says
 * the process was started by it: mome-run's socket (boot_run.c), PMIx (boot_pmix.c: mpirun, srun,
 * prterun), or none: a single-node job (boot_single.c). Used by MomeInit and MomeFinalize on the application
 * thread, and by the progress thread to watch for lost nodes.
 */
#ifndef MOME_BOOT_BOOT_H
#define MOME_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot_wire.h"

typedef struct mome_boot_info {
    int rank, size;             /* this node, node count */
    int local_rank, local_size; /* among the nodes on this machine */
    /* The program of the launcher's command line this node runs (mome-run -n 2 ./a : -n 1 ./b):
     * its index, this node's rank among its nodes, their count; its nodes are the ranks
     * rank - app_rank .. rank - app_rank + app_size - 1. One program when the launcher cannot
     * tell. */
    int app, app_rank, app_size;
    const char *backend;        /* the component's name */
    uint64_t key;               /* the job's key, the same on every node, random per job */
} mome_boot_info_t;

typedef struct mome_boot_ops {
    const char *name;
    int priority; /* higher is tried first */
    /* Was this process started by this launcher? 0 (info filled); -ENOENT: not by this one;
     * another -errno: it was, but something is wrong (err says what). */
    int (*init)(mome_boot_info_t *info, char *err, size_t errlen);
    /* All-gather of variable-size blobs: *out = size lengths (uint32_t) then the blobs in rank
     * order, malloc'd. Blocks; stops the node if the job is lost meanwhile. */
    int (*allgather)(const void *blob, uint32_t len, void **out);
    /* The fd the progress thread watches for a lost node or an abort (-1: none), and what to do
     * when it is readable (stop this node with the launcher's message, or return). */
    int (*watch)(void);
    void (*event)(void);
    /* A startup step failed, maybe because the job is going down: wait up to timeout_ms for the
     * launcher's word and stop with it if it comes. */
    void (*explain)(int timeout_ms);
    /* Ask the launcher to stop the whole job with msg (returns; the caller exits). */
    void (*abort)(int status, const char *msg);
    /* This node leaves cleanly. */
    void (*finalize)(void);
    /* What the node waits for in the launcher now, if it waits in it (MomeInit's exchanges), in
     * buf; its length, 0 if it waits for nothing there. Called by another thread than the one
     * waiting (what it reads is atomic). NULL: never says. */
    size_t (*describe)(char *buf, size_t len);
} mome_boot_ops_t;

extern const mome_boot_ops_t mome_boot_run, mome_boot_single;
#ifdef MOME_HAVE_PMIX
extern const mome_boot_ops_t mome_boot_pmix; /* boot_pmix.c, when configure found PMIx */
#endif

/* Choose the backend and join the job. -EINVAL with a message on a broken environment. */
int mome_boot_init(mome_boot_info_t *info, char *err, size_t errlen);
/* 1 once mome_boot_init has run: the launcher's word is taken (its variables read and cleared,
 * the node joined), and a failed MomeInit cannot be tried again. */
int mome_boot_asked(void);
/* This node's rank as soon as its backend knows it, -1 before. Any thread. */
int mome_boot_rank(void);
/* For backends: the rank, as soon as known. */
void mome_boot_set_rank(int rank);
/* While MomeInit joins the job: what the node waits for in its launcher now ("exchanging start-up
 * data through mome-run: nodes 1 not in MomeInit yet"), in buf; its length, 0 if it waits in none
 * of the launcher's steps. Any thread. */
size_t mome_boot_describe_wait(char *buf, size_t len);
int mome_boot_allgather(const void *blob, uint32_t len, void **out);
/* Fetch blob i from an allgather result. */
const void *mome_boot_blob(const void *result, int size, int i, uint32_t *len);
int mome_boot_fd(void);
void mome_boot_event(void);
void mome_boot_explain_failure(int timeout_ms);
void mome_boot_finalize(void);
/* Ask the launcher to stop the other nodes with msg; returns (the caller exits). */
void mome_boot_request_abort(int status, const char *msg);

/* The status table the launcher shares (boot_wire.h), or NULL when it shares none (PMIx, a
 * program started alone): node `rank`'s slot. */
mome_boot_status_t *mome_boot_status(int rank);
/* The call the progress thread makes when the launcher asks for a report (REPORT: nothing has
 * progressed for `seconds`), set by the layer above. */
void mome_boot_set_report(void (*cb)(unsigned seconds));
/* For backends: run the report call (REPORT from the launcher), on the progress thread. */
void mome_boot_report(unsigned seconds);
extern mome_boot_status_t *mome_boot_status_table;
/* Warn once if a launcher this build cannot serve started the process (PMIx variables without
 * PMIx): it runs as a one-node job. */
void mome_boot_warn_foreign(void);

#endif
