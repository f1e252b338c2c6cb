/*
 * fuzz_die.c - mome_die as the fuzz targets see it (linked with -Wl,--wrap=mome_die): a deliberate
 * stop of the node while a message runs rejects the input and returns to the target.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "fuzz.h"

jmp_buf fuzz_die_env;
volatile int fuzz_die_armed;
unsigned long fuzz_die_count;

void __real_mome_die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void __wrap_mome_die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static int verbose(void)
{
    const char *v = getenv("FUZZ_VERBOSE");
    return v && *v && *v != '0';
}

void fuzz_quiet_logs(void)
{
    mome_log_level = verbose() ? MOME_LOG_TRACE : -1;
}

void __wrap_mome_die(int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!fuzz_die_armed)
        __real_mome_die(status, "%s", msg);
    fuzz_die_armed = 0;
    fuzz_die_count++;
    if (verbose())
        fprintf(stderr, "fuzz: the node stopped (input rejected): %s\n", msg);
    longjmp(fuzz_die_env, 1);
}
