/*
 * evict_clock.c - CLOCK (second chance) eviction: resident pages on a ring swept by a hand; a page
 * used since it entered or since the hand last passed it (its reference bit, set by a fault on it:
 * mome_store_touch) is spared once, its bit cleared, and the first page found unused goes.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "memory/evict.h"
#include "memory/store.h"

/*
 * The only access information is the store's touch, called on a fault of a resident page: this
 * costs nothing on the fault path beyond a hash lookup and a bit, and needs no sampling of page
 * tables (userfaultfd shows no accessed bits). A page enters with its bit clear: the fault that
 * brought it in is its first use, and a page read ahead but never used goes before one used
 * again.
 */
typedef struct cent {
    mome_hnode_t h; /* k1 = segment id, k2 = page */
    struct mome_store *st;
    struct cent *prev, *next; /* the ring */
    uint8_t ref;              /* used since the hand last passed */
} cent_t;

typedef struct clk {
    mome_htab_t idx;
    cent_t *hand; /* the next page the sweep looks at; NULL when the ring is empty */
} clk_t;

static int clock_init(void **state)
{
    clk_t *c = mome_calloc(1, sizeof(*c));
    if (!c || mome_htab_init(&c->idx, 1024) < 0) {
        free(c);
        return -ENOMEM;
    }
    *state = c;
    return 0;
}

static void unlink_ent(clk_t *c, cent_t *e)
{
    if (e->next == e) {
        c->hand = NULL;
    } else {
        if (c->hand == e)
            c->hand = e->next;
        e->prev->next = e->next;
        e->next->prev = e->prev;
    }
    mome_htab_del(&c->idx, &e->h);
    free(e);
}

static void clock_fini(void *state)
{
    clk_t *c = state;
    while (c->hand)
        unlink_ent(c, c->hand);
    mome_htab_free(&c->idx);
    free(c);
}

/* Put e just behind the hand: the last place a full sweep reaches. */
static void behind_hand(clk_t *c, cent_t *e)
{
    if (!c->hand) {
        e->prev = e->next = e;
        c->hand = e;
        return;
    }
    e->next = c->hand;
    e->prev = c->hand->prev;
    e->prev->next = e;
    c->hand->prev = e;
}

static void clock_insert(void *state, struct mome_store *st, uint64_t page)
{
    clk_t *c = state;
    cent_t *e = mome_calloc(1, sizeof(*e));
    if (!e)
        return; /* unordered: never chosen as a victim, which is safe */
    e->h.k1 = st->id;
    e->h.k2 = page;
    e->st = st;
    behind_hand(c, e);
    mome_htab_put(&c->idx, &e->h);
}

static void clock_touch(void *state, struct mome_store *st, uint64_t page)
{
    clk_t *c = state;
    cent_t *e = (cent_t *)mome_htab_get(&c->idx, st->id, page);
    if (e)
        e->ref = 1;
}

static void clock_remove(void *state, struct mome_store *st, uint64_t page)
{
    clk_t *c = state;
    cent_t *e = (cent_t *)mome_htab_get(&c->idx, st->id, page);
    if (e)
        unlink_ent(c, e);
}

static void clock_forget(void *state, struct mome_store *st)
{
    clk_t *c = state;
    cent_t *e = c->hand;

    /* One turn of the ring, removing as it goes: stop at the first entry kept, met again. */
    for (cent_t *stop = NULL; e && e != stop;) {
        cent_t *n = e->next;
        if (e->st == st) {
            unlink_ent(c, e);
            e = c->hand ? n : NULL;
        } else {
            if (!stop)
                stop = e;
            e = n;
        }
    }
}

/* Sweep: spare (and clear) referenced pages, stop at the first unreferenced one. Ends within one
 * turn, since every page passed has its bit cleared. The hand stays on the victim: asked again
 * before it leaves, the policy names it again. */
static int clock_victim(void *state, struct mome_store **st, uint64_t *page)
{
    clk_t *c = state;
    if (!c->hand)
        return -ENOENT;
    while (c->hand->ref) {
        c->hand->ref = 0;
        c->hand = c->hand->next;
    }
    *st = c->hand->st;
    *page = c->hand->h.k2;
    return 0;
}

/* A victim that cannot leave now: the hand moves past it (its bit stays clear, so it is the
 * first candidate of the next turn unless used meanwhile). */
static void clock_skip(void *state, struct mome_store *st, uint64_t page)
{
    clk_t *c = state;
    cent_t *e = (cent_t *)mome_htab_get(&c->idx, st->id, page);
    if (e && e == c->hand)
        c->hand = e->next;
}

const mome_evict_ops_t mome_evict_clock = {
    .name = "clock",
    .init = clock_init,
    .fini = clock_fini,
    .insert = clock_insert,
    .touch = clock_touch,
    .remove = clock_remove,
    .forget = clock_forget,
    .victim = clock_victim,
    .skip = clock_skip,
};
