/*
 * trace_forge.c - writes a trace file by hand, as a damaged or hostile one could be, for
 * trace.test: node 0 of 1, segments named with the bytes a reader must quote (markup characters,
 * quotes, backslashes, control bytes, bytes that are no UTF-8, valid UTF-8), each with a fault
 * on it, and then N more named segments with a fault each (mome-trace must stay fast with many
 * names). Only the file format of mome/base/trace.h is used: no library call.
 *
 *   trace_forge FILE [N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"

static FILE *out;
static uint64_t ns = 1000;

static void put(uint8_t kind, uint8_t flags, uint64_t seg, uint64_t page, uint32_t arg)
{
    mome_trace_rec_t r = {.ns = ns++,
                          .date = ns,
                          .seg = seg,
                          .page = page,
                          .arg = arg,
                          .peer = MOME_TRACE_NONE,
                          .kind = kind,
                          .flags = flags};
    if (fwrite(&r, sizeof(r), 1, out) != 1) {
        perror("trace_forge");
        exit(1);
    }
}

/* As the library does (base/trace.c, mome_trace_seg_name): chunks up to the one holding the NUL. */
static void name(uint64_t seg, const char *s)
{
    size_t len = strlen(s);
    for (size_t k = 0;
         k * MOME_TRACE_NAME_CHUNK <= len && k * MOME_TRACE_NAME_CHUNK < MOME_TRACE_NAME_MAX; k++) {
        char c[MOME_TRACE_NAME_CHUNK] = {0};
        uint64_t page;
        uint32_t arg;
        size_t off = k * MOME_TRACE_NAME_CHUNK;
        memcpy(c, s + off, len - off < sizeof(c) ? len - off : sizeof(c));
        memcpy(&page, c, 8);
        memcpy(&arg, c + 8, 4);
        put(MOME_TR_SEG_NAME, (uint8_t)k, seg, page, arg);
    }
}

int main(int argc, char **argv)
{
    static const char *const hostile[] = {
        "a<b>&c\"d'e\\f",           /* markup and quoting characters */
        "tab\there\x01\x1f\x7f",    /* control bytes */
        "bad\xff\xfe utf8 \xc3",    /* bytes that are no UTF-8, a sequence cut short */
        "caf\xc3\xa9 \xe2\x82\xac", /* valid UTF-8: kept as it is */
        "\xc2\x85 C1 \xed\xa0\x80", /* a C1 control character, a surrogate */
    };
    mome_trace_hdr_t h = {.version = MOME_TRACE_VERSION,
                          .hdr_size = sizeof(h),
                          .rec_size = sizeof(mome_trace_rec_t),
                          .node = 0,
                          .nnodes = 1,
                          .page_size = 4096,
                          .mono_ns = 0,
                          .real_ns = 1,
                          .pid = 1};
    long many = argc > 2 ? atol(argv[2]) : 0;
    char buf[64];

    if (argc < 2 || many < 0) {
        fprintf(stderr, "usage: trace_forge FILE [N]\n");
        return 2;
    }
    memcpy(h.magic, MOME_TRACE_MAGIC, sizeof(h.magic));
    snprintf(h.host, sizeof(h.host), "forge");
    out = fopen(argv[1], "wb");
    if (!out || fwrite(&h, sizeof(h), 1, out) != 1) {
        perror(argv[1]);
        return 1;
    }
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        name(i + 1, hostile[i]);
        put(MOME_TR_FAULT, MOME_TRF_WRITE, i + 1, 7, 0);
    }
    for (long i = 0; i < many; i++) {
        snprintf(buf, sizeof(buf), "segment number %ld of many", i);
        name(1000 + (uint64_t)i, buf);
        put(MOME_TR_FAULT, 0, 1000 + (uint64_t)i, (uint64_t)i, 0);
    }
    return fclose(out) == 0 ? 0 : 1;
}
