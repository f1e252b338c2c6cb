/*
 * srvproto.h - private: the messages between a node and momed, the repository server (dynamic
 * coupling, doc/design.md section 18): their ids, body structs, fields and flags. Same wire format
 * and validation as the node protocol (wire.h); the server speaks it over one TCP connection per
 * node. Pure data, any thread: the library registers these types with handlers (msg.h), momed
 * decodes them with mome_wire_decode alone.
 */
#ifndef MOME_NET_SRVPROTO_H
#define MOME_NET_SRVPROTO_H

#include <stdint.h>

#include "base/config.h"
#include "net/wire.h"

/* Type ids: inside the coherence range, above its last message (coherence/proto.h). */
enum {
    MOME_SRV_HELLO = 48, /* node -> momed: mome_srvhello_t; first message, names the job */
    MOME_SRV_HELLO_OK,   /* momed -> node: mome_srvhello_t (server pid) */
    MOME_SRV_OPEN,       /* node -> momed: mome_srvopen_t + the name */
    MOME_SRV_OPEN_REPLY, /* momed -> node: mome_srvopen_t; status < 0: + why (text) */
    MOME_SRV_GET,        /* node -> momed: mome_srvpage_t: give me this page (exclusive) */
    MOME_SRV_PAGE,       /* momed -> node: mome_srvpage_t + one page */
    MOME_SRV_RECALL,     /* momed -> node: mome_srvpage_t: give this page back */
    MOME_SRV_PUT,        /* node -> momed: mome_srvpage_t + one page: the page comes back */
    MOME_SRV_CKPT,       /* node -> momed: mome_srvopen_t (id, token): checkpoint the segment */
    MOME_SRV_CKPT_REPLY, /* momed -> node: mome_srvopen_t (id, gen in size, token, status) + why */
    MOME_SRV_PUTV,       /* node -> momed: mome_srvbatch_t + a batch of push entries (wire.h):
                          * pages coming back, many per message (a checkpoint, the end of a job) */
    MOME_SRV_BYE,        /* node -> momed: no body: the node's MomeFinalize is over; a connection
                          * that ends without it is a lost node's, whatever it held */
    MOME_SRV_END
};

/* A served segment's id in a job: momed's number with this bit (every job uses the same id). */
#define MOME_SEG_SERVED (1ull << 62)
#define MOME_SRV_ID_MAX 0xffffffffull /* momed's numbers: 1 .. this */
static inline int mome_seg_is_served(uint64_t id)
{
    return (id & (3ull << 62)) == MOME_SEG_SERVED;
}

/* SRV_OPEN flags (as MomeSegOpen's: MOME_CREATE, MOME_EXCL). */
enum { MOME_SRVO_CREATE = 0x1, MOME_SRVO_EXCL = 0x2 };

/* momed's files in the repository directory: base/config.h. */

#define MOME_SRV_WHY_MAX 600
#define MOME_SRV_NAME_MAX 255

typedef struct mome_srvhello {
    uint64_t server; /* HELLO: momed's key (its address file's); HELLO_OK: its pid, 0: refused */
    uint32_t node;   /* HELLO: this node (== the header's source) */
    uint32_t nnodes; /* HELLO: the job's size */
    uint32_t page_size;
    uint32_t pid;
} mome_srvhello_t;

typedef struct mome_srvopen {
    uint64_t id;    /* OPEN_REPLY, CKPT: the segment (with MOME_SEG_SERVED) */
    uint64_t size;  /* OPEN: size to create with, or 0; OPEN_REPLY: its size; CKPT_REPLY: gen */
    uint64_t token; /* matches a reply to its request */
    uint32_t flags; /* OPEN: MOME_SRVO_* */
    int32_t status; /* replies: 0 or -errno */
} mome_srvopen_t;

typedef struct mome_srvpage {
    uint64_t seg, page;
} mome_srvpage_t;

/* SRV_PUTV: n entries {seg, page, len == page size, flags 0, version 0, the page}, each page one
 * the node holds, none twice; at most mome_batch_max(page size) payload bytes (as it fills, the
 * node sends a batch and starts the next). momed checks every entry before it takes any. */
typedef struct mome_srvbatch {
    uint64_t n;
} mome_srvbatch_t;

/* The wire descriptions, indexed by type id (NULL: not a server message). */
extern const mome_wire_type_t *const mome_srv_types[MOME_WIRE_NTYPES];

#endif
