/*
 * bw_uuid.h - RFC 9562 UUIDs built from caller-supplied randomness.
 *
 * The core draws no randomness of its own: the shell reads getrandom() and
 * the clock and passes the bytes in, so every UUID is reproducible in tests.
 * Versions 4 and 7 are produced with their version and variant bits set;
 * the text form is the lower-case 8-4-4-4-12 form of RFC 9562 section 4.
 */
#ifndef BW_UUID_H
#define BW_UUID_H

#include <stdint.h>

#define BW_UUID_TEXT 37   /* 36 characters and a NUL */

/* out = a version 4 UUID: the 122 random bits are taken from rnd. */
void bw_uuid4(uint8_t out[16], const uint8_t rnd[16]);

/*
 * out = a version 7 UUID: the low 48 bits of unix_ms (milliseconds since the
 * Unix epoch, big-endian) followed by 74 random bits taken from rnd.
 */
void bw_uuid7(uint8_t out[16], uint64_t unix_ms, const uint8_t rnd[10]);

/* Writes u as 36 lower-case characters and a NUL. */
void bw_uuid_format(const uint8_t u[16], char out[BW_UUID_TEXT]);

#endif
