/*
 * hash.h - private: an intrusive chained hash table keyed by two 64-bit words.
 *
 * Embed mome_hnode_t as the first member of a record; the table never allocates records. Not
 * thread-safe: each table has one owner (the progress thread unless its user says otherwise).
 */
#ifndef MOME_HASH_H
#define MOME_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct mome_hnode {
    struct mome_hnode *next;
    uint64_t k1, k2;
} mome_hnode_t;

typedef struct mome_htab {
    mome_hnode_t **b;
    size_t nb; /* power of two */
    size_t n;
} mome_htab_t;

static inline uint64_t mome_hash2(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull + (a << 6) + (a >> 2));
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return x;
}

static inline uint64_t mome_hash_str(const char *s, size_t len)
{
    uint64_t x = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        x ^= (unsigned char)s[i];
        x *= 1099511628211ull;
    }
    return x;
}

static inline int mome_htab_init(mome_htab_t *t, size_t nb)
{
    size_t n = 16;
    while (n < nb)
        n <<= 1;
    t->b = (mome_hnode_t **)calloc(n, sizeof(*t->b));
    t->nb = t->b ? n : 0;
    t->n = 0;
    return t->b ? 0 : -1;
}

static inline void mome_htab_free(mome_htab_t *t)
{
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

static inline mome_hnode_t *mome_htab_get(const mome_htab_t *t, uint64_t k1, uint64_t k2)
{
    if (!t->nb)
        return NULL;
    for (mome_hnode_t *h = t->b[mome_hash2(k1, k2) & (t->nb - 1)]; h; h = h->next)
        if (h->k1 == k1 && h->k2 == k2)
            return h;
    return NULL;
}

static inline void mome_htab_grow(mome_htab_t *t)
{
    size_t nb = t->nb * 2;
    mome_hnode_t **b = (mome_hnode_t **)calloc(nb, sizeof(*b));
    if (!b)
        return; /* keep the old table: longer chains, still correct */
    for (size_t i = 0; i < t->nb; i++) {
        mome_hnode_t *h = t->b[i];
        while (h) {
            mome_hnode_t *next = h->next;
            size_t j = mome_hash2(h->k1, h->k2) & (nb - 1);
            h->next = b[j];
            b[j] = h;
            h = next;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

/* Insert h (keys already set); duplicates are the caller's business. */
static inline void mome_htab_put(mome_htab_t *t, mome_hnode_t *h)
{
    if (t->n >= t->nb)
        mome_htab_grow(t);
    size_t i = mome_hash2(h->k1, h->k2) & (t->nb - 1);
    h->next = t->b[i];
    t->b[i] = h;
    t->n++;
}

static inline void mome_htab_del(mome_htab_t *t, mome_hnode_t *h)
{
    mome_hnode_t **pp = &t->b[mome_hash2(h->k1, h->k2) & (t->nb - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            t->n--;
            return;
        }
    }
}

/* Iterate safely (the callback may delete the node it is given). */
#define mome_htab_foreach(_t, _h, _tmp)                                                            \
    for (size_t _i = 0; _i < (_t)->nb; _i++)                                                       \
        for ((_h) = (_t)->b[_i]; (_h) && (((_tmp) = (_h)->next), 1); (_h) = (_tmp))

#endif
