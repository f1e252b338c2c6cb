/*
 * test_trace.c - the page-traffic trace (base/trace.c): the file's header and records as
 * doc/trace.md describes them, a ring that wraps many times losing nothing, when the progress
 * thread is asked to write, and nothing recorded without a trace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/trace.h"
#include "unit.h"

static char dir[64];

static void trace_down(void)
{
    char cmd[128];
    mome_trace_close();
    if (dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_trace: cannot remove %s\n", dir);
        dir[0] = 0;
    }
}

static void make_dir(void)
{
    strcpy(dir, "/tmp/mome-trace-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* The whole file: its header in *h, its records (malloc'ed) in *recs; returns how many. */
static size_t read_trace(const char *path, mome_trace_hdr_t *h, mome_trace_rec_t **recs)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no trace file %s", path);
    ck_assert_uint_eq(fread(h, sizeof(*h), 1, f), 1);
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    ck_assert_int_eq((end - (long)sizeof(*h)) % (long)sizeof(mome_trace_rec_t), 0);
    size_t n = (size_t)(end - (long)sizeof(*h)) / sizeof(mome_trace_rec_t);
    *recs = malloc(n * sizeof(**recs) + 1);
    fseek(f, (long)sizeof(*h), SEEK_SET);
    ck_assert_uint_eq(fread(*recs, sizeof(**recs), n, f), n);
    fclose(f);
    return n;
}

START_TEST(test_trace__file_holds_header_and_records_in_order)
{
    char pat[128], path[128];
    mome_trace_hdr_t h;
    mome_trace_rec_t *r;

    make_dir();
    snprintf(pat, sizeof(pat), "%s/run.%%n.trace", dir);
    snprintf(path, sizeof(path), "%s/run.3.trace", dir);
    mome_clock_reset(100);
    mome_log_set_node(3); /* %n: set by the node engine before it opens the trace */
    ck_assert_int_eq(mome_trace_open(pat, 3, 4, 4096, 0), 0);
    ck_assert_int_eq(mome_trace_on, 1);
    MOME_TR(MOME_TR_FAULT, 7, 12, -1, 0, MOME_TRF_WRITE);
    mome_clock_tick();
    MOME_TR(MOME_TR_FETCH, 7, 12, 2, 4096, 0);
    MOME_TR(MOME_TR_BAR_ENTER, 0, 5, -1, 0, 0);
    mome_trace_close();
    ck_assert_int_eq(mome_trace_on, 0);
    MOME_TR(MOME_TR_FAULT, 7, 13, -1, 0, 0); /* closed: nothing */

    size_t n = read_trace(path, &h, &r);
    ck_assert_mem_eq(h.magic, MOME_TRACE_MAGIC, 8);
    ck_assert_uint_eq(h.version, MOME_TRACE_VERSION);
    ck_assert_uint_eq(h.hdr_size, 128);
    ck_assert_uint_eq(h.rec_size, 40);
    ck_assert_uint_eq(h.node, 3);
    ck_assert_uint_eq(h.nnodes, 4);
    ck_assert_uint_eq(h.page_size, 4096);
    ck_assert_uint_eq(h.pid, (uint32_t)getpid());
    ck_assert_uint_gt(h.real_ns, 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(r[0].kind, MOME_TR_FAULT);
    ck_assert_uint_eq(r[0].seg, 7);
    ck_assert_uint_eq(r[0].page, 12);
    ck_assert_uint_eq(r[0].peer, MOME_TRACE_NONE);
    ck_assert_uint_eq(r[0].flags, MOME_TRF_WRITE);
    ck_assert_uint_eq(r[0].date, 100);
    ck_assert_uint_ge(r[0].ns, h.mono_ns);
    ck_assert_uint_eq(r[1].kind, MOME_TR_FETCH);
    ck_assert_uint_eq(r[1].peer, 2);
    ck_assert_uint_eq(r[1].arg, 4096);
    ck_assert_uint_eq(r[1].date, 101);
    ck_assert_uint_ge(r[1].ns, r[0].ns);
    ck_assert_uint_eq(r[2].kind, MOME_TR_BAR_ENTER);
    ck_assert_uint_eq(r[2].page, 5);
    free(r);
}
END_TEST

/* A segment's name in MOME_TR_SEG_NAME records, 12 bytes each (doc/trace.md): up to the chunk
 * holding its NUL; a name of MOME_TRACE_NAME_MAX bytes fills 22 chunks, its end without a NUL. */
static void name_of(const mome_trace_rec_t *r, size_t n, uint64_t seg, char *out, size_t *chunks)
{
    memset(out, 0, MOME_TRACE_NAME_MAX + 1);
    *chunks = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].kind != MOME_TR_SEG_NAME || r[i].seg != seg)
            continue;
        size_t off = (size_t)r[i].flags * MOME_TRACE_NAME_CHUNK;
        char chunk[MOME_TRACE_NAME_CHUNK];
        ck_assert_uint_lt(off, MOME_TRACE_NAME_MAX);
        ck_assert_uint_eq(r[i].peer, MOME_TRACE_NONE);
        memcpy(chunk, &r[i].page, 8);
        memcpy(chunk + 8, &r[i].arg, 4);
        memcpy(out + off, chunk, off + 12 > MOME_TRACE_NAME_MAX ? MOME_TRACE_NAME_MAX - off : 12);
        (*chunks)++;
    }
}

START_TEST(test_trace__segment_names_are_recorded)
{
    char pat[128], got[MOME_TRACE_NAME_MAX + 1], longest[MOME_TRACE_NAME_MAX + 1];
    mome_trace_hdr_t h;
    mome_trace_rec_t *r;
    size_t chunks;

    make_dir();
    snprintf(pat, sizeof(pat), "%s/names.trace", dir);
    ck_assert_int_eq(mome_trace_open(pat, 0, 1, 4096, 0), 0);
    memset(longest, 'x', MOME_TRACE_NAME_MAX);
    longest[MOME_TRACE_NAME_MAX] = 0;
    mome_trace_seg_name(1, "grid");
    mome_trace_seg_name(2, "twelve bytes"); /* exactly one chunk: a second holds the NUL */
    mome_trace_seg_name(3, longest);
    MOME_TR(MOME_TR_FAULT, 1, 0, -1, 0, 0);
    mome_trace_close();

    size_t n = read_trace(pat, &h, &r);
    name_of(r, n, 1, got, &chunks);
    ck_assert_str_eq(got, "grid");
    ck_assert_uint_eq(chunks, 1);
    name_of(r, n, 2, got, &chunks);
    ck_assert_str_eq(got, "twelve bytes");
    ck_assert_uint_eq(chunks, 2);
    name_of(r, n, 3, got, &chunks);
    ck_assert_str_eq(got, longest);
    ck_assert_uint_eq(chunks, 22);
    ck_assert_uint_eq(n, 1 + 2 + 22 + 1);
    ck_assert_uint_eq(r[n - 1].kind, MOME_TR_FAULT);
    free(r);
}
END_TEST

/* A ring of 8 records, 1000 events and nobody flushing: the producer writes it out itself when
 * it is full, and every record is in the file, in order. */
START_TEST(test_trace__a_full_ring_is_written_not_lost)
{
    char path[128];
    mome_trace_hdr_t h;
    mome_trace_rec_t *r;

    make_dir();
    snprintf(path, sizeof(path), "%s/wrap.trace", dir);
    ck_assert_int_eq(mome_trace_open(path, 0, 1, 4096, 8), 0);
    for (uint64_t i = 0; i < 1000; i++)
        MOME_TR(MOME_TR_REQUEST, 1, i, (int)(i % 3), 0, 0);
    mome_trace_close();
    size_t n = read_trace(path, &h, &r);
    ck_assert_uint_eq(n, 1000);
    for (uint64_t i = 0; i < 1000; i++) {
        ck_assert_uint_eq(r[i].page, i);
        ck_assert_uint_eq(r[i].peer, i % 3);
        ck_assert_uint_eq(r[i].kind, MOME_TR_REQUEST);
    }
    free(r);
}
END_TEST

/* The progress thread is asked to write once the ring is more than half full, and not after. */
START_TEST(test_trace__due_once_half_full)
{
    char path[128];
    struct stat sb;

    make_dir();
    snprintf(path, sizeof(path), "%s/due.trace", dir);
    ck_assert_int_eq(mome_trace_due(), 0); /* no trace */
    ck_assert_int_eq(mome_trace_open(path, 0, 1, 4096, 16), 0);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(mome_trace_due(), 0);
        MOME_TR(MOME_TR_FAULT, 1, (uint64_t)i, -1, 0, 0);
    }
    ck_assert_int_eq(mome_trace_due(), 1);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 128); /* the header only: nothing written on the way */
    mome_trace_flush();
    ck_assert_int_eq(mome_trace_due(), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 128 + 8 * 40);
}
END_TEST

START_TEST(test_trace__a_file_that_cannot_be_made_records_nothing)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof(path), "%s/no/such/dir/t.trace", dir);
    ck_assert_int_eq(mome_trace_open(path, 0, 1, 4096, 0), -ENOENT);
    ck_assert_int_eq(mome_trace_on, 0);
    MOME_TR(MOME_TR_FAULT, 1, 1, -1, 0, 0);
    ck_assert_int_eq(mome_trace_due(), 0);
    ck_assert_int_eq(mome_trace_open("", 0, 1, 4096, 0), 0); /* no MOME_TRACE: nothing */
    ck_assert_int_eq(mome_trace_on, 0);
}
END_TEST

Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    UNIT_CASE_TEARDOWN(s, test_trace__file_holds_header_and_records_in_order, trace_down);
    UNIT_CASE_TEARDOWN(s, test_trace__a_full_ring_is_written_not_lost, trace_down);
    UNIT_CASE_TEARDOWN(s, test_trace__due_once_half_full, trace_down);
    UNIT_CASE_TEARDOWN(s, test_trace__a_file_that_cannot_be_made_records_nothing, trace_down);
    UNIT_CASE_TEARDOWN(s, test_trace__segment_names_are_recorded, trace_down);
    return s;
}
