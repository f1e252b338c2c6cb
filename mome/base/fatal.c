/*
 * fatal.c - mome_fatal: a failure that could lose data stops the job. Apart from log.c so that
 * its call to mome_die is a reference the fuzz targets can wrap (-Wl,--wrap=mome_die).
 */

#include <stdarg.h>
#include <stdio.h>

#include "base/log.h"

static void (*fatal_hook)(int status, const char *msg);

void mome_log_set_fatal_hook(void (*hook)(int status, const char *msg))
{
    fatal_hook = hook;
}

void mome_fatal(const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    int n = snprintf(msg, sizeof(msg), "node %d: ", mome_log_node());

    va_start(ap, fmt);
    vsnprintf(msg + (n > 0 ? n : 0), sizeof(msg) - (size_t)(n > 0 ? n : 0), fmt, ap);
    va_end(ap);
    if (fatal_hook)
        fatal_hook(1, msg);
    mome_die(1, "%s", msg);
}
