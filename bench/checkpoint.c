/*
 * checkpoint.c - checkpoint throughput (MiB/s of changed pages) against a plain write + fsync of
 * the same bytes in the same run, and the cost of reopening (first touch reads from the
 * repository). Every node owns a share of a MOME_PERSIST segment of MIB MiB, changes a fraction
 * of its pages, and the job checkpoints; then every node writes the same number of bytes to a file
 * of its own in the repository's directory and fsyncs it (and the directory), timed the same way.
 *
 *   checkpoint MIB [PERCENT_CHANGED [ROUNDS]]       (MOME_REPOSITORY: where both write)
 *
 * Output (node 0): "checkpoint nodes N MiB M changed C% ckpt_s S ckpt_MiBs X write_fsync_s S2
 * write_fsync_MiBs Y ratio R" per round, then the best round.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mome.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The baseline: n bytes of buf written to a new file of dir, fsync'd, the directory too. */
static int write_fsync(const char *dir, int me, int round, const uint8_t *buf, size_t n)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/bench-plain.%d.%d", dir, me, round);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    for (size_t done = 0; done < n;) {
        size_t len = n - done < (4u << 20) ? n - done : (4u << 20);
        ssize_t w = write(fd, buf + done, len);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    int rc = fsync(fd);
    close(fd);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    unlink(path);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 64;
    unsigned pct = argc > 2 ? (unsigned)atoi(argv[2]) : 100;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    const char *dir = getenv("MOME_REPOSITORY") ? getenv("MOME_REPOSITORY") : "./mome-repo";
    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "checkpoint: %s\n", MomeError());
        return 1;
    }
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    uint64_t size = mib << 20, npages = size / ps;
    int h = MomeSegOpen("bench-checkpoint", size, MOME_CREATE | MOME_PERSIST);
    uint8_t *a = h < 0 ? MOME_MAP_FAILED
                       : MomeMMap(NULL, size, MOME_READ | MOME_WRITE, 0, h, 0);
    if (a == MOME_MAP_FAILED) {
        fprintf(stderr, "checkpoint: a persistent segment of %llu MiB: %s\n",
                (unsigned long long)mib, MomeError());
        return 1;
    }
    uint64_t first = npages * (uint64_t)me / (uint64_t)n;
    uint64_t last = npages * (uint64_t)(me + 1) / (uint64_t)n;
    uint64_t changed = 0;
    uint8_t *plain = malloc((size_t)((last - first) * ps));
    if (!plain) {
        fprintf(stderr, "checkpoint: out of memory\n");
        return 1;
    }
    memset(plain, 0x5a, (size_t)((last - first) * ps));
    double best_c = 0, best_w = 0;
    for (int r = 0; r < rounds; r++) {
        /* Change pct% of this node's pages (spread evenly), every byte of each. */
        changed = 0;
        for (uint64_t p = first; p < last; p++)
            if (p % 100 < pct) {
                memset(a + p * ps, (int)(r * 31 + p + 1), ps);
                changed++;
            }
        MomeBarrier();
        double t0 = now();
        if (MomeCheckpoint(h) < 0) {
            fprintf(stderr, "checkpoint: MomeCheckpoint: %s\n", MomeError());
            return 1;
        }
        double tc = now() - t0;
        MomeBarrier();
        t0 = now();
        if (write_fsync(dir, me, r, plain, (size_t)(changed * ps)) < 0) {
            perror("checkpoint: write + fsync");
            return 1;
        }
        MomeBarrier();
        double tw = now() - t0;
        uint64_t total = changed * (uint64_t)n; /* the shares are equal to a page */
        double mibs = (double)(total * ps) / 1048576.0;
        if (me == 0)
            printf("checkpoint nodes %d MiB %llu changed %u%% ckpt_s %.3f ckpt_MiBs %.1f "
                   "write_fsync_s %.3f write_fsync_MiBs %.1f ratio %.2f\n",
                   n, (unsigned long long)mib, pct, tc, mibs / tc, tw, mibs / tw, tw / tc);
        if (r == 0 || mibs / tc > best_c)
            best_c = mibs / tc;
        if (r == 0 || mibs / tw > best_w)
            best_w = mibs / tw;
    }
    if (me == 0)
        printf("checkpoint best: %.1f MiB/s checkpoint, %.1f MiB/s write + fsync (%.0f%%)\n",
               best_c, best_w, 100.0 * best_c / best_w);
    free(plain);
    MomeBarrier();
    if (me == 0)
        MomeSegUnlink("bench-checkpoint");
    MomeFinalize();
    return 0;
}
