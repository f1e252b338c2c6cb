/*
 * model.c - the table of consistency models.
 */
#include <stddef.h>

#include "coherence/model.h"
#include "mome.h"

static const mome_model_t *const models[] = {
    [MOME_STRONG] = &mome_model_strong,
    [MOME_RELEASE] = &mome_model_release,
    [MOME_WEAK] = &mome_model_weak,
};

uint32_t mome_model_mask(void)
{
    uint32_t m = 0;
    for (size_t id = 0; id < sizeof(models) / sizeof(models[0]); id++)
        if (models[id])
            m |= 1u << id;
    return m;
}

const mome_model_t *mome_model_get(int id)
{
    if (id <= 0 || (size_t)id >= sizeof(models) / sizeof(models[0]))
        return NULL;
    return models[id];
}

const mome_model_t *mome_model_of_id(uint8_t id)
{
    const mome_model_t *m = mome_model_get(id);
    return m ? m : &mome_model_strong;
}
