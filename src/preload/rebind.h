/*
 * rebind.h - binds the objects a dlopen loaded to the shim's hooks (rebind.c).
 */
#ifndef BW_REBIND_H
#define BW_REBIND_H

typedef struct bw_rebind_result {
    int objects;      /* objects in which at least one reference was rebound */
    int references;   /* GOT and data entries rewritten */
} bw_rebind_result;

/*
 * After a dlopen that returned handle: every object from handle's to the end
 * of its namespace's link map (what that dlopen loaded, and any loaded later,
 * which are already bound normally) gets its imports of the shim's exported
 * functions pointed at the shim. Returns 0, or -1 when the shim's own symbol
 * table or handle's link map cannot be read (nothing is changed then).
 * errno is preserved.
 */
int bw_rebind_after_dlopen(void *handle, bw_rebind_result *res);

#endif
