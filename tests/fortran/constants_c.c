/*
 * constants_c.c - the C half of the constants test: compares the values of mome.fh that
 * constants.f passes with those of mome.h, and returns the number of differences.
 */
#include "ac_config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mome.h"

int F77_FUNC(chkfh, CHKFH)(const int *ic, const int *nic, const int *ist, const int *nst,
                           const int *page_size);

typedef struct {
    const char *name;
    int value;
} named_t;

/* The 1-based index of a counter in MomeStatsT. */
#define ST(field) ((int)(offsetof(MomeStatsT, field) / sizeof(uint64_t)) + 1)

static int differ(const char *what, int fh, int c)
{
    if (fh == c)
        return 0;
    printf("constants: %s is %d in mome.fh, %d in mome.h\n", what, fh, c);
    return 1;
}

int F77_FUNC(chkfh, CHKFH)(const int *ic, const int *nic, const int *ist, const int *nst,
                           const int *page_size)
{
    static const named_t c[] = {{"MOME_CREATE", MOME_CREATE},   {"MOME_EXCL", MOME_EXCL},
                                {"MOME_PERSIST", MOME_PERSIST}, {"MOME_READ", MOME_READ},
                                {"MOME_WRITE", MOME_WRITE},     {"MOME_FIXED", MOME_FIXED},
                                {"MOME_STRONG", MOME_STRONG},   {"MOME_RELEASE", MOME_RELEASE},
                                {"MOME_WEAK", MOME_WEAK}};
    static const named_t st[] = {{"MOME_ST_READ_FAULTS", ST(read_faults)},
                                 {"MOME_ST_WRITE_FAULTS", ST(write_faults)},
                                 {"MOME_ST_PAGES_FETCHED", ST(pages_fetched)},
                                 {"MOME_ST_PAGES_SENT", ST(pages_sent)},
                                 {"MOME_ST_MSGS_SENT", ST(msgs_sent)},
                                 {"MOME_ST_MSGS_RECEIVED", ST(msgs_received)},
                                 {"MOME_ST_BYTES_SENT", ST(bytes_sent)},
                                 {"MOME_ST_BYTES_RECEIVED", ST(bytes_received)},
                                 {"MOME_ST_INVAL_SENT", ST(invalidations_sent)},
                                 {"MOME_ST_INVAL_RECEIVED", ST(invalidations_received)},
                                 {"MOME_ST_TWINS", ST(twins)},
                                 {"MOME_ST_DIFFS", ST(diffs)},
                                 {"MOME_ST_DIFF_BYTES", ST(diff_bytes)},
                                 {"MOME_ST_SYNCS", ST(syncs)},
                                 {"MOME_ST_PAGE_OUTS", ST(page_outs)},
                                 {"MOME_ST_PAGE_INS", ST(page_ins)},
                                 {"MOME_ST_LOCK_ACQUIRES", ST(lock_acquires)},
                                 {"MOME_ST_LOCK_WAITS", ST(lock_waits)},
                                 {"MOME_ST_LOCK_WAIT_NS", ST(lock_wait_ns)},
                                 {"MOME_ST_BARRIERS", ST(barriers)},
                                 {"MOME_ST_BARRIER_WAIT_NS", ST(barrier_wait_ns)},
                                 {"MOME_ST_FAULT_NS", ST(fault_ns)},
                                 {"MOME_ST_DIR_MIGRATIONS", ST(dir_migrations)},
                                 {"MOME_ST_PAGES_PREFETCHED", ST(pages_prefetched)},
                                 {"MOME_ST_PAGES_WRITTEN_AHEAD", ST(pages_written_ahead)},
                                 {"MOME_ST_PAGE_OUTS_NODE", ST(page_outs_node)},
                                 {"MOME_ST_PAGE_OUTS_DISK", ST(page_outs_disk)},
                                 {"MOME_ST_EVICTIONS", ST(evictions)},
                                 {"MOME_ST_ZERO_PAGES_SKIPPED", ST(zero_pages_skipped)},
                                 {"MOME_ST_SWAP_BYTES_WRITTEN", ST(swap_bytes_written)},
                                 {"MOME_ST_EVICTIONS_WAITED", ST(evictions_waited)},
                                 {"MOME_ST_RESIDENT_PAGES", ST(resident_pages)},
                                 {"MOME_ST_RESIDENT_PEAK", ST(resident_peak)},
                                 {"MOME_ST_REPO_PAGES_READ", ST(repo_pages_read)},
                                 {"MOME_ST_REPO_PAGES_WRITTEN", ST(repo_pages_written)}};
    int nc = (int)(sizeof(c) / sizeof(c[0])), ns = (int)(sizeof(st) / sizeof(st[0])), bad = 0;

    bad += differ("the number of constants", *nic, nc);
    bad += differ("MOME_NSTATS (the counters of MomeStatsT before `reserved`)", *nst, ns);
    for (int i = 0; i < nc && i < *nic; i++)
        bad += differ(c[i].name, ic[i], c[i].value);
    for (int i = 0; i < ns && i < *nst; i++)
        bad += differ(st[i].name, ist[i], st[i].value);
    if (offsetof(MomeStatsT, reserved) != (size_t)ns * sizeof(uint64_t))
        bad += differ("the counters before `reserved`", ns,
                      (int)(offsetof(MomeStatsT, reserved) / sizeof(uint64_t)));
    bad += differ("MomePageSize()", *page_size, (int)MomePageSize());
    return bad;
}
