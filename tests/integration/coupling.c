/*
 * coupling.c - two jobs launched separately, coupled through momed (momed.test): they open the
 * same MOME_PERSIST segment, "cpl", of NPAGES pages, whose page 0 is a STRONG control page.
 *
 *   coupling strong-a / strong-b   a STRONG flag handshake: A writes the data pages, then the flag
 *                                  (1); B waits for it, checks every data byte, writes its own
 *                                  pages, then the flag (2); A waits for that and checks them.
 *   coupling release-a / release-b A writes the data pages under RELEASE, releases, and publishes
 *                                  the date through the control page; B holds WEAK copies read
 *                                  before, waits for the date, MomeSyncMem(date), checks.
 *   coupling weak-a / weak-b       the same with a WEAK writer (other values).
 *   coupling sim STEPS K WAIT      a simulation: every step each node writes its share of the field
 *                                  (every word of pages 1..FIELD = step), a barrier, node 0
 *                                  publishes the step and its date ("step S"); MomeCheckpoint every
 *                                  K steps ("checkpoint S"). It stops after STEPS steps, or when
 * the stop word is set; with WAIT 1 not before an analysis attached and detached, leaving its mark
 * in page MARK (checked). coupling ana STEPS             the analysis: attaches mid-run, reads
 * STEPS distinct steps as they are released (MomeSyncMem with the published date), checks each,
 * writes its mark, detaches ("ana: ok"). coupling stop                  sets the stop word (and
 * returns). coupling check [S]             every page is one checkpoint's content: step S (or any),
 * field all equal to it. Control words: [0] handshake flag, [1] published date, [2] published step,
 * [4] stop, [5] the analysis attached (1) and detached (2), [6] the simulation's own decision to go
 * on.
 */
#include <signal.h>
#include <unistd.h>

#include "itest.h"

#define NPAGES 16
#define FIELD 8 /* pages 1..FIELD */
#define MARK 12 /* the analysis' page */
#define MARK_VALUE 0x4d4f4d45ull

static size_t ps;
static int me, nn, seg;
static volatile uint64_t *ctl;
static uint64_t *base;

static uint64_t *page(int p)
{
    return (uint64_t *)((char *)base + (size_t)p * ps);
}

static void spin_until(int word, uint64_t value)
{
    while (ctl[word] != value)
        ;
}

static void fill(int p, uint64_t v)
{
    for (size_t i = 0; i < ps / 8; i++)
        page(p)[i] = v + i;
}

static void expect(int p, uint64_t v, const char *what)
{
    for (size_t i = 0; i < ps / 8; i++)
        CHECK(page(p)[i] == v + i, "%s: page %d word %zu is %llu, expected %llu", what, p, i,
              (unsigned long long)page(p)[i], (unsigned long long)(v + i));
}

static void strong(int a)
{
    if (a) {
        for (int p = 1; p <= FIELD; p++)
            if (p % nn == me)
                fill(p, 1000 * (uint64_t)p);
        MomeBarrier();
        if (me == 0)
            ctl[0] = 1;
        spin_until(0, 2);
        for (int p = FIELD + 1; p < NPAGES; p++)
            expect(p, 2000 * (uint64_t)p, "A after the handshake");
    } else {
        spin_until(0, 1);
        for (int p = 1; p <= FIELD; p++)
            expect(p, 1000 * (uint64_t)p, "B after the flag");
        for (int p = FIELD + 1; p < NPAGES; p++)
            if (p % nn == me)
                fill(p, 2000 * (uint64_t)p);
        MomeBarrier();
        if (me == 0)
            ctl[0] = 2;
    }
    printf("strong-%c node %d: ok\n", a ? 'a' : 'b', me);
}

static void release(int a, int model)
{
    char *data = (char *)page(1);
    size_t len = FIELD * ps;
    const char *name = model == MOME_WEAK ? "weak" : "release";
    uint64_t mult = model == MOME_WEAK ? 5000 : 3000;
    if (a) {
        MUST(MomeConsistency(data, len, model));
        for (int p = 1; p <= FIELD; p++)
            for (size_t i = 0; i < ps / 8; i++)
                if ((int)(i % (size_t)nn) == me)
                    page(p)[i] = mult * (uint64_t)p + i;
        MomeDate d = MomeRelease();
        CHECK(d > 0, "MomeRelease");
        MomeDate b = MomeBarrier();
        if (me == 0) {
            ctl[1] = b;
            ctl[0] = 3;
            printf("%s-a: published date %llu\n", name, (unsigned long long)b);
        }
        spin_until(0, 4);
    } else {
        MUST(MomeConsistency(data, len, MOME_WEAK));
        volatile uint64_t before = page(1)[0]; /* a WEAK copy, from before A's writes */
        (void)before;
        spin_until(0, 3);
        MomeDate d = ctl[1];
        CHECK(MomeClock() > d, "dates comparable across jobs: clock %llu after reading date %llu",
              (unsigned long long)MomeClock(), (unsigned long long)d);
        MUST(MomeSyncMem(data, len, d));
        for (int p = 1; p <= FIELD; p++)
            expect(p, mult * (uint64_t)p, "B after MomeSyncMem");
        MomeBarrier();
        if (me == 0)
            ctl[0] = 4;
    }
    printf("%s-%c node %d: ok\n", name, a ? 'a' : 'b', me);
}

/* Steps until at least `steps` are done and, with `wait`, an analysis has attached, read and
 * detached (it may attach at any step); the stop word ends it early. */
static void sim(int steps, int k, int wait)
{
    int s;
    MUST(MomeConsistency(page(1), FIELD * ps, MOME_RELEASE));
    if (me == 0)
        ctl[4] = ctl[5] = 0; /* an earlier run's stop and analysis */
    MomeBarrier();
    for (s = 1;; s++) {
        for (int p = 1; p <= FIELD; p++)
            if (p % nn == me)
                fill(p, 1000000 * (uint64_t)s);
        MomeDate d = MomeBarrier();
        if (me == 0) {
            ctl[1] = d;
            ctl[2] = (uint64_t)s;
            printf("step %d\n", s);
            fflush(stdout);
        }
        if (k && s % k == 0) {
            MUST(MomeCheckpoint(seg));
            if (me == 0) {
                printf("checkpoint %d\n", s);
                fflush(stdout);
            }
        }
        /* Node 0 decides for all (ctl[6], which only this job writes): the others read the
         * decision after the barrier, before node 0 can write the next one. */
        if (me == 0)
            ctl[6] = !ctl[4] && (s < steps || (wait && ctl[5] != 2));
        MomeBarrier();
        if (!ctl[6])
            break;
    }
    if (wait)
        expect(MARK, MARK_VALUE, "the analysis' mark after it detached");
    MUST(MomeCheckpoint(seg));
    if (me == 0)
        printf("sim: ok (%d steps)\n", s);
}

static void ana(int want)
{
    uint64_t last = 0, *copy = malloc(FIELD * ps);
    int seen = 0;
    CHECK(copy, "malloc");
    MUST(MomeConsistency(page(1), FIELD * ps, MOME_WEAK));
    if (me == 0) {
        ctl[5] = 1; /* the simulation waits for the mark */
        printf("ana: attached at step %llu (pid %d)\n", (unsigned long long)ctl[2], (int)getpid());
        fflush(stdout);
    }
    while (seen < want) {
        uint64_t s = ctl[2];
        MomeDate d = ctl[1];
        if (s == last || ctl[2] != s)
            continue;
        MUST(MomeSyncMem(page(1), FIELD * ps, d));
        /* A page this job does not hold is fetched when read, as it is then: the step published
         * after the reads bounds it. */
        memcpy(copy, page(1), FIELD * ps);
        uint64_t after = ctl[2];
        for (int p = 0; p < FIELD; p++)
            for (size_t i = 0; i < ps / 8; i++) {
                uint64_t v = copy[p * ps / 8 + i] - i, step = v / 1000000;
                /* The simulation may be writing the step after the one it published. */
                CHECK(v % 1000000 == 0 && step >= s && step <= after + 1,
                      "field page %d word %zu holds step %llu (+%llu) after step %llu was "
                      "released (now %llu)",
                      p + 1, i, (unsigned long long)step, (unsigned long long)(v % 1000000),
                      (unsigned long long)s, (unsigned long long)after);
            }
        last = s;
        seen++;
    }
    MomeBarrier();
    if (me == 0) {
        fill(MARK, MARK_VALUE);
        ctl[5] = 2;
        printf("ana: ok (%d steps read, the last %llu)\n", seen, (unsigned long long)last);
    }
}

/*
 * A job that loses a node is cut off by momed before a page it held goes on (momed_fail.test).
 * Job A (2 nodes, STRONG): node 0 writes data page D (it fetches D from momed: its node holds
 * it), node 1 reads D (a copy) and writes flag page F (node 1 holds F); node 0 then waits to be
 * killed. Node 1 spins on F: when it sees job B's flag, B's data must be in D too. D's and F's
 * directory manager in A is node 1 (the default manager of (segment, page) is (hash(segment) +
 * page) mod the nodes, the segment id being momed's first, MOME_SEG_SERVED | 1), so node 1 needs
 * nothing from the dead node 0 and would run on, on its old copy of D, if momed kept serving it.
 * Job B (1 node): writes D (the page node 0 of A held: momed gives it as momed had it), then F
 * with the value and B's date.
 */
static void fence_pages(int *d, int *f)
{
    uint64_t id = (1ull << 62) | 1, h = (id * 0x9e3779b97f4a7c15ull) >> 32;
    int p = 1;
    while ((h + (uint64_t)p) % 2 != 1)
        p++;
    *d = p;
    *f = p + 2;
}

static void fence(int a)
{
    int d, f;
    fence_pages(&d, &f);
    volatile uint64_t *flag = page(f);
    if (!a) {
        fill(d, 7000);
        flag[1] = MomeClock();
        flag[0] = 2;
        printf("fence-b: flag written\n");
        return;
    }
    CHECK(nn == 2, "fence-a runs on 2 nodes");
    if (me == 0)
        fill(d, 5000);
    MomeBarrier();
    if (me == 1) {
        expect(d, 5000, "fence-a: node 1's copy of the data");
        flag[0] = 1;
    }
    MomeBarrier();
    if (me == 0) {
        printf("fence-a: ready (pid %d)\n", (int)getpid());
        fflush(stdout);
        for (;;)
            pause(); /* killed here */
    }
    while (flag[0] == 1)
        ;
    MomeDate t = flag[1];
    CHECK(page(d)[0] == 7000,
          "fence-a node 1 sees job B's flag (date %llu) beside data page %d "
          "of before it (%llu): a mix",
          (unsigned long long)t, d, (unsigned long long)page(d)[0]);
    printf("fence-a node 1: B's flag and B's data\n");
}

static void check(long want)
{
    uint64_t s = ctl[2];
    CHECK(want < 0 || s == (uint64_t)want, "step %llu in the repository, expected %ld",
          (unsigned long long)s, want);
    for (int p = 1; p <= FIELD; p++)
        expect(p, 1000000 * s, "the checkpoint's field");
    printf("check node %d: ok (step %llu)\n", me, (unsigned long long)s);
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    me = MomeNode();
    nn = MomeNodes();
    ps = MomePageSize();
    CHECK(argc >= 2, "usage: coupling MODE [ARGS]");
    seg = MomeSegOpen("cpl", NPAGES * ps, MOME_CREATE | MOME_PERSIST);
    CHECK(seg >= 0, "MomeSegOpen");
    base = MomeMMap(NULL, NPAGES * ps, MOME_READ | MOME_WRITE, 0, seg, 0);
    CHECK(base != MOME_MAP_FAILED, "MomeMMap");
    ctl = base;
    const char *m = argv[1];
    if (!strcmp(m, "strong-a") || !strcmp(m, "strong-b"))
        strong(m[7] == 'a');
    else if (!strcmp(m, "release-a") || !strcmp(m, "release-b"))
        release(m[8] == 'a', MOME_RELEASE);
    else if (!strcmp(m, "weak-a") || !strcmp(m, "weak-b"))
        release(m[5] == 'a', MOME_WEAK);
    else if (!strcmp(m, "sim") && argc == 5)
        sim(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    else if (!strcmp(m, "ana") && argc == 3)
        ana(atoi(argv[2]));
    else if (!strcmp(m, "fence-a") || !strcmp(m, "fence-b"))
        fence(m[6] == 'a');
    else if (!strcmp(m, "stop") && me == 0)
        ctl[4] = 1;
    else if (!strcmp(m, "check"))
        check(argc > 2 ? atol(argv[2]) : -1);
    else if (strcmp(m, "stop"))
        CHECK(0, "unknown mode %s", m);
    MUST(MomeFinalize());
    return 0;
}
