/*
 * format.c - encoding and decoding of the repository's names, heads and indexes.
 *
 * Head (file "head"):
 *   0 magic "MOMEHEAD" | 8 version u32 | 12 file length u32 | 16 generation u64 | 24 size u64 |
 *   32 page size u32 | 36 files u32 | 40 uid u64 | 48 created u64 | 56 checkpointed u64 |
 *   64 live pages u64 | 72 data pages u64 | 80 name length u32 | 84 zero u32 | 88 name, zero
 *   padded to 8 | files: {generation u64, node u32, zero u32, entries u64, index sum u64,
 *   data pages u64} | XXH64 of all the above (seed 0).
 * Index (file "index.<gen>.<node>"):
 *   0 magic "MOMEINDX" | 8 version u32 | 12 page size u32 | 16 generation u64 | 24 node u32 |
 *   28 zero u32 | 32 entries u64 | 40 uid u64 | 48 entries: {page u64, where u64, sum u64},
 *   pages strictly increasing | XXH64 of all the above (seed 0).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "repo/format.h"
#include "repo/sum.h"

static const char head_magic[8] = {'M', 'O', 'M', 'E', 'H', 'E', 'A', 'D'};
static const char idx_magic[8] = {'M', 'O', 'M', 'E', 'I', 'N', 'D', 'X'};

#define HEAD_FIXED 88
#define HEAD_FILE 40

static int plain(unsigned char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (c == '.' && !first);
}

void mome_repo_dirname(const char *name, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    char buf[3 * MOME_REPO_NAME_MAX + 1];
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < sizeof(buf); p++) {
        if (plain(*p, p == (const unsigned char *)name)) {
            buf[n++] = (char)*p;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[*p >> 4];
            buf[n++] = hex[*p & 15];
        }
    }
    buf[n] = 0;
    /* The names the repository directory keeps for itself: their first character escaped. */
    if (!strcmp(buf, MOME_REPO_FORMAT_FILE) || !strcmp(buf, MOME_SRV_ADDR_FILE) ||
        !strcmp(buf, MOME_SRV_LOCK_FILE) || !strcmp(buf, MOME_SRV_LOG_FILE)) {
        memmove(buf + 3, buf + 1, n);
        buf[1] = hex[(unsigned char)name[0] >> 4];
        buf[2] = hex[(unsigned char)name[0] & 15];
        buf[0] = '%';
        n += 2;
    }
    if (n > MOME_REPO_DIRNAME_MAX) {
        /* Too long for a file name: a prefix (not cutting an escape) and a hash of the name. */
        size_t cut = MOME_REPO_DIRNAME_MAX - 17;
        while (cut > 0 && (buf[cut - 1] == '%' || (cut > 1 && buf[cut - 2] == '%')))
            cut--;
        uint64_t h = mome_sum64(name, strlen(name), 0x6d6f6d65);
        buf[cut++] = '~';
        for (int i = 15; i >= 0; i--)
            buf[cut++] = hex[(h >> (4 * i)) & 15];
        buf[cut] = 0;
    }
    snprintf(out, outlen, "%s", buf);
}

uint8_t *mome_repo_head_encode(const mome_repo_head_t *h, size_t *len)
{
    size_t nl = strlen(h->name), pad = (nl + 7) & ~(size_t)7;
    size_t total = HEAD_FIXED + pad + (size_t)h->nfiles * HEAD_FILE + 8;
    uint8_t *b = calloc(1, total), *p;

    if (!b)
        return NULL;
    memcpy(b, head_magic, 8);
    mome_put32(b + 8, MOME_REPO_VERSION);
    mome_put32(b + 12, (uint32_t)total);
    mome_put64(b + 16, h->gen);
    mome_put64(b + 24, h->size);
    mome_put32(b + 32, h->page_size);
    mome_put32(b + 36, h->nfiles);
    mome_put64(b + 40, h->uid);
    mome_put64(b + 48, h->created_ns);
    mome_put64(b + 56, h->ckpt_ns);
    mome_put64(b + 64, h->live);
    mome_put64(b + 72, h->data);
    mome_put32(b + 80, (uint32_t)nl);
    memcpy(b + HEAD_FIXED, h->name, nl);
    p = b + HEAD_FIXED + pad;
    for (uint32_t i = 0; i < h->nfiles; i++, p += HEAD_FILE) {
        const mome_repo_file_t *f = &h->files[i];
        mome_put64(p, f->gen);
        mome_put32(p + 8, f->node);
        mome_put64(p + 16, f->entries);
        mome_put64(p + 24, f->sum);
        mome_put64(p + 32, f->pages);
    }
    mome_put64(p, mome_sum64(b, total - 8, 0));
    *len = total;
    return b;
}

#define BAD(reason)                                                                                \
    do {                                                                                           \
        *why = (reason);                                                                           \
        goto bad;                                                                                  \
    } while (0)

int mome_repo_head_decode(const uint8_t *b, size_t len, mome_repo_head_t *h, const char **why)
{
    uint32_t nl;
    size_t pad;
    const uint8_t *p;

    memset(h, 0, sizeof(*h));
    if (len < HEAD_FIXED + 8 || memcmp(b, head_magic, 8) != 0)
        BAD("not a head file (bad magic or too short)");
    if (mome_get32(b + 8) != MOME_REPO_VERSION)
        BAD("format version unknown to this Mome");
    if (mome_get32(b + 12) != len)
        BAD("length differs from the one recorded (truncated or extended)");
    if (mome_get64(b + len - 8) != mome_sum64(b, len - 8, 0))
        BAD("checksum mismatch");
    h->gen = mome_get64(b + 16);
    h->size = mome_get64(b + 24);
    h->page_size = mome_get32(b + 32);
    h->nfiles = mome_get32(b + 36);
    h->uid = mome_get64(b + 40);
    h->created_ns = mome_get64(b + 48);
    h->ckpt_ns = mome_get64(b + 56);
    h->live = mome_get64(b + 64);
    h->data = mome_get64(b + 72);
    nl = mome_get32(b + 80);
    if (nl == 0 || nl > MOME_REPO_NAME_MAX || mome_get32(b + 84) != 0)
        BAD("bad name length");
    pad = ((size_t)nl + 7) & ~(size_t)7;
    if (h->nfiles > MOME_REPO_HEAD_MAX_FILES ||
        len != HEAD_FIXED + pad + (size_t)h->nfiles * HEAD_FILE + 8)
        BAD("file count disagrees with the length");
    /* No Mome job runs pages above 16 MiB (config.c): a larger one would size buffers of
     * gigabytes in verify and export (helper-120). */
    if (h->page_size < 512 || (h->page_size & (h->page_size - 1)) || h->page_size > (1u << 24) ||
        h->size == 0)
        BAD("bad page size or segment size");
    /* The next commit's generation must not wrap to 0, which no head may hold (helper-120). */
    if (h->gen >= 1ull << 63)
        BAD("generation out of range");
    memcpy(h->name, b + HEAD_FIXED, nl);
    h->name[nl] = 0;
    if (strlen(h->name) != nl)
        BAD("name holds a NUL byte");
    h->files = h->nfiles ? calloc(h->nfiles, sizeof(*h->files)) : NULL;
    if (h->nfiles && !h->files)
        return -ENOMEM;
    p = b + HEAD_FIXED + pad;
    for (uint32_t i = 0; i < h->nfiles; i++, p += HEAD_FILE) {
        mome_repo_file_t *f = &h->files[i];
        f->gen = mome_get64(p);
        f->node = mome_get32(p + 8);
        f->entries = mome_get64(p + 16);
        f->sum = mome_get64(p + 24);
        f->pages = mome_get64(p + 32);
        if (mome_get32(p + 12) != 0 || f->gen == 0 || f->gen > h->gen)
            BAD("bad delta file record");
        /* A page map entry holds a slot in 32 bits and flags above: more is no file we wrote. */
        if (f->pages > MOME_REPO_SLOT_MAX + 1)
            BAD("a delta file's page count is out of range");
        if (i > 0 && (f->gen < f[-1].gen || (f->gen == f[-1].gen && f->node <= f[-1].node)))
            BAD("delta files out of order");
    }
    return 0;
bad:
    mome_repo_head_free(h);
    return -EBADMSG;
}

void mome_repo_head_free(mome_repo_head_t *h)
{
    free(h->files);
    h->files = NULL;
    h->nfiles = 0;
}

void mome_repo_idx_header(uint8_t *b, uint32_t page_size, uint64_t gen, uint32_t node,
                          uint64_t count, uint64_t uid)
{
    memset(b, 0, MOME_REPO_IDX_HDR);
    memcpy(b, idx_magic, 8);
    mome_put32(b + 8, MOME_REPO_VERSION);
    mome_put32(b + 12, page_size);
    mome_put64(b + 16, gen);
    mome_put32(b + 24, node);
    mome_put64(b + 32, count);
    mome_put64(b + 40, uid);
}

void mome_repo_idx_put(uint8_t *p, const mome_repo_entry_t *e)
{
    mome_put64(p, e->page);
    mome_put64(p + 8, e->where);
    mome_put64(p + 16, e->sum);
}

void mome_repo_idx_get(const uint8_t *p, mome_repo_entry_t *e)
{
    e->page = mome_get64(p);
    e->where = mome_get64(p + 8);
    e->sum = mome_get64(p + 16);
}

int mome_repo_idx_len_ok(uint64_t len, uint64_t entries)
{
    return len >= MOME_REPO_IDX_HDR + 8 &&
           entries <= (len - MOME_REPO_IDX_HDR - 8) / MOME_REPO_IDX_ENTRY &&
           len == MOME_REPO_IDX_HDR + entries * MOME_REPO_IDX_ENTRY + 8;
}

int mome_repo_idx_check(const uint8_t *b, size_t len, const mome_repo_file_t *f, uint32_t page_size,
                        uint64_t uid, const char **why)
{
    uint64_t count, sum, zero = 0;

    if (len < MOME_REPO_IDX_HDR + 8 || memcmp(b, idx_magic, 8) != 0)
        BAD("not an index file (bad magic or too short)");
    count = mome_get64(b + 32);
    if (count != f->entries || !mome_repo_idx_len_ok(len, count))
        BAD("entry count disagrees with the head or the length");
    sum = mome_get64(b + len - 8);
    if (sum != mome_sum64(b, len - 8, 0))
        BAD("checksum mismatch");
    if (sum != f->sum)
        BAD("checksum differs from the one the head recorded");
    if (mome_get32(b + 8) != MOME_REPO_VERSION || mome_get32(b + 12) != page_size ||
        mome_get64(b + 16) != f->gen || mome_get32(b + 24) != f->node || mome_get64(b + 40) != uid)
        BAD("header disagrees with the head (version, page size, generation, node or uid)");
    for (uint64_t i = 0; i < count; i++) {
        mome_repo_entry_t e, prev;
        mome_repo_idx_get(b + MOME_REPO_IDX_HDR + i * MOME_REPO_IDX_ENTRY, &e);
        if (i > 0) {
            mome_repo_idx_get(b + MOME_REPO_IDX_HDR + (i - 1) * MOME_REPO_IDX_ENTRY, &prev);
            if (e.page <= prev.page)
                BAD("entries out of order");
        }
        if (e.where == MOME_REPO_ZERO)
            zero++;
        else if (e.where >= f->pages || e.where > MOME_REPO_SLOT_MAX)
            BAD("an entry points past the data file");
    }
    if (count - zero > f->pages)
        BAD("data page count disagrees with the head");
    return 0;
bad:
    return -EBADMSG;
}

int mome_repo_say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

uint64_t mome_repo_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
