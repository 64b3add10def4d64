/*
 * bw_chacha.h - the ChaCha20 block function (RFC 8439 section 2.3), for
 * drawing Idempotency-Key bits from a key the kernel gave once instead of a
 * system call per key. Pure: no system call, no state.
 */
#ifndef BW_CHACHA_H
#define BW_CHACHA_H

#include <stdint.h>

/*
 * Writes the 64-byte keystream block of key (eight little-endian words) at
 * block position ctr_nonce: state words 12..15, i.e. RFC 8439's 32-bit
 * block counter and 96-bit nonce, or a 64-bit counter and a 64-bit nonce.
 */
void bw_chacha20_block(const uint32_t key[8], const uint32_t ctr_nonce[4], uint8_t out[64]);

#endif
