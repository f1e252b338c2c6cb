/*
 * fault.c - fault notification through userfaultfd.
 *
 * A faulting thread (or the kernel, for read(2) and friends into a Mome buffer) sleeps in the
 * kernel until the progress thread maps the page, so no signal handler runs and kernel accesses
 * behave as on plain memory. Faults outside Mome views never reach here: only registered ranges
 * report to the userfaultfd, so other handlers and signals are untouched.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <unistd.h>

#include "memory/fault.h"
#include "base/log.h"
#include "memory/memory.h"
#include "base/stats.h"

#define BATCH 32

static mome_fault_handler_t handler;

void mome_fault_set_handler(mome_fault_handler_t h)
{
    handler = h;
}

int mome_fault_poll(void)
{
    struct uffd_msg msgs[BATCH];
    ssize_t n = read(mome_mem_uffd(), msgs, sizeof(msgs));
    uint64_t t0;

    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            mome_fatal("reading userfaultfd failed: %m: faulting threads would wait for ever; "
                       "stopping");
        return 0;
    }
    t0 = mome_now_ns();
    n /= (ssize_t)sizeof(msgs[0]);
    for (ssize_t i = 0; i < n; i++) {
        if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
            continue;
        uint64_t fl = msgs[i].arg.pagefault.flags;
        int write = !!(fl & (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP));
        handler((char *)(uintptr_t)msgs[i].arg.pagefault.address, write, t0);
    }
    return (int)n;
}
