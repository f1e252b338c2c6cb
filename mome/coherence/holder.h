/*
 * holder.h - private: the holding side of the protocol: a node with a copy serves it when the
 * directory forwards a request (FWD_READ, FWD_WRITE, FWD_SNAP, FWD_SYNC), drops it (INV), releases
 * it at once (FLUSH), records that it went stale (STALE) and takes pushed versions (PUSH).
 * Progress thread only.
 */
#ifndef MOME_COHERENCE_HOLDER_H
#define MOME_COHERENCE_HOLDER_H

/* Registers FWD_READ, FWD_WRITE, FWD_SNAP, FWD_SYNC, INV, FLUSH, STALE, PUSH. */
int mome_holder_init(void);

#endif
