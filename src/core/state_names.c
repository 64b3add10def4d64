/* state_names.c - the name table of a state region (see bw_state_names.h). */
#include "bw_state_names.h"

int bw_state_names_lock(bw_state *st)
{
    return bw_state_mutex_lock(&st->hdr->names_lock, BW_STATE_NAMES_WAIT_MS);
}

void bw_state_names_unlock(bw_state *st)
{
    pthread_mutex_unlock(&st->hdr->names_lock);
}

int bw_state_names_put(bw_state *st, const char *name, const bw_name_addr *a, unsigned n,
                       int64_t now_ms, uint32_t ttl_ms)
{
    if (bw_state_names_lock(st) != 0)
        return -1;
    bw_names_put(&st->hdr->names, name, a, n, now_ms, ttl_ms);
    bw_state_names_unlock(st);
    return 0;
}

unsigned bw_state_names_get(bw_state *st, const char *name, int64_t now_ms, bw_name_addr *out,
                            unsigned max, bw_names_seen *seen)
{
    int quiet = bw_names_read(&st->hdr->names, name, now_ms, out, max, seen);
    if (quiet >= 0)
        return (unsigned)quiet;   /* the usual case: no writer inside, no lock */
    if (bw_state_names_lock(st) != 0)
        return 0;
    unsigned n = bw_names_get(&st->hdr->names, name, now_ms, out, max);
    bw_state_names_unlock(st);
    return n;
}
