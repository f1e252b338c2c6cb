/*
 * diff.h - private: a page's modifications as the XOR of the page and its twin, encoded compactly.
 *
 * Encoding: a sequence of runs {u32 offset, u32 length, length bytes of page XOR twin}, little
 * endian, offsets increasing. Runs are split only at an aligned 8-byte word of zeros (at least a
 * run header's worth), shorter gaps stay inside a run (XOR with zero changes nothing). When the runs would not be smaller than the page, the diff is
 * the whole XOR page instead (mome_diff_encode says which). Applying XORs the bytes into a page:
 * concurrent writers of distinct bytes merge without loss.
 */
#ifndef MOME_DIFF_H
#define MOME_DIFF_H

#include <stddef.h>
#include <stdint.h>

#define MOME_DIFF_RUN_HDR 8

/* Bytes that differ between page and twin (for statistics and tests). */
size_t mome_diff_count(const uint8_t *page, const uint8_t *twin, size_t len);

/*
 * Encode page XOR twin into out (capacity len). Returns the encoded size and sets *full when out
 * holds the whole XOR page (len bytes) rather than runs; 0 means no byte changed.
 */
size_t mome_diff_encode(const uint8_t *page, const uint8_t *twin, size_t len, uint8_t *out,
                        int *full);

/* XOR an encoded diff (runs, or the full XOR page when full) into page. -EINVAL if malformed. */
int mome_diff_apply(uint8_t *page, size_t len, const uint8_t *diff, size_t dlen, int full);

/*
 * The same into a page that application threads may be writing at the same moment: only bytes
 * the diff changes are stored, one at a time, so a concurrent write of another byte of the same
 * word is never overwritten by a wider read-modify-write.
 */
int mome_diff_apply_sparse(uint8_t *page, size_t len, const uint8_t *diff, size_t dlen, int full);

#endif
