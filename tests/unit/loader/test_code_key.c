/*
 * loader/hash.c: the identity of a child worker, which billing counts once per day. Same id
 * and code, same key; anything that changes what runs, or which id it runs under, a new key;
 * and bytes moved between fields never collide.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "loader/ld_int.h"

static void key_of(const char *id, const char *main, const struct iso_module *mods, size_t n,
                   uint8_t out[32])
{
    struct iso_child_code code = {.modules = mods, .n_modules = n, .main_module = main};
    ld__code_key(id, strlen(id), &code, out);
}

#define MOD(name, src, type)             \
    {                                    \
        name, src, sizeof(src) - 1, type \
    }

Test(loader_code_key, same_code_same_key)
{
    struct iso_module a[] = {MOD("a.js", "export default {}", ISO_MODULE_ESM)};
    struct iso_module b[] = {MOD("a.js", "export default {}", ISO_MODULE_ESM)};
    uint8_t k1[32], k2[32];
    key_of("id", "a.js", a, 1, k1);
    key_of("id", "a.js", b, 1, k2);
    cr_assert_arr_eq(k1, k2, 32);
}

Test(loader_code_key, anything_that_changes_what_runs_changes_the_key)
{
    struct iso_module base[] = {MOD("a.js", "export default {}", ISO_MODULE_ESM)};
    struct iso_module src[] = {MOD("a.js", "export default {x:1}", ISO_MODULE_ESM)};
    struct iso_module type[] = {MOD("a.js", "export default {}", ISO_MODULE_TEXT)};
    struct iso_module name[] = {MOD("b.js", "export default {}", ISO_MODULE_ESM)};
    uint8_t k0[32], k[32];
    key_of("id", "a.js", base, 1, k0);
    key_of("id2", "a.js", base, 1, k);
    cr_assert_arr_neq(k0, k, 32, "the id is part of the identity");
    key_of("id", "a.js", src, 1, k);
    cr_assert_arr_neq(k0, k, 32, "the source");
    key_of("id", "a.js", type, 1, k);
    cr_assert_arr_neq(k0, k, 32, "the module type");
    key_of("id", "a.js", name, 1, k);
    cr_assert_arr_neq(k0, k, 32, "the module name");
    key_of("id", "b.js", base, 1, k);
    cr_assert_arr_neq(k0, k, 32, "the main module");
}

Test(loader_code_key, bytes_moved_between_fields_do_not_collide)
{
    /* "ab" + "c" and "a" + "bc" must differ: every field is length-prefixed */
    struct iso_module m1[] = {MOD("ab", "c", ISO_MODULE_ESM)};
    struct iso_module m2[] = {MOD("a", "bc", ISO_MODULE_ESM)};
    uint8_t k1[32], k2[32];
    key_of("x", "ab", m1, 1, k1);
    key_of("x", "ab", m2, 1, k2);
    cr_assert_arr_neq(k1, k2, 32);
    struct iso_module one[] = {MOD("a.js", "1", ISO_MODULE_ESM), MOD("b.js", "2", ISO_MODULE_ESM)};
    struct iso_module two[] = {MOD("a.js", "12", ISO_MODULE_ESM)};
    key_of("x", "a.js", one, 2, k1);
    key_of("x", "a.js", two, 1, k2);
    cr_assert_arr_neq(k1, k2, 32);
}
