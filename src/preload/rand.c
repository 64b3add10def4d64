/* rand.c - the shim's random numbers: for jitter a per-thread splitmix64,
 * for Idempotency-Key bits a per-thread ChaCha20 stream, each seeded from the
 * kernel once, so the hot path makes no system call. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bw_chacha.h"
#include "shim.h"

static __thread uint64_t seed;
static __thread int seeded;

uint64_t bw_rand64(void)
{
    if (!seeded) {
        int saved = errno;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)&seed;
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
 * Idempotency keys: ChaCha20 blocks under a per-thread key from getrandom,
 * at a per-thread counter, one block per key, so a key costs no system call
 * after the thread's first. The counter is taken with one atomic add, so a
 * signal handler writing a request on the same thread never gets the block
 * the code it interrupted got; a key that is being replaced (the handler
 * came during the first draw) changes the block anyway.
 */
static __thread uint32_t key_words[8];
static __thread uint64_t key_ctr;
static __thread int key_seeded;

void bw_rand_key(uint8_t out[16])
{
    if (!__atomic_load_n(&key_seeded, __ATOMIC_RELAXED)) {
        int saved = errno;
        if (getrandom(key_words, sizeof key_words, GRND_NONBLOCK) != sizeof key_words) {
            for (size_t i = 0; i < 8; i += 2) {   /* no entropy yet (early boot) */
                uint64_t r = bw_rand64();
                memcpy(key_words + i, &r, 8);
            }
        }
        errno = saved;
        __atomic_store_n(&key_seeded, 1, __ATOMIC_RELAXED);
    }
    uint64_t n = __atomic_fetch_add(&key_ctr, 1, __ATOMIC_RELAXED);
    uint32_t key[8], cn[4] = {(uint32_t)n, (uint32_t)(n >> 32), 0, 0};
    memcpy(key, key_words, sizeof key);
    uint8_t block[64];
    bw_chacha20_block(key, cn, block);
    memcpy(out, block, 16);
}

/* A child must not draw the same numbers, nor the same keys, as its parent. */
void bw_rand_atfork_child(void)
{
    seeded = 0;
    key_seeded = 0;
}
