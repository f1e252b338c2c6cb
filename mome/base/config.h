/*
 * config.h - private: the table of MOME_* knobs, read once from the environment at MomeInit.
 *
 * Every knob has one entry {name, default, description, parser}; mome-info prints the table and
 * unknown MOME_* variables are warned about.
 */
#ifndef MOME_CONFIG_H
#define MOME_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MOME_BIND_NONE = 0, /* leave placement to the OS */
    MOME_BIND_CORE,     /* node i on a core of its own, by local rank (topology.c) */
    MOME_BIND_NUMA,     /* node i on the cores of a NUMA node, by local rank */
} mome_bind_t;

typedef enum {
    MOME_PRIO_NORMAL = 0, /* the progress thread at the application's priority */
    MOME_PRIO_HIGH,       /* at nice -20 (or the lowest RLIMIT_NICE allows) */
    MOME_PRIO_FIFO,       /* SCHED_FIFO priority 1 */
} mome_prio_t;

typedef struct mome_config {
    size_t page_size;        /* MOME_PAGE_SIZE: coherence unit, power of two >= OS page */
    int log_level;           /* MOME_LOG_LEVEL */
    char log_file[1024];     /* MOME_LOG_FILE ("" = stderr) */
    int stats;               /* MOME_STATS: print counters at finalize */
    char repository[1024];   /* MOME_REPOSITORY */
    char server[300];        /* MOME_SERVER: momed's host:port ("" = its address file, if any) */
    uint64_t server_key;     /* MOME_SERVER_KEY: momed's key for MOME_SERVER=host:port (0: none) */
    uint64_t local_pages;    /* MOME_LOCAL_PAGES (0 = unlimited) */
    double local_high;       /* MOME_LOCAL_HIGH: background eviction starts (fraction) */
    double local_low;        /* MOME_LOCAL_LOW: and stops (fraction) */
    char swap_dir[1024];     /* MOME_SWAP_DIR */
    int pageout_disk;        /* MOME_PAGEOUT=disk: page out to the swap file only */
    uint64_t emu_latency_ns; /* MOME_EMU_LATENCY_NS */
    uint64_t emu_jitter_ns;  /* MOME_EMU_JITTER_NS */
    uint64_t emu_bandwidth;  /* MOME_EMU_BANDWIDTH, bytes/s (0 = unlimited) */
    char evict[16];          /* MOME_EVICT: eviction policy under a budget (fifo|clock|random) */
    char trace[1024];        /* MOME_TRACE: per-node trace file ("" = none; %n node) */
    int bind;                /* MOME_BIND */
    uint64_t heap_size;      /* MOME_HEAP_SIZE */
    uint64_t spin_us;        /* MOME_SPIN_US */
    int progress_prio;       /* MOME_PROGRESS_PRIO: a mome_prio_t, used when permitted */
    uint64_t peer_timeout;   /* MOME_PEER_TIMEOUT: seconds without word from another machine */
    uint64_t connect_timeout; /* MOME_CONNECT_TIMEOUT: MomeInit's wait for HELLOs, s (0: auto) */
    int dir_migrate;         /* MOME_DIR_MIGRATE */
    uint64_t prefetch;       /* MOME_PREFETCH: pages read ahead on a remote read fault */
    uint64_t test_fail_alloc; /* MOME_TEST_FAIL_ALLOC: this allocation after MomeInit fails */
    char test_inject[64];    /* MOME_TEST_INJECT: kind:n, a bad message after n sends */
    char test_crash_at[32];  /* MOME_TEST_CRASH_AT: step[:node], kill -9 during a checkpoint */
} mome_config_t;

/* Fill *c with defaults then the environment. On bad values returns -EINVAL and a message naming
 * each ("; " between them); when every value is good, on values that do not go together (the page
 * budget's: MOME_LOCAL_LOW above MOME_LOCAL_HIGH, fewer than 4 pages, no MOME_SWAP_DIR), -EINVAL
 * and a message naming them. */
int mome_config_load(mome_config_t *c, char *err, size_t errlen);

/* Warn (once per name) about MOME_* variables that no knob knows. */
void mome_config_warn_unknown(void);
/* Warn, once each, of the knobs set that have no effect in this job: the budget's knobs without
 * MOME_LOCAL_PAGES, MOME_BIND in a node started alone (launched 0), the network's in a one-node
 * job. */
void mome_config_warn_unused(const mome_config_t *c, int nnodes, int launched);

/* Print every knob with its current value, default and meaning. */
void mome_config_print(int fd, const mome_config_t *c);

/* Parse "4096", "64K", "2M", "1G", "1T"; returns -EINVAL on junk or overflow. */
int mome_config_parse_size(const char *s, uint64_t *out);

/* Page size from MOME_PAGE_SIZE without a full load (MomePageSize() before MomeInit). */
size_t mome_config_page_size(void);
/* MOME_BIND alone (the default, core, if unset or bad): another knob's bad value does not change
 * what mome-info -T shows (helper-99). */
int mome_config_bind(void);

/* momed's files in the repository directory, beside the segments' directories (which never take
 * these names: repo/format.c). */
#define MOME_SRV_ADDR_FILE "momed.addr" /* "host port pid machine key\n", while it serves */
#define MOME_SRV_LOCK_FILE "momed.lock" /* flock'd while it serves; "pid N host H\n" */
#define MOME_SRV_LOG_FILE "momed.log"   /* its output, when a job started it (MOME_SERVER=start) */

#endif
