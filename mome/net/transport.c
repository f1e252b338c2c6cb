/*
 * transport.c - UCX ucp active messages: the only file that includes ucp.h.
 *
 * Control messages and 4 KiB page data both go as eager active messages (the cheapest UCX path for
 * a page on tcp and shared memory); larger payloads may arrive by rendezvous and are fetched into a
 * bounce buffer. Sends complete immediately when UCX can; otherwise the data is copied so callers
 * never wait.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ucp/api/ucp.h>
#include <uct/api/uct.h>

#include "base/alloc.h"
#include "base/log.h"
#include "net/transport.h"

#define AM_ID 7
#define TP_MAX_HDR 256

/* UCX < 1.14 keeps the header pointer until completion; our headers live that long anyway. */
#ifndef UCP_AM_SEND_FLAG_COPY_HEADER
#define UCP_AM_SEND_FLAG_COPY_HEADER 0
#endif

static ucp_context_h tp_ctx;
static ucp_worker_h tp_worker;
static ucp_address_t *tp_addr;
static size_t tp_addrlen;
static ucp_ep_h *tp_eps;
static int tp_nnodes;
static int tp_efd = -1;
static mome_tp_recv_cb_t tp_cb;
static void *tp_cb_arg;
static int tp_inflight; /* sends not yet complete */
static size_t tp_max_len; /* the longest payload a node of this job sends */
static const char *send_error = "unknown error"; /* UCX status of the last failed send */

/* A send UCX could not complete at once: owns copies of header and data. */
typedef struct pending_send {
    size_t hdrlen;
    char buf[]; /* header then data */
} pending_send_t;

/*
 * A received message, delivered after ucp_worker_progress returns: a handler may then wait for an
 * answer and progress the worker itself, which UCX does not allow from inside its callbacks.
 * Eager data is kept in UCX's buffer when UCX lets us (released after delivery), else copied.
 */
typedef struct recv_msg {
    struct recv_msg *next;
    size_t hdrlen, len;
    void *data;     /* the payload */
    void *ucx_data; /* UCX's buffer to release after delivery, or NULL */
    void *owned;    /* our copy to free after delivery, or NULL */
    char hdr[TP_MAX_HDR];
} recv_msg_t;

static recv_msg_t *rq_head, *rq_tail, *rq_free;

static void send_done_cb(void *request, ucs_status_t status, void *user_data)
{
    if (status != UCS_OK && status != UCS_ERR_CANCELED)
        mome_warn("transport", "send failed: %s", ucs_status_string(status));
    free(user_data);
    tp_inflight--;
    ucp_request_free(request);
}

static recv_msg_t *rq_new(const void *header, size_t header_length)
{
    recv_msg_t *r = rq_free;
    if (r)
        rq_free = r->next;
    else if (!(r = mome_malloc(sizeof(*r))))
        mome_fatal("out of memory receiving a message; stopping");
    r->next = NULL;
    r->hdrlen = header_length;
    r->ucx_data = r->owned = NULL;
    memcpy(r->hdr, header, header_length);
    return r;
}

static void rq_append(recv_msg_t *r)
{
    if (rq_tail)
        rq_tail->next = r;
    else
        rq_head = r;
    rq_tail = r;
}

/* Deliver what progress received, in order. */
static int rq_drain(void)
{
    int n = 0;
    recv_msg_t *r;
    while ((r = rq_head)) {
        rq_head = r->next;
        if (!rq_head)
            rq_tail = NULL;
        tp_cb(r->hdr, r->hdrlen, r->data, r->len, tp_cb_arg);
        if (r->ucx_data)
            ucp_am_data_release(tp_worker, r->ucx_data);
        free(r->owned);
        r->next = rq_free;
        rq_free = r;
        n++;
    }
    return n;
}

static void rndv_done_cb(void *request, ucs_status_t status, size_t length, void *user_data)
{
    recv_msg_t *r = user_data;
    if (status != UCS_OK)
        mome_fatal("receiving the %zu bytes of a message failed: %s; stopping", r->len,
                   ucs_status_string(status));
    rq_append(r);
    ucp_request_free(request);
}

static ucs_status_t am_cb(void *arg, const void *header, size_t header_length, void *data,
                          size_t length, const ucp_am_recv_param_t *param)
{
    /* Lengths first: nothing is allocated for a message no node of this job could send. */
    if (header_length > TP_MAX_HDR || length > tp_max_len) {
        static mome_ratelimit_t rl;
        mome_log_rl(&rl, MOME_LOG_WARN, "transport",
                    "refused a message of %zu + %zu bytes (this job's are at most %d + %zu)",
                    header_length, length, TP_MAX_HDR, tp_max_len);
        return UCS_OK;
    }
    recv_msg_t *r = rq_new(header, header_length);
    r->len = length;
    if (!(param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
        if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) {
            /* Keep UCX's buffer until the message is delivered. */
            r->data = r->ucx_data = data;
            rq_append(r);
            return UCS_INPROGRESS;
        }
        r->data = r->owned = mome_malloc(length ? length : 1);
        if (!r->owned)
            mome_fatal("out of memory receiving a message of %zu bytes; stopping", length);
        memcpy(r->data, data, length);
        rq_append(r);
        return UCS_OK;
    }
    r->data = r->owned = mome_malloc(length ? length : 1);
    if (!r->owned)
        mome_fatal("out of memory receiving a message of %zu bytes; stopping", length);
    ucp_request_param_t rp = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
        .cb.recv_am = rndv_done_cb,
        .user_data = r,
    };
    ucs_status_ptr_t st = ucp_am_recv_data_nbx(tp_worker, data, r->data, length, &rp);
    if (UCS_PTR_IS_ERR(st))
        mome_fatal("cannot fetch the %zu bytes of a message: %s; stopping", length,
                   ucs_status_string(UCS_PTR_STATUS(st)));
    if (st == NULL)
        rq_append(r);
    return UCS_OK;
}

int mome_tp_init(mome_tp_recv_cb_t cb, void *arg, size_t max_len, const void **addr,
                 size_t *addrlen)
{
    ucp_config_t *cfg;
    ucs_status_t st;

    tp_max_len = max_len;
    tp_cb = cb;
    tp_cb_arg = arg;
    st = ucp_config_read(NULL, NULL, &cfg);
    if (st != UCS_OK)
        goto err_status;
    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED,
        .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP,
        .mt_workers_shared = 0,
    };
    st = ucp_init(&params, cfg, &tp_ctx);
    ucp_config_release(cfg);
    if (st != UCS_OK)
        goto err_status;

    ucp_worker_params_t wp = {
        .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE | UCP_WORKER_PARAM_FIELD_FLAGS,
        .thread_mode = UCS_THREAD_MODE_SINGLE,
        .flags = UCP_WORKER_FLAG_IGNORE_REQUEST_LEAK,
    };
    st = ucp_worker_create(tp_ctx, &wp, &tp_worker);
    if (st != UCS_OK)
        goto err_cleanup_ctx;
    st = ucp_worker_get_efd(tp_worker, &tp_efd);
    if (st != UCS_OK)
        goto err_destroy_worker;
    st = ucp_worker_get_address(tp_worker, &tp_addr, &tp_addrlen);
    if (st != UCS_OK)
        goto err_destroy_worker;

    ucp_am_handler_param_t hp = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                      UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
        .id = AM_ID,
        .cb = am_cb,
        .flags = UCP_AM_FLAG_WHOLE_MSG,
    };
    st = ucp_worker_set_am_recv_handler(tp_worker, &hp);
    if (st != UCS_OK)
        goto err_release_addr;
    *addr = tp_addr;
    *addrlen = tp_addrlen;
    return 0;

err_release_addr:
    ucp_worker_release_address(tp_worker, tp_addr);
err_destroy_worker:
    ucp_worker_destroy(tp_worker);
    tp_worker = NULL;
err_cleanup_ctx:
    ucp_cleanup(tp_ctx);
    tp_ctx = NULL;
err_status:
    mome_error("transport", "UCX initialisation failed: %s (check UCX_TLS, ucx_info -d)",
               ucs_status_string(st));
    return -EIO;
}

int mome_tp_connect(int nnodes, int self, const void *const *addrs, const size_t *lens, char *err,
                    size_t errlen)
{
    tp_nnodes = nnodes;
    tp_eps = mome_calloc((size_t)nnodes, sizeof(*tp_eps));
    if (!tp_eps)
        return -ENOMEM;
    for (int i = 0; i < nnodes; i++) {
        if (i == self)
            continue;
        ucp_ep_params_t ep = {
            .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS,
            .address = (const ucp_address_t *)addrs[i],
        };
        ucs_status_t st = ucp_ep_create(tp_worker, &ep, &tp_eps[i]);
        if (st != UCS_OK) {
            snprintf(err, errlen, "cannot connect to node %d over UCX: %s (check UCX_TLS)", i,
                     ucs_status_string(st));
            return -EIO;
        }
        (void)lens;
    }
    return 0;
}

const char *mome_tp_send_error(void)
{
    return send_error;
}

int mome_tp_send(int node, const void *hdr, size_t hdrlen, const void *data, size_t len)
{
    ucp_request_param_t rp = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FLAG_FORCE_IMM_CMPL,
        .flags = UCP_AM_SEND_FLAG_COPY_HEADER,
    };
    ucs_status_ptr_t st;

    if (node < 0 || node >= tp_nnodes || !tp_eps[node])
        return -EINVAL;
    st = ucp_am_send_nbx(tp_eps[node], AM_ID, hdr, hdrlen, data, len, &rp);
    if (st == NULL)
        return 0;
    if (UCS_PTR_IS_ERR(st) && UCS_PTR_STATUS(st) != UCS_ERR_NO_RESOURCE) {
        send_error = ucs_status_string(UCS_PTR_STATUS(st));
        return -EIO;
    }
    if (!UCS_PTR_IS_ERR(st)) {
        /* Cannot happen with FORCE_IMM_CMPL, but never leak a request. */
        while (ucp_request_check_status(st) == UCS_INPROGRESS)
            ucp_worker_progress(tp_worker);
        ucp_request_free(st);
        return 0;
    }

    /* Not now: send copies that live until completion. */
    pending_send_t *ps = mome_malloc(sizeof(*ps) + hdrlen + len);
    if (!ps)
        return -ENOMEM;
    ps->hdrlen = hdrlen;
    memcpy(ps->buf, hdr, hdrlen);
    if (len)
        memcpy(ps->buf + hdrlen, data, len);
    ucp_request_param_t rp2 = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_CALLBACK |
                        UCP_OP_ATTR_FIELD_USER_DATA,
        .flags = UCP_AM_SEND_FLAG_COPY_HEADER,
        .cb.send = send_done_cb,
        .user_data = ps,
    };
    st = ucp_am_send_nbx(tp_eps[node], AM_ID, ps->buf, hdrlen, len ? ps->buf + hdrlen : NULL,
                         len, &rp2);
    if (st == NULL) {
        free(ps);
        return 0;
    }
    if (UCS_PTR_IS_ERR(st)) {
        free(ps);
        send_error = ucs_status_string(UCS_PTR_STATUS(st));
        return -EIO;
    }
    tp_inflight++;
    return 0;
}

int mome_tp_progress(void)
{
    int n = 0, k;
    if (!tp_worker)
        return 0;
    while ((k = (int)ucp_worker_progress(tp_worker)) > 0)
        n += k;
    return n + rq_drain();
}

int mome_tp_efd(void)
{
    return tp_efd;
}

int mome_tp_arm(void)
{
    ucs_status_t st = ucp_worker_arm(tp_worker);
    if (st == UCS_OK)
        return 0;
    if (st == UCS_ERR_BUSY)
        return -EAGAIN;
    mome_fatal("cannot arm the UCX worker: %s: this node would miss messages; stopping",
               ucs_status_string(st));
}

/* Bound on every wait at shutdown: a peer that stopped answering must not hang this node. */
#define SHUTDOWN_WAIT_NS (10ull * 1000000000ull)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Progress until done(req) or the shutdown bound; returns 0 or -ETIMEDOUT (said once). */
static int progress_until(ucs_status_ptr_t req, const char *what)
{
    uint64_t until = now_ns() + SHUTDOWN_WAIT_NS;
    while ((req ? ucp_request_check_status(req) == UCS_INPROGRESS : tp_inflight > 0)) {
        ucp_worker_progress(tp_worker);
        if (now_ns() > until) {
            mome_warn("transport", "%s still unfinished after %llu s; going on without it", what,
                      SHUTDOWN_WAIT_NS / 1000000000ull);
            return -ETIMEDOUT;
        }
    }
    return 0;
}

int mome_tp_flush(void)
{
    int rc = 0;
    if (!tp_worker)
        return 0;
    ucp_request_param_t rp = {.op_attr_mask = 0};
    ucs_status_ptr_t st = ucp_worker_flush_nbx(tp_worker, &rp);
    if (UCS_PTR_IS_ERR(st))
        return -EIO;
    if (st) {
        rc = progress_until(st, "flushing the sends to the other nodes");
        if (rc == 0)
            ucp_request_free(st);
    }
    if (rc == 0)
        rc = progress_until(NULL, "completing the sends to the other nodes");
    return rc;
}

void mome_tp_fini(void)
{
    if (!tp_worker)
        return;
    for (int i = 0; tp_eps && i < tp_nnodes; i++) {
        if (!tp_eps[i])
            continue;
        ucp_request_param_t rp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                                  .flags = UCP_EP_CLOSE_FLAG_FORCE};
        ucs_status_ptr_t st = ucp_ep_close_nbx(tp_eps[i], &rp);
        if (st && !UCS_PTR_IS_ERR(st) && progress_until(st, "closing a connection") == 0)
            ucp_request_free(st);
    }
    rq_drain(); /* what is left goes to a closed message table, which drops it */
    while (rq_free) {
        recv_msg_t *r = rq_free;
        rq_free = r->next;
        free(r);
    }
    free(tp_eps);
    tp_eps = NULL;
    ucp_worker_release_address(tp_worker, tp_addr);
    ucp_worker_destroy(tp_worker);
    tp_worker = NULL;
    ucp_cleanup(tp_ctx);
    tp_ctx = NULL;
    tp_efd = -1;
}

static void fdprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fdprintf(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0 && write(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1)) < 0)
        return;
}

int mome_tp_describe(int fd)
{
    uct_component_h *comps;
    unsigned ncomps;
    unsigned api_major, api_minor, api_release;

    ucp_get_version(&api_major, &api_minor, &api_release);
    fdprintf(fd, "UCX %u.%u.%u; transports (choose with UCX_TLS):\n", api_major, api_minor,
             api_release);
    if (uct_query_components(&comps, &ncomps) != UCS_OK)
        return -EIO;
    for (unsigned c = 0; c < ncomps; c++) {
        uct_component_attr_t ca = {.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME |
                                                 UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT};
        if (uct_component_query(comps[c], &ca) != UCS_OK)
            continue;
        uct_md_resource_desc_t mds[ca.md_resource_count ? ca.md_resource_count : 1];
        ca.field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCES;
        ca.md_resources = mds;
        if (uct_component_query(comps[c], &ca) != UCS_OK)
            continue;
        for (unsigned m = 0; m < ca.md_resource_count; m++) {
            uct_md_config_t *mdc;
            uct_md_h md;
            uct_tl_resource_desc_t *tls;
            unsigned ntls;
            if (uct_md_config_read(comps[c], NULL, NULL, &mdc) != UCS_OK)
                continue;
            ucs_status_t st = uct_md_open(comps[c], mds[m].md_name, mdc, &md);
            uct_config_release(mdc);
            if (st != UCS_OK)
                continue;
            if (uct_md_query_tl_resources(md, &tls, &ntls) == UCS_OK) {
                for (unsigned t = 0; t < ntls; t++)
                    fdprintf(fd, "  %-10s %-16s (%s)\n", tls[t].tl_name, tls[t].dev_name,
                             mds[m].md_name);
                uct_release_tl_resource_list(tls);
            }
            uct_md_close(md);
        }
    }
    uct_release_component_list(comps);
    return 0;
}
