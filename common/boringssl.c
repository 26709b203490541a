/*
 * The BoringSSL loader (see boringssl.h for why it exists). Loading happens once: each library
 * file is read, its DT_FLAGS gets DF_SYMBOLIC (or a spare DT_NULL becomes DT_SYMBOLIC), the
 * copy is written to a memfd and dlopened RTLD_NOW|RTLD_LOCAL through /proc/self/fd, and the
 * relocations glibc made are read back from the library's GOT and data to prove that each of
 * its own symbols bound to itself and that nothing it imports came from an OpenSSL. The
 * libcrypto copy keeps its SONAME (libcrypto.so.0), so the dlopen of BoringSSL's libssl that
 * follows finds this copy for its DT_NEEDED (glibc matches a loaded object by SONAME); libssl's
 * references to libcrypto's symbols, which glibc looked up in the global scope first and so
 * bound to OpenSSL's libcrypto.so.3, are then rewritten in place (its RELRO pages made writable
 * for the moment) to the definitions in our copy, before anything of libssl runs but its
 * constructors (frame_dummy: no libcrypto call), and checked like the rest.
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

#ifndef EDGED_BORINGSSL_SSL
#define EDGED_BORINGSSL_SSL "/usr/lib/x86_64-linux-gnu/android/libssl.so.0"
#endif

/* Larger than any library we expect (libcrypto is 1.7 MB today): a bound on what we read. */
#define ED__BSSL_MAX_FILE (64u << 20)

/* One loaded copy. */
struct lib {
    const char *name; /* "libcrypto", "libssl": for messages */
    void *handle;
    struct link_map *lm;
    uintptr_t lo, hi; /* the mapped address range */
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_rc;
static char g_msg[256];
static struct ed_bssl g_table;
static const struct ed_bssl *g_loaded;
static struct ed_bssl_binding g_binding;
static struct lib g_crypto = {.name = "libcrypto"}, g_ssl = {.name = "libssl"};

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
static int patch_symbolic(const struct lib *l, uint8_t *data, size_t len)
{
    if (len < sizeof(Elf64_Ehdr))
        return fail(ED_EINVAL, "%s: too short for ELF", l->name);
    Elf64_Ehdr eh;
    memcpy(&eh, data, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_DYN || eh.e_machine != EM_X86_64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
        (len - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum)
        return fail(ED_EINVAL, "%s: not an x86-64 ELF shared library", l->name);
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, data + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_DYNAMIC)
            continue;
        if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
            return fail(ED_EINVAL, "%s: dynamic section outside the file", l->name);
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
        return fail(ED_EINVAL, "%s: no room in the dynamic section for DT_SYMBOLIC", l->name);
    }
    return fail(ED_EINVAL, "%s: no dynamic section", l->name);
}

static bool in_lib(const struct lib *l, uintptr_t a)
{
    return a >= l->lo && a < l->hi;
}

/* The extent of the loaded library, from its program headers. */
static int find_range(struct lib *l)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)l->lm->l_addr;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(l->lm->l_addr + eh->e_phoff);
    l->lo = UINTPTR_MAX;
    l->hi = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        uintptr_t lo = l->lm->l_addr + ph[i].p_vaddr, hi = lo + ph[i].p_memsz;
        if (lo < l->lo)
            l->lo = lo;
        if (hi > l->hi)
            l->hi = hi;
    }
    return l->lo < l->hi ? 0 : fail(ED_EINVAL, "%s: no loadable segment", l->name);
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

/* The library's dynamic symbol table, string table and relocation tables. */
struct dyn {
    const Elf64_Sym *symtab;
    const char *strtab;
    const Elf64_Rela *rel[2];
    size_t relsz[2];
};

static int read_dynamic(const struct lib *l, struct dyn *d)
{
    memset(d, 0, sizeof *d);
    const struct link_map *lm = l->lm;
    for (const Elf64_Dyn *e = lm->l_ld; e->d_tag != DT_NULL; e++) {
        /* glibc rebases these in place on x86-64; a raw one is below l_addr. */
        uintptr_t p = e->d_un.d_ptr < lm->l_addr ? lm->l_addr + e->d_un.d_ptr : e->d_un.d_ptr;
        switch (e->d_tag) {
        case DT_SYMTAB:
            d->symtab = (const Elf64_Sym *)p;
            break;
        case DT_STRTAB:
            d->strtab = (const char *)p;
            break;
        case DT_RELA:
            d->rel[0] = (const Elf64_Rela *)p;
            break;
        case DT_RELASZ:
            d->relsz[0] = e->d_un.d_val;
            break;
        case DT_JMPREL:
            d->rel[1] = (const Elf64_Rela *)p;
            break;
        case DT_PLTRELSZ:
            d->relsz[1] = e->d_un.d_val;
            break;
        }
    }
    if (!d->symtab || !d->strtab)
        return fail(ED_EINVAL, "%s: no dynamic symbol table", l->name);
    return 0;
}

/* One symbol relocation glibc applied: where it wrote, what it means, the symbol. */
struct reloc {
    uintptr_t *slot;
    uintptr_t addend; /* added to the symbol's address (R_X86_64_64) */
    const Elf64_Sym *sym;
    const char *name;
};

/* Calls fn for every symbol relocation of l that names an address (GOT entries, PLT slots,
 * absolute data words); stops at and returns fn's first non-zero result. */
static int each_reloc(const struct lib *l, const struct dyn *d,
                      int (*fn)(const struct lib *l, const struct reloc *r, void *ud), void *ud)
{
    for (int s = 0; s < 2; s++) {
        if (!d->rel[s])
            continue;
        for (size_t i = 0; i < d->relsz[s] / sizeof(Elf64_Rela); i++) {
            const Elf64_Rela *r = &d->rel[s][i];
            unsigned type = ELF64_R_TYPE(r->r_info), si = ELF64_R_SYM(r->r_info);
            if (si == 0)
                continue;
            if (type != R_X86_64_64 && type != R_X86_64_GLOB_DAT && type != R_X86_64_JUMP_SLOT)
                continue; /* TLS offsets and the like name no address */
            struct reloc rel = {
                .slot = (uintptr_t *)(l->lm->l_addr + r->r_offset),
                .addend = type == R_X86_64_64 ? (uintptr_t)r->r_addend : 0,
                .sym = &d->symtab[si],
                .name = d->strtab + d->symtab[si].st_name,
            };
            int rc = fn(l, &rel, ud);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* The address our libcrypto copy defines for name, or 0 when it defines none. */
static uintptr_t crypto_symbol(const char *name)
{
    void *p = dlsym(g_crypto.handle, name);
    return p && in_lib(&g_crypto, (uintptr_t)p) ? (uintptr_t)p : 0;
}

/* Objects an import was bound to that were found to be no OpenSSL (libc, ld.so, a sanitizer,
 * libstdc++), so each is judged once. */
struct cleared {
    uintptr_t base[16];
    size_t n;
};

/* Proves one relocation: own symbols inside l; libssl's references to libcrypto's symbols
 * inside our libcrypto copy; other imports in no OpenSSL (nor in BoringSSL under another
 * name). */
static int check_one(const struct lib *l, const struct reloc *r, void *ud)
{
    struct cleared *cl = ud;
    uintptr_t value;
    memcpy(&value, r->slot, sizeof value);
    value -= r->addend;
    bool ssl = l == &g_ssl;
    if (r->sym->st_shndx != SHN_UNDEF) {
        if (!in_lib(l, value))
            return fail(ED_EINVAL, "%s: its own %s bound outside it", l->name, r->name);
        (*(ssl ? &g_binding.ssl_own : &g_binding.own))++;
        return 0;
    }
    uintptr_t want = ssl ? crypto_symbol(r->name) : 0;
    if (want) {
        if (value != want)
            return fail(ED_EINVAL, "libssl: %s is not bound to BoringSSL's libcrypto", r->name);
        g_binding.ssl_crypto++;
        return 0;
    }
    (*(ssl ? &g_binding.ssl_external : &g_binding.external))++;
    if (value == 0)
        return 0; /* an absent weak import */
    Dl_info info;
    if (!dladdr((void *)value, &info))
        return 0;
    uintptr_t base = (uintptr_t)info.dli_fbase;
    for (size_t k = 0; k < cl->n; k++)
        if (cl->base[k] == base)
            return 0;
    if (in_lib(&g_crypto, value) || in_lib(&g_ssl, value) || is_openssl(value))
        return fail(ED_EINVAL, "%s: import %s bound to %s", l->name, r->name,
                    info.dli_fname ? info.dli_fname : "?");
    if (cl->n < sizeof cl->base / sizeof cl->base[0])
        cl->base[cl->n++] = base;
    return 0;
}

/* Reads back every symbol relocation glibc applied to l. */
static int check_relocations(const struct lib *l)
{
    struct dyn d;
    int rc = read_dynamic(l, &d);
    if (rc)
        return rc;
    struct cleared cl = {.n = 0};
    rc = each_reloc(l, &d, check_one, &cl);
    if (rc)
        return rc;
    if ((l == &g_ssl ? g_binding.ssl_own + g_binding.ssl_crypto : g_binding.own) == 0)
        return fail(ED_EINVAL, "%s: no relocations found to check", l->name);
    return 0;
}

/* Points one of libssl's references to a libcrypto symbol at our copy's definition. */
static int rebind_one(const struct lib *l, const struct reloc *r, void *ud)
{
    (void)l;
    (void)ud;
    if (r->sym->st_shndx != SHN_UNDEF)
        return 0;
    uintptr_t want = crypto_symbol(r->name);
    if (!want)
        return 0;
    uintptr_t value;
    memcpy(&value, r->slot, sizeof value);
    if (value != want + r->addend) {
        want += r->addend;
        memcpy(r->slot, &want, sizeof want);
        g_binding.ssl_rebound++;
    }
    return 0;
}

/* libssl's RELRO pages (GOT, PLT slots, vtables), which glibc made read-only after relocating. */
static void relro_range(const struct lib *l, uintptr_t *lo, uintptr_t *hi)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)l->lm->l_addr;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(l->lm->l_addr + eh->e_phoff);
    long page = sysconf(_SC_PAGESIZE);
    *lo = *hi = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_GNU_RELRO)
            continue;
        uintptr_t start = l->lm->l_addr + ph[i].p_vaddr;
        /* glibc protects whole pages from the segment's start up to its end rounded down */
        *lo = start & ~(uintptr_t)(page - 1);
        *hi = (start + ph[i].p_memsz) & ~(uintptr_t)(page - 1);
    }
}

static int rebind_ssl(void)
{
    struct dyn d;
    int rc = read_dynamic(&g_ssl, &d);
    if (rc)
        return rc;
    uintptr_t lo, hi;
    relro_range(&g_ssl, &lo, &hi);
    if (hi > lo && mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0)
        return fail(ED_EIO, "libssl: cannot unprotect its RELRO pages: %s", strerror(errno));
    rc = each_reloc(&g_ssl, &d, rebind_one, NULL);
    if (hi > lo && mprotect((void *)lo, hi - lo, PROT_READ) != 0 && rc == 0)
        rc = fail(ED_EIO, "libssl: cannot protect its RELRO pages again: %s", strerror(errno));
    return rc;
}

static int resolve_table(void)
{
#define ED__BSSL_RESOLVE_IN(l, fn)                                                          \
    do {                                                                                    \
        void *p = dlsym((l)->handle, #fn);                                                  \
        if (!p || !in_lib((l), (uintptr_t)p))                                               \
            return fail(ED_EINVAL, "%s: %s is missing or lies outside it", (l)->name, #fn); \
        memcpy(&g_table.fn, &p, sizeof p);                                                  \
        g_binding.functions++;                                                              \
    } while (0);
#define ED__BSSL_RESOLVE(name) ED__BSSL_RESOLVE_IN(&g_crypto, name)
#define ED__BSSL_RESOLVE_SSL(name) ED__BSSL_RESOLVE_IN(&g_ssl, name)
    ED_BSSL_FUNCTIONS(ED__BSSL_RESOLVE)
    ED_BSSL_SSL_FUNCTIONS(ED__BSSL_RESOLVE_SSL)
#undef ED__BSSL_RESOLVE_SSL
#undef ED__BSSL_RESOLVE
#undef ED__BSSL_RESOLVE_IN
    return 0;
}

/* Copies the library at path into a memfd with DF_SYMBOLIC set and dlopens the copy
 * RTLD_LOCAL; fills l. path_out gets /proc/self/fd/N. The memfd stays open for the process's
 * life: glibc knows the copy by that path, and a closed N would be the next memfd's number, so
 * the libssl copy's dlopen("/proc/self/fd/N") would find the libcrypto copy by name. */
static int load_copy(struct lib *l, const char *path, char *path_out, size_t path_cap)
{
    size_t len = 0;
    int rc = 0;
    uint8_t *data = read_file(path, &len, &rc);
    if (!data)
        return rc;
    rc = patch_symbolic(l, data, len);
    if (rc)
        goto out_free;
    char memfd_name[64];
    snprintf(memfd_name, sizeof memfd_name, "edged-boringssl-%s", l->name);
    int fd = memfd_create(memfd_name, MFD_CLOEXEC);
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
            rc = fail(ED_EIO, "writing the %s copy: %s", l->name, strerror(errno));
            goto out_close;
        }
        put += (size_t)n;
    }
    snprintf(path_out, path_cap, "/proc/self/fd/%d", fd);
    l->handle = dlopen(path_out, RTLD_NOW | RTLD_LOCAL);
    if (!l->handle) {
        const char *why = dlerror();
        rc = fail(ED_EIO, "dlopen %s copy: %s", l->name, why ? why : "?");
        goto out_close;
    }
    if (dlinfo(l->handle, RTLD_DI_LINKMAP, &l->lm) != 0 || !l->lm) {
        rc = fail(ED_EIO, "dlinfo on the %s copy failed", l->name);
        goto out_close;
    }
    rc = find_range(l);
    if (rc == 0)
        goto out_free;
out_close:
    close(fd);
out_free:
    free(data);
    return rc;
}

static int load(void)
{
    int rc = load_copy(&g_crypto, EDGED_BORINGSSL_CRYPTO, g_binding.path, sizeof g_binding.path);
    if (!rc)
        rc = check_relocations(&g_crypto);
    /* libssl's DT_NEEDED libcrypto.so.0 is the copy above, matched by its SONAME */
    if (!rc)
        rc = load_copy(&g_ssl, EDGED_BORINGSSL_SSL, g_binding.ssl_path, sizeof g_binding.ssl_path);
    if (!rc)
        rc = rebind_ssl();
    if (!rc)
        rc = check_relocations(&g_ssl);
    if (!rc)
        rc = resolve_table();
    if (!rc && strstr(g_table.OpenSSL_version(OPENSSL_VERSION), "BoringSSL") == NULL)
        rc = fail(ED_EINVAL, "libcrypto: %s is not BoringSSL", EDGED_BORINGSSL_CRYPTO);
    /* On failure the libraries stay mapped but unused: unloading code that may have bound
     * wrongly is no safer than leaving it. */
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
    return g_loaded && (in_lib(&g_crypto, (uintptr_t)addr) || in_lib(&g_ssl, (uintptr_t)addr));
}
