/*
 * transport.c - UCX ucp active messages: the only file that includes ucp.h.
 *
 * Control messages and 4 KiB page data both go as eager active messages (the cheapest UCX path for
 * a page on tcp and shared memory); larger payloads may arrive by rendezvous and are fetched into a
 * bounce buffer. Sends complete immediately when UCX can; otherwise the data is copied so callers
 * never wait.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <ucp/api/ucp.h>
#include <ucs/config/global_opts.h>
#include <ucs/debug/log_def.h>
#include <uct/api/uct.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/stats.h"
#include "net/transport.h"

#define AM_ID 7
#define TP_MAX_HDR 256
/* Heartbeats between nodes on different machines: header {HB_MAGIC, sender}, no data. */
#define AM_HB 8
#define HB_MAGIC 0x4d484254u /* "MHBT" */
#define HB_PERIOD_MS 1000
#define HB_PERIOD_NS (HB_PERIOD_MS * 1000000ull)

/* Flow control (drain_sends): the bytes of copied sends past which a send waits, and for how long
 * at most (mome_tp_opts_t.send_wait_ms). */
#define INFLIGHT_MAX (64u << 20)
#define INFLIGHT_CEILING (4ull * INFLIGHT_MAX) /* past it a send always waits */
#define INFLIGHT_WAIT_NS 10000000000ull

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
static size_t tp_inflight_bytes; /* the copies they hold */
static size_t tp_max_len; /* the longest payload a node of this job sends */
static const char *send_error = "unknown error"; /* UCX status of the last failed send */
static mome_tp_fail_cb_t tp_fail;
static int tp_closing; /* shutting down: peers closing their connections is no failure */
static char tp_settings[768];
static int tp_self;
static uint8_t *tp_remote;     /* tp_remote[i]: node i is on another machine */
static uint64_t *tp_heard;     /* last heartbeat from node i (mome_now_ns) */
static uint64_t tp_timeout_ns; /* silence after which a remote node is lost (0: never) */
static int tp_tfd = -1;        /* heartbeat timer */
static uint64_t tp_beat_at;    /* when it was last read (mome_now_ns) */
static int tp_lost;            /* a loss was reported: say it once */
static int tp_beating;         /* sending heartbeats (a drain_sends they cause sends no more) */
static mome_tp_wait_cb_t tp_waiting; /* called now and then while sends drain */
static mome_tp_sender_cb_t tp_sender; /* who sent a message, from its header */
static uint64_t tp_wait_ns;          /* the longest a send waits for sends to drain */
static size_t tp_stuck_at; /* a drain gave up with this many bytes in flight (0: none did) */

/* A send UCX could not complete at once: owns copies of header and data. */
typedef struct pending_send {
    size_t hdrlen, len;
    int node;   /* to */
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
    int src;        /* the sender its header names (-1: unknown), for a fetch that fails */
    char hdr[TP_MAX_HDR];
} recv_msg_t;

static recv_msg_t *rq_head, *rq_tail, *rq_free;
static size_t rq_bytes; /* memory held by the messages waiting in rq */
static unsigned tp_gave_up; /* drains of sends that gave up waiting (mome_tp_send_waits) */
/* The most a progress takes in without delivering (rq_bytes): see mome_tp_progress. */
#define TP_RQ_BYTES (4u << 20)

/*
 * Payloads from this size on stay in UCX's receive buffer until delivered (no copy); smaller ones
 * are copied. Every message of this job has an 80-byte header, past what a shared-memory FIFO
 * element holds inline, so each arrives in a receive buffer of UCX's (8 KiB over shared memory);
 * kept while the message waited in rq (a node progressing UCX to push its own sends out, which
 * queues what arrives), each small message pinned one: a 1 GiB release by 2 of 3 nodes queued
 * about 70,000 notices on a writer, whose memory rose by up to 560 MB instead of 75.
 */
#define TP_KEEP_MIN 2048

/* A message to or from node could not be sent or received whole: lost node, once. */
static void peer_lost(int node, const char *why)
{
    if (!tp_fail)
        mome_fatal("lost node %d: %s; stopping", node, why);
    if (tp_lost)
        return;
    tp_lost = 1;
    tp_fail(node, why);
}

/*
 * A send UCX took but could not complete: the message is lost (a diff, a page, an
 * acknowledgement: the protocol needs every one), so the job stops, naming the node, as for a
 * broken connection (tp_fail). Only at the end, once peers may close theirs, is it no failure.
 */
static void send_lost(int node, ucs_status_t status)
{
    char why[160];
    if (tp_closing) {
        mome_debug("transport", "a message to node %d not sent as the job ends: %s", node,
                   ucs_status_string(status));
        return;
    }
    snprintf(why, sizeof(why), "a message to it could not be sent: %s", ucs_status_string(status));
    peer_lost(node, why);
}

/*
 * The rest of a message fetched by rendezvous could not be received (its sender died, or the
 * network to it did, in the middle): lost like a send, naming the sender its header gives, through
 * tp_fail (the launcher's word first), once. Before, the fetch stopped the job on its own saying
 * only "receiving the N bytes of a message failed", with no node and no launcher's word (UCX 1.13
 * fails the connection first, and the fetch came after that loss had been reported).
 */
static void recv_lost(const recv_msg_t *r, ucs_status_t status)
{
    char why[160];
    if (tp_closing) { /* the job is over: its sender closed the connection */
        mome_debug("transport", "a message of %zu bytes not received as the job ends: %s", r->len,
                   ucs_status_string(status));
        return;
    }
    snprintf(why, sizeof(why), "the %zu bytes of a message from it could not be received: %s",
             r->len, ucs_status_string(status));
    if (r->src < 0)
        mome_fatal("receiving the %zu bytes of a message failed: %s (its header names no node of "
                   "this job); stopping",
                   r->len, ucs_status_string(status));
    peer_lost(r->src, why);
}

static void send_done_cb(void *request, ucs_status_t status, void *user_data)
{
    if (status != UCS_OK && status != UCS_ERR_CANCELED)
        send_lost(((pending_send_t *)user_data)->node, status);
    tp_inflight_bytes -= ((pending_send_t *)user_data)->len;
    if (tp_inflight_bytes <= INFLIGHT_MAX / 2)
        tp_stuck_at = 0; /* the peers take sends again: flow control as before */
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
    r->src = -1;
    memcpy(r->hdr, header, header_length);
    return r;
}

static void rq_append(recv_msg_t *r)
{
    rq_bytes += sizeof(*r) + r->len;
    if (rq_tail)
        rq_tail->next = r;
    else
        rq_head = r;
    rq_tail = r;
}

/*
 * Deliver what progress received, in the order it came in. A message UCX fetches by rendezvous (8
 * KiB or more over shared memory, 64 KiB over TCP) comes in once its data is here, after smaller
 * ones its sender sent later: the protocol relies on no order between nodes (design.md section 7).
 */
static int rq_drain(void)
{
    int n = 0;
    recv_msg_t *r;
    while ((r = rq_head)) {
        rq_head = r->next;
        if (!rq_head)
            rq_tail = NULL;
        rq_bytes -= sizeof(*r) + r->len;
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
    if (status != UCS_OK) {
        recv_lost(r, status); /* returns when the job is over, or the loss was reported */
        free(r->owned);
        r->next = rq_free;
        rq_free = r;
        ucp_request_free(request);
        return;
    }
    rq_append(r);
    ucp_request_free(request);
}

static ucs_status_t am_cb(void *arg, const void *header, size_t header_length, void *data,
                          size_t length, const ucp_am_recv_param_t *param)
{
    /* Lengths first: nothing is allocated for a message no node of this job could send. One
     * with a header of the right size goes up without its payload: the layer above stops the job
     * if the header is this job's (dropped, it was lost unseen: helper-95), else says so. */
    if (header_length <= TP_MAX_HDR && length > tp_max_len) {
        tp_cb(header, header_length, NULL, length, tp_cb_arg);
        return UCS_OK;
    }
    if (header_length > TP_MAX_HDR) {
        static mome_ratelimit_t rl;
        mome_log_rl(&rl, MOME_LOG_WARN, "transport",
                    "refused a message of %zu + %zu bytes (this job's are at most %d + %zu)",
                    header_length, length, TP_MAX_HDR, tp_max_len);
        return UCS_OK;
    }
    recv_msg_t *r = rq_new(header, header_length);
    int rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
    r->len = length;
    if (!rndv && (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) && length >= TP_KEEP_MIN) {
        /* A page or a large batch: keep UCX's buffer until the message is delivered. */
        r->data = r->ucx_data = data;
        rq_append(r);
        return UCS_INPROGRESS;
    }
    r->data = r->owned = mome_malloc(length ? length : 1);
    if (!r->owned)
        mome_fatal("out of memory receiving a message of %zu bytes; stopping", length);
    if (!rndv) {
        /* A small payload, or none (most messages): copied, and UCX's buffer goes back now. */
        memcpy(r->data, data, length);
        rq_append(r);
        return UCS_OK;
    }
    ucp_request_param_t rp = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
        .cb.recv_am = rndv_done_cb,
        .user_data = r,
    };
    r->src = tp_sender ? tp_sender(header, header_length) : -1;
    if (r->src >= tp_nnodes || r->src == tp_self)
        r->src = -1;
    ucs_status_ptr_t st = ucp_am_recv_data_nbx(tp_worker, data, r->data, length, &rp);
    if (UCS_PTR_IS_ERR(st)) {
        recv_lost(r, UCS_PTR_STATUS(st));
        free(r->owned);
        r->next = rq_free;
        rq_free = r;
        return UCS_OK;
    }
    if (st == NULL)
        rq_append(r);
    return UCS_OK;
}

/* A heartbeat: the node it names is alive and the network to it works. Anything else is ignored. */
static ucs_status_t hb_cb(void *arg, const void *header, size_t header_length, void *data,
                         size_t length, const ucp_am_recv_param_t *param)
{
    uint32_t h[2];
    if (header_length != sizeof(h) || !tp_heard)
        return UCS_OK;
    memcpy(h, header, sizeof(h));
    if (h[0] == HB_MAGIC && h[1] < (uint32_t)tp_nnodes && tp_remote[h[1]])
        tp_heard[h[1]] = mome_now_ns();
    return UCS_OK;
}

/*
 * UCX_TLS without sysv: UCX creates its SysV segments 0660, so any process of the group could
 * attach them and write into this node's receive queues. posix (0600, or a descriptor passed
 * through /proc) and cma (ptrace rules: same user) stay private to the job's user.
 */
static void private_tls(char *out, size_t len)
{
    const char *env = getenv("UCX_TLS");
    char buf[512], *save = NULL, *t;
    size_t used = 0;
    int named = 0;

    if (!env || !*env || !strcmp(env, "all")) {
        snprintf(out, len, "^sysv");
        return;
    }
    if (env[0] == '^') { /* a deny list: deny sysv too */
        snprintf(buf, sizeof(buf), ",%s,", env + 1);
        snprintf(out, len, "%s%s", env, strstr(buf, ",sysv,") ? "" : ",sysv");
        return;
    }
    snprintf(buf, sizeof(buf), "%s", env);
    out[0] = 0;
    for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const char *put = t;
        if (!strcmp(t, "sysv")) {
            named = 1;
            continue;
        }
        if (!strcmp(t, "sm") || !strcmp(t, "shm"))
            put = "posix,cma"; /* the aliases that would bring sysv in */
        else if (!strcmp(t, "mm"))
            put = "posix"; /* UCX's mm: posix, sysv and xpmem (named alone, warned of if absent) */
        int w = snprintf(out + used, len - used, "%s%s", used ? "," : "", put);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
    }
    if (!used)
        snprintf(out, len, "posix");
    if (named)
        mome_warn("transport", "UCX_TLS=%s: sysv left out (its segments are open to the user's "
                  "group); using UCX_TLS=%s", env, out);
}

/*
 * Calls fn for every transport resource (transport, device) of every memory domain UCX offers;
 * -1 if UCX cannot list its components.
 */
typedef void tl_fn_t(const uct_tl_resource_desc_t *tl, const char *md_name, void *arg);

static int for_each_tl(tl_fn_t *fn, void *arg)
{
    uct_component_h *comps;
    unsigned ncomps;

    if (uct_query_components(&comps, &ncomps) != UCS_OK)
        return -1;
    for (unsigned c = 0; c < ncomps; c++) {
        uct_component_attr_t ca = {.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME |
                                                 UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT};
        if (uct_component_query(comps[c], &ca) != UCS_OK || !ca.md_resource_count)
            continue;
        uct_md_resource_desc_t mds[ca.md_resource_count];
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
                    fn(&tls[t], mds[m].md_name, arg);
                uct_release_tl_resource_list(tls);
            }
            uct_md_close(md);
        }
    }
    uct_release_component_list(comps);
    return 0;
}

struct dev_list {
    char *out;
    size_t len, used;
};

/* for_each_tl: a network device that is no IP interface, not listed yet, joins the list. */
static void add_net_device(const uct_tl_resource_desc_t *tl, const char *md_name, void *arg)
{
    struct dev_list *d = arg;
    char base[UCT_DEVICE_NAME_MAX + 2], list[1024], ifn[UCT_DEVICE_NAME_MAX];
    (void)md_name;
    snprintf(base, sizeof(base), ",%s,", tl->dev_name);
    snprintf(list, sizeof(list), ",%s,", d->out);
    snprintf(ifn, sizeof(ifn), "%s", tl->dev_name);
    ifn[strcspn(ifn, ":")] = 0;
    if (tl->dev_type != UCT_DEVICE_TYPE_NET || if_nametoindex(ifn) || strstr(list, base))
        return;
    int w = snprintf(d->out + d->used, d->len - d->used, ",%s", tl->dev_name);
    if (w > 0 && (size_t)w < d->len - d->used)
        d->used += (size_t)w;
}

/* ip, plus UCX's network devices that are no IP interface (RDMA ports such as mlx5_0:1). */
static void net_devices(const char *ip, char *out, size_t len)
{
    struct dev_list d = {out, len, 0};
    snprintf(out, len, "%s", ip);
    d.used = strlen(out);
    for_each_tl(add_net_device, &d);
}

/*
 * Set a UCX variable unless the user did (UCX_<name> in the environment). ucp's own through the
 * configuration; a transport's (tcp) only through the environment, which UCX reads when it opens
 * the transport (ucp_config_modify does not reach them in UCX 1.13).
 */
static void set_default(ucp_config_t *cfg, const char *name, const char *value)
{
    char env[64];
    snprintf(env, sizeof(env), "UCX_%s", name);
    if (getenv(env))
        return;
    ucs_status_t st = cfg ? ucp_config_modify(cfg, name, value)
                          : setenv(env, value, 0) == 0 ? UCS_OK : UCS_ERR_NO_MEMORY;
    if (st != UCS_OK)
        mome_warn("transport", "cannot set UCX's %s=%s: %s", name, value, ucs_status_string(st));
}

/*
 * Failure detection towards other machines: UCX's keepalive checks every connection each
 * interval, and TCP's keepalive probes an idle connection: a peer whose machine died or whose
 * network went down is reported within about KEEPIDLE + KEEPCNT x KEEPINTVL (5 s), or 2 x
 * KEEPALIVE_INTERVAL.
 */
#define TP_KEEPALIVE_INTERVAL "2s"
#define TP_TCP_KEEPIDLE "2s"
#define TP_TCP_KEEPINTVL "1s"
#define TP_TCP_KEEPCNT "3"

/*
 * Strangers at the door. UCX closes a TCP connection whose first bytes are not its magic number
 * (a program that does not speak UCX, writing to a node's port) and says so only at debug level.
 * While the transport is up, UCX's own log level is raised to debug and this handler, called
 * first, turns that one message into a rate-limited warning and drops every other message below
 * the level the user set (UCX_LOG_LEVEL, warn by default); the others go on to UCX's printing as
 * before. UCX logs at debug level when connections open and close (a few hundred lines in a
 * whole job, none per message sent), so the raised level costs nothing per message.
 */
static int tp_user_level; /* a ucs_log_level_t; read on UCX's threads: atomic */
static int tp_log_pushed;

static ucs_log_func_rc_t stranger_log(const char *file, unsigned line, const char *function,
                                      ucs_log_level_t level,
                                      const ucs_log_component_config_t *comp, const char *fmt,
                                      va_list ap)
{
    (void)file;
    (void)line;
    (void)function;
    (void)ap; /* the format alone names the message */
    if (comp != &ucs_global_opts.log_component ||
        (int)level <= __atomic_load_n(&tp_user_level, __ATOMIC_ACQUIRE))
        return UCS_LOG_FUNC_RC_CONTINUE;
    if (level == UCS_LOG_LEVEL_DEBUG && strstr(fmt, "wrong magic number")) {
        static mome_ratelimit_t rl;
        mome_log_rl(&rl, MOME_LOG_WARN, "transport",
                    "refused a connection to one of this node's TCP ports: its first bytes were "
                    "not UCX's (a program that is not a node of this job); nothing reached the "
                    "job");
    }
    return UCS_LOG_FUNC_RC_STOP;
}

static void watch_strangers(int on)
{
    if (on && !tp_log_pushed) {
        int user = (int)ucs_global_opts.log_component.log_level;
        __atomic_store_n(&tp_user_level, user, __ATOMIC_RELEASE);
        if (user >= UCS_LOG_LEVEL_DEBUG)
            return; /* the user asked for UCX's debug lines: UCX prints this one itself */
        ucs_log_push_handler(stranger_log);
        ucs_global_opts.log_component.log_level = UCS_LOG_LEVEL_DEBUG;
        tp_log_pushed = 1;
    } else if (!on && tp_log_pushed) {
        ucs_global_opts.log_component.log_level =
            (ucs_log_level_t)__atomic_load_n(&tp_user_level, __ATOMIC_ACQUIRE);
        ucs_log_pop_handler();
        tp_log_pushed = 0;
    }
}

int mome_tp_init(mome_tp_recv_cb_t cb, void *arg, size_t max_len, const mome_tp_opts_t *opts,
                 const void **addr, size_t *addrlen)
{
    ucp_config_t *cfg;
    ucs_status_t st;
    char tls[512], devs[1024] = "";

    tp_max_len = max_len;
    tp_cb = cb;
    tp_cb_arg = arg;
    tp_fail = opts ? opts->fail : NULL;
    tp_waiting = opts ? opts->waiting : NULL;
    tp_sender = opts ? opts->sender : NULL;
    tp_wait_ns = opts && opts->send_wait_ms ? opts->send_wait_ms * 1000000ull : INFLIGHT_WAIT_NS;
    tp_stuck_at = 0;
    tp_timeout_ns = opts ? opts->peer_timeout_ms * 1000000ull : 0;
    tp_closing = 0;
    tp_lost = 0;
    st = ucp_config_read(NULL, NULL, &cfg);
    if (st != UCS_OK)
        goto err_status;
    private_tls(tls, sizeof(tls));
    if ((st = ucp_config_modify(cfg, "TLS", tls)) != UCS_OK) {
        ucp_config_release(cfg);
        mome_error("transport", "UCX refuses UCX_TLS=%s: %s", tls, ucs_status_string(st));
        return -EINVAL;
    }
    if (opts && opts->ip_devices && !getenv("UCX_NET_DEVICES")) {
        net_devices(opts->ip_devices, devs, sizeof(devs));
        if ((st = ucp_config_modify(cfg, "NET_DEVICES", devs)) != UCS_OK) {
            ucp_config_release(cfg);
            goto err_status;
        }
    }
    if (opts && opts->remote_peers) {
        set_default(cfg, "KEEPALIVE_INTERVAL", TP_KEEPALIVE_INTERVAL);
        set_default(NULL, "TCP_KEEPIDLE", TP_TCP_KEEPIDLE);
        set_default(NULL, "TCP_KEEPINTVL", TP_TCP_KEEPINTVL);
        set_default(NULL, "TCP_KEEPCNT", TP_TCP_KEEPCNT);
    }
    snprintf(tp_settings, sizeof(tp_settings), "TLS=%s NET_DEVICES=%s%s", tls,
             getenv("UCX_NET_DEVICES") ? getenv("UCX_NET_DEVICES") : devs[0] ? devs : "all",
             opts && opts->remote_peers ? " (peers on other machines watched by keepalive)" : "");
    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED,
        .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP,
        .mt_workers_shared = 0,
    };
    st = ucp_init(&params, cfg, &tp_ctx);
    ucp_config_release(cfg);
    if (st != UCS_OK)
        goto err_status;
    mome_info("transport", "UCX %s", tp_settings);

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
    hp.id = AM_HB;
    hp.cb = hb_cb;
    st = ucp_worker_set_am_recv_handler(tp_worker, &hp);
    if (st != UCS_OK)
        goto err_release_addr;
    *addr = tp_addr;
    *addrlen = tp_addrlen;
    watch_strangers(1);
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

const char *mome_tp_settings(void)
{
    return tp_settings;
}

/* UCX's word that the connection to a peer on another machine failed (progress thread). */
static void ep_failed(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    int node = (int)(intptr_t)arg;
    if (tp_closing || !tp_fail || tp_lost)
        return; /* the job is over: peers close their connections */
    tp_lost = 1;
    tp_fail(node, ucs_status_string(status));
}

/*
 * Heartbeats to and from the nodes on other machines. UCX reports a connection that breaks, but
 * not one whose network silently stops carrying packets while data waits to be sent (TCP then
 * retransmits for many minutes): a node that has not heard from a remote node for the timeout
 * declares it lost. Every HB_PERIOD_MS, on the progress thread.
 */
static int start_heartbeats(void)
{
    struct timespec period = {HB_PERIOD_MS / 1000, (HB_PERIOD_MS % 1000) * 1000000l};
    struct itimerspec its = {.it_interval = period, .it_value = period};
    int any = 0;

    for (int i = 0; i < tp_nnodes; i++)
        any |= tp_remote[i];
    if (!any || !tp_timeout_ns)
        return 0;
    tp_heard = mome_calloc((size_t)tp_nnodes, sizeof(*tp_heard));
    if (!tp_heard)
        return -ENOMEM;
    for (int i = 0; i < tp_nnodes; i++)
        tp_heard[i] = mome_now_ns();
    tp_beat_at = mome_now_ns();
    tp_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tp_tfd < 0 || timerfd_settime(tp_tfd, 0, &its, NULL) < 0)
        return -errno;
    return 0;
}

int mome_tp_timer_fd(void)
{
    return tp_tfd;
}

static int send_am(unsigned id, int node, const void *hdr, size_t hdrlen, const void *data,
                   size_t len);

/*
 * This node's heartbeat to each node on another machine, if the timer says one is due. The timer
 * unread for more than two periods: this node was not listening (its machine paused, the process
 * stopped, the progress thread busy outside any wait) for the time past one period, and that is
 * not its peers' silence: their clocks move on by as much. Their heartbeats may still be on the way
 * (after a pause of this machine, a peer's TCP retransmits what went unacknowledged only seconds
 * later); before, a stall past the timeout had this node declare every other machine's node lost.
 */
static int send_beats(void)
{
    uint64_t ticks, now;
    uint32_t h[2] = {HB_MAGIC, (uint32_t)tp_self};

    if (tp_tfd < 0 || tp_beating || read(tp_tfd, &ticks, sizeof(ticks)) < 0 || tp_closing)
        return 0;
    now = mome_now_ns();
    if (now - tp_beat_at > 2 * HB_PERIOD_NS) {
        uint64_t away = now - tp_beat_at - HB_PERIOD_NS;
        for (int i = 0; i < tp_nnodes; i++)
            if (tp_remote[i])
                tp_heard[i] = tp_heard[i] + away < now ? tp_heard[i] + away : now;
    }
    tp_beat_at = now;
    tp_beating = 1;
    for (int i = 0; i < tp_nnodes; i++)
        if (tp_remote[i])
            (void)send_am(AM_HB, i, h, sizeof(h), NULL, 0); /* a failure: ep_failed says it */
    tp_beating = 0;
    return 1;
}

/*
 * Waits that progress UCX outside the progress thread's loop (a handler waiting for an answer, a
 * call to momed, sends draining) keep this node's heartbeats going: a checkpoint momed took more
 * than MOME_PEER_TIMEOUT to write would otherwise have the other machines' nodes declare this one
 * lost. They check no silence: the loop does that once they are over.
 */
unsigned mome_tp_send_waits(void)
{
    return tp_gave_up;
}

void mome_tp_beat(void)
{
    send_beats();
}

/*
 * The heartbeats, then the judgement, on what UCX holds too: the heartbeats that came while this
 * node did not progress UCX (they were judged missing with them waiting there). What else came is
 * only queued (rq), as by mome_tp_push, for the loop's next progress.
 */
void mome_tp_timer_event(void)
{
    if (!send_beats())
        return;
    /* (Bounded as mome_tp_progress is: under a steady stream UCX always has more, and its
     * messages would pile up here undelivered; a heartbeat is heard at once, hb_cb.) */
    while (rq_bytes < TP_RQ_BYTES && ucp_worker_progress(tp_worker) > 0)
        ;
    uint64_t now = mome_now_ns();
    for (int i = 0; i < tp_nnodes; i++) {
        if (!tp_remote[i] || tp_heard[i] > now)
            continue;
        if (now - tp_heard[i] > tp_timeout_ns && tp_fail && !tp_lost) {
            char why[128];
            tp_lost = 1;
            snprintf(why, sizeof(why), "no word from it for %llu s: its machine or the network "
                     "to it is down", (unsigned long long)((now - tp_heard[i]) / 1000000000ull));
            tp_fail(i, why);
        }
    }
}

int mome_tp_connect(int nnodes, int self, const void *const *addrs, const size_t *lens,
                    const uint8_t *remote, char *err, size_t errlen)
{
    tp_nnodes = nnodes;
    tp_self = self;
    tp_eps = mome_calloc((size_t)nnodes, sizeof(*tp_eps));
    tp_remote = mome_calloc((size_t)nnodes, 1);
    if (!tp_eps || !tp_remote)
        return -ENOMEM;
    if (remote)
        memcpy(tp_remote, remote, (size_t)nnodes);
    tp_remote[self] = 0;
    for (int i = 0; i < nnodes; i++) {
        if (i == self)
            continue;
        ucp_ep_params_t ep = {
            .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS,
            .address = (const ucp_address_t *)addrs[i],
        };
        /*
         * A peer on another machine may die or become unreachable on its own: UCX then reports
         * it (keepalive) instead of the connection hanging. Not for peers on this machine: UCX
         * 1.13 has no peer-failure mode on shared memory, and the launcher reports their loss.
         */
        if (remote && remote[i]) {
            ep.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
            ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
            ep.err_handler.cb = ep_failed;
            ep.err_handler.arg = (void *)(intptr_t)i;
        }
        ucs_status_t st = ucp_ep_create(tp_worker, &ep, &tp_eps[i]);
        if (st != UCS_OK) {
            snprintf(err, errlen, "cannot connect to node %d over UCX: %s (check UCX_TLS, "
                                  "UCX_NET_DEVICES; UCX settings %s)", i,
                     ucs_status_string(st), tp_settings);
            return -EIO;
        }
        (void)lens;
    }
    if (start_heartbeats() < 0) {
        snprintf(err, errlen, "cannot start the heartbeats to other machines: %s", strerror(errno));
        return -EIO;
    }
    return 0;
}

const char *mome_tp_send_error(void)
{
    return send_error;
}

int mome_tp_send(int node, const void *hdr, size_t hdrlen, const void *data, size_t len)
{
    return send_am(AM_ID, node, hdr, hdrlen, data, len);
}

/*
 * Flow control. A send UCX cannot take at once is copied until it completes, so a release of any
 * size (a million diffs, hundreds of MiB of pages) would hold a copy of all of it. Past
 * INFLIGHT_MAX bytes of such copies the sender progresses UCX until half of them completed: what
 * arrives meanwhile is only queued (rq), never handled here, so no handler runs inside a send.
 * The launcher's word is heard meanwhile (tp_waiting: a lost node stops this one there, named).
 * Bounded: a peer that takes nothing for tp_wait_ns (it died, and no word came) is not waited for
 * longer; the copies then stay, and the node goes on. Until they fall below half the mark again,
 * a send waits only once they have doubled since (tp_stuck_at), and always past
 * INFLIGHT_CEILING: each send past the mark had waited the whole bound again, and a release of
 * 50 batches to a dead node stalled its sender for some 500 s, hearing nothing of the launcher;
 * and a slow peer, alive, must still hold its senders' memory (helper-131).
 */
static void drain_sends(void)
{
    uint64_t start = mome_now_ns();
    if (tp_waiting)
        tp_waiting(); /* once at least: the launcher may have said already */
    for (unsigned spins = 1;
         tp_inflight_bytes > INFLIGHT_MAX / 2 && mome_now_ns() - start < tp_wait_ns; spins++) {
        ucp_worker_progress(tp_worker);
        if (spins % 4096 == 0) {
            send_beats();
            if (tp_waiting)
                tp_waiting();
        }
    }
    if (tp_inflight_bytes > INFLIGHT_MAX / 2) {
        static mome_ratelimit_t rl;
        tp_gave_up++;
        tp_stuck_at = tp_inflight_bytes;
        mome_log_rl(&rl, MOME_LOG_WARN, "transport",
                    "%zu bytes of sends not taken by the other nodes after %llu ms; going on "
                    "(waiting again past %zu bytes)",
                    tp_inflight_bytes, (unsigned long long)(tp_wait_ns / 1000000), 2 * tp_stuck_at);
    }
}

static int send_am(unsigned id, int node, const void *hdr, size_t hdrlen, const void *data,
                   size_t len)
{
    ucp_request_param_t rp = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FLAG_FORCE_IMM_CMPL,
        .flags = UCP_AM_SEND_FLAG_COPY_HEADER,
    };
    ucs_status_ptr_t st;

    if (node < 0 || node >= tp_nnodes || !tp_eps[node])
        return -EINVAL;
    st = ucp_am_send_nbx(tp_eps[node], id, hdr, hdrlen, data, len, &rp);
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
    ps->len = hdrlen + len;
    ps->node = node;
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
    st = ucp_am_send_nbx(tp_eps[node], id, ps->buf, hdrlen, len ? ps->buf + hdrlen : NULL,
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
    tp_inflight_bytes += ps->len;
    if (tp_inflight_bytes > (tp_stuck_at ? 2 * tp_stuck_at : INFLIGHT_MAX) ||
        tp_inflight_bytes > INFLIGHT_CEILING)
        drain_sends();
    return 0;
}

/*
 * Progress UCX until it has nothing more, then deliver what came, in order: handlers that arrive
 * together are served together (a run of read requests shares one write-protect). Under a steady
 * stream (two nodes releasing a GiB of diffs to one owner) UCX always has more, so delivery also
 * starts once the waiting messages hold TP_RQ_BYTES: before, the owner's memory rose by up to 500
 * MB, all of it queued diffs.
 */

int mome_tp_progress(void)
{
    int n = 0, k;
    if (!tp_worker)
        return 0;
    while (rq_bytes < TP_RQ_BYTES && (k = (int)ucp_worker_progress(tp_worker)) > 0)
        n += k;
    return n + rq_drain();
}

int mome_tp_push(void)
{
    if (!tp_worker)
        return 0;
    while (ucp_worker_progress(tp_worker) > 0)
        ;
    return (int)tp_inflight;
}

int mome_tp_efd(void)
{
    return tp_efd;
}

/*
 * Not while messages wait in rq (taken in by mome_tp_push or a send's drain_sends): UCX has no
 * event left for them, so the fd would not wake the caller, which slept with a message undelivered
 * until the next bounded wake-up (1 s), or for ever on a node with no peers on its machine.
 */
int mome_tp_arm(void)
{
    if (rq_head)
        return -EAGAIN;
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

/* Progress until done(req) or the shutdown bound; returns 0 or -ETIMEDOUT (said once). */
static int progress_until(ucs_status_ptr_t req, const char *what)
{
    uint64_t until = mome_now_ns() + SHUTDOWN_WAIT_NS;
    while ((req ? ucp_request_check_status(req) == UCS_INPROGRESS : tp_inflight > 0)) {
        ucp_worker_progress(tp_worker);
        if (mome_now_ns() > until) {
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
    tp_closing = 1;
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
    free(tp_remote);
    tp_remote = NULL;
    free(tp_heard);
    tp_heard = NULL;
    if (tp_tfd >= 0)
        close(tp_tfd);
    tp_tfd = -1;
    watch_strangers(0);
    ucp_worker_release_address(tp_worker, tp_addr);
    ucp_worker_destroy(tp_worker);
    tp_worker = NULL;
    ucp_cleanup(tp_ctx);
    tp_ctx = NULL;
    tp_efd = -1;
}

/*
 * The transports an endpoint uses, from ucp_ep_print_info's lane lines ("lane[0]: 0:posix/memory.0
 * md[0] -> md[0]/posix/sysdev[255] am am_bw#0"): "posix/memory (am), cma/memory (rma)". UCX 1.13
 * has no query for it (ucp_ep_query's transports came in 1.14).
 */
static int ep_transports(ucp_ep_h ep, char *out, size_t len)
{
    char *text = NULL, *line, *save = NULL;
    size_t tlen = 0, used = 0;
    FILE *f = open_memstream(&text, &tlen);

    if (!f)
        return -ENOMEM;
    ucp_ep_print_info(ep, f);
    fclose(f);
    out[0] = 0;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char tl[64], roles[128] = "", *arrow, *colon, *w, *wsave = NULL;
        size_t rl = 0;
        if (!strstr(line, "lane[") || !(colon = strstr(line, "]:")) ||
            sscanf(colon + 2, " %*d:%63s", tl) != 1)
            continue;
        if ((w = strrchr(tl, '.')) && w[1] >= '0' && w[1] <= '9')
            *w = 0; /* the device's index */
        arrow = strstr(line, "->");
        if (arrow && (arrow = strchr(arrow + 3, ' '))) {
            for (w = strtok_r(arrow, " ", &wsave); w; w = strtok_r(NULL, " ", &wsave)) {
                char role[32];
                snprintf(role, sizeof(role), "%.*s", (int)strcspn(w, "#"), w);
                if (strcmp(role, "am") && strcmp(role, "rma_bw") && strcmp(role, "am_bw") &&
                    strcmp(role, "rma") && strcmp(role, "amo"))
                    continue;
                if (strstr(roles, role))
                    continue;
                int k = snprintf(roles + rl, sizeof(roles) - rl, "%s%s", rl ? " " : "", role);
                if (k > 0 && (size_t)k < sizeof(roles) - rl)
                    rl += (size_t)k;
            }
        }
        int k = snprintf(out + used, len - used, "%s%s%s%s%s", used ? ", " : "", tl,
                         rl ? " (" : "", roles, rl ? ")" : "");
        if (k > 0 && (size_t)k < len - used)
            used += (size_t)k;
    }
    free(text);
    if (!used)
        snprintf(out, len, "unknown");
    return 0;
}

void mome_tp_log_peers(void)
{
    char tls[512];

    for (int i = 0; i < tp_nnodes && tp_eps; i++)
        if (i != tp_self && tp_eps[i] && ep_transports(tp_eps[i], tls, sizeof(tls)) == 0)
            mome_info("transport", "to node %d: UCX %s", i, tls);
}

/* What two nodes of this machine would use under the current UCX_TLS: two workers of one
 * context, one endpoint between them. */
static void describe_local_pair(int fd)
{
    ucp_params_t params = {.field_mask = UCP_PARAM_FIELD_FEATURES,
                           .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP};
    ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                              .thread_mode = UCS_THREAD_MODE_SINGLE};
    ucp_config_t *cfg;
    ucp_context_h ctx;
    ucp_worker_h a = NULL, b = NULL;
    ucp_address_t *addr = NULL;
    ucp_ep_h ep = NULL;
    size_t alen;
    char tls[512], used[512], devs[1024] = "";

    private_tls(tls, sizeof(tls));
    if (ucp_config_read(NULL, NULL, &cfg) != UCS_OK)
        return;
    /* mome-run's nodes listen on loopback only (node.c): so does this pair. */
    if (!getenv("UCX_NET_DEVICES"))
        net_devices("lo", devs, sizeof(devs));
    if (ucp_config_modify(cfg, "TLS", tls) != UCS_OK ||
        (devs[0] && ucp_config_modify(cfg, "NET_DEVICES", devs) != UCS_OK) ||
        ucp_init(&params, cfg, &ctx) != UCS_OK) {
        ucp_config_release(cfg);
        return;
    }
    ucp_config_release(cfg);
    if (ucp_worker_create(ctx, &wp, &a) == UCS_OK && ucp_worker_create(ctx, &wp, &b) == UCS_OK &&
        ucp_worker_get_address(b, &addr, &alen) == UCS_OK) {
        ucp_ep_params_t ep_params = {.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS,
                                     .address = addr};
        if (ucp_ep_create(a, &ep_params, &ep) == UCS_OK &&
            ep_transports(ep, used, sizeof(used)) == 0)
            mome_fdprintf(fd, "two nodes of this machine use (UCX_TLS=%s): %s\n", tls, used);
    }
    if (ep) {
        ucs_status_ptr_t req = ucp_ep_close_nb(ep, UCP_EP_CLOSE_MODE_FORCE);
        while (UCS_PTR_IS_PTR(req) && ucp_request_check_status(req) == UCS_INPROGRESS) {
            ucp_worker_progress(a);
            ucp_worker_progress(b);
        }
        if (UCS_PTR_IS_PTR(req))
            ucp_request_free(req);
    }
    if (addr)
        ucp_worker_release_address(b, addr);
    if (b)
        ucp_worker_destroy(b);
    if (a)
        ucp_worker_destroy(a);
    ucp_cleanup(ctx);
}

/* for_each_tl: one line of mome_tp_describe's list. */
static void describe_tl(const uct_tl_resource_desc_t *tl, const char *md_name, void *arg)
{
    mome_fdprintf(*(int *)arg, "  %-10s %-16s (%s)\n", tl->tl_name, tl->dev_name, md_name);
}

int mome_tp_describe(int fd)
{
    unsigned api_major, api_minor, api_release;

    ucp_get_version(&api_major, &api_minor, &api_release);
    mome_fdprintf(fd, "UCX %u.%u.%u; transports (choose with UCX_TLS):\n", api_major, api_minor,
                  api_release);
    if (for_each_tl(describe_tl, &fd) < 0)
        return -EIO;
    describe_local_pair(fd);
    return 0;
}
