/* uuid.c - RFC 9562 version 4 and 7 UUIDs and their text form (bw_uuid.h). */
#include <string.h>

#include "bw_uuid.h"

/* Version in the high nibble of octet 6, variant 10xx in octet 8 (RFC 9562 4.1, 4.2). */
static void set_version(uint8_t u[16], unsigned version)
{
    u[6] = (uint8_t)((u[6] & 0x0f) | (version << 4));
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

void bw_uuid4(uint8_t out[16], const uint8_t rnd[16])
{
    memcpy(out, rnd, 16);
    set_version(out, 4);
}

void bw_uuid7(uint8_t out[16], uint64_t unix_ms, const uint8_t rnd[10])
{
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(unix_ms >> (40 - 8 * i));
    /* rand_a is 12 bits (octets 6-7), rand_b 62 bits (octets 8-15): the
     * version and variant bits overwrite the top of rnd[0] and rnd[2]. */
    memcpy(out + 6, rnd, 10);
    set_version(out, 7);
}

void bw_uuid_format(const uint8_t u[16], char out[BW_UUID_TEXT])
{
    static const char hex[] = "0123456789abcdef";
    static const uint8_t at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    for (int i = 0; i < 16; i++) {
        out[at[i]] = hex[u[i] >> 4];
        out[at[i] + 1] = hex[u[i] & 0x0f];
    }
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}
