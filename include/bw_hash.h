/*
 * bw_hash.h - the project's one hash: 64-bit FNV-1a.
 *
 * Used for the state table's keys, the state file's name, the config's
 * destination names, the match index, the host cache and the name table.
 * Its values are part of the state file (entry keys, file name): changing
 * the function means a new state layout version.
 */
#ifndef BW_HASH_H
#define BW_HASH_H

#include <stddef.h>
#include <stdint.h>

#define BW_HASH_BASIS 0xcbf29ce484222325ULL   /* FNV-1a 64-bit offset basis */
#define BW_HASH_PRIME 0x100000001b3ULL        /* FNV-1a 64-bit prime */

/* One more byte into hash h (for callers that transform bytes on the way,
 * such as case folding). */
static inline uint64_t bw_hash_byte(uint64_t h, uint8_t byte)
{
    return (h ^ byte) * BW_HASH_PRIME;
}

/* FNV-1a of data[0, len) from the basis xor seed (seed 0: plain FNV-1a). */
uint64_t bw_hash(const void *data, size_t len, uint64_t seed);

/* Continues hash h over data[0, len): bw_hash(a + b) = bw_hash_more(bw_hash(a), b). */
uint64_t bw_hash_more(uint64_t h, const void *data, size_t len);

#endif
