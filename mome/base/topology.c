/*
 * topology.c - hwloc: place a node on a core or a NUMA node of its own, away from the cores other
 * jobs on this machine are bound to, and describe the machine and the placement for mome-info.
 *
 * A node's progress thread shares its application threads' cores: handing a fault from a blocked
 * application thread to the progress thread is then a same-core context switch, not a cross-core
 * wake-up (measured here at ~3.5 us versus ~30 us). Jobs learn of each other through a record of
 * bound cores per machine (bind_file below), locked with flock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "base/topology.h"

/*
 * The machine's record of bound nodes, one line each: "pid starttime job netns cpus" (job: a hash
 * of the job's key, never the key; netns: the node's network namespace, each its own host for the
 * job, whose local ranks start again at 0; cpus: an hwloc list such as 2 or 0-3). Shared by every
 * user's jobs (mode 0666 in a sticky directory): a line is trusted for placement only, never for
 * data, and lines that do not parse or name a dead process are dropped.
 */
static const char *bind_file(void)
{
    static char path[64];
    struct stat st;
    if (!path[0])
        snprintf(path, sizeof(path), "%s/mome-bind",
                 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
    return path;
}

/* Start time of a process (clock ticks since boot), 0 if unknown: tells a reused pid apart. */
static unsigned long long start_time(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long t = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    /* Fields after the name: state(3) ... starttime(22). */
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p)
        t = strtoull(p + 1, NULL, 10);
    return t;
}

/* This process's network namespace (its inode), 0 if unknown. */
static unsigned long long netns(void)
{
    struct stat st;
    return stat("/proc/self/ns/net", &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

static int alive(pid_t pid, unsigned long long started)
{
    if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
        return 0;
    unsigned long long t = start_time(pid);
    return t == 0 || t == started;
}

static int open_record(void)
{
    int fd = open(bind_file(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        fd = open(bind_file(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd >= 0)
            fchmod(fd, 0666); /* every user's jobs record their cores here */
        else if (errno == EEXIST)
            fd = open(bind_file(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    }
    /* The file is everyone's: anything but a regular file (a FIFO would block the read for
     * ever) is not a record, nor is a process holding its lock for ever a reason to hang. */
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
        if (errno != EWOULDBLOCK || i >= 200) {
            close(fd);
            errno = EWOULDBLOCK;
            return -1;
        }
        usleep(10000);
    }
    return fd;
}

/*
 * Read the record: the cores other jobs' live nodes are bound to (into taken), and the live
 * lines to keep (into keep, without this process's own). Returns the number of other jobs' nodes.
 */
static int read_record(int fd, uint64_t job, hwloc_bitmap_t taken, char **keep)
{
    char *buf = NULL, *line, *save = NULL;
    size_t cap = 0, len = 0, kl = 0;
    ssize_t r;
    int others = 0;
    unsigned long long myns = netns();

    *keep = NULL;
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (len + 4096 > cap) {
            if (cap >= (1u << 20))
                break; /* a record this long is not ours to trust: drop the rest */
            char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
            if (!nb)
                break;
            buf = nb;
        }
        r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (!buf)
        return 0;
    buf[len] = 0;
    *keep = calloc(1, len + 2); /* each kept line ends in '\n', the last one too */
    hwloc_bitmap_t cpus = hwloc_bitmap_alloc();
    for (line = strtok_r(buf, "\n", &save); line && *keep && cpus;
         line = strtok_r(NULL, "\n", &save)) {
        int pid;
        unsigned long long started, jid, ns;
        char list[256];
        if (sscanf(line, "%d %llu %llx %llu %255s", &pid, &started, &jid, &ns, list) != 5 ||
            pid == (int)getpid() || !alive(pid, started) ||
            hwloc_bitmap_list_sscanf(cpus, list) < 0)
            continue;
        /* This job's nodes of this host may share; another job's, or another host's, not. */
        if (jid != job || ns != myns) {
            hwloc_bitmap_or(taken, taken, cpus);
            others++;
        }
        kl += (size_t)sprintf(*keep + kl, "%s\n", line);
    }
    hwloc_bitmap_free(cpus);
    free(buf);
    return others;
}

static void write_record(int fd, const char *keep, const char *mine)
{
    size_t kl = keep ? strlen(keep) : 0, ml = mine ? strlen(mine) : 0;
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
        (kl && write(fd, keep, kl) != (ssize_t)kl) || (ml && write(fd, mine, ml) != (ssize_t)ml))
        mome_debug("topology", "cannot update %s: %m", bind_file());
}

/*
 * Choose where local rank `local_rank` of job `job` goes, given the cores other jobs hold:
 * the (local_rank mod n)-th of the n cores (or NUMA nodes) that no other job is bound to.
 */
static int choose(hwloc_topology_t topo, int mode, int local_rank, hwloc_const_bitmap_t taken,
                  int others, mome_topo_place_t *out)
{
    hwloc_obj_type_t type = mode == MOME_BIND_NUMA ? HWLOC_OBJ_NUMANODE : HWLOC_OBJ_CORE;
    const char *what = mode == MOME_BIND_NUMA ? "NUMA node" : "core";
    int total = hwloc_get_nbobjs_by_type(topo, type), nfree = 0;
    hwloc_obj_t pick = NULL;

    if (total <= 0) {
        snprintf(out->why, sizeof(out->why), "hwloc finds no %s", what);
        return -ENODEV;
    }
    for (int pass = 0; pass < 2; pass++) {
        int k = 0;
        for (int i = 0; i < total; i++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i);
            if (!o || !o->cpuset || hwloc_bitmap_iszero(o->cpuset) ||
                hwloc_bitmap_intersects(o->cpuset, taken))
                continue;
            if (pass == 1 && k == local_rank % nfree)
                pick = o;
            k++;
        }
        nfree = k;
        if (!nfree)
            break;
    }
    if (!pick) {
        snprintf(out->why, sizeof(out->why), "every %s of this machine is bound by another job's "
                 "nodes (%d node(s), or this job's in another network namespace): not binding "
                 "rather than sharing", what, others);
        return -EBUSY;
    }
    out->index = (int)pick->logical_index;
    out->nfree = nfree;
    hwloc_bitmap_list_snprintf(out->cpus, sizeof(out->cpus), pick->cpuset);
    snprintf(out->where, sizeof(out->where), "%s %d (cpus %s)", what, out->index, out->cpus);
    return 0;
}

static int load(hwloc_topology_t *topo)
{
    if (hwloc_topology_init(topo) < 0)
        return -ENOMEM;
    if (hwloc_topology_load(*topo) < 0) {
        hwloc_topology_destroy(*topo);
        return -EIO;
    }
    return 0;
}

int mome_topo_bind(int mode, int local_rank, uint64_t job, mome_topo_place_t *out)
{
    hwloc_topology_t topo;
    int fd, rc, others = 0;
    char *keep = NULL;

    memset(out, 0, sizeof(*out));
    out->index = -1;
    if (mode == MOME_BIND_NONE) {
        snprintf(out->why, sizeof(out->why), "MOME_BIND=none");
        return 0;
    }
    if ((rc = load(&topo)) < 0) {
        snprintf(out->why, sizeof(out->why), "hwloc cannot load the topology");
        return rc;
    }
    hwloc_bitmap_t taken = hwloc_bitmap_alloc();
    fd = open_record();
    if (fd < 0)
        mome_debug("topology", "no record of other jobs' cores (%s: %m): binding blind",
                   bind_file());
    else
        others = read_record(fd, job, taken, &keep);
    rc = choose(topo, mode, local_rank, taken, others, out);
    if (rc == 0) {
        hwloc_obj_t o = hwloc_get_obj_by_type(
            topo, mode == MOME_BIND_NUMA ? HWLOC_OBJ_NUMANODE : HWLOC_OBJ_CORE,
            (unsigned)out->index);
        if (hwloc_set_cpubind(topo, o->cpuset, HWLOC_CPUBIND_PROCESS) < 0) {
            rc = -errno ? -errno : -EIO;
            snprintf(out->why, sizeof(out->why), "cannot bind to %s: %s", out->where,
                     strerror(-rc));
            out->index = -1;
        }
    }
    if (fd >= 0) {
        char mine[320] = "";
        if (rc == 0)
            snprintf(mine, sizeof(mine), "%d %llu %llx %llu %s\n", (int)getpid(),
                     start_time(getpid()), (unsigned long long)job, netns(), out->cpus);
        write_record(fd, keep, mine);
        close(fd); /* and the lock */
    }
    free(keep);
    hwloc_bitmap_free(taken);
    hwloc_topology_destroy(topo);
    return rc;
}

void mome_topo_unbind(void)
{
    char *keep = NULL;
    int fd = open_record();
    if (fd < 0)
        return;
    hwloc_bitmap_t taken = hwloc_bitmap_alloc();
    read_record(fd, 0, taken, &keep); /* every live line but this process's */
    write_record(fd, keep, NULL);
    close(fd);
    free(keep);
    hwloc_bitmap_free(taken);
}

int mome_topo_describe(int fd, int mode)
{
    hwloc_topology_t topo;
    if (load(&topo) < 0)
        return -EIO;
    int pk = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    int numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    mome_fdprintf(fd,
                  "hwloc %s: %d package(s), %d NUMA node(s), %d core(s), %d hardware thread(s)\n",
                  HWLOC_VERSION, pk, numa, cores, pus);
    for (int i = 0; i < numa; i++) {
        hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
        char cpus[128];
        hwloc_bitmap_list_snprintf(cpus, sizeof(cpus), n->cpuset);
        mome_fdprintf(fd, "  NUMA node %u: %llu MiB, cpus %s\n", n->os_index,
                      (unsigned long long)(n->attr ? n->attr->numanode.local_memory >> 20 : 0),
                      cpus);
    }
    for (int i = 0; i < cores; i++) {
        hwloc_obj_t c = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
        char cpus[128];
        hwloc_bitmap_list_snprintf(cpus, sizeof(cpus), c->cpuset);
        mome_fdprintf(fd, "  core %d: cpus %s\n", i, cpus);
    }

    /* What a job started now would get: the record of other jobs' cores is read, not written. */
    hwloc_bitmap_t taken = hwloc_bitmap_alloc();
    char *keep = NULL;
    int others = 0, rfd = open_record();
    if (rfd >= 0) {
        others = read_record(rfd, 0, taken, &keep);
        close(rfd);
    }
    free(keep);
    if (others) {
        char list[128];
        hwloc_bitmap_list_snprintf(list, sizeof(list), taken);
        mome_fdprintf(fd, "bound by other jobs now: cpus %s (%d node(s), %s)\n", list, others,
                      bind_file());
    }
    if (mode == MOME_BIND_NONE) {
        mome_fdprintf(fd, "binding (MOME_BIND=none): nodes run where the OS puts them\n");
    } else {
        int n = mode == MOME_BIND_NUMA ? numa : cores;
        mome_fdprintf(fd,
                      "binding (MOME_BIND=%s) of a job's nodes on this machine, by local rank "
                      "(under a launcher; a program started alone is not bound); each node's "
                      "progress thread runs on its node's cpus:\n",
                      mode == MOME_BIND_NUMA ? "numa" : "core");
        for (int r = 0; r < (n < 1 ? 1 : n) + 1 && r < 64; r++) {
            mome_topo_place_t p = {.index = -1};
            if (choose(topo, mode, r, taken, others, &p) == 0)
                mome_fdprintf(fd, "  local rank %d: %s%s\n", r, p.where,
                              r >= p.nfree
                                  ? " (shared with a node of the same job: more nodes than "
                                    "free places)"
                                  : "");
            else
                mome_fdprintf(fd, "  local rank %d: not bound: %s\n", r, p.why);
        }
    }
    hwloc_bitmap_free(taken);
    hwloc_topology_destroy(topo);
    return 0;
}
