/*
 * diff.c - XOR diffs between a page and its twin: encode as runs, or whole; apply by XOR.
 */
#include <errno.h>
#include <string.h>

#include "diff.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t mome_diff_count(const uint8_t *page, const uint8_t *twin, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += page[i] != twin[i];
    return n;
}

/* Next differing byte at or after i (len if none), a word at a time. */
static size_t next_diff(const uint8_t *a, const uint8_t *b, size_t i, size_t len)
{
    while (i < len && (i & 7))
        if (a[i] != b[i])
            return i;
        else
            i++;
    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
    }
    while (i < len && a[i] == b[i])
        i++;
    return i;
}

static void write_full(const uint8_t *page, const uint8_t *twin, size_t len, uint8_t *out)
{
    for (size_t i = 0; i < len; i++)
        out[i] = page[i] ^ twin[i];
}

size_t mome_diff_encode(const uint8_t *page, const uint8_t *twin, size_t len, uint8_t *out,
                        int *full)
{
    size_t i = next_diff(page, twin, 0, len), o = 0;

    *full = 0;
    while (i < len) {
        /* Extend the run over gaps too short to pay for a new run header. */
        size_t end = i + 1;
        for (;;) {
            size_t nd = next_diff(page, twin, end, len);
            if (nd >= len || nd - end >= MOME_DIFF_RUN_HDR) {
                break;
            }
            end = nd + 1;
        }
        size_t run = end - i;
        if (o + MOME_DIFF_RUN_HDR + run >= len) {
            write_full(page, twin, len, out);
            *full = 1;
            return len;
        }
        put32(out + o, (uint32_t)i);
        put32(out + o + 4, (uint32_t)run);
        for (size_t k = 0; k < run; k++)
            out[o + MOME_DIFF_RUN_HDR + k] = page[i + k] ^ twin[i + k];
        o += MOME_DIFF_RUN_HDR + run;
        i = next_diff(page, twin, end, len);
    }
    return o;
}

/* Check the runs of a diff; 0 when every run lies inside the page, in order. */
static int check_runs(size_t len, const uint8_t *diff, size_t dlen)
{
    size_t o = 0, prev_end = 0;
    while (o < dlen) {
        if (dlen - o < MOME_DIFF_RUN_HDR)
            return -EINVAL;
        uint32_t off = get32(diff + o), run = get32(diff + o + 4);
        if (run == 0 || off < prev_end || off > len || run > len - off ||
            run > dlen - o - MOME_DIFF_RUN_HDR)
            return -EINVAL;
        prev_end = (size_t)off + run;
        o += MOME_DIFF_RUN_HDR + run;
    }
    return 0;
}

int mome_diff_apply_sparse(uint8_t *page, size_t len, const uint8_t *diff, size_t dlen, int full)
{
    volatile uint8_t *p = page;

    if (full) {
        if (dlen != len)
            return -EINVAL;
        for (size_t i = 0; i < len; i++)
            if (diff[i])
                p[i] ^= diff[i];
        return 0;
    }
    if (check_runs(len, diff, dlen) < 0)
        return -EINVAL;
    for (size_t o = 0; o < dlen;) {
        uint32_t off = get32(diff + o), run = get32(diff + o + 4);
        for (uint32_t k = 0; k < run; k++)
            if (diff[o + MOME_DIFF_RUN_HDR + k])
                p[off + k] ^= diff[o + MOME_DIFF_RUN_HDR + k];
        o += MOME_DIFF_RUN_HDR + run;
    }
    return 0;
}

int mome_diff_apply(uint8_t *page, size_t len, const uint8_t *diff, size_t dlen, int full)
{
    size_t o = 0;

    if (full) {
        if (dlen != len)
            return -EINVAL;
        for (size_t i = 0; i < len; i++)
            page[i] ^= diff[i];
        return 0;
    }
    /* Validate everything before touching the page: a malformed diff changes nothing. */
    if (check_runs(len, diff, dlen) < 0)
        return -EINVAL;
    for (o = 0; o < dlen;) {
        uint32_t off = get32(diff + o), run = get32(diff + o + 4);
        for (uint32_t k = 0; k < run; k++)
            page[off + k] ^= diff[o + MOME_DIFF_RUN_HDR + k];
        o += MOME_DIFF_RUN_HDR + run;
    }
    return 0;
}
