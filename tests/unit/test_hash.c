/* test_hash.c - the one hash (bw_hash.h): 64-bit FNV-1a, by its published
 * test vectors, and the values the state file's name and keys depend on. */
#include <string.h>

#include "bw_hash.h"
#include "bw_state.h"
#include "bw_test.h"

static void test_vectors(void)
{
    /* FNV-1a 64 of "", "a", "foobar" (the reference vectors of the FNV authors). */
    CU_ASSERT_EQUAL(bw_hash("", 0, 0), 0xcbf29ce484222325ULL);
    CU_ASSERT_EQUAL(bw_hash("a", 1, 0), 0xaf63dc4c8601ec8cULL);
    CU_ASSERT_EQUAL(bw_hash("foobar", 6, 0), 0x85944171f73967e8ULL);
}

static void test_seed_and_continuation(void)
{
    /* a seed is xored into the basis (the host cache seeds with the family) */
    CU_ASSERT_EQUAL(bw_hash("", 0, 10), 0xcbf29ce484222325ULL ^ 10);
    CU_ASSERT_NOT_EQUAL(bw_hash("ab", 2, 2), bw_hash("ab", 2, 10));
    /* hashing in pieces is hashing the whole */
    CU_ASSERT_EQUAL(bw_hash_more(bw_hash("foo", 3, 0), "bar", 3), bw_hash("foobar", 6, 0));
    uint64_t h = bw_hash("", 0, 0);
    for (const char *p = "foobar"; *p; p++)
        h = bw_hash_byte(h, (uint8_t)*p);
    CU_ASSERT_EQUAL(h, bw_hash("foobar", 6, 0));
}

static void test_state_name_unchanged(void)
{
    /* The state file's name is breakwater-UID-HASH-v2 with HASH of the
     * config path: the same function under its older name. */
    const char *path = "/etc/breakwater.ini";
    CU_ASSERT_EQUAL(bw_hash64(path, strlen(path), 0), bw_hash(path, strlen(path), 0));
    CU_ASSERT_EQUAL(bw_hash64("a", 1, 0), 0xaf63dc4c8601ec8cULL);
}

static const bw_test_case cases[] = {
    {"FNV-1a test vectors", test_vectors},
    {"seed and continuation", test_seed_and_continuation},
    {"state file name unchanged", test_state_name_unchanged},
    {NULL, NULL},
};

BW_TEST_MAIN({"hash", cases})
