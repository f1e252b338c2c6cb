/*
 * msg.h - private: the message table, sending and delivery.
 *
 * Each message type is registered once, by the layer that handles it, with its name, its body
 * struct (fields and their kinds), its payload rule, a validator for what the fields cannot say
 * alone, and its handler, as UCX registers active-message handlers. Delivery decodes and validates
 * a message completely before its handler runs. One that is not a message of this job (bytes of
 * another program, another job's key) is refused with a rate-limited warning; one of this job that
 * fails stops the job, naming the sender and the bad field (that peer is broken). Messages to self
 * go through a local queue, so a handler never runs inside a send. Progress thread only, except
 * mome_msg_register (at init, before the thread).
 */
#ifndef MOME_NET_MSG_H
#define MOME_NET_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "net/wire.h"

/* Type ids: each layer owns a range (coherence 1..63, core 64..127). */
#define MOME_MSGID_COHERENCE 1
#define MOME_MSGID_CORE 64

typedef void (*mome_msg_handler_t)(const mome_msg_t *m, const void *body);
/* Checks beyond the fields' kinds (flags against payload, a batch's contents...). Returns NULL if
 * the message is acceptable, else the name of the rule it breaks. */
typedef const char *(*mome_msg_validate_t)(const mome_msg_t *m, const void *body,
                                           const mome_wire_ctx_t *ctx);

/* Which messages of a type cross the emulated interconnect (MOME_EMU_*): held for the link's
 * latency and their size over its bandwidth before their handler runs. */
enum {
    MOME_MSG_EMU_NONE = 0,    /* protocol chatter: never held */
    MOME_MSG_EMU_PAYLOAD = 1, /* a page transfer: held when it carries a payload */
    MOME_MSG_EMU_ALWAYS = 2,  /* held even without one (a page-out of a zero page, as a flag) */
};

typedef struct mome_msg_def {
    uint8_t type;
    mome_wire_type_t wire; /* name, fields, flags mask, payload rule */
    uint16_t body_size;    /* sizeof the body struct */
    uint8_t emulated;      /* MOME_MSG_EMU_*: does the emulated interconnect hold it */
    uint8_t service;       /* runs even while the table holds messages (mome_msg_hold) */
    uint8_t batched;       /* may run while handlers hold work back (mome_msg_set_flush) */
    mome_msg_validate_t validate;
    mome_msg_handler_t handler;
} mome_msg_def_t;

/* Register types (each id once). -EEXIST on a second registration of an id. */
int mome_msg_register(const mome_msg_def_t *defs, size_t n);
/* Forget every registration (node teardown, tests). */
void mome_msg_unregister_all(void);
/* The registered definition of a type, or NULL. */
const mome_msg_def_t *mome_msg_def(int type);
const char *mome_msg_name(int type); /* "invalid" when not registered */

/* The longest payload of any message (a batch, or a page when pages are larger). */
static inline size_t mome_msg_max_payload(size_t page_size)
{
    return mome_batch_max(page_size);
}

/* The job this node belongs to: node count, page size, key, own rank. */
void mome_msg_setup(int self, const mome_wire_ctx_t *ctx);

/*
 * Send a message of `type` with `flags` and body (the type's struct) to node `to` (self included:
 * queued locally). The payload is copied before this returns. A failure to send stops the node
 * through the failure callback (a lost peer): it never returns an error to the protocol.
 */
void mome_send(int to, int type, int flags, const void *body, const void *payload, uint32_t len);
/* Send a received message on to `to`, one hop more (directory forwarding). Returns -ELOOP when it
 * has travelled too far. */
int mome_msg_forward(int to, const mome_msg_t *m);

/* mome_send's destination for momed, the repository server (net/server.h sets the hook). */
#define MOME_TO_SERVER (-2)
typedef int (*mome_msg_srv_tx_t)(const void *hdr, size_t hl, const void *data, size_t len);
void mome_msg_set_server(mome_msg_srv_tx_t tx, const char *where);

/* Transport hooks, set by the node engine: the send function and what to do when a send fails. */
typedef int (*mome_msg_tx_t)(int node, const void *hdr, size_t hl, const void *data, size_t len);
typedef void (*mome_msg_fail_t)(int node, int err);
void mome_msg_set_transport(mome_msg_tx_t tx, mome_msg_fail_t fail);

/* Tests (MOME_TEST_INJECT "corrupt:N", "truncate:N", "range:N", "foreign:N"): after N messages
 * to other nodes, also send one bad copy of the next. -EINVAL for another spec. */
int mome_msg_inject(const char *spec);

/*
 * A handler may hold work back to do it together with the next messages' (one system call for a
 * run of pages): fn does what is held. It runs before any message of a type not marked batched,
 * and at the end of every mome_msg_progress, mome_msg_emu_run and mome_msg_deliver_flat, so held
 * work never waits past the current round of the engine, and no other message sees it undone.
 */
void mome_msg_set_flush(void (*fn)(void));

/* Tests: see every message sent (after encoding) instead of the transport and the local queue. */
typedef void (*mome_msg_hook_t)(int to, const mome_msg_t *m);
void mome_msg_set_send_hook(mome_msg_hook_t hook);

/* Where a delivered message comes from: the local queue, another node (the transport), or momed
 * (whose messages name as their source the node they go to). */
enum { MOME_MSG_LOCAL = 0, MOME_MSG_NODE = 1, MOME_MSG_SERVER = 2 };

/*
 * A message from `from` (MOME_MSG_*): decode, validate, count, then run its handler (or hold it
 * for the emulated interconnect first). Bytes that are not a Mome message of this version, or
 * carry another job's key, are refused with a warning; a message of this job that fails
 * validation, one from another node that names this node as its source, or one of a type its
 * channel does not carry (momed's protocol, net/srvproto.h, from momed only, and nothing else from
 * it; a type this node only sends, from anywhere), stops the job with a message naming its sender
 * and the bad field.
 */
void mome_msg_deliver(const void *hdr, size_t hl, const void *data, size_t len, int from);
/* The node of this job a header names as its sender (-1: none), before its payload is here: for a
 * transport that must name the node a message failed to arrive from. */
int mome_msg_sender(const void *hdr, size_t hl);
/* Decode and run a message given as one buffer (header then payload); returns the decode status
 * instead of stopping the job on an invalid message. For tests and fuzzing: no emulation, no
 * statistics. */
int mome_msg_deliver_flat(const void *buf, size_t len);

/*
 * A handler that must wait for an answer before it can go on (a page's bytes kept on another
 * node) holds the table: until mome_msg_unhold, only service messages run (those answers, and the
 * requests of other nodes waiting the same way); every other message waits, in order, and runs
 * at the next mome_msg_progress after the hold ends (between handlers, never inside the one that
 * waited). mome_msg_poll runs one non-blocking round of the engine (the transport, the launcher's
 * word) for such a wait, mome_msg_wait one that first sleeps until something arrives or
 * timeout_ms passes (a wait that spins and yields would lose the core for whole time slices on a
 * loaded machine); the engine provides both. Holds nest.
 */
void mome_msg_hold(void);
void mome_msg_unhold(void);
typedef int (*mome_msg_poll_t)(int timeout_ms);
void mome_msg_set_poll(mome_msg_poll_t poll);
int mome_msg_poll(void);
int mome_msg_wait(int timeout_ms);

/* Run queued local messages; returns how many ran. */
int mome_msg_progress(void);
/*
 * Emulated interconnect (MOME_EMU_*): messages of the types marked `emulated` that arrive from
 * other nodes are held, on one link into this node, until it has carried them (size / bandwidth
 * each, one after the other) plus the latency (mome_msg_emu_due). To deliver them on time the
 * progress thread polls while one is due within MOME_MSG_EMU_POLL_NS (mome_msg_emu_wait_ns,
 * mome_msg_emu_poll), and sleeps otherwise: the timer fd (-1 when the emulation is off) becomes
 * readable that long before the first is due. With a jitter (MOME_EMU_JITTER_NS), every message
 * from another node is held too, a random time from 0 to the jitter more, never ahead of an
 * earlier one from the same sender: a sender's messages keep their order, others' overtake them.
 */
#define MOME_MSG_EMU_POLL_NS 100000
#define MOME_MSG_EMU_SPIN_NS 5000 /* due within this: no syscall before it is delivered */
int mome_msg_emulate(uint64_t latency_ns, uint64_t bandwidth, uint64_t jitter_ns);
int mome_msg_timer_fd(void);
/* The timer fd is readable: run the held messages now due; returns how many ran. */
int mome_msg_timer_event(void);
/* Nanoseconds until the first held message is due (0: now), or -1 when none is held. */
int64_t mome_msg_emu_wait_ns(void);
/* Run the held messages now due; returns how many ran (one test when none is held). */
int mome_msg_emu_poll(void);
/* The same at time `now` (tests). */
int mome_msg_emu_run(uint64_t now);
/* The link model: when a transfer of `bytes` arriving at `now` may be delivered. Advances the
 * link (call once per transfer). */
uint64_t mome_msg_emu_due(uint64_t now, size_t bytes);
/* What the emulated link adds to one transfer of `bytes` when it carries nothing else (the
 * latency plus bytes / bandwidth; 0 without emulation), for waits to allow for. */
uint64_t mome_msg_emu_cost(size_t bytes);
/* The node is leaving: from now on nothing is sent or delivered (the transport drains). */
void mome_msg_close(void);
void mome_msg_fini(void);

#endif
