/*
 * test_watch.c - while MomeInit starts UCX (whose shared-memory files a node killed there left in
 * /dev/shm), SIGTERM, SIGINT and SIGHUP are held, then end the process as before; a handler of the
 * program's own is left alone.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/watch.h"
#include "unit.h"

/* In a child: hold, raise sig, say "held" on fd, release. Returns the child's wait status. */
static int held_in_child(int sig, void (*program_handler)(int))
{
    int p[2];
    char buf[16] = "";

    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        signal(sig, program_handler ? program_handler : SIG_DFL);
        mome_watch_hold();
        raise(sig);
        if (write(p[1], "held", 4) != 4)
            _exit(3);
        mome_watch_release();
        if (write(p[1], "gone", 4) != 4)
            _exit(3);
        _exit(0);
    }
    close(p[1]);
    ssize_t got = 0, r;
    while ((r = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
        got += r;
    close(p[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    buf[got] = '\0';
    if (program_handler)
        ck_assert_str_eq(buf, "heldgone");
    else
        ck_assert_str_eq(buf, "held"); /* it lived on through the hold, then died at its end */
    return st;
}

START_TEST(test_watch__a_signal_is_held_until_release)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        int st = held_in_child(sigs[i], NULL);
        ck_assert(WIFSIGNALED(st));
        ck_assert_int_eq(WTERMSIG(st), sigs[i]);
    }
}
END_TEST

static volatile sig_atomic_t handled;
static void program_handler(int sig)
{
    (void)sig;
    handled++;
}

START_TEST(test_watch__a_handler_of_the_program_is_kept)
{
    int st = held_in_child(SIGTERM, program_handler);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

START_TEST(test_watch__release_without_a_signal_restores_the_default)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    ck_assert_int_eq(sigaction(SIGTERM, &dfl, &old), 0);
    mome_watch_hold();
    mome_watch_release();
    struct sigaction sa;
    ck_assert_int_eq(sigaction(SIGTERM, NULL, &sa), 0);
    ck_assert(sa.sa_handler == SIG_DFL);
    sigaction(SIGTERM, &old, NULL);
}
END_TEST

Suite *watch_suite(void)
{
    Suite *s = suite_create("watch");
    UNIT_CASE(s, test_watch__a_signal_is_held_until_release);
    UNIT_CASE(s, test_watch__a_handler_of_the_program_is_kept);
    UNIT_CASE(s, test_watch__release_without_a_signal_restores_the_default);
    return s;
}
