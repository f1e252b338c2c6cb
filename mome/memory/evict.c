/*
 * evict.c - the table of eviction policies (one file each).
 */
#include <string.h>
#include <strings.h>

#include "memory/evict.h"

static const mome_evict_ops_t *const policies[] = {&mome_evict_fifo, &mome_evict_clock,
                                                   &mome_evict_random};

const mome_evict_ops_t *mome_evict_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
        if (!strcasecmp(policies[i]->name, name))
            return policies[i];
    return NULL;
}
