/*
 * boot_wire.h - private: the socket protocol between the local launcher (mome-run) and a node.
 *
 * mome-run gives each node one end of a socketpair (MOME_BOOT_FD) and its place in the job
 * (MOME_BOOT_RANK, MOME_BOOT_SIZE, MOME_BOOT_LOCAL_RANK, MOME_BOOT_LOCAL_SIZE). Both ends run on
 * the same machine, so frames are in host byte order: a 16-byte header then `len` payload bytes.
 *
 *   node -> launcher                          launcher -> node
 *   JOIN      arg=rank, payload=u32 pid       GATHER_RESULT arg=seq, payload=u32 len[size] + blobs
 *   GATHER    arg=seq, payload=blob            NODE_LOST     arg=rank, payload=reason text
 *   FINALIZE  (leaving cleanly)                ABORT_JOB     arg=status, payload=reason text
 *   ABORT     arg=status, payload=text         REPORT        arg=seconds without progress
 *
 * GATHER is an all-gather of variable-size blobs: when every node has sent sequence number `seq`,
 * each receives all blobs in rank order. A node that exits before FINALIZE is lost: the launcher
 * sends NODE_LOST to the others, which stop with a message naming it. REPORT asks a node to print
 * one line saying what it waits for (mome-run --stuck-after), and go on.
 *
 * mome-run also shares a status table with its nodes (MOME_BOOT_STATUS_FD: a memfd of one
 * mome_boot_status_t per node, mapped shared): each node writes its own slot, with relaxed
 * atomics, and reads the others' (who is in which barrier; in MomeInit, who has joined and who
 * is in which exchange); the launcher only reads them, to see whether the job still makes
 * progress. The program's place on the command line comes as
 * MOME_BOOT_APP (its index), MOME_BOOT_APP_RANK and MOME_BOOT_APP_SIZE.
 */
#ifndef MOME_BOOT_WIRE_H
#define MOME_BOOT_WIRE_H

#include <stdint.h>

#define MOME_BOOT_MAGIC 0x4d424f54u /* "MBOT" */
#define MOME_BOOT_MAX_PAYLOAD (64u << 20)

enum {
    MOME_BOOT_JOIN = 1,
    MOME_BOOT_GATHER = 2,
    MOME_BOOT_FINALIZE = 3,
    MOME_BOOT_ABORT = 4,
    MOME_BOOT_GATHER_RESULT = 16,
    MOME_BOOT_NODE_LOST = 17,
    MOME_BOOT_ABORT_JOB = 18,
    MOME_BOOT_REPORT = 19,
};

/* One node's slot in the status table: 64 bytes, written only by that node. */
typedef struct mome_boot_status {
    uint64_t progress;    /* bumped each time a Mome call of an application thread returns, and
                           * each time an exchange (GATHER) ends */
    uint32_t waiting;     /* application threads now blocked in a Mome call or an exchange */
    uint32_t pid;         /* the node's, from its MomeInit's JOIN on; 0: not in MomeInit yet */
    uint64_t barrier;     /* 1 + the epoch of the MomeBarrier it is in, 0: none */
    uint64_t app_barrier; /* 1 + the epoch of the MomeAppBarrier it is in, 0: none */
    uint32_t gather;      /* 1 + the sequence number of the last GATHER it sent, 0: none */
    uint32_t pad;
    uint64_t reserved[3];
} mome_boot_status_t;
_Static_assert(sizeof(mome_boot_status_t) == 64, "a slot of the status table is 64 bytes");

typedef struct mome_boot_frame {
    uint32_t magic;
    uint32_t type;
    uint32_t len; /* payload bytes that follow */
    uint32_t arg;
} mome_boot_frame_t;

#endif
