/*
 * diff.c - XOR diffs between a page and its twin: encode as runs, or whole; apply by XOR.
 */
#include <errno.h>
#include <string.h>

#include "coherence/diff.h"

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

static void write_xor(const uint8_t *page, const uint8_t *twin, size_t len, uint8_t *out)
{
    for (size_t i = 0; i < len; i++)
        out[i] = page[i] ^ twin[i];
}

/* page XOR twin over the 8 bytes at i (fewer at the end of an odd-sized page). */
static uint64_t xor_word(const uint8_t *page, const uint8_t *twin, size_t i, size_t len)
{
    uint64_t x = 0, y = 0;
    if (len - i >= 8) {
        memcpy(&x, page + i, 8);
        memcpy(&y, twin + i, 8);
    } else {
        memcpy(&x, page + i, len - i);
        memcpy(&y, twin + i, len - i);
    }
    return x ^ y;
}

/* Offsets in its word of the first and of one past the last non-zero byte of x (x != 0). */
static size_t first_byte(uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(x) / 8;
#else
    return (size_t)__builtin_clzll(x) / 8;
#endif
}

static size_t end_byte(uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return 8 - (size_t)__builtin_clzll(x) / 8;
#else
    return 8 - (size_t)__builtin_ctzll(x) / 8;
#endif
}

/*
 * A word at a time: a run starts at the first changed byte of a changed word and ends after the
 * last changed byte before the next unchanged aligned word, so runs are at least a run header
 * apart (a shorter gap costs fewer bytes inside the run than a header would).
 */
size_t mome_diff_encode(const uint8_t *page, const uint8_t *twin, size_t len, uint8_t *out,
                        int *full)
{
    size_t i = 0, o = 0;

    *full = 0;
    for (;;) {
        uint64_t x = 0;
        while (i < len && (x = xor_word(page, twin, i, len)) == 0)
            i += 8;
        if (i >= len)
            return o;
        size_t start = i + first_byte(x), j = i + 8;
        uint64_t last = x;
        /* (Stops early once the run, whatever its end, makes the runs as large as the page.) */
        while (j < len && o + MOME_DIFF_RUN_HDR + j < len + 7 + start &&
               (x = xor_word(page, twin, j, len)) != 0) {
            last = x;
            j += 8;
        }
        size_t run = j - 8 + end_byte(last) - start;
        if (o + MOME_DIFF_RUN_HDR + run >= len) {
            write_xor(page, twin, len, out);
            *full = 1;
            return len;
        }
        put32(out + o, (uint32_t)start);
        put32(out + o + 4, (uint32_t)run);
        write_xor(page + start, twin + start, run, out + o + MOME_DIFF_RUN_HDR);
        o += MOME_DIFF_RUN_HDR + run;
        i = j;
    }
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
