/*
 * evict.h - private: eviction policies, which choose the page to leave Mome memory next.
 *
 * A policy only orders pages: the store tells it when a page enters, is used or leaves, and asks
 * for a victim; what happens to the victim (written back, sent to another node, dropped) is the
 * coherence layer's business. One file per policy, chosen by name (MOME_EVICT). Progress thread
 * only.
 */
#ifndef MOME_MEMORY_EVICT_H
#define MOME_MEMORY_EVICT_H

#include <stdint.h>

struct mome_store;

typedef struct mome_evict_ops {
    const char *name;
    int (*init)(void **state);
    void (*fini)(void *state);
    void (*insert)(void *state, struct mome_store *st, uint64_t page); /* entered memory */
    void (*touch)(void *state, struct mome_store *st, uint64_t page);  /* was used */
    void (*remove)(void *state, struct mome_store *st, uint64_t page); /* left memory */
    void (*forget)(void *state, struct mome_store *st);                /* the store closes */
    /* A resident page to evict: 0, or -ENOENT. Asking again before that page leaves (remove)
     * names it again, unless skip was called for it. */
    int (*victim)(void *state, struct mome_store **st, uint64_t *page);
    /* The victim named last cannot leave now (a transaction holds it): name another next time,
     * and this one later, as the policy sees fit. */
    void (*skip)(void *state, struct mome_store *st, uint64_t page);
} mome_evict_ops_t;

extern const mome_evict_ops_t mome_evict_fifo;   /* the page resident longest */
extern const mome_evict_ops_t mome_evict_clock;  /* second chance: used pages go round again */
extern const mome_evict_ops_t mome_evict_random; /* any resident page, uniformly */

/* The policy called name, or NULL. */
const mome_evict_ops_t *mome_evict_find(const char *name);

#endif
