/* hash.c - 64-bit FNV-1a (see bw_hash.h). */
#include "bw_hash.h"

uint64_t bw_hash_more(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = bw_hash_byte(h, p[i]);
    return h;
}

uint64_t bw_hash(const void *data, size_t len, uint64_t seed)
{
    return bw_hash_more(BW_HASH_BASIS ^ seed, data, len);
}
