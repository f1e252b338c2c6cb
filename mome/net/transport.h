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

/* Called on the progress thread for each message; buffers are valid during the call only. */
typedef void (*mome_tp_recv_cb_t)(const void *hdr, size_t hdrlen, const void *data, size_t len,
                                  void *arg);

/* Create the worker; *addr (valid until fini) is what peers need to reach this node. Messages
 * with more than max_len bytes of data are refused before anything is allocated for them. */
int mome_tp_init(mome_tp_recv_cb_t cb, void *arg, size_t max_len, const void **addr,
                 size_t *addrlen);

/* Connect to every node but self; addrs[i]/lens[i] are the peers' addresses. On failure, says
 * which node and why in err. */
int mome_tp_connect(int nnodes, int self, const void *const *addrs, const size_t *lens, char *err,
                    size_t errlen);

/* UCX's reason for the last failed send (-EIO). */
const char *mome_tp_send_error(void);

/* Send; the caller may reuse both buffers as soon as this returns. */
int mome_tp_send(int node, const void *hdr, size_t hdrlen, const void *data, size_t len);

/* Progress communication; returns how many events were handled (0 = idle). */
int mome_tp_progress(void);

/* The fd that becomes readable when there is work; arm before sleeping on it. */
int mome_tp_efd(void);

/* 0: armed, safe to sleep on the fd; -EAGAIN: events are pending, progress again. */
int mome_tp_arm(void);

/* Wait until every message sent so far has left this node. */
int mome_tp_flush(void);

void mome_tp_fini(void);

/* Print the transports and devices UCX offers on this machine. */
int mome_tp_describe(int fd);

#endif
