/*
 * evict_random.c - random eviction: any resident page, uniformly, whatever its age or use. The
 * baseline the other policies are measured against. A dense array of the resident pages (removal
 * swaps the last one in) and a hash from (segment, page) to its slot.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "memory/evict.h"
#include "memory/store.h"

/* A fixed seed: the same job evicts the same pages from run to run, which studies need. */
#define RANDOM_SEED 0x9e3779b97f4a7c15ull

typedef struct rent {
    mome_hnode_t h; /* k1 = segment id, k2 = page */
    struct mome_store *st;
    uint64_t slot; /* its index in v */
} rent_t;

typedef struct rnd {
    mome_htab_t idx;
    rent_t **v; /* the resident pages, in no order */
    uint64_t n, cap;
    uint64_t x;   /* xorshift64* state */
    rent_t *pick; /* the victim named last, until it leaves or is skipped */
} rnd_t;

static int random_init(void **state)
{
    rnd_t *r = mome_calloc(1, sizeof(*r));
    if (!r || mome_htab_init(&r->idx, 1024) < 0) {
        free(r);
        return -ENOMEM;
    }
    r->x = RANDOM_SEED;
    *state = r;
    return 0;
}

static void drop_ent(rnd_t *r, rent_t *e)
{
    rent_t *last = r->v[--r->n];
    r->v[e->slot] = last;
    last->slot = e->slot;
    if (r->pick == e)
        r->pick = NULL;
    mome_htab_del(&r->idx, &e->h);
    free(e);
}

static void random_fini(void *state)
{
    rnd_t *r = state;
    while (r->n)
        drop_ent(r, r->v[r->n - 1]);
    free(r->v);
    mome_htab_free(&r->idx);
    free(r);
}

static void random_insert(void *state, struct mome_store *st, uint64_t page)
{
    rnd_t *r = state;
    rent_t *e;

    if (r->n == r->cap) {
        uint64_t cap = r->cap ? r->cap * 2 : 1024;
        rent_t **v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return; /* unordered: never chosen as a victim, which is safe */
        r->v = v;
        r->cap = cap;
    }
    e = mome_calloc(1, sizeof(*e));
    if (!e)
        return;
    e->h.k1 = st->id;
    e->h.k2 = page;
    e->st = st;
    e->slot = r->n;
    r->v[r->n++] = e;
    mome_htab_put(&r->idx, &e->h);
}

static void random_touch(void *state, struct mome_store *st, uint64_t page)
{
    /* Random ignores use. */
}

static void random_remove(void *state, struct mome_store *st, uint64_t page)
{
    rnd_t *r = state;
    rent_t *e = (rent_t *)mome_htab_get(&r->idx, st->id, page);
    if (e)
        drop_ent(r, e);
}

static void random_forget(void *state, struct mome_store *st)
{
    rnd_t *r = state;
    /* From the end: a removal moves the last entry, already looked at, into the slot. */
    for (uint64_t i = r->n; i-- > 0;)
        if (r->v[i]->st == st)
            drop_ent(r, r->v[i]);
}

static uint64_t next_random(rnd_t *r)
{
    r->x ^= r->x >> 12;
    r->x ^= r->x << 25;
    r->x ^= r->x >> 27;
    return r->x * 0x2545f4914f6cdd1dull;
}

/* Uniform over the resident pages (Lemire's multiply-shift: no modulo bias worth the name). The
 * pick is kept until it leaves or is skipped, so asking twice names the same page, as the other
 * policies do. */
static int random_victim(void *state, struct mome_store **st, uint64_t *page)
{
    rnd_t *r = state;
    if (!r->n)
        return -ENOENT;
    if (!r->pick)
        r->pick = r->v[(uint64_t)(((unsigned __int128)next_random(r) * r->n) >> 64)];
    *st = r->pick->st;
    *page = r->pick->h.k2;
    return 0;
}

static void random_skip(void *state, struct mome_store *st, uint64_t page)
{
    rnd_t *r = state;
    if (r->pick && r->pick->st == st && r->pick->h.k2 == page)
        r->pick = NULL;
}

const mome_evict_ops_t mome_evict_random = {
    .name = "random",
    .init = random_init,
    .fini = random_fini,
    .insert = random_insert,
    .touch = random_touch,
    .remove = random_remove,
    .forget = random_forget,
    .victim = random_victim,
    .skip = random_skip,
};
