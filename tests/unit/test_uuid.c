/* test_uuid.c - RFC 9562 version 4 and 7 UUIDs and their text form. */
#include <string.h>

#include "bw_test.h"
#include "bw_uuid.h"

static void fill(uint8_t *b, size_t n, uint8_t v)
{
    memset(b, v, n);
}

static void test_v4_bits(void)
{
    uint8_t rnd[16], u[16];
    for (int v = 0; v < 256; v += 85) {   /* all-zero, all-one and mixed patterns */
        fill(rnd, sizeof rnd, (uint8_t)v);
        bw_uuid4(u, rnd);
        CU_ASSERT_EQUAL(u[6] >> 4, 4);
        CU_ASSERT_EQUAL(u[8] >> 6, 2);
        CU_ASSERT_EQUAL(u[6] & 0x0f, rnd[6] & 0x0f);
        CU_ASSERT_EQUAL(u[8] & 0x3f, rnd[8] & 0x3f);
        CU_ASSERT_EQUAL(memcmp(u, rnd, 6), 0);
        CU_ASSERT_EQUAL(u[7], rnd[7]);
        CU_ASSERT_EQUAL(memcmp(u + 9, rnd + 9, 7), 0);
    }
}

static void test_v7_layout(void)
{
    uint8_t rnd[10] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66};
    uint8_t u[16];
    /* RFC 9562 appendix A.6 uses 0x017F22E279B0 = Tuesday, February 22, 2022 2:22:22 PM GMT-05:00 */
    bw_uuid7(u, 0x017F22E279B0ull, rnd);
    static const uint8_t ts[6] = {0x01, 0x7f, 0x22, 0xe2, 0x79, 0xb0};
    CU_ASSERT_EQUAL(memcmp(u, ts, 6), 0);
    CU_ASSERT_EQUAL(u[6], 0x7f);          /* version 7, then rnd[0]'s low nibble */
    CU_ASSERT_EQUAL(u[7], 0xee);
    CU_ASSERT_EQUAL(u[8], 0x80 | 0x1d);   /* variant 10, then rnd[2]'s low 6 bits */
    CU_ASSERT_EQUAL(memcmp(u + 9, rnd + 3, 7), 0);
}

static void test_v7_timestamp_truncated(void)
{
    uint8_t rnd[10] = {0}, u[16];
    bw_uuid7(u, 0xABCD000000000001ull, rnd);   /* only the low 48 bits fit */
    static const uint8_t ts[6] = {0, 0, 0, 0, 0, 1};
    CU_ASSERT_EQUAL(memcmp(u, ts, 6), 0);
    CU_ASSERT_EQUAL(u[6], 0x70);
    CU_ASSERT_EQUAL(u[8], 0x80);
}

static void test_v7_sorts_by_time(void)
{
    uint8_t hi[10], lo[10], a[16], b[16];
    fill(hi, sizeof hi, 0xff);
    fill(lo, sizeof lo, 0x00);
    bw_uuid7(a, 1700000000000ull, hi);
    bw_uuid7(b, 1700000000001ull, lo);
    CU_ASSERT(memcmp(a, b, 16) < 0);
}

static void test_format(void)
{
    static const uint8_t u[16] = {0x01, 0x7f, 0x22, 0xe2, 0x79, 0xb0, 0x7c, 0xc3,
                                  0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f};
    char out[BW_UUID_TEXT];
    memset(out, 'x', sizeof out);
    bw_uuid_format(u, out);
    CU_ASSERT_STRING_EQUAL(out, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
    CU_ASSERT_EQUAL(strlen(out), 36);
}

static void test_format_v4(void)
{
    uint8_t rnd[16], u[16];
    char out[BW_UUID_TEXT];
    for (int i = 0; i < 16; i++)
        rnd[i] = (uint8_t)(0xf0 + i);
    bw_uuid4(u, rnd);
    bw_uuid_format(u, out);
    CU_ASSERT_STRING_EQUAL(out, "f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff");
}

static const bw_test_case uuid_cases[] = {
    {"v4 version and variant bits", test_v4_bits},
    {"v7 layout (RFC 9562 A.6 timestamp)", test_v7_layout},
    {"v7 keeps the low 48 bits of the time", test_v7_timestamp_truncated},
    {"v7 sorts by time", test_v7_sorts_by_time},
    {"text form", test_format},
    {"text form of a v4", test_format_v4},
    {NULL, NULL},
};

BW_TEST_MAIN({"uuid", uuid_cases})
