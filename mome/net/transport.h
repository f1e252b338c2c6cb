/*
 * transport.h - private: moving bytes between nodes. Knows nothing of pages or protocols.
 *
 * One UCX worker per node, owned by the progress thread: every call here except
 * mome_tp_describe() runs on that thread (or on the application thread before it starts / after
 * it stops). A message is an opaque header plus optional data, delivered whole to the receive
 * callback. Delivery order between two nodes is not guaranteed.
 */
#ifndef MOME_TRANSPORT_H
#define MOME_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Called on the progress thread for each message; buffers are valid during the call only. */
typedef void (*mome_tp_recv_cb_t)(const void *hdr, size_t hdrlen, const void *data, size_t len,
                                  void *arg);

/* UCX's word that the connection to a node failed (it died, or the network between us did):
 * called on the thread that progresses the transport. */
typedef void (*mome_tp_fail_cb_t)(int node, const char *reason);

/* Called now and then while a send waits for earlier ones to leave (flow control), on the thread
 * that sends: to look at what else may end the wait (the launcher's word that a node was lost).
 * It may not return. */
typedef void (*mome_tp_wait_cb_t)(void);

/* The node a message's header names as its sender, or -1: the header is opaque to the transport,
 * which names that node when the rest of the message could not be received. */
typedef int (*mome_tp_sender_cb_t)(const void *hdr, size_t hdrlen);

/* Where and how the transport may talk, chosen before UCX starts. UCX's own variables (UCX_TLS,
 * UCX_NET_DEVICES, UCX_KEEPALIVE_INTERVAL, UCX_TCP_KEEP*) always win over these. */
typedef struct mome_tp_opts {
    /* IP interfaces to listen and connect on (comma-separated, e.g. "lo" for a job on one
     * machine); NULL: every interface. Devices without an IP interface (RDMA) stay usable. */
    const char *ip_devices;
    /* Some peers are on other machines: detect a dead peer or network within seconds
     * (keepalive), see mome_tp_connect. */
    int remote_peers;
    /* A node on another machine not heard from for this long is lost (0: never). */
    uint64_t peer_timeout_ms;
    mome_tp_fail_cb_t fail;
    mome_tp_wait_cb_t waiting;
    mome_tp_sender_cb_t sender;
    /* The longest a send waits for the other nodes to take earlier ones (0: 10 s). */
    uint64_t send_wait_ms;
} mome_tp_opts_t;

/* Create the worker; *addr (valid until fini) is what peers need to reach this node. Messages
 * with more than max_len bytes of data are refused before anything is allocated for them.
 * Shared-memory transports whose segments other users of the group could open (UCX's sysv,
 * created 0660) are left out. */
int mome_tp_init(mome_tp_recv_cb_t cb, void *arg, size_t max_len, const mome_tp_opts_t *opts,
                 const void **addr, size_t *addrlen);

/* Connect to every node but self; addrs[i]/lens[i] are the peers' addresses. A peer with
 * remote[i] set (on another machine; remote may be NULL) is watched for failure: its loss is
 * reported to opts->fail. On failure, says which node and why in err. */
int mome_tp_connect(int nnodes, int self, const void *const *addrs, const size_t *lens,
                    const uint8_t *remote, char *err, size_t errlen);

/* The UCX settings in force, for the log and mome-info ("TLS=... NET_DEVICES=..."). */
const char *mome_tp_settings(void);

/* UCX's reason for the last failed send (-EIO). */
const char *mome_tp_send_error(void);

/* Send; the caller may reuse both buffers as soon as this returns. */
int mome_tp_send(int node, const void *hdr, size_t hdrlen, const void *data, size_t len);

/* Progress communication; returns how many events were handled (0 = idle). */
int mome_tp_progress(void);
/* Progress the sends in flight without delivering anything (what arrives waits for the next
 * mome_tp_progress): for a wait that must not hold up the other nodes. Returns the sends still in
 * flight. */
int mome_tp_push(void);

/* The fd that becomes readable when there is work; arm before sleeping on it. */
int mome_tp_efd(void);

/* 0: armed, safe to sleep on the fd; -EAGAIN: events are pending, or received messages wait to be
 * delivered: progress again. */
int mome_tp_arm(void);

/* The heartbeat timer towards nodes on other machines (-1: none): when it is readable, call
 * mome_tp_timer_event, which sends heartbeats and reports a node silent for too long. */
int mome_tp_timer_fd(void);
void mome_tp_timer_event(void);
/* The heartbeats alone, if due (the timer fd readable), from a wait outside the progress loop. */
void mome_tp_beat(void);

/* How many times sends waited for earlier ones to drain and gave up (the peer took nothing for
 * the whole wait): diagnostics and tests. */
unsigned mome_tp_send_waits(void);

/* Wait until every message sent so far has left this node. */
int mome_tp_flush(void);

void mome_tp_fini(void);

/* Print the transports and devices UCX offers on this machine. */
int mome_tp_describe(int fd);
/* Log, at info level, which UCX transports the endpoint to each peer uses (after the first
 * exchange with every peer: wireup is over). */
void mome_tp_log_peers(void);

#endif
