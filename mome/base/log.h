/*
 * log.h - private: leveled logging for the library (error, warn, info, debug, trace).
 *
 * Lines are formatted into a fixed stack buffer and written with one write(2), so logging takes no
 * lock and never touches stdio: an application thread blocked on a Mome page while holding a stdio
 * lock cannot deadlock the progress thread. The library never prints to stdout.
 */
#ifndef MOME_LOG_H
#define MOME_LOG_H

#include <stdarg.h>
#include <stdint.h>

typedef enum {
    MOME_LOG_ERROR = 0,
    MOME_LOG_WARN,
    MOME_LOG_INFO,
    MOME_LOG_DEBUG,
    MOME_LOG_TRACE
} mome_log_level_t;

/* Current threshold; messages above it are dropped before formatting. */
extern int mome_log_level;

void mome_log_set_node(int node);
int mome_log_open(const char *path); /* "" or NULL means stderr; %n node, %p pid, %h host */
void mome_log_close(void);
/* Expand %n (node), %p (pid), %h (host) and %% in a file name (MOME_LOG_FILE, MOME_TRACE). */
void mome_log_expand_path(const char *in, char *out, size_t cap);
int mome_log_parse_level(const char *s); /* -1 if unknown */
const char *mome_log_level_name(int level);

void mome_log_emit(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line of a report (mome-info's descriptions) to fd, formatted into 512 bytes, one write(2). */
void mome_fdprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mome_log_vemit(int level, const char *module, const char *fmt, va_list ap);

#define mome_log(_lvl, _mod, ...)                                                                  \
    do {                                                                                           \
        if ((_lvl) <= mome_log_level)                                                              \
            mome_log_emit((_lvl), (_mod), __VA_ARGS__);                                            \
    } while (0)

#define mome_error(_mod, ...) mome_log(MOME_LOG_ERROR, _mod, __VA_ARGS__)
#define mome_warn(_mod, ...) mome_log(MOME_LOG_WARN, _mod, __VA_ARGS__)
#define mome_info(_mod, ...) mome_log(MOME_LOG_INFO, _mod, __VA_ARGS__)
#define mome_debug(_mod, ...) mome_log(MOME_LOG_DEBUG, _mod, __VA_ARGS__)
#define mome_trace(_mod, ...) mome_log(MOME_LOG_TRACE, _mod, __VA_ARGS__)

/*
 * Rate limiting for messages that a peer or a loop could repeat: at most MOME_LOG_BURST lines per
 * second per call site, then one line saying how many were suppressed.
 */
#define MOME_LOG_BURST 5
typedef struct mome_ratelimit {
    uint64_t window; /* second of the current window */
    unsigned n, suppressed;
} mome_ratelimit_t;
void mome_log_rl(mome_ratelimit_t *rl, int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Print a fatal message naming the cause and terminate this node (used when the job is lost). */
void mome_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/*
 * This node found that the job cannot go on safely (data could be lost or corrupted, or nodes
 * could disagree): print the message (it names the node, and the segment, page and cause), ask
 * the launcher to stop every other node with it (the hook the node engine set), then stop as
 * mome_die does. The failure policy of doc/design.md.
 */
/* The node this process is (-1 before it knows). */
int mome_log_node(void);
void mome_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void mome_log_set_fatal_hook(void (*hook)(int status, const char *msg));

/* Terminate this process once, flushing its output, whichever thread asks first. */
void mome_exit(int status) __attribute__((noreturn));

#endif
