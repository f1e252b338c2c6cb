/*
 * fork_child.c - a node forks after MomeInit: the child is not a node. Its Mome calls must fail at
 * once with ENOTCONN (they used to wait for ever for a progress thread the child does not have),
 * and its exit must not disturb the parent, whose job goes on with exact values. With "store", the
 * child stores into Mome memory: it must die of SIGSEGV (no Mome memory is mapped in a child),
 * where its store used to land in the node's page and reach the other nodes after a barrier.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

/* In the child: the call failed with ENOTCONN and a message naming it. */
#define REFUSED(ok, name)                                                                          \
    do {                                                                                           \
        if (!(ok) || errno != ENOTCONN || strncmp(MomeError(), name, strlen(name)) != 0) {         \
            fprintf(stderr, "child: %s: errno %d, '%s'\n", name, errno, MomeError());              \
            _exit(3);                                                                              \
        }                                                                                          \
    } while (0)

static void child(void)
{
    alarm(20); /* a call that waits for ever ends the child with SIGALRM: the parent reports it */
    errno = 0;
    REFUSED(MomeRelease() == 0, "MomeRelease");
    REFUSED(MomeLock(7) < 0, "MomeLock");
    REFUSED(MomeUnlock(7) < 0, "MomeUnlock");
    REFUSED(MomeMalloc(32) == NULL, "MomeMalloc");
    REFUSED(MomeBarrier() == 0, "MomeBarrier");
    REFUSED(MomeSegOpen("fork_child_x", 4096, MOME_CREATE) < 0, "MomeSegOpen");
    REFUSED(MomeFinalize() < 0, "MomeFinalize");
    exit(0); /* exit handlers run, as in any child that returns from main */
}

static void child_stores(volatile uint64_t *a)
{
    signal(SIGSEGV, SIG_DFL); /* not a sanitizer's or UCX's handler: the kernel's verdict */
    a[0] = 0xbad; /* SIGSEGV */
    _exit(4);
}

int main(int argc, char **argv)
{
    int store = argc > 1 && !strcmp(argv[1], "store");
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    volatile uint64_t *a = itest_map("fork_child", MomePageSize(), NULL);
    a[me] = 100 + (uint64_t)me;
    MomeBarrier();
    if (me == 0) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0 && store)
            child_stores(a);
        if (pid == 0)
            child();
        int st;
        CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
        if (store)
            CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
                  "the child's store into Mome memory "
                  "did not fault: it %s %d",
                  WIFSIGNALED(st) ? "was killed by signal" : "exited with",
                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        else
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child %s %d",
                  WIFSIGNALED(st) ? "was killed by signal (SIGALRM: a call hung)" : "exited with",
                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    MomeBarrier();
    for (int i = 0; i < n; i++)
        CHECK(a[i] == 100 + (uint64_t)i, "a[%d] = %llu", i, (unsigned long long)a[i]);
    MomeBarrier();
    a[me] = 200 + (uint64_t)me;
    MomeBarrier();
    for (int i = 0; i < n; i++)
        CHECK(a[i] == 200 + (uint64_t)i, "a[%d] = %llu", i, (unsigned long long)a[i]);
    MUST(MomeFinalize());
    return 0;
}
