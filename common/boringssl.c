/*
 * The BoringSSL loader (see boringssl.h for why it exists). Loading happens once: the library
 * file is read, its DT_FLAGS gets DF_SYMBOLIC (or a spare DT_NULL becomes DT_SYMBOLIC), the
 * copy is written to a memfd and dlopened RTLD_NOW|RTLD_LOCAL through /proc/self/fd, and the
 * relocations glibc made are read back from the library's GOT and data to prove that each of
 * its own symbols bound to itself and that nothing it imports came from an OpenSSL. The copy
 * keeps the library's SONAME (libcrypto.so.0), so a later dlopen of BoringSSL's libssl finds
 * this copy for its DT_NEEDED.
 */
#include "common/boringssl.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef EDGED_BORINGSSL_CRYPTO
#define EDGED_BORINGSSL_CRYPTO "/usr/lib/x86_64-linux-gnu/android/libcrypto.so.0"
#endif

/* Larger than any libcrypto we expect (1.7 MB today): a bound on what we read. */
#define ED__BSSL_MAX_FILE (64u << 20)

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_rc;
static char g_msg[256];
static struct ed_bssl g_table;
static const struct ed_bssl *g_loaded;
static struct ed_bssl_binding g_binding;
static void *g_handle;
static uintptr_t g_lo, g_hi; /* the library's mapped address range */

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return code;
}

/* Reads the whole library. Returns owned bytes (free with free()) or NULL with g_msg set. */
static uint8_t *read_file(const char *path, size_t *len, int *rc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *rc = fail(ED_ENOENT, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    uint8_t *data = NULL;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > ED__BSSL_MAX_FILE) {
        *rc = fail(ED_EIO, "%s: not a readable library file", path);
        goto out_close;
    }
    data = malloc((size_t)st.st_size);
    if (!data) {
        *rc = fail(ED_ENOMEM, "out of memory reading %s", path);
        goto out_close;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *rc = fail(ED_EIO, "cannot read %s", path);
            free(data);
            data = NULL;
            goto out_close;
        }
        got += (size_t)n;
    }
    *len = got;
out_close:
    close(fd);
    return data;
}

/* Makes the library resolve its own symbols within itself first (DF_SYMBOLIC). */
static int patch_symbolic(uint8_t *data, size_t len)
{
    if (len < sizeof(Elf64_Ehdr))
        return fail(ED_EINVAL, "libcrypto: too short for ELF");
    Elf64_Ehdr eh;
    memcpy(&eh, data, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_DYN || eh.e_machine != EM_X86_64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
        (len - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum)
        return fail(ED_EINVAL, "libcrypto: not an x86-64 ELF shared library");
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, data + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_DYNAMIC)
            continue;
        if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
            return fail(ED_EINVAL, "libcrypto: dynamic section outside the file");
        size_t n = ph.p_filesz / sizeof(Elf64_Dyn);
        uint8_t *base = data + ph.p_offset;
        size_t null_at = n, nulls = 0;
        for (size_t k = 0; k < n; k++) {
            Elf64_Dyn d;
            memcpy(&d, base + k * sizeof d, sizeof d);
            if (d.d_tag == DT_FLAGS) {
                d.d_un.d_val |= DF_SYMBOLIC;
                memcpy(base + k * sizeof d, &d, sizeof d);
                return 0;
            }
            if (d.d_tag == DT_SYMBOLIC)
                return 0;
            if (d.d_tag == DT_NULL) {
                if (null_at == n)
                    null_at = k;
                nulls++;
            }
        }
        /* No DT_FLAGS: a spare DT_NULL (linkers leave some) becomes DT_SYMBOLIC. */
        if (nulls >= 2) {
            Elf64_Dyn d = {.d_tag = DT_SYMBOLIC, .d_un = {.d_val = 0}};
            memcpy(base + null_at * sizeof d, &d, sizeof d);
            return 0;
        }
        return fail(ED_EINVAL, "libcrypto: no room in the dynamic section for DT_SYMBOLIC");
    }
    return fail(ED_EINVAL, "libcrypto: no dynamic section");
}

static bool in_library(uintptr_t a)
{
    return a >= g_lo && a < g_hi;
}

/* The extent of the loaded library, from its program headers. */
static int find_range(struct link_map *lm)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)lm->l_addr;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(lm->l_addr + eh->e_phoff);
    g_lo = UINTPTR_MAX;
    g_hi = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        uintptr_t lo = lm->l_addr + ph[i].p_vaddr, hi = lo + ph[i].p_memsz;
        if (lo < g_lo)
            g_lo = lo;
        if (hi > g_hi)
            g_hi = hi;
    }
    return g_lo < g_hi ? 0 : fail(ED_EINVAL, "libcrypto: no loadable segment");
}

/* Whether the object that holds addr defines an OpenSSL entry point (is an OpenSSL). */
static bool is_openssl(uintptr_t addr)
{
    static const char *const probes[] = {"OPENSSL_init_crypto", "OPENSSL_init_ssl"};
    Dl_info info;
    if (!dladdr((void *)addr, &info) || !info.dli_fname)
        return false;
    void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return false;
    bool found = false;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0] && !found; i++) {
        void *p = dlsym(h, probes[i]);
        Dl_info pi;
        found = p && dladdr(p, &pi) && pi.dli_fbase == info.dli_fbase;
    }
    dlclose(h);
    return found;
}

/* Reads back every symbol relocation glibc applied to the library. */
static int check_relocations(struct link_map *lm)
{
    const Elf64_Sym *symtab = NULL;
    const char *strtab = NULL;
    const Elf64_Rela *rel[2] = {NULL, NULL};
    size_t relsz[2] = {0, 0};
    for (const Elf64_Dyn *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
        /* glibc rebases these in place on x86-64; a raw one is below l_addr. */
        uintptr_t p = d->d_un.d_ptr < lm->l_addr ? lm->l_addr + d->d_un.d_ptr : d->d_un.d_ptr;
        switch (d->d_tag) {
        case DT_SYMTAB:
            symtab = (const Elf64_Sym *)p;
            break;
        case DT_STRTAB:
            strtab = (const char *)p;
            break;
        case DT_RELA:
            rel[0] = (const Elf64_Rela *)p;
            break;
        case DT_RELASZ:
            relsz[0] = d->d_un.d_val;
            break;
        case DT_JMPREL:
            rel[1] = (const Elf64_Rela *)p;
            break;
        case DT_PLTRELSZ:
            relsz[1] = d->d_un.d_val;
            break;
        }
    }
    if (!symtab || !strtab)
        return fail(ED_EINVAL, "libcrypto: no dynamic symbol table");
    /* Each object the library imports from is judged once (libc, ld.so, a sanitizer). */
    uintptr_t cleared[8];
    size_t n_cleared = 0;
    for (int s = 0; s < 2; s++) {
        if (!rel[s])
            continue;
        for (size_t i = 0; i < relsz[s] / sizeof(Elf64_Rela); i++) {
            const Elf64_Rela *r = &rel[s][i];
            unsigned type = ELF64_R_TYPE(r->r_info), si = ELF64_R_SYM(r->r_info);
            if (si == 0)
                continue;
            uintptr_t value;
            memcpy(&value, (const void *)(lm->l_addr + r->r_offset), sizeof value);
            if (type == R_X86_64_64)
                value -= (uintptr_t)r->r_addend;
            else if (type != R_X86_64_GLOB_DAT && type != R_X86_64_JUMP_SLOT)
                continue; /* TLS offsets and the like name no address */
            const Elf64_Sym *sym = &symtab[si];
            const char *name = strtab + sym->st_name;
            if (sym->st_shndx != SHN_UNDEF) {
                if (!in_library(value))
                    return fail(ED_EINVAL, "libcrypto: its own %s bound outside it", name);
                g_binding.own++;
                continue;
            }
            g_binding.external++;
            if (value == 0)
                continue; /* an absent weak import */
            Dl_info info;
            if (!dladdr((void *)value, &info))
                continue;
            uintptr_t base = (uintptr_t)info.dli_fbase;
            bool known = false;
            for (size_t k = 0; k < n_cleared && !known; k++)
                known = cleared[k] == base;
            if (known)
                continue;
            if (in_library(value) || is_openssl(value))
                return fail(ED_EINVAL, "libcrypto: import %s bound to %s", name,
                            info.dli_fname ? info.dli_fname : "?");
            if (n_cleared < sizeof cleared / sizeof cleared[0])
                cleared[n_cleared++] = base;
        }
    }
    if (g_binding.own == 0)
        return fail(ED_EINVAL, "libcrypto: no relocations found to check");
    return 0;
}

static int resolve_table(void)
{
#define ED__BSSL_RESOLVE(name)                                                            \
    do {                                                                                  \
        void *p = dlsym(g_handle, #name);                                                 \
        if (!p || !in_library((uintptr_t)p))                                              \
            return fail(ED_EINVAL, "libcrypto: %s is missing or lies outside it", #name); \
        memcpy(&g_table.name, &p, sizeof p);                                              \
        g_binding.functions++;                                                            \
    } while (0);
    ED_BSSL_FUNCTIONS(ED__BSSL_RESOLVE)
#undef ED__BSSL_RESOLVE
    return 0;
}

static int load(void)
{
    size_t len = 0;
    int rc = 0;
    uint8_t *data = read_file(EDGED_BORINGSSL_CRYPTO, &len, &rc);
    if (!data)
        return rc;
    rc = patch_symbolic(data, len);
    if (rc)
        goto out_free;
    int fd = memfd_create("edged-boringssl-libcrypto", MFD_CLOEXEC);
    if (fd < 0) {
        rc = fail(ED_EIO, "memfd_create: %s", strerror(errno));
        goto out_free;
    }
    size_t put = 0;
    while (put < len) {
        ssize_t n = write(fd, data + put, len - put);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = fail(ED_EIO, "writing the libcrypto copy: %s", strerror(errno));
            goto out_close;
        }
        put += (size_t)n;
    }
    snprintf(g_binding.path, sizeof g_binding.path, "/proc/self/fd/%d", fd);
    g_handle = dlopen(g_binding.path, RTLD_NOW | RTLD_LOCAL);
    if (!g_handle) {
        const char *why = dlerror();
        rc = fail(ED_EIO, "dlopen libcrypto copy: %s", why ? why : "?");
        goto out_close;
    }
    struct link_map *lm = NULL;
    if (dlinfo(g_handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
        rc = fail(ED_EIO, "dlinfo on the libcrypto copy failed");
        goto out_close;
    }
    rc = find_range(lm);
    if (!rc)
        rc = check_relocations(lm);
    if (!rc)
        rc = resolve_table();
    if (!rc && strstr(g_table.OpenSSL_version(OPENSSL_VERSION), "BoringSSL") == NULL)
        rc = fail(ED_EINVAL, "libcrypto: %s is not BoringSSL", EDGED_BORINGSSL_CRYPTO);
    /* On failure the library stays mapped but unused: unloading code that may have bound
     * wrongly is no safer than leaving it. */
out_close:
    close(fd);
out_free:
    free(data);
    return rc;
}

static void load_once(void)
{
    g_rc = load();
    if (g_rc == 0)
        g_loaded = &g_table;
}

int ed_bssl_load(struct ed_error *err)
{
    pthread_once(&g_once, load_once);
    if (g_rc)
        return ed_error_set(err, g_rc, "BoringSSL: %s", g_msg);
    return 0;
}

const struct ed_bssl *ed_bssl(void)
{
    return g_loaded;
}

int ed_bssl_binding(struct ed_bssl_binding *out)
{
    if (!g_loaded)
        return ED_EINVAL;
    *out = g_binding;
    return 0;
}

bool ed_bssl_contains(const void *addr)
{
    return g_loaded && in_library((uintptr_t)addr);
}
