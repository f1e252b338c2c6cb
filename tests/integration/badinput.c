/*
 * badinput.c - every misuse returns -1 (or the call's failure value) with the documented errno and
 * a MomeError() message, and the job goes on working afterwards.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "itest.h"

static int failures;

#define EXPECT_ERR(expr, err)                                                                      \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long _r = (long)(intptr_t)(expr);                                                          \
        int _e = errno;                                                                            \
        int _bad = !(_r == -1 || _r == 0) || _e != (err) || !MomeError()[0];                       \
        if (_bad) {                                                                                \
            fprintf(stderr, "line %d: %s -> %ld errno %d (%s), want errno %d; message '%s'\n",     \
                    __LINE__, #expr, _r, _e, strerror(_e), (err), MomeError());                    \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define FAILED_MAP(expr, err) EXPECT_ERR((expr) == MOME_MAP_FAILED ? -1 : 1, err)

/* MomeInfoPrint(fd, what) must fail with err and its own message (it once ignored write errors). */
static void info_print_fails(int line, int fd, int what, int err)
{
    errno = 0;
    int r = MomeInfoPrint(fd, what);
    int e = errno;
    if (r != -1 || e != err || !strstr(MomeError(), "MomeInfoPrint")) {
        fprintf(stderr,
                "line %d: MomeInfoPrint(%d, %#x) -> %d errno %d (%s), want -1 errno %d; "
                "message '%s'\n",
                line, fd, what, r, e, strerror(e), err, MomeError());
        failures++;
    }
}

int main(int argc, char **argv)
{
    MomeStatsT st;
    int lock_held_elsewhere = 0;

    /* Before MomeInit. */
    EXPECT_ERR(MomeNode(), ENOTCONN);
    EXPECT_ERR(MomeNodes(), ENOTCONN);
    EXPECT_ERR(MomeSegOpen("x", 4096, MOME_CREATE), ENOTCONN);
    FAILED_MAP(MomeMMap(NULL, 4096, MOME_READ, 0, 0, 0), ENOTCONN);
    EXPECT_ERR(MomeBarrier(), ENOTCONN);
    EXPECT_ERR(MomeLock(1), ENOTCONN);
    EXPECT_ERR(MomeMalloc(10), ENOTCONN);
    EXPECT_ERR(MomeStats(&st), ENOTCONN);
    EXPECT_ERR(MomeFinalize(), ENOTCONN);
    CHECK(MomePageSize() >= 4096, "page size before init");
    info_print_fails(__LINE__, -1, MOME_INFO_VERSION, EBADF);
    info_print_fails(__LINE__, -1, 0, EBADF);
    int ro = open("/dev/null", O_RDONLY), full = open("/dev/full", O_WRONLY);
    CHECK(ro >= 0 && full >= 0, "open /dev/null, /dev/full");
    info_print_fails(__LINE__, ro, MOME_INFO_VERSION, EBADF);
    info_print_fails(__LINE__, full, MOME_INFO_VERSION | MOME_INFO_CONFIG, ENOSPC);
    close(ro);
    close(full);

    itest_init(&argc, &argv);
    int me = MomeNode();
    size_t ps = MomePageSize();

    EXPECT_ERR(MomeInit(NULL, NULL), EALREADY);

    /* Segments. */
    EXPECT_ERR(MomeSegOpen("no-such-segment", 0, 0), ENOENT);
    EXPECT_ERR(MomeSegOpen(NULL, 4096, MOME_CREATE), EINVAL);
    EXPECT_ERR(MomeSegOpen("", 4096, MOME_CREATE), EINVAL);
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    EXPECT_ERR(MomeSegOpen(longname, 4096, MOME_CREATE), ENAMETOOLONG);
    EXPECT_ERR(MomeSegOpen("flags", 4096, 0x80), EINVAL);
    EXPECT_ERR(MomeSegOpen("zero", 0, MOME_CREATE), EINVAL);
    EXPECT_ERR(MomeSegOpen("no-such-persistent", 4096, MOME_PERSIST), ENOENT);
    int seg = MomeSegOpen("bad", ps * 4, MOME_CREATE);
    CHECK(seg >= 0, "create");
    MomeBarrier();
    EXPECT_ERR(MomeSegOpen("bad", ps * 4, MOME_CREATE | MOME_EXCL), EEXIST);
    EXPECT_ERR(MomeSegOpen("bad", ps * 8, 0), EINVAL);
    EXPECT_ERR(MomeSegClose(9999), EBADF);
    EXPECT_ERR(MomeSegClose(-1), EBADF);
    EXPECT_ERR(MomeSegUnlink("no-such-segment"), ENOENT);

    /* MomeMMap, every error case. */
    char *area = mmap(NULL, ps * 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *fix = (char *)(((uintptr_t)area + ps - 1) & ~(uintptr_t)(ps - 1));
    FAILED_MAP(MomeMMap(fix + 8, ps, MOME_READ, MOME_FIXED, seg, 0), EINVAL);   /* address */
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, MOME_FIXED, seg, 0), EINVAL);      /* NULL fixed */
    FAILED_MAP(MomeMMap(fix, ps + 8, MOME_READ, MOME_FIXED, seg, 0), EINVAL);   /* length */
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, 0, seg, 100), EINVAL);             /* offset */
    FAILED_MAP(MomeMMap(NULL, 0, MOME_READ, 0, seg, 0), EINVAL);                /* zero length */
    FAILED_MAP(MomeMMap(NULL, ps * 5, MOME_READ, 0, seg, 0), EINVAL);           /* beyond */
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, 0, seg, ps * 4), EINVAL);          /* beyond */
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, 0, seg, ps * 1000), EINVAL);       /* far beyond */
    FAILED_MAP(MomeMMap(NULL, SIZE_MAX - 10, MOME_READ, 0, seg, 0), EINVAL);    /* huge */
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, 0, 9999, 0), EBADF);               /* unknown seg */
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, 0, -3, 0), EBADF);                 /* unknown seg */
    FAILED_MAP(MomeMMap(NULL, ps, 0, 0, seg, 0), EINVAL);                       /* prot */
    FAILED_MAP(MomeMMap(NULL, ps, 0x10, 0, seg, 0), EINVAL);                    /* prot */
    /* The message says what is accepted: MOME_WRITE alone too (it did not, helper-158). */
    CHECK(strstr(MomeError(), "MOME_WRITE alone") != NULL, "a bad prot says: %s", MomeError());
    char *wo = MomeMMap(NULL, ps, MOME_WRITE, 0, seg, 0);
    CHECK(wo != MOME_MAP_FAILED, "MOME_WRITE alone: %s", MomeError());
    wo[ps - 1] = wo[ps - 1]; /* read and write a byte no other check uses (always 0) */
    MUST(MomeMUnmap(wo, ps));
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, 0x100, seg, 0), EINVAL);           /* flags */
    char *v = MomeMMap(fix, ps * 4, MOME_READ | MOME_WRITE, MOME_FIXED, seg, 0);
    CHECK(v == fix, "fixed map");
    FAILED_MAP(MomeMMap(fix + ps, ps, MOME_READ, MOME_FIXED, seg, 0), EBUSY);   /* overlap */
    FAILED_MAP(MomeMMap(fix + ps * 3, ps * 2, MOME_READ, MOME_FIXED, seg, 0), EBUSY);
    int seg2 = MomeSegOpen("bad", 0, 0);
    CHECK(seg2 >= 0, "second handle");
    MUST(MomeSegClose(seg2));
    FAILED_MAP(MomeMMap(NULL, ps, MOME_READ, 0, seg2, 0), EBADF);               /* closed seg */

    /* Other calls. */
    EXPECT_ERR(MomeMUnmap(area + ps * 14, ps), EINVAL);  /* not a Mome mapping */
    EXPECT_ERR(MomeMUnmap(fix + 8, ps), EINVAL);         /* unaligned */
    EXPECT_ERR(MomeConsistency(v, ps, 99), EINVAL);
    EXPECT_ERR(MomeConsistency(area + ps * 14, ps, MOME_STRONG), EINVAL);
    EXPECT_ERR(MomeSyncMem(area + ps * 14, ps, 1), EINVAL);
    EXPECT_ERR(MomeUnlock(7), EPERM);
    MUST(MomeLock(8));
    EXPECT_ERR(MomeLock(8), EDEADLK);
    MUST(MomeUnlock(8));
    EXPECT_ERR(MomeUnlock(8), EPERM);
    EXPECT_ERR(MomeStats(NULL), EINVAL);
    EXPECT_ERR(MomeCheckpoint(seg), EINVAL); /* not a MOME_PERSIST segment */
    MomeFree(area); /* not from MomeMalloc: reported, ignored */
    (void)lock_held_elsewhere;

    /* The job goes on: shared memory, heap and synchronisation still work. */
    ((volatile uint64_t *)v)[me] = 100 + (uint64_t)me;
    uint64_t *h = MomeMalloc(64);
    CHECK(h != NULL, "MomeMalloc after errors");
    /* The heap is not unmapped: the message says to use MomeFree (it said "no Mome mapping"). */
    EXPECT_ERR(MomeMUnmap((void *)((uintptr_t)h & ~(uintptr_t)(ps - 1)), ps), EINVAL);
    CHECK(strstr(MomeError(), "MomeFree") != NULL, "MomeMUnmap of the heap says: %s", MomeError());
    MomeFree(h);
    MomeBarrier();
    for (int k = 0; k < MomeNodes(); k++)
        CHECK(((volatile uint64_t *)v)[k] == 100 + (uint64_t)k, "node %d's word", k);
    MomeBarrier();
    MUST(MomeMUnmap(v, ps * 4));
    MUST(MomeSegClose(seg));
    MUST(MomeFinalize());

    /* After MomeFinalize. */
    EXPECT_ERR(MomeNode(), ENOTCONN);
    EXPECT_ERR(MomeInit(NULL, NULL), EALREADY);
    if (failures) {
        fprintf(stderr, "badinput: %d wrong error reports on node %d\n", failures, me);
        return 1;
    }
    if (me == 0)
        printf("bad input: every misuse got -1, the right errno and a message; the job went on\n");
    return 0;
}
