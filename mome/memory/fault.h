/*
 * fault.h - private: fault notification. Reads userfaultfd events and hands each fault to the
 * handler the coherence layer registered. Knows nothing of pages' states or of the transport.
 * Progress thread only.
 */
#ifndef MOME_MEMORY_FAULT_H
#define MOME_MEMORY_FAULT_H

#include <stdint.h>

/* A fault at addr (write: the access needs write permission), read from userfaultfd at t0 (ns). */
typedef void (*mome_fault_handler_t)(char *addr, int write, uint64_t t0);

void mome_fault_set_handler(mome_fault_handler_t h);

/* Handle every pending fault; returns how many were read (0 when none). */
int mome_fault_poll(void);

#endif
