/*
 * repo_errors.c - jobs for the repository's bad-input tests (repo_badinput.test, repo_full.test).
 *
 *   repo_errors open NAME SIZE FLAGS ERRNO [TEXT]  MomeSegOpen(NAME, SIZE, FLAGS: letters c
 *                  CREATE, x EXCL, p PERSIST) must fail with errno ERRNO (a name: ENOENT...) and a
 *                  MomeError() holding TEXT, or succeed when ERRNO is 0
 *   repo_errors hold NAME READY GO   open NAME persistent, write to the fifo READY, wait for a line
 *                  on the fifo GO, then finalize (another job tries NAME meanwhile)
 *   repo_errors fill NAME PAGES SEED [SEED2]  write PAGES pages of SEED's bytes, MomeCheckpoint;
 *                  with SEED2, write those and MomeCheckpoint again: it must fail with ENOSPC (a
 *                  full disk), and so must MomeFinalize's final save
 *   repo_errors unsynced NAME PAGES SEED SEED2  as fill, twice; the first checkpoint may fail
 *                  with EIO after its head is in place (MOME_TEST_CRASH_AT=dirsync:N:eio)
 *   repo_errors read NAME PAGES SEED  every byte is SEED's ("content ok")
 *   repo_errors wbytes NAME SIZE SEED  as fill, of a segment of SIZE bytes (its last page may be
 *                  partial): its SIZE bytes are SEED's, MomeCheckpoint
 *   repo_errors rbytes NAME SIZE SEED  the segment opens with size 0 and with SIZE, and every one
 *                  of its SIZE bytes is SEED's ("content ok")
 *   repo_errors unlink NAME         MomeSegUnlink removes the repository copy
 *   repo_errors unlinkopen NAME     NAME persistent, open and written on every node, unlinked by
 *                  node 0: its files go with MomeFinalize's last close
 *   repo_errors unlinkdie NAME      NAME persistent, checkpointed and unlinked, then the job is
 *                  killed (SIGKILL) before its last close: the copy stays in .unlinked.*
 *   repo_errors mixed               MOME_PERSIST on a name open without it, MomeCheckpoint of a
 *                  segment that is not persistent, of a bad handle: clean errors
 *   repo_errors headfail NAME PAGES  every node writes its pages, then MomeCheckpoint must fail
 *                  with EIO (MOME_TEST_CRASH_AT=head-write:eio: the head's write fails): no file
 *                  of that generation is left in the segment's directory
 *   repo_errors ckptpage NAME PAGES ROUNDS  node 0 writes a plain segment of PAGES pages (run it
 *                  with a page budget: pages go to the other nodes), then a second thread of
 *                  node 0 reads it over and over (page-ins) while every node checkpoints the
 *                  persistent NAME ROUNDS times; the pages read back are node 0's
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "itest.h"

static int errno_of(const char *s)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {{"0", 0},
                 {"ENOENT", ENOENT},
                 {"ENOTDIR", ENOTDIR},
                 {"EACCES", EACCES},
                 {"EINVAL", EINVAL},
                 {"EBUSY", EBUSY},
                 {"EEXIST", EEXIST},
                 {"EIO", EIO},
                 {"ENOSPC", ENOSPC},
                 {"EPROTO", EPROTO},
                 {"ENAMETOOLONG", ENAMETOOLONG}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i].name))
            return names[i].value;
    fprintf(stderr, "unknown errno name %s\n", s);
    exit(2);
}

static int flags_of(const char *s)
{
    int f = 0;
    f |= strchr(s, 'c') ? MOME_CREATE : 0;
    f |= strchr(s, 'x') ? MOME_EXCL : 0;
    f |= strchr(s, 'p') ? MOME_PERSIST : 0;
    return f;
}

static uint8_t byte_of(uint64_t seed, uint64_t p, size_t i)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + p * 0xbf58476d1ce4e5b9ull + i;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebull;
    return (uint8_t)((x >> 32) | 1);
}

static int reading; /* atomic: read by read_plain */
static volatile uint64_t *plain;
static uint64_t plain_pages;

/* ckptpage's reader: every page holds its number + 1. */
static void *read_plain(void *arg)
{
    size_t words = MomePageSize() / 8;
    (void)arg;
    while (__atomic_load_n(&reading, __ATOMIC_ACQUIRE))
        for (uint64_t p = 0; p < plain_pages && __atomic_load_n(&reading, __ATOMIC_ACQUIRE); p++)
            CHECK(plain[p * words] == p + 1, "page %llu of the plain segment reads %llu",
                  (unsigned long long)p, (unsigned long long)plain[p * words]);
    return NULL;
}

static uint8_t *map_pages(const char *name, uint64_t pages, int flags, int *seg)
{
    size_t ps = MomePageSize();
    *seg = MomeSegOpen(name, pages * ps, flags);
    CHECK(*seg >= 0, "MomeSegOpen(%s)", name);
    uint8_t *b = MomeMMap(NULL, pages * ps, MOME_READ | MOME_WRITE, 0, *seg, 0);
    CHECK(b != MOME_MAP_FAILED, "MomeMMap(%s)", name);
    return b;
}

static void write_pages(uint8_t *b, uint64_t pages, uint64_t seed)
{
    size_t ps = MomePageSize();
    for (uint64_t p = (uint64_t)MomeNode(); p < pages; p += (uint64_t)MomeNodes())
        for (size_t i = 0; i < ps; i++)
            b[p * ps + i] = byte_of(seed, p, i);
}

/* A segment of size bytes, opened with open_size and flags, mapped whole (its last page too). */
static uint8_t *map_bytes(const char *name, uint64_t open_size, uint64_t size, int flags, int *seg)
{
    *seg = MomeSegOpen(name, open_size, flags);
    CHECK(*seg >= 0, "MomeSegOpen(%s, %llu)", name, (unsigned long long)open_size);
    uint8_t *b = MomeMMap(NULL, size, MOME_READ | MOME_WRITE, 0, *seg, 0);
    CHECK(b != MOME_MAP_FAILED, "MomeMMap(%s, %llu)", name, (unsigned long long)size);
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    itest_init(&argc, &argv);
    size_t ps = MomePageSize();
    int seg;

    if (!strcmp(mode, "open") && argc >= 6) {
        int want = errno_of(argv[5]);
        seg = MomeSegOpen(argv[2], strtoull(argv[3], NULL, 0), flags_of(argv[4]));
        if (want == 0) {
            CHECK(seg >= 0, "MomeSegOpen(%s) succeeds", argv[2]);
        } else {
            CHECK(seg < 0 && errno == want, "MomeSegOpen(%s) fails with %s (got %d, errno %d)",
                  argv[2], argv[5], seg, errno);
            CHECK(argc < 7 || strstr(MomeError(), argv[6]), "the message names '%s'", argv[6]);
            printf("node %d: %s\n", MomeNode(), MomeError());
        }
    } else if (!strcmp(mode, "hold") && argc == 5) {
        seg = MomeSegOpen(argv[2], 4 * ps, MOME_CREATE | MOME_PERSIST);
        CHECK(seg >= 0, "MomeSegOpen(%s)", argv[2]);
        MomeBarrier();
        if (MomeNode() == 0) {
            char line[16];
            int fd = open(argv[3], O_WRONLY);
            CHECK(fd >= 0 && write(fd, "ready\n", 6) == 6, "tell %s", argv[3]);
            close(fd);
            FILE *go = fopen(argv[4], "r");
            CHECK(go && fgets(line, sizeof(line), go), "wait on %s", argv[4]);
            fclose(go);
        }
        MomeBarrier();
    } else if (!strcmp(mode, "fill") && argc >= 5) {
        uint64_t pages = strtoull(argv[3], NULL, 0);
        uint8_t *b = map_pages(argv[2], pages, MOME_CREATE | MOME_PERSIST, &seg);
        write_pages(b, pages, strtoull(argv[4], NULL, 0));
        MUST(MomeCheckpoint(seg));
        if (argc == 6) {
            write_pages(b, pages, strtoull(argv[5], NULL, 0));
            int rc = MomeCheckpoint(seg);
            CHECK(rc < 0 && errno == ENOSPC, "the second checkpoint fails with ENOSPC (got %d, "
                  "errno %d)", rc, errno);
            printf("node %d: checkpoint on a full disk: %s\n", MomeNode(), MomeError());
            int me = MomeNode();
            rc = MomeFinalize();
            CHECK(rc < 0 && errno == ENOSPC, "MomeFinalize's save fails with ENOSPC (got %d, "
                  "errno %d)", rc, errno);
            printf("node %d: final save on a full disk: %s\n", me, MomeError());
            return 0;
        }
    } else if (!strcmp(mode, "unsynced") && argc == 6) {
        /* Under MOME_TEST_CRASH_AT=dirsync:N:eio: if node N commits this segment, the first
         * checkpoint's head is renamed into place but the directory's fsync fails; the second
         * checkpoint must then be generation 2, not generation 1 written again. */
        uint64_t pages = strtoull(argv[3], NULL, 0);
        uint8_t *b = map_pages(argv[2], pages, MOME_CREATE | MOME_PERSIST, &seg);
        write_pages(b, pages, strtoull(argv[4], NULL, 0));
        int rc = MomeCheckpoint(seg);
        CHECK(rc == 0 || (errno == EIO && (strstr(MomeError(), "generation 1 is in place") ||
                                           strstr(MomeError(), "keeps generation 1"))),
              "the first checkpoint succeeds, or fails with EIO, generation 1 in place (got %d, "
              "errno %d: %s)",
              rc, errno, MomeError());
        if (rc < 0)
            printf("node %d: %s\n", MomeNode(), MomeError());
        write_pages(b, pages, strtoull(argv[5], NULL, 0));
        MUST(MomeCheckpoint(seg));
    } else if (!strcmp(mode, "read") && argc == 5) {
        uint64_t pages = strtoull(argv[3], NULL, 0), seed = strtoull(argv[4], NULL, 0);
        uint8_t *b = map_pages(argv[2], pages, MOME_PERSIST, &seg);
        for (uint64_t p = 0; p < pages; p++)
            for (size_t i = 0; i < ps; i++)
                CHECK(b[p * ps + i] == byte_of(seed, p, i), "page %llu byte %zu",
                      (unsigned long long)p, i);
        MomeBarrier();
        printf("node %d: content ok\n", MomeNode());
    } else if (!strcmp(mode, "wbytes") && argc == 5) {
        uint64_t size = strtoull(argv[3], NULL, 0), seed = strtoull(argv[4], NULL, 0);
        uint8_t *b = map_bytes(argv[2], size, size, MOME_CREATE | MOME_PERSIST, &seg);
        for (uint64_t k = 0; k < size; k++)
            if ((int)(k / ps % (uint64_t)MomeNodes()) == MomeNode())
                b[k] = byte_of(seed, k / ps, k % ps);
        MUST(MomeCheckpoint(seg));
    } else if (!strcmp(mode, "rbytes") && argc == 5) {
        uint64_t size = strtoull(argv[3], NULL, 0), seed = strtoull(argv[4], NULL, 0);
        uint8_t *b = map_bytes(argv[2], 0, size, MOME_PERSIST, &seg);
        CHECK(MomeSegOpen(argv[2], size, MOME_PERSIST) >= 0, "MomeSegOpen(%s, %llu) as sized",
              argv[2], (unsigned long long)size);
        for (uint64_t k = 0; k < size; k++)
            CHECK(b[k] == byte_of(seed, k / ps, k % ps), "byte %llu", (unsigned long long)k);
        MomeBarrier();
        printf("node %d: content ok\n", MomeNode());
    } else if (!strcmp(mode, "unlink") && argc == 3) {
        if (MomeNode() == 0)
            MUST(MomeSegUnlink(argv[2]));
        MomeBarrier();
        CHECK(MomeSegOpen(argv[2], 0, MOME_PERSIST) < 0 && errno == ENOENT,
              "%s is gone from the repository", argv[2]);
    } else if (!strcmp(mode, "unlinkopen") && argc == 3) {
        /* Unlinked while every node has it open and mapped: its files go at the last close,
         * MomeFinalize's here. */
        uint8_t *b = map_pages(argv[2], 4, MOME_CREATE | MOME_PERSIST, &seg);
        write_pages(b, 4, 1);
        MomeBarrier();
        if (MomeNode() == 0)
            MUST(MomeSegUnlink(argv[2]));
        MomeBarrier();
    } else if (!strcmp(mode, "unlinkdie") && argc == 3) {
        uint8_t *b = map_pages(argv[2], 4, MOME_CREATE | MOME_PERSIST, &seg);
        write_pages(b, 4, 1);
        MUST(MomeCheckpoint(seg));
        if (MomeNode() == 0)
            MUST(MomeSegUnlink(argv[2]));
        MomeBarrier();
        printf("node %d: unlinked %s; killed before the segment's last close\n", MomeNode(),
               argv[2]);
        fflush(stdout);
        kill(getpid(), SIGKILL);
    } else if (!strcmp(mode, "mixed")) {
        seg = MomeSegOpen("plain", 4 * ps, MOME_CREATE);
        CHECK(seg >= 0, "MomeSegOpen(plain)");
        CHECK(MomeSegOpen("plain", 0, MOME_PERSIST) < 0 && errno == EINVAL &&
                  strstr(MomeError(), "without MOME_PERSIST"),
              "MOME_PERSIST on a segment open without it");
        CHECK(MomeCheckpoint(seg) < 0 && errno == EINVAL && strstr(MomeError(), "not persistent"),
              "MomeCheckpoint of a segment that is not persistent");
        CHECK(MomeCheckpoint(12345) < 0 && errno == EBADF, "MomeCheckpoint of a bad handle");
        int p = MomeSegOpen("kept", 4 * ps, MOME_CREATE | MOME_PERSIST);
        CHECK(p >= 0, "MomeSegOpen(kept)");
        CHECK(MomeSegOpen("kept", 0, 0) >= 0, "a later open may omit MOME_PERSIST");
        CHECK(MomeSegOpen("kept", 0, MOME_CREATE | MOME_EXCL | MOME_PERSIST) < 0 &&
                  errno == EEXIST, "MOME_EXCL on an open segment");
    } else if (!strcmp(mode, "headfail") && argc == 4) {
        /* Every node's files of a checkpoint whose head could not be written are removed when it
         * fails: the nodes whose part was written kept it (a full disk stayed full) until the
         * next attempt (helper-112). */
        uint64_t pages = strtoull(argv[3], NULL, 0);
        uint8_t *b = map_pages(argv[2], pages, MOME_CREATE | MOME_PERSIST, &seg);
        write_pages(b, pages, 3);
        CHECK(MomeCheckpoint(seg) < 0 && errno == EIO, "a checkpoint whose head write failed");
        /* Every node names the segment, the coordinator too (it named a path only). */
        char want[300];
        snprintf(want, sizeof(want), "segment '%s'", argv[2]);
        CHECK(strstr(MomeError(), want) && strstr(MomeError(), "keeps generation 0"),
              "the failure does not name segment '%s' and what the repository keeps: %s", argv[2],
              MomeError());
        MomeBarrier();
        if (MomeNode() == 0) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", getenv("MOME_REPOSITORY"), argv[2]);
            DIR *d = opendir(path);
            CHECK(d, "opendir %s", path);
            for (struct dirent *de; (de = readdir(d));)
                CHECK(strncmp(de->d_name, "data.1.", 7) && strncmp(de->d_name, "index.1.", 8),
                      "%s of the failed checkpoint stayed in %s", de->d_name, path);
            closedir(d);
            printf("headfail: no file left\n");
        }
        MomeBarrier();
    } else if (!strcmp(mode, "ckptpage") && argc == 5) {
        /* A node waiting for momed's answer to its checkpoint served no page-in: node 0, whose
         * pages it kept, waited for it, and momed for node 0's request (helper-110). */
        int rounds = atoi(argv[4]), plain_seg;
        pthread_t t;
        plain_pages = strtoull(argv[3], NULL, 0);
        plain =
            (volatile uint64_t *)map_pages("ckptpage.plain", plain_pages, MOME_CREATE, &plain_seg);
        volatile uint64_t *b =
            (volatile uint64_t *)map_pages(argv[2], 4, MOME_CREATE | MOME_PERSIST, &seg);
        if (MomeNode() == 0)
            for (uint64_t p = 0; p < plain_pages; p++)
                plain[p * (ps / 8)] = p + 1;
        MomeBarrier();
        __atomic_store_n(&reading, MomeNode() == 0, __ATOMIC_RELEASE);
        if (MomeNode() == 0)
            CHECK(pthread_create(&t, NULL, read_plain, NULL) == 0, "pthread_create");
        for (int r = 0; r < rounds; r++) {
            b[(size_t)MomeNode() * 8] = (uint64_t)r + 1;
            MUST(MomeCheckpoint(seg));
        }
        if (MomeNode() == 0) {
            __atomic_store_n(&reading, 0, __ATOMIC_RELEASE);
            pthread_join(t, NULL);
        }
        MomeBarrier();
    } else {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    MUST(MomeFinalize());
    return 0;
}
