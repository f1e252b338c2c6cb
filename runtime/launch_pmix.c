/*
 * launch_pmix.c - mome-run -H / --hostfile: check the host list, find a PMIx launcher, build its
 * command line (hosts, node counts, programs, exported variables) and supervise it: its exit
 * status is the job's, mome-run's time limit and signals reach it.
 */
#ifdef HAVE_CONFIG_H
#include "ac_config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch_pmix.h"

#define EXIT_USAGE 2
#define EXIT_LAUNCHER 125
#define EXIT_TIMEOUT 124
#define MAX_HOSTS 65536
#define MAX_SLOTS (1 << 20)
/* After a signal or the time limit, the launcher's grace to stop the job before SIGKILL. */
#define GRACE_MS 5000

extern char **environ;

static _Noreturn __attribute__((format(printf, 2, 3))) void die(int status, const char *fmt, ...)
{
    va_list ap;
    fputs("mome-run: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (status == EXIT_USAGE)
        fputs("Try 'mome-run --help'.\n", stderr);
    exit(status);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die(EXIT_LAUNCHER, "out of memory");
    return p;
}

/* ---- hosts ---- */

struct host {
    char *name;
    int slots;
};

static struct host *hosts;
static int nhosts;

/*
 * A host name, or an address: letters, digits, '-', '.', '_'; not starting with '-' (ssh would
 * take it for an option: -H -n 2 ./a took host '-n'); ':' only in an IPv6 address, in brackets
 * ([fe80::1]: unbracketed, fe80::1 became host 'fe80:' with 1 node, and a:2:3 host 'a:2'; '[:]'
 * was taken). At most 253 characters, a DNS name's limit (add_host says so first).
 */
#define HOST_NAME_MAX_LEN 253

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n > 2 && s[0] == '[' && s[n - 1] == ']') {
        char addr[INET6_ADDRSTRLEN + 1];
        struct in6_addr a;
        if (n - 2 >= sizeof(addr))
            return 0;
        memcpy(addr, s + 1, n - 2);
        addr[n - 2] = 0;
        return inet_pton(AF_INET6, addr, &a) == 1;
    }
    if (!n || s[0] == '-') /* (too long: add_host said so) */
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return 0;
    }
    return 1;
}

/* Add a host (from `where`, for messages): name, slots (1 when not given). */
static void add_host(const char *name, const char *slots, const char *where)
{
    long n = 1;
    char *end;
    size_t len = strlen(name);

    if (len > HOST_NAME_MAX_LEN) /* it was called invalid characters */
        die(EXIT_USAGE, "%s: host name '%.40s...' is %zu characters long (at most %d)", where, name,
            len, HOST_NAME_MAX_LEN);
    if (!valid_name(name)) {
        if (name[0] == '[')
            die(EXIT_USAGE,
                "%s: invalid address '%s' (an IPv6 address in brackets, e.g. [fe80::1])", where,
                name);
        die(EXIT_USAGE,
            "%s: invalid host name '%s' (letters, digits, '-', '.', '_', not "
            "starting with '-'; an IPv6 address in brackets: [fe80::1])",
            where, name);
    }
    if (slots) {
        /* Digits only: strtol took 'a: 2' and 'a:+2' for 2 nodes. */
        errno = 0;
        n = strtol(slots, &end, 10);
        if (errno || slots[0] < '0' || slots[0] > '9' || *end || n < 1 || n > MAX_SLOTS)
            die(EXIT_USAGE, "%s: invalid node count '%s' for host '%s' (a whole number, 1 or "
                            "more)", where, slots, name);
    }
    for (int i = 0; i < nhosts; i++) /* host names are not case-sensitive */
        if (!strcasecmp(hosts[i].name, name))
            die(EXIT_USAGE, "%s: host '%s' is given twice", where, name);
    if (nhosts >= MAX_HOSTS)
        die(EXIT_USAGE, "%s: too many hosts (at most %d)", where, MAX_HOSTS);
    hosts = xrealloc(hosts, sizeof(*hosts) * (size_t)(nhosts + 1));
    hosts[nhosts].name = strdup(name);
    hosts[nhosts].slots = (int)n;
    if (!hosts[nhosts].name)
        die(EXIT_LAUNCHER, "out of memory");
    nhosts++;
}

/* "host1:2,host2:2,host3" */
static void parse_host_list(const char *list)
{
    char *copy = strdup(list), *save = NULL, *item;

    if (!copy)
        die(EXIT_LAUNCHER, "out of memory");
    if (!*list || list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,"))
        die(EXIT_USAGE, "-H '%s': an empty host name (expected host[:nodes],...)", list);
    for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        /* The node count follows the last ':' (an IPv6 address in brackets keeps its own). */
        char *colon = strrchr(item, ':');
        if (colon && strchr(item, ']') > colon)
            colon = NULL;
        if (colon)
            *colon = 0;
        add_host(item, colon ? colon + 1 : NULL, "-H");
    }
    free(copy);
}

/* A hostfile: "host", "host slots=N" or "host:N" per line; '#' starts a comment. */
static void parse_hostfile(const char *path)
{
    FILE *f = fopen(path, "re");
    char line[1024], where[PATH_MAX + 32];
    int lineno = 0;
    struct stat st;

    if (!f)
        die(EXIT_USAGE, "cannot read the hostfile '%s': %s", path, strerror(errno));
    /* fopen takes a directory; reading it fails (it was said to name no host). */
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
        die(EXIT_USAGE, "the hostfile '%s' is a directory (expected a file of host lines)", path);
    while (fgets(line, sizeof(line), f)) {
        char *save = NULL, *name, *tok, *slots = NULL;
        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f))
            die(EXIT_USAGE, "%s: line too long", where);
        line[strcspn(line, "#\r\n")] = 0;
        name = strtok_r(line, " \t", &save);
        if (!name)
            continue;
        while ((tok = strtok_r(NULL, " \t", &save))) {
            if (!strncmp(tok, "slots=", 6) && !slots)
                slots = tok + 6;
            else
                die(EXIT_USAGE, "%s: unexpected '%s' (expected 'host', 'host slots=N' or "
                                "'host:N')", where, tok);
        }
        char *colon = strrchr(name, ':');
        if (colon && strchr(name, ']') > colon)
            colon = NULL;
        if (colon && slots)
            die(EXIT_USAGE, "%s: node count given twice for '%s'", where, name);
        if (colon) {
            *colon = 0;
            slots = colon + 1;
        }
        add_host(name, slots, where);
    }
    if (ferror(f))
        die(EXIT_USAGE, "cannot read the hostfile '%s': %s", path, strerror(errno));
    fclose(f);
    if (!nhosts)
        die(EXIT_USAGE, "the hostfile '%s' names no host", path);
}

/* ---- the launcher ---- */

/* The full path of name in PATH, malloc'd, or NULL. */
static char *in_path(const char *name)
{
    const char *path = getenv("PATH");
    char *copy, *save = NULL, *dir, buf[PATH_MAX];

    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? strdup(name) : NULL;
    if (!path || !(copy = strdup(path)))
        return NULL;
    for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(buf, sizeof(buf), "%s/%s", *dir ? dir : ".", name);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) {
            free(copy);
            return strdup(buf);
        }
    }
    free(copy);
    return NULL;
}

/* First line of "prog --version" (stderr too), or "". */
static void version_of(const char *prog, char *out, size_t len)
{
    int p[2];
    pid_t pid;
    ssize_t n;

    out[0] = 0;
    if (pipe(p) < 0)
        return;
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        execl(prog, prog, "--version", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    n = pid > 0 ? read(p[0], out, len - 1) : -1;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    out[n > 0 ? n : 0] = 0;
}

enum kind { PRTE, OMPI };

/* prterun, or Open MPI's mpirun (both PMIx servers); MPICH's mpirun speaks no PMIx. */
static char *find_launcher(const char *given, enum kind *kind)
{
    char v[512], *p;
    const char *names[] = {"prterun", "mpirun", "mpiexec"};

    if (given) {
        if (!(p = in_path(given)))
            die(EXIT_LAUNCHER, "--launcher '%s': not found or not executable", given);
        *kind = strstr(given, "prte") ? PRTE : OMPI;
        return p;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(p = in_path(names[i])))
            continue;
        if (i == 0) {
            *kind = PRTE;
            return p;
        }
        version_of(p, v, sizeof(v));
        if (strstr(v, "Open MPI") || strstr(v, "Open RTE") || strstr(v, "OpenRTE") ||
            strstr(v, "prte") || strstr(v, "PRRTE")) {
            *kind = OMPI;
            return p;
        }
        fprintf(stderr, "mome-run: %s is not Open MPI's (it says '%.*s'): it cannot start a "
                        "PMIx job; looking further\n", p, (int)strcspn(v, "\n"), v);
        free(p);
    }
    die(EXIT_LAUNCHER, "-H and --hostfile start the job through a PMIx launcher, and none is "
                       "installed (no prterun, nor Open MPI's mpirun, in PATH): install Open MPI "
                       "(Debian, Ubuntu: apt-get install openmpi-bin) or PRRTE (prterun), or name "
                       "one with --launcher PATH");
}

/* ---- the command line ---- */

static char **args;
static int nargs;
/* The variables the launcher is told to pass on (-x NAME), for --dry-run to give their values. */
static const char **forwarded;
static int nforwarded;

static void arg(const char *a)
{
    args = xrealloc(args, sizeof(*args) * (size_t)(nargs + 2));
    args[nargs] = strdup(a);
    if (!args[nargs])
        die(EXIT_LAUNCHER, "out of memory");
    args[++nargs] = NULL;
}

static void argf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void argf(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    arg(buf);
}

/* Forward a variable to the nodes (mpirun and prterun pass on only what they are told). */
static void forward(const char *name, const char **done, int *ndone)
{
    for (int i = 0; i < *ndone; i++)
        if (!strcmp(done[i], name))
            return;
    done[(*ndone)++] = name;
    arg("-x");
    arg(name);
}

/*
 * A host whose network goes down must not leave the launcher waiting for its daemon for minutes
 * (Open MPI's default keepalive is 300 s idle, then 9 probes 20 s apart): about 5 s. Set unless
 * the user did.
 */
static const struct {
    const char *name, *value;
} keepalive[] = {{"OMPI_MCA_oob_tcp_keepalive_time", "2"},
                 {"OMPI_MCA_oob_tcp_keepalive_intvl", "1"},
                 {"OMPI_MCA_oob_tcp_keepalive_probes", "3"}};
#define NKEEPALIVE ((int)(sizeof(keepalive) / sizeof(keepalive[0])))

/* Set name=value in the launcher's environment unless the user did. */
static void default_env(const char *name, const char *value)
{
    if (!getenv(name) && setenv(name, value, 0) < 0)
        die(EXIT_LAUNCHER, "cannot set %s: %s", name, strerror(errno));
}

static void build(const char *launcher, enum kind kind, const struct pmix_job *job,
                  const struct pmix_block *blocks, int nblocks, int total)
{
    size_t hl = 1;
    char *hl_s;
    int nenv = 0, ndone = 0;

    for (char **e = environ; *e; e++)
        nenv++;
    const char **done = xrealloc(NULL, sizeof(*done) * (size_t)(nenv + job->nexports + 1));

    arg(launcher);
    for (int i = 0; i < nhosts; i++)
        hl += strlen(hosts[i].name) + 16;
    hl_s = xrealloc(NULL, hl);
    hl_s[0] = 0;
    for (int i = 0; i < nhosts; i++)
        sprintf(hl_s + strlen(hl_s), "%s%s:%d", i ? "," : "", hosts[i].name, hosts[i].slots);
    arg("--host");
    arg(hl_s);
    free(hl_s);
    /* Mome places its nodes itself (MOME_BIND), away from other jobs' cores. */
    arg("--bind-to");
    arg("none");
    if (geteuid() == 0)
        arg("--allow-run-as-root"); /* mome-run runs jobs as root: so does it here */
    /* The nodes get the user's Mome and UCX settings, and what -x named. */
    for (int i = 0; i < job->nexports; i++)
        forward(job->exports[i], done, &ndone);
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "MOME_", 5) && strncmp(*e, "UCX_", 4))
            continue;
        char *name = strndup(*e, strcspn(*e, "="));
        if (!name)
            die(EXIT_LAUNCHER, "out of memory");
        forward(name, done, &ndone);
    }
    forwarded = done;
    nforwarded = ndone;
    for (int b = 0; b < nblocks; b++) {
        if (b)
            arg(":");
        arg("-n");
        argf("%d", nblocks == 1 && !blocks[b].count ? total : blocks[b].count);
        for (char **a = blocks[b].argv; *a; a++)
            arg(*a);
    }
    (void)kind; /* prterun and Open MPI 4's mpirun take the same options here */
}

/* ---- running it ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int supervise(const struct pmix_job *job)
{
    sigset_t set, old;
    int sfd, wstat, forced = 0, signals = 0;
    int64_t deadline = job->timeout_s > 0 ? now_ms() + (int64_t)(job->timeout_s * 1000) : -1;
    int64_t kill_at = -1;
    pid_t pid;

    sigemptyset(&set);
    watch_children(&set);
    watch_signal(&set, SIGINT);
    watch_signal(&set, SIGTERM);
    watch_signal(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0 || (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
        die(EXIT_LAUNCHER, "cannot watch signals: %s", strerror(errno));
    pid_t self = getpid();
    pid = fork();
    if (pid < 0)
        die(EXIT_LAUNCHER, "cannot start %s: %s", args[0], strerror(errno));
    if (pid == 0) {
        /* The launcher stops its job (its daemons, the remote nodes) when mome-run dies, as the
         * nodes of a local job do: a kill -9 of mome-run left the whole job running (helper-102).
         * SIGTERM, not SIGKILL: mpirun then takes its daemons down. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != self)
            _exit(EXIT_LAUNCHER);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execv(args[0], args);
        fprintf(stderr, "mome-run: cannot execute '%s': %s\n", args[0], strerror(errno));
        _exit(127);
    }
    for (;;) {
        int64_t next = deadline;
        if (kill_at >= 0 && (next < 0 || kill_at < next))
            next = kill_at;
        int64_t left = next < 0 ? -1 : next - now_ms() < 0 ? 0 : next - now_ms();
        int timeout = left > INT_MAX ? INT_MAX : (int)left; /* -t beyond 24.8 days */
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR)
            die(EXIT_LAUNCHER, "poll: %s", strerror(errno));
        if (r > 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && si.ssi_signo != SIGCHLD) {
                /* The launcher stops its job on SIGTERM; asked twice, no more grace. */
                if (!forced)
                    forced = 128 + (int)si.ssi_signo;
                kill(pid, ++signals > 1 ? SIGKILL : SIGTERM);
                kill_at = now_ms() + GRACE_MS;
            }
            pid_t w = waitpid(pid, &wstat, WNOHANG);
            if (w == pid)
                break;
        }
        if (deadline >= 0 && now_ms() >= deadline) {
            deadline = -1;
            forced = forced ? forced : EXIT_TIMEOUT;
            fprintf(stderr, "mome-run: job timed out after %g s; stopping it\n", job->timeout_s);
            kill(pid, SIGTERM);
            kill_at = now_ms() + GRACE_MS;
        }
        if (kill_at >= 0 && now_ms() >= kill_at) {
            kill_at = -1;
            if (!job->quiet)
                fprintf(stderr, "mome-run: %s still running; sending SIGKILL\n", args[0]);
            kill(pid, SIGKILL);
        }
    }
    close(sfd);
    if (forced)
        return forced;
    return WIFSIGNALED(wstat) ? 128 + WTERMSIG(wstat) : WEXITSTATUS(wstat);
}

/* One word of the --dry-run command, quoted for sh where it needs it (so it can be pasted). */
static void print_quoted(const char *w, int i)
{
    if (i)
        putchar(' ');
    if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        "_@%+=:,./-") == strlen(w)) {
        fputs(w, stdout);
        return;
    }
    putchar('\'');
    for (; *w; w++)
        if (*w == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*w);
    putchar('\'');
}

int pmix_launch(const struct pmix_job *job, const struct pmix_block *blocks, int nblocks)
{
    enum kind kind;
    char *launcher;
    int total = 0, slots = 0;

    if (job->hosts && job->hostfile)
        die(EXIT_USAGE, "give -H or --hostfile, not both");
    if (job->hosts)
        parse_host_list(job->hosts);
    else
        parse_hostfile(job->hostfile);
    for (int i = 0; i < nhosts; i++) /* at most 65536 hosts of 2^20 slots: past INT_MAX */
        slots = slots > INT_MAX - hosts[i].slots ? INT_MAX : slots + hosts[i].slots;
    for (int b = 0; b < nblocks; b++) {
        if (!blocks[b].count && nblocks > 1)
            die(EXIT_USAGE, "missing -n before '%s' (in a job of several programs, each "
                            "needs one)", blocks[b].argv[0]);
        total += blocks[b].count;
    }
    if (!total)
        total = slots; /* mome-run -H a:2,b:2 ./app: one node per slot */
    if (total > slots)
        die(EXIT_USAGE, "%d nodes asked for, but the hosts have room for %d (host:nodes); give "
                        "more per host or fewer nodes", total, slots);
    launcher = find_launcher(job->launcher, &kind);
    for (int i = 0; i < NKEEPALIVE; i++)
        default_env(keepalive[i].name, keepalive[i].value);
    build(launcher, kind, job, blocks, nblocks, total);
    free(launcher);
    if (job->dry_run) {
        /*
         * Self-contained: the values of what it passes on live in mome-run's environment (-x
         * FOO=bar set FOO here, and the line said only -x FOO), and so do the keepalive
         * settings above: env(1) gives them to the launcher as mome-run does.
         */
        int words = 0;
        print_quoted("env", words++);
        for (int i = 0; i < NKEEPALIVE + nforwarded; i++) {
            const char *name = i < NKEEPALIVE ? keepalive[i].name : forwarded[i - NKEEPALIVE];
            const char *value = getenv(name);
            if (!value)
                continue; /* -x NAME of a variable not set: not passed on either */
            size_t len = strlen(name) + strlen(value) + 2;
            char *w = xrealloc(NULL, len);
            snprintf(w, len, "%s=%s", name, value);
            print_quoted(w, words++);
            free(w);
        }
        for (int i = 0; i < nargs; i++)
            print_quoted(args[i], words++);
        putchar('\n');
        return 0;
    }
    return supervise(job);
}
