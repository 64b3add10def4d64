/*
 * elf_probe.h - what `breakwater doctor` and `breakwater run` learn from a
 * program's file without running it: how it is linked, what it imports,
 * whether it is a Go program, and where its libraries are.
 */
#ifndef BW_ELF_PROBE_H
#define BW_ELF_PROBE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define BW_ELF_MAX_NEEDED 64
#define BW_ELF_NAME_MAX 128

typedef struct bw_elf_facts {
    bool is_elf;
    bool is_64;                 /* ELFCLASS64 of this machine; nothing else is read otherwise */
    bool has_interp;            /* PT_INTERP: started by the dynamic loader */
    bool has_dynamic;           /* PT_DYNAMIC */
    char interp[PATH_MAX];
    bool go;                    /* a Go binary (.go.buildinfo, .gopclntab or a Go build id) */
    char go_version[64];        /* "go1.19.8", or "" when the file does not say */
    char needed[BW_ELF_MAX_NEEDED][BW_ELF_NAME_MAX];
    size_t n_needed;
    char runpath[1024];         /* DT_RUNPATH, else DT_RPATH; "" when none */
    bool imports_io_uring;      /* an undefined io_uring_* symbol */
    bool imports_dlopen;        /* an undefined dlopen or dlmopen */
    bool defines_ssl;           /* defines SSL_write itself: a TLS library linked in */
} bw_elf_facts;

/*
 * Reads the ELF file at path. Returns 0 and fills out (is_elf false for
 * anything that is not an ELF file), or -1 with errno when it cannot be
 * read. Offsets in the file are checked: a malformed file yields facts that
 * are incomplete, never a crash.
 */
int bw_elf_probe(const char *path, bw_elf_facts *out);

/*
 * Finds the file the dynamic loader would load for the DT_NEEDED name,
 * needed by the object at from (whose DT_RUNPATH/RPATH is runpath): those
 * directories ($ORIGIN expanded), LD_LIBRARY_PATH, /etc/ld.so.conf and the
 * system directories, the first file of this machine's class that exists.
 * Returns 0 and the path in out, or -1.
 */
int bw_elf_find_library(const char *name, const char *from, const char *runpath, char *out,
                        size_t outlen);

/*
 * The program the kernel would run for command: PATH is searched for a name
 * without a slash, and a script's "#!" interpreter is followed (through
 * "/usr/bin/env NAME"), twice at most. Returns 0 and the path in out, or -1.
 */
int bw_program_path(const char *command, char *out, size_t outlen);

#endif
