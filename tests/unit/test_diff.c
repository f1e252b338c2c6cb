/*
 * test_diff.c - XOR diffs: empty, full, scattered, last byte, merging of concurrent writers, and
 * malformed input refused without touching the page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/diff.h"
#include "unit.h"

#define PS 4096

static uint8_t twin[PS], page[PS], out[PS], target[PS];

static void fill(uint8_t *p, uint64_t seed)
{
    for (size_t i = 0; i < PS; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(seed >> 56);
    }
}

/* Encode page vs twin, apply to a copy of the twin: it must become the page. */
static size_t roundtrip(int *full)
{
    size_t n = mome_diff_encode(page, twin, PS, out, full);
    memcpy(target, twin, PS);
    ck_assert_int_eq(mome_diff_apply(target, PS, out, n, *full), 0);
    ck_assert_mem_eq(target, page, PS);
    return n;
}

START_TEST(test_diff__empty)
{
    int full;
    fill(twin, 1);
    memcpy(page, twin, PS);
    ck_assert_uint_eq(mome_diff_encode(page, twin, PS, out, &full), 0);
    ck_assert_int_eq(full, 0);
    ck_assert_uint_eq(mome_diff_count(page, twin, PS), 0);
    memcpy(target, twin, PS);
    ck_assert_int_eq(mome_diff_apply(target, PS, out, 0, 0), 0);
    ck_assert_mem_eq(target, twin, PS);
}
END_TEST

START_TEST(test_diff__full)
{
    int full;
    fill(twin, 2);
    fill(page, 3);
    for (size_t i = 0; i < PS; i++)
        if (page[i] == twin[i])
            page[i] ^= 1; /* every byte differs */
    ck_assert_uint_eq(roundtrip(&full), PS);
    ck_assert_int_eq(full, 1);
}
END_TEST

START_TEST(test_diff__scattered)
{
    int full;
    fill(twin, 4);
    memcpy(page, twin, PS);
    for (size_t i = 5; i < PS; i += 401)
        page[i] ^= 0x5a;
    size_t n = roundtrip(&full);
    ck_assert_int_eq(full, 0);
    /* 11 one-byte runs: far smaller than the page. */
    ck_assert_uint_eq(n, 11 * (MOME_DIFF_RUN_HDR + 1));
    ck_assert_uint_eq(mome_diff_count(page, twin, PS), 11);
}
END_TEST

START_TEST(test_diff__first_and_last_byte)
{
    int full;
    fill(twin, 5);
    memcpy(page, twin, PS);
    page[PS - 1] ^= 0xff;
    ck_assert_uint_eq(roundtrip(&full), MOME_DIFF_RUN_HDR + 1);
    page[0] ^= 0x01;
    ck_assert_uint_eq(roundtrip(&full), 2 * (MOME_DIFF_RUN_HDR + 1));
}
END_TEST

START_TEST(test_diff__close_changes_share_a_run)
{
    int full;
    fill(twin, 6);
    memcpy(page, twin, PS);
    page[100] ^= 1;
    page[103] ^= 1; /* 2 unchanged bytes between: cheaper inside one run than two headers */
    ck_assert_uint_eq(roundtrip(&full), MOME_DIFF_RUN_HDR + 4);
    page[200] ^= 1; /* far: a run of its own */
    ck_assert_uint_eq(roundtrip(&full), 2 * MOME_DIFF_RUN_HDR + 5);
}
END_TEST

START_TEST(test_diff__runs_split_at_a_zero_word)
{
    int full;
    fill(twin, 10);
    memcpy(page, twin, PS);
    page[3] ^= 1;
    page[12] ^= 1; /* 8 unchanged bytes between, but no unchanged aligned word: one run 3..12 */
    ck_assert_uint_eq(roundtrip(&full), MOME_DIFF_RUN_HDR + 10);
    ck_assert_uint_eq(out[0], 3);
    ck_assert_uint_eq(out[4], 10);
    page[3] ^= 1;
    page[12] ^= 1;
    page[7] ^= 1;
    page[16] ^= 1; /* word 8..15 unchanged: two one-byte runs, trimmed to their changed bytes */
    ck_assert_uint_eq(roundtrip(&full), 2 * (MOME_DIFF_RUN_HDR + 1));
    ck_assert_uint_eq(out[0], 7);
    ck_assert_uint_eq(out[4], 1);
    ck_assert_uint_eq(out[MOME_DIFF_RUN_HDR + 1], 16);
    ck_assert_uint_eq(out[MOME_DIFF_RUN_HDR + 1 + 4], 1);
}
END_TEST

START_TEST(test_diff__odd_length_tail)
{
    int full;
    size_t len = PS - 3; /* the last word is partial */
    fill(twin, 11);
    memcpy(page, twin, PS);
    page[len - 1] ^= 0x40;
    page[len] ^= 0x40; /* beyond len: must not be encoded */
    size_t n = mome_diff_encode(page, twin, len, out, &full);
    ck_assert_uint_eq(n, MOME_DIFF_RUN_HDR + 1);
    memcpy(target, twin, PS);
    ck_assert_int_eq(mome_diff_apply(target, len, out, n, full), 0);
    ck_assert_uint_eq(target[len - 1], page[len - 1]);
    ck_assert_uint_eq(target[len], twin[len]);
}
END_TEST

START_TEST(test_diff__dense_changes_switch_to_whole_page)
{
    int full;
    fill(twin, 7);
    memcpy(page, twin, PS);
    for (size_t i = 0; i < PS; i += 4) /* one byte in four: false sharing between 4 writers */
        page[i] ^= 0x80;
    ck_assert_uint_eq(roundtrip(&full), PS);
    ck_assert_int_eq(full, 1);
}
END_TEST

START_TEST(test_diff__concurrent_writers_merge)
{
    /* Four writers each change bytes i % 4 == k of the same original; XOR-merging all four diffs
     * into the original gives every writer's bytes. */
    static uint8_t orig[PS], w[4][PS], d[4][PS];
    size_t n[4];
    int full[4];
    fill(orig, 8);
    for (int k = 0; k < 4; k++) {
        memcpy(w[k], orig, PS);
        for (size_t i = (size_t)k; i < PS; i += 4)
            w[k][i] = (uint8_t)(i * 7 + (size_t)k);
        n[k] = mome_diff_encode(w[k], orig, PS, d[k], &full[k]);
    }
    memcpy(target, orig, PS);
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(mome_diff_apply(target, PS, d[k], n[k], full[k]), 0);
    for (size_t i = 0; i < PS; i++)
        ck_assert_uint_eq(target[i], (uint8_t)(i * 7 + i % 4));
}
END_TEST

START_TEST(test_diff__malformed_is_refused_untouched)
{
    uint8_t bad[64];
    fill(target, 9);
    memcpy(twin, target, PS);
    /* a run past the end of the page */
    memset(bad, 0, sizeof(bad));
    bad[0] = 0xf0, bad[1] = 0x0f; /* offset 4080 */
    bad[4] = 32;                  /* length 32 */
    ck_assert_int_eq(mome_diff_apply(target, PS, bad, 8 + 32, 0), -EINVAL);
    /* a truncated header, a truncated run, a zero-length run, runs out of order */
    ck_assert_int_eq(mome_diff_apply(target, PS, bad, 5, 0), -EINVAL);
    memset(bad, 0, sizeof(bad));
    bad[4] = 40;
    ck_assert_int_eq(mome_diff_apply(target, PS, bad, 8 + 10, 0), -EINVAL);
    bad[4] = 0;
    ck_assert_int_eq(mome_diff_apply(target, PS, bad, 8, 0), -EINVAL);
    memset(bad, 0, sizeof(bad));
    bad[0] = 10, bad[4] = 1, bad[9] = 0xff; /* run at 10 */
    bad[10] = 5, bad[14] = 1;               /* then at 5: out of order */
    ck_assert_int_eq(mome_diff_apply(target, PS, bad, 18, 0), -EINVAL);
    /* a whole-page diff of the wrong size */
    ck_assert_int_eq(mome_diff_apply(target, PS, bad, 10, 1), -EINVAL);
    ck_assert_mem_eq(target, twin, PS);
}
END_TEST

START_TEST(test_diff__random)
{
    int full;
    uint64_t s = 42;
    for (int r = 0; r < 2000; r++) {
        fill(twin, (uint64_t)r);
        memcpy(page, twin, PS);
        s = s * 6364136223846793005ull + 1;
        int changes = (int)(s >> 52) % 300;
        for (int c = 0; c < changes; c++) {
            s = s * 6364136223846793005ull + 1;
            page[(s >> 20) % PS] ^= (uint8_t)((s >> 40) | 1);
        }
        size_t n = roundtrip(&full);
        ck_assert_uint_le(n, PS);
        /* Runs begin and end with a changed byte. */
        for (size_t o = 0; !full && o < n;) {
            uint32_t off = out[o] | (uint32_t)out[o + 1] << 8, run = out[o + 4] | (uint32_t)out[o + 5] << 8;
            ck_assert_uint_ne(out[o + MOME_DIFF_RUN_HDR], 0);
            ck_assert_uint_ne(out[o + MOME_DIFF_RUN_HDR + run - 1], 0);
            ck_assert_uint_lt(off, PS);
            o += MOME_DIFF_RUN_HDR + run;
        }
    }
}
END_TEST

Suite *diff_suite(void)
{
    Suite *s = suite_create("diff");
    UNIT_CASE(s, test_diff__empty);
    UNIT_CASE(s, test_diff__full);
    UNIT_CASE(s, test_diff__scattered);
    UNIT_CASE(s, test_diff__first_and_last_byte);
    UNIT_CASE(s, test_diff__close_changes_share_a_run);
    UNIT_CASE(s, test_diff__runs_split_at_a_zero_word);
    UNIT_CASE(s, test_diff__odd_length_tail);
    UNIT_CASE(s, test_diff__dense_changes_switch_to_whole_page);
    UNIT_CASE(s, test_diff__concurrent_writers_merge);
    UNIT_CASE(s, test_diff__malformed_is_refused_untouched);
    UNIT_CASE(s, test_diff__random);
    return s;
}
