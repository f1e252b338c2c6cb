/*
 * netif.h - private: which machine this node is on, and which of its network interfaces reach
 * the job's other machines, so that the transport listens and connects only there (loopback
 * when the whole job is on one machine). Pure helpers over getifaddrs; any thread.
 */
#ifndef MOME_NET_NETIF_H
#define MOME_NET_NETIF_H

#include <stddef.h>
#include <stdint.h>

#define MOME_NETIF_NAME 16 /* IFNAMSIZ */
#define MOME_NETIF_MAX 32  /* addresses of one machine taken into account */

/* One address of an interface that is up, as it travels between nodes (fixed size, no pointer). */
typedef struct mome_netif {
    char name[MOME_NETIF_NAME];
    uint8_t family; /* 4 or 6 */
    uint8_t prefix; /* network prefix length in bits */
    uint8_t loopback;
    uint8_t pad;
    uint8_t addr[16];
} mome_netif_t;

/* A number that differs between machines, and between network namespaces of one machine (each
 * is its own host for the network): a hash of the kernel's boot id and the namespace. */
uint64_t mome_netif_host_id(void);

/* This machine's interface addresses that are up (loopback ones too, flagged); at most max.
 * Returns the count, or -errno. */
int mome_netif_list(mome_netif_t *out, int max);

/*
 * The interfaces of mine (comma-separated names in devs) on a network that one of theirs (the
 * other machines' addresses) is on. Returns how many; 0 if none is (devs is then empty).
 */
int mome_netif_choose(const mome_netif_t *mine, int nmine, const mome_netif_t *theirs,
                      int ntheirs, char *devs, size_t len);

#endif
