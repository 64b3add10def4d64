#!/bin/bash
# A library dlopened with RTLD_DEEPBIND, by a bare name that only the calling
# program's RUNPATH finds, is bound to the shim like any other object:
#  1. its GOT entries (GLOB_DAT) for connect, send, recv, read, write, close,
#     the _chk variants and dlopen hold what the global scope resolves to (the
#     shim's hooks); without the shim they are libc's, with it and the
#     rebinding broken they would differ;
#  2. its calls through the PLT (JUMP_SLOT) reach the shim: after 3 refused
#     connects the breaker opens and the 4th and 5th connects fail without a
#     connect(2) reaching the kernel (strace counts 3).
. "$(dirname "$0")/lib.sh"
require_shim
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$T/lib" "$T/bin" "$T/state"
CF="-std=gnu11 -Wall -Wextra -O2 -D_FORTIFY_SOURCE=2"
gcc $CF -shared -fPIC -o "$T/lib/libdeep.so" "$here/clients/deep_lib.c" || fail "cannot build libdeep.so"
gcc $CF -o "$T/bin/deep_main" "$here/clients/deep_main.c" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib' ||
    fail "cannot build deep_main"
readelf -d "$T/bin/deep_main" | grep -q RUNPATH || fail "deep_main has no RUNPATH"
P=$(free_port)
write_config "$T/bw.ini" <<INI
[global]
log = $T/bw.log
state_dir = $T/state
[destination closed]
host = 127.0.0.1
port = $P
retries = 0
breaker_consecutive_failures = 3
breaker_open_ms = 60000
INI
env -u LD_PRELOAD "$T/bin/deep_main" "$P" >"$T/plain.out" || fail "deep_main failed without the shim"
assert_eq "without the shim: every entry is libc's" 10 "$(grep -c ' same$' "$T/plain.out")"
BREAKWATER_CONFIG=$T/bw.ini BREAKWATER_LOG=debug LD_PRELOAD=$BW_PRELOAD \
    strace -f -qq -e trace=connect -o "$T/strace" "$T/bin/deep_main" "$P" 1 2 3 4 5 >"$T/shim.out" ||
    { cat "$T/bw.log" >&2; fail "deep_main failed under the shim"; }
grep -q 'libdeep.so loaded with RTLD_DEEPBIND: [1-9][0-9]* references' "$T/bw.log" ||
    { cat "$T/bw.log" >&2; fail "no rebinding line for libdeep.so"; }
if grep -q differs "$T/shim.out"; then
    cat "$T/shim.out" >&2; fail "entries of the DEEPBIND library not bound to the shim"
fi
assert_eq "5 connects from the library refused" 5 "$(grep -c '^connect -1$' "$T/shim.out")"
grep -q "breaker open" "$T/bw.log" || { cat "$T/bw.log" >&2; fail "no breaker-open line"; }
n=$(grep -c "connect(.*htons($P)" "$T/strace")
assert_eq "connect(2) calls reaching the kernel (breaker open after 3)" 3 "$n"
note "$(grep -m1 'libdeep.so loaded' "$T/bw.log" | sed 's/.*debug: //'); GOT entries = shim's; 3 of 5 connects reached the kernel"
