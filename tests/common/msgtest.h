/*
 * msgtest.h - driving one node's message handlers in a test: messages in (encoded as a peer
 * would, then decoded and validated by the message table), messages out (recorded by the send
 * hook instead of a transport).
 */
#ifndef MOME_MSGTEST_H
#define MOME_MSGTEST_H

#include <stddef.h>
#include <stdint.h>

#include "net/msg.h"

#define MSGTEST_MAX 256

typedef struct msgtest_sent {
    int to;
    mome_msg_t m;         /* decoded, body in host order */
    uint8_t *payload;     /* a copy (m.payload points here) */
} msgtest_sent_t;

/* This process plays node `self` of nnodes; recording starts empty. */
void msgtest_setup(int nnodes, int self, size_t page_size);
void msgtest_teardown(void);
void msgtest_reset(void); /* forget what was recorded */
int msgtest_count(void);
const msgtest_sent_t *msgtest_at(int i);
/* The only recorded message of this type to `to` (-1: any destination), or NULL if none; more
 * than one is a test failure (abort). */
const mome_msg_t *msgtest_find(int type, int to);
/* How many recorded messages have this type (and destination, or -1). */
int msgtest_count_of(int type, int to);

/* A message from node src: encoded, then delivered; returns the decoder's status. */
int msgtest_deliver(int type, int flags, int src, const void *body, const void *payload,
                    uint32_t len);
/* The same for a message that `hops` managers forwarded, the last of them src. */
int msgtest_deliver_forwarded(int type, int flags, int src, unsigned hops, const void *body,
                              const void *payload, uint32_t len);
/* Messages are dated as an honest peer would date them: after this node's clock and every date
 * they report. This gives the next one delivered the header date `date` instead. */
void msgtest_date_next(uint64_t date);
/* That date, for a message of `type` with this body and payload. */
uint64_t msgtest_peer_date(int type, const void *body, const void *payload, uint32_t len);
/* The same as the transport delivers within a round of the engine: what a handler holds back
 * (mome_msg_set_flush) waits for a message of another kind or for mome_msg_progress. */
void msgtest_deliver_in_round(int type, int flags, int src, const void *body, const void *payload,
                              uint32_t len);
/* Deliver the recorded messages addressed to this node (self), in order, and forget them; returns
 * how many. Messages they cause are recorded as usual. */
int msgtest_loop_self(void);

#endif
