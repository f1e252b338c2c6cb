/*
 * log.c - leveled logging: one write(2) per line, no stdio, no locks.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

int mome_log_level = MOME_LOG_WARN;

static int log_fd = 2;
static int log_node = -1;
static char log_host[64];

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

const char *mome_log_level_name(int level)
{
    if (level < 0 || level > MOME_LOG_TRACE)
        return "?";
    return level_names[level];
}

int mome_log_parse_level(const char *s)
{
    for (int i = 0; i <= MOME_LOG_TRACE; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void mome_log_set_node(int node)
{
    log_node = node;
}

int mome_log_node(void)
{
    return log_node;
}

void mome_log_expand_path(const char *in, char *out, size_t cap)
{
    if (!log_host[0] && gethostname(log_host, sizeof(log_host) - 1) < 0)
        strcpy(log_host, "?");
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        char tmp[64];
        const char *sub = NULL;
        if (p[0] == '%' && p[1]) {
            switch (p[1]) {
            case 'n': snprintf(tmp, sizeof(tmp), "%d", log_node); sub = tmp; break;
            case 'p': snprintf(tmp, sizeof(tmp), "%d", (int)getpid()); sub = tmp; break;
            case 'h': sub = log_host; break;
            case '%': sub = "%"; break;
            }
        }
        if (sub) {
            size_t l = strlen(sub);
            if (o + l >= cap)
                break;
            memcpy(out + o, sub, l);
            o += l;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = 0;
}

int mome_log_open(const char *path)
{
    char full[4096];
    int fd;

    if (!log_host[0] && gethostname(log_host, sizeof(log_host) - 1) < 0)
        strcpy(log_host, "?");
    if (!path || !*path)
        return 0;
    mome_log_expand_path(path, full, sizeof(full));
    fd = open(full, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        mome_warn("log", "cannot open MOME_LOG_FILE '%s': %s; logging to stderr", full,
                  strerror(err));
        return -err;
    }
    if (log_fd > 2)
        close(log_fd);
    log_fd = fd;
    return 0;
}

void mome_log_close(void)
{
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
}

void mome_log_vemit(int level, const char *module, const char *fmt, va_list ap)
{
    char buf[1024];
    int saved = errno;
    int n;

    if (!log_host[0] && gethostname(log_host, sizeof(log_host) - 1) < 0)
        strcpy(log_host, "?");
    if (log_node >= 0)
        n = snprintf(buf, sizeof(buf), "mome[%s:%d:node %d] %s: %s: ", log_host, (int)getpid(),
                     log_node, module, mome_log_level_name(level));
    else
        n = snprintf(buf, sizeof(buf), "mome[%s:%d] %s: %s: ", log_host, (int)getpid(), module,
                     mome_log_level_name(level));
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof(buf) - 2) {
        errno = saved; /* so %m in fmt names the caller's error */
        int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
        if (m > 0)
            n += m;
        if ((size_t)n > sizeof(buf) - 2)
            n = (int)sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(log_fd, buf + off, (size_t)(n - off));
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            break;
        }
        off += w;
    }
    errno = saved;
}

void mome_log_emit(int level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mome_log_vemit(level, module, fmt, ap);
    va_end(ap);
}

void mome_fdprintf(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0 && write(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1)) < 0)
        return; /* a report to a closed descriptor: nothing to do */
}

void mome_log_rl(mome_ratelimit_t *rl, int level, const char *module, const char *fmt, ...)
{
    struct timespec ts;
    va_list ap;

    if (level > mome_log_level)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec;
    if (now != __atomic_load_n(&rl->window, __ATOMIC_RELAXED)) {
        unsigned dropped = __atomic_exchange_n(&rl->suppressed, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&rl->window, now, __ATOMIC_RELAXED);
        __atomic_store_n(&rl->n, 0, __ATOMIC_RELAXED);
        if (dropped)
            mome_log_emit(level, module, "(%u similar messages suppressed)", dropped);
    }
    if (__atomic_add_fetch(&rl->n, 1, __ATOMIC_RELAXED) > MOME_LOG_BURST) {
        __atomic_add_fetch(&rl->suppressed, 1, __ATOMIC_RELAXED);
        return;
    }
    va_start(ap, fmt);
    mome_log_vemit(level, module, fmt, ap);
    va_end(ap);
}

void mome_die(int status, const char *fmt, ...)
{
    va_list ap;
    int fd = log_fd;

    /* A fatal message must reach the user even when the log goes to a file. */
    va_start(ap, fmt);
    mome_log_vemit(MOME_LOG_ERROR, "job", fmt, ap);
    va_end(ap);
    if (fd != 2) {
        log_fd = 2;
        va_start(ap, fmt);
        mome_log_vemit(MOME_LOG_ERROR, "job", fmt, ap);
        va_end(ap);
    }
    mome_exit(status);
}

void mome_exit(int status)
{
    static int exiting;

    /* exit() must run once: a second thread that comes here waits to be ended with the process. */
    if (__atomic_exchange_n(&exiting, 1, __ATOMIC_ACQ_REL))
        for (;;)
            pause();
    /*
     * exit, not _exit, so the program's buffered output (stdio, Fortran units) is not lost. An
     * application thread may hold one of their locks while blocked on a page nobody will send
     * now: the alarm's default action ends the process if the exit handlers hang.
     */
    alarm(2);
    exit(status);
}
