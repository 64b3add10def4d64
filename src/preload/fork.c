/*
 * fork.c - keeps the shim usable in a fork child. Prepare takes the locks
 * whose data must be whole in the child; the parent releases them; the
 * child, single-threaded, initialises them afresh (unlocking a mutex another
 * thread owned is not allowed), along with every lock of private memory that
 * a thread which does not exist in the child might have held.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "bw_hostcache.h"
#include "failover.h"
#include "nonblock.h"
#include "pending.h"
#include "shim.h"
#include "tls.h"

_Atomic pid_t bw_self_pid_cache;

pid_t bw_self_pid_first(void)
{
    pid_t p = getpid();
    atomic_store_explicit(&bw_self_pid_cache, p, memory_order_relaxed);
    return p;
}

static void prepare(void)
{
    bw_sndtimeo_settle_all();   /* the child shares every socket: no limit stays lent */
    bw_passfd_forking();   /* first: it takes the record pool's lock itself (a passed
                            * socket's part), so it must come before bw_conn_pool_lock */
    bw_hostcache_atfork_prepare();
    bw_conn_pool_lock();
    bw_tls_atfork_prepare();
    bw_failover_atfork_prepare();
    bw_pend_atfork_prepare();   /* before the registrations: the order pending.c takes them */
    bw_epreg_atfork_prepare();
}

static void parent(void)
{
    bw_epreg_atfork_parent();
    bw_pend_atfork_parent();
    bw_failover_atfork_parent();
    bw_tls_atfork_parent();
    bw_conn_pool_unlock();
    bw_hostcache_atfork_parent();
    bw_nonblock_atfork();   /* the child may change a socket's mode unseen */
}

static void child(void)
{
    atomic_store_explicit(&bw_self_pid_cache, getpid(), memory_order_relaxed);
    bw_conn_pool_atfork_child();
    bw_hostcache_atfork_child();
    bw_shim_state_atfork_child();
    bw_rand_atfork_child();
    bw_init_atfork_child();
    bw_pend_atfork_child();
    bw_epreg_atfork_child();
    bw_failover_atfork_child();
    bw_tls_atfork_child();
    bw_nonblock_atfork();
}

__attribute__((constructor(101))) static void bw_register_atfork(void)
{
    pthread_atfork(prepare, parent, child);
}
