/*
 * fault.h - private: fault notification. Reads userfaultfd events and hands each fault to the
 * consistency layer. Knows nothing of the transport. Progress thread only.
 */
#ifndef MOME_FAULT_H
#define MOME_FAULT_H

/* Handle every pending fault; returns how many were read (0 when none). */
int mome_fault_poll(void);

#endif
