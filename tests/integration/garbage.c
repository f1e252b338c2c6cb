/*
 * garbage.c - a stranger on this machine: connects to each TCP port given (on 127.0.0.1) and
 * writes garbage: random bytes, bytes that look like a start of UCX's or Mome's framing, a huge
 * length, then closes. Bounded: a few connections per port, each with a short send timeout.
 *
 *   garbage PORT...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int hit(int port, const void *buf, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {1, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
        ok = send(fd, buf, len, MSG_NOSIGNAL) > 0;
    close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    unsigned char rnd[65536], big[64];
    int sent = 0, tries = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: garbage PORT...\n");
        return 2;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return 1;
    memset(big, 0xff, sizeof(big)); /* lengths and counts at their maximum */
    for (int i = 1; i < argc; i++) {
        int port = atoi(argv[i]);
        const struct {
            const void *p;
            size_t len;
        } what[] = {{rnd, 1}, {rnd, 7}, {rnd, 64}, {rnd, 4096}, {rnd, sizeof(rnd)}, {big, 64},
                    {"\x54\x42\x48\x4d", 4}, {"GET / HTTP/1.0\r\n\r\n", 18}};
        for (size_t k = 0; k < sizeof(what) / sizeof(what[0]); k++) {
            tries++;
            sent += hit(port, what[k].p, what[k].len);
        }
    }
    printf("garbage: %d of %d connections to %d port(s) took bytes\n", sent, tries, argc - 1);
    return 0;
}
