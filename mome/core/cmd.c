/*
 * cmd.c - the command queue from application threads to the progress thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "base/stats.h"
#include "boot/boot.h"
#include "core/cmd.h"
#include "core/job.h"

static pthread_mutex_t cmd_lock = PTHREAD_MUTEX_INITIALIZER;
static mome_cmd_t *cmd_head, *cmd_tail;
static int cmd_efd = -1;
static int woke; /* a command completed for a thread waiting for it (mome_cmd_take_woke) */
static int outstanding; /* progress thread: core requests awaiting replies */
static mome_cmd_t *running_head; /* progress thread: started, not complete (synchronous only) */
static int pending_sig;          /* any thread sets it (signal handler), progress thread takes it */
static int closed; /* the progress thread has stopped (MomeFinalize): commands fail at once */
static void (*signal_hook)(int sig);

static pid_t gettid_(void)
{
    return (pid_t)syscall(SYS_gettid);
}

int mome_cmd_init(void)
{
    cmd_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    outstanding = 0;
    closed = 0;
    running_head = NULL;
    return cmd_efd < 0 ? -errno : 0;
}

void mome_cmd_fini(void)
{
    pthread_mutex_lock(&cmd_lock); /* no cmd_push is writing to it */
    if (cmd_efd >= 0)
        close(cmd_efd);
    cmd_efd = -1;
    pthread_mutex_unlock(&cmd_lock);
}

int mome_cmd_fd(void)
{
    return cmd_efd;
}

void mome_cmd_outstanding(int delta)
{
    outstanding += delta;
}

int mome_cmd_waiting(void)
{
    return outstanding;
}

static long futex(uint32_t *addr, int op, uint32_t val)
{
    return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* A command no progress thread will ever run or complete: MomeFinalize stopped it (a call of
 * another thread, made while or after it ran). Any thread. */
static void shut(mome_cmd_t *c)
{
    mome_cmd_fail(c, ENOTCONN,
                  "%s: another thread of this node called MomeFinalize: Mome has "
                  "stopped (a program's threads make their Mome calls before it)",
                  c->call ? c->call : "a Mome call");
}

static void cmd_push(mome_cmd_t *c)
{
    uint64_t one = 1;
    c->next = NULL;
    c->run_prev = NULL;
    pthread_mutex_lock(&cmd_lock);
    if (closed) {
        pthread_mutex_unlock(&cmd_lock);
        shut(c);
        return;
    }
    if (cmd_tail)
        cmd_tail->next = c;
    else
        cmd_head = c;
    cmd_tail = c;
    /* Under the lock: once mome_cmd_close ran, mome_cmd_fini may close the descriptor, and a
     * write after the unlock could land in whatever file took its number (helper-99). */
    if (write(cmd_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        mome_error("node", "cannot wake the progress thread: %m");
    pthread_mutex_unlock(&cmd_lock);
}

__thread const char *mome_cmd_call;

int mome_cmd_run(mome_cmd_t *c)
{
    /* The launcher's table (if any) tells it this node waits, and that it moves on. */
    int running = __atomic_load_n(&mome_g.state, __ATOMIC_ACQUIRE) == MOME_STATE_RUNNING;
    mome_boot_status_t *st = running ? mome_boot_status(mome_g.rank) : NULL;

    c->tid = gettid_();
    c->async = 0;
    __atomic_store_n(&c->done, 0, __ATOMIC_RELAXED);
    if (st)
        __atomic_add_fetch(&st->waiting, 1, __ATOMIC_RELAXED);
    cmd_push(c);
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
        futex(&c->done, FUTEX_WAIT_PRIVATE, 0);
    if (st) {
        __atomic_sub_fetch(&st->waiting, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&st->progress, 1, __ATOMIC_RELAXED);
    }
    return c->status;
}

mome_cmd_t *mome_cmd_running(void)
{
    return running_head;
}

void mome_cmd_set_signal_hook(void (*hook)(int sig))
{
    signal_hook = hook;
}

void mome_cmd_signal(int sig)
{
    int saved = errno;
    uint64_t one = 1;

    __atomic_store_n(&pending_sig, sig, __ATOMIC_RELEASE);
    if (cmd_efd >= 0 && write(cmd_efd, &one, sizeof(one)) < 0) {
        /* full: it is readable already */
    }
    errno = saved;
}

void mome_cmd_post(mome_cmd_t *c)
{
    c->tid = gettid_();
    c->async = 1;
    cmd_push(c);
}

void mome_cmd_complete(mome_cmd_t *c, int status)
{
    c->status = status;
    if (c->run_prev) {
        *c->run_prev = c->run_next;
        if (c->run_next)
            c->run_next->run_prev = c->run_prev;
        c->run_prev = NULL;
    }
    if (c->async) {
        free(c);
        return;
    }
    /* Pairs with the acquire load in mome_cmd_run; c may vanish right after the store. */
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    futex(&c->done, FUTEX_WAKE_PRIVATE, 1);
    __atomic_store_n(&woke, 1, __ATOMIC_RELAXED);
}

int mome_cmd_take_woke(void)
{
    return __atomic_exchange_n(&woke, 0, __ATOMIC_RELAXED);
}

void mome_cmd_close(void)
{
    mome_cmd_t *c;
    pthread_mutex_lock(&cmd_lock);
    closed = 1;
    c = cmd_head;
    cmd_head = cmd_tail = NULL;
    pthread_mutex_unlock(&cmd_lock);
    while (c) {
        mome_cmd_t *next = c->next;
        shut(c);
        c = next;
    }
    while (running_head)
        shut(running_head); /* completing takes it off the list */
}

void mome_cmd_fail(mome_cmd_t *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    mome_debug("api", "%s", c->err);
    mome_cmd_complete(c, -err);
}

void mome_cmd_serve_signal(void)
{
    int sig = __atomic_load_n(&pending_sig, __ATOMIC_RELAXED)
                  ? __atomic_exchange_n(&pending_sig, 0, __ATOMIC_ACQUIRE)
                  : 0;
    if (sig && signal_hook)
        signal_hook(sig);
}

int mome_cmd_drain(void)
{
    uint64_t v;
    mome_cmd_t *c;
    int n = 0;
    if (read(cmd_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        mome_fatal("cannot read the command eventfd: %m");
    mome_cmd_serve_signal();
    pthread_mutex_lock(&cmd_lock);
    c = cmd_head;
    cmd_head = cmd_tail = NULL;
    pthread_mutex_unlock(&cmd_lock);
    while (c) {
        mome_cmd_t *next = c->next;
        c->run_prev = NULL;
        if (!c->async) {
            mome_cmd_t **pp = &running_head;
            while (*pp)
                pp = &(*pp)->run_next;
            c->t0 = mome_now_ns();
            c->run_next = NULL;
            c->run_prev = pp;
            *pp = c;
        }
        c->fn(c);
        c = next;
        n++;
    }
    return n;
}

