/*
 * sim.c - the simulation side of the coupling example: a C job that computes a field step after
 * step in a MOME_PERSIST segment that momed serves, publishes each step through a STRONG control
 * page, and checkpoints. An analysis job (analysis.f), started separately, attaches while it runs.
 *
 *   momed --repository REPO &
 *   MOME_REPOSITORY=REPO mome-run -n 2 ./sim [steps] [checkpoint-every] [wait]
 *   MOME_REPOSITORY=REPO mome-run -n 2 ./analysis [steps-to-read]      (any time, separately)
 *
 * The segment 'coupling-field' is one control page (64-bit words: 0 the step, 1 its release date,
 * 2 the analysis' state: 1 attached, 2 detached; 3 this job's own decision to go on; 4 the end
 * mark: 0 while the simulation runs, 1 once it has released its last step) followed by the field,
 * NX x NY doubles: after step s, field(i) = s + i / 1000 (i from 0). Each node computes its share
 * of the pages, under MOME_RELEASE; the barrier that ends a step releases them, and its date is
 * what a reader gives MomeSyncMem. With wait = 1 the simulation goes on past its steps
 * until an analysis has attached and detached, and then to its next checkpoint. Needs
 * MomePageSize() 4096 (the control page is the first 4096 bytes of the analysis' COMMON block).
 */
#include <mome.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NX 64
#define NY 64

int main(int argc, char **argv)
{
    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "sim: %s\n", MomeError());
        return 1;
    }
    int steps = argc > 1 ? atoi(argv[1]) : 100, every = argc > 2 ? atoi(argv[2]) : 10;
    int wait = argc > 3 ? atoi(argv[3]) : 0, me = MomeNode(), nodes = MomeNodes();
    size_t ps = MomePageSize(), size = ps + NX * NY * sizeof(double);
    if (ps != 4096) {
        fprintf(stderr, "sim: the example needs Mome pages of 4096 bytes (MOME_PAGE_SIZE)\n");
        return 2;
    }
    int seg = MomeSegOpen("coupling-field", size, MOME_CREATE | MOME_PERSIST);
    char *base =
        seg < 0 ? MOME_MAP_FAILED : MomeMMap(NULL, size, MOME_READ | MOME_WRITE, 0, seg, 0);
    if (base == MOME_MAP_FAILED) {
        fprintf(stderr, "sim: %s\n", MomeError());
        return 1;
    }
    volatile int64_t *ctl = (volatile int64_t *)base;
    double *field = (double *)(base + ps);
    size_t per_page = ps / sizeof(double), npages = NX * NY / per_page;
    MomeConsistency(field, NX * NY * sizeof(double), MOME_RELEASE);
    if (me == 0) {
        ctl[2] = 0;
        ctl[4] = 0; /* the mark a previous run left in the segment */
    }
    MomeBarrier();

    int left = 0; /* node 0: the step at which it saw the analysis detached */
    for (int s = 1;; s++) {
        for (size_t p = (size_t)me; p < npages; p += (size_t)nodes)
            for (size_t i = p * per_page; i < (p + 1) * per_page; i++)
                field[i] = s + i / 1000.0;
        MomeDate d = MomeBarrier(); /* releases this step: its date is the readers' */
        if (me == 0) {
            ctl[1] = (int64_t)d;
            ctl[0] = s;
            printf("sim: step %d released at date %llu\n", s, (unsigned long long)d);
            if (ctl[2] == 1)
                printf("sim: the analysis is attached\n");
            fflush(stdout);
        }
        if (every > 0 && s % every == 0) {
            if (MomeCheckpoint(seg) < 0) {
                fprintf(stderr, "sim: %s\n", MomeError());
                return 1;
            }
            if (me == 0) {
                printf("sim: checkpoint at step %d%s\n", s,
                       ctl[2] == 2 ? " (the analysis has detached)" : "");
                fflush(stdout);
            }
        }
        /* Node 0 decides for every node (word 3): they read it after the barrier. After the
         * analysis left, the simulation carries on to its next checkpoint at least. */
        if (me == 0) {
            if (wait && ctl[2] == 2 && !left)
                left = s;
            ctl[3] = s < steps || (wait && (!left || s < left + (every > 0 ? every : 1)));
        }
        MomeBarrier();
        if (!ctl[3])
            break;
    }
    /* Written before detaching, so that it stays in the segment: an analysis still waiting for a
     * step, or started after this job ended, reads it there and stops. */
    if (me == 0)
        ctl[4] = 1;
    if (MomeFinalize() < 0) {
        fprintf(stderr, "sim: %s\n", MomeError());
        return 1;
    }
    if (me == 0)
        printf("sim: done\n");
    return 0;
}
