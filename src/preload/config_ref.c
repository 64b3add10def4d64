/*
 * config_ref.c - the lifetime of configs: the one in force, and the older
 * ones that connections still point into (their policy, their section name).
 *
 * Each config sits in a slot with a reference count: one reference for
 * being in force, one per connection record made under it, one per hook
 * call using it right now. A slot outlives its config (slots are a static
 * array), so a thread that loaded the pointer to a slot that was retired
 * meanwhile may still count on it safely: it then sees that the slot is no
 * longer the current one and lets go without touching the config. Retired
 * configs nobody holds are freed by bw_cfg_sweep, which, like
 * bw_cfg_publish, only the one thread running a reload check calls
 * (reload.c).
 *
 * The order of operations is sequentially consistent: a holder counts up,
 * then re-reads `bw_cfg_current`; the sweeper swapped it before it reads a
 * count of zero. Either the holder sees the new slot (and lets go), or the
 * sweeper sees the holder's count (and keeps the config).
 */
#include <stdatomic.h>

#include "shim.h"

#define SLOTS 64

enum slot_state { SLOT_FREE, SLOT_CURRENT, SLOT_RETIRED };   /* struct bw_cfg_ref's state */

static struct bw_cfg_ref slots[SLOTS];
/* The slot in force. bw_cfg_hold, the holder's side of the order above,
 * is inline in shim.h: every connect takes a hold. */
_Atomic(struct bw_cfg_ref *) bw_cfg_current;

bw_cfg_ref *bw_cfg_keep(bw_cfg_ref *ref)
{
    atomic_fetch_add(&ref->refs, 1);   /* already held: it cannot be swept meanwhile */
    return ref;
}

void bw_cfg_drop(bw_cfg_ref *ref)
{
    if (ref)
        atomic_fetch_sub(&ref->refs, 1);
}

size_t bw_cfg_sweep(bool small_only)
{
    size_t left = 0;
    for (int i = 0; i < SLOTS; i++) {
        bw_cfg_ref *s = &slots[i];
        if (s->state != SLOT_RETIRED || atomic_load(&s->refs) != 0)
            continue;
        if (small_only && s->cfg->n_dests >= BW_CFG_SMALL_DESTS) {
            left++;
            continue;
        }
        bw_config_free((bw_config *)s->cfg);
        s->cfg = NULL;
        s->state = SLOT_FREE;
    }
    return left;
}

int bw_cfg_publish(const bw_config *cfg)
{
    bw_cfg_ref *s = NULL;
    for (int i = 0; i < SLOTS && !s; i++)
        if (slots[i].state == SLOT_FREE)
            s = &slots[i];
    if (!s)
        return -1;
    static uint64_t published;   /* only the reloading thread publishes */
    s->cfg = cfg;
    s->generation = ++published;
    s->state = SLOT_CURRENT;
    atomic_fetch_add(&s->refs, 1);   /* add: a stale holder's passing count stays right */
    bw_cfg_ref *old = atomic_exchange(&bw_cfg_current, s);
    if (old) {
        old->state = SLOT_RETIRED;
        atomic_fetch_sub(&old->refs, 1);
    }
    return 0;
}
