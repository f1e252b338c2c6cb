/*
 * store_repo.h - private: the page store backend of MOME_PERSIST segments: a page this job never
 * held is read from the repository (repo/), lazily, on its first fault, checksum verified.
 * Progress thread (load); the handle it reads through is shared and has its own lock.
 */
#ifndef MOME_MEMORY_STORE_REPO_H
#define MOME_MEMORY_STORE_REPO_H

#include "memory/store.h"

struct mome_repo_seg;

extern const mome_store_ops_t mome_store_repo;

/* Give a store opened with mome_store_repo its repository segment (the store takes over the
 * reference and drops it when it closes). */
void mome_store_repo_attach(mome_store_t *st, struct mome_repo_seg *rs);
/* The repository segment of a persistent store, or NULL. */
struct mome_repo_seg *mome_store_repo_of(const mome_store_t *st);

/* Is the segment kept in the repository (its changed pages are written by checkpoints)? */
static inline int mome_store_persistent(const mome_store_t *st)
{
    return st->ops == &mome_store_repo;
}

#endif
