/*
 * test_state_names.c - the name table of a state region
 * (bw_state_names.h): one process's answer seen by another, a lock whose
 * holder was killed, and slots of a hostile file read within bounds.
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bw_state_names.h"
#include "bw_test.h"
#include "name_addr.h"

/* A formatted region of 4 entries shared with forked children. */
static void *region(bw_state *st, size_t *size)
{
    *size = bw_state_size(4);
    void *mem = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(mem != MAP_FAILED);
    CU_ASSERT_FATAL(bw_state_format(mem, *size, 4, true, "/etc/x.ini") == 0);
    char why[128];
    CU_ASSERT_FATAL(bw_state_attach(st, mem, *size, true, why, sizeof why) == 0);
    return mem;
}

/* Runs fn(st) in a child and returns its exit status (or 128 + signal). */
static int in_child(void (*fn)(bw_state *), bw_state *st)
{
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        alarm(10);
        fn(st);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void child_resolves(bw_state *st)
{
    bw_name_addr a[2] = {v4(2), v4(3)};
    _exit(bw_state_names_put(st, "svc.test", a, 2, 1000, 60000) == 0 ? 0 : 1);
}

static void child_dies_holding(bw_state *st)
{
    if (bw_state_names_lock(st) != 0)
        _exit(1);
    st->hdr->names.slot[0].n = 99;   /* killed mid-update */
    raise(SIGKILL);
}

static void test_seen_by_another_process(void)
{
    bw_state st;
    size_t size;
    void *mem = region(&st, &size);
    CU_ASSERT_EQUAL(in_child(child_resolves, &st), 0);
    bw_name_addr out[BW_NAMES_ADDRS];
    CU_ASSERT_EQUAL(bw_state_names_get(&st, "svc.test", 2000, out, BW_NAMES_ADDRS, NULL), 2);
    CU_ASSERT_EQUAL(out[1].addr[3], 3);
    /* This process resolves the name to the first address only: the
     * other's second address stays behind it until it expires. */
    bw_name_addr mine = v4(2);
    CU_ASSERT_EQUAL(bw_state_names_put(&st, "svc.test", &mine, 1, 3000, 60000), 0);
    CU_ASSERT_EQUAL(bw_state_names_get(&st, "svc.test", 3000, out, BW_NAMES_ADDRS, NULL), 2);
    CU_ASSERT_EQUAL(out[0].addr[3], 2);
    CU_ASSERT_EQUAL(out[1].addr[3], 3);
    CU_ASSERT_EQUAL(bw_state_names_get(&st, "svc.test", 61500, out, BW_NAMES_ADDRS, NULL), 1);
    munmap(mem, size);
}

static void test_killed_holder(void)
{
    bw_state st;
    size_t size;
    void *mem = region(&st, &size);
    CU_ASSERT_EQUAL(in_child(child_dies_holding, &st), 128 + SIGKILL);
    bw_name_addr a = v4(7), out[BW_NAMES_ADDRS];
    alarm(10);
    CU_ASSERT_EQUAL(bw_state_names_put(&st, "after.test", &a, 1, 0, 1000), 0);
    CU_ASSERT_EQUAL(bw_state_names_get(&st, "after.test", 0, out, BW_NAMES_ADDRS, NULL), 1);
    alarm(0);
    munmap(mem, size);
}

static void test_hostile_slots(void)
{
    bw_state st;
    size_t size;
    void *mem = region(&st, &size);
    bw_name_addr a = v4(9), out[BW_NAMES_ADDRS];
    CU_ASSERT_EQUAL(bw_state_names_put(&st, "h.test", &a, 1, 0, 1000), 0);
    for (unsigned i = 0; i < BW_NAMES_SLOTS; i++) {   /* every slot garbage but the hash */
        bw_names_entry *e = &st.hdr->names.slot[i];
        uint64_t h = e->hash;
        memset(e, 0xff, sizeof *e);
        e->hash = h;
        e->expires_ms = 5000;
        for (unsigned k = 0; k < BW_NAMES_ADDRS; k++)
            e->addr_expires_ms[k] = 5000;
    }
    /* Unterminated names, a count past the array: reads stay in the slot. */
    CU_ASSERT(bw_state_names_get(&st, "h.test", 0, out, BW_NAMES_ADDRS, NULL) <= BW_NAMES_ADDRS);
    CU_ASSERT_EQUAL(bw_state_names_put(&st, "h.test", &a, 1, 0, 1000), 0);
    CU_ASSERT_EQUAL(bw_state_names_get(&st, "h.test", 0, out, BW_NAMES_ADDRS, NULL), 1);
    munmap(mem, size);
}

static const bw_test_case cases[] = {
    {"one process's answer seen by another", test_seen_by_another_process},
    {"lock of a killed holder", test_killed_holder},
    {"hostile slots", test_hostile_slots},
    {NULL, NULL},
};

BW_TEST_MAIN({"state_names", cases})
