/*
 * bw_sys.h - the system calls breakwater makes for itself (src/sys).
 *
 * Inside the shim, open(), read(), close(), kill() and syscall() are the
 * program's hooks: a call of the shim's own through them would re-enter
 * the shim (under a shared lock, in a signal handler, in a vfork child).
 * Everything here goes through raw system calls instead, so it is the same
 * in the shim, the tool and the tests, never blocks on a lock of the shim,
 * allocates nothing, is async-signal-safe and no cancellation point.
 */
#ifndef BW_SYS_H
#define BW_SYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* A raw system call that goes through no hook; sets errno and returns -1 on error. */
long bw_raw_syscall(long nr, long a, long b, long c, long d, long e, long f);

/* Reads up to len - 1 bytes of the file at path into buf, NUL-terminated.
 * Returns the byte count, or -1 (errno set). errno is otherwise preserved. */
ssize_t bw_sys_read_small(const char *path, char *buf, size_t len);

/* The calling process's id, asked of the kernel (no cache). */
int32_t bw_sys_getpid(void);

/* len random bytes from the kernel (getrandom by number: no hook, and no
 * cancellation point, so it may run under a lock). False when the kernel had
 * none to give yet or the call failed; errno is then clobbered. */
bool bw_sys_random(void *buf, size_t len);

/* kill(pid, 0): 0 when the process exists, else -1 with errno (ESRCH: gone). */
int bw_sys_probe_pid(int32_t pid);

/*
 * Whether the TCP socket with these local and peer addresses (IPv4 or IPv6,
 * as getsockname/getpeername gave them) and inode is still open in some
 * process: 1 yes, 0 no (gone, or every descriptor of it closed), -1 unknown
 * (the kernel could not be asked). Asks sock_diag over a netlink socket
 * opened and closed here.
 */
struct sockaddr_storage;
int bw_sys_tcp_held(const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                    uint64_t inode);

/*
 * Who the connected socket fd is, for bw_sys_tcp_held: its inode and its
 * local and peer addresses. 0, or -1 (errno set) when fd is no connected
 * socket. Raw system calls: safe while other threads use fd.
 */
int bw_sys_tcp_identity(int fd, uint64_t *inode, struct sockaddr_storage *local,
                        struct sockaddr_storage *peer);

/* Sleeps while *word == seen, at most ms milliseconds, or until a wake or a
 * signal (futex FUTEX_WAIT, not private: the word may be in a shared
 * mapping). Returns in every case; errno is preserved. */
void bw_sys_futex_wait(const uint32_t *word, uint32_t seen, int64_t ms);

/* Wakes every waiter on word (FUTEX_WAKE, not private). errno is preserved. */
void bw_sys_futex_wake_all(const uint32_t *word);

/* clock_gettime(clock) (through the vDSO: no hook exists for it). */
void bw_sys_clock(clockid_t clock, struct timespec *ts);

#endif
