/*
 * litmus_models.c - message passing between a writer (node 0) and a reader (node 1) for every
 * pair of consistency models (writer model x reader model), through a lock, through a barrier, and
 * through MomeRelease + a date carried in a STRONG flag + MomeSyncMem. Plus: a WEAK reader keeps
 * its stale value across a barrier until it calls MomeSyncMem with the barrier's date.
 * Other nodes, if any, read too (with the reader's model).
 */
#include "itest.h"

static const int models[3] = {MOME_STRONG, MOME_RELEASE, MOME_WEAK};
static const char *names[4] = {"?", "STRONG", "RELEASE", "WEAK"};
static size_t ps;
static int me, n;

#define WORDS 64

/* Each test case gets fresh pages: data page, then a STRONG flag page. */
typedef struct tcase {
    volatile uint64_t *data;
    volatile uint64_t *flag;
} tcase_t;

static void set_models(tcase_t *t, int wm, int rm)
{
    MUST(MomeConsistency((void *)t->data, ps, me == 0 ? wm : rm));
    MUST(MomeConsistency((void *)t->flag, ps, MOME_STRONG));
}

static void check_data(const tcase_t *t, uint64_t v, const char *how, int wm, int rm)
{
    for (int i = 0; i < WORDS; i++)
        CHECK(t->data[i] == v + (uint64_t)i, "%s, writer %s reader %s: word %d = %llu, want %llu",
              how, names[wm], names[rm], i, (unsigned long long)t->data[i],
              (unsigned long long)(v + (uint64_t)i));
}

static void write_data(tcase_t *t, uint64_t v)
{
    for (int i = 0; i < WORDS; i++)
        t->data[i] = v + (uint64_t)i;
}

/* Through a lock: the reader takes the lock until it sees the flag word written under it. */
static void via_lock(tcase_t *t, int wm, int rm, int lock)
{
    MomeBarrier();
    if (me == 0) {
        MUST(MomeLock(lock));
        write_data(t, 1000);
        t->data[WORDS] = 1; /* the "ready" word lives in the data page: same contract */
        MUST(MomeUnlock(lock));
    } else {
        for (;;) {
            MUST(MomeLock(lock));
            if (rm == MOME_WEAK) /* locks do not refresh WEAK pages: ask, as of now */
                MUST(MomeSyncMem((void *)t->data, ps, MomeClock()));
            int ready = t->data[WORDS] == 1;
            if (ready)
                check_data(t, 1000, "lock", wm, rm);
            MUST(MomeUnlock(lock));
            if (ready)
                break;
        }
    }
    MomeBarrier();
}

/* Through a barrier. */
static void via_barrier(tcase_t *t, int wm, int rm)
{
    MomeBarrier();
    if (me == 0)
        write_data(t, 2000);
    MomeBarrier();
    if (me != 0) {
        if (rm == MOME_WEAK)
            MUST(MomeSyncMem((void *)t->data, ps, MomeLastBarrierDate()));
        check_data(t, 2000, "barrier", wm, rm);
    }
    MomeBarrier();
}

/* Through MomeRelease: its date travels in a STRONG flag; the reader syncs to that date. */
static void via_release_date(tcase_t *t, int wm, int rm)
{
    MomeBarrier();
    if (me == 0) {
        write_data(t, 3000);
        MomeDate d = MomeRelease();
        CHECK(d > 0, "MomeRelease date");
        *t->flag = d;
    } else {
        MomeDate d;
        while ((d = *t->flag) == 0)
            ;
        MUST(MomeSyncMem((void *)t->data, ps, d));
        check_data(t, 3000, "release+date", wm, rm);
    }
    MomeBarrier();
}

/* A WEAK reader's copy changes only when it asks. */
static void weak_stays_stale(tcase_t *t, int wm)
{
    MomeBarrier();
    if (me == 0)
        write_data(t, 4000);
    MomeBarrier();
    if (me != 0) {
        MUST(MomeSyncMem((void *)t->data, ps, MomeLastBarrierDate()));
        check_data(t, 4000, "weak, first read", wm, MOME_WEAK);
    }
    MomeBarrier();
    if (me == 0)
        write_data(t, 5000);
    MomeBarrier();
    if (me != 0) {
        /* The barrier did not refresh it: still the old value. */
        check_data(t, 4000, "weak, stale across a barrier", wm, MOME_WEAK);
        MUST(MomeSyncMem((void *)t->data, ps, MomeLastBarrierDate()));
        check_data(t, 5000, "weak, after MomeSyncMem(last barrier)", wm, MOME_WEAK);
    }
    MomeBarrier();
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    me = MomeNode();
    n = MomeNodes();
    ps = MomePageSize();
    CHECK(n >= 2, "needs 2 nodes or more");
    int ncases = 9 * 3 + 3;
    char *a = itest_map("litmus_models", ps * 2 * (size_t)ncases, NULL);
    int k = 0, runs = 0;

    for (int w = 0; w < 3; w++) {
        for (int r = 0; r < 3; r++) {
            for (int how = 0; how < 3; how++, k++) {
                tcase_t t = {(volatile uint64_t *)(a + ps * (size_t)(2 * k)),
                             (volatile uint64_t *)(a + ps * (size_t)(2 * k + 1))};
                set_models(&t, models[w], models[r]);
                if (how == 0)
                    via_lock(&t, models[w], models[r], 100 + k);
                else if (how == 1)
                    via_barrier(&t, models[w], models[r]);
                else
                    via_release_date(&t, models[w], models[r]);
                runs++;
            }
        }
    }
    for (int w = 0; w < 3; w++, k++) {
        tcase_t t = {(volatile uint64_t *)(a + ps * (size_t)(2 * k)),
                     (volatile uint64_t *)(a + ps * (size_t)(2 * k + 1))};
        set_models(&t, models[w], MOME_WEAK);
        weak_stays_stale(&t, models[w]);
        runs++;
    }
    MomeBarrier();
    if (me == 0)
        printf("litmus models: %d cases (9 model pairs x lock, barrier, release+date; WEAK stale "
               "until synced) on %d nodes passed\n", runs, n);
    MomeFinalize();
    return 0;
}
