/*
 * evict_fifo.c - FIFO eviction (DiME's first policy): the page resident longest goes first,
 * whatever its use. A list in order of entry, and a hash from (segment, page) to its place in it.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "memory/evict.h"
#include "memory/store.h"

typedef struct fent {
    mome_hnode_t h; /* k1 = segment id, k2 = page */
    struct mome_store *st;
    struct fent *prev, *next;
} fent_t;

typedef struct fifo {
    mome_htab_t idx;
    fent_t *head, *tail; /* head: oldest */
} fifo_t;

static int fifo_init(void **state)
{
    fifo_t *f = mome_calloc(1, sizeof(*f));
    if (!f || mome_htab_init(&f->idx, 1024) < 0) {
        free(f);
        return -ENOMEM;
    }
    *state = f;
    return 0;
}

static void unlink_ent(fifo_t *f, fent_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        f->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        f->tail = e->prev;
    mome_htab_del(&f->idx, &e->h);
    free(e);
}

static void fifo_fini(void *state)
{
    fifo_t *f = state;
    while (f->head)
        unlink_ent(f, f->head);
    mome_htab_free(&f->idx);
    free(f);
}

static void append(fifo_t *f, fent_t *e)
{
    e->next = NULL;
    e->prev = f->tail;
    if (f->tail)
        f->tail->next = e;
    else
        f->head = e;
    f->tail = e;
}

static void fifo_insert(void *state, struct mome_store *st, uint64_t page)
{
    fifo_t *f = state;
    fent_t *e = mome_calloc(1, sizeof(*e));
    if (!e)
        return; /* unordered: never chosen as a victim, which is safe */
    e->h.k1 = st->id;
    e->h.k2 = page;
    e->st = st;
    append(f, e);
    mome_htab_put(&f->idx, &e->h);
}

static void fifo_touch(void *state, struct mome_store *st, uint64_t page)
{
    /* FIFO ignores use. */
}

static void fifo_remove(void *state, struct mome_store *st, uint64_t page)
{
    fifo_t *f = state;
    fent_t *e = (fent_t *)mome_htab_get(&f->idx, st->id, page);
    if (e)
        unlink_ent(f, e);
}

static void fifo_forget(void *state, struct mome_store *st)
{
    fifo_t *f = state;
    for (fent_t *e = f->head, *n; e; e = n) {
        n = e->next;
        if (e->st == st)
            unlink_ent(f, e);
    }
}

static int fifo_victim(void *state, struct mome_store **st, uint64_t *page)
{
    fifo_t *f = state;
    if (!f->head)
        return -ENOENT;
    *st = f->head->st;
    *page = f->head->h.k2;
    return 0;
}

/* A victim that cannot leave now goes to the back of the line, as if it had just entered. */
static void fifo_skip(void *state, struct mome_store *st, uint64_t page)
{
    fifo_t *f = state;
    fent_t *e = (fent_t *)mome_htab_get(&f->idx, st->id, page);
    if (!e || e == f->tail)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        f->head = e->next;
    e->next->prev = e->prev;
    append(f, e);
}

const mome_evict_ops_t mome_evict_fifo = {
    .name = "fifo",
    .init = fifo_init,
    .fini = fifo_fini,
    .insert = fifo_insert,
    .touch = fifo_touch,
    .remove = fifo_remove,
    .forget = fifo_forget,
    .victim = fifo_victim,
    .skip = fifo_skip,
};
