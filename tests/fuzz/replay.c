/*
 * replay.c - runs a fuzz target's LLVMFuzzerTestOneInput once on every file named, or in the
 * directories named (default: the target's corpus and crashes under FUZZ_DIR), without libFuzzer:
 * how make check replays what the fuzzers found, with the project's normal compiler.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0, n;

    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    /* An exact-size copy, as libFuzzer gives it, so that overreads stay visible to tools. */
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of a directory in name order (hidden ones, such as .gitkeep, are not inputs). */
static int run_path(const char *path, int *count)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        ++*count;
        return run_file(path);
    }
    if (!(d = opendir(path)))
        return -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
        sprintf(names[n++], "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && run_path(names[i], count) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int count = 0, rc = 0;

    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            rc |= run_path(argv[i], &count);
    } else {
        const char *dir = getenv("FUZZ_DIR") ? getenv("FUZZ_DIR") : FUZZ_DIR;
        char path[4096];
        snprintf(path, sizeof(path), "%s/corpus/%s", dir, FUZZ_TARGET);
        rc |= run_path(path, &count);
        snprintf(path, sizeof(path), "%s/crashes/%s", dir, FUZZ_TARGET);
        rc |= run_path(path, &count);
    }
    printf("%s: replayed %d inputs\n", FUZZ_TARGET, count);
    return rc ? 1 : 0;
}
