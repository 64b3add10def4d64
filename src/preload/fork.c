/*
 * fork.c - keeps the shim usable in a fork child. Prepare takes the locks
 * whose data must be consistent in the child; the child, single-threaded,
 * re-initialises them (unlocking a mutex another thread owned is not
 * allowed) along with every per-record lock another thread might have held.
 */
#include <pthread.h>

#include "shim.h"

static void prepare(void)
{
    bw_conn_pool_lock();
}

static void parent(void)
{
    bw_conn_pool_unlock();
}

static void child(void)
{
    bw_conn_pool_atfork_child();
}

__attribute__((constructor(101))) static void bw_register_atfork(void)
{
    pthread_atfork(prepare, parent, child);
}
