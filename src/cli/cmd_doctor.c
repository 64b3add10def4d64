/*
 * cmd_doctor.c - `breakwater doctor [-c FILE] [--] PROGRAM [ARG...]`: says,
 * from PROGRAM's file and its libraries alone (nothing is run), whether the
 * shim can cover it, and which config section each destination named in
 * ARG... would match.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bw_config.h"
#include "bw_match.h"
#include "cli.h"
#include "elf_probe.h"

#define MAX_OBJECTS 256
#define USAGE "breakwater doctor [-c FILE] [--] PROGRAM [ARG...]"

struct object {
    char name[BW_ELF_NAME_MAX];     /* DT_NEEDED name ("" for the program) */
    char path[PATH_MAX];
    int parent;                     /* index of the object that needs it, -1 */
    bw_elf_facts f;
};

struct tree {
    struct object *o;
    size_t n;
    size_t missing;
};

static bool seen(const struct tree *t, const char *name)
{
    for (size_t i = 1; i < t->n; i++)
        if (strcmp(t->o[i].name, name) == 0)
            return true;
    return false;
}

/* The program and every library it needs, breadth first, each once. */
static void walk_libraries(struct tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const bw_elf_facts *f = &t->o[i].f;
        for (size_t k = 0; k < f->n_needed && t->n < MAX_OBJECTS; k++) {
            if (seen(t, f->needed[k]))
                continue;
            struct object *c = &t->o[t->n];
            if (bw_elf_find_library(f->needed[k], t->o[i].path, f->runpath, c->path,
                                    sizeof c->path) != 0 || bw_elf_probe(c->path, &c->f) != 0) {
                printf("library:  %s (needed by %s) not found\n", f->needed[k],
                       i ? t->o[i].name : "the program");
                t->missing++;
                continue;
            }
            snprintf(c->name, sizeof c->name, "%s", f->needed[k]);
            c->parent = (int)i;
            t->n++;
        }
    }
}

/* The first object whose DT_NEEDED name starts with prefix, or NULL. */
static const struct object *needs(const struct tree *t, const char *prefix)
{
    for (size_t i = 1; i < t->n; i++)
        if (strncmp(t->o[i].name, prefix, strlen(prefix)) == 0)
            return &t->o[i];
    return NULL;
}

static const char *by(const struct tree *t, const struct object *o)
{
    return o->parent > 0 ? t->o[o->parent].name : "the program";
}

static void report_tls(const struct tree *t)
{
    static const struct { const char *prefix, *what; bool covered; } libs[] = {
        {"libssl.so", "OpenSSL", true},       {"libgnutls.so", "GnuTLS", true},
        {"libnss3.so", "NSS", false},         {"libmbedtls.so", "mbed TLS", false},
        {"libwolfssl.so", "wolfSSL", false},
    };
    bool any = false;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        const struct object *o = needs(t, libs[i].prefix);
        if (!o)
            continue;
        any = true;
        printf("tls:      %s (%s, needed by %s): %s\n", libs[i].what, o->name, by(t, o),
               libs[i].covered ? "HTTP features work inside TLS where the config asks (tls = auto)"
                               : "not looked into: HTTP features stop at TLS");
    }
    if (t->o[0].f.defines_ssl) {
        any = true;
        printf("tls:      a TLS library linked into the program itself: not looked into "
               "(connections are covered, HTTP features stop at TLS)\n");
    }
    if (!any)
        printf("tls:      no TLS library linked\n");
}

/* io_uring, and libraries loaded at run time (DEEPBIND where it is known). */
static bool report_loading(const struct tree *t, const char *prog)
{
    const struct object *uring = needs(t, "liburing.so");
    const char *importer = NULL;
    bool dl = false;
    for (size_t i = 0; i < t->n; i++) {
        if (t->o[i].f.imports_io_uring && !importer)
            importer = i ? t->o[i].name : "the program";
        dl |= t->o[i].f.imports_dlopen;
    }
    if (uring || importer)
        printf("io_uring: used (%s): connections made through io_uring are not covered\n",
               uring ? uring->name : importer);
    else
        printf("io_uring: not imported\n");
    const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
    if (strncmp(base, "php", 3) == 0 || needs(t, "libphp"))
        printf("deepbind: PHP loads its extensions (curl, pgsql, redis, ...) with RTLD_DEEPBIND: "
               "the shim binds them to itself\n");
    else if (dl)
        printf("deepbind: loads libraries at run time (dlopen); any opened with RTLD_DEEPBIND "
               "is bound to the shim too\n");
    else
        printf("deepbind: loads no libraries at run time\n");
    return uring || importer;
}

/* Prints the linking facts; returns false when the shim cannot be loaded at all. */
static bool report_linking(const struct tree *t, const struct stat *st)
{
    const bw_elf_facts *f = &t->o[0].f;
    if (!f->is_elf) {
        printf("program:  not an ELF file: cannot say\n");
        return false;
    }
    if (!f->is_64) {
        printf("linking:  not a 64-bit program of this machine: the shim cannot be loaded into it\n");
        return false;
    }
    if (f->go)
        printf("go:       a Go program%s%s: Go makes its own system calls for sockets, "
               "the shim sees none of them: not covered\n", f->go_version[0] ? ", " : "",
               f->go_version);
    if (!f->has_interp) {
        printf("linking:  static: LD_PRELOAD has no effect: not covered\n");
        return false;
    }
    printf("linking:  dynamic (interpreter %s)\n", f->interp);
    if (strstr(f->interp, "musl")) {
        printf("libc:     musl: the shim is built for glibc: not covered\n");
        return false;
    }
    if (st->st_mode & (S_ISUID | S_ISGID))
        printf("setuid:   set-user/group-ID: the loader ignores LD_PRELOAD for it unless the "
               "shim is installed in a system directory and itself set-user-ID\n");
    return !f->go;
}

/* The C library, once the libraries are known; false when it is not glibc. */
static bool report_libc(const struct tree *t)
{
    const struct object *libc = needs(t, "libc.so.6");
    printf("libc:     %s\n", libc ? "glibc (libc.so.6)" : "no libc.so.6 needed: not covered");
    return libc != NULL;
}

static int default_port(const char *scheme, size_t n)
{
    static const struct { const char *s; int port; } t[] = {
        {"http", 80}, {"https", 443}, {"ws", 80}, {"wss", 443}, {"ftp", 21}, {"git", 9418},
        {"ssh", 22}, {"postgres", 5432}, {"postgresql", 5432}, {"mysql", 3306},
        {"mariadb", 3306}, {"redis", 6379}, {"memcache", 11211}, {"amqp", 5672},
        {"ldap", 389}, {"smtp", 25}, {"imap", 143},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].s) == n && strncasecmp(t[i].s, scheme, n) == 0)
            return t[i].port;
    return 0;
}

/*
 * Reads a destination from a command-line argument: a URL (scheme://[user@]host[:port]...,
 * the scheme's usual port when none is given) or HOST:PORT ([V6]:PORT). Returns 0
 * with host and port filled, or -1 when arg names no destination.
 */
static int parse_dest(const char *arg, char *host, size_t hostlen, int *port)
{
    const char *p = arg, *sep = strstr(arg, "://");
    *port = 0;
    if (sep) {
        *port = default_port(arg, (size_t)(sep - arg));
        p = sep + 3;
        const char *at = strchr(p, '@'), *slash = strchr(p, '/');
        if (at && (!slash || at < slash))
            p = at + 1;
    }
    const char *end;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end)
            return -1;
        p++;
    } else {
        end = p + strcspn(p, ":/?#");
    }
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    const char *q = end + (*end == ']');
    if (*q == ':' && isdigit((unsigned char)q[1])) {
        char *stop;
        long v = strtol(q + 1, &stop, 10);
        if (v < 1 || v > 65535 || (*stop && !strchr("/?#", *stop)))
            return -1;
        *port = (int)v;
    } else if (!sep || (*q && !strchr("/?#", *q))) {
        return -1;   /* a bare word, or host:name: not a destination */
    }
    for (const char *c = host; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".-_:", *c))
            return -1;
    return *port ? 0 : -1;
}

/* One line per ARG that names a destination: the section it would match. */
static void report_destinations(const bw_config *cfg, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        char host[256];
        int port;
        if (parse_dest(argv[i], host, sizeof host, &port) != 0)
            continue;
        struct sockaddr_storage ss = {0};
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        bool resolved = getaddrinfo(host, NULL, &hints, &res) == 0 && res;
        if (resolved) {
            memcpy(&ss, res->ai_addr, res->ai_addrlen);
            freeaddrinfo(res);
        } else {
            ss.ss_family = AF_INET;   /* by name only: an address pattern cannot match */
        }
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        bool literal = strspn(host, "0123456789.:abcdefABCDEF") == strlen(host) && strpbrk(host, ".:");
        long d = bw_match_lookup(cfg->match, literal ? NULL : host, (const struct sockaddr *)&ss);
        printf("destination %s%s%s:%d: %s%s%s%s\n", strchr(host, ':') ? "[" : "", host,
               strchr(host, ':') ? "]" : "", port, d >= 0 ? "section [destination " : "[defaults]",
               d >= 0 ? cfg->dests[d].name : " (no section matches)", d >= 0 ? "]" : "",
               resolved ? "" : " (does not resolve here; matched by name)");
    }
}

/* The config the library would load (the built-in one when there is none or it is invalid). */
static bw_config *doctor_config(const char *given)
{
    const char *path = bw_cli_config_path(given);
    bw_config *cfg = NULL;
    if (!path) {
        printf("config:   none (built-in defaults)\n");
        return bw_config_builtin();
    }
    if (bw_config_load(path, &cfg, NULL, NULL) != 0) {
        printf("config:   %s is invalid (see 'breakwater check'); destinations shown against "
               "the built-in defaults\n", path);
        return bw_config_builtin();
    }
    printf("config:   %s\n", path);
    return cfg;
}

int bw_cmd_doctor(int argc, char **argv)
{
    const char *config = NULL;
    int i = bw_cli_program_args(argc, argv, "doctor", USAGE, &config);
    if (i < 0)
        return 2;
    struct tree t = {calloc(MAX_OBJECTS, sizeof(struct object)), 1, 0};
    if (!t.o) {
        bw_cli_error("doctor: out of memory");
        return 1;
    }
    struct stat st;
    if (bw_program_path(argv[i], t.o[0].path, sizeof t.o[0].path) != 0 ||
        stat(t.o[0].path, &st) != 0 || bw_elf_probe(t.o[0].path, &t.o[0].f) != 0) {
        bw_cli_error("doctor: cannot find or read '%s'", argv[i]);
        free(t.o);
        return 1;
    }
    t.o[0].parent = -1;
    printf("program:  %s\n", t.o[0].path);
    bool ok = report_linking(&t, &st), uring = false;
    if (t.o[0].f.has_interp && t.o[0].f.is_64) {
        walk_libraries(&t);
        ok = report_libc(&t) && ok;
        report_tls(&t);
        uring = report_loading(&t, t.o[0].path);
    }
    bw_config *cfg = doctor_config(config);
    if (cfg)
        report_destinations(cfg, argc - i - 1, argv + i + 1);
    bw_config_free(cfg);
    printf("verdict:  %s\n", !ok   ? "NOT covered: breakwater cannot protect this program's connections"
                           : uring ? "covered, but for connections made through io_uring"
                                   : "covered: the shim can be preloaded and sees its connections");
    free(t.o);
    return ok ? 0 : 1;
}
