/*
 * netif.c - this machine's identity and interfaces, and the choice of the interfaces that reach
 * the job's other machines (same IP network).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/netif.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

uint64_t mome_netif_host_id(void)
{
    uint64_t h = 0xcbf29ce484222325ull;
    char boot[64] = "";
    struct stat st;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

    if (f) {
        if (!fgets(boot, sizeof(boot), f))
            boot[0] = 0;
        fclose(f);
    }
    if (!boot[0]) /* no /proc: the host name is the next best thing */
        gethostname(boot, sizeof(boot) - 1);
    h = fnv(h, boot, strlen(boot));
    if (stat("/proc/self/ns/net", &st) == 0) {
        h = fnv(h, &st.st_ino, sizeof(st.st_ino));
        h = fnv(h, &st.st_dev, sizeof(st.st_dev));
    }
    return h;
}

static int prefix_len(const unsigned char *mask, size_t n)
{
    int bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += __builtin_popcount(mask[i]);
    return bits;
}

int mome_netif_list(mome_netif_t *out, int max)
{
    struct ifaddrs *ifa, *i;
    int n = 0;

    if (getifaddrs(&ifa) < 0)
        return -errno;
    for (i = ifa; i && n < max; i = i->ifa_next) {
        mome_netif_t *e = &out[n];
        if (!i->ifa_addr || !i->ifa_netmask || !(i->ifa_flags & IFF_UP) ||
            strlen(i->ifa_name) >= MOME_NETIF_NAME)
            continue;
        memset(e, 0, sizeof(*e));
        if (i->ifa_addr->sa_family == AF_INET) {
            e->family = 4;
            memcpy(e->addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
            e->prefix = (uint8_t)prefix_len(
                (const unsigned char *)&((struct sockaddr_in *)i->ifa_netmask)->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(a))
                continue; /* fe80::/10 is on every link: it says nothing of reachability */
            e->family = 6;
            memcpy(e->addr, a, 16);
            e->prefix = (uint8_t)prefix_len(
                (const unsigned char *)&((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, 16);
        } else {
            continue;
        }
        e->loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
        strcpy(e->name, i->ifa_name);
        n++;
    }
    freeifaddrs(ifa);
    return n;
}

/* Same network: the first `prefix` bits of both addresses agree. */
static int same_net(const mome_netif_t *a, const mome_netif_t *b)
{
    int bits = a->prefix, bytes = a->family == 4 ? 4 : 16;
    if (a->family != b->family || bits == 0 || bits > bytes * 8)
        return 0;
    if (memcmp(a->addr, b->addr, (size_t)bytes) == 0)
        return 0; /* the same address: a copy of this host's own, not another machine */
    if (memcmp(a->addr, b->addr, (size_t)(bits / 8)) != 0)
        return 0;
    if (bits % 8) {
        uint8_t m = (uint8_t)(0xff << (8 - bits % 8));
        if ((a->addr[bits / 8] & m) != (b->addr[bits / 8] & m))
            return 0;
    }
    return 1;
}

/* Is name one of the comma-separated names of list? */
static int listed(const char *list, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p++)
        if ((p == list || p[-1] == ',') && (p[nl] == ',' || p[nl] == 0))
            return 1;
    return 0;
}

int mome_netif_choose(const mome_netif_t *mine, int nmine, const mome_netif_t *theirs,
                      int ntheirs, char *devs, size_t len)
{
    int count = 0;
    size_t used = 0;

    if (len)
        devs[0] = 0;
    for (int i = 0; i < nmine; i++) {
        int hit = 0;
        if (mine[i].loopback || listed(devs, mine[i].name))
            continue;
        for (int j = 0; j < ntheirs && !hit; j++)
            hit = !theirs[j].loopback && same_net(&mine[i], &theirs[j]);
        if (!hit)
            continue;
        int w = snprintf(devs + used, len - used, "%s%s", count ? "," : "", mine[i].name);
        if (w < 0 || (size_t)w >= len - used) {
            devs[used] = 0;
            break;
        }
        used += (size_t)w;
        count++;
    }
    return count;
}
