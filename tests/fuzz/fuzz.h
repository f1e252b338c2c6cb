/*
 * fuzz.h - what the fuzz targets share: a reader that turns the fuzzer's bytes into choices (an
 * exhausted input reads zeros, so every byte string is a valid program), and the interception of
 * mome_die so that a deliberate stop of the node rejects the input instead of ending the process.
 */
#ifndef MOME_FUZZ_H
#define MOME_FUZZ_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n, off;
} fuzz_in_t;

static inline int fuzz_left(const fuzz_in_t *in)
{
    return in->off < in->n;
}

static inline uint8_t fuzz_u8(fuzz_in_t *in)
{
    return in->off < in->n ? in->p[in->off++] : 0;
}

static inline uint64_t fuzz_u64(fuzz_in_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)fuzz_u8(in) << (8 * i);
    return v;
}

/* Copy up to len input bytes to out; the rest of out is zeros. */
static inline void fuzz_bytes(fuzz_in_t *in, void *out, size_t len)
{
    size_t k = in->n - in->off < len ? in->n - in->off : len;
    memcpy(out, in->p + in->off, k);
    memset((uint8_t *)out + k, 0, len - k);
    in->off += k;
}

/*
 * The targets are linked with -Wl,--wrap=mome_die: while fuzz_die_armed is set, a call to
 * mome_die (the node stopping the job on an inconsistent message) jumps back to fuzz_die_env,
 * after counting it; otherwise it stops the process as usual. FUZZ_VERBOSE=1 prints the reason.
 */
extern jmp_buf fuzz_die_env;
extern volatile int fuzz_die_armed;
extern unsigned long fuzz_die_count;
void fuzz_quiet_logs(void); /* library logging off unless FUZZ_VERBOSE is set */

#endif
