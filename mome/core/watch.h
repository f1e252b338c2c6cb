/*
 * watch.h - private: a node says what it waits for, in one line: when it is stopped by SIGTERM or
 * SIGINT (then it flushes the program's buffered output and exits), or when its launcher asks
 * (mome-run --stuck-after). The line is built on the progress thread, which owns the state read.
 */
#ifndef MOME_CORE_WATCH_H
#define MOME_CORE_WATCH_H

/* MomeInit, once the progress thread runs (before the HELLOs): take SIGTERM and SIGINT if the
 * program left them at their default, and listen to the launcher's REPORT. */
void mome_watch_start(void);
/* MomeInit, around UCX's start: SIGTERM, SIGINT and SIGHUP, if at their default, are held, then
 * acted on (the process ends) once UCX has unlinked its shared-memory files. */
void mome_watch_hold(void);
void mome_watch_release(void);
/* MomeFinalize, before the progress thread stops: give the signals back. */
void mome_watch_stop(void);

#endif
