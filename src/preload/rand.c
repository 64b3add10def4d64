/* rand.c - the shim's random numbers: for jitter a per-thread splitmix64,
 * for Idempotency-Key bits a per-thread ChaCha20 stream, each seeded from the
 * kernel once (getrandom by number, bw_sys_random: not libc's, which is a
 * cancellation point), so the hot path makes no system call. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "bw_chacha.h"
#include "bw_sys.h"
#include "shim.h"

static __thread uint64_t seed BW_TLS;
static __thread int seeded BW_TLS;

uint64_t bw_rand64(void)
{
    if (!seeded) {
        int saved = errno;
        if (!bw_sys_random(&seed, sizeof seed)) {
            struct timespec ts;
            bw_sys_clock(CLOCK_MONOTONIC, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)bw_sys_getpid() << 32) ^ (uintptr_t)&seed;
        }
        errno = saved;
        seeded = 1;
    }
    uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*
 * Idempotency keys: ChaCha20 keystream under a per-thread key from
 * getrandom, 16 bytes a key, so a key costs no system call after the
 * thread's first. Key number n (one atomic add on a per-thread counter: a
 * signal handler on the same thread never gets the code it interrupted's n)
 * is bytes 16 * (n % 4) of block n / 4: every key its own bytes. The last
 * block is kept for the next three keys, but only by a call that is not
 * interrupting another: a handler that finds the cache busy computes its
 * block for itself. A key that is being replaced (the handler came during
 * the thread's first draw) changes the blocks anyway.
 */
static __thread uint32_t key_words[8] BW_TLS;
static __thread uint64_t key_ctr BW_TLS;
static __thread int key_seeded BW_TLS;
static __thread uint8_t cache[64] BW_TLS;
static __thread uint64_t cache_block BW_TLS;   /* block number + 1 in cache; 0: none */
static __thread int cache_busy BW_TLS;

static void key_block(uint64_t blk, uint8_t out[64])
{
    uint32_t key[8], cn[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), 0, 0};
    memcpy(key, key_words, sizeof key);
    bw_chacha20_block(key, cn, out);
}

void bw_rand_key(uint8_t out[16])
{
    if (!__atomic_load_n(&key_seeded, __ATOMIC_RELAXED)) {
        int saved = errno;
        cache_block = 0;
        if (!bw_sys_random(key_words, sizeof key_words)) {
            for (size_t i = 0; i < 8; i += 2) {   /* no entropy yet (early boot) */
                uint64_t r = bw_rand64();
                memcpy(key_words + i, &r, 8);
            }
        }
        errno = saved;
        __atomic_store_n(&key_seeded, 1, __ATOMIC_RELAXED);
    }
    uint64_t n = __atomic_fetch_add(&key_ctr, 1, __ATOMIC_RELAXED);
    uint64_t blk = n / 4;
    if (__atomic_load_n(&cache_busy, __ATOMIC_RELAXED)) {
        uint8_t block[64];   /* interrupting a key in the making: leave the cache alone */
        key_block(blk, block);
        memcpy(out, block + 16 * (n % 4), 16);
        return;
    }
    __atomic_store_n(&cache_busy, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (cache_block != blk + 1) {
        key_block(blk, cache);
        cache_block = blk + 1;
    }
    memcpy(out, cache + 16 * (n % 4), 16);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&cache_busy, 0, __ATOMIC_RELAXED);
}

/* A child must not draw the same numbers, nor the same keys, as its parent. */
void bw_rand_atfork_child(void)
{
    seeded = 0;
    key_seeded = 0;
    cache_busy = 0;   /* a fork from a handler that interrupted a key */
}
