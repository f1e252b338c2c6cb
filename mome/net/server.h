/*
 * server.h - private: this node's connection to momed, the repository server (doc/design.md
 * section 18): one TCP connection per node, carrying messages of the wire format (srvproto.h) in
 * both directions. Sending goes through mome_send(MOME_TO_SERVER, ...); what arrives is delivered
 * through the message table (mome_msg_deliver) with the job's key and this node as its source, so
 * it is validated as any message. Progress thread (and the application thread before it starts).
 */
#ifndef MOME_NET_SERVER_H
#define MOME_NET_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "net/msg.h"
#include "net/srvproto.h"

/*
 * Find and connect to momed: `server` (MOME_SERVER, host:port) if set, else the address file in
 * the repository directory `repo`. Returns 1 (connected), 0 (no server: the repository is used
 * directly; an address file left by a momed that is gone is reported once, as a warning), or
 * -errno with a message (MOME_SERVER set but unreachable, a server that does not answer).
 * `where` receives the server's address for messages. `server` "start": the address file's
 * momed, started first by the node with `starter` set if none answers (listening for other
 * machines if the job `spans` several); never 0.
 */
int mome_srv_connect(const char *repo, const char *server, uint64_t key, int starter, int spans,
                     char *err, size_t errlen);
/* Say hello (the job's size and page size, this node): after mome_msg_setup. 0 or -errno. */
int mome_srv_hello(int rank, int nnodes, size_t page_size, char *err, size_t errlen);
/* Register the messages this file handles (the replies) and sends. */
int mome_srv_register(void);
int mome_srv_fd(void); /* -1: no server */
const char *mome_srv_where(void);
/* Which momed serves this node: its key (what every node of the job must agree on), 0 if none. */
uint64_t mome_srv_id(void);
/* The end of MomeFinalize, told to momed (SRV_BYE) while messages still go out: without it, momed
 * takes the connection's end for a lost node (a killed job holding no page looked like a clean
 * end, and momed kept what it gave back since its last checkpoint: helper-83). */
void mome_srv_bye(void);
void mome_srv_close(void);

/* Send one encoded message (msg.c): 0 or -errno. */
int mome_srv_tx(const void *hdr, size_t hl, const void *data, size_t len);
/*
 * Give a page back to momed in a batch (SRV_PUTV): the batch goes when it is full (at most
 * MOME_BATCH_MAX bytes, wire.h), at mome_srv_flush, and before any other message to momed, so
 * the connection keeps the order of everything sent. The content is copied at once.
 */
void mome_srv_put(uint64_t seg, uint64_t page, const void *content, uint32_t len);
void mome_srv_flush(void);
/* Read what arrived and deliver it; momed gone stops the job naming it. Returns messages run. */
int mome_srv_poll(void);

/*
 * A request that waits for its reply (type reply, same token): sends, then reads until it comes
 * (at most timeout_ms, said once in a warning after 10 s), holding every other message for later
 * (mome_msg_hold). The reply's body goes to out and its text payload (NUL-terminated) to why. 0
 * or -errno (ETIMEDOUT).
 */
/* How long a node waits for momed: as long as a checkpoint of a few GB may keep it busy (it
 * writes them in its one loop; with 10 s, jobs attaching or ending meanwhile died: helper-96). */
#define MOME_SRV_WAIT_MS 300000
int mome_srv_call(int type, const void *body, const void *payload, uint32_t len, int reply,
                  uint64_t token, mome_srvopen_t *out, char *why, size_t whylen, int timeout_ms);

#endif
