/*
 * native_note.c - says, once per destination, that a connect left to the
 * program (native mode) is not retried, so that an operator who configured
 * retries learns why none happen.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "bw_log.h"
#include "shim.h"

#define NOTE_BITS 4096

/* Destinations already noted, by a hash of their name (a collision only
 * costs a line). Never cleared: a reload does not repeat the note. */
static atomic_uint_fast64_t noted[NOTE_BITS / 64];

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NOTE_BITS;
}

void bw_native_note(const bw_conn *c)
{
    if (c->policy->retries == 0 || !bw_log_enabled(BW_LOG_INFO))
        return;
    uint32_t bit = name_hash(c->dest_name);
    uint_fast64_t mask = (uint_fast64_t)1 << (bit % 64);
    if (atomic_fetch_or(&noted[bit / 64], mask) & mask)
        return;
    bw_log(BW_LOG_INFO, "%s: a non-blocking connect in native mode (the program waits for it "
           "itself, e.g. in its own epoll loop): its retries are skipped; breaker and bulkhead "
           "still apply", c->dest_name);
}
