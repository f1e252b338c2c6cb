/*
 * mome-repo - inspect and manage a repository of MOME_PERSIST segments: list, verify, remove,
 * export, import and compact them. Unlike the other tools, it links the repository layer
 * (mome/repo/) directly rather than going through mome.h: it works on the files, with no job.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ac_config.h"
#include "repo/repo.h"

static const char *repo_dir;
static int parsable;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mome-repo [-r DIR] [-p] COMMAND [ARGS]\n"
            "  ls                  list the segments: name, size, pages stored, generation, last\n"
            "                      checkpoint, state (closed, open by a job, locked)\n"
            "  verify [NAME]       check every checksum (head, indexes, stored pages) of NAME or of\n"
            "                      every segment; exit status 1 on any problem\n"
            "  rm NAME             remove a segment no job has open\n"
            "  export NAME FILE    write the last checkpoint as a flat image of the segment's bytes\n"
            "  import NAME FILE    a new segment holding FILE's bytes (-P PAGESIZE, default\n"
            "                      MOME_PAGE_SIZE or 4096), checkpointed\n"
            "  compact NAME        rewrite the live pages into one file, dropping superseded ones\n"
            "options: -r DIR the repository (default $MOME_REPOSITORY, else ./mome-repo);\n"
            "         -p exact numbers in ls (bytes, seconds since the epoch)\n");
}

/* A name as the terminal should show it: non-printable bytes as \xNN. */
static const char *shown(const char *name, char *buf, size_t len)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && n + 5 < len; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            buf[n++] = (char)*p;
        else
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", *p);
    }
    buf[n] = 0;
    return buf;
}

static const char *human(uint64_t b, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    int u = 0;
    if (parsable) {
        snprintf(buf, len, "%llu", (unsigned long long)b);
        return buf;
    }
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

static const char *when(uint64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    if (parsable) {
        snprintf(buf, len, "%lld", (long long)t);
        return buf;
    }
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* ---- ls ---- */

static int ls_one(const char *dirname, void *arg)
{
    mome_repo_head_t h;
    char err[1200], who[400], name[1100], size[32], date[32], state[500];
    int *bad = arg, locked;

    locked = mome_repo_locked(repo_dir, dirname, who, sizeof(who));
    if (locked > 0)
        snprintf(state, sizeof(state), "%s (%s)",
                 strncmp(who, "mome-repo", 9) == 0 ? "locked"
                 : strncmp(who, "momed", 5) == 0   ? "served by momed"
                                                   : "open by a job",
                 who);
    else if (locked < 0)
        snprintf(state, sizeof(state), "unknown (%s)", strerror(-locked));
    else
        snprintf(state, sizeof(state), "closed");
    int prc = mome_repo_peek(repo_dir, dirname, &h, err, sizeof(err));
    if (prc < 0) {
        /* No head and no data: being created now, or a creation was interrupted (the next job
         * or command sweeps it), or removed meanwhile: not damage, as verify says (ls exited 1
         * on a job creating a segment while it ran: helper-108). */
        printf("%-20s %10s %9s %5s %-19s  %s\n", shown(dirname, name, sizeof(name)), "?", "?", "?",
               "?",
               locked > 0       ? state
               : prc == -ENOENT ? "no head yet (being created, or its creation was interrupted)"
                                : "incomplete or damaged (mome-repo verify)");
        if (locked <= 0 && prc != -ENOENT)
            (*bad)++;
        return 0;
    }
    if (h.gen == 0)
        snprintf(date, sizeof(date), "never");
    else
        when(h.ckpt_ns, date, sizeof(date));
    printf("%-20s %10s %9llu %5llu %-19s  %s\n", shown(h.name, name, sizeof(name)),
           human(h.size, size, sizeof(size)), (unsigned long long)h.live, (unsigned long long)h.gen,
           date, state);
    mome_repo_head_free(&h);
    return 0;
}

/*
 * A repository error, as this tool says it: the library's hints for programs (MOME_CREATE,
 * running this very tool) are replaced by what a user of the tool can do.
 */
static void fail_msg(const char *cmd, char *err)
{
    static const struct {
        const char *hint, *instead;
    } hints[] = {{" (pass MOME_CREATE to create it)", " (see mome-repo ls)"},
                 {" (run mome-repo verify)", ""}};
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        char *at = strstr(err, hints[i].hint);
        size_t hl = strlen(hints[i].hint), il = strlen(hints[i].instead);
        if (!at)
            continue;
        memmove(at + il, at + hl, strlen(at + hl) + 1); /* il <= hl: err only shrinks */
        memcpy(at, hints[i].instead, il);
    }
    fprintf(stderr, "mome-repo: %s%s%s\n", cmd ? cmd : "", cmd ? ": " : "", err);
}

static int cmd_ls(void)
{
    char err[1200];
    int bad = 0, rc;

    if (mome_repo_check(repo_dir, 0, err, sizeof(err)) < 0) {
        fail_msg(NULL, err);
        return 1;
    }
    printf("%-20s %10s %9s %5s %-19s  %s\n", "NAME", "SIZE", "PAGES", "GEN", "CHECKPOINTED",
           "STATE");
    rc = mome_repo_list(repo_dir, ls_one, &bad, err, sizeof(err));
    if (rc < 0) {
        fail_msg(NULL, err);
        return 1;
    }
    return bad ? 1 : 0;
}

/* ---- verify ---- */

static void report(void *arg, const char *text)
{
    fprintf(stderr, "mome-repo: verify: %s\n", text);
}

static int verify_one(const char *dirname, void *arg)
{
    int *problems = arg;
    int n = mome_repo_verify(repo_dir, dirname, report, NULL);
    char name[1100], err[1200];
    mome_repo_head_t h;
    char what[sizeof(h.name) + MOME_REPO_DIRNAME_MAX + 1]; /* either name fits */
    /* The segment's name, as ls shows it (the directory's is encoded); a head that cannot be read
     * has only the directory's. */
    if (mome_repo_peek(repo_dir, dirname, &h, err, sizeof(err)) == 0) {
        snprintf(what, sizeof(what), "%s", h.name);
        mome_repo_head_free(&h); /* (LeakSanitizer stopped persist.test, which verifies) */
    } else {
        snprintf(what, sizeof(what), "%s", dirname);
    }
    if (n == -EAGAIN) {
        /* Problems found, but the head was replaced under each pass (checkpoints and
         * compactions of a job, of momed or of mome-repo compact). */
        fprintf(stderr,
                "mome-repo: verify: %s/%s: not verified: checkpoints or compactions replaced "
                "its head during each of %d passes; run verify again\n",
                repo_dir, dirname, MOME_REPO_VERIFY_TRIES);
        (*problems)++;
        return 0;
    }
    if (n < 0) {
        fprintf(stderr, "mome-repo: verify: %s/%s: %s\n", repo_dir, dirname, strerror(-n));
        (*problems)++;
        return 0;
    }
    if (n == 0)
        printf("%s: ok\n", shown(what, name, sizeof(name)));
    else
        printf("%s: %d problem%s\n", shown(what, name, sizeof(name)), n, n > 1 ? "s" : "");
    *problems += n;
    return 0;
}

static int cmd_verify(const char *name)
{
    char err[1200], dirname[MOME_REPO_DIRNAME_MAX + 1];
    struct stat st;
    int problems = 0, rc;

    if (name) {
        char path[1400];
        /* The repository first, as every job does: a bad or missing FORMAT is refused. */
        if (mome_repo_check(repo_dir, 0, err, sizeof(err)) < 0) {
            fail_msg("verify", err);
            return 1;
        }
        /* As every command: "" would verify the repository's own directory. */
        if (mome_repo_check_name(name, err, sizeof(err)) < 0) {
            fail_msg("verify", err);
            return 2;
        }
        mome_repo_dirname(name, dirname, sizeof(dirname));
        snprintf(path, sizeof(path), "%s/%s", repo_dir, dirname);
        if (stat(path, &st) < 0) {
            fprintf(stderr, "mome-repo: verify: no segment '%s' in %s\n", name, repo_dir);
            return 1;
        }
        verify_one(dirname, &problems);
    } else {
        rc = mome_repo_list(repo_dir, verify_one, &problems, err, sizeof(err));
        if (rc < 0) {
            fail_msg(NULL, err);
            return 1;
        }
    }
    return problems ? 1 : 0;
}

/* ---- rm, export, import, compact ---- */

static int cmd_rm(const char *name)
{
    char err[1200];
    if (mome_repo_remove(repo_dir, name, err, sizeof(err)) < 0) {
        fail_msg("rm", err);
        return 1;
    }
    return 0;
}

static int cmd_export(const char *name, const char *file)
{
    char err[1200], tmp[PATH_MAX + 32];
    mome_repo_seg_t *rs;
    int fd, rc = -EAGAIN;
    struct stat st;

    /* The image is sized, then its pages written where they go: a regular file. Written beside
     * FILE and renamed over it once whole, so that a failed export (a damaged page) leaves an
     * earlier image as it was (helper-108). */
    if (!strcmp(file, "-") || (stat(file, &st) == 0 && !S_ISREG(st.st_mode))) {
        fprintf(stderr,
                "mome-repo: export: %s is not a regular file: export writes one (give a "
                "file name, then read it from there)\n",
                file);
        return 2;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid()) >= sizeof(tmp)) {
        fprintf(stderr, "mome-repo: export: %s: name too long\n", file);
        return 2;
    }

    /* No lock taken (a job may have the segment open): a checkpoint or compaction that replaces
     * the head during the export makes it start again from the new head. */
    for (int tries = 0; rc == -EAGAIN && tries < MOME_REPO_VERIFY_TRIES; tries++) {
        rc = mome_repo_open(repo_dir, name, 0, 0, 0, NULL, &rs, err, sizeof(err));
        if (rc < 0) {
            fail_msg("export", err);
            return 1;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            fprintf(stderr, "mome-repo: export: cannot create %s: %s\n", tmp, strerror(errno));
            mome_repo_close(rs);
            return 1;
        }
        rc = mome_repo_export(rs, fd, err, sizeof(err));
        if (close(fd) < 0 && rc == 0) {
            snprintf(err, sizeof(err), "cannot write %s: %s", file, strerror(errno));
            rc = -EIO;
        }
        mome_repo_close(rs);
    }
    if (rc == -EAGAIN)
        snprintf(err + strlen(err), sizeof(err) - strlen(err),
                 " during each of %d tries; %s is as it was: run export again",
                 MOME_REPO_VERIFY_TRIES, file);
    if (rc == 0 && rename(tmp, file) < 0) {
        snprintf(err, sizeof(err), "cannot rename %.500s to %.500s: %s", tmp, file,
                 strerror(errno));
        rc = -EIO;
    }
    if (rc < 0) {
        unlink(tmp);
        fail_msg("export", err);
        return 1;
    }
    return 0;
}

static int cmd_import(const char *name, const char *file, uint32_t page_size)
{
    char err[1200], who[64];
    int fd = open(file, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0) {
        fprintf(stderr, "mome-repo: import: cannot open %s: %s\n", file, strerror(errno));
        return 1;
    }
    snprintf(who, sizeof(who), "mome-repo import, pid %d", (int)getpid());
    rc = mome_repo_import(repo_dir, name, fd, page_size, who, err, sizeof(err));
    close(fd);
    if (rc < 0) {
        fail_msg("import", err);
        return 1;
    }
    return 0;
}

static int cmd_compact(const char *name)
{
    char err[1200], who[64], a[32], b[32];
    mome_repo_seg_t *rs;
    mome_repo_info_t before, after;
    int rc;

    snprintf(who, sizeof(who), "mome-repo compact, pid %d", (int)getpid());
    rc = mome_repo_open(repo_dir, name, 0, 0, MOME_REPO_LOCK, who, &rs, err, sizeof(err));
    if (rc < 0) {
        fail_msg("compact", err);
        return 1;
    }
    mome_repo_info(rs, &before);
    rc = mome_repo_compact(rs, err, sizeof(err));
    mome_repo_info(rs, &after);
    mome_repo_close(rs);
    if (rc < 0) {
        fail_msg("compact", err);
        return 1;
    }
    printf("%s: %llu live pages; data files %s -> %s (%u -> %u files)\n", name,
           (unsigned long long)after.head.live,
           human(before.head.data * before.head.page_size, a, sizeof(a)),
           human(after.head.data * after.head.page_size, b, sizeof(b)), before.head.nfiles,
           after.head.nfiles);
    return 0;
}

/* MomeInit's default page size and its smallest: the system's page, at least 4096. */
static uint32_t os_page(void)
{
    long os = sysconf(_SC_PAGESIZE);
    return os > 4096 ? (uint32_t)os : 4096;
}

/* A page size a job can run with, as MomeInit takes it: a power of two from the system's page to
 * 16M (512 was taken, and a segment imported so could never be opened: helper-108); else 0. */
static uint32_t usable_page(unsigned long long x)
{
    return x < os_page() || (x & (x - 1)) || x > (1u << 24) ? 0 : (uint32_t)x;
}

static uint32_t default_page_size(void)
{
    const char *v = getenv("MOME_PAGE_SIZE");
    char *end;
    unsigned long long x;
    if (!v || !*v)
        return os_page();
    x = strtoull(v, &end, 0);
    if (*end == 'k' || *end == 'K')
        x <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        x <<= 20, end++;
    return *end ? 0 : usable_page(x);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"repository", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    uint32_t page_size = default_page_size();
    const char *cmd = NULL;
    int c;

    repo_dir = getenv("MOME_REPOSITORY");
    if (!repo_dir || !*repo_dir)
        repo_dir = "./mome-repo";
    /* tests only: a failure or a crash at a chosen step (as in a job) */
    if (mome_repo_crash_setup(getenv("MOME_TEST_CRASH_AT"), 0) < 0) {
        fprintf(stderr, "mome-repo: bad value '%s' for MOME_TEST_CRASH_AT\n",
                getenv("MOME_TEST_CRASH_AT"));
        return 2;
    }
    /* Options before the command, and after it too (mome-repo import -P 65536 NAME FILE). */
    for (int pass = 0; pass < 2; pass++) {
        while ((c = getopt_long(argc, argv, "+r:pP:hV", longopts, NULL)) != -1) {
            switch (c) {
            case 'r':
                repo_dir = optarg;
                break;
            case 'p':
                parsable = 1;
                break;
            case 'P': {
                char *end;
                unsigned long v = strtoul(optarg, &end, 0);
                page_size = *end ? 0 : usable_page(v);
                break;
            }
            case 'h':
                usage(stdout);
                return 0;
            case 'V':
                printf("mome-repo (Mome) %s\n", PACKAGE_VERSION);
                return 0;
            default:
                usage(stderr);
                return 2;
            }
        }
        if (pass == 0 && optind >= argc) {
            usage(stderr);
            return 2;
        }
        if (pass == 0)
            cmd = argv[optind++];
    }
    /* What a job accepts (MOME_REPOSITORY): longer paths were cut short in messages and file
     * names, and verify wrote past a buffer (helper-89). */
    if (strlen(repo_dir) >= MOME_REPO_DIR_MAX) {
        fprintf(stderr, "mome-repo: the repository path is too long (%zu bytes; at most %d)\n",
                strlen(repo_dir), MOME_REPO_DIR_MAX - 1);
        return 2;
    }
    int nargs = argc - optind;
    char **a = argv + optind;
    if (!strcmp(cmd, "ls") && nargs == 0)
        return cmd_ls();
    if (!strcmp(cmd, "verify") && nargs <= 1)
        return cmd_verify(nargs ? a[0] : NULL);
    if (!strcmp(cmd, "rm") && nargs == 1)
        return cmd_rm(a[0]);
    if (!strcmp(cmd, "export") && nargs == 2)
        return cmd_export(a[0], a[1]);
    if (!strcmp(cmd, "import") && nargs == 2) {
        if (!page_size) {
            fprintf(stderr,
                    "mome-repo: import: the page size must be a power of two from the "
                    "system's page (%u) to 16M (-P, or MOME_PAGE_SIZE)\n",
                    os_page());
            return 2;
        }
        return cmd_import(a[0], a[1], page_size);
    }
    if (!strcmp(cmd, "compact") && nargs == 1)
        return cmd_compact(a[0]);
    fprintf(stderr, "mome-repo: unknown command or wrong arguments: %s\n", cmd);
    usage(stderr);
    return 2;
}
