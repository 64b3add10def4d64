/*
 * test_chacha.c - the ChaCha20 block function against RFC 8439's test
 * vectors (sections 2.3.2 and A.1).
 */
#include <string.h>

#include "bw_chacha.h"
#include "bw_test.h"

static void test_rfc8439_block(void)
{
    uint8_t kb[32];
    uint32_t key[8];
    for (int i = 0; i < 32; i++)
        kb[i] = (uint8_t)i;
    memcpy(key, kb, sizeof key);   /* little-endian words, as on the wire */
    const uint32_t cn[4] = {1, 0x09000000, 0x4a000000, 0};
    static const uint8_t want[64] = {
        0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20,
        0x71, 0xc4, 0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a,
        0xc3, 0xd4, 0x6c, 0x4e, 0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2,
        0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2, 0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9,
        0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e,
    };
    uint8_t out[64];
    bw_chacha20_block(key, cn, out);
    CU_ASSERT_EQUAL(memcmp(out, want, sizeof want), 0);
}

/* A.1, test vector 1: all-zero key, nonce and counter. */
static void test_zero_block(void)
{
    const uint32_t key[8] = {0}, cn[4] = {0};
    static const uint8_t head[16] = {0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90,
                                     0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28};
    uint8_t out[64];
    bw_chacha20_block(key, cn, out);
    CU_ASSERT_EQUAL(memcmp(out, head, sizeof head), 0);
    const uint32_t next[4] = {1, 0, 0, 0};
    uint8_t out2[64];
    bw_chacha20_block(key, next, out2);
    CU_ASSERT_NOT_EQUAL(memcmp(out, out2, sizeof out), 0);
}

static const bw_test_case cases[] = {
    {"RFC 8439 2.3.2 block", test_rfc8439_block},
    {"RFC 8439 A.1 zero key", test_zero_block},
    {NULL, NULL},
};

BW_TEST_MAIN({"chacha20", cases})
