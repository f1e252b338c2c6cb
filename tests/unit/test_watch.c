/*
 * test_watch.c - while MomeInit starts UCX (whose shared-memory files a node killed there left in
 * /dev/shm), SIGTERM, SIGINT and SIGHUP are held, then end the process as before; a handler of the
 * program's own is left alone. A node stopped or asked while MomeInit joins the job says in one
 * line which step it is in, then ends as a running node does (exit 128 + signal).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/boot.h"
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

/* Everything fd gives until its end, in buf. */
static void read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    ssize_t r;
    while (got < len - 1 && (r = read(fd, buf + got, len - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
}

/* One line from fd (up to its newline), in buf. */
static void read_line(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len - 1 && read(fd, buf + got, 1) == 1 && buf[got++] != '\n')
        ;
    buf[got] = 0;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* A child that joins (its stderr on err[1]): stage set, then sig raised; it must end by itself. */
static pid_t joining_child(int err[2], const char *stage, int sig)
{
    ck_assert_int_eq(pipe(err), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(err[0]);
        dup2(err[1], 2);
        signal(sig, SIG_DFL);
        mome_boot_set_rank(3);
        mome_watch_join_begin();
        mome_watch_join_stage(stage);
        raise(sig);
        for (;;) /* the watcher's thread ends the process */
            pause();
    }
    close(err[1]);
    return pid;
}

START_TEST(test_watch__a_node_stopped_while_joining_says_where_and_exits)
{
    static const int sigs[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        int err[2], st;
        char out[2048], want[256];
        pid_t pid = joining_child(err, "reaching momed", sigs[i]);
        read_all(err[0], out, sizeof(out));
        close(err[0]);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 128 + sigs[i], "status %#x", st);
        snprintf(want, sizeof(want),
                 "mome: node 3 (pid %d) stopped by %s: waiting in MomeInit for ", (int)pid,
                 sigs[i] == SIGINT ? "SIGINT" : "SIGTERM");
        ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
        ck_assert_msg(strstr(out, " s (joining the job: reaching momed)\n"), "%s", out);
        ck_assert_msg(count(out, "mome: ") == 1, "said more than once: %s", out);
    }
}
END_TEST

/* Stopped while UCX starts: said at once, but the node ends only once UCX is up (its files in
 * /dev/shm unlinked), and once. */
START_TEST(test_watch__stopped_while_ucx_starts_says_so_and_ends_after_it)
{
    int err[2], go[2], alive[2], st;
    char line[1024], rest[1024], word[8] = "";

    ck_assert_int_eq(pipe(err), 0);
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(alive), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;
        close(err[0]);
        close(go[1]);
        close(alive[0]);
        dup2(err[1], 2);
        signal(SIGTERM, SIG_DFL);
        mome_boot_set_rank(1);
        mome_watch_join_begin();
        mome_watch_hold();
        raise(SIGTERM);
        if (read(go[0], &c, 1) != 1 || write(alive[1], "up", 2) != 2)
            _exit(3);
        mome_watch_release();
        for (;;)
            pause();
    }
    close(err[1]);
    close(go[0]);
    close(alive[1]);
    read_line(err[0], line, sizeof(line)); /* said while UCX still starts */
    ck_assert_msg(strstr(line, "stopped by SIGTERM: waiting in MomeInit for ") &&
                      strstr(line, " s (joining the job: starting UCX)\n"),
                  "%s", line);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    read_all(alive[0], word, sizeof(word)); /* it lived until UCX was up */
    ck_assert_str_eq(word, "up");
    read_all(err[0], rest, sizeof(rest));
    ck_assert_msg(!strstr(rest, "mome: "), "said twice: %s", rest);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM, "status %#x", st);
    close(err[0]);
    close(go[1]);
    close(alive[0]);
}
END_TEST

static int exit_pipe = -1;

static void say_exit(void)
{
    if (write(exit_pipe, "exit", 4) != 4)
        return;
}

/* Stopped while MomeInit's thread connects through UCX: said, then ended by the signal's default
 * action, not by exit, whose handlers tore UCX down under that thread (an assertion in UCX, a
 * corrupted heap: helper-163). */
START_TEST(test_watch__stopped_while_connecting_says_so_and_runs_no_exit_handler)
{
    int err[2], ex[2], st;
    char line[1024], rest[1024], word[8] = "";

    ck_assert_int_eq(pipe(err), 0);
    ck_assert_int_eq(pipe(ex), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(err[0]);
        close(ex[0]);
        dup2(err[1], 2);
        exit_pipe = ex[1];
        atexit(say_exit);
        signal(SIGTERM, SIG_DFL);
        mome_boot_set_rank(1);
        mome_watch_join_begin();
        mome_watch_in_ucx(1);
        raise(SIGTERM);
        for (;;)
            pause();
    }
    close(err[1]);
    close(ex[1]);
    read_line(err[0], line, sizeof(line));
    ck_assert_msg(
        strstr(line, "stopped by SIGTERM: waiting in MomeInit for ") &&
            strstr(line, " (joining the job: connecting to the other nodes through UCX)\n"),
        "%s", line);
    read_all(err[0], rest, sizeof(rest));
    ck_assert_msg(!strstr(rest, "mome: "), "said twice: %s", rest);
    read_all(ex[0], word, sizeof(word));
    ck_assert_msg(word[0] == 0, "exit handlers ran: %s", word);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %#x", st);
    close(err[0]);
    close(ex[0]);
}
END_TEST

/* mome-run --stuck-after's REPORT, heard in an exchange: the line, and the node goes on. Then
 * MomeInit fails: the signals are the program's again. */
START_TEST(test_watch__asked_while_joining_says_where_and_goes_on)
{
    int err[2];
    char out[1024];
    struct sigaction sa;

    ck_assert_int_eq(pipe(err), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(err[0]);
        dup2(err[1], 2);
        close(err[1]);
        signal(SIGTERM, SIG_DFL);
        mome_boot_set_rank(2);
        mome_watch_join_begin();
        mome_boot_report(5);
        mome_watch_join_end();
        mome_boot_report(5); /* no longer listened to */
        if (sigaction(SIGTERM, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
            _exit(4);
        _exit(0);
    }
    close(err[1]);
    read_all(err[0], out, sizeof(out));
    close(err[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    ck_assert_msg(strstr(out, "has made no progress for 5 s: waiting in MomeInit for ") &&
                      strstr(out, " s (joining the job: setting up this node)\n"),
                  "%s", out);
    ck_assert_msg(count(out, "mome: ") == 1, "%s", out);
}
END_TEST

Suite *watch_suite(void)
{
    Suite *s = suite_create("watch");
    UNIT_CASE(s, test_watch__a_node_stopped_while_joining_says_where_and_exits);
    UNIT_CASE(s, test_watch__stopped_while_ucx_starts_says_so_and_ends_after_it);
    UNIT_CASE(s, test_watch__stopped_while_connecting_says_so_and_runs_no_exit_handler);
    UNIT_CASE(s, test_watch__asked_while_joining_says_where_and_goes_on);
    UNIT_CASE(s, test_watch__a_signal_is_held_until_release);
    UNIT_CASE(s, test_watch__a_handler_of_the_program_is_kept);
    UNIT_CASE(s, test_watch__release_without_a_signal_restores_the_default);
    return s;
}
