/*
 * persist.c - jobs over a MOME_PERSIST segment, run one after another (persist.test,
 * repo_crash.test) so that each finds what the previous one left in MOME_REPOSITORY.
 *
 *   persist write MODEL GEN   every node writes generation GEN's content; MomeFinalize saves it
 *   persist check MODEL GEN   every node checks every byte of the segment is generation GEN's
 *   persist crash MODEL GEN   writes GEN, MomeCheckpoint, writes GEN+1 and releases it (barrier),
 *                             then node 0 kills itself (-9): the repository must hold GEN
 *   persist pause MODEL GEN   writes GEN, MomeCheckpoint, then idles 3 s (the progress threads
 *                             running alone: heartbeats, a silent node's detection) and checks GEN
 *   persist loop MODEL ROUNDS reads the generation K stamped in page 0, checks every page is K's
 *                             ("found K", or "WRONG ..."), then writes and checkpoints K+1, K+2...
 *                             ("committed K" after each): repo_crash.test kills it on the way
 *
 * Generation 0 is all zeros (a new segment). Generation g changes every page for g = 1, else page 0
 * (its first 8 bytes are g) and a quarter of the others; a page holds the bytes of the last
 * generation that changed it. Under STRONG node p mod n writes page p; under RELEASE and WEAK every
 * node writes the bytes i of every page with i mod n its number (several writers per page).
 */
#include <signal.h>
#include <unistd.h>

#include "itest.h"

#define NPAGES 24

static size_t ps;
static int me, nn, model;

static int changes(uint64_t g, uint64_t p)
{
    return g == 1 || p == 0 || (g > 1 && (p * 5 + g * 3) % 4 == 0);
}

/* The last generation <= g that changed page p (0: never). */
static uint64_t last_change(uint64_t g, uint64_t p)
{
    while (g > 0 && !changes(g, p))
        g--;
    return g;
}

static uint8_t byte_of(uint64_t g, uint64_t p, size_t i)
{
    uint64_t j = last_change(g, p);
    if (j == 0)
        return 0;
    if (p == 0 && i < 8)
        return (uint8_t)(j >> (8 * i));
    return (uint8_t)(j * 151 + p * 37 + i * 13 + 1);
}

/* This node's share of generation g's changes. */
static void write_gen(uint8_t *base, uint64_t g)
{
    for (uint64_t p = 0; p < NPAGES; p++) {
        if (!changes(g, p))
            continue;
        uint8_t *pg = base + p * ps;
        if (model == MOME_STRONG) {
            if ((int)(p % (uint64_t)nn) != me)
                continue;
            for (size_t i = 0; i < ps; i++)
                pg[i] = byte_of(g, p, i);
        } else {
            for (size_t i = (size_t)me; i < ps; i += (size_t)nn)
                pg[i] = byte_of(g, p, i);
        }
    }
}

/* Every byte of every page is generation g's; else prints WRONG and exits. */
static void check_gen(const uint8_t *base, uint64_t g)
{
    for (uint64_t p = 0; p < NPAGES; p++) {
        for (size_t i = 0; i < ps; i++) {
            if (base[p * ps + i] != byte_of(g, p, i)) {
                printf("WRONG node %d: page %llu byte %zu is %u, generation %llu has %u\n", me,
                       (unsigned long long)p, i, base[p * ps + i], (unsigned long long)g,
                       byte_of(g, p, i));
                fflush(stdout);
                exit(1);
            }
        }
    }
}

static int model_of(const char *s)
{
    if (!strcmp(s, "strong"))
        return MOME_STRONG;
    if (!strcmp(s, "release"))
        return MOME_RELEASE;
    if (!strcmp(s, "weak"))
        return MOME_WEAK;
    fprintf(stderr, "unknown model %s\n", s);
    exit(2);
}

int main(int argc, char **argv)
{
    char name[64];
    const char *mode;
    uint64_t arg;
    uint8_t *base;
    int seg;

    if (argc != 4) {
        fprintf(stderr, "usage: persist write|check|crash|pause|loop MODEL N\n");
        return 2;
    }
    mode = argv[1];
    model = model_of(argv[2]);
    arg = strtoull(argv[3], NULL, 10);
    itest_init(&argc, &argv);
    me = MomeNode();
    nn = MomeNodes();
    ps = MomePageSize();
    snprintf(name, sizeof(name), "persist-%s", strcmp(mode, "loop") ? argv[2] : "loop");
    seg = MomeSegOpen(name, NPAGES * ps, MOME_CREATE | MOME_PERSIST);
    CHECK(seg >= 0, "MomeSegOpen(%s, MOME_PERSIST)", name);
    base = MomeMMap(NULL, NPAGES * ps, MOME_READ | MOME_WRITE, 0, seg, 0);
    CHECK(base != MOME_MAP_FAILED, "MomeMMap");
    MUST(MomeConsistency(base, NPAGES * ps, model));

    if (!strcmp(mode, "write")) {
        write_gen(base, arg);
        MomeBarrier();
    } else if (!strcmp(mode, "check")) {
        check_gen(base, arg);
        MomeBarrier();
    } else if (!strcmp(mode, "crash")) {
        write_gen(base, arg);
        MUST(MomeCheckpoint(seg));
        write_gen(base, arg + 1); /* released by the barrier, never checkpointed */
        MomeBarrier();
        if (me == 0)
            kill(getpid(), SIGKILL);
        MomeBarrier(); /* the others wait here until mome-run stops them */
        fprintf(stderr, "node %d: still running after node 0 was killed\n", me);
        return 1;
    } else if (!strcmp(mode, "pause")) {
        write_gen(base, arg);
        MUST(MomeCheckpoint(seg));
        if (me == 0) {
            printf("checkpointed %llu\n", (unsigned long long)arg);
            fflush(stdout);
        }
        sleep(3); /* not a synchronisation: time for the progress threads' periodic checks */
        check_gen(base, arg);
        MomeBarrier();
    } else if (!strcmp(mode, "loop")) {
        uint64_t k;
        MUST(MomeConsistency(base, NPAGES * ps, MOME_STRONG));
        memcpy(&k, base, sizeof(k)); /* the stamp: little-endian, as byte_of writes it */
        check_gen(base, k);
        MomeBarrier();
        if (me == 0) {
            printf("found %llu\n", (unsigned long long)k);
            fflush(stdout);
        }
        MUST(MomeConsistency(base, NPAGES * ps, model));
        for (uint64_t r = 1; r <= arg; r++) {
            write_gen(base, k + r);
            MUST(MomeCheckpoint(seg));
            if (me == 0) {
                printf("committed %llu\n", (unsigned long long)(k + r));
                fflush(stdout);
            }
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    MUST(MomeFinalize());
    return 0;
}
