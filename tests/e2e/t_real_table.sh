#!/bin/bash
# The table of real functions (src/preload/real_list.h, one line per hook):
# - every symbol it lists is exported by the library (the hook exists);
# - in a preloaded process every one of them resolves to libc's definition
#   (the debug line "real functions: N of N resolved", N = the list's
#   length): a misspelt symbol would leave its hook on the raw-syscall
#   fallback, which works but bypasses libc (cancellation points, vDSO).
. "$(dirname "$0")/lib.sh"
require_shim
LIST="$(dirname "$0")/../../src/preload/real_list.h"
[ -f "$LIST" ] || fail "no $LIST"
mapfile -t symbols < <(sed -n 's/^BW_REAL([^,]*, *[a-z_0-9]*, *"\([^"]*\)".*/\1/p' "$LIST")
n=${#symbols[@]}
[ "$n" -gt 50 ] || fail "only $n symbols read from $LIST"
nm -D --defined-only "$BW_LIB" | awk '{print $NF}' | sort -u >"$T/exported"
for s in "${symbols[@]}"; do
    grep -qx "$s" "$T/exported" || fail "$s is listed in real_list.h but not exported by the library"
done
note "$n hooks listed, all exported"
line=$(BREAKWATER_LOG=debug shim /bin/true 2>&1 | grep -o 'real functions: .*')
assert_eq "resolution" "real functions: $n of $n resolved" "$line"
note "$line"
echo "ok"
