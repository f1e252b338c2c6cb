/*
 * test_config.c - the knob table: defaults, parsers, and bad values rejected with a message.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "mome.h"
#include "unit.h"

/* The system page size the library sees (config.c calls sysconf): 0, the real one. Not
 * instrumented: ThreadSanitizer calls sysconf while it starts, before it can trace a call (the
 * unit tests crashed there under clang's TSan). */
#define NOT_INSTRUMENTED
#ifdef __has_attribute
#if __has_attribute(disable_sanitizer_instrumentation)
#undef NOT_INSTRUMENTED
#define NOT_INSTRUMENTED __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
static long fake_page_size;
NOT_INSTRUMENTED long sysconf(int name)
{
    static long (*real)(int);
    if (name == _SC_PAGESIZE && fake_page_size)
        return fake_page_size;
    if (!real)
        real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
    return real(name);
}

/* Each of bad[n] in var is refused with a message naming var and, if not NULL, what is
 * accepted; var is unset afterwards. */
static void expect_refused(const char *var, const char *const *bad, size_t n, const char *accepted)
{
    mome_config_t c;
    char err[256];
    for (size_t i = 0; i < n; i++) {
        setenv(var, bad[i], 1);
        err[0] = 0;
        ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, var) != NULL, "%s=%s: the message does not name it: %s", var,
                      bad[i], err);
        ck_assert_msg(!accepted || strstr(err, accepted) != NULL,
                      "%s=%s: the message does not say '%s': %s", var, bad[i], accepted, err);
    }
    unsetenv(var);
}
#define REFUSED(_var, _accepted, ...)                                                              \
    do {                                                                                           \
        const char *const _bad[] = {__VA_ARGS__};                                                  \
        expect_refused((_var), _bad, sizeof(_bad) / sizeof(_bad[0]), (_accepted));                 \
    } while (0)

START_TEST(test_config__sizes)
{
    uint64_t v;
    ck_assert_int_eq(mome_config_parse_size("4096", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(mome_config_parse_size("64K", &v), 0);
    ck_assert_uint_eq(v, 65536);
    ck_assert_int_eq(mome_config_parse_size("2MiB", &v), 0);
    ck_assert_uint_eq(v, 2u << 20);
    ck_assert_int_eq(mome_config_parse_size("16g", &v), 0);
    ck_assert_uint_eq(v, 16ull << 30);
    ck_assert_int_eq(mome_config_parse_size("0x1000", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(mome_config_parse_size("", &v), -EINVAL);
    ck_assert_int_eq(mome_config_parse_size("-1", &v), -EINVAL);
    ck_assert_int_eq(mome_config_parse_size("12Q", &v), -EINVAL);
    ck_assert_int_eq(mome_config_parse_size("4K extra", &v), -EINVAL);
    ck_assert_int_eq(mome_config_parse_size("99999999999T", &v), -EINVAL); /* overflow */
    /* strtoull skips spaces and takes a sign: " -1" was 2^64 - 1 (helper-90's review) */
    ck_assert_int_eq(mome_config_parse_size(" -1", &v), -EINVAL);
    ck_assert_int_eq(mome_config_parse_size(" 4096", &v), -EINVAL);
    ck_assert_int_eq(mome_config_parse_size("+5", &v), -EINVAL);
}
END_TEST

/* A budget so large that its watermarks overflowed made a node evict every page it touched; a
 * heap of 64T cannot be placed (it takes twice its size of address space). */
START_TEST(test_config__budget_and_heap_bounds)
{
    mome_config_t c;
    char err[256];
    setenv("MOME_LOCAL_PAGES", "68719476736", 1); /* 2^36 */
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.local_pages, 1ull << 36);
    REFUSED("MOME_LOCAL_PAGES", "2^36", "68719476737", "18446744073709551615", " -1");
    setenv("MOME_HEAP_SIZE", "32T", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.heap_size, 32ull << 40);
    REFUSED("MOME_HEAP_SIZE", "32T", "64T", "0100T");
}
END_TEST

/* A page budget's values each valid but not together were refused only once the node had joined
 * the job and started UCX: the first node to find them stopped, and the others said they lost
 * it. The configuration refuses them now, with a message naming the variable. */
START_TEST(test_config__budget_values_that_do_not_go_together)
{
    mome_config_t c;
    char err[256];
    setenv("MOME_LOCAL_PAGES", "64", 1);
    setenv("MOME_LOCAL_LOW", "0.9", 1);
    setenv("MOME_LOCAL_HIGH", "0.5", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "MOME_LOCAL_LOW (0.9) is above MOME_LOCAL_HIGH (0.5)"), "%s", err);
    unsetenv("MOME_LOCAL_LOW");
    unsetenv("MOME_LOCAL_HIGH");
    setenv("MOME_SWAP_DIR", "", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "MOME_SWAP_DIR is empty"), "%s", err);
    unsetenv("MOME_SWAP_DIR");
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    setenv("MOME_LOCAL_PAGES", "4", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    REFUSED("MOME_LOCAL_PAGES", "at least 4 pages", "3", "1");
    /* Without a budget they do nothing: not refused. */
    setenv("MOME_LOCAL_LOW", "0.9", 1);
    setenv("MOME_LOCAL_HIGH", "0.5", 1);
    setenv("MOME_SWAP_DIR", "", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    unsetenv("MOME_LOCAL_LOW");
    unsetenv("MOME_LOCAL_HIGH");
    unsetenv("MOME_SWAP_DIR");
}
END_TEST

/* A budget's values that do not go together were said one at a time, and only once every value
 * parsed: MOME_LOCAL_PAGES=1 MOME_LOCAL_LOW=0.9 MOME_LOCAL_HIGH=0.5 said LOW > HIGH alone, and
 * with MOME_EVICT=lru only that (helper-158), where the guide promises every bad value at once. */
START_TEST(test_config__every_mistake_is_said_at_once)
{
    mome_config_t c;
    char err[1024], small[48];
    setenv("MOME_LOCAL_PAGES", "1", 1);
    setenv("MOME_LOCAL_LOW", "0.9", 1);
    setenv("MOME_LOCAL_HIGH", "0.5", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "MOME_LOCAL_LOW (0.9) is above MOME_LOCAL_HIGH (0.5)"), "%s", err);
    ck_assert_msg(strstr(err, "MOME_LOCAL_PAGES=1 is too small"), "%s", err);
    setenv("MOME_EVICT", "lru", 1);
    setenv("MOME_SWAP_DIR", "", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "bad value 'lru' for MOME_EVICT"), "%s", err);
    ck_assert_msg(strstr(err, "MOME_LOCAL_LOW (0.9) is above MOME_LOCAL_HIGH (0.5)"), "%s", err);
    ck_assert_msg(strstr(err, "MOME_LOCAL_PAGES=1 is too small"), "%s", err);
    ck_assert_msg(strstr(err, "MOME_SWAP_DIR is empty"), "%s", err);
    /* A value that did not parse is not compared: its default stood in for it. */
    setenv("MOME_LOCAL_LOW", "most", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "bad value 'most' for MOME_LOCAL_LOW"), "%s", err);
    ck_assert_msg(!strstr(err, "is above"), "%s", err);
    /* A message longer than the room for it is cut, and says so. */
    ck_assert_int_eq(mome_config_load(&c, small, sizeof(small)), -EINVAL);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    ck_assert_str_eq(small + sizeof(small) - 4, "...");
    unsetenv("MOME_LOCAL_PAGES");
    unsetenv("MOME_LOCAL_LOW");
    unsetenv("MOME_LOCAL_HIGH");
    unsetenv("MOME_EVICT");
    unsetenv("MOME_SWAP_DIR");
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
}
END_TEST

/* MomeInit, in a child, with var=value, a budget, and a launcher environment that the boot
 * layer refuses: the message MomeInit fails with, in msg, " [EINVAL]" after it if errno is. */
static void init_in_child(const char *var, const char *value, char *msg, size_t len)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        setenv("MOME_LOCAL_PAGES", "64", 1);
        setenv(var, value, 1);
        setenv("MOME_BOOT_FD", "broken", 1);
        char e[768];
        if (MomeInit(NULL, NULL) < 0)
            snprintf(e, sizeof(e), "%s%s", MomeError(), errno == EINVAL ? " [EINVAL]" : "");
        else
            snprintf(e, sizeof(e), "MomeInit succeeded");
        ssize_t w = write(p[1], e, strlen(e));
        _exit(w < 0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n < len - 1 && (r = read(p[0], msg + n, len - 1 - n)) > 0)
        n += (size_t)r;
    msg[n] = 0;
    close(p[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}

/* What each node can find wrong alone is said before it joins the job (before the launcher is
 * even asked), so that every node of a job says it: 8 nodes with MOME_LOCAL_PAGES=3 or a missing
 * MOME_SWAP_DIR had 1 to 5 of them say so, the others that they lost a node, with UCX's errors. */
START_TEST(test_config__budget_mistakes_are_said_before_joining_the_job)
{
    char msg[1024];
    init_in_child("MOME_LOCAL_PAGES", "3", msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "MomeInit: MOME_LOCAL_PAGES=3 is too small"), "%s", msg);
    ck_assert_msg(strstr(msg, "[EINVAL]"), "%s", msg);
    init_in_child("MOME_SWAP_DIR", "/nonexistent/swap", msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "MomeInit: MOME_SWAP_DIR=/nonexistent/swap: cannot create the swap "
                              "file there (No such file or directory)"),
                  "%s", msg);
    ck_assert_msg(strstr(msg, "[EINVAL]"), "%s", msg);
    /* A directory that can hold it: the launcher's environment is next. */
    init_in_child("MOME_SWAP_DIR", "/tmp", msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "broken launcher environment"), "%s", msg);
}
END_TEST

/* A MomeInit that failed on a setting the node checks alone (MOME_SWAP_DIR: no launcher asked
 * yet) may be called again once the setting is right: the second call said an earlier MomeInit
 * had "started joining the job" and could not try again. One that failed once the launcher was
 * asked may not, and the third call says why the earlier one failed. The signals the joining
 * watched are the program's again after each. */
START_TEST(test_config__init_again_after_a_setting_set_right_but_not_after_joining)
{
    int p[2];
    char msg[2048];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        setenv("MOME_LOCAL_PAGES", "64", 1);
        setenv("MOME_SWAP_DIR", "/nonexistent/swap", 1);
        setenv("MOME_BOOT_FD", "broken", 1);
        signal(SIGTERM, SIG_DFL);
        for (int k = 0; k < 3; k++) {
            char e[800];
            struct sigaction sa;
            int rc = MomeInit(NULL, NULL), err = errno;
            snprintf(e, sizeof(e), "%d: %s [%s]%s\n", k, rc < 0 ? MomeError() : "ok", strerror(err),
                     sigaction(SIGTERM, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL
                         ? ""
                         : " SIGTERM not given back");
            if (write(p[1], e, strlen(e)) < 0)
                _exit(1);
            setenv("MOME_SWAP_DIR", "/tmp", 1); /* set right */
        }
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(msg) - 1 && (r = read(p[0], msg + n, sizeof(msg) - 1 - n)) > 0)
        n += (size_t)r;
    msg[n] = 0;
    close(p[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(strstr(msg, "0: MomeInit: MOME_SWAP_DIR=/nonexistent/swap: cannot create the "
                              "swap file there (No such file or directory)"),
                  "%s", msg);
    ck_assert_msg(strstr(msg, "1: MomeInit: broken launcher environment (MOME_BOOT_FD/RANK/SIZE)"),
                  "%s", msg);
    ck_assert_msg(strstr(msg, "2: MomeInit: an earlier MomeInit of this process failed once it had "
                              "asked the launcher to join the job (broken launcher environment "
                              "(MOME_BOOT_FD/RANK/SIZE); "),
                  "%s", msg);
    ck_assert_msg(strstr(msg, "it cannot try again: exit, and start the job again ["), "%s", msg);
    ck_assert_msg(strstr(msg, strerror(EALREADY)), "%s", msg);
    ck_assert_msg(!strstr(msg, "not given back"), "%s", msg);
}
END_TEST

/* On a kernel with 16 KiB pages the default, 4096, did not parse: the page size stayed 0 and
 * MomeInit divided by it (SIGFPE; helper-90's review). The default is the system page there. */
START_TEST(test_config__default_page_size_follows_a_larger_system_page)
{
    mome_config_t c;
    char err[256];
    unsetenv("MOME_PAGE_SIZE");
    fake_page_size = 16384;
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.page_size, 16384);
    ck_assert_uint_eq(mome_config_page_size(), 16384);
    setenv("MOME_PAGE_SIZE", "4096", 1); /* below the system page: refused */
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    unsetenv("MOME_PAGE_SIZE");
    fake_page_size = 0;
}
END_TEST

START_TEST(test_config__defaults)
{
    mome_config_t c;
    char err[256];
    unsetenv("MOME_PAGE_SIZE");
    unsetenv("MOME_LOG_LEVEL");
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.page_size, 4096);
    ck_assert_int_eq(c.log_level, MOME_LOG_WARN);
    ck_assert_str_eq(c.repository, "./mome-repo");
    ck_assert_uint_eq(c.heap_size, 64ull << 30);
    ck_assert_int_eq(c.bind, MOME_BIND_CORE);
}
END_TEST

START_TEST(test_config__page_size_must_be_a_power_of_two_page_multiple)
{
    mome_config_t c;
    char err[256] = "";
    setenv("MOME_PAGE_SIZE", "16K", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.page_size, 16384);
    ck_assert_uint_eq(mome_config_page_size(), 16384);
    REFUSED("MOME_PAGE_SIZE", NULL, "3000", "12288", "1024", "1G", "junk");
}
END_TEST

START_TEST(test_config__log_level_and_bool)
{
    mome_config_t c;
    char err[256];
    setenv("MOME_LOG_LEVEL", "debug", 1);
    setenv("MOME_STATS", "yes", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.log_level, MOME_LOG_DEBUG);
    ck_assert_int_eq(c.stats, 1);
    setenv("MOME_LOG_LEVEL", "loud", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "MOME_LOG_LEVEL"));
    unsetenv("MOME_LOG_LEVEL");
    setenv("MOME_STATS", "maybe", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    unsetenv("MOME_STATS");
}
END_TEST

START_TEST(test_config__counts_take_no_suffix)
{
    mome_config_t c;
    char err[256];
    setenv("MOME_PREFETCH", "0", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.prefetch, 0);
    setenv("MOME_PREFETCH", "31", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.prefetch, 31);
    REFUSED("MOME_PREFETCH", NULL, "1K", "-1", "", "7 pages", "0x10", "99999999999999999999999");
}
END_TEST

START_TEST(test_config__evict_names_a_policy)
{
    mome_config_t c;
    char err[256];
    unsetenv("MOME_EVICT");
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.evict, "clock");
    setenv("MOME_EVICT", "FIFO", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.evict, "fifo");
    setenv("MOME_EVICT", "random", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.evict, "random");
    REFUSED("MOME_EVICT", "fifo, clock or random", "lru", "", "clock2", "fifo ");
}
END_TEST

START_TEST(test_config__progress_prio_names_a_priority)
{
    mome_config_t c;
    char err[256];
    unsetenv("MOME_PROGRESS_PRIO");
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.progress_prio, MOME_PRIO_HIGH);
    setenv("MOME_PROGRESS_PRIO", "FIFO", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.progress_prio, MOME_PRIO_FIFO);
    setenv("MOME_PROGRESS_PRIO", "normal", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.progress_prio, MOME_PRIO_NORMAL);
    REFUSED("MOME_PROGRESS_PRIO", "high, fifo or normal", "1", "", "rt", "high ");
}
END_TEST

START_TEST(test_config__trace_is_a_path)
{
    mome_config_t c;
    char err[2048], big[1100];
    unsetenv("MOME_TRACE");
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.trace, "");
    setenv("MOME_TRACE", "/tmp/run.%n.trace", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.trace, "/tmp/run.%n.trace");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    setenv("MOME_TRACE", big, 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "MOME_TRACE"));
    unsetenv("MOME_TRACE");
}
END_TEST

/* Empty is the default, as mome-repo reads it: a job and the tool look at one repository. */
START_TEST(test_config__an_empty_repository_is_the_default)
{
    mome_config_t c;
    char err[256];
    setenv("MOME_REPOSITORY", "", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.repository, "./mome-repo");
    setenv("MOME_REPOSITORY", "/tmp/elsewhere", 1);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.repository, "/tmp/elsewhere");
    unsetenv("MOME_REPOSITORY");
}
END_TEST

/* MomePageSize (before MomeInit) and MomeInfoPrint read the knobs: the caller's errno, set by the
 * call that failed, is still there afterwards. */
START_TEST(test_config__reading_sizes_leaves_errno_alone)
{
    mome_config_t c;
    char err[256];
    uint64_t v;
    setenv("MOME_PAGE_SIZE", "8K", 1);
    errno = EINVAL;
    ck_assert_uint_eq(mome_config_page_size(), 8192);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    ck_assert_int_eq(errno, EINVAL);
    errno = ENOENT;
    ck_assert_int_eq(mome_config_parse_size("99999999999999999999999", &v), -EINVAL);
    ck_assert_int_eq(errno, ENOENT);
    unsetenv("MOME_PAGE_SIZE");
}
END_TEST

START_TEST(test_config__listing_names_every_knob)
{
    int p[2];
    char buf[32768];
    mome_config_t c;
    char err[256];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(mome_config_load(&c, err, sizeof(err)), 0);
    mome_config_print(p[1], &c);
    close(p[1]);
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = 0;
    const char *names[] = {"MOME_PAGE_SIZE",
                           "MOME_LOG_LEVEL",
                           "MOME_LOG_FILE",
                           "MOME_STATS",
                           "MOME_REPOSITORY",
                           "MOME_LOCAL_PAGES",
                           "MOME_EMU_LATENCY_NS",
                           "MOME_EMU_BANDWIDTH",
                           "MOME_BIND",
                           "MOME_HEAP_SIZE",
                           "MOME_SPIN_US",
                           "MOME_PREFETCH",
                           "MOME_DIR_MIGRATE",
                           "MOME_EVICT",
                           "MOME_TRACE",
                           "MOME_PROGRESS_PRIO",
                           "MOME_TEST_CKPT_DELAY_MS",
                           "MOME_TEST_SLOW_RECALL_MS",
                           "MOME_TEST_HELLO_WAIT_MS"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_ptr_nonnull(strstr(buf, names[i]));
    ck_assert_ptr_null(strstr(buf, "unknown"));
    close(p[0]);

    /* A misspelt knob is named after the table. */
    setenv("MOME_PAGESIZE", "8K", 1);
    ck_assert_int_eq(pipe(p), 0);
    mome_config_print(p[1], &c);
    close(p[1]);
    n = read(p[0], buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = 0;
    ck_assert_ptr_nonnull(strstr(buf, "MOME_PAGESIZE: unknown, ignored"));
    close(p[0]);
    unsetenv("MOME_PAGESIZE");
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    UNIT_CASE(s, test_config__sizes);
    UNIT_CASE(s, test_config__budget_and_heap_bounds);
    UNIT_CASE(s, test_config__budget_values_that_do_not_go_together);
    UNIT_CASE(s, test_config__every_mistake_is_said_at_once);
    UNIT_CASE(s, test_config__budget_mistakes_are_said_before_joining_the_job);
    UNIT_CASE(s, test_config__init_again_after_a_setting_set_right_but_not_after_joining);
    UNIT_CASE(s, test_config__default_page_size_follows_a_larger_system_page);
    UNIT_CASE(s, test_config__defaults);
    UNIT_CASE(s, test_config__page_size_must_be_a_power_of_two_page_multiple);
    UNIT_CASE(s, test_config__log_level_and_bool);
    UNIT_CASE(s, test_config__counts_take_no_suffix);
    UNIT_CASE(s, test_config__evict_names_a_policy);
    UNIT_CASE(s, test_config__progress_prio_names_a_priority);
    UNIT_CASE(s, test_config__trace_is_a_path);
    UNIT_CASE(s, test_config__an_empty_repository_is_the_default);
    UNIT_CASE(s, test_config__reading_sizes_leaves_errno_alone);
    UNIT_CASE(s, test_config__listing_names_every_knob);
    return s;
}
