/*
 * attach.c - how long a second job takes to attach to momed and reach pages another job holds
 * (run-bench.sh's momed section; MOME_REPOSITORY names a repository momed serves).
 *
 *   attach hold PAGES     the first job: writes PAGES pages of segment "bench-attach" (page 0 is
 *                         a STRONG control page), prints "attach: holding", and keeps them until
 *                         the second job sets the stop word
 *   attach attach PAGES   the second job: times MomeInit (with the connection to momed), the
 *                         segment's open (momed's SRV_OPEN), the first read of a page the first
 *                         job holds (a recall through momed), then the read of all of them;
 *                         checks every page; sets the stop word
 *
 * Output (node 0 of the second job): "attach init_ms A open_ms B first_page_ms C pages N
 * read_all_ms D read_all_MiBs E". Figures only: nothing is compared with a bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mome.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t word(uint64_t p, size_t i)
{
    return p * 1000003u + i;
}

int main(int argc, char **argv)
{
    double t0 = now();
    if (argc != 3 || (strcmp(argv[1], "hold") && strcmp(argv[1], "attach"))) {
        fprintf(stderr, "usage: attach hold|attach PAGES\n");
        return 2;
    }
    int hold = !strcmp(argv[1], "hold");
    uint64_t pages = strtoull(argv[2], NULL, 10);
    if (pages < 1 || pages > (1u << 20)) {
        fprintf(stderr, "attach: PAGES must be 1 to %u\n", 1u << 20);
        return 2;
    }
    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "attach: MomeInit: %s\n", MomeError());
        return 1;
    }
    double t1 = now();
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    uint64_t size = (pages + 1) * ps;
    int h = MomeSegOpen("bench-attach", size, MOME_CREATE | MOME_PERSIST);
    uint8_t *a = h < 0 ? MOME_MAP_FAILED : MomeMMap(NULL, size, MOME_READ | MOME_WRITE, 0, h, 0);
    if (a == MOME_MAP_FAILED) {
        fprintf(stderr, "attach: segment bench-attach: %s\n", MomeError());
        return 1;
    }
    double t2 = now();
    volatile uint64_t *ctl = (volatile uint64_t *)a;
    if (hold) {
        for (uint64_t p = 1 + (uint64_t)me; p <= pages; p += (uint64_t)n)
            for (size_t i = 0; i < ps / 8; i++)
                ((uint64_t *)(a + p * ps))[i] = word(p, i);
        MomeBarrier();
        if (me == 0) {
            ctl[1] = 0;
            printf("attach: holding %llu pages\n", (unsigned long long)pages);
            fflush(stdout);
            while (!ctl[1])
                usleep(1000); /* leave the CPU to the second job */
        }
        MomeBarrier();
    } else {
        MomeBarrier();
        double t3 = 0;
        uint64_t bad = 0;
        for (uint64_t p = 1 + (uint64_t)me; p <= pages; p += (uint64_t)n) {
            const uint64_t *w = (const uint64_t *)(a + p * ps);
            for (size_t i = 0; i < ps / 8; i++)
                bad += w[i] != word(p, i);
            if (!t3)
                t3 = now();
        }
        MomeBarrier();
        double t5 = now();
        if (me == 0) {
            ctl[1] = 1;
            if (bad)
                fprintf(stderr, "attach: %llu words differ from what the first job wrote\n",
                        (unsigned long long)bad);
            else
                printf("attach init_ms %.1f open_ms %.2f first_page_ms %.2f pages %llu "
                       "read_all_ms %.1f read_all_MiBs %.1f\n",
                       (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (unsigned long long)pages,
                       (t5 - t2) * 1e3, (double)pages * (double)ps / 1048576.0 / (t5 - t2));
        }
        if (bad)
            return 1;
    }
    MomeFinalize();
    return 0;
}
