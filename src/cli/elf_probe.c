/*
 * elf_probe.c - facts about one ELF file, read from disk (see elf_probe.h).
 *
 * The file is mapped read-only and every offset and size taken from it is
 * checked against the file's length before use.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_probe.h"

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#else
#error "elf_probe.c: unsupported architecture"
#endif

struct file {
    const uint8_t *p;
    size_t len;
};

/* True when [off, off + n) lies inside the file. */
static bool inside(const struct file *f, uint64_t off, uint64_t n)
{
    return off <= f->len && n <= f->len - off;
}

/* The NUL-terminated string at off, or NULL when it runs past the end. */
static const char *str_at(const struct file *f, uint64_t off)
{
    if (off >= f->len || !memchr(f->p + off, 0, f->len - off))
        return NULL;
    return (const char *)f->p + off;
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* The Go version a .go.buildinfo section records inline (Go 1.18 and later). */
static void go_version(const struct file *f, const Elf64_Shdr *s, char *out, size_t n)
{
    static const char magic[] = "\xff Go buildinf:";
    if (!inside(f, s->sh_offset, 33) || memcmp(f->p + s->sh_offset, magic, 14) != 0 ||
        !(f->p[s->sh_offset + 15] & 2))
        return;
    uint64_t off = s->sh_offset + 32, len = 0;
    for (int shift = 0; inside(f, off, 1) && shift < 35; shift += 7) {
        uint8_t b = f->p[off++];
        len |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    if (len > 0 && len < n && inside(f, off, len)) {
        memcpy(out, f->p + off, len);
        out[len] = '\0';
    }
}

/* DT_NEEDED and DT_RUNPATH/RPATH from a SHT_DYNAMIC section. */
static void read_dynamic(const struct file *f, const Elf64_Shdr *dyn, const Elf64_Shdr *str,
                         bw_elf_facts *out)
{
    if (!inside(f, dyn->sh_offset, dyn->sh_size) || !inside(f, str->sh_offset, str->sh_size))
        return;
    const Elf64_Dyn *d = (const Elf64_Dyn *)(f->p + dyn->sh_offset);
    size_t n = dyn->sh_size / sizeof *d;
    char rpath[sizeof out->runpath] = "";
    for (size_t i = 0; i < n && d[i].d_tag != DT_NULL; i++) {
        if (d[i].d_un.d_val >= str->sh_size)
            continue;
        const char *s = str_at(f, str->sh_offset + d[i].d_un.d_val);
        if (d[i].d_tag == DT_NEEDED && s && out->n_needed < BW_ELF_MAX_NEEDED)
            copy(out->needed[out->n_needed++], BW_ELF_NAME_MAX, s);
        else if (d[i].d_tag == DT_RUNPATH)
            copy(out->runpath, sizeof out->runpath, s);
        else if (d[i].d_tag == DT_RPATH)
            copy(rpath, sizeof rpath, s);
    }
    if (!out->runpath[0])
        memcpy(out->runpath, rpath, sizeof rpath);
}

/* Imports and the few definitions we look for, from a SHT_DYNSYM section. */
static void read_dynsym(const struct file *f, const Elf64_Shdr *sym, const Elf64_Shdr *str,
                        bw_elf_facts *out)
{
    if (!inside(f, sym->sh_offset, sym->sh_size) || !inside(f, str->sh_offset, str->sh_size))
        return;
    const Elf64_Sym *s = (const Elf64_Sym *)(f->p + sym->sh_offset);
    size_t n = sym->sh_size / sizeof *s;
    for (size_t i = 1; i < n; i++) {
        if (s[i].st_name >= str->sh_size)
            continue;
        const char *name = str_at(f, str->sh_offset + s[i].st_name);
        if (!name)
            continue;
        if (s[i].st_shndx == SHN_UNDEF) {
            out->imports_io_uring |= strncmp(name, "io_uring_", 9) == 0;
            out->imports_dlopen |= strcmp(name, "dlopen") == 0 || strcmp(name, "dlmopen") == 0;
        } else {
            out->defines_ssl |= strcmp(name, "SSL_write") == 0;
        }
    }
}

static void read_sections(const struct file *f, const Elf64_Ehdr *eh, bw_elf_facts *out)
{
    if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !inside(f, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)) ||
        eh->e_shstrndx >= eh->e_shnum)
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(f->p + eh->e_shoff);
    const Elf64_Shdr *names = &sh[eh->e_shstrndx];
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        const char *name = sh[i].sh_name < names->sh_size ?
            str_at(f, names->sh_offset + sh[i].sh_name) : NULL;
        if (name && strcmp(name, ".go.buildinfo") == 0) {
            out->go = true;
            go_version(f, &sh[i], out->go_version, sizeof out->go_version);
        } else if (name && (strcmp(name, ".gopclntab") == 0 || strcmp(name, ".note.go.buildid") == 0)) {
            out->go = true;
        }
        if (sh[i].sh_link >= eh->e_shnum)
            continue;
        if (sh[i].sh_type == SHT_DYNAMIC)
            read_dynamic(f, &sh[i], &sh[sh[i].sh_link], out);
        else if (sh[i].sh_type == SHT_DYNSYM)
            read_dynsym(f, &sh[i], &sh[sh[i].sh_link], out);
    }
}

static void read_segments(const struct file *f, const Elf64_Ehdr *eh, bw_elf_facts *out)
{
    if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
        !inside(f, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
        return;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(f->p + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_DYNAMIC)
            out->has_dynamic = true;
        if (ph[i].p_type == PT_INTERP && inside(f, ph[i].p_offset, ph[i].p_filesz)) {
            out->has_interp = true;
            size_t n = ph[i].p_filesz < sizeof out->interp ? ph[i].p_filesz : sizeof out->interp - 1;
            memcpy(out->interp, f->p + ph[i].p_offset, n);
            out->interp[n] = '\0';
        }
    }
}

int bw_elf_probe(const char *path, bw_elf_facts *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return 0;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) {
        errno = e;
        return -1;
    }
    struct file f = {map, (size_t)st.st_size};
    const Elf64_Ehdr *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0) {
        out->is_elf = true;
        out->is_64 = eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_ident[EI_DATA] == ELFDATA2LSB &&
                     eh->e_machine == HOST_MACHINE;
        if (out->is_64) {
            read_segments(&f, eh, out);
            read_sections(&f, eh, out);
        }
    }
    munmap(map, f.len);
    return 0;
}
