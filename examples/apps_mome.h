/*
 * apps_mome.h - what the Mome versions of the applications (strassen, sor, tsp) share: stopping
 * with a message on a failed call, and reading a consistency model from the command line. Define
 * APP_NAME (the program's name, for messages) before including it.
 */
#ifndef APPS_MOME_H
#define APPS_MOME_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mome.h>

/* Stop this node after a failed Mome call: "prog: node N: what: cause". */
static inline void apps_die(const char *what)
{
    char cause[256];

    snprintf(cause, sizeof(cause), "%s", MomeError()); /* before MomeNode(), which may reset it */
    fprintf(stderr, "%s: node %d: %s: %s\n", APP_NAME, MomeNode(), what, cause);
    exit(1);
}

/* MOME_STRONG, MOME_RELEASE or MOME_WEAK from "strong", "release" or "weak"; exits 2 otherwise. */
static inline int apps_model(const char *s)
{
    if (!strcmp(s, "strong"))
        return MOME_STRONG;
    if (!strcmp(s, "release"))
        return MOME_RELEASE;
    if (!strcmp(s, "weak"))
        return MOME_WEAK;
    fprintf(stderr, "%s: unknown model '%s' (strong, release or weak)\n", APP_NAME, s);
    exit(2);
}

#endif
