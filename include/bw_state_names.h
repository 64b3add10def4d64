/*
 * bw_state_names.h - the name table (bw_names.h) of a state region: in a
 * shared state file every process of the config sees the addresses any of
 * them resolved a name to, so a process fails over to a sibling it never
 * resolved itself; under state = process the table is the process's own.
 *
 * Writers take the region's names_lock, a robust mutex with the entries'
 * discipline (bounded wait, a dead holder's table taken over: the table's
 * reads and writes stay inside their slot whatever it holds). Only memory
 * is copied under it. Readers go without it (bw_names_read, each slot's
 * sequence number) and take it only when a slot kept changing under them.
 */
#ifndef BW_STATE_NAMES_H
#define BW_STATE_NAMES_H

#include "bw_names.h"
#include "bw_state.h"

/* The longest the name table's lock is waited for: its holders copy a few
 * hundred bytes, so a longer wait means a lock that is stuck. */
#define BW_STATE_NAMES_WAIT_MS 200

/* bw_names_put on st's table. Returns 0, or -1 when the lock was not had
 * (nothing stored). */
int bw_state_names_put(bw_state *st, const char *name, const bw_name_addr *a, unsigned n,
                       int64_t now_ms, uint32_t ttl_ms);

/* bw_names_get on st's table, without the lock unless a writer is busy
 * there (bw_names_read); 0 addresses when the lock was needed and not had.
 * seen (may be NULL) as bw_names_read's. */
unsigned bw_state_names_get(bw_state *st, const char *name, int64_t now_ms, bw_name_addr *out,
                            unsigned max, bw_names_seen *seen);

/* bw_names_unchanged on st's table (seen from bw_state_names_get; one read
 * under the lock leaves it saying "changed"). */
static inline bool bw_state_names_unchanged(bw_state *st, const bw_names_seen *seen,
                                            int64_t now_ms)
{
    return bw_names_unchanged(&st->hdr->names, seen, now_ms);
}

/* Takes / releases the table's lock (fork prepare of a private region). */
int bw_state_names_lock(bw_state *st);
void bw_state_names_unlock(bw_state *st);

#endif
