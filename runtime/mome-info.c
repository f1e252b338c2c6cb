/*
 * mome-info - print the Mome version, the transports UCX offers, the topology, and every MOME_*
 * knob with its value, default and meaning.
 */
#include <stdio.h>
#include <string.h>

#include "mome.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: mome-info [-v|--version] [-t|--transports] [-T|--topology] "
               "[-c|--config] [-h|--help]\n"
               "Without options, print everything.\n");
}

int main(int argc, char **argv)
{
    int what = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-v") || !strcmp(a, "--version"))
            what |= MOME_INFO_VERSION;
        else if (!strcmp(a, "-t") || !strcmp(a, "--transports"))
            what |= MOME_INFO_TRANSPORTS;
        else if (!strcmp(a, "-T") || !strcmp(a, "--topology"))
            what |= MOME_INFO_TOPOLOGY;
        else if (!strcmp(a, "-c") || !strcmp(a, "--config"))
            what |= MOME_INFO_CONFIG;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mome-info: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!what)
        what = MOME_INFO_ALL;
    fflush(stdout);
    if (MomeInfoPrint(1, what) < 0) {
        fprintf(stderr, "mome-info: %s\n", MomeError());
        return 1;
    }
    return 0;
}
