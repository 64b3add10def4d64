/* rand.c - the shim's random numbers for jitter: a per-thread splitmix64
 * seeded from the kernel once, so the hot path makes no system call. */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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

/* A child must not draw the same numbers as its parent. */
void bw_rand_atfork_child(void)
{
    seeded = 0;
}
