/*
 * test_netif.c - choosing the interfaces that reach the job's other machines: the same IP
 * network (IPv4 and IPv6 prefixes), never loopback, never an address that is this host's own,
 * each interface once; and the host identity is stable within a process.
 */
#include <arpa/inet.h>
#include <string.h>

#include "net/netif.h"
#include "unit.h"

static mome_netif_t nif(const char *name, const char *addr, int prefix)
{
    mome_netif_t e;
    memset(&e, 0, sizeof(e));
    strcpy(e.name, name);
    if (strchr(addr, ':')) {
        e.family = 6;
        ck_assert_int_eq(inet_pton(AF_INET6, addr, e.addr), 1);
    } else {
        e.family = 4;
        ck_assert_int_eq(inet_pton(AF_INET, addr, e.addr), 1);
    }
    e.prefix = (uint8_t)prefix;
    e.loopback = !strcmp(name, "lo");
    return e;
}

START_TEST(test_netif__same_network_is_chosen)
{
    mome_netif_t mine[] = {nif("lo", "127.0.0.1", 8), nif("eth0", "192.168.1.5", 24),
                           nif("ib0", "10.0.0.5", 16)};
    mome_netif_t theirs[] = {nif("lo", "127.0.0.1", 8), nif("eth0", "10.0.3.9", 16)};
    char devs[64];

    ck_assert_int_eq(mome_netif_choose(mine, 3, theirs, 2, devs, sizeof(devs)), 1);
    ck_assert_str_eq(devs, "ib0");
}
END_TEST

START_TEST(test_netif__prefix_bits_are_honoured)
{
    mome_netif_t mine[] = {nif("eth0", "10.1.2.130", 25)};
    mome_netif_t near[] = {nif("eth0", "10.1.2.200", 25)};
    mome_netif_t far[] = {nif("eth0", "10.1.2.10", 25)}; /* the other half of the /24 */
    char devs[64];

    ck_assert_int_eq(mome_netif_choose(mine, 1, near, 1, devs, sizeof(devs)), 1);
    ck_assert_int_eq(mome_netif_choose(mine, 1, far, 1, devs, sizeof(devs)), 0);
    ck_assert_str_eq(devs, "");
}
END_TEST

START_TEST(test_netif__loopback_and_own_address_never_chosen)
{
    mome_netif_t mine[] = {nif("lo", "127.0.0.1", 8), nif("docker0", "172.17.0.1", 16)};
    /* Another machine with the same loopback and the same default docker bridge address. */
    mome_netif_t theirs[] = {nif("lo", "127.0.0.1", 8), nif("docker0", "172.17.0.1", 16)};
    char devs[64];

    ck_assert_int_eq(mome_netif_choose(mine, 2, theirs, 2, devs, sizeof(devs)), 0);
}
END_TEST

START_TEST(test_netif__each_interface_once)
{
    mome_netif_t mine[] = {nif("eth1", "10.9.0.1", 24), nif("eth1", "fd00:9::1", 64),
                           nif("eth2", "10.8.0.1", 24)};
    mome_netif_t theirs[] = {nif("eth0", "10.9.0.2", 24), nif("eth0", "fd00:9::2", 64),
                             nif("eth0", "10.8.0.2", 24)};
    char devs[64];

    ck_assert_int_eq(mome_netif_choose(mine, 3, theirs, 3, devs, sizeof(devs)), 2);
    ck_assert_str_eq(devs, "eth1,eth2");
}
END_TEST

START_TEST(test_netif__short_buffer_keeps_whole_names)
{
    mome_netif_t mine[] = {nif("eth1", "10.9.0.1", 24), nif("eth2", "10.8.0.1", 24)};
    mome_netif_t theirs[] = {nif("eth0", "10.9.0.2", 24), nif("eth0", "10.8.0.2", 24)};
    char devs[8];

    ck_assert_int_eq(mome_netif_choose(mine, 2, theirs, 2, devs, sizeof(devs)), 1);
    ck_assert_str_eq(devs, "eth1");
}
END_TEST

START_TEST(test_netif__host_id_is_stable_and_interfaces_listed)
{
    mome_netif_t l[MOME_NETIF_MAX];
    int n = mome_netif_list(l, MOME_NETIF_MAX), lo = 0;

    ck_assert_uint_eq(mome_netif_host_id(), mome_netif_host_id());
    ck_assert_int_ge(n, 0);
    for (int i = 0; i < n; i++) {
        ck_assert(l[i].family == 4 || l[i].family == 6);
        lo |= l[i].loopback;
    }
    ck_assert_msg(lo, "the loopback interface is not among the %d addresses listed", n);
}
END_TEST

Suite *netif_suite(void)
{
    Suite *s = suite_create("netif");
    UNIT_CASE(s, test_netif__same_network_is_chosen);
    UNIT_CASE(s, test_netif__prefix_bits_are_honoured);
    UNIT_CASE(s, test_netif__loopback_and_own_address_never_chosen);
    UNIT_CASE(s, test_netif__each_interface_once);
    UNIT_CASE(s, test_netif__short_buffer_keeps_whole_names);
    UNIT_CASE(s, test_netif__host_id_is_stable_and_interfaces_listed);
    return s;
}
