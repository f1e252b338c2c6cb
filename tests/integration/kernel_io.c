/*
 * kernel_io.c - the kernel reads and writes Mome pages on the application's behalf as if they were
 * plain memory: read(2) from a file into pages another node holds, and write(2) from such pages.
 * Neither may fail with EFAULT or move the wrong bytes.
 */
#include <fcntl.h>
#include <unistd.h>

#include "itest.h"

#define PAGES 16

static uint8_t byte_at(size_t i, int salt)
{
    return (uint8_t)((i * 131u + (size_t)salt * 7u) ^ (i >> 9));
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize(), len = ps * PAGES;
    uint8_t *a = itest_map("kio", len * 2, NULL); /* [0,len): read(2) target; [len,2len): source */
    char path[] = "/tmp/mome-kio-XXXXXX";
    int reader = n - 1;

    /* Node 0 writes both halves: it holds every page writable. */
    if (me == 0) {
        memset(a, 0x5a, len);
        for (size_t i = 0; i < len; i++)
            a[len + i] = byte_at(i, 1);
    }
    MomeBarrier();
    if (me == reader) {
        int fd = mkstemp(path);
        CHECK(fd >= 0, "mkstemp");
        unlink(path);
        uint8_t *buf = malloc(len);
        for (size_t i = 0; i < len; i++)
            buf[i] = byte_at(i, 2);
        CHECK(write(fd, buf, len) == (ssize_t)len, "preparing the file");
        /* read(2) straight into pages held by node 0: the kernel faults on them. */
        CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
        ssize_t got = read(fd, a, len);
        CHECK(got == (ssize_t)len, "read(2) into Mome pages returned %zd (errno %d)", got, errno);
        CHECK(memcmp(a, buf, len) == 0, "read(2) put the wrong bytes");
        /* write(2) from pages held by node 0. */
        CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0, "truncate");
        ssize_t put = write(fd, a + len, len);
        CHECK(put == (ssize_t)len, "write(2) from Mome pages returned %zd (errno %d)", put, errno);
        CHECK(pread(fd, buf, len, 0) == (ssize_t)len, "pread back");
        for (size_t i = 0; i < len; i++)
            CHECK(buf[i] == byte_at(i, 1), "write(2) wrote byte %zu wrong", i);
        /* A pipe: vmsplice-free, but another copy path (pipe_write / pipe_read). */
        int pf[2];
        CHECK(pipe(pf) == 0, "pipe");
        CHECK(write(pf[1], a + len, ps) == (ssize_t)ps, "pipe write");
        CHECK(read(pf[0], buf, ps) == (ssize_t)ps, "pipe read");
        CHECK(memcmp(buf, a + len, ps) == 0, "pipe bytes");
        close(pf[0]);
        close(pf[1]);
        close(fd);
        free(buf);
    }
    MomeBarrier();
    /* Everyone sees what the kernel wrote into the shared pages. */
    for (size_t i = 0; i < len; i++)
        CHECK(a[i] == byte_at(i, 2), "byte %zu read(2) by node %d not seen on node %d", i, reader,
              me);
    MomeBarrier();
    if (me == 0)
        printf("kernel I/O: read(2) into and write(2) from pages held by another node moved the "
               "right %zu bytes\n", len);
    MomeFinalize();
    return 0;
}
