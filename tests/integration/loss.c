/*
 * loss.c - node loss: the victim node kills itself with SIGKILL in the middle of the job while the
 * others are busy in barriers and faults; they must stop by themselves, naming the lost node. The
 * victim writes the kill time (CLOCK_REALTIME, ns) to argv[1] so the test can time the stop.
 *
 * With argv[3] "abort" the victim calls MomeAbort(7, ...) there instead; with "abort-init" it does
 * so right after MomeInit, while the others may still be connecting; with "mark" it only writes the
 * time and goes on (the test then kills a node or cuts the network itself). argv[4] is the status
 * given to MomeAbort (default 7). With "abort-threads" eight threads of the victim call MomeAbort
 * together right after MomeInit; with "kill-after-finalize" the victim kills itself with SIGKILL
 * right after MomeFinalize.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

static pthread_barrier_t together;
static int abort_status;

static void *abort_thread(void *arg)
{
    pthread_barrier_wait(&together);
    MomeAbort(abort_status, "abort from eight threads at once");
    return arg;
}

int main(int argc, char **argv)
{
    const char *stamp = argc > 1 ? argv[1] : NULL;
    int victim = argc > 2 ? atoi(argv[2]) : 1;
    const char *how = argc > 3 ? argv[3] : "kill";
    int status = argc > 4 ? atoi(argv[4]) : 7;
    itest_init(&argc, &argv);
    int me = MomeNode();
    if (me == victim && strcmp(how, "abort-init") == 0)
        MomeAbort(status, "abort right after MomeInit");
    if (me == victim && strcmp(how, "abort-threads") == 0) {
        pthread_t t[8];
        abort_status = status;
        pthread_barrier_init(&together, NULL, 8);
        for (int i = 0; i < 8; i++)
            CHECK(pthread_create(&t[i], NULL, abort_thread, NULL) == 0, "pthread_create");
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
    }
    if (strcmp(how, "kill-after-finalize") == 0) {
        MUST(MomeFinalize());
        if (me == victim)
            kill(getpid(), SIGKILL);
        return 0;
    }
    size_t ps = MomePageSize();
    char *a = itest_map("loss", ps * 64, NULL);

    for (uint64_t r = 1;; r++) {
        ((volatile uint64_t *)(a + ps * (r % 64)))[me] = r;
        MomeBarrier();
        if (me == victim && r == 20) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            FILE *f = stamp ? fopen(stamp, "w") : NULL;
            if (f) {
                fprintf(f, "%lld\n", (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
                fclose(f);
            }
            if (strcmp(how, "abort") == 0)
                MomeAbort(status, "abort in round 20");
            if (strcmp(how, "mark") != 0)
                kill(getpid(), SIGKILL);
        }
    }
    return 0;
}
