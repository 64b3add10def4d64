/*
 * test_state.c - the state table (bw_state.h): create and find, a full
 * table with colliding hashes, validation of hostile regions, recovery of
 * locks whose holder was killed, a private region's futex locks, and the
 * state file's refusals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bw_state.h"
#include "bw_test.h"

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* A zeroed region of n entries, shared between processes (for the fork
 * tests) and formatted. */
static void *region(size_t n, bw_state *st)
{
    size_t size = bw_state_size(n);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(mem != MAP_FAILED);
    CU_ASSERT_FATAL(bw_state_format(mem, size, n, true, "/etc/x.ini") == 0);
    char why[128];
    CU_ASSERT_FATAL(bw_state_attach(st, mem, size, true, why, sizeof why) == 0);
    return mem;
}

static void test_create_find(void)
{
    bw_state st;
    void *mem = region(64, &st);
    struct sockaddr_in a = v4("10.0.0.1", 80), b = v4("10.0.0.1", 81);
    CU_ASSERT_PTR_NULL(bw_state_find(&st, BW_ENTRY_ADDRESS, "web", (void *)&a, false));
    bw_entry *e = bw_state_find(&st, BW_ENTRY_ADDRESS, "web", (void *)&a, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->kind, BW_ENTRY_ADDRESS);
    CU_ASSERT_STRING_EQUAL(e->dest, "web");
    CU_ASSERT_EQUAL(e->port, 80);
    CU_ASSERT_PTR_EQUAL(bw_state_find(&st, BW_ENTRY_ADDRESS, "web", (void *)&a, false), e);
    CU_ASSERT_PTR_EQUAL(bw_state_find(&st, BW_ENTRY_ADDRESS, "web", (void *)&a, true), e);
    /* Another port, another destination name, another kind: other entries. */
    bw_entry *eb = bw_state_find(&st, BW_ENTRY_ADDRESS, "web", (void *)&b, true);
    bw_entry *ed = bw_state_find(&st, BW_ENTRY_ADDRESS, "api", (void *)&a, true);
    bw_entry *dd = bw_state_find(&st, BW_ENTRY_DESTINATION, "web", NULL, true);
    CU_ASSERT(eb && ed && dd && eb != e && ed != e && dd != e && dd != eb && dd != ed);
    CU_ASSERT_EQUAL(dd->kind, BW_ENTRY_DESTINATION);
    /* The address is ignored for destination entries. */
    CU_ASSERT_PTR_EQUAL(bw_state_find(&st, BW_ENTRY_DESTINATION, "web", (void *)&a, false), dd);
    char text[64];
    bw_entry_format_addr(e, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "10.0.0.1:80");
    bw_entry_format_addr(dd, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "-");
    bw_count(e, BW_CNT_CONNECTS, 3);
    bw_count(NULL, BW_CNT_CONNECTS, 3);
    CU_ASSERT_EQUAL(bw_counter_get(e, BW_CNT_CONNECTS), 3);
    CU_ASSERT_EQUAL(bw_counter_get(eb, BW_CNT_CONNECTS), 0);
    CU_ASSERT_EQUAL(st.hdr->used, 4);
    munmap(mem, bw_state_size(64));
}

static void test_ipv6_and_mapped(void)
{
    bw_state st;
    void *mem = region(16, &st);
    struct sockaddr_in6 m;
    memset(&m, 0, sizeof m);
    m.sin6_family = AF_INET6;
    m.sin6_port = htons(443);
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &m.sin6_addr);
    struct sockaddr_in a = v4("192.0.2.7", 443);
    bw_entry *e = bw_state_find(&st, BW_ENTRY_ADDRESS, "d", (void *)&m, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    /* IPv4-mapped IPv6 is the IPv4 address: one entry. */
    CU_ASSERT_PTR_EQUAL(bw_state_find(&st, BW_ENTRY_ADDRESS, "d", (void *)&a, false), e);
    inet_pton(AF_INET6, "::1", &m.sin6_addr);
    bw_entry *e6 = bw_state_find(&st, BW_ENTRY_ADDRESS, "d", (void *)&m, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e6);
    char text[64];
    bw_entry_format_addr(e6, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "[::1]:443");
    munmap(mem, bw_state_size(16));
}

/* Filling every slot of a small table forces hash collisions (linear
 * probing); every key must still find its own entry, and the next create
 * must fail cleanly. */
static void test_full_table_collisions(void)
{
    enum { N = 97 };
    bw_state st;
    void *mem = region(N, &st);
    bw_entry *got[N];
    for (int i = 0; i < N; i++) {
        struct sockaddr_in a = v4("127.0.0.1", (uint16_t)(1000 + i));
        got[i] = bw_state_find(&st, BW_ENTRY_ADDRESS, "many", (void *)&a, true);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got[i]);
        for (int j = 0; j < i; j++)
            CU_ASSERT_PTR_NOT_EQUAL(got[i], got[j]);
    }
    for (int i = 0; i < N; i++) {
        struct sockaddr_in a = v4("127.0.0.1", (uint16_t)(1000 + i));
        CU_ASSERT_PTR_EQUAL(bw_state_find(&st, BW_ENTRY_ADDRESS, "many", (void *)&a, false), got[i]);
        CU_ASSERT_EQUAL(got[i]->port, 1000 + i);
    }
    struct sockaddr_in x = v4("127.0.0.2", 1);
    CU_ASSERT_PTR_NULL(bw_state_find(&st, BW_ENTRY_ADDRESS, "many", (void *)&x, true));
    CU_ASSERT_PTR_NULL(bw_state_find(&st, BW_ENTRY_ADDRESS, "many", (void *)&x, false));
    CU_ASSERT_EQUAL(st.hdr->used, N);
    munmap(mem, bw_state_size(N));
}

/* A destination name of the maximum length is cut, never overflows. */
static void test_long_name(void)
{
    bw_state st;
    void *mem = region(8, &st);
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    bw_entry *e = bw_state_find(&st, BW_ENTRY_DESTINATION, name, NULL, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(strnlen(e->dest, sizeof e->dest), BW_MAX_NAME - 1);
    CU_ASSERT_PTR_EQUAL(bw_state_find(&st, BW_ENTRY_DESTINATION, name, NULL, false), e);
    munmap(mem, bw_state_size(8));
}

/* The lookup remembers entries it found; what it remembers never answers
 * for another table, a remapped one, an entry whose key changed, or a name
 * that only shares a pointer with the one it was found by. */
static void test_recent_entries(void)
{
    bw_state st1, st2;
    void *m1 = region(64, &st1), *m2 = region(64, &st2);
    struct sockaddr_in a = v4("10.0.0.7", 80);
    char name[16] = "web";
    bw_entry *e1 = bw_state_find(&st1, BW_ENTRY_ADDRESS, name, (void *)&a, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
    CU_ASSERT_PTR_EQUAL(bw_state_find(&st1, BW_ENTRY_ADDRESS, name, (void *)&a, false), e1);
    /* Another table: its own entry, or none. */
    CU_ASSERT_PTR_NULL(bw_state_find(&st2, BW_ENTRY_ADDRESS, name, (void *)&a, false));
    bw_entry *e2 = bw_state_find(&st2, BW_ENTRY_ADDRESS, name, (void *)&a, true);
    CU_ASSERT(e2 && (char *)e2 >= (char *)m2 && (char *)e2 < (char *)m2 + bw_state_size(64));
    CU_ASSERT_PTR_EQUAL(bw_state_find(&st1, BW_ENTRY_ADDRESS, name, (void *)&a, false), e1);
    /* The same pointer naming another destination now. */
    strcpy(name, "api");
    bw_entry *ea = bw_state_find(&st1, BW_ENTRY_ADDRESS, name, (void *)&a, true);
    CU_ASSERT(ea && ea != e1);
    CU_ASSERT_STRING_EQUAL(ea->dest, "api");
    /* The table formatted afresh under the same mapping: nothing is found. */
    CU_ASSERT_FATAL(bw_state_format(m1, bw_state_size(64), 64, true, "/etc/x.ini") == 0);
    memset(st1.entries, 0, 64 * sizeof(bw_entry));
    CU_ASSERT_PTR_NULL(bw_state_find(&st1, BW_ENTRY_ADDRESS, name, (void *)&a, false));
    /* A smaller table than the index remembered. */
    bw_state small;
    void *m3 = region(1, &small);
    bw_entry *es = bw_state_find(&small, BW_ENTRY_ADDRESS, "web", (void *)&a, true);
    CU_ASSERT_PTR_EQUAL(es, &small.entries[0]);
    munmap(m1, bw_state_size(64));
    munmap(m2, bw_state_size(64));
    munmap(m3, bw_state_size(1));
}

static int attach(void *mem, size_t size, char *why)
{
    bw_state st;
    memset(why, 0, 128);
    return bw_state_attach(&st, mem, size, true, why, 128);
}

static void test_attach_hostile(void)
{
    size_t n = 8, size = bw_state_size(n);
    char *good = calloc(1, size), *mem = calloc(1, size), why[128];
    CU_ASSERT_FATAL(good && mem);
    CU_ASSERT_FATAL(bw_state_format(good, size, n, true, "") == 0);
    bw_state_header *h = (bw_state_header *)mem;
#define RESET() memcpy(mem, good, size)
    RESET();
    CU_ASSERT_EQUAL(attach(mem, size, why), 0);
    /* truncated: below the header, below the table */
    CU_ASSERT_EQUAL(attach(mem, 0, why), -1);
    CU_ASSERT_EQUAL(attach(mem, sizeof(bw_state_header) - 1, why), -1);
    CU_ASSERT_STRING_EQUAL(why, "shorter than its header");
    CU_ASSERT_EQUAL(attach(mem, size - 1, why), -1);
    CU_ASSERT_EQUAL(attach(mem, sizeof(bw_state_header), why), -1);
    /* wrong magic, version, record sizes, table sizes */
    h->magic ^= 1;
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    CU_ASSERT_STRING_EQUAL(why, "bad magic number");
    RESET();
    h->version = BW_STATE_VERSION + 1;
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    CU_ASSERT_STRING_EQUAL(why, "unsupported version");
    RESET();
    h->header_size = 16;
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    RESET();
    h->entry_size = (uint32_t)sizeof(bw_entry) + 8;
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    RESET();
    h->n_entries = 0;
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    RESET();
    h->n_entries = (uint32_t)n + 1;      /* more entries than the bytes hold */
    h->total_size = bw_state_size(n + 1);
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    RESET();
    h->n_entries = 0xffffffffu;
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    RESET();
    h->total_size = 1;                   /* inconsistent with n_entries */
    CU_ASSERT_EQUAL(attach(mem, size, why), -1);
    /* random bytes, many times: never accepted, never a crash */
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < size; i++) {
            seed = seed * 1103515245u + 12345u;
            mem[i] = (char)(seed >> 16);
        }
        CU_ASSERT_EQUAL(attach(mem, size, why), -1);
        CU_ASSERT(why[0] != '\0');
    }
#undef RESET
    free(good);
    free(mem);
}

/* Forks a child that runs fn(arg), signals readiness through a pipe, and
 * waits to be killed; the parent kills it with SIGKILL once it is ready.
 * Bounded: alarm() ends a child that would wait forever. Returns true when
 * the child got ready and was killed. */
static bool kill_child_holding(void (*fn)(void *), void *arg)
{
    int p[2];
    CU_ASSERT_FATAL(pipe(p) == 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        alarm(20);
        fn(arg);
        char c = 'r';
        if (write(p[1], &c, 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    ssize_t n = read(p[0], &c, 1);
    close(p[0]);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    return n == 1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void lock_entry(void *e)
{
    if (bw_entry_lock(e) != 0)
        _exit(2);
    ((bw_entry *)e)->breaker.consecutive = 77;    /* a half-finished update */
}

/* Run in a child: the parent must get the lock, not hang. */
static void parent_locks(bw_entry *e, int *rc)
{
    alarm(20);     /* a hang fails the test program instead of blocking the suite */
    *rc = bw_entry_lock(e);
    alarm(0);
}

static void test_owner_dead_entry(void)
{
    bw_state st;
    void *mem = region(16, &st);
    struct sockaddr_in a = v4("127.0.0.1", 9);
    bw_entry *e = bw_state_find(&st, BW_ENTRY_ADDRESS, "d", (void *)&a, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    for (int round = 0; round < 3; round++) {
        CU_ASSERT_FATAL(kill_child_holding(lock_entry, e));
        int rc = -1;
        parent_locks(e, &rc);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(e->breaker.consecutive, 77);
        bw_entry_unlock(e);
        /* consistent again: a plain lock/unlock works */
        CU_ASSERT_EQUAL(bw_entry_lock(e), 0);
        bw_entry_unlock(e);
    }
    munmap(mem, bw_state_size(16));
}

/* A private region (state = process): its entries lock with a futex word. */
static bw_entry *private_entry(bw_state *st, void **mem)
{
    size_t size = bw_state_size(4);
    *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(*mem != MAP_FAILED);
    CU_ASSERT_FATAL(bw_state_format(*mem, size, 4, false, "/etc/x.ini") == 0);
    char why[128];
    CU_ASSERT_FATAL(bw_state_attach(st, *mem, size, false, why, sizeof why) == 0);
    struct sockaddr_in a = v4("127.0.0.1", 9);
    bw_entry *e = bw_state_find(st, BW_ENTRY_ADDRESS, "d", (void *)&a, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->lock_private, 1);
    return e;
}

enum { BUMPERS = 4, BUMPS = 50000 };

/* BUMPS unguarded increments, each under the entry lock. */
static void *bump(void *e)
{
    for (int i = 0; i < BUMPS; i++) {
        if (bw_entry_lock(e) != 0)
            return (void *)1;
        uint32_t v = ((bw_entry *)e)->breaker.consecutive;
        if (i % 64 == 0)
            sched_yield();    /* held across a reschedule: the others wait on the futex */
        ((bw_entry *)e)->breaker.consecutive = v + 1;
        bw_entry_unlock(e);
    }
    return NULL;
}

/* Threads contending for a private entry's lock lose no update. */
static void test_private_lock_excludes(void)
{
    bw_state st;
    void *mem;
    bw_entry *e = private_entry(&st, &mem);
    e->breaker.consecutive = 0;
    pthread_t t[BUMPERS];
    for (int i = 0; i < BUMPERS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, bump, e), 0);
    for (int i = 0; i < BUMPERS; i++) {
        void *rc = (void *)1;
        pthread_join(t[i], &rc);
        CU_ASSERT_PTR_NULL(rc);
    }
    CU_ASSERT_EQUAL(e->breaker.consecutive, BUMPERS * BUMPS);
    CU_ASSERT_EQUAL(bw_entry_lock(e), 0);   /* free again */
    bw_entry_unlock(e);
    munmap(mem, bw_state_size(4));
}

static void *hold(void *e)
{
    return (void *)(intptr_t)bw_entry_lock(e);
}

/* A private entry lock held past the wait fails that lock after about the
 * wait, and every later lock at once (in a child: the stuck mark is global). */
static void test_private_lock_bounded(void)
{
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        alarm(20);
        bw_state st;
        void *mem;
        bw_entry *e = private_entry(&st, &mem);
        pthread_t t;
        void *rc = (void *)1;
        if (pthread_create(&t, NULL, hold, e) != 0 || pthread_join(t, &rc) != 0 || rc != NULL)
            _exit(2);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int first = bw_entry_lock_for(e, 200);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (first != -1 || ms < 190 || ms > 5000)
            _exit(3);
        if (!bw_state_locks_stuck() || bw_entry_lock(e) != -1)
            _exit(4);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A child that dies holding the insert lock halfway through filling an
 * entry: the next creator recovers the lock and drops the half-made entry. */
static void half_insert(void *stp)
{
    bw_state *st = stp;
    if (pthread_mutex_lock(&st->hdr->insert_lock) != 0)
        _exit(2);
    for (size_t i = 0; i < st->n_entries; i++)
        if (__atomic_load_n(&st->entries[i].ready, __ATOMIC_ACQUIRE) == 0) {
            __atomic_store_n(&st->entries[i].ready, 1, __ATOMIC_RELEASE);
            break;
        }
}

static void test_owner_dead_insert(void)
{
    enum { N = 4 };
    bw_state st;
    void *mem = region(N, &st);
    CU_ASSERT_FATAL(kill_child_holding(half_insert, &st));
    alarm(20);
    bw_entry *got[N];
    for (int i = 0; i < N; i++) {
        struct sockaddr_in a = v4("127.0.0.1", (uint16_t)(2000 + i));
        got[i] = bw_state_find(&st, BW_ENTRY_ADDRESS, "d", (void *)&a, true);
        CU_ASSERT_PTR_NOT_NULL(got[i]);   /* all N slots usable: the half-made one was freed */
    }
    alarm(0);
    munmap(mem, bw_state_size(N));
}

static void test_state_file(void)
{
    char dir[] = "/tmp/bw-test-state.XXXXXX", path[256], link_path[300], why[512];
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/breakwater-test", dir);
    bw_state st;
    CU_ASSERT_EQUAL(bw_state_map_file(path, "/x.ini", false, &st, why, sizeof why), -1);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);   /* not created */
    CU_ASSERT_EQUAL(bw_state_map_file(path, "/x.ini", true, &st, why, sizeof why), 0);
    struct stat sb;
    CU_ASSERT_EQUAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(sb.st_size, (off_t)bw_state_size(BW_STATE_ENTRIES));
    CU_ASSERT_STRING_EQUAL(st.hdr->config_path, "/x.ini");
    munmap(st.hdr, st.size);
    /* mapped again, existing: fine */
    CU_ASSERT_EQUAL(bw_state_map_file(path, "/x.ini", false, &st, why, sizeof why), 0);
    munmap(st.hdr, st.size);
    /* a symlink is refused */
    snprintf(link_path, sizeof link_path, "%s/link", dir);
    CU_ASSERT_EQUAL(symlink(path, link_path), 0);
    CU_ASSERT_EQUAL(bw_state_map_file(link_path, "/x.ini", true, &st, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "symbolic link"));
    /* readable by others is refused */
    CU_ASSERT_EQUAL(chmod(path, 0644), 0);
    CU_ASSERT_EQUAL(bw_state_map_file(path, "/x.ini", false, &st, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "other users"));
    /* truncated is refused */
    CU_ASSERT_EQUAL(chmod(path, 0600), 0);
    CU_ASSERT_EQUAL(truncate(path, 100), 0);
    CU_ASSERT_EQUAL(bw_state_map_file(path, "/x.ini", false, &st, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, path));
    unlink(link_path);
    unlink(path);
    rmdir(dir);
}

static void test_state_path(void)
{
    bw_config *cfg = bw_config_builtin();
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    char out[PATH_MAX], want[PATH_MAX + 16];
    snprintf(cfg->state_dir, sizeof cfg->state_dir, "/dev/shm");
    bw_state_path(cfg, out, sizeof out);
    snprintf(want, sizeof want, "/dev/shm/breakwater-%u-builtin-v%d", (unsigned)geteuid(),
             BW_STATE_VERSION);
    CU_ASSERT_STRING_EQUAL(out, want);
    bw_state_path_stem(cfg, out, sizeof out);
    snprintf(want, sizeof want, "/dev/shm/breakwater-%u-builtin", (unsigned)geteuid());
    CU_ASSERT_STRING_EQUAL(out, want);
    snprintf(cfg->path, sizeof cfg->path, "/etc/breakwater.ini");
    bw_state_path_stem(cfg, out, sizeof out);
    const char *tag = strrchr(out, '-') + 1;
    CU_ASSERT_EQUAL(strlen(tag), 16);
    CU_ASSERT_EQUAL(strspn(tag, "0123456789abcdef"), 16);
    char full[PATH_MAX];
    bw_state_path(cfg, full, sizeof full);
    snprintf(want, sizeof want, "%s-v%d", out, BW_STATE_VERSION);
    CU_ASSERT_STRING_EQUAL(full, want);
    bw_config_free(cfg);
}

static const bw_test_case table_tests[] = {
    {"create and find", test_create_find},
    {"IPv6 and IPv4-mapped keys", test_ipv6_and_mapped},
    {"full table, colliding hashes", test_full_table_collisions},
    {"long destination name", test_long_name},
    {"recent entries answer only for their own key", test_recent_entries},
    {NULL, NULL},
};

static const bw_test_case hostile_tests[] = {
    {"attach refuses hostile regions", test_attach_hostile},
    {NULL, NULL},
};

static const bw_test_case lock_tests[] = {
    {"entry lock of a killed holder", test_owner_dead_entry},
    {"insert lock of a killed holder", test_owner_dead_insert},
    {"private entry lock excludes", test_private_lock_excludes},
    {"private entry lock wait is bounded", test_private_lock_bounded},
    {NULL, NULL},
};

static const bw_test_case file_tests[] = {
    {"state file create, refusals", test_state_file},
    {"state file path", test_state_path},
    {NULL, NULL},
};

BW_TEST_MAIN({"table", table_tests}, {"hostile", hostile_tests}, {"locks", lock_tests},
             {"file", file_tests})
