/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpu-hook: the libvirt qemu hook (front end, libc only).
 *
 *   vgpu-hook [--config FILE] NAME OPERATION SUBOP EXTRA  < domain XML
 *
 * libvirtd runs every executable in /etc/libvirt/hooks/qemu.d/ at each step
 * of every domain's life and waits for it, so most calls must cost no more
 * than a program that reads its stdin. This front end links nothing but libc
 * and decides:
 *  - an operation the hook does not handle: exit 0 without reading stdin;
 *  - otherwise read the domain XML (at most VH_HOOK_XML_MAX bytes, within
 *    VGPU_HOOK_STDIN_TIMEOUT_MS, default 10 s: libvirtd writes it at once);
 *  - a document that certainly asks nothing of us (vh_hook_needs_worker()):
 *    exit 0, printing nothing (for migrate/restore: "unchanged");
 *  - prepare, release and reconnect of anything else: load the worker
 *    module (vgpu-hook-worker.so, next to this program, or in PKGLIBEXECDIR)
 *    and call it with the same arguments and the XML already read. A module
 *    rather than a second program: an exec of the worker cost 2-4 ms per
 *    call on the benchmark machine, about as much again as the no-op hook's
 *    whole run (loading it instead took the prepare + release pair from
 *    2.8x to 2.3x a no-op pair, interleaved runs on a loaded machine). Loaded with
 *    RTLD_NOW: a broken install fails before anything is changed, never
 *    half-way through a prepare at its first call of a missing symbol;
 *  - migrate and restore (which print a rewritten document: libxml2), and
 *    any option or usage it does not know: exec vgpu-hook-rewrite, the
 *    program built from the worker's source with the whole library, with
 *    the same arguments and the XML already read on stdin, in a memfd. No
 *    fork either way: libvirtd waits on one pid.
 * A failure here prints one line on stderr, "vgpu-hook: " first, as the
 * worker does; for reconnect it is logged and the hook exits 0 (a running
 * domain must never be killed over our problems). */
#define _GNU_SOURCE
#include "config.h"
#include "hook-args.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define VH_NAMESPACE "urn:vgpu-hook:1"
#define VH_STDIN_TIMEOUT_MS 10000
#define VH_CONFIG_SCAN_MAX (1024 * 1024) /* the worker's limit on the file */

typedef struct {
    const char *config;  /* --config, or NULL */
    const char *name, *op, *subop;
    int positional;
    int unknown_option;  /* something only the worker's option parser knows */
} HookArgs;

static void
parse_args(int argc, char **argv, HookArgs *a)
{
    const char *pos[3] = { NULL, NULL, NULL };
    int only_positional = 0;

    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && strcmp(arg, "--") == 0) {
            only_positional = 1;
        } else if (!only_positional && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "--config") == 0 && i + 1 < argc)
                a->config = argv[++i];
            else if (strncmp(arg, "--config=", 9) == 0)
                a->config = arg + 9;
            else
                a->unknown_option = 1;
        } else {
            if (a->positional < 3)
                pos[a->positional] = arg;
            a->positional++;
        }
    }
    a->name = pos[0];
    a->op = pos[1];
    a->subop = pos[2];
}

/* The domain name as a message may show it: printable ASCII, bounded. */
static void
printable_name(const char *name, char *out, size_t size)
{
    size_t n = 0;

    for (const char *c = name ? name : "?"; *c && n + 1 < size; c++)
        out[n++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
    out[n] = '\0';
}

static int
fail(const HookArgs *a, VhHookOp what, const char *reason)
{
    char name[201];

    printable_name(a->name, name, sizeof name);
    openlog("vgpu-hook", LOG_PID, LOG_DAEMON);
    if (what == VH_HOOK_RECONNECT) {
        syslog(LOG_WARNING, "domain '%s': reconnect: %s", name, reason);
        return 0;
    }
    syslog(LOG_ERR, "domain '%s': %s failed: %s", name, a->op ? a->op : "start", reason);
    fprintf(stderr, "vgpu-hook: domain '%s': %s: %s\n", name, a->op ? a->op : "start", reason);
    return 1;
}

static long
stdin_timeout_ms(void)
{
    const char *v = getenv("VGPU_HOOK_STDIN_TIMEOUT_MS");
    char *end;
    long ms;

    if (v == NULL || *v == '\0')
        return VH_STDIN_TIMEOUT_MS;
    errno = 0;
    ms = strtol(v, &end, 10);
    if (errno || *end || ms <= 0 || ms > 600000)
        return VH_STDIN_TIMEOUT_MS;
    return ms;
}

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

typedef enum { READ_OK, READ_TOO_BIG, READ_TIMEOUT, READ_ERROR } ReadResult;

/* All of stdin into *buf (NUL-terminated), bounded in size and in time: a
 * poll() before each read, against one deadline, so that a writer that
 * trickles bytes cannot hold us either. */
static ReadResult
read_stdin(char **buf, size_t *len)
{
    long deadline = now_ms() + stdin_timeout_ms();
    size_t cap = 65536, n = 0;
    char *data = malloc(cap + 1);
    ReadResult result = READ_OK;

    if (data == NULL)
        return READ_ERROR;
    for (;;) {
        struct pollfd pfd = { .fd = 0, .events = POLLIN };
        long left = deadline - now_ms();
        int ready;
        ssize_t r;

        if (n == cap) {
            char *bigger = cap > VH_HOOK_XML_MAX ? NULL : realloc(data, cap * 2 + 1);
            if (bigger == NULL) {
                result = cap > VH_HOOK_XML_MAX ? READ_TOO_BIG : READ_ERROR;
                break;
            }
            data = bigger;
            cap *= 2;
        }
        ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            result = READ_TIMEOUT;
            break;
        }
        if (ready < 0 || (pfd.revents & POLLNVAL))
            break; /* no stdin at all: an empty document */
        r = read(0, data + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            result = READ_ERROR;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > VH_HOOK_XML_MAX) {
            result = READ_TOO_BIG;
            break;
        }
    }
    if (result != READ_OK) {
        free(data);
        return result;
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    return READ_OK;
}

/* Whether @needle (at most 255 bytes) occurs in @data: Horspool's skip
 * table, a few instructions per needle length of input (glibc's memmem
 * spends about three per byte here, more than the no-op hook's whole run). */
static int
contains(const char *data, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    unsigned char skip[256];

    if (n == 0 || n > 255 || len < n)
        return n == 0;
    memset(skip, (int)n, sizeof skip);
    for (size_t i = 0; i + 1 < n; i++)
        skip[(unsigned char)needle[i]] = (unsigned char)(n - 1 - i);
    for (size_t pos = 0; pos + n <= len; pos += skip[(unsigned char)data[pos + n - 1]]) {
        if (data[pos + n - 1] == needle[n - 1] && memcmp(data + pos, needle, n - 1) == 0)
            return 1;
    }
    return 0;
}

/* The prolog: the bytes before the root element's '<' (XML declaration,
 * comments, processing instructions, a DOCTYPE). */
static size_t
prolog_length(const char *data, size_t len)
{
    for (const char *p = data; (p = memchr(p, '<', len - (size_t)(p - data))) != NULL; p++) {
        if ((size_t)(p - data) + 1 < len && p[1] != '?' && p[1] != '!')
            return (size_t)(p - data);
    }
    return len;
}

/* Could a parser read something into these bytes that a byte scan does not
 * see? A character reference (&#...;), a DTD (entities; it can only be in
 * the prolog), an encoding other than ASCII-compatible UTF-8 (a byte order
 * mark, UTF-16's NULs, EBCDIC: the document does not start with '<'), or an
 * XML declaration that names one. */
static int
may_hide_text(const char *data, size_t len)
{
    size_t i = 0, prolog;
    const char *amp;

    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (i == len || data[i] != '<' || memchr(data, '\0', len) != NULL)
        return 1;
    for (amp = data; (amp = memchr(amp, '&', len - (size_t)(amp - data))) != NULL; amp++) {
        if ((size_t)(amp - data) + 1 < len && amp[1] == '#')
            return 1;
    }
    prolog = prolog_length(data, len);
    return contains(data, prolog, "<!DOCTYPE") || contains(data, prolog, "encoding");
}

/* Whether the configuration may set manage_plain_hostdevs: a line scan that
 * answers "no" only for a readable regular file whose every such key says
 * false or 0 (or a missing default file: the default is false). The worker
 * parses the file for real. */
static int
may_manage_plain(const char *config)
{
    const char *path = config ? config : VH_DEFAULT_CONFIG;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    char *text;
    ssize_t got;
    int result = 0;

    if (fd < 0)
        return !(config == NULL && errno == ENOENT);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > VH_CONFIG_SCAN_MAX ||
        (text = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return 1;
    }
    got = read(fd, text, (size_t)st.st_size);
    close(fd);
    if (got != st.st_size) {
        free(text);
        return 1;
    }
    text[got] = '\0';
    for (char *line = text; line && *line && !result; line = strchr(line, '\n')) {
        static const char key[] = "manage_plain_hostdevs";
        char *v, *end;
        while (*line == '\n' || *line == ' ' || *line == '\t')
            line++;
        if (strncmp(line, key, sizeof key - 1) != 0)
            continue;
        v = line + sizeof key - 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v++ != '=') {
            result = 1;
            continue;
        }
        while (*v == ' ' || *v == '\t')
            v++;
        end = v + strcspn(v, "\n");
        while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
        if (!((end - v == 5 && memcmp(v, "false", 5) == 0) || (end - v == 1 && *v == '0')))
            result = 1;
    }
    free(text);
    return result;
}

/* Conservative: says 0 only when the worker would certainly do nothing.
 * Without the namespace URI no <vgpu:devices> can be found, so prepare,
 * migrate/restore and reconnect have nothing to do, except that prepare
 * manages plain PCI hostdevs when configured to. Release undoes the leases
 * of the domain's UUID: a lease is only ever taken for a <hostdev>, which
 * stays in the running definition even when its metadata was edited away,
 * so release hands over whenever one appears, whatever the configuration. */
static int
needs_worker(VhHookOp what, const char *xml, size_t len, const char *config)
{
    if (len == 0 || contains(xml, len, VH_NAMESPACE) || may_hide_text(xml, len))
        return 1; /* (an empty document: the worker says why it is refused) */
    if (!contains(xml, len, "hostdev"))
        return 0;
    if (what == VH_HOOK_RELEASE)
        return 1;
    return what == VH_HOOK_PREPARE && may_manage_plain(config);
}

/* @file next to this program (its symlink resolved: the installed layout,
 * and the build tree) if it is there, else in the installed directory. */
static void
helper_path(const char *file, char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;

    if (n > 0) {
        self[n] = '\0';
        if ((slash = strrchr(self, '/')) != NULL) {
            *slash = '\0';
            if ((size_t)snprintf(out, size, "%s/%s", self, file) < size && access(out, F_OK) == 0)
                return;
        }
    }
    snprintf(out, size, "%s/%s", PKGLIBEXECDIR, file);
}

static int
exec_rewriter(const HookArgs *a, VhHookOp what, char **argv)
{
    char path[PATH_MAX + 32], reason[PATH_MAX + 160];

    helper_path("vgpu-hook-rewrite", path, sizeof path);
    execv(path, argv);
    snprintf(reason, sizeof reason, "cannot run %s: %s (reinstall vgpu-hook)", path,
             strerror(errno));
    return fail(a, what, reason);
}

/* The XML already read (freed here) becomes the rewriter's stdin. */
static int
hand_over(const HookArgs *a, VhHookOp what, char **argv, char *xml, size_t len)
{
    int fd = memfd_create("vgpu-hook-domain", MFD_CLOEXEC);
    size_t done = 0;
    char reason[200];

    while (fd >= 0 && done < len) {
        ssize_t w = write(fd, xml + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            fd = -1;
            break;
        }
        done += (size_t)w;
    }
    free(xml);
    if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) != 0) {
        snprintf(reason, sizeof reason,
                 "cannot pass the domain XML to vgpu-hook-rewrite: %s (memfd_create needs "
                 "Linux 3.17)", strerror(errno));
        return fail(a, what, reason);
    }
    close(fd);
    return exec_rewriter(a, what, argv);
}

/* The worker module, called in this process with the XML read (freed here). */
static int
run_worker(const HookArgs *a, VhHookOp what, int argc, char **argv, char *xml, size_t len)
{
    char path[PATH_MAX + 32], reason[PATH_MAX + 400];
    void *module;
    VhHookWorkerRun run;
    int status;

    helper_path(VH_HOOK_WORKER_MODULE, path, sizeof path);
    module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    run = module ? (VhHookWorkerRun)dlsym(module, VH_HOOK_WORKER_ENTRY) : NULL;
    if (run == NULL) {
        const char *why = dlerror();
        snprintf(reason, sizeof reason, "cannot load %s: %s (reinstall vgpu-hook)", path,
                 why ? why : "no " VH_HOOK_WORKER_ENTRY);
        free(xml);
        return fail(a, what, reason);
    }
    status = run(argc, argv, xml, len);
    free(xml);
    return status;
}

int
main(int argc, char **argv)
{
    HookArgs a;
    VhHookOp what;
    char *xml = NULL;
    size_t len = 0;
    char reason[200];

    parse_args(argc, argv, &a);
    /* --help, an unknown option, a usage error: the full program's to answer */
    if (a.unknown_option || a.positional < 3)
        return exec_rewriter(&a, VH_HOOK_PREPARE, argv);
    what = vh_hook_classify(a.op, a.subop);
    if (what == VH_HOOK_IGNORE)
        return 0;
    switch (read_stdin(&xml, &len)) {
    case READ_OK:
        break;
    case READ_TOO_BIG:
        snprintf(reason, sizeof reason,
                 "the domain XML on stdin is larger than %d bytes: refused (is this a "
                 "libvirt domain?)", VH_HOOK_XML_MAX);
        return fail(&a, what, reason);
    case READ_TIMEOUT:
        snprintf(reason, sizeof reason,
                 "no end of the domain XML on stdin within %ld ms: refused (libvirtd writes "
                 "it at once; VGPU_HOOK_STDIN_TIMEOUT_MS sets the limit)", stdin_timeout_ms());
        return fail(&a, what, reason);
    case READ_ERROR:
        snprintf(reason, sizeof reason, "cannot read the domain XML on stdin: %s",
                 strerror(errno));
        return fail(&a, what, reason);
    }
    if (!needs_worker(what, xml, len, a.config)) {
        free(xml);
        return 0;
    }
    if (what == VH_HOOK_REMAP)
        return hand_over(&a, what, argv, xml, len);
    return run_worker(&a, what, argc, argv, xml, len);
}
