/*
 * runner.c - the one Check runner of tests/unit: every module's suite, CK_ENV output, each test in
 * its own process unless CK_FORK=no (for gdb, valgrind and the sanitizers).
 */
#include <stdlib.h>

#include "unit.h"

int main(void)
{
    SRunner *sr = srunner_create(wire_suite());
    int failed;

    srunner_add_suite(sr, msg_suite());
    srunner_add_suite(sr, directory_suite());
    srunner_add_suite(sr, clock_suite());
    srunner_add_suite(sr, page_suite());
    srunner_add_suite(sr, config_suite());
    srunner_add_suite(sr, heap_suite());
    srunner_add_suite(sr, diff_suite());
    srunner_add_suite(sr, requester_suite());
    srunner_add_suite(sr, holder_suite());
    srunner_add_suite(sr, owner_suite());
    srunner_add_suite(sr, release_suite());
    srunner_add_suite(sr, sync_suite());
    srunner_add_suite(sr, segment_suite());
    srunner_add_suite(sr, store_suite());
    srunner_add_suite(sr, memory_suite());
    srunner_add_suite(sr, repo_suite());
    srunner_add_suite(sr, checkpoint_suite());
    srunner_add_suite(sr, evict_suite());
    srunner_add_suite(sr, trace_suite());
    srunner_add_suite(sr, netif_suite());
    srunner_add_suite(sr, transport_suite());
    srunner_add_suite(sr, watch_suite());
    srunner_set_fork_status(sr, CK_FORK_GETENV);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
