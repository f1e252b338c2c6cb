/*
 * watch.h - private: a node says what it waits for, in one line: when it is stopped by SIGTERM or
 * SIGINT (then it flushes the program's buffered output and exits), or when its launcher asks
 * (mome-run --stuck-after). The line is built on the progress thread, which owns the state read;
 * in MomeInit before it runs, on a thread of MomeInit's.
 */
#ifndef MOME_CORE_WATCH_H
#define MOME_CORE_WATCH_H

/* MomeInit, before it asks the launcher anything: take SIGTERM and SIGINT if the program left them
 * at their default, and listen to the launcher's REPORT. Until the progress thread runs, a thread
 * of MomeInit's says in one line which step of joining the job the node is in and what it waits
 * for ("waiting in MomeInit for 3.0 s (joining the job: exchanging start-up data through
 * mome-run: nodes 1 not in MomeInit yet)"), when asked, or when stopped by one of those signals
 * (it then ends the node, as the progress thread does later). */
void mome_watch_join_begin(void);
/* What MomeInit waits for besides the launcher's exchanges and UCX's start, which are known
 * (a static string; NULL: nothing else). */
void mome_watch_join_stage(const char *what);
/* MomeInit failed: the signals are given back. */
void mome_watch_join_end(void);
/* MomeInit, once the progress thread runs (before the HELLOs): from now on it says what the node
 * waits for; without mome_watch_join_begin before, take SIGTERM and SIGINT here. */
void mome_watch_start(void);
/* MomeInit, around UCX's start: SIGTERM, SIGINT and SIGHUP, if at their default, are held, then
 * acted on (the process ends) once UCX has unlinked its shared-memory files. */
void mome_watch_hold(void);
void mome_watch_release(void);
/* MomeInit, around its connections to the other nodes (UCX on its thread): a node stopped
 * meanwhile ends by the signal's default action, its line said, not by exit (whose handlers
 * would tear UCX down under that thread). */
void mome_watch_in_ucx(int on);
/* MomeFinalize, before the progress thread stops: give the signals back. */
void mome_watch_stop(void);

#endif
