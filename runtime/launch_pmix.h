/*
 * launch_pmix.h - mome-run across machines: a job given hosts (-H, --hostfile) is started through
 * an installed PMIx launcher (prterun of PRRTE, or mpirun of Open MPI), whose processes join the
 * job through the library's PMIx backend. mome-run stays in front: exit status, time limit and
 * signals as for a job on this machine.
 */
#ifndef MOME_RUN_LAUNCH_PMIX_H
#define MOME_RUN_LAUNCH_PMIX_H

#include <signal.h>
#include <stdbool.h>

/* One program of the command line: argv (NULL-terminated) and its node count (0: not given). */
struct pmix_block {
    char **argv;
    int count;
};

struct pmix_job {
    const char *hosts;    /* -H host[:slots],...  (or NULL) */
    const char *hostfile; /* --hostfile FILE       (or NULL) */
    const char *launcher; /* --launcher PATH       (or NULL: prterun, then mpirun, in PATH) */
    double timeout_s;     /* 0: none */
    bool quiet;
    bool dry_run;         /* --dry-run: print the launcher's command line, run nothing */
    const char **exports; /* variable names given with -x, count nexports */
    int nexports;
};

/* mome-run.c: add sig to set unless it was ignored when mome-run started (nohup); and take
 * SIGCHLD back from SIG_IGN, inherited across exec, under which the kernel reaps the children
 * itself and mome-run would wait for them for ever. */
void watch_signal(sigset_t *set, int sig);
void watch_children(sigset_t *set);

/* Check the hosts (exits 2 with a message naming the bad entry), find the launcher (exits 125
 * naming what to install if there is none), run the job; returns mome-run's exit status. */
int pmix_launch(const struct pmix_job *job, const struct pmix_block *blocks, int nblocks);

#endif
