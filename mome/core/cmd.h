/*
 * cmd.h - private: commands, the way application threads hand work to the progress thread.
 *
 * An application thread queues a command (a mutex-protected list plus an eventfd) and sleeps on a
 * futex until the progress thread completes it; a posted command is not waited for. The list's
 * mutex is a leaf lock. The progress thread drains the queue when the eventfd is readable.
 */
#ifndef MOME_CORE_CMD_H
#define MOME_CORE_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/clock.h"

/* ---- commands (application threads -> progress thread) ---- */

typedef struct mome_cmd mome_cmd_t;
typedef void (*mome_cmd_fn_t)(mome_cmd_t *c);

/* The arguments of each call, typed. */
typedef union mome_cmd_args {
    struct {
        const char *name;
        uint64_t size;
        int flags;
        int tries;    /* segment.c: asked again after an unlink raced the open */
        uint64_t uid; /* segment.c: the persistent segment the last try was answered with */
    } open;           /* MomeSegOpen */
    struct {
        int handle;
    } close; /* MomeSegClose */
    struct {
        const char *name;
    } unlink; /* MomeSegUnlink */
    struct {
        void *addr;
        size_t len;
        int prot, flags, handle;
        uint64_t off;
    } mmap; /* MomeMMap */
    struct {
        void *addr;
        size_t len;
    } munmap; /* MomeMUnmap */
    struct {
        void *addr;
        size_t len;
        int model;
    } model; /* MomeConsistency */
    struct {
        void *addr;
        size_t len;
        mome_date_t date;
    } sync; /* MomeSyncMem */
    struct {
        int id;
    } lock; /* MomeLock, MomeUnlock */
    struct {
        int owner;
        uint64_t off;
    } heap_free; /* MomeFree of another node's block */
    struct {
        void *job;
    } ckpt; /* a step of MomeCheckpoint (core/checkpoint.c) */
    struct {
        void *state;  /* set by sync.c */
        uint64_t seg; /* MomeCheckpoint's barrier: the segment's id (every node's must match) */
    } barrier;        /* MomeBarrier, MomeAppBarrier, and the barriers of other calls */
} mome_cmd_args_t;

struct mome_cmd {
    mome_cmd_fn_t fn; /* runs on the progress thread; completes now or later */
    mome_cmd_args_t u;
    int status;      /* >= 0 or -errno */
    uint64_t result; /* a date or an address */
    uint32_t done;   /* futex word */
    int async;       /* posted: freed by the progress thread after fn */
    pid_t tid;       /* calling thread */
    char err[600];   /* message for MomeError() on failure */
    struct mome_cmd *next;
    const char *call;                /* the public call it serves, for reports (may be NULL) */
    uint64_t t0;                     /* progress thread: when it started, ns */
    struct mome_cmd *run_next, **run_prev; /* progress thread: in the list of running commands */
};

/* Application thread: the public call it is in (the API sets it), named by the reports for the
 * commands the call runs, those of the library's inner steps too (MomeFinalize's barrier). */
extern __thread const char *mome_cmd_call;

/* Application thread: run c on the progress thread and wait; returns c->status. */
int mome_cmd_run(mome_cmd_t *c);
/* Progress thread, as it stops: every command queued or running, and every one pushed from now
 * on, fails with ENOTCONN (a call of another thread racing MomeFinalize would wait for ever). */
void mome_cmd_close(void);
/* Application thread: queue a malloc'd c without waiting (it is freed after it ran). */
void mome_cmd_post(mome_cmd_t *c);
/* Progress thread: finish c with status (>= 0 or -errno); wakes the caller. */
void mome_cmd_complete(mome_cmd_t *c, int status);
/* Progress thread: finish c with -err and a message for MomeError(). */
void mome_cmd_fail(mome_cmd_t *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Progress thread: count of core requests awaiting replies (locks, barriers); the engine polls
 * while they or the coherence layer's are outstanding. */
void mome_cmd_outstanding(int delta);
int mome_cmd_waiting(void);
/* 1 if a command completed for a thread waiting for it since the last call (progress thread). */
int mome_cmd_take_woke(void);

/* Progress thread: the commands started and not yet complete (application threads waiting in a
 * call), in start order, for the report of what this node waits for. */
mome_cmd_t *mome_cmd_running(void);

/* Any thread, async-signal-safe: have the progress thread call the signal hook with sig soon
 * (the hook is set before the handler that calls this is installed). */
void mome_cmd_signal(int sig);
void mome_cmd_set_signal_hook(void (*hook)(int sig));
/* Progress thread: call the signal hook now if a signal is pending. For waits nested in a handler
 * (a page-out's answer), which do not drain the commands: a time limit's SIGTERM must still make
 * the node say what it waits for and flush its output before the launcher's SIGKILL. */
void mome_cmd_serve_signal(void);

/* Set up the queue: the eventfd the progress thread watches (or -errno). */
int mome_cmd_init(void);
void mome_cmd_fini(void);
int mome_cmd_fd(void);
/* Progress thread: the fd is readable: run the queued commands; returns how many. */
int mome_cmd_drain(void);

#endif
